package localnet

import (
	"context"
	"testing"
	"time"

	"github.com/mystnode/myst/mysttest"
	"github.com/mystnode/myst/network"
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
