package wireguard

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mystnode/myst/mysttest"
	"github.com/mystnode/myst/session"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// requireTUN fails in CI and skips elsewhere when this machine can't make
// TUN interfaces (not root, no /dev/net/tun).
func requireTUN(t *testing.T) {
	t.Helper()
	var err error
	if os.Geteuid() != 0 {
		err = fmt.Errorf("not root")
	} else if _, serr := os.Stat("/dev/net/tun"); serr != nil {
		err = serr
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("the WireGuard tests must run in CI: %v", err)
		}
		t.Skipf("needs root and /dev/net/tun: %v", err)
	}
}

var discard = slog.New(slog.DiscardHandler)

func startProvider(t *testing.T, port int) *provisioner {
	t.Helper()
	// A subnet of the test's own, from the benchmarking range.
	subnet := netip.MustParsePrefix(fmt.Sprintf("198.19.%d.0/24", 200+os.Getpid()%50))
	p, err := provide(context.Background(), session.ProvideEnv{ServiceID: randomName("t"), Dir: t.TempDir(), PublicIP: netip.MustParseAddr("127.0.0.1"),
		Port: port, Subnet: subnet, Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p.(*provisioner)
}

func consumerConfig(k Key) json.RawMessage {
	b, _ := json.Marshal(ConsumerConfig{PublicKey: k.Public().String()})
	return b
}

// TestProvisionerRefusesBadKeys: a malformed key, the zero key, and a key
// another live session holds are refused; nothing is added for them.
func TestProvisionerRefusesBadKeys(t *testing.T) {
	requireTUN(t)
	p := startProvider(t, 0)
	ctx := mysttest.Ctx(t, 10*time.Second)
	for _, raw := range []string{`{"public_key":"not base64!"}`, `{"public_key":"AAAA"}`, `{"public_key":"` + Key{}.String() + `"}`, `{}`, `[`} {
		if _, err := p.Start(ctx, session.Info{ID: "s-bad"}, json.RawMessage(raw)); err == nil {
			t.Fatalf("config %s accepted", raw)
		}
	}
	k, _ := NewPrivateKey()
	if _, err := p.Start(ctx, session.Info{ID: "s1"}, consumerConfig(k)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Start(ctx, session.Info{ID: "s2"}, consumerConfig(k)); err == nil || !strings.Contains(err.Error(), "already used") {
		t.Fatalf("second session with the same key: %v", err)
	}
	st, _ := p.dev.get()
	if len(st.peers) != 1 {
		t.Fatalf("%d peers after one good session and refusals", len(st.peers))
	}
	p.Stop(session.Info{ID: "s1"})
	if st, _ := p.dev.get(); len(st.peers) != 0 {
		t.Fatalf("%d peers after the session stopped", len(st.peers))
	}
}

// TestHandshakeNeedsLiveSession: a key with no live session gets no
// handshake; with a session it gets one; after the session it gets none
// again.
func TestHandshakeNeedsLiveSession(t *testing.T) {
	requireTUN(t)
	p := startProvider(t, 0)
	ck, _ := NewPrivateKey()
	c, err := newDevice(randomName("tc"), ck, 0, nil, discard)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	provPub := p.pub
	handshake := func(within time.Duration) bool {
		// Re-adding the peer starts a fresh handshake.
		c.set(fmt.Sprintf("public_key=%s\nremove=true\n", provPub.hex()))
		if err := c.set(fmt.Sprintf("public_key=%s\nendpoint=%s\nallowed_ip=198.19.255.1/32\npersistent_keepalive_interval=1\n", provPub.hex(), p.endpoint)); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(within)
		for time.Now().Before(deadline) {
			if st, _ := c.get(); st.peers[provPub].lastHandshake != 0 {
				return true
			}
			time.Sleep(10 * time.Millisecond)
		}
		return false
	}
	if handshake(2 * time.Second) {
		t.Fatal("a key without a session completed a handshake")
	}
	ctx := mysttest.Ctx(t, 10*time.Second)
	if _, err := p.Start(ctx, session.Info{ID: "s1"}, consumerConfig(ck)); err != nil {
		t.Fatal(err)
	}
	if !handshake(5 * time.Second) {
		t.Fatal("no handshake for a live session")
	}
	p.Stop(session.Info{ID: "s1"})
	if handshake(2 * time.Second) {
		t.Fatal("a handshake after the session ended")
	}
}

// TestPortInUse: a service on a taken UDP port fails, naming the port,
// and leaves no interface behind.
func TestPortInUse(t *testing.T) {
	requireTUN(t)
	pc, err := net.ListenPacket("udp", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	port := pc.LocalAddr().(*net.UDPAddr).Port
	before, _ := net.Interfaces()
	_, err = provide(context.Background(), session.ProvideEnv{ServiceID: randomName("t"), Dir: t.TempDir(), PublicIP: netip.MustParseAddr("127.0.0.1"),
		Port: port, Subnet: netip.MustParsePrefix("198.19.254.0/24"), Logger: discard})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprint(port)) {
		t.Fatalf("service on a taken port: %v", err)
	}
	after, _ := net.Interfaces()
	if len(after) != len(before) {
		t.Fatalf("%d interfaces before, %d after the failed start", len(before), len(after))
	}
}

func TestParseKey(t *testing.T) {
	k, _ := NewPrivateKey()
	got, err := ParseKey(k.Public().String())
	if err != nil || got != k.Public() {
		t.Fatalf("round trip: %v", err)
	}
	for _, s := range []string{"", "short", k.Public().String() + "=", Key{}.String()} {
		if _, err := ParseKey(s); err == nil {
			t.Fatalf("%q parsed", s)
		}
	}
}
