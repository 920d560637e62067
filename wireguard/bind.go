package wireguard

import (
	"bytes"
	"crypto/rand"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/mystnode/myst/session"
	"golang.zx2c4.com/wireguard/conn"
)

// pathBind is wireguard-go's standard bind (the device's UDP socket) with
// two more things, as Tailscale's magicsock does:
//
//   - on a provider, the service's relay allocation: packets that come
//     through the relay carry a relayEndpoint, and answers to it go back
//     through the relay;
//   - dual peers, reached through the relay and directly at once: one
//     endpoint (a dualEndpoint) for both paths, so WireGuard's roaming
//     never flips between them; the direct path is probed on the device's
//     socket (probe packets, which never reach WireGuard), and sends move
//     to it only while its probes are answered, back to the relay when
//     they stop.
type pathBind struct {
	conn.Bind
	relay  session.Relay // nil: none (a consumer's, or no allocation)
	in     chan relayPacket
	pool   sync.Pool
	logger *slog.Logger

	mu     sync.RWMutex
	closed chan struct{}                    // closed by Close; remade by Open
	duals  map[netip.AddrPort]*dualEndpoint // by the peer's address on either path
	stop   chan struct{}                    // ends the prober
}

type relayPacket struct {
	buf  *[]byte
	n    int
	from netip.AddrPort
}

// maxPacket is the largest UDP payload the relay carries to the device.
const maxPacket = 65535

func newPathBind(relay session.Relay, logger *slog.Logger) *pathBind {
	b := &pathBind{Bind: conn.NewDefaultBind(), relay: relay, logger: logger, closed: make(chan struct{}),
		duals: map[netip.AddrPort]*dualEndpoint{}, stop: make(chan struct{})}
	b.pool.New = func() any { s := make([]byte, maxPacket); return &s }
	close(b.closed)
	if relay != nil {
		b.in = make(chan relayPacket, 256)
		go b.pump()
	}
	go b.probe()
	return b
}

// pump reads the relay until it is closed. Packets that arrive while the
// device is not listening are dropped.
func (b *pathBind) pump() {
	for {
		buf := b.pool.Get().(*[]byte)
		n, from, err := b.relay.ReadFrom(*buf)
		if err != nil {
			b.pool.Put(buf)
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		select {
		case b.in <- relayPacket{buf: buf, n: n, from: from}:
		default:
			b.pool.Put(buf) // the device is behind: drop, like a full socket buffer
		}
	}
}

// Open opens the device's socket, filters its probes out and maps dual
// peers' packets to their endpoint, and adds a receive function for the
// relay.
func (b *pathBind) Open(port uint16) ([]conn.ReceiveFunc, uint16, error) {
	fns, actual, err := b.Bind.Open(port)
	if err != nil {
		return nil, 0, err
	}
	closed := make(chan struct{})
	b.mu.Lock()
	b.closed = closed
	b.mu.Unlock()
	var out []conn.ReceiveFunc
	for _, fn := range fns {
		out = append(out, func(packets [][]byte, sizes []int, eps []conn.Endpoint) (int, error) {
			n, err := fn(packets, sizes, eps)
			for i := range n {
				se, ok := eps[i].(*conn.StdNetEndpoint)
				if !ok {
					continue
				}
				from := netip.AddrPortFrom(se.Addr().Unmap(), se.Port())
				if isProbe(packets[i][:sizes[i]]) {
					b.handleProbe(packets[i][:sizes[i]], from, se)
					sizes[i] = 0 // WireGuard skips it
					continue
				}
				if d := b.dual(from); d != nil {
					eps[i] = d
				}
			}
			return n, err
		})
	}
	if b.relay != nil {
		out = append(out, func(packets [][]byte, sizes []int, eps []conn.Endpoint) (int, error) {
			var p relayPacket
			select {
			case <-closed:
				return 0, net.ErrClosed
			case p = <-b.in:
			}
			// Then whatever else is waiting, up to the batch.
			n := 0
			for {
				sizes[n] = copy(packets[n], (*p.buf)[:p.n])
				if d := b.dual(p.from); d != nil {
					eps[n] = d
				} else {
					eps[n] = &relayEndpoint{p.from}
				}
				b.pool.Put(p.buf)
				if n++; n == len(packets) {
					return n, nil
				}
				select {
				case p = <-b.in:
				default:
					return n, nil
				}
			}
		})
	}
	return out, actual, nil
}

// Close closes the device's socket and ends the relay's receive function
// (the relay itself belongs to the service).
func (b *pathBind) Close() error {
	b.mu.Lock()
	select {
	case <-b.closed:
	default:
		close(b.closed)
	}
	b.mu.Unlock()
	return b.Bind.Close()
}

// shutdown ends the prober: the device is gone.
func (b *pathBind) shutdown() {
	b.mu.Lock()
	defer b.mu.Unlock()
	select {
	case <-b.stop:
	default:
		close(b.stop)
	}
}

// ParseEndpoint gives a dual peer's endpoint for either of its addresses.
func (b *pathBind) ParseEndpoint(s string) (conn.Endpoint, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		if d := b.dual(ap); d != nil {
			return d, nil
		}
	}
	return b.Bind.ParseEndpoint(s)
}

// Send sends to a dual peer on its current path, through the relay to a
// relayed endpoint, directly otherwise.
func (b *pathBind) Send(bufs [][]byte, ep conn.Endpoint) error {
	switch e := ep.(type) {
	case *dualEndpoint:
		if e.directUp() {
			return b.Bind.Send(bufs, e.directEP)
		}
		to, ep := e.relayTarget()
		if e.relayConn {
			return b.sendRelay(bufs, to)
		}
		return b.Bind.Send(bufs, ep)
	case *relayEndpoint:
		return b.sendRelay(bufs, e.addr)
	}
	return b.Bind.Send(bufs, ep)
}

func (b *pathBind) sendRelay(bufs [][]byte, to netip.AddrPort) error {
	if b.relay == nil {
		return errors.New("no relay allocation")
	}
	var errs []error
	for _, buf := range bufs {
		if err := b.relay.WriteTo(buf, to); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (b *pathBind) dual(a netip.AddrPort) *dualEndpoint {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.duals[a]
}

// addDual makes a peer reached through the relay at relayed (through the
// service's allocation when relayConn, else at that address on the
// device's socket) and directly at direct. pings: this side probes the
// direct path and moves when its pings are answered (a consumer); else it
// answers pings and moves when they say the other side moved, which
// proves the path both ways (a provider: its own pings could reach the
// consumer's NAT before the consumer's and move its public port).
func (b *pathBind) addDual(relayed, direct netip.AddrPort, relayConn, pings bool, onMove func(direct bool)) *dualEndpoint {
	d := &dualEndpoint{relayed: relayed, direct: direct, relayConn: relayConn, pings: pings, onMove: onMove, started: time.Now(),
		directEP: &conn.StdNetEndpoint{AddrPort: direct}, relayEP: &conn.StdNetEndpoint{AddrPort: relayed}}
	b.mu.Lock()
	b.duals[relayed], b.duals[direct] = d, d
	b.mu.Unlock()
	return d
}

// the dual peer of a consumer's bind (it has one).
func (b *pathBind) only() *dualEndpoint {
	b.mu.RLock()
	defer b.mu.RUnlock()
	for _, d := range b.duals {
		return d
	}
	return nil
}

// moveRelayed points a dual peer's relayed path at a new address (the
// provider's relay allocation was made again).
func (b *pathBind) moveRelayed(d *dualEndpoint, to netip.AddrPort) {
	b.mu.Lock()
	defer b.mu.Unlock()
	d.mu.Lock()
	defer d.mu.Unlock()
	if b.duals[d.relayed] == d && d.relayed != d.direct {
		delete(b.duals, d.relayed)
	}
	d.relayed, d.relayEP = to, &conn.StdNetEndpoint{AddrPort: to}
	b.duals[to] = d
}

// removeDual forgets a peer.
func (b *pathBind) removeDual(d *dualEndpoint) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for a, x := range b.duals {
		if x == d {
			delete(b.duals, a)
		}
	}
}

// Probing. A probe is 24 bytes, below WireGuard's smallest message: the
// magic, 'i' (ping), 'u' (ping from a side whose direct path is up) or
// 'o' (pong), and 16 random bytes a pong echoes, so that nobody off the
// path can answer for the peer.
var probeMagic = []byte("mystprb")

const probeLen = 24

// Probe timing: a consumer pings every ProbeEvery while the direct path
// is not up (every ProbeFast for the first ProbeFastFor), every
// ProbeKeepEvery once it is; the path is up while a pong (or, on a
// provider, a ping) came within DirectTimeout.
const (
	ProbeFast      = 100 * time.Millisecond
	ProbeFastFor   = 5 * time.Second
	ProbeEvery     = time.Second
	ProbeKeepEvery = 2 * time.Second
	DirectTimeout  = 5 * time.Second
)

func isProbe(p []byte) bool { return len(p) == probeLen && bytes.HasPrefix(p, probeMagic) }

func (b *pathBind) handleProbe(p []byte, from netip.AddrPort, ep *conn.StdNetEndpoint) {
	d := b.dual(from)
	if d == nil || from != d.direct {
		return // probes only from a dual peer's direct address
	}
	switch kind := p[len(probeMagic)]; kind {
	case 'i', 'u':
		if !d.pings && kind == 'u' {
			d.sawDirect() // the pinging side gets our pongs: both ways work
		}
		pong := bytes.Clone(p)
		pong[len(probeMagic)] = 'o'
		if d.directUp() {
			pong[len(probeMagic)] = 'p' // and we send on the direct path too
		}
		b.Bind.Send([][]byte{pong}, ep)
	case 'o', 'p':
		d.pong(p[len(probeMagic)+1:], kind == 'p')
	}
}

// probe pings the direct path of the duals that ping, until shutdown.
func (b *pathBind) probe() {
	t := time.NewTicker(ProbeFast)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
		}
		b.mu.RLock()
		seen := map[*dualEndpoint]bool{}
		var all []*dualEndpoint
		for _, d := range b.duals {
			if !seen[d] {
				seen[d] = true
				all = append(all, d)
			}
		}
		b.mu.RUnlock()
		var due []*dualEndpoint
		for _, d := range all {
			d.directUp() // a path whose proof expired is reported so
			if d.pings && d.due() {
				due = append(due, d)
			}
		}
		for _, d := range due {
			b.Bind.Send([][]byte{d.ping()}, d.directEP)
		}
	}
}

// dualEndpoint is a peer reached through the relay and, once its probes
// are answered, directly.
type dualEndpoint struct {
	direct    netip.AddrPort
	relayConn bool // relayed sends go through the service's allocation
	pings     bool
	directEP  *conn.StdNetEndpoint
	onMove    func(direct bool)
	started   time.Time

	mu       sync.Mutex
	relayed  netip.AddrPort
	relayEP  *conn.StdNetEndpoint
	lastPing time.Time
	id       [16]byte
	lastSeen time.Time // of a pong (pings), or of a ping saying the other side is up
	peerUpAt time.Time // of a pong saying the other side sends directly too
	shown    bool      // as last reported to onMove
}

func (d *dualEndpoint) relayTarget() (netip.AddrPort, *conn.StdNetEndpoint) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.relayed, d.relayEP
}

func (d *dualEndpoint) due() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	every := ProbeEvery
	switch {
	case d.upLocked(time.Now()):
		every = ProbeKeepEvery
	case time.Since(d.started) < ProbeFastFor:
		every = ProbeFast
	}
	return time.Since(d.lastPing) >= every
}

func (d *dualEndpoint) ping() []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.lastPing = time.Now()
	rand.Read(d.id[:])
	kind := byte('i')
	if d.upLocked(d.lastPing) {
		kind = 'u'
	}
	p := append(append([]byte{}, probeMagic...), kind)
	return append(p, d.id[:]...)
}

func (d *dualEndpoint) pong(id []byte, peerUp bool) {
	d.mu.Lock()
	ok := bytes.Equal(id, d.id[:])
	if ok && peerUp {
		d.peerUpAt = time.Now()
	}
	d.mu.Unlock()
	if ok {
		d.sawDirect()
	}
}

// sawDirect records proof that the direct path works now. A side that
// pings and was not up pings again at once, saying so.
func (d *dualEndpoint) sawDirect() {
	d.mu.Lock()
	now := time.Now()
	if d.pings && !d.upLocked(now) {
		d.lastPing = time.Time{}
	}
	d.lastSeen = now
	d.mu.Unlock()
	d.directUp()
}

func (d *dualEndpoint) upLocked(now time.Time) bool {
	return !d.lastSeen.IsZero() && now.Sub(d.lastSeen) < DirectTimeout
}

// directUp says whether this side's sends take the direct path now. It
// tells onMove when the session's path changes: direct once both sides
// send there (for the pinging side, its pongs say the other does).
func (d *dualEndpoint) directUp() bool {
	d.mu.Lock()
	now := time.Now()
	up := d.upLocked(now)
	shown := up && (!d.pings || (!d.peerUpAt.IsZero() && now.Sub(d.peerUpAt) < DirectTimeout))
	changed := shown != d.shown
	d.shown = shown
	d.mu.Unlock()
	if changed && d.onMove != nil {
		d.onMove(shown)
	}
	return up
}

func (d *dualEndpoint) ClearSrc()           {}
func (d *dualEndpoint) SrcToString() string { return "" }
func (d *dualEndpoint) DstToString() string { return d.direct.String() }
func (d *dualEndpoint) DstToBytes() []byte {
	b, _ := d.direct.MarshalBinary()
	return b
}
func (d *dualEndpoint) DstIP() netip.Addr { return d.direct.Addr() }
func (d *dualEndpoint) SrcIP() netip.Addr { return netip.Addr{} }

// relayEndpoint is a consumer reached through the relay only: its public
// address as the relay sees it.
type relayEndpoint struct{ addr netip.AddrPort }

func (e *relayEndpoint) ClearSrc()           {}
func (e *relayEndpoint) SrcToString() string { return "" }
func (e *relayEndpoint) DstToString() string { return e.addr.String() }
func (e *relayEndpoint) DstToBytes() []byte {
	b, _ := e.addr.MarshalBinary()
	return b
}
func (e *relayEndpoint) DstIP() netip.Addr { return e.addr.Addr() }
func (e *relayEndpoint) SrcIP() netip.Addr { return netip.Addr{} }
