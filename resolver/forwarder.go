// Package resolver keeps a consumer's names inside its tunnel: the
// provider's Forwarder answers DNS on the tunnel address, for tunnel
// addresses only, with the provider host's own resolver; and the
// consumer's System points the host's resolver at it while connected (in
// /etc/resolv.conf edited in place, since it may be a bind mount, or
// through resolvconf or systemd-resolved where the host uses them) and
// undoes exactly that on disconnect, daemon exit, and at the next start
// after a crash.
package resolver

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Forwarder is a provider's DNS forwarder on one tunnel address.
type Forwarder struct {
	addr     netip.Addr
	allowed  netip.Prefix
	upstream []string // host:port
	policy   Policy
	logger   *slog.Logger
	client   *dns.Client

	mu      sync.Mutex
	servers []*dns.Server
	closed  bool
	stop    chan struct{}
	wg      sync.WaitGroup
}

// Policy is what a forwarder keeps from consumers: the provider host's
// private names and addresses.
type Policy struct {
	// Refuse: an answer holding an address in one of these is refused
	// (a name that points into the provider's networks: DNS rebinding),
	// unless the address is in Allow.
	Refuse, Allow []netip.Prefix
	// Private: names under these domains are not forwarded (the host's
	// search domains: its split-horizon zones).
	Private []string
}

// privateZones are never forwarded: names only a local network answers,
// and reverse lookups of the private ranges (they name the LAN's hosts).
var privateZones = []string{"local.", "localhost.", "internal.", "lan.", "home.arpa.", "intranet.", "corp.", "private.",
	"10.in-addr.arpa.", "168.192.in-addr.arpa.", "254.169.in-addr.arpa.", "127.in-addr.arpa.",
	"16.172.in-addr.arpa.", "17.172.in-addr.arpa.", "18.172.in-addr.arpa.", "19.172.in-addr.arpa.", "20.172.in-addr.arpa.",
	"21.172.in-addr.arpa.", "22.172.in-addr.arpa.", "23.172.in-addr.arpa.", "24.172.in-addr.arpa.", "25.172.in-addr.arpa.",
	"26.172.in-addr.arpa.", "27.172.in-addr.arpa.", "28.172.in-addr.arpa.", "29.172.in-addr.arpa.", "30.172.in-addr.arpa.",
	"31.172.in-addr.arpa.", "d.f.ip6.arpa.", "c.f.ip6.arpa.", "8.e.f.ip6.arpa.", "9.e.f.ip6.arpa.", "a.e.f.ip6.arpa.", "b.e.f.ip6.arpa."}

// privateV6 are IPv6 ranges an answer must not point into (tunnels carry
// IPv4, but a dual-stack consumer may try the name outside them).
var privateV6 = []netip.Prefix{netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("fc00::/7"), netip.MustParsePrefix("fe80::/10"),
	netip.MustParsePrefix("::/128")}

// private says whether name is under a zone the forwarder keeps to the host.
func (p Policy) private(name string) bool {
	name = dns.CanonicalName(name)
	for _, z := range append(privateZones, p.Private...) {
		if dns.IsSubDomain(dns.CanonicalName(z), name) {
			return true
		}
	}
	return false
}

// refused returns the first address of r's answers that points into the
// provider's networks (invalid: none).
func (p Policy) refused(r *dns.Msg) netip.Addr {
	in := func(a netip.Addr, ps []netip.Prefix) bool {
		for _, pr := range ps {
			if pr.Contains(a) {
				return true
			}
		}
		return false
	}
	for _, rr := range append(append([]dns.RR{}, r.Answer...), r.Extra...) {
		var ip net.IP
		switch v := rr.(type) {
		case *dns.A:
			ip = v.A
		case *dns.AAAA:
			ip = v.AAAA
		default:
			continue
		}
		a, ok := netip.AddrFromSlice(ip)
		if !ok {
			continue
		}
		a = a.Unmap()
		if in(a, p.Allow) {
			continue
		}
		if (a.Is4() && in(a, p.Refuse)) || (a.Is6() && in(a, privateV6)) {
			return a
		}
	}
	return netip.Addr{}
}

// SearchDomains reads the search domains of a resolv.conf file.
func SearchDomains(path string) []string {
	cfg, err := dns.ClientConfigFromFile(path)
	if err != nil {
		return nil
	}
	return cfg.Search
}

// Upstreams reads the nameservers of a resolv.conf file as host:port.
func Upstreams(path string) ([]string, error) {
	cfg, err := dns.ClientConfigFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the resolver of this host (%s): %w", path, err)
	}
	var out []string
	for _, s := range cfg.Servers {
		out = append(out, net.JoinHostPort(s, cfg.Port))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s names no nameserver", path)
	}
	return out, nil
}

// StartForwarder answers DNS on addr:53 (UDP and TCP) for clients in
// allowed only, asking upstream, keeping what policy names from them. The
// tunnel interface holding addr may come up a moment later (openvpn
// configures it after it starts): the forwarder keeps trying to bind for
// a while.
func StartForwarder(addr netip.Addr, allowed netip.Prefix, upstream []string, policy Policy, logger *slog.Logger) *Forwarder {
	f := &Forwarder{addr: addr, allowed: allowed, upstream: upstream, policy: policy, logger: logger,
		client: &dns.Client{Timeout: 3 * time.Second}, stop: make(chan struct{})}
	f.wg.Add(1)
	go f.bind()
	return f
}

func (f *Forwarder) bind() {
	defer f.wg.Done()
	hp := net.JoinHostPort(f.addr.String(), "53")
	for wait := 10 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		pc, err := net.ListenPacket("udp", hp)
		if err == nil {
			ln, terr := net.Listen("tcp", hp)
			if terr == nil {
				f.serve(&dns.Server{PacketConn: pc, Handler: f}, &dns.Server{Listener: ln, Handler: f})
				return
			}
			pc.Close()
			err = terr
		}
		select {
		case <-f.stop:
			return
		case <-time.After(wait):
		}
		if wait == time.Second {
			f.logger.Debug("DNS forwarder waits for its address", "addr", hp, "err", err)
		}
	}
}

func (f *Forwarder) serve(servers ...*dns.Server) {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		for _, s := range servers {
			if s.PacketConn != nil {
				s.PacketConn.Close()
			}
			if s.Listener != nil {
				s.Listener.Close()
			}
		}
		return
	}
	f.servers = servers
	f.mu.Unlock()
	for _, s := range servers {
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			s.ActivateAndServe()
		}()
	}
	f.logger.Info("DNS forwarder answering tunnel clients", "addr", f.addr, "upstream", strings.Join(f.upstream, ","))
}

// ServeDNS answers one query: refused unless it comes from the tunnel.
func (f *Forwarder) ServeDNS(w dns.ResponseWriter, q *dns.Msg) {
	src, _ := netip.ParseAddrPort(w.RemoteAddr().String())
	if !f.allowed.Contains(src.Addr().Unmap()) {
		m := new(dns.Msg)
		m.SetRcode(q, dns.RcodeRefused)
		w.WriteMsg(m)
		return
	}
	if len(q.Question) != 1 || f.policy.private(q.Question[0].Name) {
		m := new(dns.Msg)
		m.SetRcode(q, dns.RcodeRefused)
		w.WriteMsg(m)
		return
	}
	network := "udp"
	if _, ok := w.RemoteAddr().(*net.TCPAddr); ok {
		network = "tcp"
	}
	c := *f.client
	c.Net = network
	for _, up := range f.upstream {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		r, _, err := c.ExchangeContext(ctx, q, up)
		cancel()
		if err == nil && r != nil {
			if a := f.policy.refused(r); a.IsValid() {
				f.logger.Debug("DNS answer into the provider's networks refused", "name", q.Question[0].Name, "addr", a)
				m := new(dns.Msg)
				m.SetRcode(q, dns.RcodeRefused)
				w.WriteMsg(m)
				return
			}
			w.WriteMsg(r)
			return
		}
	}
	m := new(dns.Msg)
	m.SetRcode(q, dns.RcodeServerFailure)
	w.WriteMsg(m)
}

// Close stops answering.
func (f *Forwarder) Close() {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.closed = true
	servers := f.servers
	close(f.stop)
	f.mu.Unlock()
	for _, s := range servers {
		s.Shutdown()
	}
	f.wg.Wait()
}

// Probe asks server for name and says whether an answer came back.
func Probe(ctx context.Context, server netip.Addr, name string) error {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	c := &dns.Client{Timeout: 3 * time.Second}
	r, _, err := c.ExchangeContext(ctx, m, net.JoinHostPort(server.String(), "53"))
	if err != nil {
		return err
	}
	if r.Rcode == dns.RcodeRefused || r.Rcode == dns.RcodeServerFailure {
		return fmt.Errorf("the resolver answered %s", dns.RcodeToString[r.Rcode])
	}
	return nil
}
