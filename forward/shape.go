package forward

import (
	"fmt"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"sync"

	"github.com/mystnode/myst/syscmd"
)

// Shaper holds each session of a tunnel interface to a rate, each way,
// with an HTB class per session address: on the interface for what goes
// to the consumer, and for what comes from it on an IFB device its
// ingress is redirected to. The interface's qdiscs go with it (a
// service's tunnel device); Close removes the IFB device, and NewShaper
// removes one an earlier run of the same interface left.
type Shaper struct {
	iface string
	ifb   string
	mbit  float64

	mu   sync.Mutex
	prio map[netip.Addr]int // session address -> its class and filters
	next int
}

func tc(args ...string) error {
	_, err := syscmd.Run("tc", args...)
	return err
}

// NewShaper readies iface to limit sessions to mbit Mbit/s each way.
func NewShaper(iface string, mbit float64) (*Shaper, error) {
	if mbit <= 0 {
		return nil, fmt.Errorf("session rate %g Mbit/s: want more than 0", mbit)
	}
	ifb := "mifb" + iface[max(0, len(iface)-11):]
	exec.Command("ip", "link", "del", ifb).Run() // a crashed run's
	s := &Shaper{iface: iface, ifb: ifb, mbit: mbit, prio: map[netip.Addr]int{}, next: 1}
	steps := [][]string{
		{"ip", "link", "add", ifb, "type", "ifb"},
		{"ip", "link", "set", ifb, "up"},
		// Unclassified traffic (none of a session's) passes unshaped.
		{"tc", "qdisc", "replace", "dev", iface, "root", "handle", "1:", "htb", "default", "0"},
		{"tc", "qdisc", "replace", "dev", ifb, "root", "handle", "1:", "htb", "default", "0"},
		{"tc", "qdisc", "replace", "dev", iface, "handle", "ffff:", "ingress"},
		{"tc", "filter", "add", "dev", iface, "parent", "ffff:", "protocol", "ip", "prio", "1", "u32", "match", "u32", "0", "0",
			"action", "mirred", "egress", "redirect", "dev", ifb},
	}
	for _, st := range steps {
		var err error
		if st[0] == "ip" {
			if out, e := exec.Command("ip", st[1:]...).CombinedOutput(); e != nil {
				err = fmt.Errorf("ip %s: %v: %s", strings.Join(st[1:], " "), e, strings.TrimSpace(string(out)))
			}
		} else {
			err = tc(st[1:]...)
		}
		if err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// Close removes the IFB device (the tunnel interface's qdiscs go with
// the interface).
func (s *Shaper) Close() {
	exec.Command("ip", "link", "del", s.ifb).Run()
}

// rate is tc's notation of the rate, in kbit/s.
func (s *Shaper) rate() string { return strconv.Itoa(int(s.mbit*1000)) + "kbit" }

// burst lets a class send 10 ms at the rate at once (at least 16 KiB).
func (s *Shaper) burst() string {
	return strconv.Itoa(max(int(s.mbit*1e6/8*0.01), 16<<10))
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
	prio = strconv.Itoa(n + 1) // 1 is the ingress redirect's
	steps := [][]string{
		{"class", "add", "dev", s.iface, "parent", "1:", "classid", id, "htb", "rate", s.rate(), "ceil", s.rate(), "burst", s.burst()},
		{"filter", "add", "dev", s.iface, "parent", "1:", "protocol", "ip", "prio", prio, "u32", "match", "ip", "dst", host, "flowid", id},
		{"class", "add", "dev", s.ifb, "parent", "1:", "classid", id, "htb", "rate", s.rate(), "ceil", s.rate(), "burst", s.burst()},
		{"filter", "add", "dev", s.ifb, "parent", "1:", "protocol", "ip", "prio", prio, "u32", "match", "ip", "src", host, "flowid", id},
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
	prio, id := strconv.Itoa(n+1), fmt.Sprintf("1:%x", n)
	for _, dev := range []string{s.iface, s.ifb} {
		tc("filter", "del", "dev", dev, "parent", "1:", "protocol", "ip", "prio", prio)
		tc("class", "del", "dev", dev, "classid", id)
	}
}
