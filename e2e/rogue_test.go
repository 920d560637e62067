package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mystnode/myst/netlab"
)

// buildRogue builds myst with the rogueprovider tag: a provider whose
// configs for consumers come from $MYST_ROGUE_FILE.
func buildRogue(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "myst-rogue")
	args := append(append([]string{"build", "-tags", "rogueprovider"}, buildFlags...), "-o", bin, "../cmd/myst")
	if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		t.Fatalf("build the rogue provider: %v\n%s", err, out)
	}
	return bin
}

// TestRogueProviderConfigs: a provider that sends each hostile tunnel
// config (an address on the consumer's LAN, its router's address, a
// resolver on its LAN or its loopback) gets each refused with the field
// and the reason, and the consumer's routes and addresses are as before;
// a tiny MTU pushed over openvpn is not taken.
func TestRogueProviderConfigs(t *testing.T) {
	lab := requireLab(t)
	web := startWebHost(t, lab)
	rogue := buildRogue(t)
	dir := t.TempDir()
	rogueFile := filepath.Join(dir, "rogue.json")
	t.Setenv("MYST_ROGUE_FILE", rogueFile)
	setRogue := func(v any) {
		t.Helper()
		b, _ := json.Marshal(v)
		if err := os.WriteFile(rogueFile, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	setRogue(map[string]any{})

	ln := startLocalnetIn(t, lab.Provider, netlab.ProviderIP)
	pass := writeFile(t, dir, "pass", "pw\n")
	provider := newIdentityIn(t, lab.Provider, ln, filepath.Join(dir, "provider"), pass, true)
	consumer := newIdentityIn(t, lab.Consumer, ln, filepath.Join(dir, "consumer"), pass, true)
	pd := startDaemonOf(t, rogue, lab.Provider, ln, filepath.Join(dir, "provider"), "--public-ip", netlab.ProviderIP, "--wireguard-port", "0",
		"--wireguard-subnet", "198.19.0.0/17", "--openvpn-port", "0", "--openvpn-subnet", "198.19.128.0/17", "--country", "DE")
	cd := startDaemonIn(t, lab.Consumer, ln, filepath.Join(dir, "consumer"))
	mustMystIn(t, lab.Provider, append(pd.args, "identity", "unlock", provider, "--passphrase-file", pass)...)
	mustMystIn(t, lab.Consumer, append(cd.args, "identity", "unlock", consumer, "--passphrase-file", pass)...)
	settled(t, lab)
	routes := func() string {
		return snapshot(t, lab, lab.Consumer, "ip", "route", "show", "table", "all") + snapshot(t, lab, lab.Consumer, "ip", "-4", "addr")
	}
	before := routes()
	connect := func(typ string) result {
		return mystIn(t, lab.Consumer, append(cd.args, "connect", provider, "--identity", consumer, "--service", typ)...)
	}

	svc := mustMystIn(t, lab.Provider, append(pd.args, "service", "start", "wireguard", "--identity", provider)...).lastLine()
	for _, c := range []struct {
		what   string
		config map[string]string
		want   string
	}{
		{"an address on the consumer's LAN", map[string]string{"address": "198.18.1.130/32"}, "address 198.18.1.130/32: overlaps 198.18.1.0/24"},
		{"the consumer's router's address", map[string]string{"address": "198.18.1.1/32"}, "overlaps 198.18.1.0/24"},
		{"a /25 more specific than the consumer's LAN", map[string]string{"address": "198.18.1.130/25"}, "address \"198.18.1.130/25\" is not an IPv4 /32"},
		{"a resolver on the consumer's LAN", map[string]string{"dns": netlab.ConsumerResolverIP}, "dns " + netlab.ConsumerResolverIP + ": on 198.18.1.0/24"},
		{"a resolver on the consumer's loopback", map[string]string{"dns": "127.0.0.53"}, "dns 127.0.0.53"},
	} {
		setRogue(map[string]any{"wireguard": c.config})
		r := connect("wireguard")
		if r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("wireguard, %s: exit %d, %q; want refused with %q", c.what, r.code, r.stderr, c.want)
		}
		if after := routes(); after != before {
			t.Fatalf("wireguard, %s: the consumer's routes and addresses changed:\n%s\nbefore:\n%s", c.what, after, before)
		}
		t.Logf("wireguard, %s: %s", c.what, strings.TrimSpace(lastLineOf(r.stderr)))
	}
	// A sane config again: connected, the web host reached.
	setRogue(map[string]any{})
	if r := connect("wireguard"); r.code != 0 {
		t.Fatalf("wireguard, a sane config: %s", r.stderr)
	}
	if !reaches(lab, web.url) {
		t.Fatal("wireguard, a sane config: the web host is not reached")
	}
	mustMystIn(t, lab.Consumer, append(cd.args, "disconnect")...)
	mustMystIn(t, lab.Provider, append(pd.args, "service", "stop", svc)...)

	// openvpn applies what it pulls itself: the result is checked at once
	// and the tunnel taken down.
	for _, c := range []struct {
		what   string
		client []string
		want   string
	}{
		{"an address on the consumer's LAN", []string{"ifconfig-push 198.18.1.130 255.255.255.0"}, "overlaps 198.18.1.0/24"},
	} {
		setRogue(map[string]any{"openvpn_client": c.client})
		svc := mustMystIn(t, lab.Provider, append(pd.args, "service", "start", "openvpn", "--identity", provider)...).lastLine()
		r := connect("openvpn")
		if r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("openvpn, %s: exit %d, %q; want refused with %q", c.what, r.code, r.stderr, c.want)
			mystIn(t, lab.Consumer, append(cd.args, "disconnect")...)
		}
		if after := routes(); after != before {
			t.Fatalf("openvpn, %s: the consumer's routes and addresses changed:\n%s\nbefore:\n%s", c.what, after, before)
		}
		t.Logf("openvpn, %s: %s", c.what, strings.TrimSpace(lastLineOf(r.stderr)))
		mustMystIn(t, lab.Provider, append(pd.args, "service", "stop", svc)...)
	}
	// A tiny MTU pushed is not taken: the tunnel keeps 1500 and works.
	setRogue(map[string]any{"openvpn": []string{`push "tun-mtu 576"`}})
	svc = mustMystIn(t, lab.Provider, append(pd.args, "service", "start", "openvpn", "--identity", provider)...).lastLine()
	if r := connect("openvpn"); r.code != 0 {
		t.Fatalf("openvpn, a pushed tun-mtu 576: %s", r.stderr)
	}
	if link := snapshot(t, lab, lab.Consumer, "ip", "-o", "link", "show"); !strings.Contains(link, "mvpnc") || strings.Contains(link, "mtu 576") {
		t.Fatalf("openvpn, a pushed tun-mtu 576: the tunnel's link is\n%s", link)
	}
	if !reaches(lab, web.url) {
		t.Fatal("openvpn, a pushed tun-mtu 576: the web host is not reached")
	}
	mustMystIn(t, lab.Consumer, append(cd.args, "disconnect")...)
	mustMystIn(t, lab.Provider, append(pd.args, "service", "stop", svc)...)
}

func lastLineOf(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
