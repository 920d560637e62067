package natwatch

import (
	"errors"
	"strings"
	"testing"

	"github.com/mystnode/myst/stun"
)

// TestReachable: a node behind symmetric NAT is refused a cone provider at
// once, naming both sides, and reaches a mapped one.
func TestReachable(t *testing.T) {
	w := New(Config{})
	w.side = Side{NAT: stun.Symmetric}
	err := w.Reachable("0xP", "wireguard", stun.Cone)
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "behind cone NAT and this node is behind symmetric NAT") {
		t.Fatalf("pre-check: %v", err)
	}
	if err := w.Reachable("0xP", "wireguard", stun.Mapped); err != nil {
		t.Fatal(err)
	}
}
