package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/mystnode/myst/mysttest"
	"github.com/mystnode/myst/network"
)

// startGeth runs a separate geth --dev chain sealing every 2 s.
func startGeth(t testing.TB) (rpc, key string) {
	t.Helper()
	g := mysttest.StartGeth(t, 2)
	return g.RPC, g.KeyFile
}

func readDeployState(t testing.TB, path string) []deployStep {
	t.Helper()
	var st struct {
		Steps []deployStep `json:"steps"`
	}
	readJSONFile(t, path, &st)
	return st.Steps
}

type deployStep struct {
	Name    string `json:"name"`
	GasUsed uint64 `json:"gas_used"`
}

// TestDeployToRealChain deploys the network's contracts with `myst network
// deploy` to a separate geth process sealing every 2 s, kills the deploy
// right after its first contract is mined, and runs it again: it resumes,
// the first contract is not deployed twice, and the network file it writes
// works (chain id read from the chain, code at every address, the
// registry's block, the given URLs).
func TestDeployToRealChain(t *testing.T) {
	t.Parallel()
	rpc, key := startGeth(t)
	dir := t.TempDir()
	pass := writeFile(t, dir, "pass", "")
	out := filepath.Join(dir, "network.json")
	args := []string{"deploy", "--rpc", rpc, "--keystore", key, "--passphrase-file", pass, "--test-token", "--out", out,
		"--confirmations", "2", "--challenge-period", "1m",
		"--broker-url", "nats://127.0.0.1:4222", "--discovery-url", "http://127.0.0.1:4051", "--stun-url", "stun:127.0.0.1:3478", "--stun-url", "stun:127.0.0.1:3479"}

	// First run: killed once the registry is deployed.
	first := exec.Command(mystNetBin, args...)
	stderr, err := first.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	seen := &syncBuffer{}
	deployed := regexp.MustCompile(`IdentityRegistry deployed at (0x[0-9a-fA-F]{40})`)
	var registry string
	buf := make([]byte, 4096)
	deadline := time.Now().Add(2 * time.Minute)
	for registry == "" && time.Now().Before(deadline) {
		n, err := stderr.Read(buf)
		seen.Write(buf[:n])
		if m := deployed.FindStringSubmatch(seen.String()); m != nil {
			registry = m[1]
		}
		if err != nil {
			break
		}
	}
	first.Process.Kill()
	first.Wait()
	if registry == "" {
		t.Fatalf("the first run never deployed the registry:\n%s", seen.String())
	}
	t.Logf("first run, killed after:\n%s", seen.String())
	if _, err := os.Stat(out); err == nil {
		t.Fatal("a network file was written by the killed run")
	}

	// Second run: resumes.
	start := time.Now()
	r := mustMystNet(t, args...)
	t.Logf("second run (%s):\n%s%s", time.Since(start).Round(time.Millisecond), r.stderr, r.stdout)
	if !strings.Contains(r.stderr, "resuming the deployment") || !strings.Contains(r.stderr, "IdentityRegistry: done already") {
		t.Fatalf("the second run did not resume:\n%s", r.stderr)
	}
	nf, err := network.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if nf.RegistryAddress != common.HexToAddress(registry) {
		t.Fatalf("registry %s in the network file, %s deployed by the first run: deployed twice", nf.RegistryAddress.Hex(), registry)
	}
	if nf.ChainID != 1337 || len(nf.STUNURLs) != 2 || nf.DiscoveryURL != "http://127.0.0.1:4051" || len(nf.BrokerURLs) != 1 || nf.RegistryFromBlock == 0 {
		t.Fatalf("network file: %+v", nf)
	}
	ec, err := ethclient.Dial(rpc)
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	ctx := mysttest.Ctx(t, 30*time.Second)
	for name, a := range map[string]common.Address{"registry": nf.RegistryAddress, "token": *nf.TokenAddress, "payments": *nf.PaymentsAddress} {
		code, err := ec.CodeAt(ctx, a, nil)
		if err != nil || len(code) == 0 {
			t.Fatalf("no code at the %s %s: %v", name, a.Hex(), err)
		}
	}
	// The deployer sent exactly the four transactions (registry, token,
	// mint, payments): nothing twice.
	keyAddr := regexp.MustCompile(`"address":"([0-9a-f]{40})"`).FindStringSubmatch(must(os.ReadFile(key)))
	if keyAddr == nil {
		t.Fatal("no address in the dev keystore")
	}
	nonce, err := ec.NonceAt(ctx, common.HexToAddress(keyAddr[1]), nil)
	if err != nil || nonce != 4 {
		t.Fatalf("the deployer's nonce is %d (%v), want 4 transactions", nonce, err)
	}
	gas := map[string]uint64{}
	for _, st := range readDeployState(t, filepath.Join(dir, "network.deploy-state.json")) {
		gas[st.Name] = st.GasUsed
	}
	t.Logf("gas used on geth --dev: %v", gas)
	if _, err := os.Stat(filepath.Join(dir, "network.verify.json")); err != nil {
		t.Fatalf("no verification data: %v", err)
	}
	// Test tokens and ether from the deployer's keystore, on this chain.
	cli := []string{"--data-dir", filepath.Join(dir, "consumer"), "--network", out, "--lightkdf"}
	idPass := writeFile(t, dir, "idpass", "pw\n")
	id := mustMyst(t, append(cli, "identity", "new", "--passphrase-file", idPass)...).lastLine()
	mustMyst(t, append(cli, "payments", "fund", id, "5", "--from", key, "--passphrase-file", pass, "--ether", "0.01")...)
	if b := mustMyst(t, append(cli, "payments", "balance", id)...).stdout; !strings.Contains(b, "5") {
		t.Fatalf("balance after fund --from:\n%s", b)
	}
	// A third run has nothing left to do.
	r = mustMystNet(t, args...)
	if strings.Count(r.stderr, "done already") != 4 {
		t.Fatalf("third run:\n%s", r.stderr)
	}
}
