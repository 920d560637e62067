package e2e

import (
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/mystnode/myst/mysttest"
	"github.com/mystnode/myst/proposal"
)

// startNATSServer runs the standalone nats-server scripts/install.sh
// builds, with the configuration conf, listening on port, until the test
// ends.
func startNATSServer(t testing.TB, port int, conf string) {
	t.Helper()
	bin := mysttest.ToolPath(t, "nats-server", "MYST_NATS_SERVER")
	path := writeFile(t, t.TempDir(), "nats.conf", fmt.Sprintf("listen: 127.0.0.1:%d\n%s", port, conf))
	mysttest.StartTool(t, "nats-server", bin, "-c", path)
	mysttest.WaitFor(t, 20*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// TestNetworkOnRealChain runs a whole network as separate processes, none
// of them localnet: a geth --dev chain sealing every 2 s, `myst-net
// deploy` to it, a standalone nats-server with `myst-net broker-admission`,
// a standalone `myst-net discovery`, and two daemons whose identities pay
// their own gas (the network has no gas payer). A priced noop session is
// settled with 2 confirmations; the provider daemon is killed right after
// its settlement is sent and started again: the chain pays the provider
// exactly the consumer's last promise, with one settlement transaction.
func TestNetworkOnRealChain(t *testing.T) {
	t.Parallel()
	g := mysttest.StartGeth(t, 2)
	dir := t.TempDir()
	empty := writeFile(t, dir, "empty", "")
	pass := writeFile(t, dir, "pass", "pw\n")
	netPath := filepath.Join(dir, "network.json")
	natsPort, discPort := mysttest.FreePort(t), mysttest.FreePort(t)
	natsURL := fmt.Sprintf("nats://127.0.0.1:%d", natsPort)
	discAddr := fmt.Sprintf("127.0.0.1:%d", discPort)

	// The operator: deploy, then run the broker and discovery.
	r := mustMystNet(t, "deploy", "--rpc", g.RPC, "--keystore", g.KeyFile, "--passphrase-file", empty, "--test-token",
		"--out", netPath, "--confirmations", "2", "--challenge-period", "1m", "--broker-url", natsURL, "--discovery-url", "http://"+discAddr)
	t.Logf("deploy:\n%s", r.stderr)
	admDir := filepath.Join(dir, "admission")
	conf := mustMystNet(t, "broker-admission", "init", "--dir", admDir).stdout
	startNATSServer(t, natsPort, conf)
	startProcessOf(t, mystNetBin, "", regexp.MustCompile(`broker admission serving (\S+)`), 30*time.Second,
		"--network", netPath, "broker-admission", "serve", "--dir", admDir, "--nats", natsURL)
	startProcessOf(t, mystNetBin, "", regexp.MustCompile(`discovery ready: (\S+)`), 30*time.Second,
		"--network", netPath, "discovery", "--listen", discAddr, "--db", "sqlite:"+filepath.Join(dir, "discovery.db"))

	// Two users: identities funded from the deployer's keystore, each
	// registering itself (paying its own gas).
	ids := map[string]string{}
	for _, name := range []string{"provider", "consumer"} {
		cli := []string{"--data-dir", filepath.Join(dir, name), "--network", netPath, "--lightkdf"}
		id := mustMyst(t, append(cli, "identity", "new", "--passphrase-file", pass)...).lastLine()
		mustMyst(t, append(cli, "payments", "fund", id, "100", "--from", g.KeyFile, "--passphrase-file", empty, "--ether", "1")...)
		mustMyst(t, append(cli, "identity", "register", id, "--passphrase-file", pass)...)
		ids[name] = id
	}
	provider, consumer := ids["provider"], ids["consumer"]
	ccli := []string{"--data-dir", filepath.Join(dir, "consumer"), "--network", netPath, "--lightkdf"}
	mustMyst(t, append(ccli, "payments", "deposit", "10", "--identity", consumer, "--passphrase-file", pass)...)

	ec, err := ethclient.Dial(g.RPC)
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	ctx := mysttest.Ctx(t, 10*time.Minute)
	provAddr := common.HexToAddress(provider)
	_, prov0 := balances(t, ccli, provider)
	nonce0, err := ec.NonceAt(ctx, provAddr, nil)
	if err != nil {
		t.Fatal(err)
	}

	ln := &localnet{network: netPath, rpcURL: g.RPC}
	// The provider's first RPC URL is dead: it fails over to geth.
	deadRPC := fmt.Sprintf("http://127.0.0.1:%d", mysttest.FreePort(t))
	pArgs := []string{"--invoice-every", "300ms", "--payment-grace", "3s", "--settle-threshold", "1000", "--confirmations", "2",
		"--rpc", deadRPC, "--rpc", g.RPC}
	pd := startDaemon(t, ln, filepath.Join(dir, "provider"), pArgs...)
	cd := startDaemon(t, ln, filepath.Join(dir, "consumer"), "--confirmations", "2")
	mustMyst(t, append(pd.args, "identity", "unlock", provider, "--passphrase-file", pass)...)
	mustMyst(t, append(cd.args, "identity", "unlock", consumer, "--passphrase-file", pass)...)
	mustMyst(t, append(pd.args, "service", "start", "noop", "--identity", provider, "--country", "DE", "--price-hour", "36")...)
	// Found through the standalone discovery.
	mysttest.WaitFor(t, 30*time.Second, func() bool {
		return strings.Contains(myst(t, append(cd.args, "proposals", "--service-type", "noop")...).stdout, provider)
	})
	mustMyst(t, append(cd.args, "connect", provider, "--identity", consumer, "--service", "noop")...)
	mysttest.WaitFor(t, 2*time.Minute, func() bool {
		l, err := pd.client.Sessions(ctx)
		return err == nil && len(l) == 1 && l[0].Amount != "" && mustAmount(t, l[0].Amount).Cmp(mustAmount(t, "0.02")) >= 0
	})
	mustMyst(t, append(cd.args, "disconnect")...)

	// The session's end settles it: kill the provider as soon as the
	// settlement is sent, before its 2 confirmations.
	sent := regexp.MustCompile(`msg="transaction sent" what="settle `)
	mysttest.WaitFor(t, time.Minute, func() bool { return sent.MatchString(pd.stderr.String()) })
	pd.kill()
	t.Logf("provider killed with its settlement in flight")
	journal, _ := filepath.Glob(filepath.Join(dir, "provider", "transactions", "*.json"))
	if len(journal) != 1 {
		t.Fatalf("the killed provider's transaction journal holds %d entries, want its settlement", len(journal))
	}
	pd = startDaemon(t, ln, filepath.Join(dir, "provider"), pArgs...)
	// The identity pays its own gas: its settlements go once it is unlocked.
	mustMyst(t, append(pd.args, "identity", "unlock", provider, "--passphrase-file", pass)...)
	var settled *big.Int
	mysttest.WaitFor(t, 2*time.Minute, func() bool {
		e, err := pd.client.Earnings(ctx, provider)
		if err != nil || e.Unsettled != "0" || e.Settled == "0" {
			return false
		}
		settled = mustAmount(t, e.Settled)
		return true
	})
	if !strings.Contains(pd.stderr.String(), "Ethereum RPC failing; using the next URL") {
		t.Errorf("the provider never said it failed over from %s", deadRPC)
	}
	// The journal was used: the settlement was waited for, or (mined
	// meanwhile, under load) found mined at start.
	if log := pd.stderr.String(); !strings.Contains(log, "transaction sent by an earlier run; waiting for it") &&
		!strings.Contains(log, `msg="transactions an earlier run left in flight" mined=1`) {
		t.Errorf("the restarted provider did not look at its journaled settlement:\n%s", log)
	}
	_, prov1 := balances(t, ccli, provider)
	gained := new(big.Int).Sub(prov1, prov0)
	nonce1, err := ec.NonceAt(ctx, provAddr, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("last promise %s MYSTT; provider gained %s on chain with %d transaction(s)", proposal.FormatAmount(settled), proposal.FormatAmount(gained), nonce1-nonce0)
	if gained.Cmp(settled) != 0 {
		t.Fatalf("provider gained %s, last promise %s", gained, settled)
	}
	if nonce1-nonce0 != 1 {
		t.Fatalf("the provider sent %d transactions to settle one promise across a restart", nonce1-nonce0)
	}
	if journal, _ := filepath.Glob(filepath.Join(dir, "provider", "transactions", "*.json")); len(journal) != 0 {
		t.Fatalf("journal not emptied: %v", journal)
	}
	if _, err := os.Stat(netPath); err != nil {
		t.Fatal(err)
	}
}
