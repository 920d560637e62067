package node

import (
	"context"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/mystnode/myst/api"
	"github.com/mystnode/myst/dialog"
	"github.com/mystnode/myst/discovery"
	"github.com/mystnode/myst/mysttest"
	"github.com/mystnode/myst/payments"
	"github.com/mystnode/myst/proposal"
	"github.com/mystnode/myst/session"
	"github.com/mystnode/myst/txsend"
)

// The attacks of a consumer on a provider's money, each on a dev chain
// with real nodes; each logs what the provider lost ("loss": value served
// less what the chain paid it), the figures of the README's table.

// loss is what provider served consumer and was not paid on chain, after
// its settlements ran.
func loss(t *testing.T, e *faultNet, p *Node, cid, pid string) (served, paid, lost *big.Int) {
	t.Helper()
	c, pr := common.HexToAddress(cid), common.HexToAddress(pid)
	if _, err := p.settleAll(pr); err != nil {
		t.Logf("settle: %v", err)
	}
	served = p.money.billing.ledger.Served(c, pr)
	paid, err := e.pay.Settled(e.ctx, c, pr)
	if err != nil {
		t.Fatal(err)
	}
	lost = new(big.Int).Sub(served, paid)
	if lost.Sign() < 0 {
		lost = new(big.Int)
	}
	return served, paid, lost
}

// twin starts a node holding the same identity as of (the same keystore on
// another machine).
func (e *faultNet) twin(name string, of *Node, id string) *Node {
	e.t.Helper()
	blob, err := of.store.Export(common.HexToAddress(id), "pw")
	if err != nil {
		e.t.Fatal(err)
	}
	n := e.start(name, false, Config{})
	if _, err := n.store.ImportKeystore(blob, "pw"); err != nil {
		e.t.Fatal(err)
	}
	if err := n.Unlock(id, "pw"); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// consumerWith starts a consumer with a new registered identity holding
// deposit MYSTT.
func (e *faultNet) consumerWith(name, deposit string) (*Node, string) {
	e.t.Helper()
	n := e.start(name, false, Config{})
	id, err := n.CreateIdentity("pw")
	if err != nil {
		e.t.Fatal(err)
	}
	if err := n.Unlock(id, "pw"); err != nil {
		e.t.Fatal(err)
	}
	signer, _ := n.store.Signer(common.HexToAddress(id))
	if _, err := e.reg.Register(e.ctx, signer, txsend.New(e.reg.Eth(), e.reg.ChainID(), e.payer, txsend.Config{})); err != nil {
		e.t.Fatal(err)
	}
	amount, _ := proposal.ParseAmount(deposit)
	if _, err := e.pay.Deposit(e.ctx, txsend.New(e.pay.Eth(), e.pay.ChainID(), e.payer, txsend.Config{}), common.HexToAddress(id), amount); err != nil {
		e.t.Fatal(err)
	}
	return n, id
}

// TestAttackNeverAck: a consumer opens a session and never acks nor pays,
// then tries again and again. A second session while the first waits for
// its ack is refused; the unpaid one ends at the payment grace; what it
// left unpaid counts against the consumer, so after it the provider
// refuses new sessions until that is settled. The provider's loss stays
// under its credit limit.
func TestAttackNeverAck(t *testing.T) {
	t.Parallel()
	e := newFaultNet(t)
	p, pid := e.node("provider", true, Config{Payments: PaymentsConfig{Grace: 2 * time.Second}})
	e.pricedService(p, pid)
	c, cid := e.node("consumer", false, Config{})
	found, _, _, err := c.discovery.Search(e.ctx, discovery.Filter{ProviderID: strings.ToLower(pid), ServiceType: "noop"})
	if err != nil || len(found) == 0 {
		t.Fatalf("search: %v %d", err, len(found))
	}
	nc, err := c.brokerConn()
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := c.store.Signer(common.HexToAddress(cid))
	d, err := dialog.Dial(e.ctx, nc, signer, common.HexToAddress(pid), c.cache, dialog.DialConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	create := func() session.CreateResponse {
		t.Helper()
		body, _ := json.Marshal(session.CreateRequest{Proposal: found[0].Signed, AcceptedPrice: found[0].Proposal.Price, CorrelationID: "x"})
		raw, err := d.Request(e.ctx, session.TopicCreate, body)
		if err != nil {
			t.Fatal(err)
		}
		var r session.CreateResponse
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	first := create()
	if !first.Accepted {
		t.Fatalf("first session refused: %s", first.Detail)
	}
	if r := create(); r.Accepted || r.Reason != session.RefuseBusy {
		t.Fatalf("second session while the first waits for its ack: %+v", r)
	}
	start := time.Now()
	mysttest.WaitFor(t, 20*time.Second, func() bool { return len(p.offer.sessions.Sessions()) == 0 })
	t.Logf("the unacked, unpaid session ended after %s", time.Since(start).Round(time.Millisecond))
	tries := 0
	for ; tries < 10; tries++ {
		r := create()
		if !r.Accepted {
			if !strings.Contains(r.Detail, "owes") {
				t.Fatalf("refused for %q", r.Detail)
			}
			t.Logf("session %d refused: %s", tries+2, r.Detail)
			break
		}
		mysttest.WaitFor(t, 20*time.Second, func() bool { return len(p.offer.sessions.Sessions()) == 0 })
	}
	if tries == 10 {
		t.Fatal("the provider kept taking unpaid sessions")
	}
	served, paid, lost := loss(t, e, p, cid, pid)
	t.Logf("never-acked sessions: %d taken; served %s MYSTT, paid %s, lost %s (limit %s)", tries+1,
		proposal.FormatAmount(served), proposal.FormatAmount(paid), proposal.FormatAmount(lost), proposal.FormatAmount(payments.DefaultCreditLimit))
	if lost.Cmp(payments.DefaultCreditLimit) > 0 {
		t.Fatalf("the provider lost %s, more than its credit limit", proposal.FormatAmount(lost))
	}
}

// TestAttackTwinDaemons: one identity on two daemons runs a session at one
// provider from each at once. Both are billed through one account: what
// the provider stores and the chain pays is the sum of both sessions.
func TestAttackTwinDaemons(t *testing.T) {
	t.Parallel()
	e := newFaultNet(t)
	p, pid := e.node("provider", true, Config{})
	e.pricedService(p, pid)
	c1, cid := e.node("consumer", false, Config{})
	c2 := e.twin("twin", c1, cid)
	e.connect(c1, cid, pid)
	e.connect(c2, cid, pid)
	time.Sleep(4 * time.Second)
	p1, p2 := payerOf(c1), payerOf(c2)
	for _, c := range []*Node{c1, c2} {
		if v := c.Connection(); v.State != api.Connected {
			t.Fatalf("a twin's session ended: %+v", v)
		}
		if _, err := c.Disconnect(e.ctx); err != nil {
			t.Fatal(err)
		}
	}
	paid1, paid2 := p1.Paid(), p2.Paid()
	stored := received(t, p, cid, pid)
	sum := new(big.Int).Add(paid1, paid2)
	served, paid, lost := loss(t, e, p, cid, pid)
	t.Logf("twins promised %s + %s MYSTT; provider stored %s, served %s, was paid %s, lost %s", proposal.FormatAmount(paid1), proposal.FormatAmount(paid2),
		proposal.FormatAmount(stored), proposal.FormatAmount(served), proposal.FormatAmount(paid), proposal.FormatAmount(lost))
	if stored.Cmp(sum) != 0 || paid.Cmp(stored) != 0 {
		t.Fatalf("stored %s, paid %s; the twins promised %s in all", stored, paid, sum)
	}
	if lost.Cmp(payments.DefaultCreditLimit) > 0 {
		t.Fatalf("lost %s", lost)
	}
}

// TestAttackWithdrawMidSession: the consumer announces the withdrawal of
// its deposit a second into a session (before any lane). The provider
// hears it from the chain's events, settles at once and ends the session:
// the money leaves only after the challenge period, so it is paid what it
// was promised.
func TestAttackWithdrawMidSession(t *testing.T) {
	t.Parallel()
	e := newFaultNet(t)
	p, pid := e.node("provider", true, Config{})
	e.pricedService(p, pid)
	c, cid := e.node("consumer", false, Config{})
	e.connect(c, cid, pid)
	time.Sleep(time.Second)
	if _, err := c.Withdraw(e.ctx, api.WithdrawRequest{ID: cid}); err != nil {
		t.Fatal(err)
	}
	at := time.Now()
	mysttest.WaitFor(t, 15*time.Second, func() bool { return c.Connection().State != api.Connected })
	t.Logf("session ended %s after the withdrawal was announced: %s", time.Since(at).Round(time.Millisecond), c.Connection().LastError)
	mysttest.WaitFor(t, 15*time.Second, func() bool {
		s, err := e.pay.Settled(e.ctx, common.HexToAddress(cid), common.HexToAddress(pid))
		return err == nil && s.Sign() > 0 && s.Cmp(received(t, p, cid, pid)) == 0
	})
	served, paid, lost := loss(t, e, p, cid, pid)
	t.Logf("withdrawal mid-session: served %s MYSTT, paid %s, lost %s", proposal.FormatAmount(served), proposal.FormatAmount(paid), proposal.FormatAmount(lost))
	if lost.Cmp(payments.DefaultCreditLimit) > 0 {
		t.Fatalf("lost %s", lost)
	}
}

// TestAttackOverdrawFiveProviders: one identity with a 0.7 MYSTT deposit (a
// minute at the price, what a provider asks to admit a session)
// runs sessions at five providers at once (five daemons). Each provider
// serves on credit up to its limit and asks for a lane; the deposit can
// fill one lane, after which the others end their sessions. What all
// providers lose together stays under (N-1) x the limit; none loses more
// than the limit; the chain pays no more than the deposit.
func TestAttackOverdrawFiveProviders(t *testing.T) {
	t.Parallel()
	e := newFaultNet(t)
	e.ownGas = true
	const n = 5
	var providers []*Node
	var pids []string
	for i := range n {
		p, pid := e.node(fmt.Sprintf("provider%d", i), true, Config{})
		e.pricedService(p, pid)
		providers, pids = append(providers, p), append(pids, pid)
	}
	c0, cid := e.consumerWith("consumer", "0.7")
	consumers := []*Node{c0}
	for i := 1; i < n; i++ {
		consumers = append(consumers, e.twin(fmt.Sprintf("twin%d", i), c0, cid))
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := consumers[i].Connect(e.ctx, api.ConnectionRequest{ConsumerID: cid, ProviderID: pids[i], ServiceType: "noop"}); err != nil {
				t.Logf("connect to provider %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	time.Sleep(10 * time.Second)
	for _, c := range consumers {
		c.Disconnect(context.Background())
	}
	total, totalPaid := new(big.Int), new(big.Int)
	slack := big.NewInt(2e15) // the time an end takes at the price, under the race detector
	for i, p := range providers {
		served, paid, lost := loss(t, e, p, cid, pids[i])
		t.Logf("provider %d: served %s MYSTT, paid %s, lost %s", i, proposal.FormatAmount(served), proposal.FormatAmount(paid), proposal.FormatAmount(lost))
		if lost.Cmp(new(big.Int).Add(payments.DefaultCreditLimit, slack)) > 0 {
			t.Fatalf("provider %d lost %s, more than the credit limit", i, proposal.FormatAmount(lost))
		}
		total.Add(total, lost)
		totalPaid.Add(totalPaid, paid)
	}
	bound := new(big.Int).Mul(payments.DefaultCreditLimit, big.NewInt(n-1))
	t.Logf("five providers, 0.7 MYSTT deposit: paid %s in all, lost %s in all (bound (N-1) x limit = %s)",
		proposal.FormatAmount(totalPaid), proposal.FormatAmount(total), proposal.FormatAmount(bound))
	deposit, _ := proposal.ParseAmount("0.7")
	if totalPaid.Cmp(deposit) > 0 || total.Cmp(new(big.Int).Add(bound, slack)) > 0 {
		t.Fatalf("paid %s, lost %s", totalPaid, total)
	}
}
