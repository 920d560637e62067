package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/mystnode/myst/broker"
	"github.com/mystnode/myst/registry"
	"github.com/mystnode/myst/relay"
	"github.com/nats-io/nkeys"
	"github.com/spf13/cobra"
)

func newBrokerAdmissionCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "broker-admission",
		Short: "Admit only registered identities to an external NATS cluster (auth callout)",
		Long: `The embedded broker of 'myst-net localnet' admits registered identities only.
For an external NATS cluster (nats-server 2.10+): 'init' makes the callout's
keys in --dir and prints the server configuration to add; 'serve' runs the
callout service (one or more, anywhere that reaches the cluster), which
checks each connecting identity's signature of the server's nonce and its
registration in the network file's IdentityRegistry, and gives the
connection publish and subscribe permissions for its own subjects only.`,
	}
	var dir, urls, relaySecretFile string
	initCmd := &cobra.Command{
		Use:   "init",
		Short: "Make the callout's keys and print the nats-server configuration",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return err
			}
			auth, err := loadOrMakeSeed(filepath.Join(dir, "auth.nk"), nkeys.CreateUser)
			if err != nil {
				return err
			}
			issuer, err := loadOrMakeSeed(filepath.Join(dir, "issuer.nk"), nkeys.CreateAccount)
			if err != nil {
				return err
			}
			authPub, _ := auth.PublicKey()
			issuerPub, _ := issuer.PublicKey()
			fmt.Fprintf(cmd.OutOrStdout(), "# add to every nats-server of the cluster (keys in %s; keep them private):\n%s", dir, broker.AdmissionConfigText(authPub, issuerPub, "MYST"))
			return nil
		},
	}
	serveCmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the admission callout service for the NATS servers at --nats",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			auth, err := loadSeed(filepath.Join(dir, "auth.nk"))
			if err != nil {
				return err
			}
			issuer, err := loadSeed(filepath.Join(dir, "issuer.nk"))
			if err != nil {
				return err
			}
			nf, path, err := g.networkFile()
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
			dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			reg, err := registry.DialURLs(dctx, nf.RPCURLs(), nf.ChainID, nf.RegistryAddress)
			cancel()
			if err != nil {
				return fmt.Errorf("%w (check ether_rpc_url in %s)", err, path)
			}
			defer reg.Close()
			cache := registry.NewCache(reg, nf.RegistryFromBlock)
			go cache.Run(ctx, 2*time.Second, func(err error) { logger.Warn("registry cache", "err", err) })
			acfg := broker.AdmissionConfig{Registered: cache.IsRegistered, Logger: logger}
			if relaySecretFile != "" {
				secret, err := readSecret(relaySecretFile)
				if err != nil {
					return err
				}
				acfg.RelayCredentials = (&relay.Issuer{Secret: secret, URLs: nf.TURNURLs, Registered: cache.IsRegistered}).Answer
			}
			nc, err := broker.ServeAdmission(strings.Split(urls, ","), auth, issuer, acfg)
			if err != nil {
				return fmt.Errorf("%w (is --nats right, and the server configured with the output of 'myst-net broker-admission init'?)", err)
			}
			defer nc.Close()
			fmt.Fprintf(cmd.OutOrStdout(), "broker admission serving %s\n", nc.ConnectedUrlRedacted())
			<-ctx.Done()
			return nil
		},
	}
	cmd.PersistentFlags().StringVar(&dir, "dir", "broker-admission", "folder of the callout's keys (auth.nk, issuer.nk)")
	serveCmd.Flags().StringVar(&relaySecretFile, "relay-secret-file", "", "file holding the relay's shared secret (coturn's static-auth-secret, or myst-net relay's): issue relay credentials to registered identities")
	serveCmd.Flags().StringVar(&urls, "nats", "nats://127.0.0.1:4222", "comma-separated URLs of the NATS servers")
	cmd.AddCommand(initCmd, serveCmd)
	return cmd
}

// readSecret reads a relay's shared secret: the file's first line, at
// least 16 bytes.
func readSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("relay secret: %w", err)
	}
	s, _, _ := strings.Cut(string(b), "\n")
	s = strings.TrimSpace(s)
	if len(s) < 16 {
		return nil, fmt.Errorf("relay secret in %s: at least 16 characters", path)
	}
	return []byte(s), nil
}

func loadSeed(path string) (nkeys.KeyPair, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w (run 'myst-net broker-admission init' first)", err)
	}
	kp, err := nkeys.FromSeed([]byte(strings.TrimSpace(string(b))))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return kp, nil
}

func loadOrMakeSeed(path string, create func() (nkeys.KeyPair, error)) (nkeys.KeyPair, error) {
	if _, err := os.Stat(path); err == nil {
		return loadSeed(path)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	kp, err := create()
	if err != nil {
		return nil, err
	}
	seed, err := kp.Seed()
	if err != nil {
		return nil, err
	}
	return kp, os.WriteFile(path, append(seed, '\n'), 0o600)
}
