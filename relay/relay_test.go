package relay

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/mystnode/myst/mysttest"
	"github.com/mystnode/myst/relaylink"
	"github.com/mystnode/myst/stun"
	"github.com/pion/turn/v4"
)

var secret = []byte("a shared secret of the relay's operator")

// client allocates on the relay at srv with user and password.
func client(t *testing.T, srv netip.AddrPort, user, password string) (*turn.Client, net.PacketConn, error) {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c, err := turn.NewClient(&turn.ClientConfig{STUNServerAddr: srv.String(), TURNServerAddr: srv.String(), Conn: conn,
		Username: user, Password: password, Realm: Realm, LoggerFactory: quiet{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	relayed, err := c.Allocate()
	if err == nil {
		t.Cleanup(func() { relayed.Close() })
	}
	return c, relayed, err
}

// TestRelay: a registered identity's credentials allocate a relayed
// address that carries packets both ways; wrong, expired or identity-less
// credentials are refused; an identity's allocations are capped; STUN
// binding keeps working on the relay's port.
func TestRelay(t *testing.T) {
	srv, err := Listen(Config{Addr: "127.0.0.1:0", Secret: secret, MaxAllocations: 2, AllowPeers: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	id := mysttest.NewSigner(t).Address()

	// A peer that echoes what it gets.
	peer, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := peer.ReadFrom(buf)
			if err != nil {
				return
			}
			peer.WriteTo(buf[:n], from)
		}
	}()

	user, pass, err := Credentials(secret, id, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	_, relayed, err := client(t, srv.Addr(), user, pass)
	if err != nil {
		t.Fatalf("allocate with good credentials: %v", err)
	}
	if _, err := relayed.WriteTo([]byte("through the relay"), peer.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	relayed.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 1500)
	n, from, err := relayed.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "through the relay" || from.String() != peer.LocalAddr().String() {
		t.Fatalf("echo through the relay: %q from %v, %v", buf[:n], from, err)
	}
	if got := srv.Allocations(id); got != 1 {
		t.Fatalf("allocations of the identity: %d", got)
	}

	// Refused: a wrong password, expired credentials, a user name that
	// names no identity (even with the secret's HMAC).
	expiredUser, expiredPass, _ := Credentials(secret, id, -time.Minute)
	noID, noIDPass, _ := turn.GenerateLongTermTURNRESTCredentials(string(secret), "bob", time.Minute)
	for name, c := range map[string][2]string{
		"wrong password": {user, "bm90IHRoZSBwYXNzd29yZA=="},
		"expired":        {expiredUser, expiredPass},
		"no identity":    {noID, noIDPass},
	} {
		if _, _, err := client(t, srv.Addr(), c[0], c[1]); err == nil {
			t.Errorf("%s: allocated", name)
		}
	}

	// The cap: a second allocation of the identity, then none.
	if _, _, err := client(t, srv.Addr(), user, pass); err != nil {
		t.Fatalf("second allocation: %v", err)
	}
	if _, _, err := client(t, srv.Addr(), user, pass); err == nil || !strings.Contains(err.Error(), "486") {
		t.Fatalf("third allocation over the cap of 2: %v", err)
	}

	// STUN on the same port.
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	seen, err := stun.Ask(ctx, conn, srv.Addr())
	if err != nil || seen != conn.LocalAddr().(*net.UDPAddr).AddrPort() {
		t.Fatalf("STUN binding on the relay's port: %v, %v", seen, err)
	}
}

// TestIssue: credentials go to registered identities that signed a fresh
// request; a forged, replayed-late or unregistered request gets none, and
// says why.
func TestIssue(t *testing.T) {
	alice, mallory := mysttest.NewSigner(t), mysttest.NewSigner(t)
	is := &Issuer{Secret: secret, URLs: []string{"turn:127.0.0.1:3478"}, Registered: func(_ context.Context, id common.Address) (bool, error) {
		return id == alice.Address(), nil
	}}
	now := time.Now()
	r, err := relaylink.SignRequest(alice, now)
	if err != nil {
		t.Fatal(err)
	}
	g, err := is.Issue(context.Background(), r, now)
	if err != nil || !strings.HasSuffix(g.Username, ":"+strings.ToLower(alice.Address().Hex())) || g.Password == "" {
		t.Fatalf("alice: %+v, %v", g, err)
	}
	forged := r
	forged.ID = mallory.Address() // alice's signature, mallory's name
	late, _ := relaylink.SignRequest(alice, now.Add(-10*time.Minute))
	unregistered, _ := relaylink.SignRequest(mallory, now)
	for name, c := range map[string]struct {
		r    relaylink.Request
		want error
	}{
		"forged":       {forged, ErrBadRequest},
		"too old":      {late, ErrBadRequest},
		"unregistered": {unregistered, ErrNotRegistered},
	} {
		if _, err := is.Issue(context.Background(), c.r, now); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
	// Over the broker: the request must be the sender's own.
	body, _ := json.Marshal(r)
	var a relaylink.Answer
	if err := json.Unmarshal(is.Answer(context.Background(), mallory.Address(), body), &a); err != nil || a.Grant != nil || !strings.Contains(a.Error, "came from "+mallory.Address().Hex()) {
		t.Fatalf("alice's request sent by mallory: %+v %v", a, err)
	}
	if err := json.Unmarshal(is.Answer(context.Background(), alice.Address(), []byte("{")), &a); err != nil || a.Grant != nil || !strings.Contains(a.Error, "undecodable") {
		t.Fatalf("garbage: %+v %v", a, err)
	}
	// A flood from one identity: its burst, then refused.
	flood := &Issuer{Secret: secret, Burst: 3, Every: time.Hour, Registered: is.Registered}
	for i := range 5 {
		_, err := flood.Issue(context.Background(), r, now)
		if (i < 3) != (err == nil) || (i >= 3 && !errors.Is(err, ErrTooOften)) {
			t.Fatalf("request %d of a flood: %v", i+1, err)
		}
	}
}

// TestRelayRefusesPrivatePeers: by default a relay sends nothing to its
// host's loopback or private networks (a registered stranger would reach
// the operator's own services through it), nor to itself.
func TestRelayRefusesPrivatePeers(t *testing.T) {
	srv, err := Listen(Config{Addr: "127.0.0.1:0", Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	peer, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	user, pass, _ := Credentials(secret, mysttest.NewSigner(t).Address(), time.Minute)
	_, relayed, err := client(t, srv.Addr(), user, pass)
	if err != nil {
		t.Fatal(err)
	}
	for _, to := range []string{peer.LocalAddr().String(), "10.1.2.3:53", "169.254.169.254:80", "192.168.1.1:53"} {
		ua, _ := net.ResolveUDPAddr("udp4", to)
		if _, err := relayed.WriteTo([]byte("to the operator's network"), ua); err == nil {
			t.Errorf("the relay took a packet for %s", to)
		}
	}
	peer.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if n, _, err := peer.ReadFrom(make([]byte, 100)); err == nil {
		t.Fatalf("a loopback peer got %d bytes through the relay", n)
	}
	for a, want := range map[string]bool{"198.51.100.7": true, "127.0.0.1": false, "172.20.0.1": false, "100.100.1.1": false} {
		if got := srv.peerAllowed(netip.MustParseAddr(a)); got != want {
			t.Errorf("peer %s allowed %v, want %v", a, got, want)
		}
	}
}

// TestRelayMaxMbit: an identity's allocations carry at most MaxMbit; what
// goes over is dropped and counted, and other clients' STUN still works.
func TestRelayMaxMbit(t *testing.T) {
	srv, err := Listen(Config{Addr: "127.0.0.1:0", Secret: secret, MaxMbit: 1, AllowPeers: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	peer, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	user, pass, _ := Credentials(secret, mysttest.NewSigner(t).Address(), time.Hour)
	_, relayed, err := client(t, srv.Addr(), user, pass)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan int)
	go func() {
		total := 0
		buf := make([]byte, 2000)
		for {
			peer.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			n, _, err := peer.ReadFrom(buf)
			if err != nil {
				got <- total
				return
			}
			total += n
		}
	}()
	// 1 MB at once: at 1 Mbit/s (125 kB/s, 64 kB of burst) most is dropped.
	pkt := make([]byte, 1000)
	for range 1000 {
		relayed.WriteTo(pkt, peer.LocalAddr())
	}
	total := <-got
	t.Logf("1 MB sent at once through a 1 Mbit/s identity: %d bytes arrived, %d dropped", total, srv.Dropped())
	if total > 300_000 || srv.Dropped() == 0 {
		t.Fatalf("%d bytes arrived, %d dropped: the cap does not hold", total, srv.Dropped())
	}
}
