package syscmd

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

func TestParseRoute(t *testing.T) {
	for out, want := range map[string]struct {
		dev, via string
		local    bool
	}{
		"198.19.0.1 dev mwgc0 src 198.19.0.2 uid 0 \n    cache \n":                   {"mwgc0", "", false},
		"1.1.1.1 via 198.19.0.1 dev tun0 src 198.19.0.2 uid 0 \n    cache \n":        {"tun0", "198.19.0.1", false},
		"192.168.1.1 dev eth0 src 192.168.1.5 uid 0 \n":                              {"eth0", "", false},
		"local 127.0.0.1 dev lo table local src 127.0.0.1 uid 0 \n    cache <local>": {"lo", "", true},
		"": {"", "", false},
	} {
		r := ParseRoute(out)
		if r.Dev != want.dev || r.Local != want.local || (r.Via.IsValid() && r.Via.String() != want.via) || (!r.Via.IsValid() && want.via != "") {
			t.Errorf("%q: %+v, want %+v", out, r, want)
		}
	}
}

// TestErrors: a missing tool names its Debian package; a failing one its
// output; the per-tool texts are matched for that tool only.
func TestErrors(t *testing.T) {
	_, err := Run("tc-not-installed-here")
	if !errors.Is(err, exec.ErrNotFound) || !strings.Contains(err.Error(), "not found: install") {
		t.Fatalf("missing tool: %v", err)
	}
	_, err = Run("sh", "-c", "echo 'RTNETLINK answers: File exists' >&2; exit 2")
	var e *Error
	if !errors.As(err, &e) || e.Output != "RTNETLINK answers: File exists" || IPExists(err) {
		t.Fatalf("sh's output matched as ip's: %v", err)
	}
	e.Tool = "ip"
	if !IPExists(e) || IPTablesNoRule(e) {
		t.Fatal("ip's File exists not recognised")
	}
	out, err := RunInput([]byte("hello"), "cat")
	if err != nil || string(out) != "hello" {
		t.Fatalf("stdin: %q %v", out, err)
	}
}
