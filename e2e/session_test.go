package e2e

import (
	"context"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mystnode/myst/mysttest"
)

func TestNoopSessionThroughDiscovery(t *testing.T) {
	t.Parallel()
	ln, dir, pass, ids := startNetwork(t, "provider", "consumer", "second")
	provider, consumer, second := ids[0], ids[1], ids[2]

	// The service is priced: both consumers deposit.
	for _, c := range []struct{ id, dir string }{{consumer, "consumer"}, {second, "second"}} {
		args := []string{"--data-dir", filepath.Join(dir, c.dir), "--network", ln.network, "--lightkdf"}
		mustMyst(t, append(args, "payments", "fund", c.id, "5")...)
		mustMyst(t, append(args, "payments", "deposit", "5", "--identity", c.id, "--passphrase-file", pass)...)
	}

	pd := startDaemon(t, ln, filepath.Join(dir, "provider"))
	cd := startDaemon(t, ln, filepath.Join(dir, "consumer"))
	sd := startDaemon(t, ln, filepath.Join(dir, "second"))
	mustMyst(t, append(pd.args, "identity", "unlock", provider, "--passphrase-file", pass)...)
	mustMyst(t, append(cd.args, "identity", "unlock", consumer, "--passphrase-file", pass)...)
	mustMyst(t, append(sd.args, "identity", "unlock", second, "--passphrase-file", pass)...)

	// Bad service options are refused, naming the field.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--country", "Germany"}, "options.country"},
		{[]string{"--country", "DE", "--price-hour", "-1"}, "price_hour"},
		{[]string{"--country", "DE", "--price-gib", "lots"}, "price_gib"},
		{[]string{"--country", "DE", "--max-sessions", "0"}, "--max-sessions 0"},
	} {
		r := myst(t, append(append(pd.args, "service", "start", "noop", "--identity", provider), c.args...)...)
		if r.code == 0 || !strings.Contains(r.stderr, c.want) {
			t.Fatalf("service start %v: exit %d, %s", c.args, r.code, r.stderr)
		}
	}
	r := myst(t, append(pd.args, "service", "start", "carrier-pigeon", "--identity", provider, "--country", "DE")...)
	if r.code == 0 || !strings.Contains(r.stderr, "unsupported service type") {
		t.Fatalf("unknown service type: %s", r.stderr)
	}

	svcID := mustMyst(t, append(pd.args, "service", "start", "noop", "--identity", provider, "--country", "DE", "--city", "Berlin",
		"--price-hour", "0.01", "--max-sessions", "1")...).lastLine()

	// The consumer finds it with filters, and not with others.
	r = mustMyst(t, append(cd.args, "proposals", "--service-type", "noop", "--country", "DE")...)
	if !strings.Contains(r.stdout, provider) || !strings.Contains(r.stdout, "Berlin") {
		t.Fatalf("proposals table lacks the provider:\n%s", r.stdout)
	}
	for _, f := range [][]string{{"--country", "US"}, {"--max-price-hour", "0.001"}, {"--metering", "bytes"}} {
		r = mustMyst(t, append(append(cd.args, "proposals", "--service-type", "noop"), f...)...)
		if strings.Contains(r.stdout, provider) {
			t.Fatalf("proposals %v lists the provider:\n%s", f, r.stdout)
		}
	}
	if r = myst(t, append(cd.args, "proposals", "--country", "Germany")...); r.code == 0 || !strings.Contains(r.stderr, "country") {
		t.Fatalf("bad country filter: %s", r.stderr)
	}

	r = mustMyst(t, append(cd.args, "connect", provider, "--identity", consumer, "--service", "noop")...)
	if !strings.HasPrefix(r.lastLine(), "Connected to "+provider) {
		t.Fatalf("connect: %s", r.stdout)
	}
	if st := mustMyst(t, append(cd.args, "status")...).stdout; !strings.Contains(st, "state: Connected") || !strings.Contains(st, provider) {
		t.Fatalf("status:\n%s", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sessions, err := pd.client.Sessions(ctx)
	if err != nil || len(sessions) != 1 || sessions[0].ConsumerID != consumer || sessions[0].State != "active" {
		t.Fatalf("provider sessions %+v, %v", sessions, err)
	}

	// Max sessions is 1: a second consumer is refused for capacity.
	r = myst(t, append(sd.args, "connect", provider, "--identity", second, "--service", "noop")...)
	if r.code == 0 || !strings.Contains(r.stderr, "capacity") {
		t.Fatalf("second consumer: exit %d, %s", r.code, r.stderr)
	}
	if st := mustMyst(t, append(sd.args, "status")...).stdout; !strings.Contains(st, "state: NotConnected") || !strings.Contains(st, "capacity") {
		t.Fatalf("second consumer's status:\n%s", st)
	}

	// Disconnect ends the session on both sides.
	mustMyst(t, append(cd.args, "disconnect")...)
	if st := mustMyst(t, append(cd.args, "status")...).stdout; !strings.Contains(st, "state: NotConnected") {
		t.Fatalf("status after disconnect:\n%s", st)
	}
	mysttest.WaitFor(t, 10*time.Second, func() bool {
		s, err := pd.client.Sessions(ctx)
		return err == nil && len(s) == 0
	})
	// The slot is free again.
	mustMyst(t, append(sd.args, "connect", provider, "--identity", second, "--service", "noop")...)

	// Stopping the service ends its session and removes its proposal.
	mustMyst(t, append(pd.args, "service", "stop", svcID)...)
	mysttest.WaitFor(t, 15*time.Second, func() bool {
		c, err := sd.client.Connection(ctx)
		return err == nil && c.State == "NotConnected"
	})
	l, err := cd.client.Proposals(ctx, url.Values{"service_type": {"noop"}})
	if err != nil || len(l.Proposals) != 0 {
		t.Fatalf("proposals after the service stopped: %d, %v", len(l.Proposals), err)
	}
}
