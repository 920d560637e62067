// Package e2e runs the real myst binary, built once per test run, as a user
// would: localnet, then CLI commands against it.
package e2e

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/mystnode/myst/mysttest"
	"github.com/mystnode/myst/netlab"
)

// mystBin is the node (cmd/myst); mystNetBin the network side
// (cmd/myst-net: localnet, discovery, broker admission, deploy).
var mystBin, mystNetBin string

// buildFlags are extra flags for building mystBin.
var buildFlags []string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "myst-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	mystBin, mystNetBin = filepath.Join(dir, "myst"), filepath.Join(dir, "myst-net")
	for bin, pkg := range map[string]string{mystBin: "../cmd/myst", mystNetBin: "../cmd/myst-net"} {
		build := exec.Command("go", append(append([]string{"build"}, buildFlags...), "-o", bin, pkg)...)
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build", pkg+":", err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is one finished CLI run.
type result struct {
	stdout, stderr string
	code           int
}

// lastLine is the last non-empty line of stdout.
func (r result) lastLine() string {
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// myst runs the CLI to completion with a deadline.
func myst(t testing.TB, args ...string) result {
	t.Helper()
	return mystIn(t, "", args...)
}

// command is mystBin with args, inside network namespace ns unless "".
func command(ns string, args ...string) *exec.Cmd {
	return commandCtx(context.Background(), ns, args...)
}

func commandCtx(ctx context.Context, ns string, args ...string) *exec.Cmd {
	return commandOf(ctx, mystBin, ns, args...)
}

// commandOf is bin with args, inside network namespace ns unless "".
func commandOf(ctx context.Context, bin, ns string, args ...string) *exec.Cmd {
	if ns == "" {
		return exec.CommandContext(ctx, bin, args...)
	}
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, bin}, args...)...)
}

// mystIn runs the CLI inside network namespace ns ("" for this one).
func mystIn(t testing.TB, ns string, args ...string) result {
	t.Helper()
	return runOf(t, mystBin, ns, args...)
}

// runOf runs bin to completion inside ns ("" for this one).
func runOf(t testing.TB, bin, ns string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := commandOf(ctx, bin, ns, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.Stdin = strings.NewReader("")
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errOut.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run myst %v: %v", args, err)
	}
	return r
}

// mustMyst runs the CLI and fails the test unless it exits 0.
func mustMyst(t testing.TB, args ...string) result {
	t.Helper()
	return mustMystIn(t, "", args...)
}

// mustMystNet runs myst-net (the network side) and fails the test unless
// it exits 0.
func mustMystNet(t testing.TB, args ...string) result {
	t.Helper()
	r := runOf(t, mystNetBin, "", args...)
	if r.code != 0 {
		t.Fatalf("myst-net %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// mustMystIn is mustMyst inside network namespace ns.
func mustMystIn(t testing.TB, ns string, args ...string) result {
	t.Helper()
	r := mystIn(t, ns, args...)
	if r.code != 0 {
		t.Fatalf("myst %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// localnet is a running `myst-net localnet` process.
type localnet struct {
	dataDir string
	network string
	rpcURL  string
}

// startLocalnet starts `myst-net localnet` on a free port and waits for its
// ready line; the process is stopped with SIGTERM when the test ends, and
// must exit cleanly.
func startLocalnet(t testing.TB) *localnet {
	t.Helper()
	return startLocalnetIn(t, "", "127.0.0.1")
}

// startNetwork starts a localnet and registers an identity for each name,
// in its own data dir dir/NAME, encrypted with the passphrase in the file
// pass.
func startNetwork(t testing.TB, names ...string) (ln *localnet, dir, pass string, ids []string) {
	t.Helper()
	ln = startLocalnet(t)
	dir = t.TempDir()
	pass = writeFile(t, dir, "pass", "pw\n")
	for _, n := range names {
		ids = append(ids, newIdentity(t, ln, filepath.Join(dir, n), pass, true))
	}
	return ln, dir, pass, ids
}

// startLocalnetIn runs localnet inside namespace ns, serving on host.
func startLocalnetIn(t testing.TB, ns, host string, extra ...string) *localnet {
	t.Helper()
	dir := t.TempDir()
	_, line := startProcessOf(t, mystNetBin, ns, localnetReadyRE, 60*time.Second, append([]string{
		"localnet", "--data-dir", dir, "--rpc-addr", host + ":0", "--broker-addr", host + ":0", "--discovery-addr", host + ":0", "--stun-addr", host + ":0"}, extra...)...)
	t.Logf("%s", line)
	ln := &localnet{dataDir: dir, network: filepath.Join(dir, "network.json")}
	var nf struct {
		EtherRPCURL string `json:"ether_rpc_url"`
	}
	readJSONFile(t, ln.network, &nf)
	ln.rpcURL = nf.EtherRPCURL
	return ln
}

var localnetReadyRE = regexp.MustCompile(`^localnet ready.*`)

// process is a long-running myst process of a test. When the test ends it
// gets SIGTERM and must exit cleanly (a race-built binary exits 66 after a
// data race), unless it was killed on purpose.
type process struct {
	*netlab.Process
	stderr  *syncBuffer
	stopped bool
}

// startProcess runs myst with args inside namespace ns ("" for this one)
// and waits up to timeout for a stdout line matching ready; it returns the
// line's first submatch.
func startProcess(t testing.TB, ns string, ready *regexp.Regexp, timeout time.Duration, args ...string) (*process, string) {
	t.Helper()
	return startProcessOf(t, mystBin, ns, ready, timeout, args...)
}

// startProcessOf is startProcess of another build of myst.
func startProcessOf(t testing.TB, bin, ns string, ready *regexp.Regexp, timeout time.Duration, args ...string) (*process, string) {
	t.Helper()
	stderr := &syncBuffer{}
	np, v, err := netlab.StartProcess(context.Background(), ns, ready, timeout, stderr, bin, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	p := &process{Process: np, stderr: stderr}
	t.Cleanup(func() { p.stop(t) })
	return p, v
}

// kill SIGKILLs the process (a crash); its clean-exit check is skipped.
func (p *process) kill() {
	p.stopped = true
	p.Kill()
}

func (p *process) stop(t testing.TB) {
	if p.stopped {
		return
	}
	p.stopped = true
	if err := p.Stop(20 * time.Second); err != nil {
		t.Errorf("myst did not stop cleanly: %v\n%s", err, p.stderr.String())
	}
}

type syncBuffer = mysttest.SyncBuffer

// ethCall calls a view with plain JSON-RPC over HTTP.
func ethCall(t testing.TB, rpcURL string, to common.Address, data []byte) []byte {
	t.Helper()
	body, _ := json.Marshal(map[string]any{
		"jsonrpc": "2.0", "id": 1, "method": "eth_call",
		"params": []any{map[string]string{"to": to.Hex(), "data": "0x" + hex.EncodeToString(data)}, "latest"},
	})
	resp, err := http.Post(rpcURL, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out struct {
		Result string `json:"result"`
		Error  *struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("eth_call answer %s: %v", raw, err)
	}
	if out.Error != nil {
		t.Fatalf("eth_call: %s", out.Error.Message)
	}
	b, err := hex.DecodeString(strings.TrimPrefix(out.Result, "0x"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// isRegistered asks the registry contract with eth_call, no bindings.
func isRegistered(t testing.TB, ln *localnet, id string) bool {
	t.Helper()
	raw, err := os.ReadFile(ln.network)
	if err != nil {
		t.Fatal(err)
	}
	var nf struct {
		Registry common.Address `json:"registry_address"`
	}
	if err := json.Unmarshal(raw, &nf); err != nil {
		t.Fatal(err)
	}
	data := append(crypto.Keccak256([]byte("isRegistered(address)"))[:4], common.LeftPadBytes(common.HexToAddress(id).Bytes(), 32)...)
	out := ethCall(t, ln.rpcURL, nf.Registry, data)
	if len(out) != 32 {
		t.Fatalf("isRegistered returned %x", out)
	}
	return out[31] == 1
}

func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func readJSONFile(t testing.TB, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatal(err)
	}
}
