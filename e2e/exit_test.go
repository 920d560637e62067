package e2e

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mystnode/myst/netlab"
)

// serveTCP accepts on addr in namespace ns, handing each connection to
// handle (which closes it), until the test ends.
func serveTCP(t testing.TB, ns, addr string, handle func(net.Conn)) string {
	t.Helper()
	ln, err := netlab.Listen(ns, addr)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go handle(c)
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

// tcpServer answers "ok" to every connection.
func tcpServer(t testing.TB, ns, addr string) string {
	t.Helper()
	return serveTCP(t, ns, addr, func(c net.Conn) {
		fmt.Fprintln(c, "ok")
		c.Close()
	})
}

// tcpSource writes zeros to every connection until it closes.
func tcpSource(t testing.TB, ns, addr string) string {
	t.Helper()
	return serveTCP(t, ns, addr, func(c net.Conn) {
		defer c.Close()
		buf := make([]byte, 64<<10)
		for {
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	})
}

// tcpSink counts what every connection sends it.
func tcpSink(t testing.TB, ns, addr string) (string, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	return serveTCP(t, ns, addr, func(c net.Conn) {
		defer c.Close()
		buf := make([]byte, 64<<10)
		for {
			k, err := c.Read(buf)
			n.Add(int64(k))
			if err != nil {
				return
			}
		}
	}), &n
}

// rate measures a TCP transfer from namespace ns for 11 s, in Mbit/s over
// its last 10 s (after TCP's start): down reads from a source, up writes
// to a sink counting what arrives.
func rate(t testing.TB, ns, source, sink string, sunk *atomic.Int64, down bool) float64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	addr := sink
	if down {
		addr = source
	}
	c, err := netlab.DialContext(ns)(ctx, "tcp", addr)
	if err != nil {
		t.Fatalf("rate: %v", err)
	}
	defer c.Close()
	var got atomic.Int64
	if down {
		sunk = &got
		go func() {
			buf := make([]byte, 64<<10)
			for {
				k, err := c.Read(buf)
				got.Add(int64(k))
				if err != nil {
					return
				}
			}
		}()
	} else {
		go func() {
			buf := make([]byte, 64<<10)
			for {
				if _, err := c.Write(buf); err != nil {
					return
				}
			}
		}()
	}
	time.Sleep(time.Second)
	n0, t0 := sunk.Load(), time.Now()
	time.Sleep(10 * time.Second)
	n1, t1 := sunk.Load(), time.Now()
	return float64(n1-n0) * 8 / t1.Sub(t0).Seconds() / 1e6
}

// reachTCP says whether a TCP connect from namespace ns to addr gets the
// server's answer within 2 s.
func reachTCP(ns, addr string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := netlab.DialContext(ns)(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	b := make([]byte, 3)
	if _, err := c.Read(b); err != nil {
		return err
	}
	return nil
}

// TestExitIsolation: a provider with a home LAN (a web server on a private
// /24), a "cloud metadata" host at 169.254.169.254, a service of its own
// on 0.0.0.0, and two connected consumers each listening on a port.
// Through wireguard and through openvpn, a consumer reaches the web host
// (port 80), and none of: the LAN host, metadata, the provider's service
// on any of its addresses, the other consumer, port 25 outside. After
// `service stop`, and after a SIGKILL and a restart, the provider's rules
// are exactly as before.
func TestExitIsolation(t *testing.T) {
	lab := requireLab(t)
	web := startWebHost(t, lab)
	web80 := tcpServer(t, lab.Web, netlab.WebIP+":80")
	source := tcpSource(t, lab.Web, netlab.WebIP+":0")
	sink, sunk := tcpSink(t, lab.Web, netlab.WebIP+":0")
	web25 := tcpServer(t, lab.Web, netlab.WebIP+":25")

	// The provider's home: a LAN host (its default route is the provider,
	// so that only the provider's rules stand between it and a consumer),
	// and a metadata host behind it.
	lan, err := lab.AddHost("lan", lab.Provider, netip.MustParsePrefix("192.168.77.1/24"), netip.MustParsePrefix("192.168.77.10/24"), true, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"addr", "add", "169.254.169.254/32", "dev", "lo"}} {
		if _, err := lab.Output(lan, "ip", args...); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := lab.Output(lab.Provider, "ip", "route", "add", "169.254.169.254/32", "via", "192.168.77.10"); err != nil {
		t.Fatal(err)
	}
	lanPort := tcpServer(t, lan, "0.0.0.0:80")
	_, port, _ := net.SplitHostPort(lanPort)
	lanHost, metadata := "192.168.77.10:"+port, "169.254.169.254:"+port
	// A service of the provider host's own, on every address.
	_, svcPort, _ := net.SplitHostPort(tcpServer(t, lab.Provider, "0.0.0.0:0"))
	// The second consumer, behind the provider like the first.
	c2, err := lab.AddHost("c2", lab.Provider, netip.MustParsePrefix("198.18.4.1/24"), netip.MustParsePrefix("198.18.4.2/24"), true, netlab.WebIP)
	if err != nil {
		t.Fatal(err)
	}
	// Each consumer listens on a port.
	tcpServer(t, lab.Consumer, "0.0.0.0:7777")
	tcpServer(t, c2, "0.0.0.0:7777")
	// The lab is what it claims: the provider host reaches all of it.
	for _, a := range []string{lanHost, metadata, web80, web25} {
		if err := reachTCP(lab.Provider, a); err != nil {
			t.Fatalf("lab: the provider does not reach %s: %v", a, err)
		}
	}

	dir := t.TempDir()
	ln := startLocalnetIn(t, lab.Provider, netlab.ProviderIP)
	pass := writeFile(t, dir, "pass", "pw\n")
	provider := newIdentityIn(t, lab.Provider, ln, filepath.Join(dir, "provider"), pass, true)
	type consumer struct {
		ns, id string
		d      *daemon
	}
	cs := []*consumer{{ns: lab.Consumer}, {ns: c2}}
	for i, c := range cs {
		c.id = newIdentityIn(t, c.ns, ln, filepath.Join(dir, fmt.Sprintf("consumer%d", i)), pass, true)
	}
	pArgs := []string{"--public-ip", netlab.ProviderIP, "--wireguard-port", "0", "--wireguard-subnet", "198.19.0.0/17",
		"--openvpn-port", "0", "--openvpn-subnet", "198.19.128.0/17", "--country", "DE", "--session-mbit", "20"}
	pd := startDaemonIn(t, lab.Provider, ln, filepath.Join(dir, "provider"), pArgs...)
	mustMystIn(t, lab.Provider, append(pd.args, "identity", "unlock", provider, "--passphrase-file", pass)...)
	for i, c := range cs {
		c.d = startDaemonIn(t, c.ns, ln, filepath.Join(dir, fmt.Sprintf("consumer%d", i)))
		mustMystIn(t, c.ns, append(c.d.args, "identity", "unlock", c.id, "--passphrase-file", pass)...)
	}
	settled(t, lab)
	rulesBefore := natRules(t, lab)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	for _, typ := range []string{"wireguard", "openvpn"} {
		svc := mustMystIn(t, lab.Provider, append(pd.args, "service", "start", typ, "--identity", provider, "--max-sessions", "2")...).lastLine()
		tunnel := map[*consumer]string{}
		for _, c := range cs {
			if r := mystIn(t, c.ns, append(c.d.args, "connect", provider, "--identity", c.id, "--service", typ, "--kill-switch=false")...); r.code != 0 {
				logs, _ := filepath.Glob(filepath.Join(c.d.dataDir, "*", "openvpn.log"))
				for _, l := range logs {
					b, _ := os.ReadFile(l)
					t.Logf("%s:\n%s", l, b)
				}
				t.Fatalf("%s: connect: %s\nconsumer log:\n%s\nprovider log:\n%s", typ, r.stderr, c.d.stderr.String(), pd.stderr.String())
			}
			conn, err := c.d.client.Connection(ctx)
			if err != nil || conn.State != "Connected" || conn.TunnelIP == "" {
				t.Fatalf("%s: connection %+v, %v", typ, conn, err)
			}
			tunnel[c] = conn.TunnelIP
		}
		gw := netip.MustParseAddr(tunnel[cs[0]]).As4()
		gw[3] = 1
		gateway := netip.AddrFrom4(gw).String()
		for i, c := range cs {
			other := cs[1-i]
			if err := reachTCP(c.ns, web80); err != nil {
				t.Fatalf("%s: consumer %d does not reach the web host's port 80: %v", typ, i, err)
			}
			if resp, err := httpFrom(c.ns, 5*time.Second).Get(web.url); err != nil {
				t.Fatalf("%s: consumer %d: web host: %v", typ, i, err)
			} else {
				resp.Body.Close()
			}
			refused := map[string]string{
				"port 25 of the web host":           web25,
				"the provider's LAN host":           lanHost,
				"cloud metadata":                    metadata,
				"the provider's service (gateway)":  net.JoinHostPort(gateway, svcPort),
				"the provider's service (uplink)":   net.JoinHostPort(netlab.ProviderWebIP, svcPort),
				"the provider's service (LAN side)": net.JoinHostPort("192.168.77.1", svcPort),
				"the other consumer":                net.JoinHostPort(tunnel[other], "7777"),
			}
			if i == 0 {
				// The second consumer's link is not the first one's way to
				// the provider: through the tunnel, it is refused. (Each
				// consumer reaches the provider's address on its own link
				// directly, as anyone there can.)
				refused["the provider's service (the other consumer's link)"] = net.JoinHostPort("198.18.4.1", svcPort)
			}
			var got []string
			for what, addr := range refused {
				if err := reachTCP(c.ns, addr); err == nil {
					got = append(got, fmt.Sprintf("%s (%s)", what, addr))
				}
			}
			if len(got) > 0 {
				t.Errorf("%s: consumer %d reached %s", typ, i, strings.Join(got, ", "))
			}
		}
		// The other way: the provider host reaches no consumer's service
		// through the tunnel.
		for i, c := range cs {
			if err := reachTCP(lab.Provider, net.JoinHostPort(tunnel[c], "7777")); err == nil {
				t.Errorf("%s: the provider reached consumer %d's port 7777 through the tunnel", typ, i)
			}
		}
		if !t.Failed() {
			t.Logf("%s: consumers at %s and %s reach the web host and none of the provider's LAN, metadata, services, each other, port 25",
				typ, tunnel[cs[0]], tunnel[cs[1]])
		}
		// --session-mbit 20: each way, in the data plane.
		down := rate(t, cs[0].ns, source, sink, sunk, true)
		up := rate(t, cs[0].ns, source, sink, sunk, false)
		t.Logf("%s: --session-mbit 20: down %.1f Mbit/s, up %.1f Mbit/s (10 s TCP transfers)", typ, down, up)
		for what, r := range map[string]float64{"down": down, "up": up} {
			if r < 17 || r > 23 {
				t.Errorf("%s: %s %.1f Mbit/s, want 20 within 15 %%", typ, what, r)
			}
		}
		for _, c := range cs {
			mustMystIn(t, c.ns, append(c.d.args, "disconnect")...)
		}
		mustMystIn(t, lab.Provider, append(pd.args, "service", "stop", svc)...)
		if l := links(t, lab, lab.Provider); strings.Contains(l, "mifb") {
			t.Fatalf("%s: the shaper's IFB device outlived the service: %s", typ, l)
		}
		if after := natRules(t, lab); after != rulesBefore {
			t.Fatalf("%s: provider rules after service stop:\n%s\nbefore:\n%s", typ, after, rulesBefore)
		}
	}

	// Killed with a service running: the rules stay until the next start
	// takes them away.
	mustMystIn(t, lab.Provider, append(pd.args, "service", "start", "wireguard", "--identity", provider)...)
	if natRules(t, lab) == rulesBefore {
		t.Fatal("a running service added no rules")
	}
	pd.kill()
	startDaemonIn(t, lab.Provider, ln, filepath.Join(dir, "provider"), pArgs...)
	if after := natRules(t, lab); after != rulesBefore {
		t.Fatalf("provider rules after a SIGKILL and a restart:\n%s\nbefore:\n%s", after, rulesBefore)
	}
}
