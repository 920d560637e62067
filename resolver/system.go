package resolver

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sync"

	"github.com/mystnode/myst/atomicfile"
)

// ResolvConf is the host's resolver configuration.
const ResolvConf = "/etc/resolv.conf"

// System points the host's resolver at a tunnel's DNS while connected.
type System struct {
	file  string // normally ResolvConf
	state string // what was there, saved before the change

	mu  sync.Mutex
	set bool
}

// saved is the state file: the resolver file's path and exact content.
type saved struct {
	File    string `json:"file"`
	Content []byte `json:"content"`
}

// NewSystem manages file (ResolvConf), keeping its saved copy in dir.
func NewSystem(file, dir string) *System {
	return &System{file: file, state: filepath.Join(dir, "resolv.conf.saved.json")}
}

// Set makes addr the only nameserver. It checks the file can be read and
// written before changing anything, saves the content first, and edits
// the file in place (a bind mount can't be replaced by a rename).
func (s *System) Set(addr netip.Addr) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	orig, err := os.ReadFile(s.file)
	if err != nil {
		return fmt.Errorf("read %s: %w", s.file, err)
	}
	f, err := os.OpenFile(s.file, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("%s is not writable: %w (run the daemon as root, or connect with --dns system)", s.file, err)
	}
	defer f.Close()
	if !s.set {
		raw, _ := json.Marshal(saved{File: s.file, Content: orig})
		if err := os.MkdirAll(filepath.Dir(s.state), 0o700); err != nil {
			return err
		}
		if err := atomicfile.Write(s.state, raw, 0o600); err != nil {
			return fmt.Errorf("save %s: %w", s.file, err)
		}
	}
	content := fmt.Sprintf("# written by myst while connected; restored on disconnect\nnameserver %s\n", addr)
	if err := writeInPlace(f, []byte(content)); err != nil {
		return fmt.Errorf("write %s: %w", s.file, err)
	}
	s.set = true
	return nil
}

func writeInPlace(f *os.File, b []byte) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.WriteAt(b, 0); err != nil {
		return err
	}
	return f.Sync()
}

// Restore puts back exactly what Set found; without a saved copy it does
// nothing.
func (s *System) Restore() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := restore(s.state)
	s.set = false
	return err
}

// Recover restores what a crashed run left changed, and says whether it
// did.
func (s *System) Recover() (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return restore(s.state)
}

func restore(state string) (bool, error) {
	raw, err := os.ReadFile(state)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var sv saved
	if err := json.Unmarshal(raw, &sv); err != nil || sv.File == "" {
		return false, fmt.Errorf("saved resolver state %s is unreadable: %v", state, err)
	}
	f, err := os.OpenFile(sv.File, os.O_WRONLY, 0)
	if err != nil {
		return false, fmt.Errorf("restore %s: %w", sv.File, err)
	}
	defer f.Close()
	if err := writeInPlace(f, sv.Content); err != nil {
		return false, fmt.Errorf("restore %s: %w", sv.File, err)
	}
	return true, os.Remove(state)
}
