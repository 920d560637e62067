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

var secret = []byte("the relay operator's shared secret")

// TestLinkSurvivesRelayRestart: a link's relayed address carries a peer's
// packets both ways (after Permit; a stranger at another address gets
// nothing through); the relay restarts on its port; the
// link notices, allocates again, grants the same peers, says its new
// address, and carries packets again.
func TestLinkSurvivesRelayRestart(t *testing.T) {
	loop := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	srv, err := relay.Listen(relay.Config{Addr: "127.0.0.1:0", Secret: secret, AllowPeers: loop})
	if err != nil {
		t.Fatal(err)
	}
	addr := srv.Addr()
	defer func() { srv.Close() }()
	id := mysttest.NewSigner(t).Address()
	moved := make(chan netip.AddrPort, 4)
	l, err := relaylink.Open(context.Background(), relaylink.Config{URL: srv.URL(""), CheckEvery: 200 * time.Millisecond,
		OnMove: func(a netip.AddrPort) { moved <- a },
		Grant:  relay.GrantFor(secret, id, time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	peerAddr := peer.LocalAddr().(*net.UDPAddr).AddrPort()
	if err := l.Permit(peerAddr.Addr()); err != nil {
		t.Fatal(err)
	}
	roundTrip := func(relayed netip.AddrPort) {
		t.Helper()
		// The peer sends to the relayed address; the link reads it and
		// answers through the relay.
		got := make(chan error, 1)
		go func() {
			buf := make([]byte, 1500)
			n, from, err := l.ReadFrom(buf)
			if err == nil && (string(buf[:n]) != "ping" || from != peerAddr) {
				err = &net.AddrError{Err: "unexpected " + string(buf[:n]), Addr: from.String()}
			}
			if err == nil {
				err = l.WriteTo([]byte("pong"), from)
			}
			got <- err
		}()
		if _, err := peer.WriteToUDPAddrPort([]byte("ping"), relayed); err != nil {
			t.Fatal(err)
		}
		if err := <-got; err != nil {
			t.Fatal(err)
		}
		peer.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 1500)
		n, from, err := peer.ReadFromUDPAddrPort(buf)
		if err != nil || string(buf[:n]) != "pong" || from != relayed {
			t.Fatalf("answer through the relay: %q from %v, %v (want from %v)", buf[:n], from, err, relayed)
		}
	}
	// A stranger (another loopback address, no permission) first: the
	// relay drops its packet, so the link's next read is the peer's.
	stranger, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)})
	if err != nil {
		t.Fatal(err)
	}
	defer stranger.Close()
	stranger.WriteToUDPAddrPort([]byte("let me in"), l.Addr())
	time.Sleep(50 * time.Millisecond)
	first := l.Addr()
	roundTrip(first)

	srv.Close()
	if srv, err = relay.Listen(relay.Config{Addr: addr.String(), Secret: secret, AllowPeers: loop}); err != nil {
		t.Fatal(err)
	}
	var second netip.AddrPort
	select {
	case second = <-moved:
	case <-time.After(30 * time.Second):
		t.Fatal("the link did not allocate again within 30 s of the relay's restart")
	}
	if second != l.Addr() {
		t.Fatalf("OnMove said %v, Addr says %v", second, l.Addr())
	}
	roundTrip(second)
}
