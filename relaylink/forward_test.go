package relaylink_test

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/mystnode/myst/mysttest"
	"github.com/mystnode/myst/relay"
	"github.com/mystnode/myst/relaylink"
)

// TestForward: two peers send to a link's relayed address; a local UDP
// server (standing in for openvpn) sees each from a socket of its own and
// its answers reach the right peer through the relay.
func TestForward(t *testing.T) {
	srv, err := relay.Listen(relay.Config{Addr: "127.0.0.1:0", Secret: secret, AllowPeers: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	id := mysttest.NewSigner(t).Address()
	l, err := relaylink.Open(context.Background(), relaylink.Config{URL: srv.URL(""), Grant: relay.GrantFor(secret, id, time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// The local server answers "<what it got> from <the port it came from>".
	server, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := server.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			server.WriteToUDPAddrPort(append(buf[:n:n], []byte(" from "+from.String())...), from)
		}
	}()
	f := relaylink.Forward(l, server.LocalAddr().(*net.UDPAddr).AddrPort(), nil)
	defer f.Close()
	if err := l.Permit(netip.MustParseAddr("127.0.0.1")); err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, name := range []string{"alice", "bob"} {
		peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		defer peer.Close()
		for range 2 {
			if _, err := peer.WriteToUDPAddrPort([]byte(name), l.Addr()); err != nil {
				t.Fatal(err)
			}
			peer.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 1500)
			n, from, err := peer.ReadFromUDPAddrPort(buf)
			if err != nil || from != l.Addr() {
				t.Fatalf("%s: answer %q from %v, %v", name, buf[:n], from, err)
			}
			got := string(buf[:n])
			if prev, ok := seen[name]; ok && prev != got {
				t.Fatalf("%s came from two sockets: %q then %q", name, prev, got)
			}
			seen[name] = got
		}
	}
	if seen["alice"] == seen["bob"] {
		t.Fatalf("both peers share a socket: %q", seen["alice"])
	}
	if f.Peers() != 2 {
		t.Fatalf("%d peers, want 2", f.Peers())
	}
}
