package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mystnode/myst/mysttest"
	"github.com/mystnode/myst/netlab"
)

// lanHost serves HTTP on an address the consumer reaches directly (no
// tunnel), recording who connected.
type lanHost struct {
	url  string
	mu   sync.Mutex
	seen []string
}

func startLANHost(t testing.TB, ns, addr string) *lanHost {
	t.Helper()
	ln, err := netlab.Listen(ns, addr)
	if err != nil {
		t.Fatal(err)
	}
	h := &lanHost{url: "http://" + ln.Addr().String() + "/"}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		h.mu.Lock()
		h.seen = append(h.seen, host)
		h.mu.Unlock()
		fmt.Fprintf(w, "hello %s\n", host)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return h
}

func (h *lanHost) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.seen)
}

// startDNSServer runs the lab's resolver (netlab.Resolver) at addr in ns
// until the test ends.
func startDNSServer(t testing.TB, ns, addr string) *netlab.Resolver {
	t.Helper()
	r, err := netlab.StartResolver(ns, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// dnsmasq is Debian's dnsmasq serving as the consumer's "ISP" resolver:
// it answers web.test with the web host's address and logs every query.
type dnsmasq struct {
	log string
}

func startDnsmasq(t testing.TB, lab *netlab.Lab, ns, ip string) *dnsmasq {
	t.Helper()
	dir := t.TempDir()
	d := &dnsmasq{log: filepath.Join(dir, "queries.log")}
	cmd := lab.Command(ns, "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--user=root",
		"--bind-interfaces", "--listen-address="+ip, "--port=53", "--address=/web.test/"+netlab.WebIP,
		"--log-queries", "--log-facility="+d.log, "--pid-file="+filepath.Join(dir, "pid"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("dnsmasq (Debian's dnsmasq-base): %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-done })
	mysttest.WaitFor(t, 10*time.Second, func() bool {
		select {
		case <-done:
			t.Fatalf("dnsmasq exited: %s", stderr.String())
		default:
		}
		b, _ := os.ReadFile(d.log)
		return strings.Contains(string(b), "started")
	})
	return d
}

// askedBy is who asked, in order, from dnsmasq's query log.
func (d *dnsmasq) askedBy() []string {
	b, _ := os.ReadFile(d.log)
	var from []string
	for _, l := range strings.Split(string(b), "\n") {
		if i := strings.Index(l, " from "); i >= 0 && strings.Contains(l, "query[") {
			from = append(from, strings.TrimSpace(l[i+len(" from "):]))
		}
	}
	return from
}

// resolve looks web.test up from the consumer's namespace with the system
// resolver (getent: /etc/resolv.conf as the namespace sees it).
func resolve(lab *netlab.Lab) string {
	out, err := lab.Command(lab.Consumer, "getent", "ahostsv4", "web.test").Output()
	if err != nil {
		return ""
	}
	f := strings.Fields(string(out))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// reaches says whether the consumer gets an answer from url.
func reaches(lab *netlab.Lab, url string) bool {
	resp, err := httpFrom(lab.Consumer, 2*time.Second).Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return true
}

// TestKillSwitch: from connect until disconnect nothing leaves the
// consumer outside the tunnel, IPv4 or IPv6, also after the provider is
// killed (Reconnecting, then Blocked, until disconnect); disconnect
// restores routes and rules exactly; a consumer daemon killed while
// connected leaves the host blocked until its next start.
func TestKillSwitch(t *testing.T) {
	lab := requireLab(t)
	web := startWebHost(t, lab)
	dir := t.TempDir()
	// Hosts the consumer reaches directly: a second address of the
	// provider's link, and IPv6 on that link.
	pLink, cLink := lab.Prefix+"pc", lab.Prefix+"c"
	for _, s := range [][]string{
		{"-n", lab.Provider, "addr", "add", "198.18.1.3/24", "dev", pLink},
		{"-n", lab.Provider, "addr", "add", "2001:db8::1/64", "dev", pLink, "nodad"},
		{"-n", lab.Consumer, "addr", "add", "2001:db8::2/64", "dev", cLink, "nodad"},
	} {
		if _, err := lab.Output(lab.Consumer, "ip", s...); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := lab.Output(lab.Provider, "ip", "addr", "add", netlab.ConsumerResolverIP+"/24", "dev", pLink); err != nil {
		t.Fatal(err)
	}
	isp := startDnsmasq(t, lab, lab.Provider, netlab.ConsumerResolverIP)
	public := startDNSServer(t, lab.Web, netlab.WebIP+":53")
	resolvBefore, err := os.ReadFile(lab.ResolvConf(lab.Consumer))
	if err != nil {
		t.Fatal(err)
	}
	if got := resolve(lab); got != netlab.WebIP || len(isp.askedBy()) == 0 {
		t.Fatalf("before connect: web.test resolved to %q, the consumer's resolver was asked by %v", got, isp.askedBy())
	}
	lan := startLANHost(t, lab.Provider, "198.18.1.3:0")
	lan6 := startLANHost(t, lab.Provider, "[2001:db8::1]:0")
	mysttest.WaitFor(t, 10*time.Second, func() bool { return reaches(lab, lan.url) && reaches(lab, lan6.url) })

	ln := startLocalnetIn(t, lab.Provider, netlab.ProviderIP)
	pass := writeFile(t, dir, "pass", "pw\n")
	provider := newIdentityIn(t, lab.Provider, ln, filepath.Join(dir, "provider"), pass, true)
	consumer := newIdentityIn(t, lab.Consumer, ln, filepath.Join(dir, "consumer"), pass, true)
	pArgs := []string{"--public-ip", netlab.ProviderIP, "--wireguard-port", "0", "--wireguard-subnet", "198.19.0.0/17",
		"--openvpn-port", "0", "--openvpn-subnet", "198.19.128.0/17", "--country", "DE"}
	pd := startDaemonIn(t, lab.Provider, ln, filepath.Join(dir, "provider"), pArgs...)
	cd := startDaemonIn(t, lab.Consumer, ln, filepath.Join(dir, "consumer"))
	mustMystIn(t, lab.Provider, append(pd.args, "identity", "unlock", provider, "--passphrase-file", pass)...)
	mustMystIn(t, lab.Consumer, append(cd.args, "identity", "unlock", consumer, "--passphrase-file", pass)...)
	mustMystIn(t, lab.Provider, append(pd.args, "service", "start", "wireguard", "--identity", provider)...)

	settled(t, lab)
	routesBefore := snapshot(t, lab, lab.Consumer, "ip", "route", "show", "table", "all")
	rules4 := snapshot(t, lab, lab.Consumer, "iptables-save")
	rules6 := snapshot(t, lab, lab.Consumer, "ip6tables-save")
	restored := func(when string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			routes := snapshot(t, lab, lab.Consumer, "ip", "route", "show", "table", "all")
			r4, r6 := rulesOf(snapshot(t, lab, lab.Consumer, "iptables-save")), rulesOf(snapshot(t, lab, lab.Consumer, "ip6tables-save"))
			if routes == routesBefore && r4 == rulesOf(rules4) && r6 == rulesOf(rules6) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: routes\n%s\nbefore\n%s\niptables\n%s\nbefore\n%s\nip6tables\n%s\nbefore\n%s", when, routes, routesBefore, r4, rulesOf(rules4), r6, rulesOf(rules6))
			}
			time.Sleep(100 * time.Millisecond)
		}
		if !reaches(lab, lan.url) || !reaches(lab, lan6.url) {
			t.Fatalf("%s: direct access not back", when)
		}
		if got, _ := os.ReadFile(lab.ResolvConf(lab.Consumer)); string(got) != string(resolvBefore) {
			t.Fatalf("%s: resolv.conf %q, before %q", when, got, resolvBefore)
		}
	}
	blocked := func(when string) {
		t.Helper()
		before, before6 := lan.count(), lan6.count()
		if reaches(lab, lan.url) || reaches(lab, lan6.url) {
			t.Fatalf("%s: the consumer reached a host outside the tunnel", when)
		}
		if lan.count() != before || lan6.count() != before6 {
			t.Fatalf("%s: a request arrived from outside the tunnel", when)
		}
	}

	// A resolv.conf that can't be written: connect fails saying so, and
	// nothing changed (kill switch off again, routes and file as before).
	rc := lab.ResolvConf(lab.Consumer)
	if out, err := exec.Command("chattr", "+i", rc).CombinedOutput(); err != nil {
		t.Fatalf("chattr +i %s: %v: %s", rc, err, out)
	}
	t.Cleanup(func() { exec.Command("chattr", "-i", rc).Run() })
	r := mystIn(t, lab.Consumer, append(cd.args, "connect", provider, "--identity", consumer, "--service", "wireguard")...)
	if r.code == 0 || !strings.Contains(r.stderr, "resolv.conf") {
		t.Fatalf("connect with a read-only resolv.conf: exit %d, %s", r.code, r.stderr)
	}
	if out, err := exec.Command("chattr", "-i", rc).CombinedOutput(); err != nil {
		t.Fatalf("chattr -i %s: %v: %s", rc, err, out)
	}
	restored("after a connect refused for a read-only resolv.conf")

	start := time.Now()
	mustMystIn(t, lab.Consumer, append(cd.args, "connect", provider, "--identity", consumer, "--service", "wireguard")...)
	t.Logf("connect with the kill switch: %s", time.Since(start).Round(time.Millisecond))
	if !reaches(lab, web.url) {
		t.Fatal("no web through the tunnel")
	}
	blocked("connected")
	// A second connect is refused and changes nothing.
	if r := mystIn(t, lab.Consumer, append(cd.args, "connect", provider, "--identity", consumer, "--service", "wireguard")...); r.code == 0 || !strings.Contains(r.stderr, "disconnect first") {
		t.Fatalf("second connect: exit %d, %s", r.code, r.stderr)
	}
	if !reaches(lab, web.url) {
		t.Fatal("the tunnel broke after a refused second connect")
	}
	if st := mustMystIn(t, lab.Consumer, append(cd.args, "status")...).stdout; !strings.Contains(st, "kill switch: on") || !strings.Contains(st, "dns: 198.19.") {
		t.Fatalf("status:\n%s", st)
	}
	// Names resolve through the provider; the consumer's own resolver
	// hears nothing; the public resolver hears the provider.
	ispAsked := len(isp.askedBy())
	if got := resolve(lab); got != netlab.WebIP {
		t.Fatalf("connected: web.test resolved to %q; resolv.conf:\n%s", got, must(os.ReadFile(lab.ResolvConf(lab.Consumer))))
	}
	if n := len(isp.askedBy()); n != ispAsked {
		t.Fatalf("connected: the consumer's own resolver got %d queries", n-ispAsked)
	}
	if by := public.AskedBy(); len(by) == 0 || by[len(by)-1] != netlab.ProviderWebIP {
		t.Fatalf("the public resolver was asked by %v, want the provider %s", by, netlab.ProviderWebIP)
	}
	lt := mustMystIn(t, lab.Consumer, "leaktest", "--echo-url", web.url, "--name", "web.test").stdout
	t.Logf("myst leaktest:\n%s", lt)
	if !strings.Contains(lt, "resolver: 198.19.") || !strings.Contains(lt, "interface mwgc") || !strings.Contains(lt, "web.test: "+netlab.WebIP) ||
		!strings.Contains(lt, "saw: hello "+netlab.ProviderWebIP) {
		t.Fatalf("leaktest while connected:\n%s", lt)
	}

	// The provider killed: Reconnecting, then Blocked; nothing leaks meanwhile.
	pd.kill()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	killed := time.Now()
	mysttest.WaitFor(t, 40*time.Second, func() bool {
		c, err := cd.client.Connection(ctx)
		return err == nil && (c.State == "Reconnecting" || c.State == "Blocked")
	})
	t.Logf("provider killed: the consumer is reconnecting after %s", time.Since(killed).Round(time.Millisecond))
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); {
		blocked("reconnecting")
		if reaches(lab, web.url) {
			t.Fatal("the web host answered with the provider dead")
		}
	}
	mysttest.WaitFor(t, 2*time.Minute, func() bool {
		c, err := cd.client.Connection(ctx)
		return err == nil && c.State == "Blocked"
	})
	st := mustMystIn(t, lab.Consumer, append(cd.args, "status")...).stdout
	t.Logf("blocked:\n%s", st)
	if !strings.Contains(st, "state: Blocked") || !strings.Contains(st, "myst disconnect") {
		t.Fatalf("status while blocked:\n%s", st)
	}
	blocked("blocked")
	if resolve(lab) != "" || len(isp.askedBy()) != ispAsked {
		t.Fatal("blocked: a name resolved, or the consumer's own resolver was asked")
	}
	mustMystIn(t, lab.Consumer, append(cd.args, "disconnect")...)
	restored("after disconnect")

	// Disconnect while reconnecting: the loop stops, everything comes back.
	startProvider := func() {
		pd = startDaemonIn(t, lab.Provider, ln, filepath.Join(dir, "provider"), pArgs...)
		mustMystIn(t, lab.Provider, append(pd.args, "identity", "unlock", provider, "--passphrase-file", pass)...)
		mustMystIn(t, lab.Provider, append(pd.args, "service", "start", "wireguard", "--identity", provider)...)
	}
	startProvider()
	mustMystIn(t, lab.Consumer, append(cd.args, "connect", provider, "--identity", consumer, "--service", "wireguard")...)
	pd.kill()
	mysttest.WaitFor(t, 40*time.Second, func() bool {
		c, err := cd.client.Connection(ctx)
		return err == nil && c.State == "Reconnecting"
	})
	mustMystIn(t, lab.Consumer, append(cd.args, "disconnect")...)
	restored("after disconnect while reconnecting")

	// untilBlocked connects to a fresh provider, kills it and waits until
	// the consumer gives up reconnecting: Blocked.
	untilBlocked := func() {
		t.Helper()
		startProvider()
		mustMystIn(t, lab.Consumer, append(cd.args, "connect", provider, "--identity", consumer, "--service", "wireguard")...)
		pd.kill()
		mysttest.WaitFor(t, 2*time.Minute, func() bool {
			c, err := cd.client.Connection(ctx)
			return err == nil && c.State == "Blocked"
		})
	}

	// SIGTERM while blocked: the daemon restores everything on its way out.
	untilBlocked()
	blocked("blocked again")
	cd.stop(t)
	restored("after SIGTERM while blocked")
	cd = startDaemonIn(t, lab.Consumer, ln, filepath.Join(dir, "consumer"))
	mustMystIn(t, lab.Consumer, append(cd.args, "identity", "unlock", consumer, "--passphrase-file", pass)...)

	// killConsumer SIGKILLs the consumer daemon: traffic stays blocked and
	// the resolver pointed at the tunnel until it starts again, which
	// restores both and says so.
	killConsumer := func(when string) {
		t.Helper()
		cd.kill()
		blocked("consumer daemon killed " + when)
		if got, _ := os.ReadFile(lab.ResolvConf(lab.Consumer)); string(got) == string(resolvBefore) {
			t.Fatalf("the daemon killed %s: its resolver change is gone already (want it kept until the next start)", when)
		}
		cd = startDaemonIn(t, lab.Consumer, ln, filepath.Join(dir, "consumer"))
		if !strings.Contains(cd.stderr.String(), "removed the kill switch") {
			t.Fatalf("the daemon restarted after SIGKILL %s did not say it removed the kill switch:\n%s", when, cd.stderr.String())
		}
		restored("after the daemon killed " + when + " restarted")
	}

	// The consumer daemon killed (SIGKILL) while blocked.
	untilBlocked()
	killConsumer("while blocked")
	mustMystIn(t, lab.Consumer, append(cd.args, "identity", "unlock", consumer, "--passphrase-file", pass)...)

	// The consumer daemon killed while connected: blocked until it starts again.
	startProvider()
	mustMystIn(t, lab.Consumer, append(cd.args, "connect", provider, "--identity", consumer, "--service", "wireguard")...)
	killConsumer("while connected")

	// SIGTERM while connected: the daemon restores everything on its way out.
	mustMystIn(t, lab.Consumer, append(cd.args, "identity", "unlock", consumer, "--passphrase-file", pass)...)
	mustMystIn(t, lab.Consumer, append(cd.args, "connect", provider, "--identity", consumer, "--service", "wireguard")...)
	blocked("connected again")
	cd.stop(t)
	restored("after SIGTERM")

	// The same protection for openvpn.
	cd = startDaemonIn(t, lab.Consumer, ln, filepath.Join(dir, "consumer"))
	mustMystIn(t, lab.Consumer, append(cd.args, "identity", "unlock", consumer, "--passphrase-file", pass)...)
	mustMystIn(t, lab.Provider, append(pd.args, "service", "start", "openvpn", "--identity", provider)...)
	mustMystIn(t, lab.Consumer, append(cd.args, "connect", provider, "--identity", consumer, "--service", "openvpn")...)
	if !reaches(lab, web.url) {
		t.Fatal("openvpn: no web through the tunnel")
	}
	blocked("openvpn connected")
	ispAsked = len(isp.askedBy())
	mysttest.WaitFor(t, 10*time.Second, func() bool { return resolve(lab) == netlab.WebIP })
	if n := len(isp.askedBy()); n != ispAsked {
		t.Fatalf("openvpn: the consumer's own resolver got %d queries", n-ispAsked)
	}
	mustMystIn(t, lab.Consumer, append(cd.args, "disconnect")...)
	restored("after the openvpn disconnect")
}

// rulesOf is the rules and user chains of an iptables-save dump (an empty
// table iptables loaded on the way adds nothing).
func rulesOf(s string) string {
	var out []string
	table := ""
	for _, l := range strings.Split(s, "\n") {
		switch {
		case strings.HasPrefix(l, "*"):
			table = l
		case strings.HasPrefix(l, "-"):
			out = append(out, table+" "+l)
		case strings.HasPrefix(l, ":") && !strings.HasPrefix(l, ":INPUT") && !strings.HasPrefix(l, ":OUTPUT") && !strings.HasPrefix(l, ":FORWARD") &&
			!strings.HasPrefix(l, ":PREROUTING") && !strings.HasPrefix(l, ":POSTROUTING"):
			out = append(out, table+" "+strings.Fields(l)[0])
		}
	}
	return strings.Join(out, "\n")
}

func must(b []byte, err error) string {
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// settled waits until no address of the lab is tentative (IPv6 duplicate
// address detection adds link-local addresses and their routes a moment
// after a link comes up), so that "before" snapshots are final.
func settled(t testing.TB, lab *netlab.Lab) {
	t.Helper()
	mysttest.WaitFor(t, 30*time.Second, func() bool {
		for _, ns := range []string{lab.Consumer, lab.Provider} {
			if strings.TrimSpace(snapshot(t, lab, ns, "ip", "-6", "addr", "show", "tentative")) != "" {
				return false
			}
		}
		return true
	})
}
