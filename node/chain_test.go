package node

import (
	"context"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/mystnode/myst/deploy"
	"github.com/mystnode/myst/mysttest"
	"github.com/mystnode/myst/network"
	"github.com/mystnode/myst/proposal"
)

// newGethNet is newFaultNet on a separate geth --dev process sealing a
// block every 2 s, its contracts put there by package deploy, its dev
// account the network's gas payer.
func newGethNet(t *testing.T) *faultNet {
	t.Helper()
	e := &faultNet{t: t, ctx: mysttest.Ctx(t, 5*time.Minute)}
	g := mysttest.StartGeth(t, 2)
	ec, err := ethclient.Dial(g.RPC)
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	supply, _ := proposal.ParseAmount("1000000")
	st, err := deploy.Run(e.ctx, deploy.Config{RPC: ec, Deployer: g.Dev, TestSupply: supply, ChallengeSeconds: 60,
		StatePath: filepath.Join(t.TempDir(), "state.json")})
	if err != nil {
		t.Fatal(err)
	}
	dev, token, pay := g.Dev.Address(), st.Step("MystToken").Address, st.Step("Payments").Address
	dir := t.TempDir()
	f := &network.File{ChainID: 1337, EtherRPCURL: g.RPC, RegistryAddress: st.Step("IdentityRegistry").Address,
		RegistryFromBlock: st.Step("IdentityRegistry").Block, TokenAddress: &token, PaymentsAddress: &pay,
		GasPayerAddress: &dev, GasPayerKeystore: g.KeyFile, GasPayerPassphraseFile: filepath.Join(dir, "empty")}
	if err := f.Save(filepath.Join(dir, "network.json")); err != nil {
		t.Fatal(err)
	}
	if err := writeEmpty(f.GasPayerPassphraseFile); err != nil {
		t.Fatal(err)
	}
	loaded, err := network.Load(filepath.Join(dir, "network.json"))
	if err != nil {
		t.Fatal(err)
	}
	e.file, e.payer = *loaded, g.Dev
	e.startServices()
	return e
}

// TestSettlementOnRealChain: a priced session between two nodes on a
// chain that seals every 2 s; the provider settles with 2 confirmations
// through its transaction sender; the chain then holds exactly what the
// consumer signed, and the provider's token balance grew by it, to the
// unit.
func TestSettlementOnRealChain(t *testing.T) {
	t.Parallel()
	e := newGethNet(t)
	never, _ := proposal.ParseAmount("1000000")
	var onSent atomic.Pointer[func()]
	logger := slog.New(&onMessage{msg: "transaction sent", f: func() {
		if f := onSent.Load(); f != nil {
			(*f)()
		}
	}})
	p, pid := e.node("provider", true, Config{Logger: logger, Payments: PaymentsConfig{Confirmations: 2, SettleThreshold: never}})
	e.pricedService(p, pid)
	c, cid := e.node("consumer", false, Config{})
	e.connect(c, cid, pid)
	mysttest.WaitFor(t, 30*time.Second, func() bool { return received(t, p, cid, pid).Sign() > 0 })
	time.Sleep(2 * time.Second)
	nothingLost(t, p, c, pid, cid)
	signed := issued(t, c, cid, pid)
	before, err := e.pay.TokenBalance(e.ctx, common.HexToAddress(pid))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := p.Settle(e.ctx, pid); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	settled, err := e.pay.Settled(e.ctx, common.HexToAddress(cid), common.HexToAddress(pid))
	if err != nil {
		t.Fatal(err)
	}
	after, err := e.pay.TokenBalance(e.ctx, common.HexToAddress(pid))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("consumer signed %s; settled on chain %s (2 confirmations, %s); provider's tokens +%s",
		proposal.FormatAmount(signed), proposal.FormatAmount(settled), took.Round(time.Millisecond), proposal.FormatAmount(new(big.Int).Sub(after, before)))
	if settled.Cmp(signed) != 0 || new(big.Int).Sub(after, before).Cmp(signed) != 0 {
		t.Fatalf("signed %s, settled %s, paid %s", signed, settled, new(big.Int).Sub(after, before))
	}
	// Another session; the provider stops right after its settlement
	// left (before the block that mines it) and starts again: the
	// promise is settled once, whatever the first transaction did.
	e.connect(c, cid, pid)
	mysttest.WaitFor(t, 30*time.Second, func() bool { return received(t, p, cid, pid).Cmp(signed) > 0 })
	time.Sleep(time.Second)
	nothingLost(t, p, c, pid, cid)
	signed2 := issued(t, c, cid, pid)
	sent := make(chan struct{})
	var once sync.Once
	p2cfg := p.cfg
	closeSent := func() { once.Do(func() { close(sent) }) }
	onSent.Store(&closeSent)
	payerNonce, err := e.reg.Eth().NonceAt(e.ctx, e.payer.Address(), nil)
	if err != nil {
		t.Fatal(err)
	}
	settling := make(chan error, 1)
	go func() { _, err := p.Settle(e.ctx, pid); settling <- err }()
	select {
	case <-sent:
	case <-time.After(30 * time.Second):
		t.Fatal("no settlement sent")
	}
	p.Close()
	<-p.Done()
	t.Logf("provider stopped with its settlement in flight: %v", <-settling)
	p2cfg.Logger = slog.New(slog.DiscardHandler)
	p2, err := New(e.ctx, p2cfg)
	if err != nil {
		t.Fatal(err)
	}
	p2.Start()
	defer func() { p2.Close(); <-p2.Done() }()
	if err := p2.Unlock(pid, "pw"); err != nil {
		t.Fatal(err)
	}
	if _, err := p2.Settle(e.ctx, pid); err != nil {
		t.Fatal(err)
	}
	final, err := e.pay.TokenBalance(e.ctx, common.HexToAddress(pid))
	if err != nil {
		t.Fatal(err)
	}
	if s2, _ := e.pay.Settled(e.ctx, common.HexToAddress(cid), common.HexToAddress(pid)); s2.Cmp(signed2) != 0 || new(big.Int).Sub(final, before).Cmp(signed2) != 0 {
		t.Fatalf("after the restart: settled %s, paid %s in all, the consumer signed %s", s2, new(big.Int).Sub(final, before), signed2)
	}
	// One transaction: the restarted node waited for the journaled one.
	if n, err := e.reg.Eth().NonceAt(e.ctx, e.payer.Address(), nil); err != nil || n != payerNonce+1 {
		t.Fatalf("the gas payer sent %d transactions for one settlement across the restart (%v)", n-payerNonce, err)
	}
	t.Logf("after a restart mid-settlement: settled %s = signed, paid once, one transaction", proposal.FormatAmount(signed2))
	after = final
	p = p2
	// Settling again pays nothing more.
	if _, err := p.Settle(e.ctx, pid); err != nil {
		t.Fatal(err)
	}
	if again, _ := e.pay.TokenBalance(e.ctx, common.HexToAddress(pid)); again.Cmp(after) != 0 {
		t.Fatalf("a second settle paid %s more", new(big.Int).Sub(again, after))
	}
}

// onMessage is a slog handler that calls f on a message.
type onMessage struct {
	msg string
	f   func()
}

func (h *onMessage) Enabled(context.Context, slog.Level) bool { return true }
func (h *onMessage) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.f()
	}
	return nil
}
func (h *onMessage) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *onMessage) WithGroup(string) slog.Handler      { return h }

func writeEmpty(path string) error { return os.WriteFile(path, nil, 0o600) }
