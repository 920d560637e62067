package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/big"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/mystnode/myst/api"
	"github.com/mystnode/myst/cmd/internal/cli"
	"github.com/mystnode/myst/forward"
	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/localapi"
	"github.com/mystnode/myst/location"
	"github.com/mystnode/myst/node"
	"github.com/mystnode/myst/proposal"
	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// daemonFlags are myst daemon's flags.
type daemonFlags struct {
	verbose                                  bool
	country, city, geoipDB, publicIP, uiAddr string
	uplink, vpnBinary                        string
	exitAllow                                []string
	blockPorts                               string
	sessionMbit                              float64
	tunnelPorts                              map[string]*int
	tunnelSubnets                            map[string]*string
	invoiceEvery, grace, natEvery            time.Duration
	confirmations, maxFeeGwei                uint64
	rpcURLs                                  []string
	threshold, creditLimit, maxSpend         string
}

func newDaemonCmd(g *globals) *cobra.Command {
	f := &daemonFlags{tunnelPorts: map[string]*int{}, tunnelSubnets: map[string]*string{}}
	cmd := &cobra.Command{
		Use:   "daemon",
		Short: "Run the node: answer dialogs for unlocked identities and serve the local API on --api-addr",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return f.run(cmd, g) },
	}
	d := node.Defaults()
	cmd.Flags().BoolVarP(&f.verbose, "verbose", "v", false, "log debug messages")
	cmd.Flags().StringVar(&f.country, "country", "", "default ISO 3166-1 alpha-2 country of this node's services")
	cmd.Flags().StringVar(&f.city, "city", "", "default city of this node's services")
	cmd.Flags().StringVar(&f.geoipDB, "geoip-db", "", "MaxMind-format GeoIP database (.mmdb) that gives the country of --public-ip when --country is not set")
	for _, t := range node.ServiceTypes() {
		if !t.Tunnel {
			continue
		}
		f.tunnelPorts[t.Name] = cmd.Flags().Int(t.Name+"-port", t.DefaultPort, "UDP port of the first "+t.Name+" service (0: pick free ports)")
		f.tunnelSubnets[t.Name] = cmd.Flags().String(t.Name+"-subnet", t.DefaultSubnet.String(), "pool of tunnel subnets, a /24 per "+t.Name+" service")
	}
	cmd.Flags().StringVar(&f.uplink, "uplink", "", "interface tunnel traffic leaves by, with NAT (default: the default route's)")
	cmd.Flags().StringVar(&f.uplink, "openvpn-uplink", "", "the same as --uplink")
	cmd.Flags().MarkDeprecated("openvpn-uplink", "use --uplink")
	cmd.Flags().StringVar(&f.vpnBinary, "openvpn-binary", d.OpenVPNBinary, "the openvpn program")
	cmd.Flags().StringArrayVar(&f.exitAllow, "exit-allow", nil, "a range consumers may reach though it is private or the uplink's own (repeatable; by default they reach only the internet, never this host, its networks, cloud metadata or each other)")
	cmd.Flags().Float64Var(&f.sessionMbit, "session-mbit", 0, "hold each tunnel session to this many Mbit/s each way, in the data plane (0: no limit)")
	cmd.Flags().StringVar(&f.blockPorts, "block-ports", "25", "destination ports consumers may not reach, TCP and UDP, comma-separated (\"\": none)")
	cmd.Flags().StringVar(&f.uiAddr, "ui-addr", "", "also serve the web UI (and the API) on this host:port, e.g. for a browser on another machine of the LAN; off by default (the API listens on loopback only)")
	cmd.Flags().StringArrayVar(&f.rpcURLs, "rpc", nil, "Ethereum JSON-RPC URL of the network's chain, instead of the network file's; repeat it for endpoints to fail over to (a failing or rate-limiting one is left for the next)")
	cmd.Flags().Uint64Var(&f.confirmations, "confirmations", 0, "blocks a settlement or registration must have before it counts, its own included (0: automatic, 1 on a dev chain (chain id 1337 or 31337), 3 elsewhere)")
	cmd.Flags().Uint64Var(&f.maxFeeGwei, "max-fee-gwei", d.Payments.MaxFeeGwei, "the most gwei per gas a settlement offers; a stuck settlement is re-sent with higher fees up to it")
	cmd.Flags().DurationVar(&f.natEvery, "nat-check-every", d.NATCheckEvery, "how often to ask STUN whether the public address or NAT changed (also at once when the host's addresses change)")
	cmd.Flags().DurationVar(&f.invoiceEvery, "invoice-every", d.Payments.InvoiceEvery, "how often a provider invoices a priced session")
	cmd.Flags().DurationVar(&f.grace, "payment-grace", d.Payments.Grace, "end a session whose consumer has not paid this long")
	cmd.Flags().StringVar(&f.threshold, "settle-threshold", proposal.FormatAmount(d.Payments.SettleThreshold), "settle on chain once this much MYSTT is unsettled from one consumer")
	cmd.Flags().StringVar(&f.creditLimit, "credit-limit", proposal.FormatAmount(d.Payments.CreditLimit), "as a provider: the most MYSTT a consumer may owe without cover (a promise backed by funds it reserved for this provider on chain); beyond half of it the provider asks for a reservation, at it the consumer's sessions end")
	cmd.Flags().StringVar(&f.maxSpend, "max-spend", "", "as a consumer: the most MYSTT one session may cost (none by default; `myst connect --max-spend` sets one per connection)")
	cmd.Flags().StringVar(&f.publicIP, "public-ip", "", "the address consumers reach this node at, when it has one of its own (default: learnt from the network's STUN servers; behind NAT, a port mapping or hole punching)")
	return cmd
}

// nodeConfig checks the flags and makes the node's Config of them.
func (f *daemonFlags) nodeConfig(g *globals, logger *slog.Logger) (node.Config, error) {
	nf, _, err := g.networkFile()
	if err != nil {
		return node.Config{}, err
	}
	if f.country != "" && !proposal.ValidCountry(f.country) {
		return node.Config{}, fmt.Errorf("--country %q is not an ISO 3166-1 alpha-2 country code (like DE)", f.country)
	}
	tunnels := map[string]node.TunnelConfig{}
	for name, port := range f.tunnelPorts {
		if *port < 0 || *port > 65535 {
			return node.Config{}, fmt.Errorf("--%s-port %d: must be between 0 and 65535", name, *port)
		}
		subnet, err := netip.ParsePrefix(*f.tunnelSubnets[name])
		if err != nil || !subnet.Addr().Is4() || subnet.Bits() > 24 {
			return node.Config{}, fmt.Errorf("--%s-subnet %q: want an IPv4 prefix of /24 or larger, like 10.88.0.0/16", name, *f.tunnelSubnets[name])
		}
		tunnels[name] = node.TunnelConfig{Port: *port, Subnet: subnet}
	}
	if f.confirmations > 100 {
		return node.Config{}, fmt.Errorf("--confirmations %d: must be between 0 (automatic) and 100", f.confirmations)
	}
	if f.maxFeeGwei < 1 || f.maxFeeGwei > 1_000_000 {
		return node.Config{}, fmt.Errorf("--max-fee-gwei %d: must be between 1 and 1000000", f.maxFeeGwei)
	}
	if f.natEvery < time.Second || f.natEvery > time.Hour {
		return node.Config{}, fmt.Errorf("--nat-check-every %s: must be between 1s and 1h", f.natEvery)
	}
	if f.invoiceEvery < 100*time.Millisecond || f.invoiceEvery > time.Hour {
		return node.Config{}, fmt.Errorf("--invoice-every %s: must be between 100ms and 1h", f.invoiceEvery)
	}
	if f.grace < f.invoiceEvery || f.grace > 24*time.Hour {
		return node.Config{}, fmt.Errorf("--payment-grace %s: must be between --invoice-every and 24h", f.grace)
	}
	thr, err := proposal.ParseAmount(f.threshold)
	if err != nil {
		return node.Config{}, fmt.Errorf("--settle-threshold %q: %v", f.threshold, err)
	}
	credit, err := proposal.ParseAmount(f.creditLimit)
	if err != nil || credit.Sign() <= 0 {
		return node.Config{}, fmt.Errorf("--credit-limit %q: want a positive decimal amount of MYSTT", f.creditLimit)
	}
	var spendCap *big.Int
	if f.maxSpend != "" {
		if spendCap, err = proposal.ParseAmount(f.maxSpend); err != nil || spendCap.Sign() <= 0 {
			return node.Config{}, fmt.Errorf("--max-spend %q: want a positive decimal amount of MYSTT", f.maxSpend)
		}
	}
	// Without --public-ip the node learns its public side from
	// the network's STUN servers (GET /nat).
	var pub netip.Addr
	if f.publicIP != "" {
		if pub, err = netip.ParseAddr(f.publicIP); err != nil {
			return node.Config{}, fmt.Errorf("--public-ip %q is not an IP address", f.publicIP)
		}
	}
	if f.country == "" && f.geoipDB != "" {
		geo := pub
		if !geo.IsValid() {
			if addr, _, err := location.DefaultRouteAddr(); err == nil {
				geo = addr
			}
		}
		if !geo.IsValid() {
			return node.Config{}, errors.New("--geoip-db needs the public address: pass --public-ip")
		}
		c, ci, err := location.Lookup(f.geoipDB, geo)
		if err != nil {
			return node.Config{}, fmt.Errorf("%w: pass --country, or --public-ip if %s is not this node's public address", err, geo)
		}
		f.country, f.city = c, ci
		logger.Info("location from GeoIP", "ip", pub, "country", f.country, "city", f.city)
	}
	if len(f.rpcURLs) > 0 {
		// --rpc replaces the network file's endpoints, in order.
		nf.EtherRPCURL, nf.EtherRPCURLs = f.rpcURLs[0], f.rpcURLs[1:]
		if err := nf.Validate(); err != nil {
			return node.Config{}, fmt.Errorf("--rpc: %w", err)
		}
	}
	if f.confirmations == 0 {
		// A dev chain never reorganizes; a real one can, a few blocks deep.
		f.confirmations = 3
		if nf.ChainID == 1337 || nf.ChainID == 31337 {
			f.confirmations = 1
		}
		logger.Info("transactions count after this many blocks (--confirmations)", "confirmations", f.confirmations, "chain_id", nf.ChainID)
	}
	var allow []netip.Prefix
	for _, a := range f.exitAllow {
		p, err := netip.ParsePrefix(a)
		if err != nil || !p.Addr().Is4() {
			return node.Config{}, fmt.Errorf("--exit-allow %q: want an IPv4 range like 192.168.50.0/24", a)
		}
		allow = append(allow, p.Masked())
		logger.Warn("consumers may reach this range through this node's tunnels (--exit-allow)", "range", p.Masked())
	}
	blocked, err := forward.ParsePorts(f.blockPorts)
	if err != nil {
		return node.Config{}, fmt.Errorf("--block-ports: %w", err)
	}
	if blocked == nil {
		blocked = []uint16{}
	}
	if f.sessionMbit < 0 || f.sessionMbit > 100000 {
		return node.Config{}, fmt.Errorf("--session-mbit %g: want 0 (no limit) to 100000", f.sessionMbit)
	}
	return node.Config{ExitAllow: allow, BlockPorts: blocked, SessionMbit: f.sessionMbit, DataDir: g.dataDir, Network: nf, LightKDF: g.lightKDF, Version: version, Logger: logger,
		Country: f.country, City: f.city, PublicIP: pub, NATCheckEvery: f.natEvery,
		Tunnels: tunnels, Uplink: f.uplink, OpenVPNBinary: f.vpnBinary,
		Payments: node.PaymentsConfig{InvoiceEvery: f.invoiceEvery, Grace: f.grace, SettleThreshold: thr, Confirmations: f.confirmations, MaxFeeGwei: f.maxFeeGwei,
			CreditLimit: credit, MaxSpend: spendCap}}, nil
}

// run checks the flags, builds the node and serves its API until SIGINT or
// SIGTERM.
func (f *daemonFlags) run(cmd *cobra.Command, g *globals) error {
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	level := slog.LevelInfo
	if f.verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	cfg, err := f.nodeConfig(g, logger)
	if err != nil {
		return err
	}
	startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	n, err := node.New(startCtx, cfg)
	cancel()
	if err != nil {
		return fmt.Errorf("node.New: %w", err)
	}
	defer n.Close()
	tokenPath := filepath.Join(g.dataDir, api.TokenFile)
	srv, err := localapi.Listen(n, localapi.Config{Addr: g.apiAddr, UIAddr: f.uiAddr, TokenPath: tokenPath, Metrics: n.Metrics(), Logger: logger})
	if err != nil {
		return fmt.Errorf("localapi.Listen: %w", err)
	}
	defer srv.Close()
	n.Start()
	srv.Start()
	fmt.Fprintf(cmd.OutOrStdout(), "myst daemon ready: API on http://%s, token in %s\n", srv.Addr(), tokenPath)
	<-ctx.Done()
	logger.Info("stopping")
	return nil
}

func newIdentityUnlockCmd(g *globals) *cobra.Command {
	var passFile string
	cmd := &cobra.Command{
		Use:   "unlock ADDRESS",
		Short: "Unlock an identity in the running daemon, so it signs and answers dialogs",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			addr, err := identity.ParseAddress(args[0])
			if err != nil {
				return err
			}
			if _, err := g.client(); err != nil {
				return err // before asking for the passphrase
			}
			pass, err := cli.ReadPassphrase(cmd, passFile, "Passphrase of "+addr.Hex()+": ", false)
			if err != nil {
				return err
			}
			return ask(g, cmd, time.Minute, func(c *api.Client, ctx context.Context) (none, error) {
				return noAnswer(c.Unlock(ctx, addr.Hex(), pass))
			}, func(w io.Writer, _ none) error {
				_, err := fmt.Fprintf(w, "%s unlocked\n", addr.Hex())
				return err
			})
		},
	}
	cmd.Flags().StringVar(&passFile, "passphrase-file", "", "read the passphrase from the first line of this file instead of prompting")
	return cmd
}

func newPingCmd(g *globals) *cobra.Command {
	var consumer string
	var count int
	var timeout, interval time.Duration
	cmd := &cobra.Command{
		Use:   "ping PROVIDER --identity CONSUMER",
		Short: "Open a dialog to a provider through the daemon and time request/response round trips",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			provider, err := identity.ParseAddress(args[0])
			if err != nil {
				return err
			}
			if consumer == "" {
				return errors.New("--identity CONSUMER is required: the unlocked identity that opens the dialog")
			}
			cons, err := identity.ParseAddress(consumer)
			if err != nil {
				return fmt.Errorf("--identity: %w", err)
			}
			if count < 1 || count > 1_000_000 {
				return fmt.Errorf("-c %d: the count must be between 1 and 1000000", count)
			}
			if timeout <= 0 || timeout > 10*time.Minute {
				return fmt.Errorf("--timeout %s: must be between 1ms and 10m", timeout)
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			openCtx, cancel := context.WithTimeout(ctx, timeout+5*time.Second)
			d, err := c.OpenDialog(openCtx, api.DialogRequest{ConsumerID: cons.Hex(), ProviderID: provider.Hex(), TimeoutMillis: timeout.Milliseconds()})
			cancel()
			if err != nil {
				return fmt.Errorf("dialog to %s: %w", provider.Hex(), err)
			}
			defer c.CloseDialog(context.Background(), d.ID)
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "PING %s from %s over dialog %s\n", provider.Hex(), cons.Hex(), d.ID)
			var received int
			var minRTT, maxRTT, sum time.Duration
			minRTT = time.Duration(math.MaxInt64)
			var lastErr error
			for i := 0; i < count; i++ {
				if i > 0 {
					select {
					case <-ctx.Done():
						i = count
						continue
					case <-time.After(interval):
					}
				}
				pctx, cancel := context.WithTimeout(ctx, timeout+5*time.Second)
				p, err := c.Ping(pctx, d.ID, api.PingRequest{TimeoutMillis: timeout.Milliseconds()})
				cancel()
				if err != nil {
					lastErr = err
					fmt.Fprintf(out, "seq=%d: %v\n", i+1, err)
					continue
				}
				received++
				sum += p.RTT
				minRTT, maxRTT = min(minRTT, p.RTT), max(maxRTT, p.RTT)
				fmt.Fprintf(out, "reply from %s: seq=%d time=%.3f ms\n", provider.Hex(), p.Seq, float64(p.RTT.Microseconds())/1000)
			}
			fmt.Fprintf(out, "--- %s ping statistics ---\n%d requests, %d replies, %.0f%% lost\n", provider.Hex(), count, received, 100*float64(count-received)/float64(count))
			if received > 0 {
				fmt.Fprintf(out, "rtt min/avg/max = %.3f/%.3f/%.3f ms\n", ms(minRTT), ms(sum/time.Duration(received)), ms(maxRTT))
			}
			if received == 0 {
				return fmt.Errorf("no replies from %s: %v", provider.Hex(), strings.TrimSpace(fmt.Sprint(lastErr)))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&consumer, "identity", "", "the consumer identity (unlocked in the daemon) that opens the dialog")
	cmd.Flags().IntVarP(&count, "count", "c", 4, "number of requests")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Second, "wait this long for each answer")
	cmd.Flags().DurationVarP(&interval, "interval", "i", 200*time.Millisecond, "pause between requests")
	return cmd
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
