// Package txsend sends one account's transactions the way real chains need
// it: nonces handed out by one manager per account (concurrent sends never
// collide and never leave a gap), EIP-1559 fees from the chain's fee
// history under a ceiling, a transaction that stays unmined past a bounded
// time replaced with the same nonce and higher fees, and receipts waited
// for to a number of confirmations.
package txsend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/mystnode/myst/identity"
)

// Config tunes a Sender.
type Config struct {
	// MaxFee is the most wei per gas ever offered (default 500 gwei).
	MaxFee *big.Int
	// StuckAfter: a transaction not mined this long is replaced with
	// higher fees (default 3 minutes).
	StuckAfter time.Duration
	// Confirmations: blocks a receipt needs, its own included (default 1).
	Confirmations uint64
	// Poll is how often receipts and the head are asked for (default 1 s).
	Poll   time.Duration
	Logger *slog.Logger
	// firstFee, if set, prices the first attempt (tests: a stuck one).
	firstFee func(tip, cap *big.Int) (*big.Int, *big.Int)
}

// Sender sends the transactions of one account.
type Sender struct {
	ec      *ethclient.Client
	chainID *big.Int
	from    *identity.Signer
	cfg     Config

	mu        sync.Mutex // held from nonce to send: no gap, no collision
	next      uint64
	haveNonce bool
}

// New makes the sender of from's transactions.
func New(ec *ethclient.Client, chainID *big.Int, from *identity.Signer, cfg Config) *Sender {
	if cfg.MaxFee == nil {
		cfg.MaxFee = big.NewInt(500e9)
	}
	if cfg.StuckAfter <= 0 {
		cfg.StuckAfter = 3 * time.Minute
	}
	if cfg.Confirmations == 0 {
		cfg.Confirmations = 1
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Sender{ec: ec, chainID: new(big.Int).Set(chainID), from: from, cfg: cfg}
}

// ErrFeeCeiling: the chain asks more than MaxFee.
var ErrFeeCeiling = errors.New("the chain's fees are above the ceiling")

// Fees are the EIP-1559 tip and fee cap to offer now: the median tip of
// the last blocks, and twice the next block's base fee plus the tip,
// within MaxFee.
func (s *Sender) Fees(ctx context.Context) (tip, feeCap *big.Int, err error) {
	h, err := s.ec.FeeHistory(ctx, 5, nil, []float64{50})
	if err != nil {
		return nil, nil, fmt.Errorf("fee history: %w", err)
	}
	base := new(big.Int)
	if n := len(h.BaseFee); n > 0 {
		base.Set(h.BaseFee[n-1]) // the next block's
	}
	tips := []*big.Int{}
	for _, r := range h.Reward {
		if len(r) > 0 && r[0] != nil {
			tips = append(tips, r[0])
		}
	}
	tip = big.NewInt(1e9) // 1 gwei when the chain says nothing
	if len(tips) > 0 {
		tip = new(big.Int).Set(tips[len(tips)/2])
		if tip.Sign() == 0 {
			tip.SetInt64(1)
		}
	}
	feeCap = new(big.Int).Add(new(big.Int).Mul(base, big.NewInt(2)), tip)
	if base.Cmp(s.cfg.MaxFee) > 0 {
		return nil, nil, fmt.Errorf("%w: base fee %s wei > ceiling %s wei: raise the ceiling or wait", ErrFeeCeiling, base, s.cfg.MaxFee)
	}
	if feeCap.Cmp(s.cfg.MaxFee) > 0 {
		feeCap.Set(s.cfg.MaxFee)
	}
	if tip.Cmp(feeCap) > 0 {
		tip.Set(feeCap)
	}
	return tip, feeCap, nil
}

// Build makes a transaction from opts (a binding call with opts). The
// sender sets the nonce and fees and signs; Build must not send.
type Build func(opts *bind.TransactOpts) (*types.Transaction, error)

// Result is a mined transaction.
type Result struct {
	Receipt  *types.Receipt
	Sent     []common.Hash // every version sent, the first first
	Replaced int
}

// Send builds, signs and sends a transaction, replaces it while it is
// stuck, and returns the receipt of the version mined once it has the
// confirmations asked. The ctx bounds the whole.
func (s *Sender) Send(ctx context.Context, what string, build Build) (Result, error) {
	tip, feeCap, err := s.Fees(ctx)
	if err != nil {
		return Result{}, fmt.Errorf("%s: %w", what, err)
	}
	var gas uint64
	var firstTip, firstCap *big.Int
	if s.cfg.firstFee != nil {
		firstTip, firstCap = s.cfg.firstFee(tip, feeCap)
	}
	s.mu.Lock()
	if !s.haveNonce {
		n, err := s.ec.PendingNonceAt(ctx, s.from.Address())
		if err != nil {
			s.mu.Unlock()
			return Result{}, fmt.Errorf("%s: nonce of %s: %w", what, s.from.Address().Hex(), err)
		}
		s.next, s.haveNonce = n, true
	}
	nonce := s.next
	tx, err := s.sign(ctx, build, nonce, tip, feeCap, 0)
	if err == nil && firstTip != nil {
		// Priced by the test (under the base fee, say), with the gas
		// estimated at a real price.
		gas, tip, feeCap = tx.Gas(), firstTip, firstCap
		tx, err = s.sign(ctx, build, nonce, tip, feeCap, gas)
	}
	if err == nil {
		err = s.ec.SendTransaction(ctx, tx)
		if err != nil && strings.Contains(strings.ToLower(err.Error()), "nonce too low") {
			// Someone else used this account: start again from the chain's count.
			s.haveNonce = false
		}
	}
	if err == nil {
		s.next++
	}
	s.mu.Unlock()
	if err != nil {
		return Result{}, fmt.Errorf("%s: %w", what, err)
	}
	res := Result{Sent: []common.Hash{tx.Hash()}}
	s.cfg.Logger.Info("transaction sent", "what", what, "tx", tx.Hash().Hex(), "nonce", nonce, "fee_cap", feeCap, "tip", tip)
	sentAt := time.Now()
	t := time.NewTicker(s.cfg.Poll)
	defer t.Stop()
	for {
		for _, h := range res.Sent {
			r, err := s.ec.TransactionReceipt(ctx, h)
			if err != nil {
				if errors.Is(err, ethereum.NotFound) || strings.Contains(err.Error(), "indexing is in progress") {
					continue // not mined yet
				}
				// The RPC fails: give up now (the caller retries; the
				// contract call must be safe to repeat) and read the
				// nonce from the chain next time, in case this one is
				// dropped from the pool.
				s.mu.Lock()
				s.haveNonce = false
				s.mu.Unlock()
				return res, fmt.Errorf("%s: receipt of %s: %w", what, h.Hex(), err)
			}
			if err := s.confirmed(ctx, r); err != nil {
				return res, fmt.Errorf("%s: %w", what, err)
			}
			// Still there after the confirmations (a reorg may have moved it).
			if r2, err := s.ec.TransactionReceipt(ctx, h); err == nil {
				res.Receipt = r2
				return res, nil
			}
		}
		if time.Since(sentAt) > s.cfg.StuckAfter {
			// Same nonce, fees up by at least 12.5 % (what nodes ask of a
			// replacement) or to today's, within the ceiling.
			ntip, ncap, err := s.Fees(ctx)
			if err != nil {
				s.cfg.Logger.Warn("a stuck transaction cannot be replaced", "what", what, "err", err)
			} else {
				tip, feeCap = bump(tip, ntip, s.cfg.MaxFee), bump(feeCap, ncap, s.cfg.MaxFee)
				if tip.Cmp(feeCap) > 0 {
					tip = new(big.Int).Set(feeCap)
				}
				rtx, err := s.sign(ctx, build, nonce, tip, feeCap, tx.Gas())
				if err == nil {
					err = s.ec.SendTransaction(ctx, rtx)
				}
				if err != nil {
					s.cfg.Logger.Warn("replacing a stuck transaction failed", "what", what, "tx", tx.Hash().Hex(), "err", err)
				} else {
					res.Sent = append(res.Sent, rtx.Hash())
					res.Replaced++
					s.cfg.Logger.Warn("transaction stuck; replaced with higher fees", "what", what, "was", tx.Hash().Hex(), "now", rtx.Hash().Hex(), "fee_cap", feeCap, "tip", tip)
					tx = rtx
				}
			}
			sentAt = time.Now()
		}
		select {
		case <-ctx.Done():
			return res, fmt.Errorf("%s: not mined (sent %v): %w", what, res.Sent, ctx.Err())
		case <-t.C:
		}
	}
}

// sign builds the transaction with the nonce and fees given (and gas, when
// not 0: a replacement keeps its limit).
func (s *Sender) sign(ctx context.Context, build Build, nonce uint64, tip, feeCap *big.Int, gas uint64) (*types.Transaction, error) {
	opts := s.from.TransactOpts(ctx, s.chainID)
	opts.NoSend = true
	opts.Nonce = new(big.Int).SetUint64(nonce)
	opts.GasTipCap, opts.GasFeeCap = tip, feeCap
	opts.GasLimit = gas
	return build(opts)
}

// confirmed waits until r's block has Confirmations blocks, its own
// included.
func (s *Sender) confirmed(ctx context.Context, r *types.Receipt) error {
	for {
		head, err := s.ec.BlockNumber(ctx)
		if err != nil {
			return err
		}
		if head+1 >= r.BlockNumber.Uint64()+s.cfg.Confirmations {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(s.cfg.Poll):
		}
	}
}

// bump is the larger of old + 12.5 % (+1) and now, at most max.
func bump(old, now, max *big.Int) *big.Int {
	b := new(big.Int).Add(old, new(big.Int).Div(old, big.NewInt(8)))
	b.Add(b, big.NewInt(1))
	if now.Cmp(b) > 0 {
		b.Set(now)
	}
	if b.Cmp(max) > 0 {
		b.Set(max)
	}
	return b
}
