package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/mystnode/myst/localnet"
	"github.com/spf13/cobra"
)

func newLocalnetCmd(g *globals) *cobra.Command {
	var rpcAddr, brokerAddr, discoveryAddr, stunAddr, relayURL, relaySecretFile string
	var challenge time.Duration
	var fresh bool
	cmd := &cobra.Command{
		Use:   "localnet",
		Short: "Run a whole development network in this process (chain with contracts) until interrupted",
		Long: `Runs an in-process go-ethereum development chain (chain id 1337, a block
as soon as a transaction arrives) on --rpc-addr, deploys the myst contracts,
funds a gas payer, embeds a NATS broker on --broker-addr and the Discovery API on
--discovery-addr, a STUN server on --stun-addr and the port after it, and writes <data-dir>/network.json for nodes to use with
--network. Stops cleanly on SIGINT or SIGTERM. The chain is kept in
<data-dir>/localnet/chain, so a restart keeps identities, deposits,
contracts and proposals; --fresh starts a new chain instead (new contracts,
--challenge-period applies only then).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if challenge < time.Second || challenge > 30*24*time.Hour {
				return fmt.Errorf("--challenge-period %s: must be between 1s and 720h", challenge)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			// go-ethereum warns about routine dev-chain states; show its errors only.
			logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
			startCtx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			ln, err := localnet.Start(startCtx, localnet.Config{DataDir: g.dataDir, RPCAddr: rpcAddr, BrokerAddr: brokerAddr, DiscoveryAddr: discoveryAddr, STUNAddr: stunAddr, RelayURL: relayURL, RelaySecretFile: relaySecretFile, ChallengePeriod: challenge, Fresh: fresh, Logger: logger})
			if err != nil {
				return fmt.Errorf("start localnet: %w (are --rpc-addr %s, --broker-addr %s and --discovery-addr %s free, and --stun-addr %s and the port after it?)", err, rpcAddr, brokerAddr, discoveryAddr, stunAddr)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "localnet ready: chain %d at %s, broker %s, discovery %s, STUN %s, registry %s, network file %s\n",
				ln.File().ChainID, ln.File().EtherRPCURL, strings.Join(ln.File().BrokerURLs, ","), ln.File().DiscoveryURL, strings.Join(ln.File().STUNURLs, ","), ln.File().RegistryAddress.Hex(), ln.Path())
			<-ctx.Done()
			fmt.Fprintln(cmd.ErrOrStderr(), "localnet: stopping")
			if err := ln.Close(); err != nil {
				return fmt.Errorf("stop localnet: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&fresh, "fresh", false, "start a new chain instead of continuing the one in --data-dir")
	cmd.Flags().DurationVar(&challenge, "challenge-period", time.Minute, "wait between announcing a withdrawal and withdrawing")
	cmd.Flags().StringVar(&discoveryAddr, "discovery-addr", "127.0.0.1:4051", "host:port for the embedded Discovery API (port 0 picks a free one)")
	cmd.Flags().StringVar(&brokerAddr, "broker-addr", "127.0.0.1:4222", "host:port for the embedded NATS broker (port 0 picks a free one)")
	cmd.Flags().StringVar(&relayURL, "relay-url", "", "a relay run apart (turn:host:port, from myst-net relay or coturn) to use instead of the embedded one on --stun-addr")
	cmd.Flags().StringVar(&relaySecretFile, "relay-secret-file", "", "the shared secret of the relay (default: one localnet makes and keeps)")
	cmd.Flags().StringVar(&stunAddr, "stun-addr", "127.0.0.1:3478", "host:port for the embedded STUN server, which answers on the next port too (port 0 picks two free ones)")
	cmd.Flags().StringVar(&rpcAddr, "rpc-addr", "127.0.0.1:8545", "host:port for the chain's HTTP JSON-RPC (port 0 picks a free one)")
	return cmd
}
