package payments

import (
	"context"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/mystnode/myst/dialog"
	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/mysttest"
	"github.com/mystnode/myst/proposal"
	"github.com/mystnode/myst/registry/registrytest"
)

// dialogPair opens a dialog between two fresh identities over an
// in-process broker.
func dialogPair(t *testing.T) (consumerSide, providerSide *dialog.Dialog, cons, prov *identity.Signer) {
	nc := mysttest.Connect(t, mysttest.StartBroker(t).URL())
	c, p := mysttest.NewSigner(t), mysttest.NewSigner(t)
	reg := registrytest.New(c, p)
	accepted := make(chan *dialog.Dialog, 1)
	l, err := dialog.Listen(nc, p, reg, dialog.ListenConfig{Accept: func(d *dialog.Dialog) { accepted <- d }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d, err := dialog.Dial(ctx, nc, c, p.Address(), reg, dialog.DialConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, <-accepted, c, p
}

func openStore(t *testing.T) *Store {
	s, err := OpenStore(filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// offline is a Client that signs and verifies without a chain.
func offline() *Client {
	return &Client{chainID: big.NewInt(1337), payAt: common.HexToAddress("0xC0FFEE")}
}

var perHour = proposal.Price{Currency: "MYSTT", PerHour: "36", PerGiB: "0"} // 0.01 MYSTT a second

func TestInvoicesPromisesStored(t *testing.T) {
	cd, pd, cons, prov := dialogPair(t)
	c := offline()
	cStore, pStore := openStore(t), openStore(t)
	start := time.Now()
	payer, err := NewPayer(context.Background(), PayerConfig{Client: c, Store: cStore, Consumer: cons, Provider: prov.Address(), SessionID: "s1", Price: perHour, Start: start})
	if err != nil {
		t.Fatal(err)
	}
	cd.Handle(TopicInvoice, payer.Handle)
	got := make(chan Received, 16)
	b, err := StartBiller(context.Background(), BillerConfig{Client: c, Store: pStore, Dialog: pd, SessionID: "s1", Consumer: cons.Address(), Provider: prov.Address(),
		Price: perHour, Start: start, Every: 100 * time.Millisecond, Grace: time.Second,
		OnUnpaid: func(r string) { t.Errorf("unpaid: %s", r) }, OnPromise: func(r Received) { got <- r }})
	if err != nil {
		t.Fatal(err)
	}
	var last Received
	for range 3 {
		select {
		case last = <-got:
		case <-time.After(5 * time.Second):
			t.Fatal("no promise")
		}
	}
	b.Close()
	if err := c.Verify(last.Promise); err != nil {
		t.Fatal(err)
	}
	stored, _ := pStore.ReceivedFrom(context.Background(), cons.Address(), prov.Address())
	issued, _ := cStore.Issued(context.Background(), cons.Address(), prov.Address())
	if stored.Cumulative.Cmp(issued) != 0 || stored.Cumulative.Sign() <= 0 {
		t.Fatalf("provider stored %v, consumer issued %v", stored.Cumulative, issued)
	}
	// A second session continues the cumulative amount.
	p2, _ := NewPayer(context.Background(), PayerConfig{Client: c, Store: cStore, Consumer: cons, Provider: prov.Address(), SessionID: "s2", Price: perHour, Start: time.Now().Add(-time.Second)})
	body := []byte(`{"session_id":"s2","session_amount":1000,"cumulative":0}`)
	out, err := p2.Handle(context.Background(), body)
	if err != nil || !strings.Contains(string(out), new(big.Int).Add(issued, big.NewInt(1000)).String()) {
		t.Fatalf("second session's promise %s, %v", out, err)
	}
}

func TestOverbillingRefused(t *testing.T) {
	cons, prov := mysttest.NewSigner(t), mysttest.NewSigner(t)
	c := offline()
	ended := make(chan string, 1)
	payer, _ := NewPayer(context.Background(), PayerConfig{Client: c, Store: openStore(t), Consumer: cons, Provider: prov.Address(), SessionID: "s", Price: perHour,
		Start: time.Now().Add(-10 * time.Second), OnOverbilled: func(r string) { ended <- r }})
	// 10 s at 0.01/s = 0.1 MYSTT; 5% + 5 s slack allow ~0.155. Ask 1 MYSTT.
	_, err := payer.Handle(context.Background(), []byte(`{"session_id":"s","session_amount":1000000000000000000,"cumulative":0}`))
	if err == nil || !strings.Contains(err.Error(), "overbilled") {
		t.Fatalf("inflated invoice: %v", err)
	}
	select {
	case reason := <-ended:
		if !strings.Contains(reason, "overbilled") {
			t.Fatalf("ended for %q", reason)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("session not ended for over-billing")
	}
	// A fair invoice passes.
	if _, err := payer.Handle(context.Background(), []byte(`{"session_id":"s","session_amount":100000000000000000,"cumulative":0}`)); err != nil {
		t.Fatalf("fair invoice: %v", err)
	}
}

func TestNonPayingConsumerCutOff(t *testing.T) {
	_, pd, cons, prov := dialogPair(t) // the consumer side answers no invoices
	unpaid := make(chan string, 1)
	start := time.Now()
	b, err := StartBiller(context.Background(), BillerConfig{Client: offline(), Store: openStore(t), Dialog: pd, SessionID: "s", Consumer: cons.Address(), Provider: prov.Address(),
		Price: perHour, Start: start, Every: 100 * time.Millisecond, Grace: 500 * time.Millisecond,
		OnUnpaid: func(r string) { unpaid <- r }})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	select {
	case r := <-unpaid:
		if el := time.Since(start); el < 500*time.Millisecond || el > 3*time.Second {
			t.Fatalf("cut off after %s", el)
		}
		t.Logf("cut off: %s", r)
	case <-time.After(5 * time.Second):
		t.Fatal("a consumer that does not pay was not cut off")
	}
}

// TestStoreIsPrivate: the promise store and its WAL files are 0600.
func TestStoreIsPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	s, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.SaveIssued(context.Background(), common.Address{1}, common.Address{2}, big.NewInt(5)); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s is %v, want 0600", filepath.Base(p), st.Mode().Perm())
		}
	}
}
