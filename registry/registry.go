// Package registry is the Registered Identities database: it registers
// identities through the IdentityRegistry contract and answers which
// identities are registered, and with which public key.
package registry

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync/atomic"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/mystnode/myst/contracts"
	"github.com/mystnode/myst/ethrpc"
	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/txsend"
	"golang.org/x/sync/errgroup"
)

// Sentinel errors, for errors.Is.
var (
	ErrNotRegistered = errors.New("identity is not registered")
	ErrNoFunds       = errors.New("not enough ether to pay gas")
	ErrReverted      = errors.New("transaction reverted")
	ErrUnreachable   = errors.New("cannot reach the Ethereum RPC endpoint")
	ErrWrongChain    = errors.New("Ethereum RPC endpoint serves another chain")
	ErrNoContract    = errors.New("no IdentityRegistry contract at the registry address")
)

// Client talks to one IdentityRegistry contract on one chain.
type Client struct {
	eth      *ethclient.Client
	chainID  *big.Int
	address  common.Address
	contract *contracts.IdentityRegistry
}

// Dial connects to the chain at rpcURL, checks that it serves chainID and
// that a contract is deployed at address.
func Dial(ctx context.Context, rpcURL string, chainID uint64, address common.Address) (*Client, error) {
	return DialURLs(ctx, []string{rpcURL}, chainID, address)
}

// DialURLs is Dial over several RPC URLs of one chain, failed over and
// retried (see package ethrpc).
func DialURLs(ctx context.Context, urls []string, chainID uint64, address common.Address) (*Client, error) {
	rpcURL := strings.Join(urls, ", ")
	ec, err := ethrpc.Dial(ctx, urls, ethrpc.Config{})
	if err != nil {
		return nil, fmt.Errorf("%w at %s: %v", ErrUnreachable, rpcURL, err)
	}
	c, err := New(ctx, ec, chainID, address)
	if err != nil {
		ec.Close()
		if !errors.Is(err, ErrWrongChain) && !errors.Is(err, ErrNoContract) {
			return nil, fmt.Errorf("%w at %s: %v", ErrUnreachable, rpcURL, err)
		}
		return nil, err
	}
	return c, nil
}

// New wraps an existing client, checking the chain and the contract.
func New(ctx context.Context, ec *ethclient.Client, chainID uint64, address common.Address) (*Client, error) {
	got, err := ec.ChainID(ctx)
	if err != nil {
		return nil, fmt.Errorf("eth_chainId: %w", err)
	}
	if got.Uint64() != chainID {
		return nil, fmt.Errorf("%w: it serves chain %v, the network file says %d", ErrWrongChain, got, chainID)
	}
	code, err := ec.CodeAt(ctx, address, nil)
	if err != nil {
		return nil, fmt.Errorf("eth_getCode: %w", err)
	}
	if len(code) == 0 {
		return nil, fmt.Errorf("%w %s on chain %d", ErrNoContract, address.Hex(), chainID)
	}
	contract, err := contracts.NewIdentityRegistry(address, ec)
	if err != nil {
		return nil, fmt.Errorf("bind IdentityRegistry: %w", err)
	}
	return &Client{eth: ec, chainID: new(big.Int).SetUint64(chainID), address: address, contract: contract}, nil
}

// Close closes the RPC connection.
func (c *Client) Close() { c.eth.Close() }

// Address is the registry contract's address.
func (c *Client) Address() common.Address { return c.address }

// ChainID is the chain's id.
func (c *Client) ChainID() *big.Int { return new(big.Int).Set(c.chainID) }

// Eth is the underlying chain client.
func (c *Client) Eth() *ethclient.Client { return c.eth }

// IsRegistered asks the contract whether id is registered.
func (c *Client) IsRegistered(ctx context.Context, id common.Address) (bool, error) {
	ok, err := c.contract.IsRegistered(&bind.CallOpts{Context: ctx}, id)
	if err != nil {
		return false, fmt.Errorf("isRegistered(%s): %w", id.Hex(), err)
	}
	return ok, nil
}

// PublicKeyOf asks the contract for id's registered public key.
func (c *Client) PublicKeyOf(ctx context.Context, id common.Address) ([]byte, error) {
	key, err := c.contract.PublicKeyOf(&bind.CallOpts{Context: ctx}, id)
	if err != nil {
		return nil, fmt.Errorf("publicKeyOf(%s): %w", id.Hex(), err)
	}
	if len(key) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNotRegistered, id.Hex())
	}
	return key, nil
}

// RegistrationDigest is what an identity signs (as an EIP-191 personal
// message) to register: keccak256(registry address || chain id as uint256 ||
// identity), the contract's abi.encodePacked layout.
func RegistrationDigest(registry common.Address, chainID *big.Int, id common.Address) []byte {
	packed := make([]byte, 0, 20+32+20)
	packed = append(packed, registry.Bytes()...)
	packed = append(packed, common.LeftPadBytes(chainID.Bytes(), 32)...)
	packed = append(packed, id.Bytes()...)
	return crypto.Keccak256(packed)
}

// Progress receives one-line progress reports of long operations.
type Progress func(msg string)

// Receipt is the outcome of a registration.
type Receipt struct {
	AlreadyRegistered bool
	TxHash            common.Hash
	Block             uint64
	GasUsed           uint64
}

// registrationSig is id's signature of its registration, or nil when id
// is registered already.
func (c *Client) registrationSig(ctx context.Context, id *identity.Signer) ([]byte, error) {
	already, err := c.IsRegistered(ctx, id.Address())
	if err != nil || already {
		return nil, err
	}
	return id.Sign(RegistrationDigest(c.address, c.chainID, id.Address()))
}

// Register registers id, the transaction sent by s, whose account pays
// gas (id's own, or a gas payer's): package txsend's one path, so a
// restart waits for the registration it sent instead of sending another.
// An identity that is already registered is a success with
// AlreadyRegistered set and no transaction sent.
func (c *Client) Register(ctx context.Context, id *identity.Signer, s *txsend.Sender) (Receipt, error) {
	sig, err := c.registrationSig(ctx, id)
	if err != nil || sig == nil {
		return Receipt{AlreadyRegistered: err == nil}, err
	}
	res, err := s.Send(ctx, "register "+id.Address().Hex(), func(o *bind.TransactOpts) (*types.Transaction, error) {
		return c.contract.Register(o, id.PublicKey(), sig)
	})
	if err != nil {
		if reason, ok := ethrpc.RevertReason(err); ok && reason == "IdentityRegistry: identity already registered" {
			return Receipt{AlreadyRegistered: true}, nil
		}
		if ethrpc.IsInsufficientFunds(err) {
			return Receipt{}, fmt.Errorf("%w: %s: %v", ErrNoFunds, s.From().Hex(), err)
		}
		return Receipt{}, err
	}
	r := res.Receipt
	out := Receipt{TxHash: r.TxHash, Block: r.BlockNumber.Uint64(), GasUsed: r.GasUsed}
	if r.Status != types.ReceiptStatusSuccessful {
		// Someone else may have registered it in the meantime.
		if ok, err := c.IsRegistered(ctx, id.Address()); err == nil && ok {
			return Receipt{AlreadyRegistered: true}, nil
		}
		return out, fmt.Errorf("register(%s): %w in block %d", id.Address().Hex(), ErrReverted, out.Block)
	}
	return out, nil
}

// TransactOpts returns transaction options that sign with payer's key.
func (c *Client) TransactOpts(ctx context.Context, payer *identity.Signer) *bind.TransactOpts {
	return payer.TransactOpts(ctx, c.chainID)
}

// Deploy deploys a new IdentityRegistry paid by payer (through a
// txsend.Sender, like every transaction) and waits until it is mined. It
// returns the contract address and the block it was mined in. For tests;
// networks are deployed by package deploy.
func Deploy(ctx context.Context, ec *ethclient.Client, chainID *big.Int, payer *identity.Signer) (common.Address, uint64, error) {
	res, err := txsend.New(ec, chainID, payer, txsend.Config{}).Send(ctx, "deploy IdentityRegistry", func(o *bind.TransactOpts) (*types.Transaction, error) {
		_, tx, _, err := contracts.DeployIdentityRegistry(o, ec)
		return tx, err
	})
	if err != nil {
		return common.Address{}, 0, err
	}
	if res.Receipt.Status != types.ReceiptStatusSuccessful {
		return common.Address{}, 0, fmt.Errorf("deploy IdentityRegistry: %w", ErrReverted)
	}
	return res.Receipt.ContractAddress, res.Receipt.BlockNumber.Uint64(), nil
}

// RegisterBatch registers many identities, gas paid by s's account, at
// most 64 in flight at once (s hands out consecutive nonces). For load
// tests and operators onboarding many identities; ids already registered
// are skipped.
func (c *Client) RegisterBatch(ctx context.Context, ids []*identity.Signer, s *txsend.Sender, progress Progress) error {
	if progress == nil {
		progress = func(string) {}
	}
	var done atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(64)
	for _, id := range ids {
		g.Go(func() error {
			sig, err := c.registrationSig(gctx, id)
			if err != nil || sig == nil {
				return err
			}
			res, err := s.Send(gctx, "register "+id.Address().Hex(), func(o *bind.TransactOpts) (*types.Transaction, error) {
				o.GasLimit = registerGas
				return c.contract.Register(o, id.PublicKey(), sig)
			})
			if err != nil {
				return fmt.Errorf("register %s: %w", id.Address().Hex(), err)
			}
			if res.Receipt.Status != types.ReceiptStatusSuccessful {
				return fmt.Errorf("registration of %s: %w", id.Address().Hex(), ErrReverted)
			}
			if n := done.Add(1); n%500 == 0 {
				progress(fmt.Sprintf("%d of %d registrations mined", n, len(ids)))
			}
			return nil
		})
	}
	return g.Wait()
}

// registerGas is the gas limit of a batched registration (one costs about
// 362,000 on the dev chain).
const registerGas = 600_000
