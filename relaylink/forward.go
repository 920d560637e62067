package relaylink

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"
)

// PacketConn is what a Forwarder reads and writes: a Link.
type PacketConn interface {
	ReadFrom(p []byte) (int, netip.AddrPort, error)
	WriteTo(p []byte, to netip.AddrPort) error
}

// Forwarder carries a relay's packets to a local UDP server that knows
// nothing of the relay (openvpn): each peer gets a local socket of its
// own, so the server sees one client per peer, and what the server
// answers on that socket goes back through the relay to that peer.
type Forwarder struct {
	relay  PacketConn
	local  *net.UDPAddr
	logger *slog.Logger

	mu    sync.Mutex
	peers map[netip.AddrPort]*fwdPeer
	done  chan struct{}
	wg    sync.WaitGroup
}

type fwdPeer struct {
	conn *net.UDPConn
	last time.Time
}

// Forwarding limits: a peer's socket goes after IdleAfter without a
// packet from the peer; at most MaxPeers at once (the relay lets only
// permitted consumers through, so this bounds a provider's own sessions).
const (
	IdleAfter = 3 * time.Minute
	MaxPeers  = 1024
)

// Forward starts carrying relay's packets to local until Close.
func Forward(relay PacketConn, local netip.AddrPort, logger *slog.Logger) *Forwarder {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	f := &Forwarder{relay: relay, local: net.UDPAddrFromAddrPort(local), logger: logger, peers: map[netip.AddrPort]*fwdPeer{}, done: make(chan struct{})}
	f.wg.Add(2)
	go f.run()
	go f.reap()
	return f
}

func (f *Forwarder) run() {
	defer f.wg.Done()
	buf := make([]byte, 65535)
	for {
		n, from, err := f.relay.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			select {
			case <-f.done:
				return
			default:
				continue
			}
		}
		p, err := f.peer(from)
		if err != nil {
			f.logger.Warn("relay forwarder: no socket for a peer", "peer", from, "err", err)
			continue
		}
		p.conn.Write(buf[:n])
	}
}

// peer is from's socket to the local server, made at its first packet.
func (f *Forwarder) peer(from netip.AddrPort) (*fwdPeer, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	select {
	case <-f.done:
		return nil, net.ErrClosed
	default:
	}
	if p := f.peers[from]; p != nil {
		p.last = time.Now()
		return p, nil
	}
	if len(f.peers) >= MaxPeers {
		return nil, errors.New("too many peers")
	}
	conn, err := net.DialUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}, f.local)
	if err != nil {
		return nil, err
	}
	p := &fwdPeer{conn: conn, last: time.Now()}
	f.peers[from] = p
	f.wg.Add(1)
	go f.back(from, conn)
	return p, nil
}

// back carries the server's answers on a peer's socket to the peer.
func (f *Forwarder) back(to netip.AddrPort, conn *net.UDPConn) {
	defer f.wg.Done()
	buf := make([]byte, 65535)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // ICMP unreachable while the server restarts
		}
		if err := f.relay.WriteTo(buf[:n], to); err != nil && errors.Is(err, net.ErrClosed) {
			return
		}
	}
}

func (f *Forwarder) reap() {
	defer f.wg.Done()
	t := time.NewTicker(IdleAfter / 4)
	defer t.Stop()
	for {
		select {
		case <-f.done:
			return
		case <-t.C:
		}
		f.mu.Lock()
		for a, p := range f.peers {
			if time.Since(p.last) > IdleAfter {
				p.conn.Close()
				delete(f.peers, a)
			}
		}
		f.mu.Unlock()
	}
}

// Peers is how many peers have a socket now.
func (f *Forwarder) Peers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.peers)
}

// Close closes every peer's socket. The relay's reader ends when the
// relay is closed (close it after).
func (f *Forwarder) Close() {
	f.mu.Lock()
	select {
	case <-f.done:
		f.mu.Unlock()
		return
	default:
	}
	close(f.done)
	for a, p := range f.peers {
		p.conn.Close()
		delete(f.peers, a)
	}
	f.mu.Unlock()
}
