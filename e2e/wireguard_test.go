package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mystnode/myst/mysttest"
	"github.com/mystnode/myst/netlab"
)

// links lists the interface names of a namespace.
func links(t testing.TB, lab *netlab.Lab, ns string) string {
	t.Helper()
	var names []string
	for _, l := range strings.Split(snapshot(t, lab, ns, "ip", "-o", "link", "show"), "\n") {
		if f := strings.Fields(l); len(f) > 1 {
			names = append(names, strings.TrimSuffix(f[1], ":"))
		}
	}
	return strings.Join(names, " ")
}

// TestWireGuardEndToEnd takes a priced wireguard session through the lab:
// the web host sees only the provider, both sides count the bytes, the
// consumer pays for them, and disconnect, service stop, a killed provider
// and a killed consumer each leave routes, rules and interfaces as they
// were.
func TestWireGuardEndToEnd(t *testing.T) {
	lab := requireLab(t)
	web := startWebHost(t, lab)
	dir := t.TempDir()
	var routesBefore, consumerLinks, providerLinks, rulesBefore, resolvBefore string
	asBefore := func(when string, provider bool) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			routes, l := snapshot(t, lab, lab.Consumer, "ip", "route", "show", "table", "all"), links(t, lab, lab.Consumer)
			if routes == routesBefore && l == consumerLinks {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: consumer routes\n%s\nbefore\n%s\ninterfaces %q, before %q", when, routes, routesBefore, l, consumerLinks)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if got := must(os.ReadFile(lab.ResolvConf(lab.Consumer))); got != resolvBefore {
			t.Fatalf("%s: resolv.conf %q, before %q", when, got, resolvBefore)
		}
		if got := links(t, lab, lab.Provider); provider && got != providerLinks {
			t.Fatalf("%s: provider interfaces %q, before %q", when, got, providerLinks)
		}
	}

	ln := startLocalnetIn(t, lab.Provider, netlab.ProviderIP)
	pass := writeFile(t, dir, "pass", "pw\n")
	provider := newIdentityIn(t, lab.Provider, ln, filepath.Join(dir, "provider"), pass, true)
	consumer := newIdentityIn(t, lab.Consumer, ln, filepath.Join(dir, "consumer"), pass, true)
	cli := []string{"--data-dir", filepath.Join(dir, "consumer"), "--network", ln.network, "--lightkdf"}
	mustMystIn(t, lab.Consumer, append(cli, "payments", "fund", consumer, "100")...)
	mustMystIn(t, lab.Consumer, append(cli, "payments", "deposit", "50", "--identity", consumer, "--passphrase-file", pass)...)

	pArgs := []string{"--public-ip", netlab.ProviderIP, "--wireguard-port", "0", "--wireguard-subnet", "198.19.0.0/16", "--country", "DE",
		"--invoice-every", "500ms"}
	pd := startDaemonIn(t, lab.Provider, ln, filepath.Join(dir, "provider"), pArgs...)
	cd := startDaemonIn(t, lab.Consumer, ln, filepath.Join(dir, "consumer"))
	mustMystIn(t, lab.Provider, append(pd.args, "identity", "unlock", provider, "--passphrase-file", pass)...)
	mustMystIn(t, lab.Consumer, append(cd.args, "identity", "unlock", consumer, "--passphrase-file", pass)...)
	startService := func() string {
		return mustMystIn(t, lab.Provider, append(pd.args, "service", "start", "wireguard", "--identity", provider, "--max-sessions", "1",
			"--price-gib", "10")...).lastLine()
	}
	// Before: taken once the lab settled (IPv6 link-local addresses appear a
	// moment after the links).
	settled(t, lab)
	routesBefore = snapshot(t, lab, lab.Consumer, "ip", "route", "show", "table", "all")
	consumerLinks, providerLinks = links(t, lab, lab.Consumer), links(t, lab, lab.Provider)
	rulesBefore = natRules(t, lab)
	resolvBefore = must(os.ReadFile(lab.ResolvConf(lab.Consumer)))
	svc := startService()
	if r := mustMystIn(t, lab.Consumer, append(cd.args, "proposals", "--service-type", "wireguard")...); !strings.Contains(r.stdout, provider) {
		t.Fatalf("wireguard proposal not found:\n%s", r.stdout)
	}

	start := time.Now()
	out := mustMystIn(t, lab.Consumer, append(cd.args, "connect", provider, "--identity", consumer, "--service", "wireguard", "--kill-switch=false")...).stdout
	connected := time.Since(start)
	firstPage(t, lab, web, cd, start, connected)
	// Connect returns once the tunnel carries traffic; the resolver check
	// (the provider's host resolver has no server in this lab) comes after,
	// in status.
	if strings.Contains(out, "dns failing") {
		t.Fatalf("connect waited for the resolver probe:\n%s", out)
	}
	mysttest.WaitFor(t, 10*time.Second, func() bool {
		return strings.Contains(mustMystIn(t, lab.Consumer, append(cd.args, "status")...).stdout, "dns failing: the resolver 198.19.")
	})

	// 32 MiB down: both sides count about that, and the consumer pays for it.
	const size = 32 << 20
	downloadThrough(t, lab, web, size)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c, err := cd.client.Connection(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ss, err := pd.client.Sessions(ctx)
	if err != nil || len(ss) != 1 {
		t.Fatalf("provider sessions %+v, %v", ss, err)
	}
	t.Logf("consumer counted %d in / %d out; provider %d in / %d out; tunnel address %s", c.BytesReceived, c.BytesSent, ss[0].BytesIn, ss[0].BytesOut, c.TunnelIP)
	if c.BytesReceived < size || float64(c.BytesReceived) > 1.1*size {
		t.Fatalf("consumer counted %d bytes received for a %d-byte download", c.BytesReceived, size)
	}
	if d := float64(ss[0].BytesOut) - float64(c.BytesReceived); d < -0.03*size || d > 0.03*size {
		t.Fatalf("provider sent %d, consumer received %d: more than 3%% apart", ss[0].BytesOut, c.BytesReceived)
	}
	mysttest.WaitFor(t, 30*time.Second, func() bool {
		c, err := cd.client.Connection(ctx)
		return err == nil && c.Cost != "" && mustAmount(t, c.Cost).Cmp(mustAmount(t, "0.25")) >= 0 // 10 MYSTT/GiB x 32 MiB = 0.3125
	})

	// Disconnect restores the consumer; the provider forgets the peer.
	mustMystIn(t, lab.Consumer, append(cd.args, "disconnect")...)
	asBefore("after disconnect", false)
	mysttest.WaitFor(t, 10*time.Second, func() bool { ss, err := pd.client.Sessions(ctx); return err == nil && len(ss) == 0 })
	mustMystIn(t, lab.Provider, append(pd.args, "service", "stop", svc)...)
	if after := natRules(t, lab); after != rulesBefore {
		t.Fatalf("provider rules after service stop:\n%s\nbefore:\n%s", after, rulesBefore)
	}
	asBefore("after service stop", true)

	// The provider killed mid-session: the consumer notices and says why.
	startService()
	mustMystIn(t, lab.Consumer, append(cd.args, "connect", provider, "--identity", consumer, "--service", "wireguard", "--kill-switch=false")...)
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
	pd = startDaemonIn(t, lab.Provider, ln, filepath.Join(dir, "provider"), pArgs...)
	if after := natRules(t, lab); after != rulesBefore {
		t.Fatalf("provider rules after restart:\n%s\nbefore:\n%s", after, rulesBefore)
	}
	asBefore("after the provider was killed and restarted", true)

	// The consumer killed mid-session: the provider frees the slot.
	mustMystIn(t, lab.Provider, append(pd.args, "identity", "unlock", provider, "--passphrase-file", pass)...)
	svc = startService()
	mustMystIn(t, lab.Consumer, append(cd.args, "connect", provider, "--identity", consumer, "--service", "wireguard", "--kill-switch=false")...)
	cd.kill()
	mysttest.WaitFor(t, 40*time.Second, func() bool {
		ss, err := pd.client.Sessions(ctx)
		return err == nil && len(ss) == 0
	})
	mustMystIn(t, lab.Provider, append(pd.args, "service", "stop", svc)...)
	pd.stop(t)
	if after := natRules(t, lab); after != rulesBefore {
		t.Fatalf("provider rules at the end:\n%s\nbefore:\n%s", after, rulesBefore)
	}
	// The killed consumer left its resolver pointed at the tunnel (fail
	// closed); its next start restores it.
	startDaemonIn(t, lab.Consumer, ln, filepath.Join(dir, "consumer"))
	asBefore("at the end", true)
}
