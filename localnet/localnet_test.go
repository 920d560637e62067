package localnet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mystnode/myst/broker"
	"github.com/mystnode/myst/discovery"
	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/mysttest"
	"github.com/mystnode/myst/network"
	"github.com/mystnode/myst/payments"
	"github.com/mystnode/myst/registry"
	"github.com/mystnode/myst/relay"
	"github.com/mystnode/myst/stun"
	"github.com/mystnode/myst/txsend"
	"github.com/nats-io/nats.go"
	"github.com/pion/turn/v4"
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
		// Its STUN server answers on both listed ports.
		var servers []string
		for _, u := range f.STUNURLs {
			hp, err := stun.ParseURL(u)
			if err != nil {
				t.Fatal(err)
			}
			servers = append(servers, hp)
		}
		aps, err := stun.Resolve(ctx, servers)
		if err != nil || len(aps) != 2 || aps[0] == aps[1] {
			ln.Close()
			t.Fatalf("stun_urls %v: %v", f.STUNURLs, err)
		}
		if r, err := stun.Probe(ctx, 0, aps, 2*time.Second); err != nil || r.NAT != stun.Public {
			ln.Close()
			t.Fatalf("STUN probe of localnet: %+v %v", r, err)
		}
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
	if _, err := c.Register(ctx, id, txsend.New(c.Eth(), c.ChainID(), payer, txsend.Config{})); err != nil {
		t.Fatal(err)
	}
	pay, err := payments.NewClient(c.Eth(), f1.ChainID, *f1.TokenAddress, *f1.PaymentsAddress)
	if err != nil {
		t.Fatal(err)
	}
	amount := big.NewInt(5e18)
	if _, err := pay.Deposit(ctx, txsend.New(pay.Eth(), pay.ChainID(), payer, txsend.Config{}), id.Address(), amount); err != nil {
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

// TestBrokerAdmitsRegisteredOnly: localnet's broker refuses anonymous
// clients and unregistered identities, and admits an identity the moment
// its registration is on the chain (the registry check of the admission
// sees it at once), with its own subjects only.
func TestBrokerAdmitsRegisteredOnly(t *testing.T) {
	ctx := mysttest.Ctx(t, 2*time.Minute)
	ln, err := Start(ctx, Config{DataDir: t.TempDir(), RPCAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f := ln.File()
	if nc, err := nats.Connect(f.BrokerURLs[0], nats.MaxReconnects(0)); err == nil {
		nc.Close()
		t.Fatal("an anonymous client connected to localnet's broker")
	}
	id := mysttest.NewSigner(t)
	as := broker.Identities(func() []*identity.Signer { return []*identity.Signer{id} })
	if nc, err := nats.Connect(f.BrokerURLs[0], nats.MaxReconnects(0), as); err == nil {
		nc.Close()
		t.Fatal("an unregistered identity connected")
	} else if !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("unregistered: %v", err)
	}
	c, err := registry.Dial(ctx, f.EtherRPCURL, f.ChainID, f.RegistryAddress)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	payer, err := f.GasPayer()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Register(ctx, id, txsend.New(c.Eth(), c.ChainID(), payer, txsend.Config{})); err != nil {
		t.Fatal(err)
	}
	violations := make(chan error, 4)
	nc, err := nats.Connect(f.BrokerURLs[0], nats.MaxReconnects(0), as, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		select {
		case violations <- err:
		default:
		}
	}))
	if err != nil {
		t.Fatalf("registered identity: %v", err)
	}
	defer nc.Close()
	if _, err := nc.Subscribe(">", func(*nats.Msg) {}); err != nil {
		t.Fatal(err)
	}
	nc.Flush()
	select {
	case err := <-violations:
		if !strings.Contains(strings.ToLower(err.Error()), "permissions violation for subscription") {
			t.Fatalf("subscribing to >: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("subscribing to > was not refused")
	}
}

// TestDiscoverySlowBodies: 200 connections to localnet's discovery that
// send a body at 1 byte/s are all closed within 35 s (the standalone
// server's read timeout, 30 s), and the discovery answers others
// meanwhile.
func TestDiscoverySlowBodies(t *testing.T) {
	ctx := mysttest.Ctx(t, 2*time.Minute)
	ln, err := Start(ctx, Config{DataDir: t.TempDir(), RPCAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	u, err := url.Parse(ln.File().DiscoveryURL)
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	start := time.Now()
	closed := make(chan time.Duration, n)
	stop := make(chan struct{})
	defer close(stop)
	for range n {
		c, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST /v1/proposals HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{", u.Host)
		go func() { // a byte a second
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					if _, err := c.Write([]byte(" ")); err != nil {
						return
					}
				}
			}
		}()
		go func() {
			io.Copy(io.Discard, c) // until the server closes it
			closed <- time.Since(start)
		}()
	}
	// Meanwhile others are served.
	if _, _, _, err := discovery.NewClient(ln.File().DiscoveryURL).Search(ctx, discovery.Filter{}); err != nil {
		t.Fatalf("a search during the slow bodies: %v", err)
	}
	var last time.Duration
	for i := range n {
		select {
		case d := <-closed:
			last = max(last, d)
		case <-time.After(time.Until(start.Add(35 * time.Second))):
			t.Fatalf("after 35 s, %d of %d slow connections are still open", n-i, n)
		}
	}
	t.Logf("all %d slow-body connections closed after %s", n, last.Round(100*time.Millisecond))
}

// TestChainRPCHostCheck: localnet's chain RPC answers requests that name
// it by IP address or as localhost, and refuses other host names (DNS
// rebinding).
func TestChainRPCHostCheck(t *testing.T) {
	ctx := mysttest.Ctx(t, time.Minute)
	ln, err := Start(ctx, Config{DataDir: t.TempDir(), RPCAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	body := `{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}`
	for host, want := range map[string]int{"": http.StatusOK, "localhost": http.StatusOK, "rebind.example": http.StatusForbidden} {
		req, _ := http.NewRequestWithContext(ctx, "POST", ln.File().EtherRPCURL, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if host != "" {
			req.Host = host
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Host %q: %d, want %d", host, resp.StatusCode, want)
		}
	}
}

// TestLocalnetRelay: localnet runs a TURN relay on its STUN address,
// named in network.json's turn_urls; credentials made with its secret for
// an identity allocate a relayed address there.
func TestLocalnetRelay(t *testing.T) {
	ctx := mysttest.Ctx(t, 2*time.Minute)
	ln, err := Start(ctx, Config{DataDir: t.TempDir(), RPCAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	nf := ln.File()
	if len(nf.TURNURLs) != 1 || len(nf.STUNURLs) != 2 || "stun:"+strings.TrimPrefix(nf.TURNURLs[0], "turn:") != nf.STUNURLs[0] {
		t.Fatalf("turn_urls %v, stun_urls %v: want the relay on the first STUN address", nf.TURNURLs, nf.STUNURLs)
	}
	addr, err := stun.ParseTURNURL(nf.TURNURLs[0])
	if err != nil {
		t.Fatal(err)
	}
	user, pass, err := relay.Credentials(ln.RelaySecret(), mysttest.NewSigner(t).Address(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c, err := turn.NewClient(&turn.ClientConfig{STUNServerAddr: addr, TURNServerAddr: addr, Conn: conn, Username: user, Password: pass, Realm: relay.Realm})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	relayed, err := c.Allocate()
	if err != nil {
		t.Fatalf("allocate on localnet's relay: %v", err)
	}
	relayed.Close()
}
