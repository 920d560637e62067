package forward

import (
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"sync"
)

// Shaper holds each session of a tunnel interface to a rate, each way:
// traffic to the consumer is shaped (an HTB class per session address),
// traffic from it is policed on ingress. The qdiscs go with the interface
// (a service's tunnel device), so nothing outlives the service.
type Shaper struct {
	iface string
	mbit  float64

	mu   sync.Mutex
	prio map[netip.Addr]int // session address -> its class and filters
	next int
}

func tc(args ...string) error {
	out, err := exec.Command("tc", args...).CombinedOutput()
	if err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return errors.New("tc not found: install the Debian package iproute2")
		}
		return fmt.Errorf("tc %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// NewShaper readies iface to limit sessions to mbit Mbit/s each way.
func NewShaper(iface string, mbit float64) (*Shaper, error) {
	if mbit <= 0 {
		return nil, fmt.Errorf("session rate %g Mbit/s: want more than 0", mbit)
	}
	// Unclassified traffic (none of a session's) passes unshaped.
	if err := tc("qdisc", "replace", "dev", iface, "root", "handle", "1:", "htb", "default", "0"); err != nil {
		return nil, err
	}
	if err := tc("qdisc", "replace", "dev", iface, "handle", "ffff:", "ingress"); err != nil {
		return nil, err
	}
	return &Shaper{iface: iface, mbit: mbit, prio: map[netip.Addr]int{}, next: 1}, nil
}

// rate is tc's notation of the rate, in kbit/s.
func (s *Shaper) rate() string { return strconv.Itoa(int(s.mbit*1000)) + "kbit" }

// burst lets a flow through in bursts of 50 ms at the rate (at least 64
// KiB), so that TCP keeps near it through the policer.
func (s *Shaper) burst() string {
	b := int(s.mbit * 1e6 / 8 * 0.05)
	return strconv.Itoa(max(b, 64<<10))
}

// Limit holds the session at addr to the rate.
func (s *Shaper) Limit(addr netip.Addr) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.prio[addr]; ok {
		return nil
	}
	n := s.next
	s.next++
	id, prio, host := fmt.Sprintf("1:%x", n), strconv.Itoa(n), addr.String()+"/32"
	steps := [][]string{
		{"class", "add", "dev", s.iface, "parent", "1:", "classid", id, "htb", "rate", s.rate(), "ceil", s.rate(), "burst", s.burst()},
		{"filter", "add", "dev", s.iface, "parent", "1:", "protocol", "ip", "prio", prio, "u32", "match", "ip", "dst", host, "flowid", id},
		{"filter", "add", "dev", s.iface, "parent", "ffff:", "protocol", "ip", "prio", prio, "u32", "match", "ip", "src", host,
			"police", "rate", s.rate(), "burst", s.burst(), "drop", "flowid", ":1"},
	}
	for _, st := range steps {
		if err := tc(st...); err != nil {
			s.remove(n)
			return err
		}
	}
	s.prio[addr] = n
	return nil
}

// Unlimit removes the session at addr's class and filters.
func (s *Shaper) Unlimit(addr netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n, ok := s.prio[addr]; ok {
		s.remove(n)
		delete(s.prio, addr)
	}
}

func (s *Shaper) remove(n int) {
	prio := strconv.Itoa(n)
	tc("filter", "del", "dev", s.iface, "parent", "ffff:", "protocol", "ip", "prio", prio)
	tc("filter", "del", "dev", s.iface, "parent", "1:", "protocol", "ip", "prio", prio)
	tc("class", "del", "dev", s.iface, "classid", fmt.Sprintf("1:%x", n))
}
