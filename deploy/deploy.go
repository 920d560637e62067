// Package deploy puts a myst network's contracts on any Ethereum chain:
// IdentityRegistry, Payments, and (for test networks) a MystToken with a
// minted supply. Each transaction goes through package txsend, the one
// path of every transaction myst sends: signed, written down in its
// journal (beside the state file), sent, replaced while stuck, waited for
// to the confirmations asked. The state file records each step done; a
// run that crashed is resumed from both (a transaction in flight is waited
// for, never sent anew), so no contract is deployed twice.
package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/mystnode/myst/atomicfile"
	"github.com/mystnode/myst/contracts"
	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/txsend"
)

// Step is one transaction of a deployment.
type Step struct {
	Name    string         `json:"name"`
	Address common.Address `json:"address,omitempty"` // the contract, for deployments
	Tx      common.Hash    `json:"tx,omitempty"`
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
	journal, err := txsend.OpenJournal(strings.TrimSuffix(cfg.StatePath, ".json") + ".journal")
	if err != nil {
		return nil, err
	}
	sender := txsend.New(cfg.RPC, chainID, cfg.Deployer, txsend.Config{Confirmations: cfg.Confirmations, Journal: journal, Progress: cfg.Progress})
	d := &deployer{cfg: cfg, chainID: chainID, st: st, sender: sender}
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
	sender  *txsend.Sender
}

func (d *deployer) save() error {
	raw, err := json.MarshalIndent(d.st, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(d.cfg.StatePath, append(raw, '\n'), 0o600)
}

// run sends one step through the sender (which journals it before it is
// sent, and waits for a journaled one after a restart) and records it in
// the state file once it has its confirmations.
func (d *deployer) run(ctx context.Context, name string, build func(*bind.TransactOpts) (common.Address, *types.Transaction, error)) error {
	if s := d.st.Step(name); s != nil && s.Done {
		d.cfg.Progress(fmt.Sprintf("%s: done already (tx %s, block %d)", name, s.Tx.Hex(), s.Block))
		return nil
	}
	var gas uint64 // the limit of the version sent last
	res, err := d.sender.Send(ctx, name, func(o *bind.TransactOpts) (*types.Transaction, error) {
		_, tx, err := build(o)
		if err == nil {
			gas = tx.Gas()
			most := new(big.Int).Mul(tx.GasFeeCap(), new(big.Int).SetUint64(tx.Gas()))
			d.cfg.Progress(fmt.Sprintf("%s: gas %d at most %s gwei each (tip %s gwei): at most %s ETH", name, tx.Gas(),
				gwei(tx.GasFeeCap()), gwei(tx.GasTipCap()), ether(most)))
		}
		return tx, err
	})
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	r := res.Receipt
	if r.Status != types.ReceiptStatusSuccessful {
		return fmt.Errorf("%s: transaction %s reverted", name, r.TxHash.Hex())
	}
	s := &Step{Name: name, Address: r.ContractAddress, Tx: r.TxHash, Gas: gas, Block: r.BlockNumber.Uint64(), GasUsed: r.GasUsed, Done: true}
	if old := d.st.Step(name); old != nil {
		*old = *s
	} else {
		d.st.Steps = append(d.st.Steps, s)
	}
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

func gwei(v *big.Int) string {
	f, _ := new(big.Float).Quo(new(big.Float).SetInt(v), big.NewFloat(1e9)).Float64()
	return fmt.Sprintf("%.3f", f)
}

func ether(v *big.Int) string {
	f, _ := new(big.Float).Quo(new(big.Float).SetInt(v), big.NewFloat(1e18)).Float64()
	return fmt.Sprintf("%.6f", f)
}
