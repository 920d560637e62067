package payments

import (
	"context"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/mystnode/myst/dialog"
	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/mysttest"
	"github.com/mystnode/myst/proposal"
	"github.com/mystnode/myst/txsend"
)

// ledgerEnv is a provider's ledger on a dev chain, with one consumer that
// has a deposit.
type ledgerEnv struct {
	t          *testing.T
	ch         *chain
	ctx        context.Context
	cons, prov *identity.Signer
	funds      *Funds
	ledger     *Ledger
	store      *Store
	sender     *txsend.Sender
	settles    chan common.Address
}

func newLedgerEnv(t *testing.T, deposit *big.Int, cfg LedgerConfig) *ledgerEnv {
	t.Helper()
	e := &ledgerEnv{t: t, ch: startChain(t, 3), ctx: mysttest.Ctx(t, 2*time.Minute), cons: mysttest.NewSigner(t), prov: mysttest.NewSigner(t),
		store: openStore(t), settles: make(chan common.Address, 100)}
	c := e.ch.c
	if deposit.Sign() > 0 {
		if _, err := c.Deposit(e.ctx, txsend.New(c.Eth(), c.ChainID(), e.ch.payer, txsend.Config{}), e.cons.Address(), deposit); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	if e.funds, err = NewFunds(e.ctx, c, nil); err != nil {
		t.Fatal(err)
	}
	fctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.funds.Run(fctx, 100*time.Millisecond) }()
	t.Cleanup(func() { cancel(); <-done })
	e.sender = gasSender(t, e.ctx, e.ch)
	cfg.Client, cfg.Store, cfg.Funds = c, e.store, e.funds
	if cfg.Every == 0 {
		cfg.Every = 200 * time.Millisecond
	}
	if cfg.Grace == 0 {
		cfg.Grace = 2 * time.Second
	}
	cfg.Settle = func(consumer, _ common.Address) { e.settles <- consumer }
	if cfg.Reserve == nil {
		cfg.Reserve = func(ctx context.Context, r Reservation) error {
			_, err := c.ReserveWith(ctx, e.sender, r)
			return err
		}
	}
	e.ledger = NewLedger(cfg)
	t.Cleanup(e.ledger.Close)
	return e
}

// session opens a session of the consumer (its side answering with a payer
// on its own store) and returns the channel its end reason arrives on.
func (e *ledgerEnv) session(id string, cd, pd *dialog.Dialog, consumerStore *Store, maxSpend *big.Int) (*Payer, chan string) {
	e.t.Helper()
	start := time.Now()
	payer, err := NewPayer(e.ctx, PayerConfig{Client: e.ch.c, Store: consumerStore, Consumer: e.cons, Provider: e.prov.Address(), SessionID: id,
		Price: perHour, Start: start, MaxSpend: maxSpend})
	if err != nil {
		e.t.Fatal(err)
	}
	cd.Handle(TopicInvoice, payer.Handle)
	cd.Handle(TopicAck, payer.HandleAck)
	cd.Handle(TopicReserve, payer.HandleReserve)
	ended := make(chan string, 4)
	if err := e.ledger.Admit(e.ctx, e.cons.Address(), e.prov.Address(), perHour); err != nil {
		e.t.Fatal(err)
	}
	if err := e.ledger.Open(e.ctx, SessionBilling{ID: id, Consumer: e.cons.Address(), Provider: e.prov.Address(), Price: perHour, Start: start,
		Dialog: pd, End: func(r string) { ended <- r }}); err != nil {
		e.t.Fatal(err)
	}
	return payer, ended
}

// dialogOf opens a dialog between the env's consumer and provider.
func (e *ledgerEnv) dialogs() (cd, pd *dialog.Dialog) {
	cd, pd, _, _ = dialogPairOf(e.t, e.cons, e.prov)
	return cd, pd
}

// gasSender is a transaction sender of its own funded account (a
// provider's), apart from the chain's payer the tests send with directly.
func gasSender(t *testing.T, ctx context.Context, ch *chain) *txsend.Sender {
	t.Helper()
	acct := mysttest.NewSigner(t)
	if _, err := ch.c.Fund(ctx, txsend.New(ch.c.Eth(), ch.c.ChainID(), ch.payer, txsend.Config{}), acct.Address(), big.NewInt(1), big.NewInt(1e18)); err != nil {
		t.Fatal(err)
	}
	return txsend.New(ch.c.eth, ch.c.chainID, acct, txsend.Config{Confirmations: 1, Poll: 50 * time.Millisecond})
}

// TestLedgerReservesAndHoldsExposure: a consumer with 10 MYSTT at 0.01
// MYSTT/s; the provider's credit limit is 0.05. At half of it the
// provider asks for a reservation, the consumer signs it, the provider
// submits it (paying gas) and the lane is on chain; the session runs on
// past the limit, and the exposure sampled every 50 ms never passes it.
func TestLedgerReservesAndHoldsExposure(t *testing.T) {
	limit := new(big.Int).Quo(tokens(5), big.NewInt(100))
	e := newLedgerEnv(t, tokens(10), LedgerConfig{CreditLimit: limit})
	cd, pd := e.dialogs()
	_, ended := e.session("s1", cd, pd, openStore(t), nil)
	var most *big.Int = new(big.Int)
	deadline := time.Now().Add(8 * time.Second) // 0.08 MYSTT served: past the limit
	for time.Now().Before(deadline) {
		select {
		case r := <-ended:
			t.Fatalf("session ended: %s", r)
		case <-time.After(50 * time.Millisecond):
		}
		x, _ := e.ledger.Exposure(e.cons.Address(), e.prov.Address())
		if x.Cmp(most) > 0 {
			most = x
		}
	}
	lane, err := e.ch.c.LaneOf(e.ctx, e.cons.Address(), e.prov.Address())
	if err != nil {
		t.Fatal(err)
	}
	if lane.Amount.Sign() == 0 || lane.Nonce == 0 {
		t.Fatalf("no lane reserved: %+v", lane)
	}
	if most.Cmp(limit) > 0 {
		t.Fatalf("exposure reached %s, limit %s", proposal.FormatAmount(most), proposal.FormatAmount(limit))
	}
	t.Logf("lane %s MYSTT (nonce %d); highest exposure %s MYSTT, limit %s", proposal.FormatAmount(lane.Amount), lane.Nonce, proposal.FormatAmount(most), proposal.FormatAmount(limit))
}

// TestLedgerCutsAtLimit: a consumer that signs no reservation (its cap is
// reached) is cut when its exposure reaches the limit, not later.
func TestLedgerCutsAtLimit(t *testing.T) {
	limit := new(big.Int).Quo(tokens(3), big.NewInt(100)) // 3 s at 0.01/s
	e := newLedgerEnv(t, tokens(10), LedgerConfig{CreditLimit: limit})
	cd, pd := e.dialogs()
	// The consumer pays invoices but reserves nothing.
	start := time.Now()
	payer, _ := NewPayer(e.ctx, PayerConfig{Client: e.ch.c, Store: openStore(t), Consumer: e.cons, Provider: e.prov.Address(), SessionID: "s", Price: perHour, Start: start})
	cd.Handle(TopicInvoice, payer.Handle)
	ended := make(chan string, 1)
	if err := e.ledger.Open(e.ctx, SessionBilling{ID: "s", Consumer: e.cons.Address(), Provider: e.prov.Address(), Price: perHour, Start: start,
		Dialog: pd, End: func(r string) { ended <- r }}); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-ended:
		el := time.Since(start)
		if !strings.Contains(r, "credit limit") || el < 2500*time.Millisecond || el > 4*time.Second {
			t.Fatalf("ended after %s: %s", el, r)
		}
		t.Logf("cut after %s: %s", el.Round(time.Millisecond), r)
	case <-time.After(20 * time.Second):
		t.Fatal("not cut at the credit limit")
	}
}

// fastSession opens a session at 10 MYSTT/GiB whose data plane moves 10
// MB/s (0.09 MYSTT/s) while it is not paused; the consumer pays invoices,
// and signs reservations when reserves is set. It samples the exposure
// every 20 ms for d or until the session ends.
type fastRun struct {
	ended  string // the end's reason, "" if it ran for d
	most   *big.Int
	served *big.Int
	moved  uint64
	pauses int32
}

func fastSession(t *testing.T, e *ledgerEnv, reserves bool, d time.Duration) fastRun {
	t.Helper()
	price := proposal.Price{Currency: "MYSTT", PerHour: "0", PerGiB: "10"}
	var moved atomic.Uint64
	var paused atomic.Bool
	var pauses atomic.Int32
	stop := make(chan struct{})
	defer close(stop)
	go func() { // the data plane: 100 KB every 10 ms while forwarding
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			if !paused.Load() {
				moved.Add(100 << 10)
			}
		}
	}()
	cd, pd := e.dialogs()
	start := time.Now()
	payer, err := NewPayer(e.ctx, PayerConfig{Client: e.ch.c, Store: openStore(t), Consumer: e.cons, Provider: e.prov.Address(), SessionID: "s", Price: price,
		Start: start, Bytes: moved.Load})
	if err != nil {
		t.Fatal(err)
	}
	cd.Handle(TopicInvoice, payer.Handle)
	cd.Handle(TopicAck, payer.HandleAck)
	if reserves {
		cd.Handle(TopicReserve, payer.HandleReserve)
	}
	ended := make(chan string, 1)
	if err := e.ledger.Open(e.ctx, SessionBilling{ID: "s", Consumer: e.cons.Address(), Provider: e.prov.Address(), Price: price, Start: start,
		Bytes: moved.Load, Dialog: pd, End: func(r string) { ended <- r },
		Pause: func(p bool) error {
			if p {
				pauses.Add(1)
			}
			paused.Store(p)
			return nil
		}}); err != nil {
		t.Fatal(err)
	}
	run := fastRun{most: new(big.Int)}
	deadline := time.Now().Add(d)
	for run.ended == "" && time.Now().Before(deadline) {
		select {
		case run.ended = <-ended:
		case <-time.After(20 * time.Millisecond):
		}
		x, _ := e.ledger.Exposure(e.cons.Address(), e.prov.Address())
		if x.Cmp(run.most) > 0 {
			run.most = x
		}
	}
	run.served, run.moved, run.pauses = e.ledger.Served(e.cons.Address(), e.prov.Address()), moved.Load(), pauses.Load()
	return run
}

// TestLedgerPausesUntilReserved: a session at 10 MYSTT/GiB moving 10 MB/s
// (0.09 MYSTT/s) passes a 0.05 credit limit in half a second, faster than
// its reservation is mined (1 s here). The ledger pauses its forwarding
// instead of ending it, resumes once the lane covers the promises, and the
// exposure sampled every 20 ms stays under the limit all along.
func TestLedgerPausesUntilReserved(t *testing.T) {
	limit := new(big.Int).Quo(tokens(5), big.NewInt(100))
	var reserved atomic.Int32
	e := newLedgerEnv(t, tokens(10), LedgerConfig{CreditLimit: limit})
	e.ledger.cfg.Reserve = func(ctx context.Context, r Reservation) error {
		time.Sleep(time.Second) // a slow chain
		reserved.Add(1)
		_, err := e.ch.c.ReserveWith(ctx, e.sender, r)
		return err
	}
	run := fastSession(t, e, true, 6*time.Second)
	switch {
	case run.ended != "":
		t.Fatalf("session ended: %s", run.ended)
	case run.pauses == 0:
		t.Fatal("the session was never paused")
	case run.most.Cmp(limit) > 0:
		t.Fatalf("exposure reached %s, limit %s", proposal.FormatAmount(run.most), proposal.FormatAmount(limit))
	case run.served.Cmp(new(big.Int).Mul(limit, big.NewInt(3))) < 0:
		t.Fatalf("served only %s MYSTT in 6 s", proposal.FormatAmount(run.served))
	}
	t.Logf("served %s MYSTT (%d MB) in 6 s, paused %d times, %d reservations; highest exposure %s, limit %s",
		proposal.FormatAmount(run.served), run.moved>>20, run.pauses, reserved.Load(), proposal.FormatAmount(run.most), proposal.FormatAmount(limit))
}

// TestLedgerPerGiBNoReservation: the same fast per-GiB session, from a
// consumer that pays invoices but signs no reservation: it is paused at
// the limit and ended after MaxPause; what it took unpaid stays under the
// limit.
func TestLedgerPerGiBNoReservation(t *testing.T) {
	limit := new(big.Int).Quo(tokens(5), big.NewInt(100))
	e := newLedgerEnv(t, tokens(10), LedgerConfig{CreditLimit: limit, MaxPause: 2 * time.Second})
	run := fastSession(t, e, false, 15*time.Second)
	switch {
	case !strings.Contains(run.ended, "no reservation"):
		t.Fatalf("session not ended for want of a reservation: %q", run.ended)
	case run.most.Cmp(limit) > 0:
		t.Fatalf("exposure reached %s, limit %s", proposal.FormatAmount(run.most), proposal.FormatAmount(limit))
	}
	t.Logf("ended: %s; served %s MYSTT (%d MB), highest exposure %s, limit %s",
		run.ended, proposal.FormatAmount(run.served), run.moved>>20, proposal.FormatAmount(run.most), proposal.FormatAmount(limit))
}

// TestLedgerConcurrentSessionsOneAccount: one identity on two daemons
// (two consumer stores) runs a session each at one provider at once; the
// provider's stored promise is the sum of both sessions' promised amounts,
// not the larger.
func TestLedgerConcurrentSessionsOneAccount(t *testing.T) {
	e := newLedgerEnv(t, tokens(10), LedgerConfig{CreditLimit: tokens(5)})
	cd1, pd1 := e.dialogs()
	cd2, pd2 := e.dialogs()
	e.session("a", cd1, pd1, openStore(t), nil)
	e.session("b", cd2, pd2, openStore(t), nil)
	time.Sleep(3 * time.Second)
	pa := e.ledger.Promised(e.cons.Address(), e.prov.Address(), "a")
	pb := e.ledger.Promised(e.cons.Address(), e.prov.Address(), "b")
	e.ledger.CloseSession(e.cons.Address(), e.prov.Address(), "a")
	e.ledger.CloseSession(e.cons.Address(), e.prov.Address(), "b")
	r, err := e.store.ReceivedFrom(e.ctx, e.cons.Address(), e.prov.Address())
	if err != nil {
		t.Fatal(err)
	}
	sum := new(big.Int).Add(pa, pb)
	if pa.Sign() == 0 || pb.Sign() == 0 || r.Cumulative.Cmp(sum) < 0 {
		t.Fatalf("stored %s, sessions promised %s + %s", proposal.FormatAmount(r.Cumulative), proposal.FormatAmount(pa), proposal.FormatAmount(pb))
	}
	t.Logf("stored %s MYSTT = %s + %s", proposal.FormatAmount(r.Cumulative), proposal.FormatAmount(pa), proposal.FormatAmount(pb))
	if err := e.ch.c.Verify(r.Promise); err != nil {
		t.Fatal(err)
	}
}

// TestLedgerWithdrawalMidSession: the consumer announces a withdrawal of
// its deposit mid-session; the provider hears it from the contract's
// events, settles at once, and ends the session at the next invoice.
func TestLedgerWithdrawalMidSession(t *testing.T) {
	e := newLedgerEnv(t, tokens(10), LedgerConfig{CreditLimit: tokens(5)})
	var mu sync.Mutex
	settleAsked := false
	e.funds.OnWithdrawal = func(c common.Address) {
		mu.Lock()
		settleAsked = c == e.cons.Address()
		mu.Unlock()
	}
	cd, pd := e.dialogs()
	_, ended := e.session("s", cd, pd, openStore(t), nil)
	time.Sleep(time.Second)
	if _, err := e.ch.c.RequestWithdrawal(e.ctx, txsend.New(e.ch.c.Eth(), e.ch.c.ChainID(), e.ch.payer, txsend.Config{}), e.cons, e.cons.Address()); err != nil {
		t.Fatal(err)
	}
	at := time.Now()
	select {
	case r := <-ended:
		if !strings.Contains(r, "no longer covers") {
			t.Fatalf("ended: %s", r)
		}
		t.Logf("ended %s after the withdrawal was announced: %s", time.Since(at).Round(time.Millisecond), r)
	case <-time.After(10 * time.Second):
		t.Fatal("session not ended after a withdrawal was announced")
	}
	mu.Lock()
	defer mu.Unlock()
	if !settleAsked {
		t.Fatal("the withdrawal did not trigger a settlement")
	}
}

// TestReservationAttacks: reservations that would fail are not sent (the
// provider pays no gas for them); a lane pays first and only its
// provider; a lane goes back to the free deposit only after the challenge
// period.
func TestReservationAttacks(t *testing.T) {
	ch := startChain(t, 2)
	ctx := mysttest.Ctx(t, time.Minute)
	c := ch.c
	cons, prov, other := mysttest.NewSigner(t), mysttest.NewSigner(t), mysttest.NewSigner(t)
	if _, err := c.Deposit(ctx, txsend.New(c.Eth(), c.ChainID(), ch.payer, txsend.Config{}), cons.Address(), tokens(10)); err != nil {
		t.Fatal(err)
	}
	s := gasSender(t, ctx, ch)
	nonce := func() uint64 {
		n, err := c.eth.PendingNonceAt(ctx, s.From())
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	refused := func(what string, r Reservation, want error) {
		t.Helper()
		n0 := nonce()
		_, err := c.ReserveWith(ctx, s, r)
		if !errors.Is(err, want) {
			t.Fatalf("%s: %v", what, err)
		}
		if n1 := nonce(); n1 != n0 {
			t.Fatalf("%s: a transaction was sent", what)
		}
		t.Logf("%s: refused before sending: %v", what, err)
	}
	good, _ := c.SignReservation(cons, prov.Address(), tokens(4), 0)
	redirected := good
	redirected.Provider = other.Address()
	refused("signed for another provider", redirected, ErrBadReservation)
	tooBig, _ := c.SignReservation(cons, prov.Address(), tokens(11), 0)
	refused("beyond the free deposit", tooBig, ErrWouldRevert)
	wrongNonce, _ := c.SignReservation(cons, prov.Address(), tokens(1), 5)
	refused("a nonce not the lane's", wrongNonce, ErrWouldRevert)
	tx, err := c.ReserveWith(ctx, s, good)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("gas: reserve %d", tx.GasUsed)
	refused("replayed", good, ErrWouldRevert)
	if b := must(t)(c.Balance(ctx, cons.Address())); b.Cmp(tokens(6)) != 0 {
		t.Fatalf("free deposit %v after reserving 4", b)
	}
	// Another provider takes the whole free deposit; the lane's provider is
	// still paid from its lane.
	toOther, _ := c.SignPromise(cons, other.Address(), tokens(100))
	if paid, _, err := c.Settle(ctx, txsend.New(c.Eth(), c.ChainID(), ch.payer, txsend.Config{}), toOther); err != nil || paid.Cmp(tokens(6)) != 0 {
		t.Fatalf("other provider paid %v, %v", paid, err)
	}
	p3, _ := c.SignPromise(cons, prov.Address(), tokens(3))
	if would, err := c.SimulateSettle(ctx, ch.payer.Address(), p3); err != nil || would.Cmp(tokens(3)) != 0 {
		t.Fatalf("simulated settle %v, %v", would, err)
	}
	if paid, _, err := c.Settle(ctx, txsend.New(c.Eth(), c.ChainID(), ch.payer, txsend.Config{}), p3); err != nil || paid.Cmp(tokens(3)) != 0 {
		t.Fatalf("lane's provider paid %v, %v", paid, err)
	}
	// Nothing left to pay a further promise beyond the lane's 1: the
	// simulation says so, and nothing is sent.
	p9, _ := c.SignPromise(cons, prov.Address(), tokens(9))
	if would, err := c.SimulateSettle(ctx, ch.payer.Address(), p9); err != nil || would.Cmp(tokens(1)) != 0 {
		t.Fatalf("simulated settle beyond the lane %v, %v", would, err)
	}
	if _, _, err := c.Settle(ctx, txsend.New(c.Eth(), c.ChainID(), ch.payer, txsend.Config{}), p9); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SimulateSettle(ctx, ch.payer.Address(), p9); !errors.Is(err, ErrNothingToPay) {
		t.Fatalf("a promise with nothing left to pay from: %v", err)
	}
	// Release: announced, not before the challenge period.
	if _, err := c.Deposit(ctx, txsend.New(c.Eth(), c.ChainID(), ch.payer, txsend.Config{}), cons.Address(), tokens(2)); err != nil {
		t.Fatal(err)
	}
	r2, _ := c.SignReservation(cons, prov.Address(), tokens(2), 1)
	if _, err := c.ReserveWith(ctx, s, r2); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RequestLaneRelease(ctx, txsend.New(c.Eth(), c.ChainID(), ch.payer, txsend.Config{}), cons, prov.Address()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ReleaseLane(ctx, txsend.New(c.Eth(), c.ChainID(), ch.payer, txsend.Config{}), cons.Address(), prov.Address()); err == nil {
		t.Fatal("a lane released during the challenge period")
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err = c.ReleaseLane(ctx, txsend.New(c.Eth(), c.ChainID(), ch.payer, txsend.Config{}), cons.Address(), prov.Address())
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	if b := must(t)(c.Balance(ctx, cons.Address())); b.Cmp(tokens(2)) != 0 {
		t.Fatalf("free deposit %v after the release, want 2", b)
	}
}

// TestSettlerShortPaid: a promise the chain can pay only in part is
// settled for what there is and reported short; the next, with nothing
// left, is not sent at all.
func TestSettlerShortPaid(t *testing.T) {
	ch := startChain(t, 60)
	ctx := mysttest.Ctx(t, time.Minute)
	c := ch.c
	cons, prov := mysttest.NewSigner(t), mysttest.NewSigner(t)
	if _, err := c.Deposit(ctx, txsend.New(c.Eth(), c.ChainID(), ch.payer, txsend.Config{}), cons.Address(), tokens(1)); err != nil {
		t.Fatal(err)
	}
	store := openStore(t)
	s := gasSender(t, ctx, ch)
	type short struct{ owed, paid *big.Int }
	shorts := make(chan short, 4)
	st := NewSettler(SettlerConfig{Client: c, Store: store, Sender: func(common.Address) (*txsend.Sender, error) { return s, nil },
		OnShort: func(_, _ common.Address, owed, paid *big.Int) { shorts <- short{owed, paid} }})
	p2, _ := c.SignPromise(cons, prov.Address(), tokens(2))
	if err := store.SaveReceived(ctx, p2); err != nil {
		t.Fatal(err)
	}
	paid, err := st.Settle(ctx, cons.Address(), prov.Address())
	if err != nil || paid.Cmp(tokens(1)) != 0 {
		t.Fatalf("paid %v, %v", paid, err)
	}
	if x := <-shorts; x.owed.Cmp(tokens(2)) != 0 || x.paid.Cmp(tokens(1)) != 0 {
		t.Fatalf("short %+v", x)
	}
	p3, _ := c.SignPromise(cons, prov.Address(), tokens(3))
	store.SaveReceived(ctx, p3)
	n0, _ := c.eth.PendingNonceAt(ctx, s.From())
	if paid, err := st.Settle(ctx, cons.Address(), prov.Address()); err != nil || paid.Sign() != 0 {
		t.Fatalf("nothing to pay: %v, %v", paid, err)
	}
	if n1, _ := c.eth.PendingNonceAt(ctx, s.From()); n1 != n0 {
		t.Fatal("a settlement that pays nothing was sent")
	}
	if x := <-shorts; x.paid.Sign() != 0 {
		t.Fatalf("short %+v", x)
	}
}

// TestReserveRequestCapped: a hostile provider asks a consumer to reserve
// its whole deposit (1000 MYSTT) for it. The consumer signs no more than
// half an hour and 2 GiB at the session's price (18 MYSTT at 36 an hour),
// and no more than is left under its spending cap.
func TestReserveRequestCapped(t *testing.T) {
	ch := startChain(t, 3)
	cons, prov := mysttest.NewSigner(t), mysttest.NewSigner(t)
	ctx := mysttest.Ctx(t, time.Minute)
	for _, c := range []struct {
		maxSpend, want *big.Int
	}{
		{nil, tokens(18)},
		{tokens(5), tokens(5)},
	} {
		payer, err := NewPayer(ctx, PayerConfig{Client: ch.c, Store: openStore(t), Consumer: cons, Provider: prov.Address(), SessionID: "s",
			Price: perHour, Start: time.Now(), MaxSpend: c.maxSpend})
		if err != nil {
			t.Fatal(err)
		}
		body, _ := json.Marshal(ReserveRequest{Amount: tokens(1000), Nonce: 0})
		raw, err := payer.HandleReserve(ctx, body)
		if err != nil {
			t.Fatal(err)
		}
		var r Reservation
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatal(err)
		}
		if r.Amount.Cmp(c.want) != 0 {
			t.Fatalf("max spend %v: signed a reservation of %s, want %s", c.maxSpend, proposal.FormatAmount(r.Amount), proposal.FormatAmount(c.want))
		}
		if err := ch.c.VerifyReservation(r); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLedgerCloseEndsReservation: a reservation in flight when the ledger
// closes (a chain that does not answer) is cancelled and waited for: none
// outlives the ledger or sends a transaction after it closed.
func TestLedgerCloseEndsReservation(t *testing.T) {
	limit := new(big.Int).Quo(tokens(5), big.NewInt(100))
	asked := make(chan struct{}, 1)
	returned := make(chan error, 1)
	e := newLedgerEnv(t, tokens(10), LedgerConfig{CreditLimit: limit, Reserve: func(ctx context.Context, r Reservation) error {
		select {
		case asked <- struct{}{}:
		default:
		}
		<-ctx.Done() // the chain never answers
		select {
		case returned <- ctx.Err():
		default:
		}
		return ctx.Err()
	}})
	cd, pd := e.dialogs()
	e.session("s1", cd, pd, openStore(t), nil)
	select {
	case <-asked:
	case <-time.After(30 * time.Second):
		t.Fatal("no reservation was sent")
	}
	closed := make(chan struct{})
	go func() { e.ledger.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return with a reservation in flight")
	}
	select {
	case err := <-returned:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("the reservation ended with %v, want it cancelled by Close", err)
		}
	default:
		t.Fatal("Close returned before the reservation in flight ended")
	}
}
