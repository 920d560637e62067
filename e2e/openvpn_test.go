package e2e

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/mysttest"
	"github.com/mystnode/myst/netlab"
	"github.com/mystnode/myst/openvpn"
)

// requireLab builds the namespace lab, or fails in CI / skips elsewhere
// when this machine can't (not root, no openvpn).
func requireLab(t testing.TB) *netlab.Lab {
	t.Helper()
	err := netlab.Available()
	if err == nil {
		if _, ferr := openvpn.FindBinary(""); ferr != nil {
			err = fmt.Errorf("%v (scripts/install.sh installs it)", ferr)
		}
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("the OpenVPN end-to-end test must run in CI: %v", err)
		}
		t.Skipf("needs root, iproute2 and openvpn: %v", err)
	}
	lab, err := netlab.New("mv")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := lab.Close(); err != nil {
			t.Errorf("delete namespaces: %v", err)
		}
		for _, ns := range []string{lab.Consumer, lab.Provider, lab.Web} {
			if _, err := os.Stat("/var/run/netns/" + ns); err == nil {
				t.Errorf("namespace %s left behind", ns)
			}
		}
	})
	return lab
}

// webHost serves in the web namespace and records who it saw.
type webHost struct {
	mu   sync.Mutex
	seen []string
	url  string
}

func startWebHost(t testing.TB, lab *netlab.Lab) *webHost {
	t.Helper()
	ln, err := netlab.Listen(lab.Web, netlab.WebIP+":0")
	if err != nil {
		t.Fatal(err)
	}
	w := &webHost{url: "http://" + ln.Addr().String()}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(rw http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		w.mu.Lock()
		w.seen = append(w.seen, host)
		w.mu.Unlock()
		fmt.Fprintf(rw, "hello %s\n", host)
	})
	mux.HandleFunc("/bytes", netlab.BytesHandler)
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return w
}

func (w *webHost) log() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.seen...)
}

// httpFrom is an HTTP client whose connections start in namespace ns.
func httpFrom(ns string, timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{DialContext: netlab.DialContext(ns), DisableKeepAlives: true}}
}

func snapshot(t testing.TB, lab *netlab.Lab, ns string, name string, args ...string) string {
	t.Helper()
	out, err := lab.Output(ns, name, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// natRules is the provider namespace's iptables state, without counters.
func natRules(t testing.TB, lab *netlab.Lab) string {
	out := snapshot(t, lab, lab.Provider, "iptables-save")
	var keep []string
	table := ""
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "*") {
			table = l
		}
		if strings.HasPrefix(l, "-A") {
			keep = append(keep, table+" "+l)
		}
	}
	return strings.Join(keep, "\n")
}

func openvpnProcesses(dir string) []string {
	out, _ := exec.Command("pgrep", "-af", "openvpn").Output()
	var found []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "--config") {
			// Our openvpn runs with cwd in dir; check /proc/PID/cwd.
			pid, _, _ := strings.Cut(l, " ")
			cwd, _ := os.Readlink("/proc/" + pid + "/cwd")
			if strings.HasPrefix(cwd, dir) {
				found = append(found, l)
			}
		}
	}
	return found
}

// firstPage fetches the web host's page through the tunnel right after
// connect and checks the web host saw only the provider's address.
func firstPage(t testing.TB, lab *netlab.Lab, web *webHost, cd *daemon, start time.Time, connected time.Duration) {
	t.Helper()
	resp, err := httpFrom(lab.Consumer, 10*time.Second).Get(web.url)
	if err != nil {
		t.Fatalf("fetch through the tunnel: %v\nconsumer log:\n%s", err, cd.stderr.String())
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	t.Logf("connect: %s to Connected, %s to the first byte through the tunnel", connected.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	if got := strings.TrimSpace(string(body)); got != "hello "+netlab.ProviderWebIP {
		t.Fatalf("web host answered %q, want it to have seen the provider %s", got, netlab.ProviderWebIP)
	}
	if log := web.log(); len(log) != 1 || log[0] != netlab.ProviderWebIP {
		t.Fatalf("web host log %v, want only the provider's address", log)
	}
}

// downloadThrough downloads size bytes from the web host through the
// tunnel and logs the throughput.
func downloadThrough(t testing.TB, lab *netlab.Lab, web *webHost, size int) {
	t.Helper()
	start := time.Now()
	resp, err := httpFrom(lab.Consumer, time.Minute).Get(fmt.Sprintf("%s/bytes?n=%d", web.url, size))
	if err != nil {
		t.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	el := time.Since(start)
	if n != int64(size) {
		t.Fatalf("downloaded %d of %d bytes", n, size)
	}
	t.Logf("throughput through the tunnel: %d bytes in %s = %.1f Mbit/s", n, el.Round(time.Millisecond), float64(n)*8/el.Seconds()/1e6)
}

func TestOpenVPNEndToEnd(t *testing.T) {
	lab := requireLab(t)
	web := startWebHost(t, lab)
	dir := t.TempDir()

	// Before: the consumer can't reach the web host; note routes and rules.
	if _, err := httpFrom(lab.Consumer, 2*time.Second).Get(web.url); err == nil {
		t.Fatal("the consumer reaches the web host without a tunnel")
	}
	routesBefore := snapshot(t, lab, lab.Consumer, "ip", "route", "show", "table", "all")
	rulesBefore := natRules(t, lab)

	ln := startLocalnetIn(t, lab.Provider, netlab.ProviderIP)
	pass := writeFile(t, dir, "pass", "pw\n")
	provider := newIdentityIn(t, lab.Provider, ln, filepath.Join(dir, "provider"), pass, true)
	consumer := newIdentityIn(t, lab.Consumer, ln, filepath.Join(dir, "consumer"), pass, true)

	pArgs := []string{"--public-ip", netlab.ProviderIP, "--openvpn-port", "0", "--openvpn-subnet", "198.19.0.0/16", "--country", "DE"}
	pd := startDaemonIn(t, lab.Provider, ln, filepath.Join(dir, "provider"), pArgs...)
	cd := startDaemonIn(t, lab.Consumer, ln, filepath.Join(dir, "consumer"))
	mustMystIn(t, lab.Provider, append(pd.args, "identity", "unlock", provider, "--passphrase-file", pass)...)
	mustMystIn(t, lab.Consumer, append(cd.args, "identity", "unlock", consumer, "--passphrase-file", pass)...)
	svc := mustMystIn(t, lab.Provider, append(pd.args, "service", "start", "openvpn", "--identity", provider, "--max-sessions", "1")...).lastLine()
	if r := mustMystIn(t, lab.Consumer, append(cd.args, "proposals", "--service-type", "openvpn", "--country", "DE")...); !strings.Contains(r.stdout, provider) {
		t.Fatalf("openvpn proposal not found:\n%s", r.stdout)
	}

	// Connect, then the first byte through the tunnel.
	start := time.Now()
	mustMystIn(t, lab.Consumer, append(cd.args, "connect", provider, "--identity", consumer, "--service", "openvpn", "--kill-switch=false")...)
	connected := time.Since(start)
	firstPage(t, lab, web, cd, start, connected)

	// Throughput through the tunnel (bounded: 32 MiB).
	const size = 32 << 20
	downloadThrough(t, lab, web, size)

	// One context for the API calls of the rest of the test (minutes under -race).
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	mysttest.WaitFor(t, 10*time.Second, func() bool {
		c, err := cd.client.Connection(ctx)
		return err == nil && c.BytesReceived > size
	})
	c, _ := cd.client.Connection(ctx)
	if c.State != "Connected" || c.TunnelIP == "" || c.Duration <= 0 {
		t.Fatalf("connection %+v", c)
	}
	st := mustMystIn(t, lab.Consumer, append(cd.args, "status")...).stdout
	if !strings.Contains(st, "received:") || !strings.Contains(st, "tunnel ip:") {
		t.Fatalf("status lacks bytes or tunnel address:\n%s", st)
	}
	mysttest.WaitFor(t, 10*time.Second, func() bool {
		ss, err := pd.client.Sessions(ctx)
		return err == nil && len(ss) == 1 && ss[0].BytesOut > size
	})

	// Bad credentials at the provider's openvpn server: a second connect of
	// the live session, another identity's signature; after disconnect, the
	// ended session's own credentials.
	sessionID := c.SessionID
	store := identity.NewStore(filepath.Join(dir, "consumer", "keystore"), identity.LightKDF)
	signer, err := store.Unlock(common.HexToAddress(consumer), "pw")
	if err != nil {
		t.Fatal(err)
	}
	mallory := newTestSigner(t)
	rogue := func(name string, sign *identity.Signer) error {
		return rogueClient(t, lab, dir, name, consumer, sessionID, sign)
	}
	if err := rogue("second", signer); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("second connect of a live session: %v", err)
	}
	if err := rogue("mallory", mallory); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("another identity's signature: %v", err)
	}

	// Disconnect: routes as before, web unreachable again.
	mustMystIn(t, lab.Consumer, append(cd.args, "disconnect")...)
	if err := rogue("ended", signer); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("credentials of an ended session: %v", err)
	}
	if after := snapshot(t, lab, lab.Consumer, "ip", "route", "show", "table", "all"); after != routesBefore {
		t.Fatalf("consumer routes after disconnect:\n%s\nbefore:\n%s", after, routesBefore)
	}
	if _, err := httpFrom(lab.Consumer, 2*time.Second).Get(web.url); err == nil {
		t.Fatal("the consumer reaches the web host after disconnecting")
	}
	mysttest.WaitFor(t, 10*time.Second, func() bool {
		ss, err := pd.client.Sessions(ctx)
		return err == nil && len(ss) == 0
	})

	// Stopping the service removes every NAT rule and the openvpn server.
	mustMystIn(t, lab.Provider, append(pd.args, "service", "stop", svc)...)
	if after := natRules(t, lab); after != rulesBefore {
		t.Fatalf("provider rules after stop:\n%s\nbefore:\n%s", after, rulesBefore)
	}
	if ps := openvpnProcesses(dir); len(ps) != 0 {
		t.Fatalf("openvpn still running: %v", ps)
	}
	// Its keys (CA, server key, tls-crypt key) are gone from disk, and so
	// are the consumer's copies.
	for _, d := range []string{filepath.Join(dir, "provider", "openvpn", svc), filepath.Join(dir, "consumer", "openvpn-client")} {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s is still there after stop and disconnect (%v)", d, err)
		}
	}

	// Daemon shutdown (SIGTERM) of a connected consumer restores its routes
	// and ends the provider's session.
	svc = mustMystIn(t, lab.Provider, append(pd.args, "service", "start", "openvpn", "--identity", provider, "--max-sessions", "1")...).lastLine()
	mustMystIn(t, lab.Consumer, append(cd.args, "connect", provider, "--identity", consumer, "--service", "openvpn", "--kill-switch=false")...)
	if snapshot(t, lab, lab.Consumer, "ip", "route", "show", "table", "all") == routesBefore {
		t.Fatal("connected, but the consumer's routes did not change")
	}
	cd.stop(t)
	if after := snapshot(t, lab, lab.Consumer, "ip", "route", "show", "table", "all"); after != routesBefore {
		t.Fatalf("consumer routes after daemon shutdown:\n%s\nbefore:\n%s", after, routesBefore)
	}
	mysttest.WaitFor(t, 10*time.Second, func() bool {
		ss, err := pd.client.Sessions(ctx)
		return err == nil && len(ss) == 0
	})
	mustMystIn(t, lab.Provider, append(pd.args, "service", "stop", svc)...)
	cd = startDaemonIn(t, lab.Consumer, ln, filepath.Join(dir, "consumer"))
	mustMystIn(t, lab.Consumer, append(cd.args, "identity", "unlock", consumer, "--passphrase-file", pass)...)

	// Faults. A provider killed mid-session: the consumer leaves Connected
	// within 30 s, says why, and its routes are restored; the provider's
	// next start removes the NAT rules the crash left.
	svc = mustMystIn(t, lab.Provider, append(pd.args, "service", "start", "openvpn", "--identity", provider, "--max-sessions", "1")...).lastLine()
	mustMystIn(t, lab.Consumer, append(cd.args, "connect", provider, "--identity", consumer, "--service", "openvpn", "--kill-switch=false")...)
	pd.kill()
	killed := time.Now()
	mysttest.WaitFor(t, 30*time.Second, func() bool {
		c, err := cd.client.Connection(ctx)
		return err == nil && c.State == "NotConnected"
	})
	c, _ = cd.client.Connection(ctx)
	t.Logf("provider killed: consumer NotConnected after %s: %s", time.Since(killed).Round(time.Millisecond), c.LastError)
	if c.LastError == "" {
		t.Fatal("the consumer does not say why it disconnected")
	}
	mysttest.WaitFor(t, 10*time.Second, func() bool {
		return snapshot(t, lab, lab.Consumer, "ip", "route", "show", "table", "all") == routesBefore
	})
	if natRules(t, lab) == rulesBefore {
		t.Fatal("expected the killed provider to leave NAT rules (test premise)")
	}
	pd = startDaemonIn(t, lab.Provider, ln, filepath.Join(dir, "provider"), pArgs...)
	if after := natRules(t, lab); after != rulesBefore {
		t.Fatalf("provider rules after restart:\n%s\nbefore:\n%s", after, rulesBefore)
	}
	if !strings.Contains(pd.stderr.String(), "removed NAT rules") {
		t.Fatalf("restart did not report the cleanup:\n%s", pd.stderr.String())
	}

	// A consumer killed mid-session: the provider ends the session and frees the slot.
	mustMystIn(t, lab.Provider, append(pd.args, "identity", "unlock", provider, "--passphrase-file", pass)...)
	svc = mustMystIn(t, lab.Provider, append(pd.args, "service", "start", "openvpn", "--identity", provider, "--max-sessions", "1")...).lastLine()
	mustMystIn(t, lab.Consumer, append(cd.args, "connect", provider, "--identity", consumer, "--service", "openvpn", "--kill-switch=false")...)
	cd.kill()
	mysttest.WaitFor(t, 40*time.Second, func() bool {
		ss, err := pd.client.Sessions(ctx)
		return err == nil && len(ss) == 0
	})
	mysttest.WaitFor(t, 10*time.Second, func() bool {
		return snapshot(t, lab, lab.Consumer, "ip", "route", "show", "table", "all") == routesBefore
	})
	mustMystIn(t, lab.Provider, append(pd.args, "service", "stop", svc)...)
	pd.stop(t)
	if after := natRules(t, lab); after != rulesBefore {
		t.Fatalf("provider rules at the end:\n%s\nbefore:\n%s", after, rulesBefore)
	}
	mysttest.WaitFor(t, 10*time.Second, func() bool { return len(openvpnProcesses(dir)) == 0 })
}

func newTestSigner(t testing.TB) *identity.Signer {
	k, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return identity.NewSigner(k)
}

// rogueClient runs a real openvpn client in the consumer namespace with
// credentials for sessionID signed by sign, against the provider's running
// server (its CA and tls-crypt key taken from the provider's data dir).
func rogueClient(t testing.TB, lab *netlab.Lab, dir, name, username, sessionID string, sign *identity.Signer) error {
	t.Helper()
	servers, _ := filepath.Glob(filepath.Join(dir, "provider", "openvpn", "*", "server.conf"))
	if len(servers) != 1 {
		t.Fatalf("want one openvpn server dir, found %v", servers)
	}
	sdir := filepath.Dir(servers[0])
	conf, _ := os.ReadFile(servers[0])
	ca, _ := os.ReadFile(filepath.Join(sdir, "ca.crt"))
	tc, _ := os.ReadFile(filepath.Join(sdir, "tls-crypt.key"))
	port := 0
	for _, l := range strings.Split(string(conf), "\n") {
		if p, ok := strings.CutPrefix(l, "port "); ok {
			port, _ = strconv.Atoi(p)
		}
	}
	cfg := openvpn.ClientConfig{Remote: netlab.ProviderIP, Port: port, Proto: "udp", Cipher: openvpn.Cipher, CACert: string(ca), TLSCryptKey: string(tc)}
	wrapper := filepath.Join(dir, "openvpn-in-consumer-ns")
	os.WriteFile(wrapper, []byte("#!/bin/sh\nexec ip netns exec "+lab.Consumer+" openvpn \"$@\"\n"), 0o700)
	c := openvpn.NewClient(openvpn.ClientOptions{
		Dir: filepath.Join(dir, "rogue-"+name), Binary: wrapper, Username: username,
		Password: func(sid string) (string, error) {
			sig, err := sign.Sign([]byte("myst openvpn auth v1\x00" + sid))
			return sid + ":" + hex.EncodeToString(sig), err
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := c.Connect(ctx, sessionID, cfg.Marshal())
	c.Disconnect()
	return err
}
