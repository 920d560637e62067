// Package payments is how consumers pay providers: the test token and the
// Payments contract on chain, promises of cumulative amounts signed by
// consumers, the invoice/promise exchange over a session's dialog, and the
// durable store in which a provider keeps promises until it settles them.
package payments

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/mystnode/myst/contracts"
	"github.com/mystnode/myst/ethrpc"
	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/registry"
	"github.com/mystnode/myst/txsend"
	"golang.org/x/sync/errgroup"
)

// Sentinel errors.
var (
	ErrBadPromise   = errors.New("invalid promise")
	ErrNothingToPay = errors.New("the promise adds nothing to what was settled")
)

// Client talks to the token and Payments contracts.
type Client struct {
	eth      *ethclient.Client
	chainID  *big.Int
	tokenAt  common.Address
	payAt    common.Address
	token    *contracts.MystToken
	payments *contracts.Payments
}

// NewClient binds the contracts on an open chain connection.
func NewClient(ec *ethclient.Client, chainID uint64, token, payments common.Address) (*Client, error) {
	t, err := contracts.NewMystToken(token, ec)
	if err != nil {
		return nil, err
	}
	p, err := contracts.NewPayments(payments, ec)
	if err != nil {
		return nil, err
	}
	return &Client{eth: ec, chainID: new(big.Int).SetUint64(chainID), tokenAt: token, payAt: payments, token: t, payments: p}, nil
}

// Eth is the chain connection.
func (c *Client) Eth() *ethclient.Client { return c.eth }

// Address is the Payments contract's address.
func (c *Client) Address() common.Address { return c.payAt }

// ChainID is the chain's id.
func (c *Client) ChainID() *big.Int { return new(big.Int).Set(c.chainID) }

// Promise is a consumer's signed promise to pay a provider a cumulative amount.
type Promise struct {
	Consumer   common.Address `json:"consumer"`
	Provider   common.Address `json:"provider"`
	Cumulative *big.Int       `json:"cumulative"`
	Signature  []byte         `json:"signature"`
}

// PromiseDigest is what a consumer signs (EIP-191): keccak256(contract ||
// chain id || consumer || provider || cumulative), as the contract packs it.
func PromiseDigest(contract common.Address, chainID *big.Int, consumer, provider common.Address, cumulative *big.Int) []byte {
	b := make([]byte, 0, 20+32+20+20+32)
	b = append(b, contract.Bytes()...)
	b = append(b, common.LeftPadBytes(chainID.Bytes(), 32)...)
	b = append(b, consumer.Bytes()...)
	b = append(b, provider.Bytes()...)
	b = append(b, common.LeftPadBytes(cumulative.Bytes(), 32)...)
	return crypto.Keccak256(b)
}

// SignPromise makes consumer's promise to provider for cumulative.
func (c *Client) SignPromise(consumer *identity.Signer, provider common.Address, cumulative *big.Int) (Promise, error) {
	sig, err := consumer.Sign(PromiseDigest(c.payAt, c.chainID, consumer.Address(), provider, cumulative))
	if err != nil {
		return Promise{}, err
	}
	return Promise{Consumer: consumer.Address(), Provider: provider, Cumulative: new(big.Int).Set(cumulative), Signature: sig}, nil
}

// Verify checks the promise is its consumer's, for this contract and chain.
func (c *Client) Verify(p Promise) error {
	if p.Cumulative == nil || p.Cumulative.Sign() <= 0 {
		return fmt.Errorf("%w: no amount", ErrBadPromise)
	}
	if err := identity.Verify(p.Consumer, PromiseDigest(c.payAt, c.chainID, p.Consumer, p.Provider, p.Cumulative), p.Signature); err != nil {
		return fmt.Errorf("%w: %v", ErrBadPromise, err)
	}
	return nil
}

// Balance is a consumer's deposit left in the contract.
func (c *Client) Balance(ctx context.Context, consumer common.Address) (*big.Int, error) {
	return c.payments.BalanceOf(&bind.CallOpts{Context: ctx}, consumer)
}

// Settled is what provider has settled from consumer so far (cumulative).
func (c *Client) Settled(ctx context.Context, consumer, provider common.Address) (*big.Int, error) {
	return c.payments.Settled(&bind.CallOpts{Context: ctx}, consumer, provider)
}

// TokenBalance is an address's token balance.
func (c *Client) TokenBalance(ctx context.Context, who common.Address) (*big.Int, error) {
	return c.token.BalanceOf(&bind.CallOpts{Context: ctx}, who)
}

// Tx is a mined transaction's outcome.
type Tx struct {
	Hash    common.Hash
	Block   uint64
	GasUsed uint64
}

// send sends one transaction through s, whose account pays gas: the one
// way every payment transaction goes (package txsend: a managed nonce,
// fees under a ceiling, a stuck one replaced, a journal across restarts
// when s has one). A contract's refusal comes back decoded (see revert).
func (c *Client) send(ctx context.Context, s *txsend.Sender, what string, build txsend.Build) (Tx, error) {
	res, err := s.Send(ctx, what, build)
	if err != nil {
		return Tx{}, fmt.Errorf("%s: %w", what, revert(err))
	}
	out := Tx{Hash: res.Receipt.TxHash, Block: res.Receipt.BlockNumber.Uint64(), GasUsed: res.Receipt.GasUsed}
	if res.Receipt.Status != types.ReceiptStatusSuccessful {
		return out, fmt.Errorf("%s: %w in block %d", what, registry.ErrReverted, out.Block)
	}
	return out, nil
}

// RevertError is a transaction or call the contracts refused, with their
// reason ("Payments: …", "MystToken: …").
type RevertError struct{ Reason string }

func (e *RevertError) Error() string { return e.Reason }

// revert decodes the contracts' refusal in err, once, into the sentinel
// errors callers test with errors.Is (ErrNothingToPay, ErrChallengePeriod)
// or a *RevertError with the reason; a sender without gas money is
// registry.ErrNoFunds. Anything else comes back as it was.
func revert(err error) error {
	if reason, ok := ethrpc.RevertReason(err); ok {
		switch reason {
		case "Payments: promise adds nothing to what was settled", "Payments: nothing left to pay the promise from":
			return ErrNothingToPay
		case "Payments: challenge period not over":
			return ErrChallengePeriod
		}
		return &RevertError{Reason: reason}
	}
	if ethrpc.IsInsufficientFunds(err) {
		return fmt.Errorf("%w: %v", registry.ErrNoFunds, err)
	}
	return err
}

// Fund sends amount tokens and gasWei ether from sender's account to who
// (development networks, where the network file names a funded account).
func (c *Client) Fund(ctx context.Context, sender *txsend.Sender, who common.Address, amount, gasWei *big.Int) (Tx, error) {
	out, err := c.send(ctx, sender, "token transfer to "+who.Hex(), func(o *bind.TransactOpts) (*types.Transaction, error) {
		return c.token.Transfer(o, who, amount)
	})
	if err != nil || gasWei == nil || gasWei.Sign() == 0 {
		return out, err
	}
	return c.send(ctx, sender, "ether for gas to "+who.Hex(), func(o *bind.TransactOpts) (*types.Transaction, error) {
		tx := types.NewTx(&types.DynamicFeeTx{ChainID: c.chainID, Nonce: o.Nonce.Uint64(), GasTipCap: o.GasTipCap, GasFeeCap: o.GasFeeCap, Gas: 21000, To: &who, Value: gasWei})
		return o.Signer(o.From, tx)
	})
}

// Deposit approves and deposits amount of from's tokens for consumer,
// from's account paying gas.
func (c *Client) Deposit(ctx context.Context, from *txsend.Sender, consumer common.Address, amount *big.Int) (Tx, error) {
	bal, err := c.TokenBalance(ctx, from.From())
	if err != nil {
		return Tx{}, err
	}
	if bal.Cmp(amount) < 0 {
		return Tx{}, fmt.Errorf("%s holds %s token units, less than the %s to deposit", from.From().Hex(), bal, amount)
	}
	if _, err := c.send(ctx, from, "approve "+amount.String()+" for "+consumer.Hex(), func(o *bind.TransactOpts) (*types.Transaction, error) {
		return c.token.Approve(o, c.payAt, amount)
	}); err != nil {
		return Tx{}, err
	}
	return c.send(ctx, from, "deposit "+amount.String()+" for "+consumer.Hex(), func(o *bind.TransactOpts) (*types.Transaction, error) {
		return c.payments.Deposit(o, consumer, amount)
	})
}

// Settle submits a promise, sent by s (its account pays gas), and returns
// what the provider was paid: ErrNothingToPay when the promise adds
// nothing.
func (c *Client) Settle(ctx context.Context, s *txsend.Sender, p Promise) (*big.Int, Tx, error) {
	before, err := c.TokenBalance(ctx, p.Provider)
	if err != nil {
		return nil, Tx{}, err
	}
	// One name per pair: a settlement sent before a restart is waited for,
	// not sent twice (see txsend's journal).
	out, err := c.send(ctx, s, settleWhat(p.Consumer, p.Provider), func(o *bind.TransactOpts) (*types.Transaction, error) {
		return c.payments.Settle(o, p.Consumer, p.Provider, p.Cumulative, p.Signature)
	})
	if errors.Is(err, ErrNothingToPay) {
		return big.NewInt(0), out, ErrNothingToPay
	}
	if err != nil {
		return nil, out, err
	}
	after, err := c.TokenBalance(ctx, p.Provider)
	if err != nil {
		return nil, out, err
	}
	return new(big.Int).Sub(after, before), out, nil
}

// WithdrawalDigest is what a consumer signs to announce a withdrawal.
func WithdrawalDigest(contract common.Address, chainID *big.Int, consumer, to common.Address, nonce *big.Int) []byte {
	b := make([]byte, 0, 20+32+20+20+32+8)
	b = append(b, contract.Bytes()...)
	b = append(b, common.LeftPadBytes(chainID.Bytes(), 32)...)
	b = append(b, consumer.Bytes()...)
	b = append(b, to.Bytes()...)
	b = append(b, common.LeftPadBytes(nonce.Bytes(), 32)...)
	b = append(b, "withdraw"...)
	return crypto.Keccak256(b)
}

// RequestWithdrawal announces that consumer's deposit goes to `to` after the
// challenge period; sender pays gas.
func (c *Client) RequestWithdrawal(ctx context.Context, sender *txsend.Sender, consumer *identity.Signer, to common.Address) (Tx, error) {
	nonce, err := c.payments.WithdrawalNonce(&bind.CallOpts{Context: ctx}, consumer.Address())
	if err != nil {
		return Tx{}, err
	}
	sig, err := consumer.Sign(WithdrawalDigest(c.payAt, c.chainID, consumer.Address(), to, nonce))
	if err != nil {
		return Tx{}, err
	}
	return c.send(ctx, sender, "withdrawal request of "+consumer.Address().Hex(), func(o *bind.TransactOpts) (*types.Transaction, error) {
		return c.payments.RequestWithdrawal(o, consumer.Address(), to, sig)
	})
}

// Withdrawal is an announced withdrawal (AvailableAt zero: none).
type Withdrawal struct {
	To          common.Address
	AvailableAt uint64 // unix seconds
}

// PendingWithdrawal reads consumer's announced withdrawal.
func (c *Client) PendingWithdrawal(ctx context.Context, consumer common.Address) (Withdrawal, error) {
	w, err := c.payments.Withdrawals(&bind.CallOpts{Context: ctx}, consumer)
	if err != nil {
		return Withdrawal{}, err
	}
	return Withdrawal{To: w.To, AvailableAt: w.AvailableAt.Uint64()}, nil
}

// ErrChallengePeriod means an announced withdrawal is not available yet.
var ErrChallengePeriod = errors.New("challenge period not over")

// Withdraw completes an announced withdrawal; sender pays gas.
func (c *Client) Withdraw(ctx context.Context, sender *txsend.Sender, consumer common.Address) (Tx, error) {
	w, err := c.PendingWithdrawal(ctx, consumer)
	if err != nil {
		return Tx{}, err
	}
	if w.AvailableAt == 0 {
		return Tx{}, errors.New("no withdrawal announced: announce one first")
	}
	if now := uint64(time.Now().Unix()); now < w.AvailableAt {
		return Tx{}, fmt.Errorf("%w: it ends at %s, in %ds", ErrChallengePeriod, time.Unix(int64(w.AvailableAt), 0).UTC().Format(time.RFC3339), w.AvailableAt-now)
	}
	// Estimation would run against the latest block, whose timestamp may
	// still be inside the period; the new block's won't be.
	return c.send(ctx, sender, "withdraw of "+consumer.Hex(), func(o *bind.TransactOpts) (*types.Transaction, error) {
		o.GasLimit = 200_000
		return c.payments.Withdraw(o, consumer)
	})
}

// WithdrawStep is what WithdrawOrAnnounce did.
type WithdrawStep struct {
	Announced   bool           // a withdrawal was announced (none was pending)
	AvailableAt time.Time      // when an announced withdrawal can complete
	Withdrawn   *big.Int       // the deposit paid out, when it completed
	To          common.Address // where the deposit goes
	Tx          Tx
}

// WithdrawOrAnnounce announces a withdrawal of consumer's deposit to `to`
// if none is pending, or completes the pending one (ErrChallengePeriod
// while the period runs). sender pays gas.
func (c *Client) WithdrawOrAnnounce(ctx context.Context, sender *txsend.Sender, consumer *identity.Signer, to common.Address) (WithdrawStep, error) {
	w, err := c.PendingWithdrawal(ctx, consumer.Address())
	if err != nil {
		return WithdrawStep{}, err
	}
	if w.AvailableAt == 0 {
		tx, err := c.RequestWithdrawal(ctx, sender, consumer, to)
		if err != nil {
			return WithdrawStep{}, err
		}
		if w, err = c.PendingWithdrawal(ctx, consumer.Address()); err != nil {
			return WithdrawStep{}, err
		}
		return WithdrawStep{Announced: true, AvailableAt: time.Unix(int64(w.AvailableAt), 0).UTC(), To: w.To, Tx: tx}, nil
	}
	before, err := c.Balance(ctx, consumer.Address())
	if err != nil {
		return WithdrawStep{}, err
	}
	tx, err := c.Withdraw(ctx, sender, consumer.Address())
	if err != nil {
		return WithdrawStep{}, err
	}
	return WithdrawStep{Withdrawn: before, AvailableAt: time.Unix(int64(w.AvailableAt), 0).UTC(), To: w.To, Tx: tx}, nil
}

// DepositBatch deposits amountEach of from's tokens for each consumer:
// one approval, then the deposits, at most 64 in flight at once (each
// through from, which hands out the nonces). For load tests.
func (c *Client) DepositBatch(ctx context.Context, from *txsend.Sender, consumers []common.Address, amountEach *big.Int) error {
	total := new(big.Int).Mul(amountEach, big.NewInt(int64(len(consumers))))
	if _, err := c.send(ctx, from, "approve "+total.String()+" for a batch", func(o *bind.TransactOpts) (*types.Transaction, error) {
		return c.token.Approve(o, c.payAt, total)
	}); err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(64)
	for _, consumer := range consumers {
		g.Go(func() error {
			_, err := c.send(gctx, from, "deposit for "+consumer.Hex(), func(o *bind.TransactOpts) (*types.Transaction, error) {
				o.GasLimit = 300_000
				return c.payments.Deposit(o, consumer, amountEach)
			})
			return err
		})
	}
	return g.Wait()
}

// settleWhat names a pair's settlement in the sender's journal.
func settleWhat(consumer, provider common.Address) string {
	return "settle " + consumer.Hex() + " to " + provider.Hex()
}
