// Package killswitch keeps a consumer's traffic inside its tunnel. While
// it is on, the host sends nothing but to loopback, out of the tunnel's
// interface, to the provider's endpoint and to the network's own hosts
// (broker, chain RPC, discovery), and with AllowLAN to its connected
// subnets; other IPv4 is rejected and all IPv6 but loopback is dropped
// (the tunnels carry IPv4 only). The rules live in chains of their own,
// hooked first in OUTPUT of iptables and ip6tables. A state file is
// written before the rules change, so a daemon killed while the switch
// was on leaves the host blocked (fail closed) and its next start removes
// the rules (Recover).
package killswitch

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/mystnode/myst/atomicfile"
	"github.com/mystnode/myst/syscmd"
)

// Chain is the name of the switch's chain in iptables and ip6tables.
const Chain = "MYST-KILLSWITCH"

// Switch is the consumer host's kill switch.
type Switch struct {
	path string // state file

	mu    sync.Mutex
	on    bool
	iface string // the tunnel interface let out, "" before the tunnel is up
}

// state is what is on disk while the switch is on.
type state struct {
	On bool `json:"on"`
}

// New keeps the switch's state file in dir.
func New(dir string) *Switch { return &Switch{path: filepath.Join(dir, "killswitch.json")} }

// Config says what may pass besides the tunnel.
type Config struct {
	Allow    []netip.Addr // the provider's endpoint and the network's hosts
	AllowLAN bool
	// AllowNets are networks the user keeps outside the tunnel (split
	// tunnelling: connect --exclude).
	AllowNets []netip.Prefix
	// OnlyNets, when set, turn the switch around (connect --only): only
	// these networks are blocked outside the tunnel; the rest, which the
	// user sends outside anyway, passes. Allow and AllowNets still pass.
	OnlyNets []netip.Prefix
}

func run(bin string, args ...string) error {
	_, err := syscmd.Run(bin, append([]string{"-w"}, args...)...)
	return err
}

// On blocks everything but cfg's hosts and loopback. Calling it again
// replaces the allowed hosts.
func (s *Switch) On(cfg Config) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return err
	}
	raw, _ := json.Marshal(state{On: true})
	if err := atomicfile.Write(s.path, raw, 0o600); err != nil {
		return fmt.Errorf("kill switch state: %w", err)
	}
	rules4 := [][]string{{"-o", "lo", "-j", "ACCEPT"}}
	if s.iface != "" {
		rules4 = append(rules4, []string{"-o", s.iface, "-j", "ACCEPT"})
	}
	for _, a := range cfg.Allow {
		if a.Is4() {
			rules4 = append(rules4, []string{"-d", a.String() + "/32", "-j", "ACCEPT"})
		}
	}
	for _, p := range cfg.AllowNets {
		if p.Addr().Is4() {
			rules4 = append(rules4, []string{"-d", p.Masked().String(), "-j", "ACCEPT"})
		}
	}
	if cfg.AllowLAN {
		lans, err := connectedSubnets()
		if err != nil {
			return err
		}
		for _, p := range lans {
			rules4 = append(rules4, []string{"-d", p.String(), "-j", "ACCEPT"})
		}
	}
	rules6 := [][]string{{"-o", "lo", "-j", "ACCEPT"}, {"-j", "REJECT", "--reject-with", "icmp6-adm-prohibited"}}
	if len(cfg.OnlyNets) > 0 {
		for _, p := range cfg.OnlyNets {
			rules4 = append(rules4, []string{"-d", p.Masked().String(), "-j", "REJECT", "--reject-with", "icmp-admin-prohibited"})
		}
		rules6 = rules6[:1] // IPv6 is never in the tunnel: with --only it is the user's own
	} else {
		rules4 = append(rules4, []string{"-j", "REJECT", "--reject-with", "icmp-admin-prohibited"})
	}
	// One iptables-restore per family: the chain is (re)declared, which
	// empties it, filled, and hooked first in OUTPUT the first time, all
	// in one transaction; nothing passes unfiltered in between.
	for bin, rules := range map[string][][]string{"iptables-restore": rules4, "ip6tables-restore": rules6} {
		var b strings.Builder
		fmt.Fprintf(&b, "*filter\n:%s - [0:0]\n", Chain)
		for _, r := range rules {
			fmt.Fprintf(&b, "-A %s %s\n", Chain, strings.Join(r, " "))
		}
		if !s.on {
			fmt.Fprintf(&b, "-I OUTPUT 1 -j %s\n", Chain)
		}
		b.WriteString("COMMIT\n")
		if err := restore(bin, b.String()); err != nil {
			return s.fail(err)
		}
	}
	s.on = true
	return nil
}

// restore feeds rules to iptables-restore or ip6tables-restore, keeping
// what else is there.
func restore(bin, rules string) error {
	if _, err := syscmd.RunInput([]byte(rules), bin, "-w", "--noflush"); err != nil {
		return fmt.Errorf("%w\n%s", err, rules)
	}
	return nil
}

// fail leaves the rules as they are (blocking) and says why.
func (s *Switch) fail(err error) error {
	return fmt.Errorf("kill switch: %w", err)
}

// AllowInterface lets traffic out of the tunnel's interface (replacing the
// previous tunnel's).
func (s *Switch) AllowInterface(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.on {
		return errors.New("kill switch is off")
	}
	if s.iface == name {
		return nil
	}
	if s.iface != "" {
		run("iptables", "-D", Chain, "-o", s.iface, "-j", "ACCEPT")
	}
	if err := run("iptables", "-I", Chain, "1", "-o", name, "-j", "ACCEPT"); err != nil {
		return s.fail(err)
	}
	s.iface = name
	return nil
}

// IsOn says whether the switch is on.
func (s *Switch) IsOn() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.on
}

// Off removes the rules and the state file.
func (s *Switch) Off() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := remove(); err != nil {
		return err
	}
	s.on, s.iface = false, ""
	if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// remove unhooks and deletes the chains, ignoring what is not there.
func remove() error {
	var errs []error
	for _, bin := range []string{"iptables", "ip6tables"} {
		for run(bin, "-C", "OUTPUT", "-j", Chain) == nil {
			if err := run(bin, "-D", "OUTPUT", "-j", Chain); err != nil {
				errs = append(errs, err)
				break
			}
		}
		if err := run(bin, "-F", Chain); err != nil && !missing(err) {
			errs = append(errs, err)
		}
		if err := run(bin, "-X", Chain); err != nil && !missing(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func missing(err error) bool {
	return syscmd.IPTablesNoRule(err)
}

// Recover removes the rules a killed daemon left on, if any, and says so.
func (s *Switch) Recover() (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := os.Stat(s.path); errors.Is(err, os.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	if err := remove(); err != nil {
		return false, err
	}
	return true, os.Remove(s.path)
}

// connectedSubnets are the IPv4 subnets of the host's links.
func connectedSubnets() ([]netip.Prefix, error) {
	out, err := exec.Command("ip", "-4", "-o", "addr", "show").Output()
	if err != nil {
		return nil, fmt.Errorf("ip addr show: %w", err)
	}
	var ps []netip.Prefix
	for _, l := range strings.Split(string(out), "\n") {
		f := strings.Fields(l)
		for i := 0; i+1 < len(f); i++ {
			if f[i] == "inet" {
				if p, err := netip.ParsePrefix(f[i+1]); err == nil && !p.Addr().IsLoopback() {
					ps = append(ps, p.Masked())
				}
			}
		}
	}
	return ps, nil
}
