package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
	"github.com/mystnode/myst/location"
	"github.com/mystnode/myst/resolver"
	"github.com/spf13/cobra"
)

func newLeaktestCmd() *cobra.Command {
	var echoURL, name string
	cmd := &cobra.Command{
		Use:   "leaktest --echo-url URL [--name NAME]",
		Short: "Show which resolver answers names and which address a host outside sees, and whether each goes through the tunnel",
		Long: `Resolves NAME with this host's resolver, says which resolver that is and which
interface reaches it, then fetches URL (a page that shows the caller's
address, such as one you run on a server you trust) and prints what it
saw. Run it while connected: the resolver and the page should both be
reached through the tunnel, and the page should show the provider's address.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			cfg, err := dns.ClientConfigFromFile(resolver.ResolvConf)
			if err != nil {
				return fmt.Errorf("read %s: %w", resolver.ResolvConf, err)
			}
			for _, s := range cfg.Servers {
				fmt.Fprintf(out, "resolver: %s (reached by %s)\n", s, routeOf(s))
			}
			if name != "" {
				ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
				addrs, err := (&net.Resolver{PreferGo: true}).LookupHost(ctx, name)
				cancel()
				if err != nil {
					fmt.Fprintf(out, "%s: does not resolve: %v\n", name, err)
				} else {
					fmt.Fprintf(out, "%s: %s\n", name, strings.Join(addrs, ", "))
				}
			}
			if echoURL == "" {
				return nil
			}
			c := &http.Client{Timeout: 10 * time.Second}
			resp, err := c.Get(echoURL)
			if err != nil {
				return fmt.Errorf("fetch %s: %w (with the kill switch on and the tunnel down, nothing gets out: that is the point)", echoURL, err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			host := resp.Request.URL.Hostname()
			if ips, err := net.LookupHost(host); err == nil && len(ips) > 0 {
				host = ips[0]
			}
			fmt.Fprintf(out, "echo host %s (reached by %s) saw: %s\n", resp.Request.URL.Host, routeOf(host), strings.TrimSpace(string(body)))
			return nil
		},
	}
	cmd.Flags().StringVar(&echoURL, "echo-url", "", "a page that shows the caller's address")
	cmd.Flags().StringVar(&name, "name", "", "a name to resolve")
	return cmd
}

// routeOf names the interface the host routes addr out of.
func routeOf(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return "unknown route"
	}
	if dev := location.RouteDev(a); dev != "" {
		return "interface " + dev
	}
	return "no route"
}
