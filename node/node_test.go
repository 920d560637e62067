package node

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/mystnode/myst/api"
	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/localnet"
	"github.com/mystnode/myst/mysttest"
	"github.com/mystnode/myst/network"
	"github.com/mystnode/myst/registry"
	"github.com/mystnode/myst/txsend"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, mysttest.LeakOptions()...)
}

// TestNodesStopCleanly runs a provider and a consumer node in this process
// on an in-process localnet, takes a noop session through discovery, and
// checks that Stop leaves no goroutine behind (TestMain).
func TestNodesStopCleanly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	nf := startLocalnet(t, ctx)
	payer, err := nf.GasPayer()
	if err != nil {
		t.Fatal(err)
	}
	reg, err := registry.Dial(ctx, nf.EtherRPCURL, nf.ChainID, nf.RegistryAddress)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()

	start := func(name string) (*Node, string) {
		n, err := New(ctx, Config{DataDir: filepath.Join(t.TempDir(), name), Network: nf, LightKDF: true,
			Country: "DE", Logger: slog.New(slog.DiscardHandler), KeepAliveEvery: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		n.joinEvery = 500 * time.Millisecond
		n.Start()
		id, err := n.CreateIdentity("pw")
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Unlock(id, "pw"); err != nil {
			t.Fatal(err)
		}
		addr, _ := parseID("id", id)
		signer, _ := n.store.Signer(addr)
		if _, err := reg.Register(ctx, signer, txsend.New(reg.Eth(), reg.ChainID(), payer, txsend.Config{})); err != nil {
			t.Fatal(err)
		}
		return n, id
	}
	prov, pid := start("provider")
	cons, cid := start("consumer")

	svc, err := prov.StartService(ctx, Offer{Provider: common.HexToAddress(pid), Type: "noop", MaxSessions: 1})
	if err != nil {
		t.Fatal(err)
	}
	c, err := cons.Connect(ctx, api.ConnectionRequest{ConsumerID: cid, ProviderID: pid, ServiceType: "noop"})
	if err != nil || c.State != api.Connected {
		t.Fatalf("connect: %+v, %v", c, err)
	}
	if ss := prov.Sessions(); len(ss) != 1 || ss[0].ConsumerID != cid {
		t.Fatalf("provider sessions %+v", ss)
	}
	d, err := cons.OpenDialog(ctx, api.DialogRequest{ConsumerID: cid, ProviderID: pid})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cons.Ping(ctx, d.ID, api.PingRequest{}); err != nil {
		t.Fatal(err)
	}
	// A second identity, unlocked while the provider is connected and
	// registered after that through the node: the broker admits the
	// connection for it too, and it answers dialogs.
	pid2, err := prov.CreateIdentity("pw2")
	if err != nil {
		t.Fatal(err)
	}
	if err := prov.Unlock(pid2, "pw2"); err != nil {
		t.Fatal(err)
	}
	if r, err := prov.Register(ctx, pid2); err != nil || !r.Registered {
		t.Fatalf("register a second identity: %+v %v", r, err)
	}
	d2, err := cons.OpenDialog(ctx, api.DialogRequest{ConsumerID: cid, ProviderID: pid2, TimeoutMillis: 5000})
	if err != nil {
		t.Fatalf("dial an identity registered while connected: %v", err)
	}
	if _, err := cons.Ping(ctx, d2.ID, api.PingRequest{}); err != nil {
		t.Fatal(err)
	}
	// A third, registered from outside the node (another tool): the node
	// sees it in the registry and joins again.
	pid3, err := prov.CreateIdentity("pw3")
	if err != nil {
		t.Fatal(err)
	}
	if err := prov.Unlock(pid3, "pw3"); err != nil {
		t.Fatal(err)
	}
	signer3, _ := prov.store.Signer(common.HexToAddress(pid3))
	if _, err := reg.Register(ctx, signer3, txsend.New(reg.Eth(), reg.ChainID(), payer, txsend.Config{})); err != nil {
		t.Fatal(err)
	}
	d3, err := cons.OpenDialog(ctx, api.DialogRequest{ConsumerID: cid, ProviderID: pid3, TimeoutMillis: 8000})
	if err != nil {
		t.Fatalf("dial an identity registered from outside while connected: %v", err)
	}
	if _, err := cons.Ping(ctx, d3.ID, api.PingRequest{}); err != nil {
		t.Fatal(err)
	}
	if svc.ID == "" || len(prov.Services()) != 1 {
		t.Fatalf("services %+v", prov.Services())
	}
	// Stop both while connected: the consumer ends its session, the
	// provider unregisters its proposal.
	cons.Close()
	prov.Close()
	<-cons.Done()
	<-prov.Done()
}

// TestUnlockBackOff: after a wrong passphrase the next try waits, growing;
// the right passphrase after the wait unlocks.
func TestUnlockBackOff(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ln, err := localnet.Start(ctx, localnet.Config{DataDir: t.TempDir(), RPCAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	n, err := New(ctx, Config{DataDir: t.TempDir(), Network: ln.File(), LightKDF: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	id, err := n.CreateIdentity("right")
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Unlock(id, "wrong"); !errors.Is(err, identity.ErrWrongPassword) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	if err := n.Unlock(id, "right"); !errors.Is(err, ErrTryLater) || !strings.Contains(err.Error(), "try again in") {
		t.Fatalf("right passphrase at once after a wrong one: %v, want to be told to wait", err)
	}
	time.Sleep(time.Second)
	if err := n.Unlock(id, "right"); err != nil {
		t.Fatalf("after the wait: %v", err)
	}
}

// startLocalnet runs a localnet in this process until the test ends and
// returns its network file.
func startLocalnet(t *testing.T, ctx context.Context) *network.File {
	t.Helper()
	ln, err := localnet.Start(ctx, localnet.Config{DataDir: t.TempDir(), RPCAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	nf, err := network.Load(ln.Path())
	if err != nil {
		t.Fatal(err)
	}
	return nf
}
