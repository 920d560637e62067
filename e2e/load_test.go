package e2e

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLoadToolSmoke runs cmd/myst-load briefly against the real daemon
// (a few sessions, a small flood), so the benchmark command keeps working:
// it must open every session, drop none and lose no promise.
func TestLoadToolSmoke(t *testing.T) {
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "myst-load")
	build := exec.Command("go", append(append([]string{"build"}, buildFlags...), "-o", bin, "../cmd/myst-load")...)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build myst-load: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "sessions", "--myst", mystBin, "--lightkdf", "--sessions", "8", "--duration", "8s",
		"--keepalive", "1s", "--invoice-every", "1s", "--flood", "500", "--flood-over", "2s", "--probes", "3")
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("myst-load: %v", err)
	}
	for _, want := range []string{"opened 8, refused 0, failed 0, dropped during the hold 0", "acknowledged but not stored (lost): 0", "PASS"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("report lacks %q", want)
		}
	}
}
