package node

import (
	"context"
	"fmt"
	"log/slog"
	"math/big"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/mystnode/myst/api"
	"github.com/mystnode/myst/brokerd"
	"github.com/mystnode/myst/discovery"
	"github.com/mystnode/myst/discoveryd"
	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/localnet"
	"github.com/mystnode/myst/mysttest"
	"github.com/mystnode/myst/network"
	"github.com/mystnode/myst/payments"
	"github.com/mystnode/myst/proposal"
	"github.com/mystnode/myst/registry"
	"github.com/mystnode/myst/txsend"
)

// faultNet is a network whose parts a test can break one at a time: the
// chain (kept by a localnet) reached by the provider through a proxy that
// can be cut, a broker that can be restarted on its port, and a Discovery
// API that can be stopped and started again.
type faultNet struct {
	t     *testing.T
	ctx   context.Context
	ln    *localnet.Localnet
	file  network.File // as the consumers see it
	rpc   *mysttest.Proxy
	payer *identity.Signer
	reg   *registry.Client
	pay   *payments.Client

	// ownGas: providers pay their own gas (funded with ether at start),
	// not the network's gas payer, so that several send at once.
	ownGas bool

	brokerAddr, discAddr string
	broker               *brokerd.Server
	disc                 *discoveryd.Service
	discN                int
}

func newFaultNet(t *testing.T) *faultNet {
	t.Helper()
	e := &faultNet{t: t, ctx: mysttest.Ctx(t, 5*time.Minute)}
	var err error
	e.ln, err = localnet.Start(e.ctx, localnet.Config{DataDir: t.TempDir(), RPCAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.ln.Close() })
	e.file = *e.ln.File()
	if e.payer, err = e.file.GasPayer(); err != nil {
		t.Fatal(err)
	}
	e.startServices()
	return e
}

// startServices connects to e.file's chain (through a proxy that can be
// cut) and starts the broker and discovery, once e.file names the chain,
// its contracts and the gas payer.
func (e *faultNet) startServices() {
	t := e.t
	t.Helper()
	var err error
	if e.reg, err = registry.Dial(e.ctx, e.file.EtherRPCURL, e.file.ChainID, e.file.RegistryAddress); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.reg.Close)
	if e.pay, err = payments.NewClient(e.reg.Eth(), e.file.ChainID, *e.file.TokenAddress, *e.file.PaymentsAddress); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(e.file.EtherRPCURL)
	e.rpc = mysttest.StartProxy(t, u.Host)
	e.brokerAddr, e.discAddr = freeAddr(t), freeAddr(t)
	e.startBroker()
	e.startDiscovery()
	t.Cleanup(func() {
		e.stopDiscovery()
		e.stopBroker()
	})
	e.file.BrokerURLs = []string{e.broker.URL()}
	e.file.DiscoveryURL = e.disc.URL()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	s := mysttest.StartBroker(t) // a listener on a free port, released at once
	u, _ := url.Parse(s.URL())
	s.Close()
	return u.Host
}

func (e *faultNet) startBroker() {
	e.t.Helper()
	e.retry(func() (err error) {
		e.broker, err = brokerd.StartServer(brokerd.ServerConfig{Addr: e.brokerAddr})
		return err
	})
}

// retry runs start until it succeeds (its port may still be held by what
// ran there a moment ago), failing the test after 10 s.
func (e *faultNet) retry(start func() error) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := start()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (e *faultNet) stopBroker() {
	if e.broker != nil {
		e.broker.Close()
		e.broker = nil
	}
}

// startDiscovery starts a Discovery API with an empty database on its
// address: proposals must be announced again to be found.
func (e *faultNet) startDiscovery() {
	e.t.Helper()
	e.discN++
	db := "sqlite:" + filepath.Join(e.t.TempDir(), fmt.Sprintf("discovery%d.db", e.discN))
	e.retry(func() (err error) {
		e.disc, err = discoveryd.Start(e.ctx, discoveryd.ServiceConfig{
			Addr: e.discAddr, DB: db,
			EtherRPCURL: e.file.EtherRPCURL, ChainID: e.file.ChainID, RegistryAddress: e.file.RegistryAddress, RegistryFromBlock: e.file.RegistryFromBlock,
		})
		return err
	})
}

func (e *faultNet) stopDiscovery() {
	if e.disc != nil {
		e.disc.Close()
		e.disc = nil
	}
}

// node starts a node with a new registered identity; a provider reaches
// the chain through the proxy, a consumer directly. A consumer gets a
// deposit of 10 MYSTT.
func (e *faultNet) node(name string, provider bool, cfg Config) (*Node, string) {
	e.t.Helper()
	n := e.start(name, provider, cfg)
	id, err := n.CreateIdentity("pw")
	if err != nil {
		e.t.Fatal(err)
	}
	if err := n.Unlock(id, "pw"); err != nil {
		e.t.Fatal(err)
	}
	addr := common.HexToAddress(id)
	signer, _ := n.store.Signer(addr)
	if _, err := e.reg.Register(e.ctx, signer, txsend.New(e.reg.Eth(), e.reg.ChainID(), e.payer, txsend.Config{})); err != nil {
		e.t.Fatal(err)
	}
	if provider && e.ownGas {
		if _, err := e.pay.Fund(e.ctx, txsend.New(e.pay.Eth(), e.pay.ChainID(), e.payer, txsend.Config{}), addr, big.NewInt(1), big.NewInt(1e18)); err != nil {
			e.t.Fatal(err)
		}
	}
	if !provider {
		amount, _ := proposal.ParseAmount("10")
		if _, err := e.pay.Deposit(e.ctx, txsend.New(e.pay.Eth(), e.pay.ChainID(), e.payer, txsend.Config{}), addr, amount); err != nil {
			e.t.Fatal(err)
		}
	}
	return n, id
}

// start starts a node without identities.
func (e *faultNet) start(name string, provider bool, cfg Config) *Node {
	e.t.Helper()
	file := e.file
	if provider {
		file.EtherRPCURL = "http://" + e.rpc.Addr()
	}
	if provider && e.ownGas {
		file.GasPayerAddress, file.GasPayerKeystore, file.GasPayerPassphraseFile = nil, "", ""
	}
	if cfg.DataDir == "" {
		cfg.DataDir = filepath.Join(e.t.TempDir(), name)
	}
	cfg.Network, cfg.LightKDF, cfg.Country = &file, true, "DE"
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.KeepAliveEvery == 0 {
		cfg.KeepAliveEvery = time.Second
	}
	if cfg.Payments.InvoiceEvery == 0 {
		cfg.Payments.InvoiceEvery = 300 * time.Millisecond
	}
	n, err := New(e.ctx, cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	n.Start()
	e.t.Cleanup(func() { n.Close(); <-n.Done() })
	return n
}

// pricedService starts a noop service at 36 MYSTT an hour (0.01 a second).
func (e *faultNet) pricedService(n *Node, id string) {
	e.t.Helper()
	if _, err := n.StartService(e.ctx, Offer{Provider: common.HexToAddress(id), Type: "noop", PriceHour: new(big.Int).Mul(big.NewInt(36), big.NewInt(1e18)), MaxSessions: 100}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *faultNet) connect(n *Node, consumer, provider string) api.Connection {
	e.t.Helper()
	c, err := n.Connect(e.ctx, api.ConnectionRequest{ConsumerID: consumer, ProviderID: provider, ServiceType: "noop"})
	if err != nil || c.State != api.Connected {
		e.t.Fatalf("connect: %+v, %v", c, err)
	}
	return c
}

// received is what the provider stored of consumer's promises.
func received(t *testing.T, p *Node, consumer, provider string) *big.Int {
	t.Helper()
	r, err := p.money.store.ReceivedFrom(context.Background(), common.HexToAddress(consumer), common.HexToAddress(provider))
	if err != nil {
		t.Fatal(err)
	}
	return r.Cumulative
}

// issued is the highest promise consumer signed to provider.
func issued(t *testing.T, c *Node, consumer, provider string) *big.Int {
	t.Helper()
	v, err := c.money.store.Issued(context.Background(), common.HexToAddress(consumer), common.HexToAddress(provider))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// payerOf is the consumer's payer of its current session.
func payerOf(c *Node) *payments.Payer {
	c.consumer.mu.Lock()
	defer c.consumer.mu.Unlock()
	return c.consumer.conn.payer
}

// nothingLost disconnects the consumer and checks that the provider
// stored exactly what the consumer signed.
func nothingLost(t *testing.T, p, c *Node, pid, cid string) {
	t.Helper()
	if _, err := c.Disconnect(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, want := received(t, p, cid, pid), issued(t, c, cid, pid)
	if got.Cmp(want) != 0 || got.Sign() == 0 {
		t.Fatalf("provider stored %s of %s's promises, the consumer signed %s", got, cid, want)
	}
}

func TestFaultBrokerRestart(t *testing.T) {
	t.Parallel()
	e := newFaultNet(t)
	p, pid := e.node("provider", true, Config{})
	e.pricedService(p, pid)
	type consumer struct {
		n  *Node
		id string
	}
	cs := make([]consumer, 2)
	for i := range cs {
		cs[i].n, cs[i].id = e.node(fmt.Sprintf("consumer%d", i), false, Config{})
		e.connect(cs[i].n, cs[i].id, pid)
	}
	mysttest.WaitFor(t, 20*time.Second, func() bool { return received(t, p, cs[1].id, pid).Sign() > 0 })
	sessions := map[string]string{}
	for _, c := range cs {
		sessions[c.id] = c.n.Connection().SessionID
	}
	e.stopBroker()
	time.Sleep(time.Second)
	e.startBroker()
	before := map[string]*big.Int{}
	for _, c := range cs {
		before[c.id] = received(t, p, c.id, pid)
	}
	// Invoices resume on the same sessions.
	for _, c := range cs {
		mysttest.WaitFor(t, 20*time.Second, func() bool { return received(t, p, c.id, pid).Cmp(before[c.id]) > 0 })
		if v := c.n.Connection(); v.State != api.Connected || v.SessionID != sessions[c.id] {
			t.Fatalf("after the broker restart: %+v, want session %s connected", v, sessions[c.id])
		}
	}
	for _, c := range cs {
		nothingLost(t, p, c.n, pid, c.id)
	}
}

func TestFaultDiscoveryDown(t *testing.T) {
	t.Parallel()
	e := newFaultNet(t)
	const every = 2 * time.Second
	p, pid := e.node("provider", true, Config{AnnounceEvery: every})
	e.pricedService(p, pid)
	c, cid := e.node("consumer", false, Config{})
	e.connect(c, cid, pid)
	mysttest.WaitFor(t, 20*time.Second, func() bool { return received(t, p, cid, pid).Sign() > 0 })
	e.stopDiscovery()
	before := received(t, p, cid, pid)
	// The running session is unaffected.
	mysttest.WaitFor(t, 10*time.Second, func() bool { return received(t, p, cid, pid).Cmp(before) > 0 })
	time.Sleep(every) // an announce fails meanwhile
	e.startDiscovery()
	back := time.Now()
	dc := discovery.NewClient(e.disc.URL())
	mysttest.WaitFor(t, every+5*time.Second, func() bool {
		found, _, _, err := dc.Search(e.ctx, discovery.Filter{ProviderID: strings.ToLower(pid)})
		return err == nil && len(found) == 1
	})
	t.Logf("proposal back in discovery %v after it returned (announce period %v)", time.Since(back).Round(10*time.Millisecond), every)
	if v := c.Connection(); v.State != api.Connected {
		t.Fatalf("consumer after discovery came back: %+v", v)
	}
	nothingLost(t, p, c, pid, cid)
}

// TestFaultChainDown cuts the provider off the chain RPC for a while
// during a priced session: the session and its invoices go on, settlement
// fails and is retried, a new consumer is refused with the reason, and
// once the chain is back everything promised is settled.
func TestFaultChainDown(t *testing.T) {
	t.Parallel()
	e := newFaultNet(t)
	outage := 20 * time.Second
	if s := os.Getenv("MYST_CHAIN_OUTAGE"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatal(err)
		}
		outage = d
	}
	threshold, _ := proposal.ParseAmount("0.005")
	// The provider settles every 0.005 MYSTT, so it asks for no lane
	// before the outage; its credit limit (what it serves unsettled and
	// without a lane) covers the outage at 0.01 MYSTT/s. With the default
	// 0.05 it would end the session after 5 s without the chain: it can't
	// know the free deposit is still there.
	credit, _ := proposal.ParseAmount("1")
	p, pid := e.node("provider", true, Config{Payments: PaymentsConfig{SettleThreshold: threshold, SettleRetryMax: 2 * time.Second, CreditLimit: credit}})
	e.pricedService(p, pid)
	c, cid := e.node("consumer", false, Config{})
	late, lid := e.node("late", false, Config{})
	e.connect(c, cid, pid)
	mysttest.WaitFor(t, 20*time.Second, func() bool { return received(t, p, cid, pid).Sign() > 0 })

	// The provider knows the late consumer's registration (its cache
	// follows the chain's events), not its deposit.
	mysttest.WaitFor(t, 10*time.Second, func() bool { _, ok := p.cache.Known(common.HexToAddress(lid)); return ok })
	e.rpc.SetDown(true)
	down := time.Now()
	before := received(t, p, cid, pid)
	// The session goes on and is paid meanwhile.
	mysttest.WaitFor(t, 10*time.Second, func() bool { return received(t, p, cid, pid).Cmp(before) > 0 })
	// A new consumer is refused: its deposit cannot be checked.
	_, err := late.Connect(e.ctx, api.ConnectionRequest{ConsumerID: lid, ProviderID: pid, ServiceType: "noop"})
	if err == nil || !strings.Contains(err.Error(), "deposit") || !strings.Contains(err.Error(), "chain") {
		t.Fatalf("new session while the provider's chain RPC is down: %v", err)
	}
	t.Logf("refused meanwhile: %v", err)
	mysttest.WaitFor(t, outage, func() bool { return metricValue(t, p, "myst_settlements_total", "failed") >= 2 })
	time.Sleep(time.Until(down.Add(outage)))
	if v := c.Connection(); v.State != api.Connected {
		t.Fatalf("consumer after %v of chain outage: %+v", outage, v)
	}
	e.rpc.SetDown(false)
	t.Logf("chain back after %v; settlements failed meanwhile: %v", time.Since(down).Round(time.Second), metricValue(t, p, "myst_settlements_total", "failed"))
	nothingLost(t, p, c, pid, cid)
	// Everything stored is settled on the chain.
	mysttest.WaitFor(t, 30*time.Second, func() bool {
		settled, err := e.pay.Settled(e.ctx, common.HexToAddress(cid), common.HexToAddress(pid))
		return err == nil && settled.Cmp(received(t, p, cid, pid)) == 0
	})
	// And new sessions are taken again.
	e.connect(late, lid, pid)
}

func metricValue(t *testing.T, n *Node, name, label string) float64 {
	t.Helper()
	mfs, err := n.prom.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetValue() == label {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// TestFaultConsumerClock: a consumer whose clock is 3 minutes off is
// refused, and told to check its clock.
func TestFaultConsumerClock(t *testing.T) {
	t.Parallel()
	e := newFaultNet(t)
	p, pid := e.node("provider", true, Config{})
	e.pricedService(p, pid)
	c, cid := e.node("consumer", false, Config{Now: func() time.Time { return time.Now().Add(3 * time.Minute) }})
	_, err := c.Connect(e.ctx, api.ConnectionRequest{ConsumerID: cid, ProviderID: pid, ServiceType: "noop"})
	if err == nil || !strings.Contains(err.Error(), "clock") {
		t.Fatalf("consumer 3 minutes ahead: %v", err)
	}
	t.Logf("refused: %v", err)
	if got := received(t, p, cid, pid); got.Sign() != 0 {
		t.Fatalf("provider stored %s from a refused consumer", got)
	}
}

// TestFaultStoreReadOnly puts the provider's data on an ext4 file system
// that goes read-only mid-session (an ext4 error with errors=remount-ro,
// as a failing disk does): the promise that could not be stored is not
// acknowledged, the session ends saying why, and new priced sessions are
// refused with the reason.
func TestFaultStoreReadOnly(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Fatal("needs root to mount a file system (run the tests as root, as .ci/run does)")
	}
	dir := t.TempDir()
	img, mnt := filepath.Join(dir, "disk.img"), filepath.Join(dir, "mnt")
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("truncate", "-s", "64M", img)
	run("mkfs.ext4", "-q", img)
	os.Mkdir(mnt, 0o700)
	run("mount", "-o", "loop,errors=remount-ro", img, mnt)
	t.Cleanup(func() {
		// Unmounting frees the loop device (autoclear).
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v\n%s", mnt, err, out)
		}
	})
	src, err := exec.Command("findmnt", "-no", "SOURCE", mnt).Output()
	if err != nil {
		t.Fatal(err)
	}
	dev := filepath.Base(strings.TrimSpace(string(src)))

	e := newFaultNet(t)
	p, pid := e.node("provider", true, Config{DataDir: filepath.Join(mnt, "provider")})
	e.pricedService(p, pid)
	c, cid := e.node("consumer", false, Config{})
	late, lid := e.node("late", false, Config{})
	e.connect(c, cid, pid)
	payer := payerOf(c)
	mysttest.WaitFor(t, 20*time.Second, func() bool { return payer.Acked().Sign() > 0 })

	if err := os.WriteFile("/sys/fs/ext4/"+dev+"/trigger_fs_error", []byte("myst test: disk fails\n"), 0); err != nil {
		t.Fatal(err)
	}
	mysttest.WaitFor(t, 10*time.Second, func() bool { return c.Connection().State != api.Connected })
	v := c.Connection()
	t.Logf("consumer after the disk went read-only: %s: %s", v.State, v.LastError)
	if !strings.Contains(v.LastError, "could not store") {
		t.Fatalf("session end reason %q does not say the provider could not store the promise", v.LastError)
	}
	stored, ack, signed := received(t, p, cid, pid), payer.Acked(), issued(t, c, cid, pid)
	t.Logf("provider stored %s; consumer signed %s, of which acknowledged %s", stored, signed, ack)
	if ack.Cmp(stored) > 0 {
		t.Fatalf("acknowledged %s, more than the %s stored", ack, stored)
	}
	_, err = late.Connect(e.ctx, api.ConnectionRequest{ConsumerID: lid, ProviderID: pid, ServiceType: "noop"})
	if err == nil || !strings.Contains(err.Error(), "cannot store promises") {
		t.Fatalf("new priced session on a read-only disk: %v", err)
	}
	t.Logf("refused meanwhile: %v", err)
	// The provider still stops within the bound.
	start := time.Now()
	p.Close()
	<-p.Done()
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("Close took %v", d)
	}
}

// TestStopUnderFaults: a provider with priced sessions, pending
// settlements and every outside part gone (chain RPC, broker, discovery)
// stops within 10 s; what it did not settle is in its store.
func TestStopUnderFaults(t *testing.T) {
	t.Parallel()
	e := newFaultNet(t)
	threshold, _ := proposal.ParseAmount("0.001")
	p, pid := e.node("provider", true, Config{Payments: PaymentsConfig{SettleThreshold: threshold}})
	// Deposits first: the provider's settlements use the same gas payer.
	cs, ids := make([]*Node, 3), make([]string, 3)
	for i := range cs {
		cs[i], ids[i] = e.node(fmt.Sprintf("consumer%d", i), false, Config{})
	}
	e.pricedService(p, pid)
	for i := range cs {
		e.connect(cs[i], ids[i], pid)
	}
	mysttest.WaitFor(t, 20*time.Second, func() bool { return len(p.Sessions()) == 3 && metricValue(t, p, "myst_settlements_total", "ok") > 0 })
	e.rpc.SetDown(true)
	e.stopDiscovery()
	e.stopBroker()
	time.Sleep(time.Second)
	start := time.Now()
	p.Close()
	<-p.Done()
	d := time.Since(start)
	t.Logf("provider stopped in %v with the chain, broker and discovery gone", d.Round(time.Millisecond))
	if d > 10*time.Second {
		t.Fatalf("Close took %v, want under 10 s", d)
	}
}
