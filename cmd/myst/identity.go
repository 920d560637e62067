package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/mystnode/myst/atomicfile"
	"github.com/mystnode/myst/cmd/internal/cli"
	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/network"
	"github.com/mystnode/myst/registry"
	"github.com/spf13/cobra"
)

func newIdentityCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "identity",
		Short: "Create, import, export and register identities",
	}
	cmd.AddCommand(
		newIdentityNewCmd(g), newIdentityListCmd(g), newIdentityImportCmd(g),
		newIdentityExportCmd(g), newIdentityRegisterCmd(g), newIdentityStatusCmd(g), newIdentityUnlockCmd(g),
	)
	return cmd
}

func (g *globals) store() *identity.Store {
	kdf := identity.StandardKDF
	if g.lightKDF {
		kdf = identity.LightKDF
	}
	return identity.NewStore(filepath.Join(g.dataDir, "keystore"), kdf)
}

// networkFile loads the network file named by --network, or the one in the
// data dir.
func (g *globals) networkFile() (*network.File, string, error) {
	return cli.LoadNetwork(g.network, g.dataDir)
}

// registry connects to the network's identity registry.
func (g *globals) registry(ctx context.Context) (*network.File, *registry.Client, error) {
	f, path, err := g.networkFile()
	if err != nil {
		return nil, nil, err
	}
	c, err := registry.DialURLs(ctx, f.RPCURLs(), f.ChainID, f.RegistryAddress)
	switch {
	case errors.Is(err, registry.ErrUnreachable):
		return nil, nil, fmt.Errorf("%w: is the chain running? check ether_rpc_url in %s", err, path)
	case err != nil:
		return nil, nil, fmt.Errorf("%w: is %s the network file of the running chain?", err, path)
	}
	return f, c, nil
}

// readPassphrase reads a passphrase from file (its first line), else from the
// terminal (asking twice when confirm), else one line of standard input.
func newIdentityNewCmd(g *globals) *cobra.Command {
	var passFile string
	cmd := &cobra.Command{
		Use:   "new",
		Short: "Create a new identity; prints its address as the last line",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pass, err := cli.ReadPassphrase(cmd, passFile, "Passphrase for the new identity: ", true)
			if err != nil {
				return err
			}
			if pass == "" {
				return errors.New("the passphrase is empty: choose one, it encrypts the key on disk")
			}
			addr, err := g.store().Create(pass)
			if err != nil {
				return fmt.Errorf("create identity: %w", err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "created identity, key stored encrypted in %s\n", g.store().Dir())
			fmt.Fprintln(cmd.OutOrStdout(), addr.Hex())
			return nil
		},
	}
	cmd.Flags().StringVar(&passFile, "passphrase-file", "", "read the passphrase from the first line of this file instead of prompting")
	return cmd
}

func newIdentityListCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the identities in the keystore",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ids, err := g.store().List()
			if err != nil {
				return err
			}
			if len(ids) == 0 {
				fmt.Fprintln(cmd.ErrOrStderr(), "no identities yet: create one with `myst identity new`")
			}
			for _, a := range ids {
				fmt.Fprintln(cmd.OutOrStdout(), a.Hex())
			}
			return nil
		},
	}
}

func newIdentityImportCmd(g *globals) *cobra.Command {
	var passFile string
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Import an identity from a keystore v3 file or a file holding a hex private key",
		Long: `Imports an identity. FILE is either an Ethereum keystore v3 JSON file (the
passphrase is that file's passphrase, and the file is kept as it is) or a text
file with a hex private key (the passphrase encrypts it in the keystore).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			raw, err := os.ReadFile(args[0])
			if err != nil {
				return fmt.Errorf("read key file: %w", err)
			}
			var probe struct {
				Crypto json.RawMessage `json:"crypto"`
			}
			isKeystore := json.Unmarshal(raw, &probe) == nil && len(probe.Crypto) > 0
			var addr common.Address
			if isKeystore {
				pass, err := cli.ReadPassphrase(cmd, passFile, "Passphrase of the keystore file: ", false)
				if err != nil {
					return err
				}
				addr, err = g.store().ImportKeystore(raw, pass)
				if errors.Is(err, identity.ErrWrongPassword) {
					return fmt.Errorf("%w: the passphrase does not open %s", err, args[0])
				}
				if err != nil {
					return fmt.Errorf("import: %w", err)
				}
			} else {
				key, err := identity.ParsePrivateKey(string(raw))
				if err != nil {
					return fmt.Errorf("%s is neither a keystore v3 file nor a hex private key: %w", args[0], err)
				}
				pass, err := cli.ReadPassphrase(cmd, passFile, "Passphrase to encrypt the key: ", true)
				if err != nil {
					return err
				}
				if pass == "" {
					return errors.New("the passphrase is empty: choose one, it encrypts the key on disk")
				}
				addr, err = g.store().ImportKey(key, pass)
				if err != nil {
					return fmt.Errorf("import: %w", err)
				}
			}
			fmt.Fprintln(cmd.OutOrStdout(), addr.Hex())
			return nil
		},
	}
	cmd.Flags().StringVar(&passFile, "passphrase-file", "", "read the passphrase from the first line of this file instead of prompting")
	return cmd
}

func newIdentityExportCmd(g *globals) *cobra.Command {
	var passFile, out string
	cmd := &cobra.Command{
		Use:   "export ADDRESS",
		Short: "Write an identity's encrypted keystore v3 file (to --out or standard output)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st := g.store()
			addr, err := inKeystore(st, args[0])
			if err != nil {
				return err
			}
			pass, err := cli.ReadPassphrase(cmd, passFile, "Passphrase: ", false)
			if err != nil {
				return err
			}
			blob, err := st.Export(addr, pass)
			if err != nil {
				return err
			}
			if out == "" {
				_, err = cmd.OutOrStdout().Write(append(blob, '\n'))
				return err
			}
			if err := atomicfile.Write(out, blob, 0o600); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote the encrypted key of %s to %s\n", addr.Hex(), out)
			return nil
		},
	}
	cmd.Flags().StringVar(&passFile, "passphrase-file", "", "read the passphrase from the first line of this file instead of prompting")
	cmd.Flags().StringVar(&out, "out", "", "write to this file (mode 0600) instead of standard output")
	return cmd
}

func newIdentityRegisterCmd(g *globals) *cobra.Command {
	var passFile string
	var selfPay bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "register ADDRESS",
		Short: "Register an identity on chain and wait until the registration is mined",
		Long: `Registers ADDRESS in the network's IdentityRegistry contract. The identity
signs the registration (so its passphrase is needed); gas is paid by the
network file's gas payer if it has one, else (or with --self-pay) by the
identity itself. Already registered is a success.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st := g.store()
			addr, err := inKeystore(st, args[0])
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			nf, reg, err := g.registry(ctx)
			if err != nil {
				return err
			}
			defer reg.Close()
			if ok, err := reg.IsRegistered(ctx, addr); err != nil {
				return err
			} else if ok {
				fmt.Fprintf(cmd.OutOrStdout(), "%s is already registered\n", addr.Hex())
				return nil
			}
			id, err := g.unlock(cmd, addr, passFile)
			if err != nil {
				return err
			}
			payer := id
			if !selfPay && nf.HasGasPayer() {
				if payer, err = nf.GasPayer(); err != nil {
					return fmt.Errorf("%w: fix the network file or use --self-pay", err)
				}
			}
			sender, err := g.sender(cmd, reg.Eth(), reg.ChainID(), payer)
			if err != nil {
				return err
			}
			r, err := reg.Register(ctx, id, sender)
			switch {
			case errors.Is(err, registry.ErrNoFunds) && payer == id:
				return fmt.Errorf("%w: send ether to %s to pay for the registration, or use a network file with a gas payer", err, payer.Address().Hex())
			case errors.Is(err, registry.ErrNoFunds):
				return fmt.Errorf("%w: the network's gas payer is out of ether; fund it or use --self-pay", err)
			case errors.Is(err, context.DeadlineExceeded):
				return fmt.Errorf("%w: the registration may still be mined; check with `myst identity status %s`", err, addr.Hex())
			case err != nil:
				return err
			}
			if r.AlreadyRegistered {
				fmt.Fprintf(cmd.OutOrStdout(), "%s is already registered\n", addr.Hex())
				return nil
			}
			fmt.Fprintf(cmd.OutOrStdout(), "registered %s in block %d (transaction %s, gas used %d)\n", addr.Hex(), r.Block, r.TxHash.Hex(), r.GasUsed)
			return nil
		},
	}
	cmd.Flags().StringVar(&passFile, "passphrase-file", "", "read the passphrase from the first line of this file instead of prompting")
	cmd.Flags().BoolVar(&selfPay, "self-pay", false, "pay gas from the identity itself even if the network has a gas payer")
	cmd.Flags().DurationVar(&timeout, "timeout", 2*time.Minute, "give up waiting for the registration after this long")
	return cmd
}

func newIdentityStatusCmd(g *globals) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "status ADDRESS",
		Short: "Print `registered` or `unregistered`, read from the chain",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			addr, err := identity.ParseAddress(args[0])
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			_, reg, err := g.registry(ctx)
			if err != nil {
				return err
			}
			defer reg.Close()
			ok, err := reg.IsRegistered(ctx, addr)
			if err != nil {
				return err
			}
			if ok {
				fmt.Fprintln(cmd.OutOrStdout(), "registered")
			} else {
				fmt.Fprintln(cmd.OutOrStdout(), "unregistered")
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "give up after this long")
	return cmd
}

// inKeystore parses an identity argument and checks the keystore holds it.
func inKeystore(st *identity.Store, arg string) (common.Address, error) {
	addr, err := identity.ParseAddress(arg)
	if err != nil {
		return common.Address{}, err
	}
	if ok, err := st.Has(addr); err != nil {
		return common.Address{}, err
	} else if !ok {
		return common.Address{}, fmt.Errorf("%w: %s (see `myst identity list`, or `myst identity import`)", identity.ErrNotFound, addr.Hex())
	}
	return addr, nil
}
