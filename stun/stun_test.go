package stun

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestServerAndProbe(t *testing.T) {
	s, err := Listen(nil, "127.0.0.1:0", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := Probe(ctx, 0, s.Addrs(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if r.NAT != Public || r.Public.Port() != r.Local.Port() || len(r.Errors) != 0 {
		t.Fatalf("probe on loopback: %+v", r)
	}
	if u := s.URLs("x"); len(u) != 2 || !strings.HasPrefix(u[0], "stun:127.0.0.1:") {
		t.Fatalf("URLs: %v", u)
	}
}

// TestSilentAndGarbageServers: a server that says nothing and one that
// answers garbage give "unknown" with the reason, within the time given.
func TestSilentAndGarbageServers(t *testing.T) {
	silent, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	garbage, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer garbage.Close()
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := garbage.ReadFrom(buf)
			if err != nil {
				return
			}
			// The request echoed back (a STUN message, but a request, not
			// an answer), then noise.
			garbage.WriteTo(buf[:n], from)
			garbage.WriteTo([]byte("\x01\x01\x00\x00not stun at all"), from)
		}
	}()
	servers := []netip.AddrPort{silent.LocalAddr().(*net.UDPAddr).AddrPort(), garbage.LocalAddr().(*net.UDPAddr).AddrPort()}
	start := time.Now()
	r, err := Probe(context.Background(), 0, servers, 500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if r.NAT != Unknown || len(r.Errors) != 2 || !strings.Contains(r.Errors[0], "no STUN answer") {
		t.Fatalf("%+v", r)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("took %v", d)
	}
}

func TestClassify(t *testing.T) {
	ap := netip.MustParseAddrPort
	own := []netip.Addr{netip.MustParseAddr("192.168.1.5")}
	local := ap("0.0.0.0:4000")
	for _, c := range []struct {
		seen []netip.AddrPort
		want NAT
	}{
		{nil, Unknown},
		{[]netip.AddrPort{{}, {}}, Unknown},
		{[]netip.AddrPort{ap("192.168.1.5:4000"), ap("192.168.1.5:4000")}, Public},
		{[]netip.AddrPort{ap("192.168.1.5:4001"), ap("192.168.1.5:4001")}, Cone}, // own address, other port: a NAT on the host
		{[]netip.AddrPort{ap("198.18.0.7:4000"), ap("198.18.0.7:4000")}, Cone},   // a lab's "public" range is not special
		{[]netip.AddrPort{ap("198.18.0.7:4000"), {}}, Cone},
		{[]netip.AddrPort{ap("198.18.0.7:4000"), ap("198.18.0.7:4001")}, Symmetric},
	} {
		if _, got := Classify(local, c.seen, own); got != c.want {
			t.Errorf("Classify(%v) = %s, want %s", c.seen, got, c.want)
		}
	}
}

func TestReachable(t *testing.T) {
	for _, c := range []struct {
		p, c NAT
		want bool
	}{
		{Public, Symmetric, true}, {Mapped, Symmetric, true}, {Cone, Cone, true}, {Cone, Public, true},
		{Cone, Symmetric, false}, {Symmetric, Cone, false}, {Symmetric, Public, false}, {Unknown, Symmetric, true},
	} {
		if got := Reachable(c.p, c.c); got != c.want {
			t.Errorf("Reachable(%s, %s) = %v", c.p, c.c, got)
		}
	}
}

func TestParseURL(t *testing.T) {
	for in, want := range map[string]string{"stun:h": "h:3478", "stun:h:9": "h:9", "stun:[::1]:9": "[::1]:9", "stun:1.2.3.4": "1.2.3.4:3478"} {
		if got, err := ParseURL(in); err != nil || got != want {
			t.Errorf("ParseURL(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "h:1", "turn:h", "stun:", "stun:h:0", "stun:h:x", "stun://h"} {
		if _, err := ParseURL(bad); err == nil {
			t.Errorf("ParseURL(%q) accepted", bad)
		}
	}
}
