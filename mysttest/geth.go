package mysttest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/keystore"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/mystnode/myst/identity"
)

// Geth is a separate go-ethereum process: a --dev chain that seals a block
// every period (not per transaction), HTTP JSON-RPC on loopback.
type Geth struct {
	RPC     string // http://127.0.0.1:port
	KeyFile string // keystore of the funded dev account (empty passphrase)
	Dev     *identity.Signer
}

// GethPath finds geth: $MYST_GETH, what scripts/install.sh builds
// (/usr/local/lib/myst-tools/geth), or PATH. Missing: the test fails in CI
// (CI set) and is skipped elsewhere.
func GethPath(t testing.TB) string {
	t.Helper()
	return ToolPath(t, "geth", "MYST_GETH")
}

// ToolPath finds a program scripts/install.sh builds: $env, then
// /usr/local/lib/myst-tools/name, then PATH. Missing: the test fails in
// CI (CI set) and is skipped elsewhere.
func ToolPath(t testing.TB, name, env string) string {
	t.Helper()
	for _, p := range []string{os.Getenv(env), "/usr/local/lib/myst-tools/" + name} {
		if p != "" {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s not found: scripts/install.sh builds it into /usr/local/lib/myst-tools", name)
	}
	t.Skipf("%s not found (scripts/install.sh builds it)", name)
	return ""
}

// SyncBuffer is a bytes.Buffer safe for concurrent writes and reads
// (a process's output read while it runs).
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *SyncBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *SyncBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// FreePort is a TCP port free on loopback a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// StartTool runs bin with args until the test ends (then SIGTERM, SIGKILL
// after 10 s; killed with the test process too). It returns the
// program's output, logged if the test failed, and a channel closed when
// it exits.
func StartTool(t testing.TB, name, bin string, args ...string) (fmt.Stringer, <-chan struct{}) {
	t.Helper()
	log := &SyncBuffer{}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("%s log:\n%s", name, log.String())
		}
	})
	return log, exited
}

// StartGeth runs geth --dev --dev.period period in a temp dir until the
// test ends.
func StartGeth(t testing.TB, period int) *Geth {
	t.Helper()
	bin := GethPath(t)
	dir := t.TempDir()
	port := FreePort(t)
	log, exited := StartTool(t, "geth", bin, "--dev", "--dev.period", strconv.Itoa(period), "--datadir", dir, "--http", "--http.addr", "127.0.0.1",
		"--http.port", strconv.Itoa(port), "--http.api", "eth,net,web3,txpool", "--ipcdisable", "--nodiscover", "--maxpeers", "0", "--port", "0",
		"--authrpc.port", "0", "--verbosity", "2")
	g := &Geth{RPC: fmt.Sprintf("http://127.0.0.1:%d", port)}
	deadline := time.Now().Add(60 * time.Second)
	for {
		ec, err := ethclient.Dial(g.RPC)
		if err == nil {
			_, err = ec.BlockNumber(context.Background())
			ec.Close()
		}
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("geth did not answer on %s: %v\n%s", g.RPC, err, log.String())
		}
		select {
		case <-exited:
			t.Fatalf("geth exited:\n%s", log.String())
		case <-time.After(200 * time.Millisecond):
		}
	}
	keys, _ := filepath.Glob(filepath.Join(dir, "keystore", "UTC--*"))
	if len(keys) != 1 {
		t.Fatalf("geth --dev keystore: %v\n%s", keys, log.String())
	}
	g.KeyFile = keys[0]
	blob, err := os.ReadFile(g.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	key, err := keystore.DecryptKey(blob, "")
	if err != nil {
		t.Fatal(err)
	}
	g.Dev = identity.NewSigner(key.PrivateKey)
	return g
}
