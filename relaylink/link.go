package relaylink

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/mystnode/myst/stun"
	"github.com/pion/logging"
	"github.com/pion/turn/v4"
)

// Config says which relay to hold an allocation on.
type Config struct {
	URL string // turn:host:port
	// Grant gets fresh credentials (Ask over the broker).
	Grant func(ctx context.Context) (Grant, error)
	// OnMove is told the new relayed address after the link allocated
	// again (the relay restarted, or the credentials neared their end).
	OnMove func(netip.AddrPort)
	// CheckEvery is how often the link checks the relay still holds the
	// allocation (default 10 s).
	CheckEvery time.Duration
	Logger     *slog.Logger
}

// Link is an allocation on a relay that survives the relay's restarts:
// ReadFrom and WriteTo go through whichever allocation is current.
type Link struct {
	cfg    Config
	server netip.AddrPort

	renew   sync.Mutex // one re-allocation at a time
	mu      sync.Mutex
	cur     *alloc
	changed chan struct{} // closed when cur is replaced
	perms   map[netip.Addr]bool
	closed  bool
	kick    chan struct{} // check the allocation now
	stop    chan struct{}
	done    chan struct{}
}

// alloc is one allocation: the client on its own UDP socket and the
// relayed conn.
type alloc struct {
	sock    net.PacketConn
	client  *turn.Client
	relayed net.PacketConn
	addr    netip.AddrPort
	expires time.Time
}

func (a *alloc) close() {
	a.relayed.Close() // sends a zero-lifetime refresh: the relay frees it
	a.client.Close()
	a.sock.Close()
}

// Open allocates on the relay and keeps the allocation until Close.
func Open(ctx context.Context, cfg Config) (*Link, error) {
	if cfg.CheckEvery <= 0 {
		cfg.CheckEvery = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	hp, err := stun.ParseTURNURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	addrs, err := stun.Resolve(ctx, []string{hp})
	if err != nil {
		return nil, fmt.Errorf("relay %s: %w", cfg.URL, err)
	}
	l := &Link{cfg: cfg, server: addrs[0], changed: make(chan struct{}), perms: map[netip.Addr]bool{},
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	a, err := l.allocate(ctx)
	if err != nil {
		return nil, err
	}
	l.cur = a
	go l.watch()
	return l, nil
}

// allocate gets credentials and an allocation.
func (l *Link) allocate(ctx context.Context) (*alloc, error) {
	g, err := l.cfg.Grant(ctx)
	if err != nil {
		return nil, err
	}
	sock, err := net.ListenPacket("udp4", ":0")
	if err != nil {
		return nil, err
	}
	c, err := turn.NewClient(&turn.ClientConfig{STUNServerAddr: l.server.String(), TURNServerAddr: l.server.String(),
		Conn: sock, Username: g.Username, Password: g.Password, Realm: Realm, RTO: 100 * time.Millisecond, LoggerFactory: quiet{}})
	if err != nil {
		sock.Close()
		return nil, err
	}
	if err := c.Listen(); err != nil {
		c.Close()
		sock.Close()
		return nil, err
	}
	type result struct {
		conn net.PacketConn
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		conn, err := c.Allocate()
		ch <- result{conn, err}
	}()
	var r result
	select {
	case r = <-ch:
	case <-ctx.Done():
		c.Close()
		sock.Close()
		return nil, fmt.Errorf("allocate on the relay %s: %w", l.server, ctx.Err())
	}
	if r.err != nil {
		c.Close()
		sock.Close()
		return nil, fmt.Errorf("allocate on the relay %s: %w", l.server, r.err)
	}
	ua, _ := r.conn.LocalAddr().(*net.UDPAddr)
	if ua == nil {
		r.conn.Close()
		c.Close()
		sock.Close()
		return nil, fmt.Errorf("the relay %s gave no relayed address", l.server)
	}
	a := &alloc{sock: sock, client: c, relayed: r.conn, addr: ua.AddrPort(), expires: g.Expires}
	a.addr = netip.AddrPortFrom(a.addr.Addr().Unmap(), a.addr.Port())
	l.cfg.Logger.Info("relay allocation", "relay", l.server, "relayed", a.addr, "credentials_until", g.Expires)
	return a, nil
}

// Addr is the relayed address consumers send to.
func (l *Link) Addr() netip.AddrPort {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cur.addr
}

// Server is the relay's own address.
func (l *Link) Server() netip.AddrPort { return l.server }

// Permit lets packets from ips through the relay (TURN permissions are by
// address, any port). They are refreshed while the link lives, and
// granted again on a new allocation.
func (l *Link) Permit(ips ...netip.Addr) error {
	l.mu.Lock()
	a := l.cur
	for _, ip := range ips {
		l.perms[ip] = true
	}
	l.mu.Unlock()
	if a == nil {
		return net.ErrClosed
	}
	err := permit(a, ips)
	if err != nil {
		// The relay may have lost the allocation: check now, not at the
		// next tick.
		select {
		case l.kick <- struct{}{}:
		default:
		}
	}
	return err
}

// Forget stops granting ip on new allocations.
func (l *Link) Forget(ip netip.Addr) {
	l.mu.Lock()
	delete(l.perms, ip)
	l.mu.Unlock()
}

func permit(a *alloc, ips []netip.Addr) error {
	var addrs []net.Addr
	for _, ip := range ips {
		addrs = append(addrs, &net.UDPAddr{IP: ip.AsSlice()})
	}
	if len(addrs) == 0 {
		return nil
	}
	if err := a.client.CreatePermission(addrs...); err != nil {
		return fmt.Errorf("relay permission for %v: %w", ips, err)
	}
	return nil
}

// current is the allocation now and a channel closed when it is replaced.
func (l *Link) current() (*alloc, chan struct{}, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, nil, net.ErrClosed
	}
	return l.cur, l.changed, nil
}

// ReadFrom reads the next packet a peer sent to the relayed address,
// across re-allocations; net.ErrClosed once the link is closed.
func (l *Link) ReadFrom(p []byte) (int, netip.AddrPort, error) {
	for {
		a, changed, err := l.current()
		if err != nil {
			return 0, netip.AddrPort{}, err
		}
		n, from, err := a.relayed.ReadFrom(p)
		if err == nil {
			ua, ok := from.(*net.UDPAddr)
			if !ok {
				continue
			}
			ap := ua.AddrPort()
			return n, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
		}
		// This allocation is gone: wait for the next, or the end.
		select {
		case <-changed:
		case <-l.stop:
			return 0, netip.AddrPort{}, net.ErrClosed
		}
	}
}

// WriteTo sends p to a peer through the relay (ChannelData once the
// channel is bound: 4 bytes of overhead).
func (l *Link) WriteTo(p []byte, to netip.AddrPort) error {
	a, _, err := l.current()
	if err != nil {
		return err
	}
	_, err = a.relayed.WriteTo(p, net.UDPAddrFromAddrPort(to))
	return err
}

// Close frees the allocation.
func (l *Link) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	close(l.stop)
	a := l.cur
	l.mu.Unlock()
	<-l.done
	a.close()
	return nil
}

// probePeer is a documentation address (TEST-NET-1) the link asks a
// permission for to learn whether the relay still holds its allocation:
// a relay that lost it (a restart) refuses or does not answer.
var probePeer = netip.MustParseAddr("192.0.2.1")

// watch checks the allocation every CheckEvery and allocates again when
// the relay lost it or the credentials near their end.
func (l *Link) watch() {
	defer close(l.done)
	t := time.NewTicker(l.cfg.CheckEvery)
	defer t.Stop()
	backoff := time.Second
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		case <-l.kick:
		}
		l.mu.Lock()
		a := l.cur
		l.mu.Unlock()
		why := ""
		if time.Until(a.expires) < 10*time.Minute {
			why = "its credentials end at " + a.expires.Format(time.RFC3339)
		} else if err := permit(a, []netip.Addr{probePeer}); err != nil && !refusedPeer(err) {
			why = "the relay no longer holds it: " + err.Error()
		}
		if why == "" {
			continue
		}
		l.cfg.Logger.Warn("relay allocation lost; allocating again", "relayed", a.addr, "why", why)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			err := l.Renew(ctx)
			cancel()
			if err == nil {
				backoff = time.Second
				break
			}
			l.cfg.Logger.Warn("allocate on the relay again", "err", err, "retry_in", backoff)
			select {
			case <-l.stop:
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 30*time.Second)
		}
	}
}

// Renew allocates again now and moves to the new allocation (the node's
// public address changed, so the relay no longer knows the old one's
// source), granting it the same peers and telling OnMove.
func (l *Link) Renew(ctx context.Context) error {
	l.renew.Lock()
	defer l.renew.Unlock()
	na, err := l.allocate(ctx)
	if err != nil {
		return err
	}
	l.mu.Lock()
	closed := l.closed
	l.mu.Unlock()
	if closed {
		na.close()
		return net.ErrClosed
	}
	l.replace(na)
	return nil
}

// refusedPeer: the relay answered the probe with 403 (its policy refuses
// that peer), so it holds the allocation.
func refusedPeer(err error) bool { return strings.Contains(err.Error(), "403") }

// replace makes na the current allocation, grants it the permissions of
// the old one, and tells OnMove.
func (l *Link) replace(na *alloc) {
	l.mu.Lock()
	old := l.cur
	l.cur = na
	close(l.changed)
	l.changed = make(chan struct{})
	var ips []netip.Addr
	for ip := range l.perms {
		ips = append(ips, ip)
	}
	l.mu.Unlock()
	old.close()
	if err := permit(na, ips); err != nil {
		l.cfg.Logger.Warn("grant the consumers' permissions on the new allocation", "err", err)
	}
	if l.cfg.OnMove != nil {
		l.cfg.OnMove(na.addr)
	}
}

// quiet is pion's logging, off: the link reports through its own logger.
type quiet struct{}

func (quiet) NewLogger(string) logging.LeveledLogger {
	return logging.NewDefaultLeveledLoggerForScope("", logging.LogLevelDisabled, nil)
}
