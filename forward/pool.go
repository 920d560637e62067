package forward

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
)

// Slot is one service's share of a pool: a tunnel subnet and a UDP port (0
// when the pool picks none: the service takes a free one).
type Slot struct {
	Index  int
	Subnet netip.Prefix
	Port   int
}

// Pool hands out /24 tunnel subnets of a larger IPv4 prefix and ports
// counted up from a first port, one slot per running service; a stopped
// service gives its slot back.
type Pool struct {
	subnets netip.Prefix
	port    int

	mu   sync.Mutex
	used map[int]bool
}

// ErrPoolFull means every slot is taken.
var ErrPoolFull = errors.New("no free tunnel subnet left")

// NewPool makes a pool of the /24s of subnets (at most /24 itself) and
// ports from firstPort (0: none).
func NewPool(subnets netip.Prefix, firstPort int) (*Pool, error) {
	if !subnets.IsValid() || !subnets.Addr().Is4() || subnets.Bits() > 24 {
		return nil, fmt.Errorf("tunnel subnet pool %v: want an IPv4 prefix of /24 or larger, like 10.88.0.0/16", subnets)
	}
	if firstPort < 0 || firstPort > 65535 {
		return nil, fmt.Errorf("first port %d: want 0-65535", firstPort)
	}
	return &Pool{subnets: subnets.Masked(), port: firstPort, used: map[int]bool{}}, nil
}

func (p *Pool) size() int {
	n := 1 << (24 - p.subnets.Bits())
	if p.port > 0 {
		n = min(n, 65536-p.port)
	}
	return n
}

// Take gives the lowest free slot.
func (p *Pool) Take() (Slot, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range p.size() {
		if p.used[i] {
			continue
		}
		p.used[i] = true
		return p.slot(i), nil
	}
	return Slot{}, fmt.Errorf("%w in %s (%d services run)", ErrPoolFull, p.subnets, len(p.used))
}

// Give returns a slot.
func (p *Pool) Give(s Slot) {
	p.mu.Lock()
	delete(p.used, s.Index)
	p.mu.Unlock()
}

func (p *Pool) slot(i int) Slot {
	a := p.subnets.Addr().As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v += uint32(i) << 8
	s := Slot{Index: i, Subnet: netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), 0}), 24)}
	if p.port > 0 {
		s.Port = p.port + i
	}
	return s
}

// Prefix is the range the pool's subnets come from.
func (p *Pool) Prefix() netip.Prefix { return p.subnets }
