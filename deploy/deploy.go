// Package deploy puts a myst network's contracts on any Ethereum chain:
// IdentityRegistry, Payments, and (for test networks) a MystToken with a
// minted supply. Each transaction is signed, written down in a state file,
// then sent, then waited for to the confirmations asked; a run that
// crashed is resumed from the state file (a signed transaction is sent
// again, never signed anew), so no contract is deployed twice.
package deploy

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/mystnode/myst/atomicfile"
	"github.com/mystnode/myst/contracts"
	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/registry"
)

// Step is one transaction of a deployment.
type Step struct {
	Name    string         `json:"name"`
	Address common.Address `json:"address,omitempty"` // the contract, for deployments
	Tx      common.Hash    `json:"tx,omitempty"`
	Raw     string         `json:"raw,omitempty"` // the signed transaction, hex, until it is mined
	Gas     uint64         `json:"gas,omitempty"`
	Block   uint64         `json:"block,omitempty"`
	GasUsed uint64         `json:"gas_used,omitempty"`
	Done    bool           `json:"done"`
}

// State is what a deployment has done, saved after every change.
type State struct {
	ChainID  uint64         `json:"chain_id"`
	Deployer common.Address `json:"deployer"`
	Steps    []*Step        `json:"steps"`
}

// Step finds a step by name.
func (s *State) Step(name string) *Step {
	for _, st := range s.Steps {
		if st.Name == name {
			return st
		}
	}
	return nil
}

// Config says what to deploy and where.
type Config struct {
	RPC      *ethclient.Client
	Deployer *identity.Signer
	// Token is an existing ERC-20 for Payments; zero: deploy a test
	// MystToken and mint TestSupply to the deployer.
	Token            common.Address
	TestSupply       *big.Int
	ChallengeSeconds uint64
	Confirmations    uint64 // blocks on top of the one a transaction is in (1: mined)
	StatePath        string
	Progress         func(string)
}

// Run deploys what the state file does not say is done, and returns the
// final state.
func Run(ctx context.Context, cfg Config) (*State, error) {
	if cfg.Progress == nil {
		cfg.Progress = func(string) {}
	}
	if cfg.Confirmations == 0 {
		cfg.Confirmations = 1
	}
	chainID, err := cfg.RPC.ChainID(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the chain id: %w", err)
	}
	st := &State{ChainID: chainID.Uint64(), Deployer: cfg.Deployer.Address()}
	if raw, err := os.ReadFile(cfg.StatePath); err == nil {
		var prev State
		if err := json.Unmarshal(raw, &prev); err != nil {
			return nil, fmt.Errorf("state file %s is not valid JSON: %w (move it away to start over)", cfg.StatePath, err)
		}
		if prev.ChainID != st.ChainID || prev.Deployer != st.Deployer {
			return nil, fmt.Errorf("state file %s is of chain %d and deployer %s, not chain %d and %s: use another --state",
				cfg.StatePath, prev.ChainID, prev.Deployer.Hex(), st.ChainID, st.Deployer.Hex())
		}
		st = &prev
		cfg.Progress(fmt.Sprintf("resuming the deployment in %s", cfg.StatePath))
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	d := &deployer{cfg: cfg, chainID: chainID, st: st}
	if err := d.run(ctx, "IdentityRegistry", func(o *bind.TransactOpts) (common.Address, *types.Transaction, error) {
		a, tx, _, err := contracts.DeployIdentityRegistry(o, cfg.RPC)
		return a, tx, err
	}); err != nil {
		return st, err
	}
	token := cfg.Token
	if token == (common.Address{}) {
		if err := d.run(ctx, "MystToken", func(o *bind.TransactOpts) (common.Address, *types.Transaction, error) {
			a, tx, _, err := contracts.DeployMystToken(o, cfg.RPC)
			return a, tx, err
		}); err != nil {
			return st, err
		}
		token = st.Step("MystToken").Address
		if err := d.run(ctx, "mint", func(o *bind.TransactOpts) (common.Address, *types.Transaction, error) {
			tok, err := contracts.NewMystToken(token, cfg.RPC)
			if err != nil {
				return common.Address{}, nil, err
			}
			tx, err := tok.Mint(o, cfg.Deployer.Address(), cfg.TestSupply)
			return common.Address{}, tx, err
		}); err != nil {
			return st, err
		}
	}
	if err := d.run(ctx, "Payments", func(o *bind.TransactOpts) (common.Address, *types.Transaction, error) {
		a, tx, _, err := contracts.DeployPayments(o, cfg.RPC, token, new(big.Int).SetUint64(cfg.ChallengeSeconds))
		return a, tx, err
	}); err != nil {
		return st, err
	}
	return st, nil
}

type deployer struct {
	cfg     Config
	chainID *big.Int
	st      *State
}

func (d *deployer) save() error {
	raw, err := json.MarshalIndent(d.st, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(d.cfg.StatePath, append(raw, '\n'), 0o600)
}

// run signs, records, sends and waits for one step.
func (d *deployer) run(ctx context.Context, name string, build func(*bind.TransactOpts) (common.Address, *types.Transaction, error)) error {
	s := d.st.Step(name)
	if s != nil && s.Done {
		d.cfg.Progress(fmt.Sprintf("%s: done already (tx %s, block %d)", name, s.Tx.Hex(), s.Block))
		return nil
	}
	if s == nil {
		opts := d.cfg.Deployer.TransactOpts(ctx, d.chainID)
		opts.NoSend = true // signed and estimated here, written down, then sent
		addr, tx, err := build(opts)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		raw, err := tx.MarshalBinary()
		if err != nil {
			return err
		}
		most := new(big.Int).Mul(tx.GasFeeCap(), new(big.Int).SetUint64(tx.Gas()))
		d.cfg.Progress(fmt.Sprintf("%s: gas %d at most %s gwei each (tip %s gwei): at most %s ETH", name, tx.Gas(),
			gwei(tx.GasFeeCap()), gwei(tx.GasTipCap()), ether(most)))
		s = &Step{Name: name, Address: addr, Tx: tx.Hash(), Raw: hex.EncodeToString(raw), Gas: tx.Gas()}
		d.st.Steps = append(d.st.Steps, s)
		if err := d.save(); err != nil {
			return fmt.Errorf("%s: write the state before sending: %w", name, err)
		}
	}
	// Sent now, or again after a crash (the node answers "already known",
	// or the nonce is used by this very transaction, mined).
	if s.Raw != "" {
		raw, err := hex.DecodeString(s.Raw)
		if err != nil {
			return fmt.Errorf("%s: the state file's transaction: %w", name, err)
		}
		var tx types.Transaction
		if err := tx.UnmarshalBinary(raw); err != nil {
			return fmt.Errorf("%s: the state file's transaction: %w", name, err)
		}
		if err := d.cfg.RPC.SendTransaction(ctx, &tx); err != nil && !alreadySent(err) {
			return fmt.Errorf("%s: send %s: %w", name, tx.Hash().Hex(), err)
		}
		d.cfg.Progress(fmt.Sprintf("%s: sent %s", name, s.Tx.Hex()))
	}
	rcpt, err := registry.WaitMined(ctx, d.cfg.RPC, s.Tx, d.cfg.Progress)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if rcpt.Status != types.ReceiptStatusSuccessful {
		return fmt.Errorf("%s: transaction %s reverted", name, s.Tx.Hex())
	}
	if err := d.confirm(ctx, name, rcpt.BlockNumber.Uint64()); err != nil {
		return err
	}
	s.Block, s.GasUsed, s.Done, s.Raw = rcpt.BlockNumber.Uint64(), rcpt.GasUsed, true, ""
	if err := d.save(); err != nil {
		return err
	}
	if s.Address != (common.Address{}) {
		d.cfg.Progress(fmt.Sprintf("%s deployed at %s (block %d, gas used %d)", name, s.Address.Hex(), s.Block, s.GasUsed))
	} else {
		d.cfg.Progress(fmt.Sprintf("%s done (block %d, gas used %d)", name, s.Block, s.GasUsed))
	}
	return nil
}

// confirm waits until block has Confirmations-1 blocks on top and the
// transaction is still in it.
func (d *deployer) confirm(ctx context.Context, name string, block uint64) error {
	for {
		head, err := d.cfg.RPC.BlockNumber(ctx)
		if err != nil {
			return fmt.Errorf("%s: read the head: %w", name, err)
		}
		if head+1 >= block+d.cfg.Confirmations {
			return nil
		}
		d.cfg.Progress(fmt.Sprintf("%s: %d of %d confirmations", name, head+1-block, d.cfg.Confirmations))
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: waiting for confirmations: %w", name, ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

func alreadySent(err error) bool {
	s := strings.ToLower(err.Error())
	return strings.Contains(s, "already known") || strings.Contains(s, "nonce too low") || strings.Contains(s, "already imported")
}

func gwei(v *big.Int) string {
	f, _ := new(big.Float).Quo(new(big.Float).SetInt(v), big.NewFloat(1e9)).Float64()
	return fmt.Sprintf("%.3f", f)
}

func ether(v *big.Int) string {
	f, _ := new(big.Float).Quo(new(big.Float).SetInt(v), big.NewFloat(1e18)).Float64()
	return fmt.Sprintf("%.6f", f)
}
