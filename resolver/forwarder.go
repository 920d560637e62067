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
	logger   *slog.Logger
	client   *dns.Client

	mu      sync.Mutex
	servers []*dns.Server
	closed  bool
	stop    chan struct{}
	wg      sync.WaitGroup
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
// allowed only, asking upstream. The tunnel interface holding addr may
// come up a moment later (openvpn configures it after it starts): the
// forwarder keeps trying to bind for a while.
func StartForwarder(addr netip.Addr, allowed netip.Prefix, upstream []string, logger *slog.Logger) *Forwarder {
	f := &Forwarder{addr: addr, allowed: allowed, upstream: upstream, logger: logger,
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
