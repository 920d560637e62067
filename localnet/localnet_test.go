package localnet

import (
	"context"
	"math/big"
	"testing"
	"time"

	"github.com/mystnode/myst/mysttest"
	"github.com/mystnode/myst/network"
	"github.com/mystnode/myst/payments"
	"github.com/mystnode/myst/registry"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, mysttest.LeakOptions()...)
}

func TestStartWritesUsableNetworkFile(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var payers []string
	for range 2 { // a restart reuses the gas payer
		ln, err := Start(ctx, Config{DataDir: dir, RPCAddr: "127.0.0.1:0"})
		if err != nil {
			t.Fatal(err)
		}
		f, err := network.Load(ln.Path())
		if err != nil {
			ln.Close()
			t.Fatal(err)
		}
		payer, err := f.GasPayer()
		if err != nil {
			ln.Close()
			t.Fatal(err)
		}
		payers = append(payers, payer.Address().Hex())
		c, err := registry.Dial(ctx, f.EtherRPCURL, f.ChainID, f.RegistryAddress)
		if err != nil {
			ln.Close()
			t.Fatal(err)
		}
		bal, err := c.Eth().BalanceAt(ctx, payer.Address(), nil)
		c.Close()
		ln.Close()
		if err != nil || bal.Sign() <= 0 {
			t.Fatalf("gas payer balance %v, %v", bal, err)
		}
	}
	if payers[0] != payers[1] {
		t.Fatalf("gas payer changed across restarts: %v", payers)
	}
}

// TestRestartKeepsChain registers an identity and deposits for it, restarts
// the localnet on the same data dir and finds both (and the same
// contracts); --fresh then starts a chain without them.
func TestRestartKeepsChain(t *testing.T) {
	dir := t.TempDir()
	ctx := mysttest.Ctx(t, 2*time.Minute)
	id := mysttest.NewSigner(t)
	start := func(fresh bool) (*Localnet, *network.File, *registry.Client) {
		t.Helper()
		ln, err := Start(ctx, Config{DataDir: dir, RPCAddr: "127.0.0.1:0", Fresh: fresh})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		f, err := network.Load(ln.Path())
		if err != nil {
			t.Fatal(err)
		}
		c, err := registry.Dial(ctx, f.EtherRPCURL, f.ChainID, f.RegistryAddress)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return ln, f, c
	}
	ln, f1, c := start(false)
	payer, err := f1.GasPayer()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Register(ctx, id, payer, nil); err != nil {
		t.Fatal(err)
	}
	pay, err := payments.NewClient(c.Eth(), f1.ChainID, *f1.TokenAddress, *f1.PaymentsAddress)
	if err != nil {
		t.Fatal(err)
	}
	amount := big.NewInt(5e18)
	if _, err := pay.Deposit(ctx, payer, id.Address(), amount, nil); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}

	ln, f2, c := start(false)
	if f2.RegistryAddress != f1.RegistryAddress || *f2.PaymentsAddress != *f1.PaymentsAddress {
		t.Fatalf("contracts changed across a restart: %s -> %s", f1.RegistryAddress.Hex(), f2.RegistryAddress.Hex())
	}
	if ok, err := c.IsRegistered(ctx, id.Address()); err != nil || !ok {
		t.Fatalf("restarted localnet: registered %v, %v", ok, err)
	}
	pay, err = payments.NewClient(c.Eth(), f2.ChainID, *f2.TokenAddress, *f2.PaymentsAddress)
	if err != nil {
		t.Fatal(err)
	}
	if bal, err := pay.Balance(ctx, id.Address()); err != nil || bal.Cmp(amount) != 0 {
		t.Fatalf("restarted localnet: deposit %v, %v; want %v", bal, err, amount)
	}
	c.Close()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}

	_, _, c = start(true)
	if ok, err := c.IsRegistered(ctx, id.Address()); err != nil || ok {
		t.Fatalf("fresh localnet: registered %v, %v", ok, err)
	}
}
