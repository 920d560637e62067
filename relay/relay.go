// Package relay is myst's TURN relay (RFC 8656), for a consumer and a
// provider that have no direct path between them: a pion/turn server that
// also answers STUN binding requests on its port, with the TURN REST
// shared-secret scheme that coturn calls use-auth-secret. Credentials are
// time-limited, name an identity, and are issued (Credentials) only to
// registered identities; each identity holds at most MaxAllocations
// allocations at once; peers on the relay host's own loopback and private
// networks are refused (Refused); MaxMbit caps what one identity's
// allocations carry.
package relay

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/mystnode/myst/relaylink"
	"github.com/pion/logging"
	"github.com/pion/turn/v4"
	"golang.org/x/time/rate"
)

// Realm is the realm of myst's relays.
const Realm = relaylink.Realm

// Config says how to run a relay.
type Config struct {
	// Addr is the UDP host:port clients (and STUN) use; port 0 picks one.
	Addr string
	// RelayIP is the address allocations are made on (default: Addr's
	// host, which must then be a specific address).
	RelayIP netip.Addr
	// Secret is the shared secret credentials are made with (coturn's
	// static-auth-secret).
	Secret []byte
	// MaxAllocations caps one identity's allocations at once (default 8).
	MaxAllocations int
	// MaxMbit caps what one identity's allocations carry, each way, in
	// Mbit/s (0: no cap); past it packets are dropped, as on a full link.
	MaxMbit float64
	// AllowPeers are ranges peers may be in though the relay refuses them
	// by default (see Refused): localnet, whose nodes are on loopback,
	// allows that.
	AllowPeers []netip.Prefix
	Logger     *slog.Logger
}

// Server is a running relay.
type Server struct {
	srv  *turn.Server
	conn net.PacketConn
	cfg  Config

	mu      sync.Mutex
	allocs  map[common.Address]int               // by identity
	clients map[string]common.Address            // allocation's client address -> identity
	rates   map[common.Address]*[2]*rate.Limiter // by identity: to and from the relay
	dropped uint64                               // bytes dropped over MaxMbit
}

// ErrBadConfig: the relay cannot run as configured.
var ErrBadConfig = errors.New("relay config")

// Listen starts a relay on cfg.Addr.
func Listen(cfg Config) (*Server, error) {
	if len(cfg.Secret) < 16 {
		return nil, fmt.Errorf("%w: the shared secret must be at least 16 bytes", ErrBadConfig)
	}
	if cfg.MaxAllocations <= 0 {
		cfg.MaxAllocations = 8
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	conn, err := net.ListenPacket("udp4", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("relay on %s: %w", cfg.Addr, err)
	}
	if !cfg.RelayIP.IsValid() {
		a := conn.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap()
		if a.IsUnspecified() {
			conn.Close()
			return nil, fmt.Errorf("%w: listening on %s, give the address allocations are made on", ErrBadConfig, cfg.Addr)
		}
		cfg.RelayIP = a
	}
	s := &Server{conn: conn, cfg: cfg, allocs: map[common.Address]int{}, clients: map[string]common.Address{}, rates: map[common.Address]*[2]*rate.Limiter{}}
	rest := turn.LongTermTURNRESTAuthHandler(string(cfg.Secret), quiet{}.NewLogger("relay"))
	s.srv, err = turn.NewServer(turn.ServerConfig{
		Realm:         Realm,
		LoggerFactory: quiet{},
		AuthHandler: func(username, realm string, src net.Addr) ([]byte, bool) {
			if _, ok := identityOf(username); !ok {
				return nil, false
			}
			return rest(username, realm, src)
		},
		QuotaHandler: func(username, _ string, _ net.Addr) bool {
			id, ok := identityOf(username)
			if !ok {
				return false
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			return s.allocs[id] < cfg.MaxAllocations
		},
		EventHandler: turn.EventHandler{
			OnAllocationCreated: func(src, _ net.Addr, _, username, _ string, _ net.Addr, _ int) { s.count(src, username, 1) },
			OnAllocationDeleted: func(src, _ net.Addr, _, username, _ string) { s.count(src, username, -1) },
		},
		PacketConnConfigs: []turn.PacketConnConfig{{
			PacketConn: &metered{PacketConn: conn, s: s},
			PermissionHandler: func(_ net.Addr, peer net.IP) bool {
				a, ok := netip.AddrFromSlice(peer)
				return ok && s.peerAllowed(a.Unmap())
			},
			RelayAddressGenerator: &turn.RelayAddressGeneratorPortRange{
				RelayAddress: net.IP(cfg.RelayIP.AsSlice()), Address: cfg.RelayIP.String(), MinPort: 49152, MaxPort: 65535,
			},
		}},
	})
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("relay: %w", err)
	}
	return s, nil
}

// Refused are the peer ranges a relay does not send to unless AllowPeers
// says: the relay host's own loopback and networks, link-local (cloud
// metadata), carrier-grade NAT, multicast and unspecified addresses; and
// the relay's own address, so that nobody relays through it to itself.
var Refused = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("169.254.0.0/16"), netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"), netip.MustParsePrefix("224.0.0.0/3"),
}

// peerAllowed says whether the relay sends to a.
func (s *Server) peerAllowed(a netip.Addr) bool {
	for _, p := range s.cfg.AllowPeers {
		if p.Contains(a) {
			return true
		}
	}
	if !a.Is4() || a == s.cfg.RelayIP {
		return false
	}
	for _, p := range Refused {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

func (s *Server) count(src net.Addr, username string, d int) {
	id, ok := identityOf(username)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if d > 0 {
		s.clients[src.String()] = id
	} else {
		delete(s.clients, src.String())
	}
	if s.allocs[id] += d; s.allocs[id] <= 0 {
		delete(s.allocs, id)
		delete(s.rates, id)
	}
}

// allow says whether n more bytes to (out) or from a client fit its
// identity's MaxMbit; packets of clients without an allocation (STUN,
// requests) are not metered.
func (s *Server) allow(client net.Addr, n int, out bool) bool {
	if s.cfg.MaxMbit <= 0 {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.clients[client.String()]
	if !ok {
		return true
	}
	r := s.rates[id]
	if r == nil {
		bps := s.cfg.MaxMbit * 1e6 / 8
		burst := max(int(bps/20), 64<<10) // 50 ms of traffic
		r = &[2]*rate.Limiter{rate.NewLimiter(rate.Limit(bps), burst), rate.NewLimiter(rate.Limit(bps), burst)}
		s.rates[id] = r
	}
	i := 0
	if out {
		i = 1
	}
	if r[i].AllowN(time.Now(), n) {
		return true
	}
	s.dropped += uint64(n)
	return false
}

// Dropped is how many bytes the relay dropped over identities' MaxMbit.
func (s *Server) Dropped() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dropped
}

// metered is the relay's socket, holding each identity to MaxMbit.
type metered struct {
	net.PacketConn
	s *Server
}

func (m *metered) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, from, err := m.PacketConn.ReadFrom(p)
		if err != nil || m.s.allow(from, n, false) {
			return n, from, err
		}
	}
}

func (m *metered) WriteTo(p []byte, to net.Addr) (int, error) {
	if !m.s.allow(to, len(p), true) {
		return len(p), nil // dropped, as a full link would
	}
	return m.PacketConn.WriteTo(p, to)
}

// Allocations is how many allocations id holds now.
func (s *Server) Allocations(id common.Address) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.allocs[id]
}

// Addr is where the relay listens.
func (s *Server) Addr() netip.AddrPort { return s.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

// URL is the relay's turn: URL, with host in place of an unspecified
// address.
func (s *Server) URL(host string) string {
	h := s.Addr().Addr().Unmap().String()
	if s.Addr().Addr().IsUnspecified() {
		h = host
	}
	return "turn:" + net.JoinHostPort(h, strconv.Itoa(int(s.Addr().Port())))
}

// Close stops the relay and ends every allocation.
func (s *Server) Close() error { return s.srv.Close() }

// Credentials are the TURN REST credentials of id for ttl: the user name
// is "<expiry unix time>:<identity>", the password the base64 HMAC-SHA1 of
// it under the shared secret. Issue them to registered identities only.
func Credentials(secret []byte, id common.Address, ttl time.Duration) (user, password string, err error) {
	return turn.GenerateLongTermTURNRESTCredentials(string(secret), strings.ToLower(id.Hex()), ttl)
}

// identityOf reads the identity from a TURN REST user name.
func identityOf(username string) (common.Address, bool) {
	_, id, ok := strings.Cut(username, ":")
	if !ok || !common.IsHexAddress(id) || strings.ToLower(id) != id {
		return common.Address{}, false
	}
	return common.HexToAddress(id), true
}

// quiet is pion's logging, off: the relay reports through its own logger.
type quiet struct{}

func (quiet) NewLogger(string) logging.LeveledLogger {
	return logging.NewDefaultLeveledLoggerForScope("", logging.LogLevelDisabled, nil)
}
