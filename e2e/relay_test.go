package e2e

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mystnode/myst/api"
	"github.com/mystnode/myst/netlab"
)

// TestRelayMatrix connects every consumer to every wireguard provider in
// a lab internet where each sits on a public address, behind a cone
// router or behind a symmetric one (nftables masquerade, fully-random):
// nine pairs. Pairs that can reach each other go direct (punching through
// a cone router); the rest through the network's relay (the one myst-net
// localnet runs on its STUN port), with credentials the broker's
// admission service issued the provider. The providers behind NAT offer
// openvpn too, which only the relay reaches there (it cannot punch): six
// more pairs. Every cell connects with the kill switch on, the web host
// sees the provider's public address, and the test logs each cell's path
// and connect time.
func TestRelayMatrix(t *testing.T) {
	kinds := []string{netlab.SitePublic, netlab.SiteCone, netlab.SiteSymmetric}
	lab := newSites(t, "mr", append(kinds, kinds...)...)
	dir := t.TempDir()
	ln := startLocalnetIn(t, lab.Internet, netlab.InternetIP)
	web := startSitesWeb(t, lab)
	pass := writeFile(t, dir, "pass", "pw\n")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	type node struct {
		site *netlab.Site
		id   string
		d    *daemon
	}
	start := func(name string, s *netlab.Site, extra ...string) node {
		d := filepath.Join(dir, name)
		id := newIdentityIn(t, s.Host, ln, d, pass, true)
		dm := startDaemonIn(t, s.Host, ln, d, extra...)
		mustMystIn(t, s.Host, append(dm.args, "identity", "unlock", id, "--passphrase-file", pass)...)
		return node{site: s, id: id, d: dm}
	}
	var providers, consumers []node
	for i, s := range lab.Sites[:3] {
		p := start(fmt.Sprintf("provider-%s", kinds[i]), s, "--wireguard-port", "0", "--wireguard-subnet", "198.19.0.0/16", "--country", "DE")
		mustMystIn(t, s.Host, append(p.d.args, "service", "start", "wireguard", "--identity", p.id)...)
		ss, err := p.d.client.Services(ctx)
		want := map[string]string{netlab.SitePublic: "public", netlab.SiteCone: "cone", netlab.SiteSymmetric: "relayed"}[kinds[i]]
		if err != nil || len(ss) != 1 || ss[0].Reachability != want || (kinds[i] != netlab.SitePublic) != (ss[0].Relay != "") {
			t.Fatalf("%s provider's service: %+v %v; want reachability %s, a relayed address behind NAT\nlog:\n%s", kinds[i], ss, err, want, p.d.stderr.String())
		}
		t.Logf("%s provider: reachability %s, endpoint %s, relay %q", kinds[i], ss[0].Reachability, ss[0].Endpoint, ss[0].Relay)
		if kinds[i] != netlab.SitePublic {
			mustMystIn(t, s.Host, append(p.d.args, "service", "start", "openvpn", "--identity", p.id)...)
			ss, err := p.d.client.Services(ctx)
			if err != nil || len(ss) != 2 || ss[1].Type != "openvpn" || ss[1].Reachability != "relayed" || ss[1].Relay == "" {
				t.Fatalf("%s provider's openvpn service: %+v %v; want reachability relayed\nlog:\n%s", kinds[i], ss, err, p.d.stderr.String())
			}
		}
		providers = append(providers, p)
	}
	for i, s := range lab.Sites[3:] {
		consumers = append(consumers, start(fmt.Sprintf("consumer-%s", kinds[i]), s))
	}

	on := true
	var summary []string
	type cell struct {
		c, p    node
		service string
	}
	var cells []cell
	for _, svc := range []string{"wireguard", "openvpn"} {
		for _, c := range consumers {
			for _, p := range providers {
				if svc == "wireguard" || p.site.Kind != netlab.SitePublic {
					cells = append(cells, cell{c, p, svc})
				}
			}
		}
	}
	for _, x := range cells {
		c, p := x.c, x.p
		{
			cell := fmt.Sprintf("%s: consumer %s, provider %s", x.service, c.site.Kind, p.site.Kind)
			// A pair that could punch starts through the relay and moves
			// to the direct path once its probes are answered.
			wantPath, upgrade := "direct", false
			switch {
			case x.service == "openvpn" || p.site.Kind == netlab.SiteSymmetric || (p.site.Kind == netlab.SiteCone && c.site.Kind == netlab.SiteSymmetric):
				wantPath = "relayed"
			case p.site.Kind == netlab.SiteCone:
				upgrade = true
			}
			began := time.Now()
			conn, err := c.d.client.Connect(ctx, api.ConnectionRequest{ConsumerID: c.id, ProviderID: p.id, ServiceType: x.service, KillSwitch: &on, DNS: "system"})
			took := time.Since(began)
			if err != nil {
				t.Fatalf("%s: connect: %v\nprovider log:\n%s\nconsumer log:\n%s", cell, err, p.d.stderr.String(), c.d.stderr.String())
			}
			moved := ""
			if upgrade {
				if conn.Path != "relayed" && conn.Path != "direct" {
					t.Errorf("%s: path %q at connect, want relayed (then direct)", cell, conn.Path)
				}
				for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
					now, err := c.d.client.Connection(ctx)
					if err == nil && now.Path == "direct" {
						moved = fmt.Sprintf(", direct %s after connect", (time.Since(began) - took).Round(time.Millisecond))
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("%s: still %+v 10 s after a relayed start\nprovider log:\n%s\nconsumer log:\n%s", cell, now, p.d.stderr.String(), c.d.stderr.String())
					}
				}
			} else if conn.Path != wantPath {
				t.Errorf("%s: path %q, want %q", cell, conn.Path, wantPath)
			}
			if got := sitesGet(t, c.site.Host, web); got != p.site.PublicIP {
				t.Errorf("%s: the web host saw %s, want the provider's public address %s", cell, got, p.site.PublicIP)
			}
			if out := mustMystIn(t, c.site.Host, append(c.d.args, "status")...).stdout; !strings.Contains(out, "path: "+wantPath) {
				t.Errorf("%s: myst status does not say the path:\n%s", cell, out)
			}
			if _, err := c.d.client.Disconnect(ctx); err != nil {
				t.Fatalf("%s: disconnect: %v", cell, err)
			}
			line := fmt.Sprintf("%-46s path %-8s connect %s%s", cell, conn.Path, took.Round(time.Millisecond), moved)
			summary = append(summary, line)
			t.Log(line)
		}
	}
	t.Logf("relay matrix:\n%s", strings.Join(summary, "\n"))
}

// startSitesWeb runs the web host of a Sites lab: it answers with the
// address it sees, and /zero with 8 MiB of zeros (?mib=N: N MiB, at most
// 1024).
func startSitesWeb(t testing.TB, lab *netlab.Sites) string {
	t.Helper()
	l, err := netlab.Listen(lab.Internet, netlab.HomeWebIP+":0")
	if err != nil {
		t.Fatal(err)
	}
	zeros := make([]byte, 8<<20)
	srv := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/zero" {
			mib, _ := strconv.Atoi(r.URL.Query().Get("mib"))
			if mib <= 0 || mib > 1024 {
				mib = 8
			}
			for range mib / 8 {
				rw.Write(zeros)
			}
			rw.Write(zeros[:(mib%8)<<20])
			return
		}
		whoAmI(rw, r)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return "http://" + l.Addr().String()
}

// whoAmI answers with the address it sees the request come from.
func whoAmI(rw http.ResponseWriter, r *http.Request) {
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	fmt.Fprintf(rw, "%s\n", host)
}

// newSites builds a Sites lab of kinds for the test (failing in CI, and
// skipping elsewhere, where namespaces cannot be made), deleted after.
func newSites(t testing.TB, prefix string, kinds ...string) *netlab.Sites {
	t.Helper()
	if err := netlab.Available(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("must run in CI: %v", err)
		}
		t.Skip(err)
	}
	lab, err := netlab.NewSites(prefix, kinds...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := lab.Close(); err != nil {
			t.Errorf("delete namespaces: %v", err)
		}
	})
	return lab
}

// sitesGet asks the web host, from namespace ns, who it sees.
func sitesGet(t testing.TB, ns, url string) string {
	t.Helper()
	resp, err := httpFrom(ns, 10*time.Second).Get(url)
	if err != nil {
		t.Fatalf("fetch from %s: %v", ns, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(b))
}

var relayReadyRE = regexp.MustCompile(`^relay ready: (turn:\S+)`)

// TestRelayRestart: a priced wireguard session between two symmetric
// sites runs through a relay run apart (myst-net relay, the network's
// only one); the relay is stopped mid-session and started again on its
// port. The provider notices, allocates again, tells the consumer its new
// relayed address over the dialog, and the same session carries traffic
// again: one session on the provider, nothing billed twice. A firewall
// counter on the consumer's router shows nothing left the consumer for
// anywhere but the network's host (broker, chain, discovery, relay) the
// whole time, the outage included.
func TestRelayRestart(t *testing.T) {
	lab := newSites(t, "mx", netlab.SiteSymmetric, netlab.SiteSymmetric)
	ps, cs := lab.Sites[0], lab.Sites[1]
	dir := t.TempDir()
	secret := writeFile(t, dir, "relay.secret", "7f3a9c1e5b2d4f6a8c0e1a3b5d7f9e2c\n")
	relayArgs := func(addr string) []string {
		return []string{"relay", "--addr", addr, "--secret-file", secret}
	}
	rp, url := startProcessOf(t, mystNetBin, lab.Internet, relayReadyRE, 20*time.Second, relayArgs(netlab.InternetIP+":0")...)
	ln := startLocalnetIn(t, lab.Internet, netlab.InternetIP, "--relay-url", url, "--relay-secret-file", secret)
	web := startSitesWeb(t, lab)

	// Every packet the consumer's router forwards from its home to
	// anywhere but the network's host is counted.
	leakRules := "table inet myst_leak {\n\tchain leaks { type filter hook forward priority -10; policy accept; ip saddr 10.0.11.0/24 ip daddr != " + netlab.InternetIP + " counter; }\n}\n"
	if err := netlab.Nft(cs.Router, leakRules); err != nil {
		t.Fatalf("leak counter: %v", err)
	}

	pass := writeFile(t, dir, "pass", "pw\n")
	provider := newIdentityIn(t, ps.Host, ln, filepath.Join(dir, "provider"), pass, true)
	consumer := newIdentityIn(t, cs.Host, ln, filepath.Join(dir, "consumer"), pass, true)
	pd := startDaemonIn(t, ps.Host, ln, filepath.Join(dir, "provider"), "--wireguard-port", "0", "--wireguard-subnet", "198.19.0.0/16", "--country", "DE")
	cd := startDaemonIn(t, cs.Host, ln, filepath.Join(dir, "consumer"))
	mustMystIn(t, ps.Host, append(pd.args, "identity", "unlock", provider, "--passphrase-file", pass)...)
	mustMystIn(t, cs.Host, append(cd.args, "identity", "unlock", consumer, "--passphrase-file", pass)...)
	mustMystIn(t, cs.Host, "--data-dir", filepath.Join(dir, "consumer"), "--network", ln.network, "--lightkdf", "payments", "fund", consumer, "100")
	mustMystIn(t, cs.Host, append(cd.args, "payments", "deposit", "10", "--identity", consumer)...)
	mustMystIn(t, ps.Host, append(pd.args, "service", "start", "wireguard", "--identity", provider, "--price-hour", "36")...)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	on := true
	conn, err := cd.client.Connect(ctx, api.ConnectionRequest{ConsumerID: consumer, ProviderID: provider, ServiceType: "wireguard", KillSwitch: &on, DNS: "system"})
	if err != nil {
		t.Fatalf("connect: %v\nprovider log:\n%s\nconsumer log:\n%s", err, pd.stderr.String(), cd.stderr.String())
	}
	if conn.Path != "relayed" {
		t.Fatalf("path %q, want relayed", conn.Path)
	}
	if got := sitesGet(t, cs.Host, web); got != ps.PublicIP {
		t.Fatalf("the web host saw %s, want %s", got, ps.PublicIP)
	}

	// The relay goes away for 3 s and comes back on its port.
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(url, "turn:"))
	rp.stop(t)
	down := time.Now()
	if _, err := httpFrom(cs.Host, 2*time.Second).Get(web); err == nil {
		t.Fatal("the web host answered with the relay down: not through the tunnel?")
	}
	time.Sleep(time.Until(down.Add(3 * time.Second)))
	startProcessOf(t, mystNetBin, lab.Internet, relayReadyRE, 20*time.Second, relayArgs(net.JoinHostPort(netlab.InternetIP, port))...)
	var back time.Duration
	for deadline := time.Now().Add(40 * time.Second); ; {
		resp, err := httpFrom(cs.Host, 2*time.Second).Get(web)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if got := strings.TrimSpace(string(b)); got != ps.PublicIP {
				t.Fatalf("after the restart the web host saw %s, want %s", got, ps.PublicIP)
			}
			back = time.Since(down)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no traffic 40 s after the relay came back\nprovider log:\n%s\nconsumer log:\n%s", pd.stderr.String(), cd.stderr.String())
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("traffic again %s after the relay went down (3 s down)", back.Round(time.Millisecond))
	now, err := cd.client.Connection(ctx)
	if err != nil || now.State != api.Connected || now.SessionID != conn.SessionID || now.Path != "relayed" {
		t.Fatalf("after the restart: %+v %v; want the same session %s, relayed", now, err, conn.SessionID)
	}
	if log := pd.stderr.String(); !strings.Contains(log, "relay allocation lost") || !strings.Contains(log, "told the consumer its session's path moved") {
		t.Fatalf("provider log does not tell the move:\n%s", log)
	}
	sl, err := pd.client.Sessions(ctx)
	if err != nil || len(sl) != 1 || sl[0].ID != conn.SessionID {
		t.Fatalf("provider's sessions %+v %v: want the one session %s (nothing billed twice)", sl, err, conn.SessionID)
	}
	if _, err := cd.client.Disconnect(ctx); err != nil {
		t.Fatal(err)
	}
	out, err := lab.Output(cs.Router, "nft", "list", "table", "inet", "myst_leak")
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`counter packets (\d+)`).FindStringSubmatch(out); m == nil || m[1] != "0" {
		t.Fatalf("packets from the consumer to elsewhere than the network's host:\n%s", out)
	}
	t.Logf("leaks: 0 packets outside the tunnel across the relay's restart")
}

// TestCoturnRelay: the network's relay is Debian's coturn (as
// docs/relay.md tells operators to run it, with the shared secret the
// broker's admission service issues credentials with): a wireguard
// provider and an openvpn one behind a symmetric router are reached
// through it by a consumer behind another.
func TestCoturnRelay(t *testing.T) {
	lab := newSites(t, "mt", netlab.SiteSymmetric, netlab.SiteSymmetric)
	ps, cs := lab.Sites[0], lab.Sites[1]
	dir := t.TempDir()
	const secret = "9e4c2a7b1d6f3e8a0c5b2d9f4e7a1c3b"
	secretFile := writeFile(t, dir, "relay.secret", secret+"\n")
	relayAddr := netip.MustParseAddrPort(netlab.InternetIP + ":3478")
	log := &syncBuffer{}
	turn, err := netlab.Coturn(lab.Internet, dir, relayAddr, secret, false, log)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	t.Cleanup(func() { turn.Stop(5 * time.Second) })
	ln := startLocalnetIn(t, lab.Internet, netlab.InternetIP, "--relay-url", "turn:"+relayAddr.String(), "--relay-secret-file", secretFile)
	web := startSitesWeb(t, lab)

	pass := writeFile(t, dir, "pass", "pw\n")
	provider := newIdentityIn(t, ps.Host, ln, filepath.Join(dir, "provider"), pass, true)
	consumer := newIdentityIn(t, cs.Host, ln, filepath.Join(dir, "consumer"), pass, true)
	pd := startDaemonIn(t, ps.Host, ln, filepath.Join(dir, "provider"), "--wireguard-port", "0", "--wireguard-subnet", "198.19.0.0/16", "--country", "DE")
	cd := startDaemonIn(t, cs.Host, ln, filepath.Join(dir, "consumer"))
	mustMystIn(t, ps.Host, append(pd.args, "identity", "unlock", provider, "--passphrase-file", pass)...)
	mustMystIn(t, cs.Host, append(cd.args, "identity", "unlock", consumer, "--passphrase-file", pass)...)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	on := true
	for _, svc := range []string{"wireguard", "openvpn"} {
		mustMystIn(t, ps.Host, append(pd.args, "service", "start", svc, "--identity", provider)...)
		conn, err := cd.client.Connect(ctx, api.ConnectionRequest{ConsumerID: consumer, ProviderID: provider, ServiceType: svc, KillSwitch: &on, DNS: "system"})
		if err != nil {
			t.Fatalf("%s through coturn: %v\nprovider log:\n%s\nconsumer log:\n%s\ncoturn log:\n%s", svc, err, pd.stderr.String(), cd.stderr.String(), log.String())
		}
		if conn.Path != "relayed" {
			t.Fatalf("%s: path %q, want relayed", svc, conn.Path)
		}
		if got := sitesGet(t, cs.Host, web); got != ps.PublicIP {
			t.Fatalf("%s: the web host saw %s, want %s", svc, got, ps.PublicIP)
		}
		if _, err := cd.client.Disconnect(ctx); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s through coturn: connected, the web host saw the provider's router", svc)
	}
}

// TestDirectUpgrade: a wireguard pair behind two cone routers (which could
// punch) connects through the relay at once and moves to the direct path
// when the probes on the device's socket are answered: the same session,
// no reconnect, and then 8 MiB downloaded through the tunnel come over
// the direct path, not the relay (firewall counters on the consumer's
// router). The direct path then blocked on that router, both sides go
// back to the relay and the tunnel carries traffic again; unblocked, they
// move back. The kill switch is on throughout.
func TestDirectUpgrade(t *testing.T) {
	lab := newSites(t, "mu", netlab.SiteCone, netlab.SiteCone)
	ps, cs := lab.Sites[0], lab.Sites[1]
	dir := t.TempDir()
	ln := startLocalnetIn(t, lab.Internet, netlab.InternetIP)
	web := startSitesWeb(t, lab)
	// Bytes from the relay and from the provider's router to the
	// consumer's home, counted on its router.
	rules := fmt.Sprintf(`table inet myst_paths {
	counter relay { }
	counter direct { }
	chain count { type filter hook forward priority -10; policy accept;
		ip saddr %s ip daddr 10.0.11.0/24 counter name relay
		ip saddr %s ip daddr 10.0.11.0/24 counter name direct
	}
}
`, netlab.InternetIP, ps.PublicIP)
	if err := netlab.Nft(cs.Router, rules); err != nil {
		t.Fatalf("counters: %v", err)
	}
	counted := func(name string) int64 {
		out, err := lab.Output(cs.Router, "nft", "list", "counter", "inet", "myst_paths", name)
		if err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`bytes (\d+)`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("counter %s: %s", name, out)
		}
		n, _ := strconv.ParseInt(m[1], 10, 64)
		return n
	}

	pass := writeFile(t, dir, "pass", "pw\n")
	provider := newIdentityIn(t, ps.Host, ln, filepath.Join(dir, "provider"), pass, true)
	consumer := newIdentityIn(t, cs.Host, ln, filepath.Join(dir, "consumer"), pass, true)
	pd := startDaemonIn(t, ps.Host, ln, filepath.Join(dir, "provider"), "--wireguard-port", "0", "--wireguard-subnet", "198.19.0.0/16", "--country", "DE")
	cd := startDaemonIn(t, cs.Host, ln, filepath.Join(dir, "consumer"))
	mustMystIn(t, ps.Host, append(pd.args, "identity", "unlock", provider, "--passphrase-file", pass)...)
	mustMystIn(t, cs.Host, append(cd.args, "identity", "unlock", consumer, "--passphrase-file", pass)...)
	mustMystIn(t, ps.Host, append(pd.args, "service", "start", "wireguard", "--identity", provider)...)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	on := true
	began := time.Now()
	conn, err := cd.client.Connect(ctx, api.ConnectionRequest{ConsumerID: consumer, ProviderID: provider, ServiceType: "wireguard", KillSwitch: &on, DNS: "system"})
	if err != nil {
		t.Fatalf("connect: %v\nprovider log:\n%s\nconsumer log:\n%s", err, pd.stderr.String(), cd.stderr.String())
	}
	connected := time.Since(began)
	waitPath := func(want string, within time.Duration) time.Duration {
		t.Helper()
		from := time.Now()
		for deadline := from.Add(within); ; time.Sleep(20 * time.Millisecond) {
			now, err := cd.client.Connection(ctx)
			if err == nil && now.Path == want {
				if now.SessionID != conn.SessionID || now.State != api.Connected {
					t.Fatalf("path %s on %+v: want the session %s still connected", want, now, conn.SessionID)
				}
				return time.Since(from)
			}
			if time.Now().After(deadline) {
				t.Fatalf("path still %q %s later, want %s\nprovider log:\n%s\nconsumer log:\n%s", now.Path, within, want, pd.stderr.String(), cd.stderr.String())
			}
		}
	}
	moved := waitPath("direct", 10*time.Second)
	t.Logf("connected through the relay in %s, on the direct path %s later", connected.Round(time.Millisecond), moved.Round(time.Millisecond))

	download := func() {
		t.Helper()
		resp, err := httpFrom(cs.Host, 30*time.Second).Get(web + "/zero")
		if err != nil {
			t.Fatalf("download: %v", err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if n != 8<<20 {
			t.Fatalf("downloaded %d bytes", n)
		}
	}
	r0, d0 := counted("relay"), counted("direct")
	download()
	r1, d1 := counted("relay"), counted("direct")
	t.Logf("8 MiB downloaded: %d bytes came directly, %d through the relay", d1-d0, r1-r0)
	if d1-d0 < 8<<20 || r1-r0 > 256<<10 {
		t.Fatalf("after the move %d bytes came directly and %d through the relay: want the download on the direct path", d1-d0, r1-r0)
	}

	// The direct path breaks: both sides go back to the relay.
	if _, err := lab.Output(cs.Router, "nft", "add", "rule", "inet", "myst_paths", "count", "ip", "saddr", ps.PublicIP, "drop"); err != nil {
		t.Fatal(err)
	}
	back := waitPath("relayed", 15*time.Second)
	r2 := counted("relay")
	download()
	t.Logf("direct path blocked: back on the relay %s later; 8 MiB came through it (%d bytes)", back.Round(time.Millisecond), counted("relay")-r2)
	if counted("relay")-r2 < 8<<20 {
		t.Fatal("the download did not come through the relay")
	}
	if _, err := lab.Output(cs.Router, "nft", "flush", "chain", "inet", "myst_paths", "count"); err != nil {
		t.Fatal(err)
	}
	again := waitPath("direct", 15*time.Second)
	t.Logf("unblocked: direct again %s later", again.Round(time.Millisecond))
	if got := sitesGet(t, cs.Host, web); got != ps.PublicIP {
		t.Fatalf("the web host saw %s, want %s", got, ps.PublicIP)
	}
	if _, err := cd.client.Disconnect(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestSplitTunnel: connect --exclude keeps a network outside the tunnel
// (wireguard and openvpn, kill switch on): a host in it sees the
// consumer's own public address, everything else the provider's; connect
// --only sends only the networks listed through it.
func TestSplitTunnel(t *testing.T) {
	lab := newSites(t, "ms", netlab.SitePublic, netlab.SiteCone)
	ps, cs := lab.Sites[0], lab.Sites[1]
	dir := t.TempDir()
	ln := startLocalnetIn(t, lab.Internet, netlab.InternetIP)
	web := startSitesWeb(t, lab)
	// A second web host, in the network the consumer keeps outside.
	const outsideIP = "198.18.31.1"
	if _, err := lab.Output(lab.Internet, "ip", "addr", "add", outsideIP+"/32", "dev", "lo"); err != nil {
		t.Fatal(err)
	}
	l, err := netlab.Listen(lab.Internet, outsideIP+":0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(whoAmI)}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	outside := "http://" + l.Addr().String()

	pass := writeFile(t, dir, "pass", "pw\n")
	provider := newIdentityIn(t, ps.Host, ln, filepath.Join(dir, "provider"), pass, true)
	consumer := newIdentityIn(t, cs.Host, ln, filepath.Join(dir, "consumer"), pass, true)
	pd := startDaemonIn(t, ps.Host, ln, filepath.Join(dir, "provider"), "--wireguard-port", "0", "--wireguard-subnet", "198.19.0.0/16", "--country", "DE")
	cd := startDaemonIn(t, cs.Host, ln, filepath.Join(dir, "consumer"))
	mustMystIn(t, ps.Host, append(pd.args, "identity", "unlock", provider, "--passphrase-file", pass)...)
	mustMystIn(t, cs.Host, append(cd.args, "identity", "unlock", consumer, "--passphrase-file", pass)...)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	on := true
	bad := api.ConnectionRequest{ConsumerID: consumer, ProviderID: provider, ServiceType: "wireguard", KillSwitch: &on, Exclude: []string{"0.0.0.0/0"}}
	if _, err := cd.client.Connect(ctx, bad); err == nil || !strings.Contains(err.Error(), "exclude") {
		t.Fatalf("--exclude 0.0.0.0/0: %v", err)
	}
	for _, svc := range []string{"wireguard", "openvpn"} {
		mustMystIn(t, ps.Host, append(pd.args, "service", "start", svc, "--identity", provider)...)
		// Through the CLI, as a user would.
		mustMystIn(t, cs.Host, append(cd.args, "connect", provider, "--identity", consumer, "--service", svc, "--dns", "system", "--exclude", "198.18.31.0/24")...)
		if got := sitesGet(t, cs.Host, web); got != ps.PublicIP {
			t.Fatalf("%s: the web host saw %s, want the provider's %s", svc, got, ps.PublicIP)
		}
		if got := sitesGet(t, cs.Host, outside); got != cs.PublicIP {
			t.Fatalf("%s: the excluded host saw %s, want the consumer's own %s", svc, got, cs.PublicIP)
		}
		t.Logf("%s: the excluded network saw %s (direct), the rest %s (tunnel)", svc, cs.PublicIP, ps.PublicIP)
		mustMystIn(t, cs.Host, append(cd.args, "disconnect")...)

		mustMystIn(t, cs.Host, append(cd.args, "connect", provider, "--identity", consumer, "--service", svc, "--dns", "system", "--only", netlab.HomeWebIP+"/32")...)
		if got := sitesGet(t, cs.Host, web); got != ps.PublicIP {
			t.Fatalf("%s --only: the listed web host saw %s, want the provider's %s", svc, got, ps.PublicIP)
		}
		if got := sitesGet(t, cs.Host, outside); got != cs.PublicIP {
			t.Fatalf("%s --only: the unlisted host saw %s, want the consumer's own %s", svc, got, cs.PublicIP)
		}
		t.Logf("%s --only %s: it saw %s (tunnel), the rest %s (direct)", svc, netlab.HomeWebIP, ps.PublicIP, cs.PublicIP)
		mustMystIn(t, cs.Host, append(cd.args, "disconnect")...)
	}
	// --only, the tunnel lost: the listed network stays blocked, the rest
	// passes (wireguard provider killed).
	mustMystIn(t, cs.Host, append(cd.args, "connect", provider, "--identity", consumer, "--service", "wireguard", "--dns", "system", "--only", netlab.HomeWebIP+"/32")...)
	pd.kill()
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		c, err := cd.client.Connection(ctx)
		if err == nil && c.State != api.Connected {
			t.Logf("--only, provider killed: the consumer is %s (%s)", c.State, c.LastError)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still %+v 90 s after the provider was killed", c)
		}
	}
	if _, err := httpFrom(cs.Host, 3*time.Second).Get(web); err == nil {
		t.Fatal("--only with the provider gone: the listed host answered outside the tunnel")
	}
	if got := sitesGet(t, cs.Host, outside); got != cs.PublicIP {
		t.Fatalf("--only with the provider gone: the unlisted host saw %s", got)
	}
	mustMystIn(t, cs.Host, append(cd.args, "disconnect")...)
}

// TestDeadTunnel: a provider that accepts a session and then forwards
// nothing (its host drops every forwarded packet; WireGuard keepalives go
// on) is noticed by the consumer within seconds of sending into the
// tunnel, and the connection leaves Connected saying why.
func TestDeadTunnel(t *testing.T) {
	lab := newSites(t, "md", netlab.SitePublic, netlab.SiteCone)
	ps, cs := lab.Sites[0], lab.Sites[1]
	dir := t.TempDir()
	ln := startLocalnetIn(t, lab.Internet, netlab.InternetIP)
	web := startSitesWeb(t, lab)
	pass := writeFile(t, dir, "pass", "pw\n")
	provider := newIdentityIn(t, ps.Host, ln, filepath.Join(dir, "provider"), pass, true)
	consumer := newIdentityIn(t, cs.Host, ln, filepath.Join(dir, "consumer"), pass, true)
	pd := startDaemonIn(t, ps.Host, ln, filepath.Join(dir, "provider"), "--wireguard-port", "0", "--wireguard-subnet", "198.19.0.0/16", "--country", "DE")
	cd := startDaemonIn(t, cs.Host, ln, filepath.Join(dir, "consumer"))
	mustMystIn(t, ps.Host, append(pd.args, "identity", "unlock", provider, "--passphrase-file", pass)...)
	mustMystIn(t, cs.Host, append(cd.args, "identity", "unlock", consumer, "--passphrase-file", pass)...)
	mustMystIn(t, ps.Host, append(pd.args, "service", "start", "wireguard", "--identity", provider)...)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	on := true
	if _, err := cd.client.Connect(ctx, api.ConnectionRequest{ConsumerID: consumer, ProviderID: provider, ServiceType: "wireguard", KillSwitch: &on, DNS: "system"}); err != nil {
		t.Fatal(err)
	}
	if got := sitesGet(t, cs.Host, web); got != ps.PublicIP {
		t.Fatalf("the web host saw %s", got)
	}
	if _, err := lab.Output(ps.Host, "iptables", "-I", "FORWARD", "-j", "DROP"); err != nil {
		t.Fatal(err)
	}
	// The consumer sends: 1 KB datagrams, 10 a second, into the tunnel.
	conn, err := netlab.DialContext(cs.Host)(ctx, "udp4", netlab.HomeWebIP+":9")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	began := time.Now()
	for {
		conn.Write(make([]byte, 1000))
		c, err := cd.client.Connection(ctx)
		if err == nil && c.State != api.Connected {
			t.Logf("left Connected %s after the provider stopped forwarding: %s (%s)", time.Since(began).Round(100*time.Millisecond), c.State, c.LastError)
			if !strings.Contains(c.LastError, "forwards nothing") || !strings.Contains(c.LastError, "bytes sent in 8s and nothing back") {
				t.Fatalf("the reason does not say the provider forwards nothing: %q", c.LastError)
			}
			break
		}
		if time.Since(began) > 20*time.Second {
			t.Fatalf("still %+v 20 s after the provider stopped forwarding", c)
		}
		time.Sleep(100 * time.Millisecond)
	}
	mustMystIn(t, cs.Host, append(cd.args, "disconnect")...)
}

// TestReconnectEquivalent: `myst connect --country DE` picks one of two
// equal providers; it is killed; the consumer, Reconnecting, tries it
// again, then an equivalent provider (same service type and country, no
// higher price), and is Connected there within a bound, saying why it
// moved; the web host then sees the new provider, and a firewall counter
// on the consumer's router shows nothing went to the web host outside
// the tunnel meanwhile. Connecting to the best in DE again (the dead
// provider's proposal still in discovery) ends on the live one.
func TestReconnectEquivalent(t *testing.T) {
	lab := newSites(t, "mq", netlab.SitePublic, netlab.SitePublic, netlab.SiteCone)
	a, b, cs := lab.Sites[0], lab.Sites[1], lab.Sites[2]
	dir := t.TempDir()
	ln := startLocalnetIn(t, lab.Internet, netlab.InternetIP)
	web := startSitesWeb(t, lab)
	leakRules := "table inet myst_leak {\n\tchain leaks { type filter hook forward priority -10; policy accept; ip saddr 10.0.12.0/24 ip daddr " + netlab.HomeWebIP + " counter; }\n}\n"
	if err := netlab.Nft(cs.Router, leakRules); err != nil {
		t.Fatalf("leak counter: %v", err)
	}
	pass := writeFile(t, dir, "pass", "pw\n")
	ids := map[*netlab.Site]string{}
	daemons := map[*netlab.Site]*daemon{}
	for i, s := range []*netlab.Site{a, b, cs} {
		d := filepath.Join(dir, fmt.Sprint(i))
		ids[s] = newIdentityIn(t, s.Host, ln, d, pass, true)
		daemons[s] = startDaemonIn(t, s.Host, ln, d, "--wireguard-port", "0", "--wireguard-subnet", "198.19.0.0/16", "--country", "DE")
		mustMystIn(t, s.Host, append(daemons[s].args, "identity", "unlock", ids[s], "--passphrase-file", pass)...)
		if s != cs {
			mustMystIn(t, s.Host, append(daemons[s].args, "service", "start", "wireguard", "--identity", ids[s])...)
		}
	}
	cd := daemons[cs]
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	mustMystIn(t, cs.Host, append(cd.args, "connect", "--country", "DE", "--identity", ids[cs], "--service", "wireguard", "--dns", "system")...)
	first, err := cd.client.Connection(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if strings.EqualFold(first.ProviderID, ids[b]) {
		a, b = b, a // the best was b: kill that one
	} else if !strings.EqualFold(first.ProviderID, ids[a]) {
		t.Fatalf("connect --country DE: on %q", first.ProviderID)
	}
	if got := sitesGet(t, cs.Host, web); got != a.PublicIP {
		t.Fatalf("the web host saw %s, want %s", got, a.PublicIP)
	}
	daemons[a].kill()
	killed := time.Now()
	for {
		// The user keeps trying meanwhile.
		if resp, err := httpFrom(cs.Host, time.Second).Get(web); err == nil {
			resp.Body.Close()
		}
		c, err := cd.client.Connection(ctx)
		if err == nil && c.State == api.Connected && c.ProviderID != "" && !strings.EqualFold(c.ProviderID, ids[a]) {
			t.Logf("on %s %s after the provider was killed: %s", c.ProviderID, time.Since(killed).Round(100*time.Millisecond), c.LastError)
			if !strings.EqualFold(c.ProviderID, ids[b]) || !strings.Contains(c.LastError, "equivalent provider") {
				t.Fatalf("connection %+v: want the equivalent provider %s and why", c, ids[b])
			}
			break
		}
		if time.Since(killed) > 60*time.Second {
			t.Fatalf("still %+v 60 s after the provider was killed\nconsumer log:\n%s", c, cd.stderr.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got := sitesGet(t, cs.Host, web); got != b.PublicIP {
		t.Fatalf("after the move the web host saw %s, want %s", got, b.PublicIP)
	}
	if out := mustMystIn(t, cs.Host, append(cd.args, "status")...).stdout; !strings.Contains(out, ids[b]) {
		t.Fatalf("myst status does not name the new provider:\n%s", out)
	}
	out, err := lab.Output(cs.Router, "nft", "list", "table", "inet", "myst_leak")
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`counter packets (\d+)`).FindStringSubmatch(out); m == nil || m[1] != "0" {
		t.Fatalf("packets to the web host outside the tunnel:\n%s", out)
	}
	mustMystIn(t, cs.Host, append(cd.args, "disconnect")...)

	began := time.Now()
	mustMystIn(t, cs.Host, append(cd.args, "connect", "--country", "DE", "--identity", ids[cs], "--service", "wireguard", "--dns", "system")...)
	again, err := cd.client.Connection(ctx)
	if err != nil || !strings.EqualFold(again.ProviderID, ids[b]) {
		t.Fatalf("the best in DE with one provider dead: %+v %v", again, err)
	}
	t.Logf("the best in DE with one dead: on the live one in %s (%s)", time.Since(began).Round(100*time.Millisecond), cmp.Or(again.LastError, "it came first"))
	mustMystIn(t, cs.Host, append(cd.args, "disconnect")...)
}
