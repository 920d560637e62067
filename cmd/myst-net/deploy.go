package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/accounts/keystore"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/mystnode/myst/atomicfile"
	"github.com/mystnode/myst/cmd/internal/cli"
	"github.com/mystnode/myst/contracts"
	"github.com/mystnode/myst/deploy"
	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/network"
	"github.com/mystnode/myst/proposal"
	"github.com/spf13/cobra"
)

func newDeployCmd() *cobra.Command {
	var rpc, keyFile, passFile, tokenFlag, out, statePath, supply string
	var testToken bool
	var challenge, timeout time.Duration
	var confirmations uint64
	var brokers, discoveries, stuns []string
	dep := &cobra.Command{
		Use:   "deploy --rpc URL --keystore FILE --passphrase-file F (--token ADDRESS | --test-token) --out network.json",
		Short: "Deploy IdentityRegistry and Payments (and a test token) to a chain and write its network.json",
		Long: `Deploys the contracts from the deployer's keystore account, showing each
transaction's gas and fee ceiling before sending it, and waits for
--confirmations. Every signed transaction is written to the state file
(--state, default <out>.deploy-state.json) before it is sent: a run that
stopped is resumed by running the same command again, and nothing is
deployed twice. Writes --out (network.json: chain id read from the chain,
contract addresses, the registry's block, and the --broker-url,
--discovery-url and --stun-url given) and <out>.verify.json (compiler,
settings and constructor arguments, for source verification).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if rpc == "" || keyFile == "" || out == "" {
				return errors.New("--rpc, --keystore and --out are required")
			}
			if (tokenFlag == "") == !testToken {
				return errors.New("give --token ADDRESS (an existing ERC-20) or --test-token (deploy a test MYSTT), one of them")
			}
			var token common.Address
			if tokenFlag != "" {
				a, err := identity.ParseAddress(tokenFlag)
				if err != nil {
					return fmt.Errorf("--token: %w", err)
				}
				token = a
			}
			sup, err := proposal.ParseAmount(supply)
			if err != nil {
				return fmt.Errorf("--test-supply: %w", err)
			}
			if challenge < time.Second || challenge > 30*24*time.Hour {
				return fmt.Errorf("--challenge-period %s: must be between 1s and 720h", challenge)
			}
			if confirmations < 1 || confirmations > 100 {
				return fmt.Errorf("--confirmations %d: must be between 1 and 100", confirmations)
			}
			if statePath == "" {
				statePath = strings.TrimSuffix(out, ".json") + ".deploy-state.json"
			}
			blob, err := os.ReadFile(keyFile)
			if err != nil {
				return fmt.Errorf("--keystore: %w", err)
			}
			pass, err := cli.ReadPassphrase(cmd, passFile, "Passphrase of the deployer keystore: ", false)
			if err != nil {
				return err
			}
			key, err := keystore.DecryptKey(blob, pass)
			if err != nil {
				return fmt.Errorf("--keystore %s: %w (check --passphrase-file)", keyFile, err)
			}
			deployer := identity.NewSigner(key.PrivateKey)
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			ec, err := ethclient.DialContext(ctx, rpc)
			if err != nil {
				return fmt.Errorf("--rpc %s: %w", rpc, err)
			}
			defer ec.Close()
			progress := func(m string) { fmt.Fprintln(cmd.ErrOrStderr(), m) }
			st, err := deploy.Run(ctx, deploy.Config{RPC: ec, Deployer: deployer, Token: token, TestSupply: sup,
				ChallengeSeconds: uint64(challenge / time.Second), Confirmations: confirmations, StatePath: statePath, Progress: progress})
			if err != nil {
				return fmt.Errorf("%w (run the same command again to resume from %s)", err, statePath)
			}
			if testToken {
				token = st.Step("MystToken").Address
			}
			reg, pay := st.Step("IdentityRegistry"), st.Step("Payments")
			nf := &network.File{ChainID: st.ChainID, EtherRPCURL: rpc, RegistryAddress: reg.Address, RegistryFromBlock: reg.Block,
				BrokerURLs: brokers, STUNURLs: stuns, TokenAddress: &token, PaymentsAddress: &pay.Address}
			if len(discoveries) > 0 {
				nf.DiscoveryURL, nf.DiscoveryURLs = discoveries[0], discoveries[1:]
			}
			if err := nf.Validate(); err != nil {
				return fmt.Errorf("the network file would be invalid: %w", err)
			}
			if err := nf.Save(out); err != nil {
				return err
			}
			if err := writeVerification(strings.TrimSuffix(out, ".json")+".verify.json", st, token, uint64(challenge/time.Second)); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deployed on chain %d: IdentityRegistry %s (block %d), Payments %s, token %s; network file %s\n",
				st.ChainID, reg.Address.Hex(), reg.Block, pay.Address.Hex(), token.Hex(), out)
			return nil
		},
	}
	f := dep.Flags()
	f.StringVar(&rpc, "rpc", "", "the chain's JSON-RPC URL (http(s) or ws(s))")
	f.StringVar(&keyFile, "keystore", "", "the deployer's keystore file (it pays the gas)")
	f.StringVar(&passFile, "passphrase-file", "", "file holding the keystore's passphrase (default: ask)")
	f.StringVar(&tokenFlag, "token", "", "an existing ERC-20 token for payments")
	f.BoolVar(&testToken, "test-token", false, "deploy a test MYSTT token and mint --test-supply to the deployer")
	f.StringVar(&supply, "test-supply", "1000000000", "MYSTT minted to the deployer with --test-token")
	f.DurationVar(&challenge, "challenge-period", time.Hour, "how long a consumer waits between announcing a withdrawal and withdrawing")
	f.Uint64Var(&confirmations, "confirmations", 1, "blocks a transaction must have (1: mined; more on real chains)")
	f.StringVar(&out, "out", "", "where to write network.json")
	f.StringVar(&statePath, "state", "", "the resumable deployment state (default <out>.deploy-state.json)")
	f.StringArrayVar(&brokers, "broker-url", nil, "a NATS broker URL for network.json (repeatable)")
	f.StringArrayVar(&discoveries, "discovery-url", nil, "a Discovery API URL for network.json (repeatable)")
	f.StringArrayVar(&stuns, "stun-url", nil, "a STUN server URL (stun:host:port) for network.json (repeatable)")
	f.DurationVar(&timeout, "timeout", 30*time.Minute, "give up after this long")
	return dep
}

// verification is what a block explorer needs to verify the sources.
type verification struct {
	Compiler  string             `json:"compiler"`
	Settings  map[string]any     `json:"settings"`
	Contracts []verifiedContract `json:"contracts"`
	ChainID   uint64             `json:"chain_id"`
	Written   time.Time          `json:"written"`
}

type verifiedContract struct {
	Name            string         `json:"name"`
	Source          string         `json:"source"`
	Address         common.Address `json:"address"`
	ConstructorArgs string         `json:"constructor_args"` // ABI-encoded, hex
}

func writeVerification(path string, st *deploy.State, token common.Address, challenge uint64) error {
	pabi, err := contracts.PaymentsMetaData.GetAbi()
	if err != nil {
		return err
	}
	args, err := pabi.Pack("", token, new(big.Int).SetUint64(challenge))
	if err != nil {
		return err
	}
	v := verification{Compiler: "solc 0.8.30 (solcjs, see contracts/generate.sh)", ChainID: st.ChainID,
		Settings: map[string]any{"optimizer": map[string]any{"enabled": true, "runs": 200}},
		Written:  time.Now().UTC()}
	for _, c := range []struct{ name, args string }{{"IdentityRegistry", ""}, {"MystToken", ""}, {"Payments", hex.EncodeToString(args)}} {
		s := st.Step(c.name)
		if s == nil {
			continue
		}
		v.Contracts = append(v.Contracts, verifiedContract{Name: c.name, Source: filepath.Join("contracts", c.name+".sol"), Address: s.Address, ConstructorArgs: c.args})
	}
	raw, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(raw, '\n'), 0o644)
}
