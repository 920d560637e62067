package killswitch

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/mystnode/myst/atomicfile"
	"github.com/mystnode/myst/syscmd"
)

// Inbound refuses new connections coming in on the consumer's tunnel
// interfaces while it is connected: its provider, and the provider's other
// consumers, reach none of the consumer host's services through the
// tunnel (answers to what the consumer opened still come in). Like the
// switch, its rules are written to a state file before they are added, so
// the next start removes what a killed daemon left (Recover).
type Inbound struct {
	path string

	mu    sync.Mutex
	rules [][]string // added, as iptables arguments without -I/-D
}

// NewInbound keeps its state file in dir.
func NewInbound(dir string) *Inbound {
	return &Inbound{path: filepath.Join(dir, "tunnel-inbound.json")}
}

// inboundRules drop new and invalid packets coming in on interfaces whose
// names start with one of prefixes, to this host and through it.
func inboundRules(prefixes []string) [][]string {
	var out [][]string
	for _, p := range prefixes {
		for _, chain := range []string{"INPUT", "FORWARD"} {
			out = append(out, []string{chain, "-i", p + "+", "-m", "conntrack", "--ctstate", "NEW,INVALID", "-m", "comment", "--comment", "myst:tunnel-inbound", "-j", "DROP"})
		}
	}
	return out
}

// On adds the rules for tunnel interfaces named with prefixes (again: no
// change).
func (g *Inbound) On(prefixes []string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.rules) > 0 {
		return nil
	}
	rules := inboundRules(prefixes)
	if err := os.MkdirAll(filepath.Dir(g.path), 0o700); err != nil {
		return err
	}
	raw, _ := json.Marshal(rules)
	if err := atomicfile.Write(g.path, raw, 0o600); err != nil {
		return fmt.Errorf("tunnel inbound state: %w", err)
	}
	for i, r := range rules {
		if err := run("iptables", append([]string{"-I", r[0], "1"}, r[1:]...)...); err != nil {
			g.rules = rules[:i]
			g.offLocked()
			return fmt.Errorf("refuse connections into the tunnel: %w", err)
		}
	}
	g.rules = rules
	return nil
}

// Off removes the rules.
func (g *Inbound) Off() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.offLocked()
}

func (g *Inbound) offLocked() error {
	err := deleteRules(g.rules)
	if err == nil {
		g.rules = nil
		if rerr := os.Remove(g.path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = rerr
		}
	}
	return err
}

func deleteRules(rules [][]string) error {
	var errs []error
	for _, r := range rules {
		if err := run("iptables", append([]string{"-D"}, r...)...); err != nil && !syscmd.IPTablesNoRule(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Recover removes the rules a killed daemon left, if any, and says so.
func (g *Inbound) Recover() (bool, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	raw, err := os.ReadFile(g.path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	var rules [][]string
	if json.Unmarshal(raw, &rules) == nil {
		if err := deleteRules(rules); err != nil {
			return false, err
		}
	}
	return true, os.Remove(g.path)
}
