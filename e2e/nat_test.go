package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mystnode/myst/api"
	"github.com/mystnode/myst/netlab"
	"github.com/mystnode/myst/stun"
)

// TestHomeRouters connects a consumer behind a home router (Linux NAT,
// masquerade) to a wireguard provider through the lab's "internet", which
// has no route to either home network:
//   - public: the provider runs on its router's public address;
//   - upnp: the provider is behind a router running miniupnpd, which maps
//     its port (checked with STUN; removed when the service stops);
//   - refused: that router refuses mappings: the provider punches;
//   - punch: no UPnP at all: the provider punches;
//   - symmetric: both routers pick a random port per destination: the
//     provider is reached through the network's relay ("relayed");
//   - symmetric-no-relay: the same in a network without a relay: the
//     consumer is refused within 10 s, told both NAT types, before paying.
//
// In each, the web host sees the provider router's public address. Three
// API connects each; the median is logged (README, Performance).
func TestHomeRouters(t *testing.T) {
	for _, c := range []struct {
		name      string
		symmetric bool
		upnp      string // "", "allow", "refuse"
		public    bool   // the provider on its router's address
		reach     string // announced
		noRelay   bool   // the network file lists no relay
	}{
		{name: "public", public: true, reach: "public"},
		{name: "upnp", upnp: "allow", reach: "mapped"},
		{name: "refused", upnp: "refuse", reach: "cone"},
		{name: "punch", reach: "cone"},
		{name: "symmetric", symmetric: true, reach: "relayed"},
		{name: "symmetric-no-relay", symmetric: true, reach: "symmetric", noRelay: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := netlab.Available(); err != nil {
				if os.Getenv("CI") != "" {
					t.Fatalf("must run in CI: %v", err)
				}
				t.Skip(err)
			}
			h, err := netlab.NewHome("mh", netlab.HomeConfig{Symmetric: c.symmetric})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				t.Logf("cleaning up")
				if err := h.Close(); err != nil {
					t.Errorf("delete namespaces: %v", err)
				}
			})
			dir := t.TempDir()
			ln := startLocalnetIn(t, h.Internet, netlab.InternetIP)
			var nf struct {
				STUNURLs []string `json:"stun_urls"`
			}
			readJSONFile(t, ln.network, &nf)
			if c.noRelay {
				var all map[string]any
				readJSONFile(t, ln.network, &all)
				delete(all, "turn_urls")
				b, _ := json.Marshal(all)
				cp := *ln
				cp.network = writeFile(t, filepath.Dir(ln.network), "network-no-relay.json", string(b))
				ln = &cp
			}
			web := startHomeWeb(t, h)

			providerNS := h.Provider
			if c.public {
				providerNS = h.ProviderRouter
			}
			var upnpd *netlab.Process
			if c.upnp != "" {
				hp, _ := stun.ParseURL(nf.STUNURLs[0])
				_, port, _ := net.SplitHostPort(hp)
				p, _ := strconv.Atoi(port)
				upnpd, err = h.MiniUPnPd(dir, netlab.InternetIP, p, c.upnp == "refuse")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() {
					upnpd.Stop(5 * time.Second)
					if t.Failed() {
						b, _ := os.ReadFile(filepath.Join(dir, "miniupnpd.log"))
						t.Logf("miniupnpd log:\n%s", b)
					}
				})
			}

			pass := writeFile(t, dir, "pass", "pw\n")
			provider := newIdentityIn(t, providerNS, ln, filepath.Join(dir, "provider"), pass, true)
			consumer := newIdentityIn(t, h.Consumer, ln, filepath.Join(dir, "consumer"), pass, true)
			pd := startDaemonIn(t, providerNS, ln, filepath.Join(dir, "provider"), "--wireguard-port", "0", "--wireguard-subnet", "198.19.0.0/16", "--country", "DE",
				"--nat-check-every", "2s")
			cd := startDaemonIn(t, h.Consumer, ln, filepath.Join(dir, "consumer"))
			mustMystIn(t, providerNS, append(pd.args, "identity", "unlock", provider, "--passphrase-file", pass)...)
			mustMystIn(t, h.Consumer, append(cd.args, "identity", "unlock", consumer, "--passphrase-file", pass)...)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()

			pnat, err := pd.client.NAT(ctx)
			if err != nil {
				t.Fatal(err)
			}
			cnat, err := cd.client.NAT(ctx)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("provider: %s %s; consumer: %s %s", pnat.NAT, pnat.PublicIP, cnat.NAT, cnat.PublicIP)
			wantP, wantC := "cone", "cone"
			switch {
			case c.public:
				wantP = "public"
			case c.symmetric:
				wantP, wantC = "symmetric", "symmetric"
			}
			if pnat.NAT != wantP || pnat.PublicIP != netlab.ProviderRouterIP || cnat.NAT != wantC || cnat.PublicIP != netlab.ConsumerRouterIP {
				t.Fatalf("NAT: provider %+v (want %s), consumer %+v (want %s)", pnat, wantP, cnat, wantC)
			}
			if out := mustMystIn(t, h.Consumer, append(cd.args, "nat")...).stdout; !strings.Contains(out, "nat:        "+wantC) {
				t.Fatalf("myst nat:\n%s", out)
			}

			began := time.Now()
			svc := mustMystIn(t, providerNS, append(pd.args, "service", "start", "wireguard", "--identity", provider)...).lastLine()
			t.Logf("service started in %s", time.Since(began).Round(time.Millisecond))
			ss, err := pd.client.Services(ctx)
			if err != nil || len(ss) != 1 || ss[0].Reachability != c.reach {
				t.Fatalf("service %+v, %v; want reachability %s\nprovider log:\n%s", ss, err, c.reach, pd.stderr.String())
			}
			t.Logf("service reachable %s at %s", ss[0].Reachability, ss[0].Endpoint)
			if c.upnp == "allow" {
				if rules, err := h.UPnPRules(); err != nil || !strings.Contains(rules, "dnat") {
					t.Fatalf("the router holds no mapping: %v\n%s", err, rules)
				}
				if !strings.HasPrefix(ss[0].Endpoint, netlab.ProviderRouterIP+":") {
					t.Fatalf("mapped endpoint %s, want the router's address", ss[0].Endpoint)
				}
			}
			if out := mustMystIn(t, h.Consumer, append(cd.args, "proposals", "--reachability", c.reach)...).stdout; !strings.Contains(out, provider) || !strings.Contains(out, c.reach) {
				t.Fatalf("proposals --reachability %s:\n%s", c.reach, out)
			}

			off := false
			req := api.ConnectionRequest{ConsumerID: consumer, ProviderID: provider, ServiceType: "wireguard", KillSwitch: &off, DNS: "system"}
			if c.noRelay {
				start := time.Now()
				_, err := cd.client.Connect(ctx, req)
				took := time.Since(start)
				t.Logf("symmetric pair refused in %s: %v", took.Round(time.Millisecond), err)
				var he *api.APIError
				if err == nil || !errors.As(err, &he) || he.Status != http.StatusConflict ||
					!strings.Contains(err.Error(), "behind symmetric NAT and this node is behind symmetric NAT") || took > 10*time.Second {
					t.Fatalf("connect across two symmetric NATs: %v after %s", err, took)
				}
				return
			}
			var times []time.Duration
			for i := range 3 {
				start := time.Now()
				if _, err := cd.client.Connect(ctx, req); err != nil {
					t.Fatalf("connect %d: %v\nprovider log:\n%s\nconsumer log:\n%s", i, err, pd.stderr.String(), cd.stderr.String())
				}
				times = append(times, time.Since(start))
				if got := homeGet(t, h, web); got != netlab.ProviderRouterIP {
					t.Fatalf("the web host saw %s, want the provider's router %s", got, netlab.ProviderRouterIP)
				}
				if _, err := cd.client.Disconnect(ctx); err != nil {
					t.Fatal(err)
				}
			}
			slices.Sort(times)
			t.Logf("%s: API connect %v, median %s", c.name, times, times[1].Round(time.Millisecond))

			if c.name == "punch" {
				// The ISP gives the provider's router a new address: the
				// provider notices (STUN every 2 s here), says so, points
				// its service there, and the next connect goes there.
				if _, err := cd.client.Connect(ctx, req); err != nil {
					t.Fatal(err)
				}
				if err := h.MoveProviderRouter(); err != nil {
					t.Fatal(err)
				}
				moved := time.Now()
				deadline := time.Now().Add(20 * time.Second)
				for {
					ss, err := pd.client.Services(ctx)
					if err == nil && len(ss) == 1 && strings.HasPrefix(ss[0].Endpoint, netlab.ProviderRouterMovedIP+":") {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("the service still at %+v 20 s after the router's address changed\nprovider log:\n%s", ss, pd.stderr.String())
					}
					time.Sleep(200 * time.Millisecond)
				}
				t.Logf("the provider moved its service %s after the address change", time.Since(moved).Round(time.Millisecond))
				if log := pd.stderr.String(); !strings.Contains(log, "this node's public side changed") || !strings.Contains(log, "service moved to the new public address") {
					t.Fatalf("no clear log of the change:\n%s", log)
				}
				if v, err := pd.client.NAT(ctx); err != nil || v.PublicIP != netlab.ProviderRouterMovedIP {
					t.Fatalf("GET /nat after the move: %+v %v", v, err)
				}
				cd.client.Disconnect(ctx)
				if _, err := cd.client.Connect(ctx, req); err != nil {
					t.Fatalf("connect after the move: %v\nprovider log:\n%s", err, pd.stderr.String())
				}
				if got := homeGet(t, h, web); got != netlab.ProviderRouterMovedIP {
					t.Fatalf("after the move the web host saw %s, want %s", got, netlab.ProviderRouterMovedIP)
				}
				if _, err := cd.client.Disconnect(ctx); err != nil {
					t.Fatal(err)
				}
			}

			began = time.Now()
			mustMystIn(t, providerNS, append(pd.args, "service", "stop", svc)...)
			t.Logf("service stopped in %s", time.Since(began).Round(time.Millisecond))
			if c.upnp == "allow" {
				if rules, err := h.UPnPRules(); err != nil || strings.Contains(rules, "dnat") {
					t.Fatalf("a mapping is left after the service stopped: %v\n%s", err, rules)
				}
			}
		})
	}
}

type homeWeb struct{ url string }

func startHomeWeb(t testing.TB, h *netlab.Home) *homeWeb {
	t.Helper()
	ln, err := netlab.Listen(h.Internet, netlab.HomeWebIP+":0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(whoAmI)}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return &homeWeb{url: "http://" + ln.Addr().String()}
}

// homeGet asks the web host, from the consumer's home, who it sees.
func homeGet(t testing.TB, h *netlab.Home, w *homeWeb) string {
	t.Helper()
	return sitesGet(t, h.Consumer, w.url)
}
