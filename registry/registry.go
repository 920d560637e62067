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
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/mystnode/myst/contracts"
	"github.com/mystnode/myst/ethrpc"
	"github.com/mystnode/myst/identity"
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

// Register registers id, paying gas from payer (which may be id itself).
// An identity that is already registered is a success with
// AlreadyRegistered set and no transaction sent.
func (c *Client) Register(ctx context.Context, id, payer *identity.Signer, progress Progress) (Receipt, error) {
	if progress == nil {
		progress = func(string) {}
	}
	sig, err := c.registrationSig(ctx, id)
	if err != nil || sig == nil {
		return Receipt{AlreadyRegistered: err == nil}, err
	}
	balance, err := c.eth.BalanceAt(ctx, payer.Address(), nil)
	if err != nil {
		return Receipt{}, fmt.Errorf("balance of %s: %w", payer.Address().Hex(), err)
	}
	if balance.Sign() == 0 {
		return Receipt{}, fmt.Errorf("%w: %s has no ether", ErrNoFunds, payer.Address().Hex())
	}
	opts := c.TransactOpts(ctx, payer)
	tx, err := c.contract.Register(opts, id.PublicKey(), sig)
	if err != nil {
		if isFundsError(err) {
			return Receipt{}, fmt.Errorf("%w: %s has %s wei: %v", ErrNoFunds, payer.Address().Hex(), balance, err)
		}
		if strings.Contains(err.Error(), "already registered") {
			return Receipt{AlreadyRegistered: true}, nil
		}
		return Receipt{}, fmt.Errorf("send register(%s): %w", id.Address().Hex(), err)
	}
	progress(fmt.Sprintf("sent registration of %s in transaction %s (gas paid by %s)", id.Address().Hex(), tx.Hash().Hex(), payer.Address().Hex()))
	rcpt, err := WaitMined(ctx, c.eth, tx.Hash(), progress)
	if err != nil {
		return Receipt{}, err
	}
	out := Receipt{TxHash: tx.Hash(), Block: rcpt.BlockNumber.Uint64(), GasUsed: rcpt.GasUsed}
	if rcpt.Status != types.ReceiptStatusSuccessful {
		// Someone else may have registered it in the meantime.
		if ok, err := c.IsRegistered(ctx, id.Address()); err == nil && ok {
			return Receipt{AlreadyRegistered: true}, nil
		}
		return out, fmt.Errorf("register(%s): %w in block %d", id.Address().Hex(), ErrReverted, out.Block)
	}
	return out, nil
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

// SendFunc sends the transaction build makes and returns its receipt
// once it counts (a txsend.Sender's Send: managed nonce, EIP-1559 fees, a
// stuck one replaced, confirmations, a journal across restarts).
type SendFunc func(ctx context.Context, what string, build func(*bind.TransactOpts) (*types.Transaction, error)) (*types.Receipt, error)

// RegisterWith is Register with the transaction sent by send, from the
// payer's account: a restart then waits for the registration it sent
// instead of sending another.
func (c *Client) RegisterWith(ctx context.Context, id *identity.Signer, send SendFunc) (Receipt, error) {
	sig, err := c.registrationSig(ctx, id)
	if err != nil || sig == nil {
		return Receipt{AlreadyRegistered: err == nil}, err
	}
	r, err := send(ctx, "register "+id.Address().Hex(), func(o *bind.TransactOpts) (*types.Transaction, error) {
		return c.contract.Register(o, id.PublicKey(), sig)
	})
	if err != nil {
		if strings.Contains(err.Error(), "already registered") {
			return Receipt{AlreadyRegistered: true}, nil
		}
		if isFundsError(err) {
			return Receipt{}, fmt.Errorf("%w: %v", ErrNoFunds, err)
		}
		return Receipt{}, err
	}
	out := Receipt{TxHash: r.TxHash, Block: r.BlockNumber.Uint64(), GasUsed: r.GasUsed}
	if r.Status != types.ReceiptStatusSuccessful {
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

func isFundsError(err error) bool {
	s := err.Error()
	return strings.Contains(s, "insufficient funds") || strings.Contains(s, "gas required exceeds allowance")
}

// WaitMined polls for the receipt of tx until it is mined or ctx ends,
// reporting progress about once a second.
func WaitMined(ctx context.Context, ec *ethclient.Client, tx common.Hash, progress Progress) (*types.Receipt, error) {
	if progress == nil {
		progress = func(string) {}
	}
	start := time.Now()
	lastReport := start
	poll := time.NewTicker(50 * time.Millisecond)
	defer poll.Stop()
	for {
		rcpt, err := ec.TransactionReceipt(ctx, tx)
		if err == nil {
			return rcpt, nil
		}
		// A fresh node may still be indexing transactions: not found yet.
		if !errors.Is(err, ethereum.NotFound) && !strings.Contains(err.Error(), "indexing is in progress") {
			return nil, fmt.Errorf("receipt of %s: %w", tx.Hex(), err)
		}
		if time.Since(lastReport) >= time.Second {
			lastReport = time.Now()
			progress(fmt.Sprintf("waiting for %s to be mined (%ds)", tx.Hex(), int(time.Since(start).Seconds())))
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("transaction %s not mined after %s: %w", tx.Hex(), time.Since(start).Round(time.Second), ctx.Err())
		case <-poll.C:
		}
	}
}

// Deploy deploys a new IdentityRegistry paid by payer and waits until it is
// mined. It returns the contract address and the block it was mined in.
func Deploy(ctx context.Context, ec *ethclient.Client, chainID *big.Int, payer *identity.Signer) (common.Address, uint64, error) {
	opts := payer.TransactOpts(ctx, chainID)
	addr, tx, _, err := contracts.DeployIdentityRegistry(opts, ec)
	if err != nil {
		return common.Address{}, 0, fmt.Errorf("deploy IdentityRegistry: %w", err)
	}
	rcpt, err := WaitMined(ctx, ec, tx.Hash(), nil)
	if err != nil {
		return common.Address{}, 0, fmt.Errorf("deploy IdentityRegistry: %w", err)
	}
	if rcpt.Status != types.ReceiptStatusSuccessful {
		return common.Address{}, 0, fmt.Errorf("deploy IdentityRegistry: %w", ErrReverted)
	}
	return addr, rcpt.BlockNumber.Uint64(), nil
}

// RegisterBatch registers many identities, gas paid by payer: every
// transaction is sent at once (consecutive nonces, a fixed gas limit), then
// all are waited for. For load tests and operators onboarding many
// identities; ids already registered are skipped.
func (c *Client) RegisterBatch(ctx context.Context, ids []*identity.Signer, payer *identity.Signer, progress Progress) error {
	if progress == nil {
		progress = func(string) {}
	}
	nonce, err := c.eth.PendingNonceAt(ctx, payer.Address())
	if err != nil {
		return fmt.Errorf("nonce of %s: %w", payer.Address().Hex(), err)
	}
	var sent []common.Hash
	for _, id := range ids {
		if ok, err := c.IsRegistered(ctx, id.Address()); err != nil {
			return err
		} else if ok {
			continue
		}
		sig, err := id.Sign(RegistrationDigest(c.address, c.chainID, id.Address()))
		if err != nil {
			return err
		}
		opts := c.TransactOpts(ctx, payer)
		opts.Nonce, opts.GasLimit = new(big.Int).SetUint64(nonce), registerGas
		tx, err := c.contract.Register(opts, id.PublicKey(), sig)
		if err != nil {
			return fmt.Errorf("send register(%s): %w", id.Address().Hex(), err)
		}
		nonce++
		sent = append(sent, tx.Hash())
	}
	progress(fmt.Sprintf("sent %d registrations; waiting for them to be mined", len(sent)))
	for i, h := range sent {
		rcpt, err := WaitMined(ctx, c.eth, h, nil)
		if err != nil {
			return err
		}
		if rcpt.Status != types.ReceiptStatusSuccessful {
			return fmt.Errorf("registration in %s: %w", h.Hex(), ErrReverted)
		}
		if (i+1)%500 == 0 {
			progress(fmt.Sprintf("%d of %d registrations mined", i+1, len(sent)))
		}
	}
	return nil
}

// registerGas is the gas limit of a batched registration (one costs about
// 362,000 on the dev chain).
const registerGas = 600_000
