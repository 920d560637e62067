package e2e

import (
	"context"
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mystnode/myst/api"
	"github.com/mystnode/myst/netlab"
	"github.com/nats-io/nats.go"
)

// daemon is a running `myst daemon` process.
type daemon struct {
	*process
	ns      string
	dataDir string
	apiAddr string
	args    []string // global flags that point CLI commands at this daemon
	client  *api.Client
}

var readyRE = regexp.MustCompile(`API on http://(\S+),`)

// startDaemon runs `myst daemon` with its own data dir and a free API port,
// and stops it (SIGTERM, then checks a clean exit) when the test ends.
func startDaemon(t testing.TB, ln *localnet, dataDir string, extra ...string) *daemon {
	t.Helper()
	return startDaemonIn(t, "", ln, dataDir, extra...)
}

// startDaemonIn runs a daemon inside network namespace ns ("" for this one).
func startDaemonIn(t testing.TB, ns string, ln *localnet, dataDir string, extra ...string) *daemon {
	t.Helper()
	return startDaemonOf(t, mystBin, ns, ln, dataDir, extra...)
}

// startDaemonOf is startDaemonIn with another build of myst.
func startDaemonOf(t testing.TB, bin, ns string, ln *localnet, dataDir string, extra ...string) *daemon {
	t.Helper()
	p, apiAddr := startProcessOf(t, bin, ns, readyRE, 30*time.Second,
		append([]string{"--data-dir", dataDir, "--network", ln.network, "--lightkdf", "--api-addr", "127.0.0.1:0", "daemon"}, extra...)...)
	d := &daemon{process: p, ns: ns, dataDir: dataDir, apiAddr: apiAddr}
	d.args = []string{"--data-dir", dataDir, "--network", ln.network, "--lightkdf", "--api-addr", d.apiAddr}
	token, err := api.ReadToken(filepath.Join(dataDir, api.TokenFile))
	if err != nil {
		t.Fatal(err)
	}
	d.client = api.NewClient(d.apiAddr, token)
	if ns != "" {
		d.client = d.client.WithDialer(netlab.DialContext(ns))
	}
	return d
}

// newIdentity creates an identity in dataDir and, if register, registers
// it on the localnet.
func newIdentity(t testing.TB, ln *localnet, dataDir, pass string, register bool) string {
	t.Helper()
	return newIdentityIn(t, "", ln, dataDir, pass, register)
}

// newIdentityIn is newIdentity with the CLI run inside namespace ns.
func newIdentityIn(t testing.TB, ns string, ln *localnet, dataDir, pass string, register bool) string {
	t.Helper()
	args := []string{"--data-dir", dataDir, "--network", ln.network, "--lightkdf"}
	id := mustMystIn(t, ns, append(args, "identity", "new", "--passphrase-file", pass)...).lastLine()
	if register {
		mustMystIn(t, ns, append(args, "identity", "register", id, "--passphrase-file", pass)...)
	}
	return id
}

func TestPingThroughDaemons(t *testing.T) {
	t.Parallel()
	ln, dir, pass, ids := startNetwork(t, "provider", "consumer")
	provider, consumer := ids[0], ids[1]
	stranger := newIdentity(t, ln, filepath.Join(dir, "consumer"), pass, false)
	silent := newIdentity(t, ln, filepath.Join(dir, "silent"), pass, true)

	pd := startDaemon(t, ln, filepath.Join(dir, "provider"))
	cd := startDaemon(t, ln, filepath.Join(dir, "consumer"))
	mustMyst(t, append(pd.args, "identity", "unlock", provider, "--passphrase-file", pass)...)
	mustMyst(t, append(cd.args, "identity", "unlock", consumer, "--passphrase-file", pass)...)
	mustMyst(t, append(cd.args, "identity", "unlock", stranger, "--passphrase-file", pass)...)

	// Nobody records the broker: anonymous clients are refused (what a
	// recording would see, nothing in the clear, dialog.TestNoPlaintextOnBroker
	// shows on an open broker).
	if nc, err := nats.Connect(brokerURL(t, ln), nats.MaxReconnects(0)); err == nil {
		nc.Close()
		t.Fatal("an anonymous client connected to the broker")
	} else if !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("anonymous client: %v", err)
	}

	r := mustMyst(t, append(cd.args, "ping", provider, "--identity", consumer, "-c", "3", "-i", "10ms")...)
	if strings.Count(r.stdout, "reply from "+provider) != 3 || !strings.Contains(r.stdout, "3 replies, 0% lost") {
		t.Fatalf("ping output:\n%s", r.stdout)
	}
	t.Logf("ping:\n%s", r.stdout)

	// An unregistered consumer is refused by its own node, before anything
	// is sent (the broker would not carry it).
	r = myst(t, append(cd.args, "ping", provider, "--identity", stranger, "-c", "1")...)
	if r.code == 0 || !strings.Contains(r.stderr, "consumer not registered") || !strings.Contains(r.stderr, "myst identity register") {
		t.Fatalf("unregistered consumer: exit %d, stderr %s", r.code, r.stderr)
	}
	// Nobody answers for an identity that is registered but not unlocked anywhere.
	r = myst(t, append(cd.args, "ping", silent, "--identity", consumer, "-c", "1", "--timeout", "300ms")...)
	if r.code == 0 || !strings.Contains(r.stderr, "no answer from "+silent) {
		t.Fatalf("ping to a silent identity: exit %d, stderr %s", r.code, r.stderr)
	}

	// Metrics need the token; the provider had no unregistered consumer
	// to refuse.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	metrics, err := pd.client.Metrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(metrics, `myst_dialog_refused_total{reason="unregistered"}`) {
		t.Fatalf("an unregistered consumer reached the provider:\n%s", grepLines(metrics, "myst_"))
	}
	if _, err := api.NewClient(pd.apiAddr, "wrong").Identities(ctx); err == nil || !strings.Contains(err.Error(), "API token") {
		t.Fatalf("request with a wrong token: %v", err)
	}
}

func brokerURL(t testing.TB, ln *localnet) string {
	t.Helper()
	var nf struct {
		BrokerURLs []string `json:"broker_urls"`
	}
	readJSONFile(t, ln.network, &nf)
	if len(nf.BrokerURLs) == 0 {
		t.Fatal("network file has no broker_urls")
	}
	return nf.BrokerURLs[0]
}

func grepLines(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
