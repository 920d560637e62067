package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"syscall"

	"github.com/mystnode/myst/atomicfile"
	"github.com/mystnode/myst/relay"
	"github.com/spf13/cobra"
)

func newRelayCmd() *cobra.Command {
	var addr, relayIP, secretFile string
	var maxAllocs int
	var maxMbit float64
	var allow []string
	cmd := &cobra.Command{
		Use:   "relay",
		Short: "Run the network's TURN relay (STUN too) for pairs with no direct path",
		Long: `Runs a TURN relay (RFC 8656, pion/turn) on --addr, which answers STUN binding
requests on the same port. Credentials are TURN REST ones (coturn's
use-auth-secret) made with the shared secret in --secret-file, which
'myst-net broker-admission serve --relay-secret-file' issues to registered
identities only; each identity holds at most --max-allocations at once,
which carry at most --max-mbit each way.
Peers on this host's loopback and private networks are refused unless
--allow-peers names them. The file is made (a fresh secret) when missing.
Operators may run coturn instead (docs/relay.md).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			secret, made, err := loadOrMakeSecret(secretFile)
			if err != nil {
				return err
			}
			if made {
				fmt.Fprintf(cmd.ErrOrStderr(), "made a new shared secret in %s: give the same file to 'myst-net broker-admission serve --relay-secret-file'\n", secretFile)
			}
			if maxMbit < 0 || maxMbit > 100000 {
				return fmt.Errorf("--max-mbit %g: must be between 0 (no cap) and 100000", maxMbit)
			}
			cfg := relay.Config{Addr: addr, Secret: secret, MaxAllocations: maxAllocs, MaxMbit: maxMbit, Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))}
			if relayIP != "" {
				if cfg.RelayIP, err = netip.ParseAddr(relayIP); err != nil || !cfg.RelayIP.Is4() {
					return fmt.Errorf("--relay-ip %q: want an IPv4 address", relayIP)
				}
			}
			for _, a := range allow {
				p, err := netip.ParsePrefix(a)
				if err != nil {
					return fmt.Errorf("--allow-peers %q: want a CIDR (10.0.0.0/8)", a)
				}
				cfg.AllowPeers = append(cfg.AllowPeers, p)
			}
			if maxAllocs < 1 || maxAllocs > 10000 {
				return fmt.Errorf("--max-allocations %d: must be between 1 and 10000", maxAllocs)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			srv, err := relay.Listen(cfg)
			if err != nil {
				return err
			}
			defer srv.Close()
			host := relayIP
			if host == "" {
				host = srv.Addr().Addr().String()
			}
			fmt.Fprintf(cmd.OutOrStdout(), "relay ready: %s (stun:%s)\n", srv.URL(host), srv.URL(host)[len("turn:"):])
			<-ctx.Done()
			return nil
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "0.0.0.0:3478", "UDP host:port for TURN and STUN")
	cmd.Flags().StringVar(&relayIP, "relay-ip", "", "the public IPv4 address allocations are made on (default: --addr's host, which must then be a specific address)")
	cmd.Flags().StringVar(&secretFile, "secret-file", "relay.secret", "file holding the shared secret (made when missing)")
	cmd.Flags().IntVar(&maxAllocs, "max-allocations", 8, "allocations one identity may hold at once")
	cmd.Flags().Float64Var(&maxMbit, "max-mbit", 200, "Mbit/s one identity's allocations carry each way at most (0: no cap)")
	cmd.Flags().StringSliceVar(&allow, "allow-peers", nil, "CIDRs of this host's own networks peers may be in (refused by default)")
	return cmd
}

// loadOrMakeSecret reads the shared secret at path, or makes one there
// (64 hex characters, 0600) when the file does not exist.
func loadOrMakeSecret(path string) ([]byte, bool, error) {
	s, err := readSecret(path)
	if err == nil {
		return s, false, nil
	}
	if _, serr := os.Stat(path); !errors.Is(serr, os.ErrNotExist) {
		return nil, false, err
	}
	b := make([]byte, 32)
	rand.Read(b)
	secret := []byte(hex.EncodeToString(b))
	if err := atomicfile.Write(path, append(secret, '\n'), 0o600); err != nil {
		return nil, false, fmt.Errorf("relay secret: %w", err)
	}
	return secret, true, nil
}
