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
	return dialogPairOf(t, mysttest.NewSigner(t), mysttest.NewSigner(t))
}

// dialogPairOf opens a dialog from c to p over an in-process broker.
func dialogPairOf(t *testing.T, c, p *identity.Signer) (consumerSide, providerSide *dialog.Dialog, cons, prov *identity.Signer) {
	nc := mysttest.Connect(t, mysttest.StartBroker(t).URL())
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
