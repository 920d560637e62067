package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/ethereum/go-ethereum/common"
	"io"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mystnode/myst/api"
	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/proposal"
	"github.com/mystnode/myst/servicetypes"
	"github.com/spf13/cobra"
)

func newServiceCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "service", Short: "Start, list and stop the services this node provides"}
	var providerID, priceHour, priceGiB, country, city string
	var bandwidth float64
	var maxSessions int
	start := &cobra.Command{
		Use:   "start TYPE --identity PROVIDER",
		Short: "Start providing a service (noop, openvpn) and announce its proposal; prints the service id last",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if providerID == "" {
				return errors.New("--identity PROVIDER is required: the unlocked identity that provides the service")
			}
			p, err := identity.ParseAddress(providerID)
			if err != nil {
				return fmt.Errorf("--identity: %w", err)
			}
			if maxSessions < 1 || maxSessions > 10000 {
				return fmt.Errorf("--max-sessions %d: must be between 1 and 10000", maxSessions)
			}
			if bandwidth < 0 || bandwidth > 1e6 {
				return fmt.Errorf("--bandwidth %g: must be between 0 and 1000000 Mbit/s", bandwidth)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "starting %s for %s and announcing it to discovery...\n", args[0], p.Hex())
			req := api.ServiceRequest{ProviderID: p.Hex(), Type: args[0], Options: api.ServiceOptions{
				PriceHour: priceHour, PriceGiB: priceGiB, Country: country, City: city, BandwidthMbps: bandwidth, MaxSessions: maxSessions,
			}}
			return ask(g, cmd, time.Minute, func(c *api.Client, ctx context.Context) (api.Service, error) {
				return c.StartService(ctx, req)
			}, func(w io.Writer, svc api.Service) error {
				fmt.Fprintf(cmd.ErrOrStderr(), "service %s running: %s in %s, %s MYSTT/hour, %s MYSTT/GiB, at most %d sessions\n",
					svc.Type, svc.ProviderID, svc.Options.Country, svc.Options.PriceHour, svc.Options.PriceGiB, svc.Options.MaxSessions)
				_, err := fmt.Fprintln(w, svc.ID)
				return err
			})
		},
	}
	f := start.Flags()
	f.StringVar(&providerID, "identity", "", "the provider identity (unlocked in the daemon)")
	f.StringVar(&priceHour, "price-hour", "0", "price in MYSTT per hour")
	f.StringVar(&priceGiB, "price-gib", "0", "price in MYSTT per GiB")
	f.StringVar(&country, "country", "", "ISO 3166-1 alpha-2 country of the service (default: the daemon's)")
	f.StringVar(&city, "city", "", "city of the service")
	f.Float64Var(&bandwidth, "bandwidth", 0, "committed bandwidth, Mbit/s")
	f.IntVar(&maxSessions, "max-sessions", 10, "most concurrent sessions")

	list := &cobra.Command{
		Use:   "list",
		Short: "List running services",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return ask(g, cmd, 30*time.Second, (*api.Client).Services, printServices)
		},
	}
	stop := &cobra.Command{
		Use:   "stop ID",
		Short: "Stop a service: end its sessions and unregister its proposal",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return ask(g, cmd, 30*time.Second, func(c *api.Client, ctx context.Context) (none, error) {
				return noAnswer(c.StopService(ctx, args[0]))
			}, func(w io.Writer, _ none) error {
				_, err := fmt.Fprintf(w, "service %s stopped\n", args[0])
				return err
			})
		},
	}
	cmd.AddCommand(start, list, stop)
	return cmd
}

func newProposalsCmd(g *globals) *cobra.Command {
	var svc, country, metering, maxHour, maxGiB, provider, reach string
	var minBW, minSession float64
	var limit, offset, port int
	cmd := &cobra.Command{
		Use:   "proposals",
		Short: "Search discovery for service proposals",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := url.Values{}
			set := func(k, v string) {
				if v != "" {
					q.Set(k, v)
				}
			}
			set("service_type", svc)
			set("country", country)
			set("metering", metering)
			set("max_price_hour", maxHour)
			set("max_price_gib", maxGiB)
			set("provider_id", provider)
			set("reachability", reach)
			if minBW > 0 {
				q.Set("min_bandwidth", strconv.FormatFloat(minBW, 'f', -1, 64))
			}
			if port != 0 {
				q.Set("port", strconv.Itoa(port))
			}
			if minSession > 0 {
				q.Set("min_session_mbit", strconv.FormatFloat(minSession, 'f', -1, 64))
			}
			q.Set("limit", strconv.Itoa(limit))
			q.Set("offset", strconv.Itoa(offset))
			return ask(g, cmd, 30*time.Second, func(c *api.Client, ctx context.Context) (api.ProposalList, error) {
				return c.Proposals(ctx, q)
			}, func(out io.Writer, l api.ProposalList) error {
				w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "PROVIDER\tSERVICE\tCOUNTRY\tCITY\tMBIT/S\tPRICE/HOUR\tPRICE/GIB\tREACH\tEXIT")
				for _, raw := range l.Proposals {
					var p proposal.Proposal
					if json.Unmarshal(raw, &p) != nil {
						continue
					}
					reach := p.Reachability
					if reach == "" {
						reach = "-"
					} else if p.Relay != "" && reach != "relayed" {
						reach += "+relay"
					}
					// What a provider wrote is escaped: no terminal sequences
					// reach the user's terminal.
					e := proposal.Escape
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%g\t%s\t%s\t%s\t%s\n", e(p.ProviderID), e(p.ServiceType), e(p.Location.Country), e(p.Location.City), p.Quality.BandwidthMbps,
						e(p.Price.PerHour), e(p.Price.PerGiB), e(string(reach)), exitText(p.Exit))
				}
				w.Flush()
				fmt.Fprintf(cmd.ErrOrStderr(), "%d shown, %d match\n", len(l.Proposals), l.Total)
				return nil
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&svc, "service-type", "", "service type (noop, openvpn)")
	f.StringVar(&country, "country", "", "ISO 3166-1 alpha-2 country")
	f.StringVar(&metering, "metering", "", "time (charges per hour) or bytes (charges per GiB)")
	f.StringVar(&maxHour, "max-price-hour", "", "highest price per hour, MYSTT")
	f.StringVar(&maxGiB, "max-price-gib", "", "highest price per GiB, MYSTT")
	f.Float64Var(&minBW, "min-bandwidth", 0, "lowest committed bandwidth, Mbit/s")
	f.IntVar(&port, "port", 0, "only exits that let this destination port through")
	f.Float64Var(&minSession, "min-session-mbit", 0, "only exits that hold a session to at least this many Mbit/s, or not at all")
	f.StringVar(&provider, "provider", "", "only this provider")
	f.StringVar(&reach, "reachability", "", "only providers reachable so, comma-separated: public, mapped, cone, symmetric, unknown, relayed (those this node cannot reach are listed last anyway)")
	f.IntVar(&limit, "limit", 50, "at most this many (1-500)")
	f.IntVar(&offset, "offset", 0, "skip this many")
	return cmd
}

func newConnectCmd(g *globals) *cobra.Command {
	var consumer, svc string
	var killSwitch, allowLAN bool
	var dnsFlag, maxSpend string
	var exclude, only []string
	var reconnect, country, maxHour, maxGiB string
	cmd := &cobra.Command{
		Use:   "connect [PROVIDER | --country CC] --identity CONSUMER [--service TYPE]",
		Short: "Connect to a provider's service found in discovery (or the best one in a country); returns once connected",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var p common.Address
			switch {
			case len(args) == 1 && country != "":
				return errors.New("give a PROVIDER or --country, not both")
			case len(args) == 1:
				var err error
				if p, err = identity.ParseAddress(args[0]); err != nil {
					return err
				}
			case country == "":
				return errors.New("give a PROVIDER, or --country CC to connect to the best provider there")
			}
			if consumer == "" {
				return errors.New("--identity CONSUMER is required: the unlocked identity that pays for the session")
			}
			cons, err := identity.ParseAddress(consumer)
			if err != nil {
				return fmt.Errorf("--identity: %w", err)
			}
			req := api.ConnectionRequest{ConsumerID: cons.Hex(), ServiceType: svc, Country: strings.ToUpper(country), MaxPriceHour: maxHour, MaxPriceGiB: maxGiB, KillSwitch: &killSwitch, AllowLAN: allowLAN, DNS: dnsFlag, MaxSpend: maxSpend, Exclude: exclude, Only: only, Reconnect: reconnect}
			if country == "" {
				req.ProviderID = p.Hex()
				fmt.Fprintf(cmd.ErrOrStderr(), "connecting to %s (%s)...\n", p.Hex(), svc)
			} else {
				fmt.Fprintf(cmd.ErrOrStderr(), "connecting to the best %s provider in %s (the next if one fails, 45 s at most)...\n", svc, req.Country)
			}
			start := time.Now()
			return ask(g, cmd, 2*time.Minute, func(c *api.Client, ctx context.Context) (api.Connection, error) {
				return c.Connect(ctx, req)
			}, func(w io.Writer, conn api.Connection) error {
				tunnel := ""
				if conn.TunnelIP != "" {
					tunnel = ", tunnel address " + conn.TunnelIP
				}
				_, err := fmt.Fprintf(w, "%s to %s (%s), session %s%s, in %s\n", conn.State, conn.ProviderID, conn.ServiceType, conn.SessionID, tunnel, time.Since(start).Round(time.Millisecond))
				return err
			})
		},
	}
	cmd.Flags().StringVar(&consumer, "identity", "", "the consumer identity (unlocked in the daemon)")
	cmd.Flags().StringVar(&svc, "service", servicetypes.Default, "service type ("+strings.Join(servicetypes.Names(), ", ")+")")
	cmd.Flags().BoolVar(&killSwitch, "kill-switch", true, "block all traffic outside the tunnel until `myst disconnect`, also when the tunnel is lost")
	cmd.Flags().BoolVar(&allowLAN, "allow-lan", false, "let the kill switch pass traffic to the local subnets")
	cmd.Flags().StringVar(&dnsFlag, "dns", "provider", "resolver while connected: provider (through the tunnel), system (leave it), or an IP")
	cmd.Flags().StringArrayVar(&exclude, "exclude", nil, "an IPv4 network (CIDR) or address reached outside the tunnel, on this host's own route (repeatable; the kill switch lets it through; names still resolve through the tunnel)")
	cmd.Flags().StringArrayVar(&only, "only", nil, "instead: the only IPv4 networks (CIDR) or addresses that go through the tunnel (repeatable); the rest leaves on this host's own route, names still resolve through the tunnel, and the kill switch blocks only these when the tunnel is lost")
	cmd.Flags().StringVar(&country, "country", "", "instead of a provider: connect to the best one in this country (reachable first, then the cheapest), the next if one fails")
	cmd.Flags().StringVar(&maxHour, "max-price-hour", "", "with --country: at most this MYSTT per hour")
	cmd.Flags().StringVar(&maxGiB, "max-price-gib", "", "with --country: at most this MYSTT per GiB")
	cmd.Flags().StringVar(&reconnect, "reconnect", "equivalent", "when the tunnel is lost (kill switch on): equivalent (the same provider, then others with the same service and country at no higher price), same, or off")
	cmd.Flags().StringVar(&maxSpend, "max-spend", "", "the most MYSTT the session may cost; it ends at the cap (default: the daemon's --max-spend)")
	return cmd
}

func printConnection(out io.Writer, c api.Connection) error {
	fmt.Fprintf(out, "state: %s\n", c.State)
	if c.State != api.NotConnected {
		ks := "off"
		if c.KillSwitch {
			ks = "on (nothing leaves outside the tunnel)"
		}
		fmt.Fprintf(out, "kill switch: %s\n", ks)
		if c.DNS != "" {
			fmt.Fprintf(out, "dns: %s\n", c.DNS)
		}
		if c.DNSError != "" {
			fmt.Fprintf(out, "dns failing: %s\n", c.DNSError)
		}
	}
	if c.State != api.NotConnected {
		fmt.Fprintf(out, "provider: %s\nservice: %s\nconsumer: %s\n", c.ProviderID, c.ServiceType, c.ConsumerID)
		if c.SessionID != "" {
			fmt.Fprintf(out, "session: %s\nduration: %s\n", c.SessionID, c.Duration.Round(time.Second))
		}
		if c.TunnelIP != "" {
			fmt.Fprintf(out, "tunnel ip: %s\n", c.TunnelIP)
		}
		switch c.Path {
		case "relayed":
			fmt.Fprintln(out, "path: relayed (through the network's relay: no direct path to the provider)")
		case "punched":
			fmt.Fprintln(out, "path: punched (direct, through the provider's NAT)")
		case "direct":
			fmt.Fprintln(out, "path: direct")
		}
		if c.State == api.Connected {
			fmt.Fprintf(out, "received: %s\nsent: %s\n", humanBytes(c.BytesReceived), humanBytes(c.BytesSent))
			if c.Cost != "" {
				fmt.Fprintf(out, "cost: %s MYSTT\n", c.Cost)
				if c.SpendPerHour != "" {
					fmt.Fprintf(out, "spend rate: %s MYSTT/h\n", c.SpendPerHour)
				}
				if c.MaxSpend != "" {
					fmt.Fprintf(out, "spending cap: %s MYSTT\n", c.MaxSpend)
				}
			}
		}
	}
	if c.LastError != "" {
		fmt.Fprintf(out, "last error: %s\n", proposal.Escape(c.LastError)) // may quote the provider
	}
	return nil
}

func printServices(out io.Writer, svcs []api.Service) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tTYPE\tPROVIDER\tCOUNTRY\tPRICE/HOUR\tPRICE/GIB\tSESSIONS\tREACH\tANNOUNCED")
	for _, s := range svcs {
		ann := s.AnnouncedAt.Format(time.RFC3339)
		if s.AnnounceErr != "" {
			ann = "failing: " + s.AnnounceErr
		}
		reach := "-"
		if s.Reachability != "" {
			reach = s.Reachability + " " + s.Endpoint
		}
		if s.Relay != "" {
			reach += " relay " + s.Relay
		} else if s.RelayError != "" {
			reach += " (no relay: " + s.RelayError + ")"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%d/%d\t%s\t%s\n", s.ID, s.Type, s.ProviderID, s.Options.Country, s.Options.PriceHour, s.Options.PriceGiB, s.Sessions, s.Options.MaxSessions, reach, ann)
	}
	return w.Flush()
}

func newStatusCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the consumer's connection",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return ask(g, cmd, 30*time.Second, (*api.Client).Connection, printConnection)
		},
	}
}

func newNATCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "nat",
		Short: "Show this node's public side as STUN sees it (public, cone or symmetric NAT) and its port mappings",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return ask(g, cmd, 30*time.Second, (*api.Client).NAT, func(out io.Writer, v api.NAT) error {
				fmt.Fprintf(out, "nat:        %s\n", v.NAT)
				if v.PublicIP != "" {
					fmt.Fprintf(out, "public ip:  %s\n", v.PublicIP)
				}
				if v.Override != "" {
					fmt.Fprintf(out, "announced:  %s (--public-ip)\n", v.Override)
				}
				fmt.Fprintf(out, "stun:       %s (checked %s)\n", strings.Join(v.STUNServers, ", "), v.CheckedAt.Format(time.RFC3339))
				for _, e := range v.Errors {
					fmt.Fprintf(out, "error:      %s\n", e)
				}
				for _, m := range v.Mappings {
					fmt.Fprintf(out, "mapping:    UDP %d -> %s via %s (renewed %s)\n", m.InternalPort, m.External, m.Via, m.Renewed.Format(time.RFC3339))
				}
				switch v.NAT {
				case "symmetric":
					fmt.Fprintln(out, "behind symmetric NAT: providers need a port mapping (enable UPnP or NAT-PMP on the router) or a forwarded port with --public-ip; as a consumer, only public, mapped providers are reachable")
				case "unknown":
					fmt.Fprintln(out, "no STUN server answered: check the network's stun_urls and that UDP leaves this host; pass --public-ip to the daemon if it has a public address")
				}
				return nil
			})
		},
	}
}

func newDisconnectCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "disconnect",
		Short: "End the consumer's session",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return ask(g, cmd, 30*time.Second, (*api.Client).Disconnect, printConnection)
		},
	}
}

func newSessionsCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "sessions",
		Short: "List the sessions this node provides",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return ask(g, cmd, 30*time.Second, (*api.Client).Sessions, printSessions)
		},
	}
}

func printSessions(out io.Writer, ss []api.SessionInfo) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "SESSION\tCONSUMER\tSERVICE\tSTATE\tDURATION\tBYTES IN/OUT\tAMOUNT")
	for _, s := range ss {
		amount := s.Amount
		if amount == "" {
			amount = "-"
		}
		state := s.State
		if s.Paused {
			state += " (paused: credit limit, waiting for the consumer's lane)"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d/%d\t%s\n", s.ID, s.ConsumerID, s.ServiceType, state, s.Duration.Round(time.Second), s.BytesIn, s.BytesOut, amount)
	}
	return w.Flush()
}

func humanBytes(n uint64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB (%d bytes)", float64(n)/(1<<30), n)
	case n >= 1<<20:
		return fmt.Sprintf("%.2f MiB (%d bytes)", float64(n)/(1<<20), n)
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB (%d bytes)", float64(n)/(1<<10), n)
	}
	return fmt.Sprintf("%d bytes", n)
}

// exitText is an exit policy in a column: "no 25,465; 20 Mbit/s; +LAN".
func exitText(e *proposal.Exit) string {
	if e == nil {
		return "-"
	}
	var parts []string
	if len(e.BlockedPorts) > 0 {
		var ps []string
		for _, p := range e.BlockedPorts {
			ps = append(ps, strconv.Itoa(int(p)))
		}
		parts = append(parts, "no "+strings.Join(ps, ","))
	}
	if e.SessionMbit > 0 {
		parts = append(parts, strconv.FormatFloat(e.SessionMbit, 'f', -1, 64)+" Mbit/s")
	}
	if e.PrivateAllowed {
		parts = append(parts, "+private")
	}
	if len(parts) == 0 {
		return "open"
	}
	return strings.Join(parts, "; ")
}
