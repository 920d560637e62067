package resolver

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/mystnode/myst/mysttest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestSystemRestoresExactly: Set points the file at the tunnel's resolver
// in place (same inode), Restore puts back every byte, and after a crash a
// new System finds the saved copy and restores it.
func TestSystemRestoresExactly(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "resolv.conf")
	orig := "# the host's own\nnameserver 198.18.1.53\nsearch lab.test\noptions edns0\n"
	if err := os.WriteFile(file, []byte(orig), 0o644); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(file)
	s := NewSystem(file, filepath.Join(dir, "state"))
	if err := s.Set(netip.MustParseAddr("198.19.0.1"), "tun0"); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(file)
	if !os.SameFile(before, after) {
		t.Fatal("resolv.conf was replaced, not edited in place")
	}
	got, _ := os.ReadFile(file)
	cfg, err := dns.ClientConfigFromFile(file)
	if err != nil || len(cfg.Servers) != 1 || cfg.Servers[0] != "198.19.0.1" {
		t.Fatalf("while set:\n%s", got)
	}
	if err := s.Restore(); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(file); string(got) != orig {
		t.Fatalf("restored %q, want %q", got, orig)
	}
	// A crash while set: the next start restores.
	if err := s.Set(netip.MustParseAddr("198.19.0.1"), "tun0"); err != nil {
		t.Fatal(err)
	}
	again := NewSystem(file, filepath.Join(dir, "state"))
	if did, err := again.Recover(); err != nil || !did {
		t.Fatalf("recover: %v, %v", did, err)
	}
	if got, _ := os.ReadFile(file); string(got) != orig {
		t.Fatalf("recovered %q, want %q", got, orig)
	}
	if did, err := again.Recover(); err != nil || did {
		t.Fatalf("second recover: %v, %v", did, err)
	}
}

// TestSystemUnreadable: a missing resolv.conf fails Set with its name, and
// nothing is saved that a later start would "restore".
func TestSystemUnreadable(t *testing.T) {
	dir := t.TempDir()
	s := NewSystem(filepath.Join(dir, "missing"), dir)
	if err := s.Set(netip.MustParseAddr("198.19.0.1"), "tun0"); err == nil {
		t.Fatal("Set on a missing file succeeded")
	}
	if did, _ := s.Recover(); did {
		t.Fatal("a failed Set left state behind")
	}
}

// testUpstream answers any A query with 192.0.2.7.
func testUpstream(t *testing.T, addr string) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		rr, _ := dns.NewRR(q.Question[0].Name + " 60 IN A 192.0.2.7")
		m.Answer = append(m.Answer, rr)
		w.WriteMsg(m)
	})}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return pc.LocalAddr().String()
}

func ask(t *testing.T, from, server string) (*dns.Msg, error) {
	t.Helper()
	c := &dns.Client{Timeout: 2 * time.Second, Dialer: &net.Dialer{LocalAddr: &net.UDPAddr{IP: net.ParseIP(from)}}}
	m := new(dns.Msg)
	m.SetQuestion("web.test.", dns.TypeA)
	r, _, err := c.Exchange(m, server)
	return r, err
}

// TestForwarderAnswersTunnelOnly: tunnel clients get answers from the
// upstream; anyone else is refused; with the upstream gone, SERVFAIL.
func TestForwarderAnswersTunnelOnly(t *testing.T) {
	if os.Geteuid() != 0 {
		// Port 53 is privileged.
		if os.Getenv("CI") != "" {
			t.Fatal("the forwarder test must run in CI, as root")
		}
		t.Skip("needs root to listen on port 53")
	}
	// Loopback addresses stand in for the tunnel: 127.77.0.0/24 is the
	// tunnel, .1 the provider, 127.0.0.1 an outsider.
	base := fmt.Sprintf("127.77.%d", os.Getpid()%200)
	up := testUpstream(t, base+".9:0")
	f := StartForwarder(netip.MustParseAddr(base+".1"), netip.MustParsePrefix(base+".0/24"), []string{up}, Policy{}, slog.New(slog.DiscardHandler))
	defer f.Close()
	server := base + ".1:53"
	var r *dns.Msg
	mysttest.WaitFor(t, 5*time.Second, func() bool {
		var err error
		r, err = ask(t, base+".2", server)
		return err == nil
	})
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		t.Fatalf("tunnel client: %v", r)
	}
	if r, err := ask(t, "127.0.0.1", server); err != nil || r.Rcode != dns.RcodeRefused {
		t.Fatalf("outsider: %v, %v", r, err)
	}
	if err := Probe(context.Background(), netip.MustParseAddr(base+".1"), "."); err == nil {
		// Probe asks from the host's own address (127.0.0.1 here): refused.
		t.Fatal("probe from outside the tunnel succeeded")
	}
	f2 := StartForwarder(netip.MustParseAddr(base+".3"), netip.MustParsePrefix(base+".0/24"), []string{base + ".9:1"}, Policy{}, slog.New(slog.DiscardHandler))
	defer f2.Close()
	mysttest.WaitFor(t, 10*time.Second, func() bool {
		r, err := ask(t, base+".2", base+".3:53")
		return err == nil && r.Rcode == dns.RcodeServerFailure
	})
}

// TestPolicyKeepsPrivate: names under the host's search domains and the
// private zones are not forwarded; answers pointing into the provider's
// networks (DNS rebinding) are refused unless the operator allows them.
func TestPolicyKeepsPrivate(t *testing.T) {
	p := Policy{Refuse: []netip.Prefix{netip.MustParsePrefix("192.168.0.0/16"), netip.MustParsePrefix("169.254.0.0/16"),
		netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("203.0.113.0/24")},
		Allow: []netip.Prefix{netip.MustParsePrefix("10.9.0.0/16")}, Private: []string{"home.example", "corp.example."}}
	for name, want := range map[string]bool{
		"nas.home.example.": true, "HOME.example": true, "x.corp.example.": true, "printer.local.": true, "router.lan.": true,
		"10.1.168.192.in-addr.arpa.": true, "254.169.254.169.in-addr.arpa.": true, "1.0.20.172.in-addr.arpa.": true,
		"example.com.": false, "home.example.com.": false, "7.2.0.192.in-addr.arpa.": false, "1.0.32.172.in-addr.arpa.": false,
	} {
		if got := p.private(name); got != want {
			t.Errorf("private(%q) = %v, want %v", name, got, want)
		}
	}
	answer := func(rrs ...string) *dns.Msg {
		m := new(dns.Msg)
		for _, s := range rrs {
			rr, err := dns.NewRR(s)
			if err != nil {
				t.Fatal(err)
			}
			m.Answer = append(m.Answer, rr)
		}
		return m
	}
	for _, c := range []struct {
		msg  *dns.Msg
		want string
	}{
		{answer("a.test. 60 IN A 192.0.2.7"), ""},
		{answer("a.test. 60 IN A 192.0.2.7", "a.test. 60 IN A 192.168.1.1"), "192.168.1.1"},
		{answer("meta.test. 60 IN A 169.254.169.254"), "169.254.169.254"},
		{answer("up.test. 60 IN A 203.0.113.5"), "203.0.113.5"}, // the uplink's subnet
		{answer("ok.test. 60 IN A 10.9.1.1"), ""},               // allowed
		{answer("no.test. 60 IN A 10.8.1.1"), "10.8.1.1"},
		{answer("v6.test. 60 IN AAAA fd00::1"), "fd00::1"},
		{answer("v6.test. 60 IN AAAA 2001:db8::1"), ""},
		{answer("m.test. 60 IN AAAA ::ffff:192.168.1.1"), "192.168.1.1"},
		{answer("c.test. 60 IN CNAME web.test."), ""},
	} {
		got := p.refused(c.msg)
		if (c.want == "" && got.IsValid()) || (c.want != "" && got.String() != c.want) {
			t.Errorf("refused(%v) = %v, want %q", c.msg.Answer, got, c.want)
		}
	}
}
