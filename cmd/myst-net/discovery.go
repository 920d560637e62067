package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mystnode/myst/discoveryd"
	"github.com/mystnode/myst/servicetypes"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
)

func newDiscoveryCmd(g *globals) *cobra.Command {
	var listen, db string
	var types []string
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "discovery",
		Short: "Run the Discovery API: providers announce signed proposals, consumers search them",
		Long: `Serves the Discovery API on --listen, storing proposals in --db: sqlite:PATH
(the embedded default) or a postgres:// URL (several replicas may share one
database). Proposals are accepted only from identities registered in the
network file's IdentityRegistry.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if ttl < 10*time.Second || ttl > 24*time.Hour {
				return fmt.Errorf("--ttl %s: must be between 10s and 24h", ttl)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
			nf, path, err := g.networkFile()
			if err != nil {
				return err
			}
			startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			promReg := prometheus.NewRegistry()
			promReg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
			svc, err := discoveryd.Start(startCtx, discoveryd.ServiceConfig{
				Addr: listen, DB: db,
				EtherRPCURL: nf.EtherRPCURL, EtherRPCURLs: nf.EtherRPCURLs, ChainID: nf.ChainID, RegistryAddress: nf.RegistryAddress, RegistryFromBlock: nf.RegistryFromBlock,
				Server: discoveryd.Config{TTL: ttl, Logger: logger, Registerer: promReg, Gatherer: promReg, ServiceTypes: types},
			})
			if err != nil {
				return fmt.Errorf("%w (check ether_rpc_url in %s, --db and --listen)", err, path)
			}
			defer svc.Close()
			fmt.Fprintf(cmd.OutOrStdout(), "discovery ready: %s\n", svc.URL())
			<-ctx.Done()
			return nil
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:4051", "host:port to serve the API on")
	cmd.Flags().StringVar(&db, "db", "sqlite:discovery.db", "sqlite:PATH or postgres://user@host/db")
	cmd.Flags().StringSliceVar(&types, "service-types", servicetypes.Names(), "service types proposals may offer (others are refused)")
	cmd.Flags().DurationVar(&ttl, "ttl", 2*time.Minute, "a proposal not re-posted within this long disappears")
	return cmd
}
