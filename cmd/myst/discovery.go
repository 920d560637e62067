package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mystnode/myst/discovery"
	"github.com/mystnode/myst/registry"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
)

func newDiscoveryCmd(g *globals) *cobra.Command {
	var listen, db string
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
			reg, err := registry.Dial(startCtx, nf.EtherRPCURL, nf.ChainID, nf.RegistryAddress)
			if err != nil {
				return fmt.Errorf("%w: check ether_rpc_url in %s", err, path)
			}
			defer reg.Close()
			store, err := discovery.OpenStore(startCtx, db)
			if err != nil {
				return err
			}
			defer store.Close()
			cache := registry.NewCache(reg, nf.RegistryFromBlock)
			cacheDone := make(chan struct{})
			go func() {
				defer close(cacheDone)
				cache.Run(ctx, 2*time.Second, func(err error) { logger.Warn("registry cache", "err", err) })
			}()
			promReg := prometheus.NewRegistry()
			promReg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
			srv := discovery.NewServer(store, cache, discovery.Config{TTL: ttl, Logger: logger, Registerer: promReg, Gatherer: promReg})
			defer srv.Close()
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("listen on %s: %w (pick another --listen)", listen, err)
			}
			hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
			served := make(chan error, 1)
			go func() { served <- hs.Serve(ln) }()
			fmt.Fprintf(cmd.OutOrStdout(), "discovery ready: http://%s\n", ln.Addr())
			select {
			case <-ctx.Done():
			case err := <-served:
				if !errors.Is(err, http.ErrServerClosed) {
					return err
				}
			}
			sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer scancel()
			hs.Shutdown(sctx)
			stop()
			<-cacheDone
			return nil
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:4051", "host:port to serve the API on")
	cmd.Flags().StringVar(&db, "db", "sqlite:discovery.db", "sqlite:PATH or postgres://user@host/db")
	cmd.Flags().DurationVar(&ttl, "ttl", 2*time.Minute, "a proposal not re-posted within this long disappears")
	return cmd
}
