package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mystnode/myst/api"
	"github.com/mystnode/myst/netlab"
)

// TestRelayMatrix connects every consumer to every wireguard provider in
// a lab internet where each sits on a public address, behind a cone
// router or behind a symmetric one (nftables masquerade, fully-random):
// nine pairs. Pairs that can reach each other go direct (punching through
// a cone router); the rest through the network's relay (the one myst-net
// localnet runs on its STUN port), with credentials the broker's
// admission service issued the provider. Every cell connects with the
// kill switch on, the web host sees the provider's public address, and
// the test logs each cell's path and connect time.
func TestRelayMatrix(t *testing.T) {
	if err := netlab.Available(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("must run in CI: %v", err)
		}
		t.Skip(err)
	}
	kinds := []string{netlab.SitePublic, netlab.SiteCone, netlab.SiteSymmetric}
	lab, err := netlab.NewSites("mr", append(kinds, kinds...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := lab.Close(); err != nil {
			t.Errorf("delete namespaces: %v", err)
		}
	})
	dir := t.TempDir()
	ln := startLocalnetIn(t, lab.Internet, netlab.InternetIP)
	web := startSitesWeb(t, lab)
	pass := writeFile(t, dir, "pass", "pw\n")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	type node struct {
		site *netlab.Site
		id   string
		d    *daemon
	}
	start := func(name string, s *netlab.Site, extra ...string) node {
		d := filepath.Join(dir, name)
		id := newIdentityIn(t, s.Host, ln, d, pass, true)
		dm := startDaemonIn(t, s.Host, ln, d, extra...)
		mustMystIn(t, s.Host, append(dm.args, "identity", "unlock", id, "--passphrase-file", pass)...)
		return node{site: s, id: id, d: dm}
	}
	var providers, consumers []node
	for i, s := range lab.Sites[:3] {
		p := start(fmt.Sprintf("provider-%s", kinds[i]), s, "--wireguard-port", "0", "--wireguard-subnet", "198.19.0.0/16", "--country", "DE")
		mustMystIn(t, s.Host, append(p.d.args, "service", "start", "wireguard", "--identity", p.id)...)
		ss, err := p.d.client.Services(ctx)
		want := map[string]string{netlab.SitePublic: "public", netlab.SiteCone: "cone", netlab.SiteSymmetric: "relayed"}[kinds[i]]
		if err != nil || len(ss) != 1 || ss[0].Reachability != want || (kinds[i] != netlab.SitePublic) != (ss[0].Relay != "") {
			t.Fatalf("%s provider's service: %+v %v; want reachability %s, a relayed address behind NAT\nlog:\n%s", kinds[i], ss, err, want, p.d.stderr.String())
		}
		t.Logf("%s provider: reachability %s, endpoint %s, relay %q", kinds[i], ss[0].Reachability, ss[0].Endpoint, ss[0].Relay)
		providers = append(providers, p)
	}
	for i, s := range lab.Sites[3:] {
		consumers = append(consumers, start(fmt.Sprintf("consumer-%s", kinds[i]), s))
	}

	on := true
	var summary []string
	for _, c := range consumers {
		for _, p := range providers {
			cell := fmt.Sprintf("consumer %s, provider %s", c.site.Kind, p.site.Kind)
			wantPath := "direct"
			switch {
			case p.site.Kind == netlab.SiteSymmetric || (p.site.Kind == netlab.SiteCone && c.site.Kind == netlab.SiteSymmetric):
				wantPath = "relayed"
			case p.site.Kind == netlab.SiteCone:
				wantPath = "punched"
			}
			began := time.Now()
			conn, err := c.d.client.Connect(ctx, api.ConnectionRequest{ConsumerID: c.id, ProviderID: p.id, ServiceType: "wireguard", KillSwitch: &on, DNS: "system"})
			took := time.Since(began)
			if err != nil {
				t.Fatalf("%s: connect: %v\nprovider log:\n%s\nconsumer log:\n%s", cell, err, p.d.stderr.String(), c.d.stderr.String())
			}
			if conn.Path != wantPath {
				t.Errorf("%s: path %q, want %q", cell, conn.Path, wantPath)
			}
			if got := sitesGet(t, c.site.Host, web); got != p.site.PublicIP {
				t.Errorf("%s: the web host saw %s, want the provider's public address %s", cell, got, p.site.PublicIP)
			}
			if out := mustMystIn(t, c.site.Host, append(c.d.args, "status")...).stdout; !strings.Contains(out, "path: "+wantPath) {
				t.Errorf("%s: myst status does not say the path:\n%s", cell, out)
			}
			if _, err := c.d.client.Disconnect(ctx); err != nil {
				t.Fatalf("%s: disconnect: %v", cell, err)
			}
			line := fmt.Sprintf("%-34s path %-8s connect %s", cell, conn.Path, took.Round(time.Millisecond))
			summary = append(summary, line)
			t.Log(line)
		}
	}
	t.Logf("relay matrix (wireguard):\n%s", strings.Join(summary, "\n"))
}

// startSitesWeb runs the web host of a Sites lab: it answers with the
// address it sees.
func startSitesWeb(t *testing.T, lab *netlab.Sites) string {
	t.Helper()
	l, err := netlab.Listen(lab.Internet, netlab.HomeWebIP+":0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		fmt.Fprintf(rw, "%s\n", host)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return "http://" + l.Addr().String()
}

// sitesGet asks the web host, from namespace ns, who it sees.
func sitesGet(t *testing.T, ns, url string) string {
	t.Helper()
	resp, err := httpFrom(ns, 10*time.Second).Get(url)
	if err != nil {
		t.Fatalf("fetch from %s: %v", ns, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(b))
}
