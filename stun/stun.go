// Package stun tells a node its public side: a STUN server (RFC 5389
// binding requests, the network runs it like the broker) answers each
// request with the address and port it came from, and the client asks one
// or more servers from one UDP socket. Equal answers from two destinations
// mean the NAT keeps one public port for every destination (cone, so a
// peer can punch to it); different answers mean symmetric; an answer equal
// to the socket's own address means no NAT at all. Messages are encoded by
// github.com/pion/stun.
package stun

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	pion "github.com/pion/stun/v3"
)

// NAT is what STUN tells of a node's side of the internet, and so how a
// provider is reachable (Mapped: a port mapping its router made, checked
// from outside).
type NAT string

// The kinds of NAT.
const (
	Public    NAT = "public"    // the node's own address is public: nothing in the way
	Mapped    NAT = "mapped"    // behind NAT, with a port mapping (UPnP IGD / NAT-PMP) checked by STUN
	Cone      NAT = "cone"      // behind NAT that keeps one public port for every destination: punchable
	Symmetric NAT = "symmetric" // behind NAT with a new public port per destination: not punchable
	Unknown   NAT = "unknown"   // no STUN answer
	// Relayed is a provider's reachability when only its relay allocation
	// reaches it (behind symmetric or unknown NAT): every consumer gets
	// through the relay.
	Relayed NAT = "relayed"
)

// Valid says whether n is one of the kinds.
func (n NAT) Valid() bool {
	switch n {
	case Public, Mapped, Cone, Symmetric, Unknown, Relayed:
		return true
	}
	return false
}

// Reachable says whether a consumer whose side is consumer can open a UDP
// path to a provider reachable as provider: a public or mapped provider
// takes anyone; a cone provider takes consumers whose public port is the
// same for it as for STUN (public or cone), the two punching at once; a
// symmetric provider takes nobody (its public port is unknown until it
// sends); nor does a relayed provider, whose consumers go through its
// relay. Unknown sides are given the benefit of the doubt.
func Reachable(provider, consumer NAT) bool {
	switch provider {
	case Public, Mapped, Unknown, "":
		return true
	case Cone:
		return consumer != Symmetric
	}
	return false
}

// DefaultPort is STUN's port.
const DefaultPort = 3478

// ParseURL reads "stun:host[:port]" (RFC 7064) into host:port.
func ParseURL(u string) (string, error) {
	rest, ok := strings.CutPrefix(u, "stun:")
	if !ok || rest == "" || strings.ContainsAny(rest, "/?#@") {
		return "", fmt.Errorf("%q is not a STUN URL (stun:host or stun:host:port)", u)
	}
	host, port, err := net.SplitHostPort(rest)
	if err != nil {
		host, port = strings.Trim(rest, "[]"), strconv.Itoa(DefaultPort)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return "", fmt.Errorf("%q: port %q is not a port number", u, port)
	}
	if host == "" {
		return "", fmt.Errorf("%q: no host", u)
	}
	return net.JoinHostPort(host, port), nil
}

// ParseTURNURL reads a relay's "turn:host:port" (RFC 7065; UDP, the port
// required) into host:port.
func ParseTURNURL(u string) (string, error) {
	rest, ok := strings.CutPrefix(u, "turn:")
	if !ok || strings.ContainsAny(rest, "/?#@") {
		return "", fmt.Errorf("%q is not a TURN URL (turn:host:port)", u)
	}
	host, port, err := net.SplitHostPort(rest)
	if p, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || p < 1 || p > 65535 {
		return "", fmt.Errorf("%q is not a TURN URL (turn:host:port)", u)
	}
	return rest, nil
}

// Server answers binding requests on one or more UDP sockets.
type Server struct {
	conns  []net.PacketConn
	logger *slog.Logger
	wg     sync.WaitGroup
}

// Listen starts a server on each address (host:port; port 0 picks one).
func Listen(logger *slog.Logger, addrs ...string) (*Server, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{logger: logger}
	for _, a := range addrs {
		c, err := net.ListenPacket("udp4", a)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("STUN server on %s: %w", a, err)
		}
		s.conns = append(s.conns, c)
	}
	for _, c := range s.conns {
		s.wg.Go(func() { s.serve(c) })
	}
	return s, nil
}

// Addrs are the addresses the server answers on.
func (s *Server) Addrs() []netip.AddrPort {
	var out []netip.AddrPort
	for _, c := range s.conns {
		out = append(out, c.LocalAddr().(*net.UDPAddr).AddrPort())
	}
	return out
}

// URLs are the server's addresses as STUN URLs, with host in place of
// unspecified addresses.
func (s *Server) URLs(host string) []string {
	var out []string
	for _, a := range s.Addrs() {
		h := a.Addr().String()
		if a.Addr().IsUnspecified() {
			h = host
		}
		out = append(out, "stun:"+net.JoinHostPort(h, strconv.Itoa(int(a.Port()))))
	}
	return out
}

// Close stops answering.
func (s *Server) Close() error {
	for _, c := range s.conns {
		c.Close()
	}
	s.wg.Wait()
	return nil
}

func (s *Server) serve(c net.PacketConn) {
	buf := make([]byte, 1500)
	for {
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if !pion.IsMessage(buf[:n]) {
			continue // not STUN: dropped without a word
		}
		req := &pion.Message{Raw: append([]byte(nil), buf[:n]...)}
		if err := req.Decode(); err != nil || req.Type != pion.BindingRequest {
			continue
		}
		ua := from.(*net.UDPAddr)
		resp, err := pion.Build(pion.NewTransactionIDSetter(req.TransactionID), pion.BindingSuccess,
			&pion.XORMappedAddress{IP: ua.IP, Port: ua.Port}, pion.NewSoftware("myst"), pion.Fingerprint)
		if err != nil {
			continue
		}
		c.WriteTo(resp.Raw, from)
	}
}

// Candidate asks the first of servers from a fresh UDP port what the
// port looks like from outside (within 2 s), and frees the port for the
// caller to use.
func Candidate(servers []netip.AddrPort) (netip.AddrPort, int, error) {
	if len(servers) == 0 {
		return netip.AddrPort{}, 0, errors.New("no STUN server")
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{})
	if err != nil {
		return netip.AddrPort{}, 0, err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	a, err := Ask(ctx, conn, servers[0])
	if err != nil {
		return netip.AddrPort{}, 0, err
	}
	return a, conn.LocalAddr().(*net.UDPAddr).Port, nil
}

// Ask sends a binding request to server from conn and returns the address
// the server saw it come from. It retransmits (100 ms, doubling) until ctx
// ends; answers from elsewhere, for other transactions and garbage are
// ignored. One Ask at a time per conn: it reads from it.
func Ask(ctx context.Context, conn net.PacketConn, server netip.AddrPort) (netip.AddrPort, error) {
	req, err := pion.Build(pion.TransactionID, pion.BindingRequest, pion.Fingerprint)
	if err != nil {
		return netip.AddrPort{}, err
	}
	to := net.UDPAddrFromAddrPort(server)
	buf := make([]byte, 1500)
	wait := 100 * time.Millisecond
	for {
		if _, err := conn.WriteTo(req.Raw, to); err != nil {
			return netip.AddrPort{}, fmt.Errorf("STUN request to %s: %w", server, err)
		}
		until := time.Now().Add(wait)
		if d, ok := ctx.Deadline(); ok && d.Before(until) {
			until = d
		}
		conn.SetReadDeadline(until)
		for {
			n, from, err := conn.ReadFrom(buf)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					break
				}
				return netip.AddrPort{}, err
			}
			ua, ok := from.(*net.UDPAddr)
			if !ok || ua.AddrPort().Addr().Unmap() != server.Addr().Unmap() || ua.AddrPort().Port() != server.Port() || !pion.IsMessage(buf[:n]) {
				continue
			}
			m := &pion.Message{Raw: append([]byte(nil), buf[:n]...)}
			if m.Decode() != nil || m.TransactionID != req.TransactionID || m.Type != pion.BindingSuccess {
				continue
			}
			var xa pion.XORMappedAddress
			if err := xa.GetFrom(m); err != nil {
				continue // an answer without an address: garbage
			}
			ip, ok := netip.AddrFromSlice(xa.IP)
			if !ok || xa.Port <= 0 || xa.Port > 65535 {
				continue
			}
			conn.SetReadDeadline(time.Time{})
			return netip.AddrPortFrom(ip.Unmap(), uint16(xa.Port)), nil
		}
		if ctx.Err() != nil {
			conn.SetReadDeadline(time.Time{})
			return netip.AddrPort{}, fmt.Errorf("no STUN answer from %s: %w", server, ctx.Err())
		}
		wait = min(2*wait, time.Second)
	}
}

// Result is what a probe learned.
type Result struct {
	NAT    NAT
	Local  netip.AddrPort   // the socket asked from
	Public netip.AddrPort   // the first answer (invalid: none)
	Seen   []netip.AddrPort // every server's answer, in order (invalid: none)
	Errors []string         // servers that did not answer, and why
}

// Resolve turns addresses (host:port) into IPv4 address-ports.
func Resolve(ctx context.Context, servers []string) ([]netip.AddrPort, error) {
	var out []netip.AddrPort
	for _, s := range servers {
		host, port, err := net.SplitHostPort(s)
		if err != nil {
			return nil, fmt.Errorf("STUN server %q: %w", s, err)
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			return nil, fmt.Errorf("STUN server %q: bad port", s)
		}
		ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip4", host)
		if err != nil || len(ips) == 0 {
			return nil, fmt.Errorf("STUN server %q: %v", s, err)
		}
		out = append(out, netip.AddrPortFrom(ips[0].Unmap(), uint16(p)))
	}
	return out, nil
}

// ProbeConn asks every server from conn, each for up to perServer, and
// classifies the answers.
func ProbeConn(ctx context.Context, conn net.PacketConn, servers []netip.AddrPort, perServer time.Duration) Result {
	r := Result{Local: conn.LocalAddr().(*net.UDPAddr).AddrPort()}
	for _, s := range servers {
		actx, cancel := context.WithTimeout(ctx, perServer)
		a, err := Ask(actx, conn, s)
		cancel()
		if err != nil {
			r.Errors = append(r.Errors, err.Error())
		}
		r.Seen = append(r.Seen, a)
	}
	r.Public, r.NAT = Classify(r.Local, r.Seen, localAddrs())
	return r
}

// Probe asks every server from a fresh socket on port (0: any).
func Probe(ctx context.Context, port int, servers []netip.AddrPort, perServer time.Duration) (Result, error) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{Port: port})
	if err != nil {
		return Result{}, fmt.Errorf("a UDP socket for STUN: %w", err)
	}
	defer conn.Close()
	return ProbeConn(ctx, conn, servers, perServer), nil
}

// Classify decides from the answers (invalid: no answer) to a socket bound
// at local, whose host has the addresses own: public when an answer is one
// of the host's own addresses with the socket's port; cone when every
// answer is the same; symmetric when they differ; unknown with no answer.
// One answer only that is not the host's own: cone is assumed (it cannot
// be told apart without a second destination).
func Classify(local netip.AddrPort, seen []netip.AddrPort, own []netip.Addr) (netip.AddrPort, NAT) {
	var first netip.AddrPort
	same := true
	for _, a := range seen {
		if !a.IsValid() {
			continue
		}
		if !first.IsValid() {
			first = a
		} else if a != first {
			same = false
		}
	}
	switch {
	case !first.IsValid():
		return first, Unknown
	case !same:
		return first, Symmetric
	}
	if first.Port() == local.Port() {
		for _, o := range own {
			if o == first.Addr() {
				return first, Public
			}
		}
	}
	return first, Cone
}

// localAddrs are the host's interface addresses.
func localAddrs() []netip.Addr {
	ifs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []netip.Addr
	for _, a := range ifs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			out = append(out, p.Addr().Unmap())
		}
	}
	return out
}
