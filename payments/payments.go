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
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/mystnode/myst/contracts"
	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/registry"
	"github.com/mystnode/myst/txsend"
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

func (c *Client) opts(ctx context.Context, s *identity.Signer) *bind.TransactOpts {
	return s.TransactOpts(ctx, c.chainID)
}

func (c *Client) mined(ctx context.Context, what string, tx *types.Transaction, err error, progress registry.Progress) (Tx, error) {
	if err != nil {
		return Tx{}, fmt.Errorf("%s: %w", what, cleanRevert(err))
	}
	if progress != nil {
		progress(fmt.Sprintf("sent %s in transaction %s", what, tx.Hash().Hex()))
	}
	r, err := registry.WaitMined(ctx, c.eth, tx.Hash(), progress)
	if err != nil {
		return Tx{}, fmt.Errorf("%s: %w", what, err)
	}
	out := Tx{Hash: tx.Hash(), Block: r.BlockNumber.Uint64(), GasUsed: r.GasUsed}
	if r.Status != types.ReceiptStatusSuccessful {
		return out, fmt.Errorf("%s: %w in block %d", what, registry.ErrReverted, out.Block)
	}
	return out, nil
}

// cleanRevert shortens go-ethereum's revert errors to the contract's reason.
func cleanRevert(err error) error {
	s := err.Error()
	if i := strings.Index(s, "Payments: "); i >= 0 {
		return errors.New(s[i:])
	}
	if i := strings.Index(s, "MystToken: "); i >= 0 {
		return errors.New(s[i:])
	}
	if strings.Contains(s, "insufficient funds") {
		return fmt.Errorf("%w: %v", registry.ErrNoFunds, err)
	}
	return err
}

// Fund sends amount tokens and gasWei ether from payer to who (development
// networks, where the network file names a funded account).
func (c *Client) Fund(ctx context.Context, payer *identity.Signer, who common.Address, amount, gasWei *big.Int, progress registry.Progress) (Tx, error) {
	tx, err := c.token.Transfer(c.opts(ctx, payer), who, amount)
	out, err := c.mined(ctx, "token transfer", tx, err, progress)
	if err != nil || gasWei == nil || gasWei.Sign() == 0 {
		return out, err
	}
	nonce, err := c.eth.PendingNonceAt(ctx, payer.Address())
	if err != nil {
		return out, err
	}
	tip, err := c.eth.SuggestGasTipCap(ctx)
	if err != nil {
		return out, err
	}
	head, err := c.eth.HeaderByNumber(ctx, nil)
	if err != nil {
		return out, err
	}
	feeCap := new(big.Int).Add(tip, new(big.Int).Mul(head.BaseFee, big.NewInt(2)))
	etx := types.NewTx(&types.DynamicFeeTx{ChainID: c.chainID, Nonce: nonce, GasTipCap: tip, GasFeeCap: feeCap, Gas: 21000, To: &who, Value: gasWei})
	signed, err := payer.SignTx(etx, c.chainID)
	if err != nil {
		return out, err
	}
	if err := c.eth.SendTransaction(ctx, signed); err != nil {
		return out, fmt.Errorf("send ether for gas: %w", err)
	}
	return c.mined(ctx, "ether for gas", signed, nil, progress)
}

// Deposit approves and deposits amount of from's tokens for consumer.
func (c *Client) Deposit(ctx context.Context, from *identity.Signer, consumer common.Address, amount *big.Int, progress registry.Progress) (Tx, error) {
	bal, err := c.TokenBalance(ctx, from.Address())
	if err != nil {
		return Tx{}, err
	}
	if bal.Cmp(amount) < 0 {
		return Tx{}, fmt.Errorf("%s holds %s token units, less than the %s to deposit", from.Address().Hex(), bal, amount)
	}
	tx, err := c.token.Approve(c.opts(ctx, from), c.payAt, amount)
	if _, err := c.mined(ctx, "approve", tx, err, progress); err != nil {
		return Tx{}, err
	}
	tx, err = c.payments.Deposit(c.opts(ctx, from), consumer, amount)
	return c.mined(ctx, "deposit", tx, err, progress)
}

// Settle submits a promise, sent (and gas paid) by sender; it returns what
// the provider was paid.
func (c *Client) Settle(ctx context.Context, sender *identity.Signer, p Promise, progress registry.Progress) (*big.Int, Tx, error) {
	before, err := c.TokenBalance(ctx, p.Provider)
	if err != nil {
		return nil, Tx{}, err
	}
	tx, err := c.payments.Settle(c.opts(ctx, sender), p.Consumer, p.Provider, p.Cumulative, p.Signature)
	out, err := c.mined(ctx, "settle", tx, err, progress)
	if err != nil {
		if strings.Contains(err.Error(), "adds nothing") {
			return big.NewInt(0), out, ErrNothingToPay
		}
		return nil, out, err
	}
	after, err := c.TokenBalance(ctx, p.Provider)
	if err != nil {
		return nil, out, err
	}
	return new(big.Int).Sub(after, before), out, nil
}

// SettleWith is Settle sent through a txsend.Sender (its account pays
// gas): managed nonce, EIP-1559 fees, stuck transactions replaced,
// confirmations waited for.
func (c *Client) SettleWith(ctx context.Context, s *txsend.Sender, p Promise) (*big.Int, Tx, error) {
	before, err := c.TokenBalance(ctx, p.Provider)
	if err != nil {
		return nil, Tx{}, err
	}
	// One name per pair: a settlement sent before a restart is waited for,
	// not sent twice (see txsend's journal).
	res, err := s.Send(ctx, settleWhat(p.Consumer, p.Provider), func(o *bind.TransactOpts) (*types.Transaction, error) {
		return c.payments.Settle(o, p.Consumer, p.Provider, p.Cumulative, p.Signature)
	})
	if err != nil {
		if strings.Contains(err.Error(), "adds nothing") {
			return big.NewInt(0), Tx{}, ErrNothingToPay
		}
		return nil, Tx{}, cleanRevert(err)
	}
	out := Tx{Hash: res.Receipt.TxHash, Block: res.Receipt.BlockNumber.Uint64(), GasUsed: res.Receipt.GasUsed}
	if res.Receipt.Status != types.ReceiptStatusSuccessful {
		return nil, out, fmt.Errorf("settle: %w in block %d", registry.ErrReverted, out.Block)
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
func (c *Client) RequestWithdrawal(ctx context.Context, sender, consumer *identity.Signer, to common.Address, progress registry.Progress) (Tx, error) {
	nonce, err := c.payments.WithdrawalNonce(&bind.CallOpts{Context: ctx}, consumer.Address())
	if err != nil {
		return Tx{}, err
	}
	sig, err := consumer.Sign(WithdrawalDigest(c.payAt, c.chainID, consumer.Address(), to, nonce))
	if err != nil {
		return Tx{}, err
	}
	tx, err := c.payments.RequestWithdrawal(c.opts(ctx, sender), consumer.Address(), to, sig)
	return c.mined(ctx, "withdrawal request", tx, err, progress)
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
func (c *Client) Withdraw(ctx context.Context, sender *identity.Signer, consumer common.Address, progress registry.Progress) (Tx, error) {
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
	o := c.opts(ctx, sender)
	o.GasLimit = 200_000
	tx, err := c.payments.Withdraw(o, consumer)
	return c.mined(ctx, "withdraw", tx, err, progress)
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
func (c *Client) WithdrawOrAnnounce(ctx context.Context, sender, consumer *identity.Signer, to common.Address, progress registry.Progress) (WithdrawStep, error) {
	w, err := c.PendingWithdrawal(ctx, consumer.Address())
	if err != nil {
		return WithdrawStep{}, err
	}
	if w.AvailableAt == 0 {
		tx, err := c.RequestWithdrawal(ctx, sender, consumer, to, progress)
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
	tx, err := c.Withdraw(ctx, sender, consumer.Address(), progress)
	if err != nil {
		return WithdrawStep{}, err
	}
	return WithdrawStep{Withdrawn: before, AvailableAt: time.Unix(int64(w.AvailableAt), 0).UTC(), To: w.To, Tx: tx}, nil
}

// DeployAll deploys the token and Payments contracts, minting supply to
// payer. It returns their addresses.
func DeployAll(ctx context.Context, ec *ethclient.Client, chainID *big.Int, payer *identity.Signer, supply *big.Int, challengeSeconds uint64) (token, pay common.Address, err error) {
	o := payer.TransactOpts(ctx, chainID)
	token, tx, tok, err := contracts.DeployMystToken(o, ec)
	if err != nil {
		return token, pay, fmt.Errorf("deploy MystToken: %w", err)
	}
	if _, err := registry.WaitMined(ctx, ec, tx.Hash(), nil); err != nil {
		return token, pay, fmt.Errorf("deploy MystToken: %w", err)
	}
	pay, tx, _, err = contracts.DeployPayments(o, ec, token, new(big.Int).SetUint64(challengeSeconds))
	if err != nil {
		return token, pay, fmt.Errorf("deploy Payments: %w", err)
	}
	if _, err := registry.WaitMined(ctx, ec, tx.Hash(), nil); err != nil {
		return token, pay, fmt.Errorf("deploy Payments: %w", err)
	}
	tx, err = tok.Mint(o, payer.Address(), supply)
	if err != nil {
		return token, pay, fmt.Errorf("mint: %w", err)
	}
	r, err := registry.WaitMined(ctx, ec, tx.Hash(), nil)
	if err != nil || r.Status != types.ReceiptStatusSuccessful {
		return token, pay, fmt.Errorf("mint: %v", err)
	}
	return token, pay, nil
}

// DepositBatch deposits amountEach of from's tokens for each consumer: one
// approval, then every deposit sent at once (consecutive nonces), then all
// waited for. For load tests.
func (c *Client) DepositBatch(ctx context.Context, from *identity.Signer, consumers []common.Address, amountEach *big.Int, progress registry.Progress) error {
	total := new(big.Int).Mul(amountEach, big.NewInt(int64(len(consumers))))
	tx, err := c.token.Approve(c.opts(ctx, from), c.payAt, total)
	if _, err := c.mined(ctx, "approve", tx, err, progress); err != nil {
		return err
	}
	nonce, err := c.eth.PendingNonceAt(ctx, from.Address())
	if err != nil {
		return err
	}
	var sent []*types.Transaction
	for _, consumer := range consumers {
		opts := c.opts(ctx, from)
		opts.Nonce, opts.GasLimit = new(big.Int).SetUint64(nonce), 300_000
		tx, err := c.payments.Deposit(opts, consumer, amountEach)
		if err != nil {
			return fmt.Errorf("deposit for %s: %w", consumer.Hex(), cleanRevert(err))
		}
		nonce++
		sent = append(sent, tx)
	}
	for _, tx := range sent {
		if _, err := c.mined(ctx, "deposit", tx, nil, nil); err != nil {
			return err
		}
	}
	return nil
}

// settleWhat names a pair's settlement in the sender's journal.
func settleWhat(consumer, provider common.Address) string {
	return "settle " + consumer.Hex() + " to " + provider.Hex()
}
