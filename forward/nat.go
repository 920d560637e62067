// Package forward lets tunnel traffic out of a provider and hands out the
// tunnel subnets and ports of its services: IP forwarding with NAT to the
// uplink, and only there (an Exit: consumers reach the internet, never the
// provider's host, its networks or each other), crash-safe: every rule
// recorded before it is added, removed at the next start if a crash left
// it; and a Pool of subnet/port slots that are given back when a service
// stops. Every service type shares it.
package forward

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/mystnode/myst/atomicfile"
	"github.com/mystnode/myst/syscmd"
)

const ipForwardPath = "/proc/sys/net/ipv4/ip_forward"

// NAT forwards tunnel subnets to the uplink with masquerade. It records each
// rule it adds in a state file before adding it, so rules left by a crash
// are removed at the next start (Recover).
type NAT struct {
	dir string // state files

	mu         sync.Mutex
	active     int
	forwardWas string // ip_forward before the first subnet; "" if not changed
}

// natState is one subnet's state file.
type natState struct {
	Rules      [][]string `json:"rules"` // iptables argument lists, without -A/-D
	ForwardWas string     `json:"forward_was,omitempty"`
}

// NewNAT keeps its state files in dir.
func NewNAT(dir string) *NAT { return &NAT{dir: dir} }

func iptables(op string, rule []string) error {
	// rule is: -t TABLE CHAIN args...; the op goes before the chain.
	args := []string{"-w", rule[0], rule[1], op, rule[2]}
	args = append(args, rule[3:]...)
	_, err := syscmd.Run("iptables", args...)
	return err
}

// Add forwards subnet out of exit.Uplink with the exit's isolation. name
// names the state file.
func (n *NAT) Add(name string, subnet netip.Prefix, exit Exit) error {
	if err := os.MkdirAll(n.dir, 0o700); err != nil {
		return err
	}
	st := natState{Rules: exitRules(subnet, exit, "myst:"+name)}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.active == 0 {
		was, err := os.ReadFile(ipForwardPath)
		if err != nil {
			return fmt.Errorf("read ip_forward: %w", err)
		}
		if strings.TrimSpace(string(was)) != "1" {
			st.ForwardWas = strings.TrimSpace(string(was))
		}
	}
	path := filepath.Join(n.dir, name+".json")
	raw, _ := json.Marshal(st)
	if err := atomicfile.Write(path, raw, 0o600); err != nil {
		return err
	}
	// Written only when off: an unprivileged daemon (see the README's
	// least-privilege unit) cannot, and needs it set at boot instead.
	if st.ForwardWas != "" {
		if err := os.WriteFile(ipForwardPath, []byte("1\n"), 0o644); err != nil {
			undo(path, st)
			return fmt.Errorf("enable ip_forward: %w (set net.ipv4.ip_forward=1 with sysctl when the daemon runs unprivileged)", err)
		}
	}
	// Inserted last first, so that each chain's head holds them in order.
	for i := len(st.Rules) - 1; i >= 0; i-- {
		if err := iptables("-I", st.Rules[i]); err != nil {
			undo(path, natState{Rules: st.Rules[i+1:], ForwardWas: st.ForwardWas})
			return err
		}
	}
	if n.active == 0 {
		n.forwardWas = st.ForwardWas
	}
	n.active++
	return nil
}

// Remove deletes the rules Add added for name.
func (n *NAT) Remove(name string) error {
	path := filepath.Join(n.dir, name+".json")
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("NAT state %s: %w", path, err)
	}
	var st natState
	if err := json.Unmarshal(raw, &st); err != nil {
		return fmt.Errorf("NAT state %s: %w", path, err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.active--
	if n.active > 0 {
		st.ForwardWas = "" // others still forward
	} else {
		st.ForwardWas = n.forwardWas
	}
	return undo(path, st)
}

// undo deletes rules (ignoring ones already gone), restores ip_forward and
// removes the state file.
func undo(path string, st natState) error {
	var errs []error
	for _, r := range st.Rules {
		if err := iptables("-D", r); err != nil && !syscmd.IPTablesNoRule(err) {
			errs = append(errs, err)
		}
	}
	if st.ForwardWas != "" {
		if err := os.WriteFile(ipForwardPath, []byte(st.ForwardWas+"\n"), 0o644); err != nil {
			errs = append(errs, err)
		}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Recover removes what a previous run left behind (it crashed before
// removing its rules). It returns how many state files it undid.
func (n *NAT) Recover() (int, error) {
	entries, err := os.ReadDir(n.dir)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	count := 0
	var errs []error
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		path := filepath.Join(n.dir, e.Name())
		raw, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var st natState
		if json.Unmarshal(raw, &st) != nil {
			os.Remove(path)
			continue
		}
		if err := undo(path, st); err != nil {
			errs = append(errs, err)
		}
		count++
	}
	return count, errors.Join(errs...)
}
