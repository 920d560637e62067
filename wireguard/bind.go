package wireguard

import (
	"errors"
	"net"
	"net/netip"
	"sync"

	"github.com/mystnode/myst/session"
	"golang.zx2c4.com/wireguard/conn"
)

// relayBind is wireguard-go's standard bind (the direct UDP socket) plus
// the service's relay allocation: packets that come through the relay
// carry a relayEndpoint, and WireGuard's answers to such an endpoint go
// back through the relay. A consumer's endpoint follows its last
// authenticated packet (WireGuard's roaming), so each session takes the
// path its consumer uses.
type relayBind struct {
	conn.Bind
	relay session.Relay
	in    chan relayPacket // filled by pump, for as long as the relay lives
	pool  sync.Pool

	mu     sync.Mutex
	closed chan struct{} // closed by Close; remade by Open
}

type relayPacket struct {
	buf  *[]byte
	n    int
	from netip.AddrPort
}

// maxPacket is the largest UDP payload the relay carries to the device.
const maxPacket = 65535

func newRelayBind(relay session.Relay) *relayBind {
	b := &relayBind{Bind: conn.NewDefaultBind(), relay: relay, in: make(chan relayPacket, 256), closed: make(chan struct{})}
	b.pool.New = func() any { s := make([]byte, maxPacket); return &s }
	close(b.closed)
	go b.pump()
	return b
}

// pump reads the relay until it is closed. Packets that arrive while the
// device is not listening are dropped.
func (b *relayBind) pump() {
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

// Open opens the direct socket and adds a receive function for the relay.
func (b *relayBind) Open(port uint16) ([]conn.ReceiveFunc, uint16, error) {
	fns, actual, err := b.Bind.Open(port)
	if err != nil {
		return nil, 0, err
	}
	closed := make(chan struct{})
	b.mu.Lock()
	b.closed = closed
	b.mu.Unlock()
	recv := func(packets [][]byte, sizes []int, eps []conn.Endpoint) (int, error) {
		select {
		case <-closed:
			return 0, net.ErrClosed
		case p := <-b.in:
			sizes[0] = copy(packets[0], (*p.buf)[:p.n])
			eps[0] = &relayEndpoint{p.from}
			b.pool.Put(p.buf)
			return 1, nil
		}
	}
	return append(fns, recv), actual, nil
}

// Close closes the direct socket and ends the relay's receive function
// (the relay itself belongs to the service).
func (b *relayBind) Close() error {
	b.mu.Lock()
	select {
	case <-b.closed:
	default:
		close(b.closed)
	}
	b.mu.Unlock()
	return b.Bind.Close()
}

// Send sends through the relay to a relayed endpoint, directly otherwise.
func (b *relayBind) Send(bufs [][]byte, ep conn.Endpoint) error {
	re, ok := ep.(*relayEndpoint)
	if !ok {
		return b.Bind.Send(bufs, ep)
	}
	var errs []error
	for _, buf := range bufs {
		if err := b.relay.WriteTo(buf, re.addr); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// relayEndpoint is a consumer reached through the relay: its public
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
