package wireguard

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mystnode/myst/mysttest"
	"github.com/mystnode/myst/relay"
	"github.com/mystnode/myst/relaylink"
	"github.com/mystnode/myst/session"
)

// TestRelayedHandshake: a provider with a relay allocation answers a
// consumer that asks for the relay with the relayed address, lets the
// consumer's address through, and the handshake completes through the
// relay (the device's bind reads and answers on the allocation). A
// consumer asking a provider without a relay, or asking without its
// public address, is refused with the reason.
func TestRelayedHandshake(t *testing.T) {
	requireTUN(t)
	secret := []byte("the relay operator's shared secret")
	srv, err := relay.Listen(relay.Config{Addr: "127.0.0.1:0", Secret: secret, AllowPeers: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	id := mysttest.NewSigner(t).Address()
	link, err := relaylink.Open(context.Background(), relaylink.Config{URL: srv.URL(""), Grant: relay.GrantFor(secret, id, time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	defer link.Close()

	subnet := netip.MustParsePrefix(fmt.Sprintf("198.19.%d.0/24", 150+os.Getpid()%50))
	prov, err := provide(context.Background(), session.ProvideEnv{ServiceID: randomName("t"), Dir: t.TempDir(), PublicIP: netip.MustParseAddr("127.0.0.1"),
		Subnet: subnet, Relay: link, Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	defer prov.Close()
	p := prov.(*provisioner)
	plain := startProvider(t, 0) // no relay

	ck, _ := NewPrivateKey()
	c, err := newDevice(randomName("tc"), ck, 0, nil, discard)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	cport, _ := c.port()
	ctx := mysttest.Ctx(t, 20*time.Second)
	ask := func(cands ...string) json.RawMessage {
		b, _ := json.Marshal(ConsumerConfig{PublicKey: ck.Public().String(), Candidates: cands, Relay: true})
		return b
	}
	if _, err := plain.Start(ctx, session.Info{ID: "x"}, ask(fmt.Sprintf("198.18.0.9:%d", cport))); err == nil || !strings.Contains(err.Error(), "no relay allocation") {
		t.Fatalf("relay asked of a provider without one: %v", err)
	}
	if _, err := p.Start(ctx, session.Info{ID: "x"}, ask()); err == nil || !strings.Contains(err.Error(), "no public address") {
		t.Fatalf("relay asked without candidates: %v", err)
	}
	// Loopback candidates are refused as punch targets; the lab's public
	// address stands for the consumer's here.
	raw, err := p.Start(ctx, session.Info{ID: "s1"}, ask(fmt.Sprintf("198.18.0.9:%d", cport)))
	if err != nil {
		t.Fatal(err)
	}
	if err := link.Permit(netip.MustParseAddr("127.0.0.1")); err != nil {
		t.Fatal(err)
	}
	var pc ProviderConfig
	json.Unmarshal(raw, &pc)
	if pc.Path != PathRelayed || pc.Endpoint != link.Addr().String() {
		t.Fatalf("provider's answer %+v, want the relayed address %v", pc, link.Addr())
	}
	if err := c.set(fmt.Sprintf("public_key=%s\nendpoint=%s\nallowed_ip=%s/32\npersistent_keepalive_interval=1\n", p.pub.hex(), pc.Endpoint, subnet.Addr().Next())); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, _ := c.get()
		if st.peers[p.pub].lastHandshake != 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no handshake through the relay within 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if in, out := p.Bytes("s1"); in == 0 || out == 0 {
		t.Fatalf("provider's counters after a relayed handshake: in %d out %d", in, out)
	}
	p.Stop(session.Info{ID: "s1"})
}

// TestFollowRefusesElsewhere: a provider's session-move can point a
// relayed consumer's tunnel only at another port of the same relay host,
// with the same provider key; anything else is refused and the endpoint
// stays.
func TestFollowRefusesElsewhere(t *testing.T) {
	requireTUN(t)
	ck, _ := NewPrivateKey()
	dev, err := newDevice(randomName("tf"), ck, 0, nil, discard)
	if err != nil {
		t.Fatal(err)
	}
	defer dev.close()
	pk, _ := NewPrivateKey()
	relayed := netip.MustParseAddrPort("198.18.0.1:50000")
	if err := dev.set(fmt.Sprintf("public_key=%s\nendpoint=%s\nallowed_ip=0.0.0.0/0\n", pk.Public().hex(), relayed)); err != nil {
		t.Fatal(err)
	}
	c := &connector{env: session.ConnectEnv{Relay: true, Logger: discard}, dev: dev, provider: pk.Public(), endpoint: relayed}
	move := func(key Key, endpoint, path string) error {
		b, _ := json.Marshal(ProviderConfig{PublicKey: key.String(), Endpoint: endpoint, Path: path})
		return c.Follow(b)
	}
	other, _ := NewPrivateKey()
	for name, err := range map[string]error{
		"another host":  move(pk.Public(), "203.0.113.9:50001", PathRelayed),
		"another key":   move(other.Public(), "198.18.0.1:50001", PathRelayed),
		"a direct path": move(pk.Public(), "198.18.0.1:50001", PathDirect),
	} {
		if err == nil {
			t.Errorf("%s: followed", name)
		}
	}
	if c.endpoint != relayed {
		t.Fatalf("endpoint moved to %v by a refused move", c.endpoint)
	}
	if err := move(pk.Public(), "198.18.0.1:50001", PathRelayed); err != nil || c.endpoint.Port() != 50001 {
		t.Fatalf("a move on the same relay host: %v, endpoint %v", err, c.endpoint)
	}
}
