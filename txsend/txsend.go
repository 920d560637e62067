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
	"sync"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/mystnode/myst/ethrpc"
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
	// Poll is how often receipts and the head are asked for (default 1 s);
	// a transaction just sent is asked for sooner, from 50 ms doubling up
	// to Poll, so a dev chain's instant blocks are seen at once.
	Poll   time.Duration
	Logger *slog.Logger
	// Journal, if not nil, keeps every transaction sent until it is
	// confirmed, for a restart to wait for it instead of sending again.
	Journal *Journal
	// Progress, if set, is told when a transaction is sent and, about
	// once a second, that it is still awaited (the CLI shows it).
	Progress func(string)
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
	if len(tips) > 0 {
		tip = new(big.Int).Set(tips[len(tips)/2])
	}
	if tip == nil || tip.Sign() == 0 {
		// Empty blocks say nothing: the node's suggestion (its miner's
		// least tip on a dev chain), else 1 gwei.
		if tip, err = s.ec.SuggestGasTipCap(ctx); err != nil || tip.Sign() == 0 {
			tip = big.NewInt(1e9)
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
	// Resumed: the transaction was sent before (by an earlier run, found
	// in the journal) and this call waited for it instead of sending one.
	Resumed bool
	// Dropped counts versions whose nonce another transaction took (a
	// reorg, or the account used elsewhere): the call was sent again.
	Dropped int
}

// ErrDropped: no version of a transaction was mined and its nonce was
// taken by another transaction.
var ErrDropped = errors.New("transaction dropped: its nonce was used by another transaction")

// maxDrops bounds how often Send sends again after a drop.
const maxDrops = 3

func (s *Sender) progress(msg string) {
	if s.cfg.Progress != nil {
		s.cfg.Progress(msg)
	}
}

// From is the account that sends (and pays gas).
func (s *Sender) From() common.Address { return s.from.Address() }

// Journaled says whether the journal holds a transaction of what that an
// earlier run sent: a Send of what waits for it.
func (s *Sender) Journaled(what string) bool {
	_, ok := s.cfg.Journal.get(s.from.Address(), what)
	return ok
}

// Send builds, signs and sends a transaction, replaces it while it is
// stuck, and returns the receipt of the version mined once it has the
// confirmations asked. The ctx bounds the whole.
//
// what names the transaction in logs and errors, and in the journal (when
// the Sender has one): every version is written there before it is sent,
// and a Send of the same what after a restart waits for the journaled
// transaction (sending it again if the node it went to forgot it) instead
// of sending a second one. A transaction that a reorg removes and whose
// nonce another takes is built and sent again, so build must be safe to
// run more than once.
func (s *Sender) Send(ctx context.Context, what string, build Build) (Result, error) {
	var res Result
	if e, ok := s.cfg.Journal.get(s.from.Address(), what); ok {
		st := &pending{nonce: e.Nonce}
		for _, raw := range e.Raw {
			tx := new(types.Transaction)
			if err := tx.UnmarshalBinary(raw); err != nil {
				continue
			}
			st.versions = append(st.versions, tx)
			res.Sent = append(res.Sent, tx.Hash())
		}
		if len(st.versions) > 0 {
			last := st.versions[len(st.versions)-1]
			st.tip, st.feeCap, st.gas = last.GasTipCap(), last.GasFeeCap(), last.Gas()
			res.Resumed = true
			s.cfg.Logger.Info("transaction sent by an earlier run; waiting for it", "what", what, "tx", last.Hash().Hex(), "nonce", e.Nonce)
			for _, tx := range st.versions {
				s.rebroadcast(ctx, tx)
			}
			r, err := s.await(ctx, what, build, st, &res)
			switch {
			case err == nil:
				s.cfg.Journal.remove(s.from.Address(), what)
				res.Receipt = r
				return res, nil
			case !errors.Is(err, ErrDropped):
				return res, err
			}
			res.Dropped++
			s.cfg.Logger.Warn("transaction of an earlier run dropped; sending it again", "what", what, "nonce", e.Nonce)
		}
		s.cfg.Journal.remove(s.from.Address(), what)
	}
	for {
		st, err := s.first(ctx, what, build)
		if err != nil {
			return res, err
		}
		res.Sent = append(res.Sent, st.versions[0].Hash())
		r, err := s.await(ctx, what, build, st, &res)
		if err == nil {
			s.cfg.Journal.remove(s.from.Address(), what)
			res.Receipt = r
			return res, nil
		}
		if !errors.Is(err, ErrDropped) || res.Dropped >= maxDrops {
			return res, err
		}
		res.Dropped++
		s.cfg.Journal.remove(s.from.Address(), what)
		s.cfg.Logger.Warn("transaction dropped (a reorg, or its nonce used elsewhere); sending it again", "what", what, "nonce", st.nonce)
	}
}

// pending is a transaction in flight: its nonce, every version sent, the
// fees of the last.
type pending struct {
	nonce        uint64
	versions     []*types.Transaction
	tip, feeCap  *big.Int
	gas          uint64
	sentAt       time.Time
	reorgWarned  bool
	unseenNonces int
}

// first builds, journals and sends the first version with the account's
// next nonce.
func (s *Sender) first(ctx context.Context, what string, build Build) (*pending, error) {
	tip, feeCap, err := s.Fees(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	var firstTip, firstCap *big.Int
	if s.cfg.firstFee != nil {
		firstTip, firstCap = s.cfg.firstFee(tip, feeCap)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.haveNonce {
		n, err := s.ec.PendingNonceAt(ctx, s.from.Address())
		if err != nil {
			return nil, fmt.Errorf("%s: nonce of %s: %w", what, s.from.Address().Hex(), err)
		}
		s.next, s.haveNonce = n, true
	}
	nonce := s.next
	tx, err := s.sign(ctx, build, nonce, tip, feeCap, 0)
	if err == nil && firstTip != nil {
		// Priced by the test (under the base fee, say), with the gas
		// estimated at a real price.
		tip, feeCap = firstTip, firstCap
		tx, err = s.sign(ctx, build, nonce, tip, feeCap, tx.Gas())
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	st := &pending{nonce: nonce, versions: []*types.Transaction{tx}, tip: tip, feeCap: feeCap, gas: tx.Gas(), sentAt: time.Now()}
	if err := s.cfg.Journal.put(s.from.Address(), what, st); err != nil {
		return nil, fmt.Errorf("%s: write it down before sending: %w", what, err)
	}
	if err := s.ec.SendTransaction(ctx, tx); err != nil {
		s.cfg.Journal.remove(s.from.Address(), what)
		if ethrpc.IsNonceTooLow(err) {
			// Someone else used this account: start again from the chain's count.
			s.haveNonce = false
		}
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	s.next++
	s.progress(fmt.Sprintf("sent %s in transaction %s", what, tx.Hash().Hex()))
	s.cfg.Logger.Info("transaction sent", "what", what, "tx", tx.Hash().Hex(), "nonce", nonce, "fee_cap", feeCap, "tip", tip)
	return st, nil
}

// rebroadcast sends a version again, for a node that may have forgotten
// it (a restart, a reorg); "known" and "nonce too low" answers are fine.
func (s *Sender) rebroadcast(ctx context.Context, tx *types.Transaction) {
	if err := s.ec.SendTransaction(ctx, tx); err != nil {
		s.cfg.Logger.Debug("rebroadcast", "tx", tx.Hash().Hex(), "err", err)
	}
}

// await waits for a version of st to be mined with the confirmations
// asked, replacing it with higher fees while it is stuck (when build is
// not nil). It returns ErrDropped when the nonce was taken by a
// transaction that is none of st's versions.
func (s *Sender) await(ctx context.Context, what string, build Build, st *pending, res *Result) (*types.Receipt, error) {
	if st.sentAt.IsZero() {
		st.sentAt = time.Now()
	}
	wait := min(50*time.Millisecond, s.cfg.Poll)
	t := time.NewTimer(wait)
	defer t.Stop()
	waitStart, lastTold := time.Now(), time.Now()
	for {
		// The nonce first: a version mined between the two questions is
		// then seen by the receipts.
		used, nerr := s.ec.NonceAt(ctx, s.from.Address(), nil)
		mined := false
		for _, tx := range st.versions {
			h := tx.Hash()
			r, err := s.ec.TransactionReceipt(ctx, h)
			if err != nil {
				if errors.Is(err, ethereum.NotFound) || ethrpc.IsIndexing(err) {
					continue // not mined (yet, or any more)
				}
				// The RPC fails: give up now (the caller retries; the
				// contract call must be safe to repeat, and the journal
				// keeps the transaction) and read the nonce from the
				// chain next time, in case this one is dropped.
				s.mu.Lock()
				s.haveNonce = false
				s.mu.Unlock()
				return nil, fmt.Errorf("%s: receipt of %s: %w", what, h.Hex(), err)
			}
			mined = true
			if err := s.confirmed(ctx, r); err != nil {
				return nil, fmt.Errorf("%s: %w", what, err)
			}
			// Still there, in the same block, after the confirmations:
			// else a reorg moved or removed it, and the wait goes on.
			r2, err := s.ec.TransactionReceipt(ctx, h)
			if err == nil && r2.BlockHash == r.BlockHash {
				return r2, nil
			}
			if !st.reorgWarned {
				st.reorgWarned = true
				s.cfg.Logger.Warn("a reorg took the transaction out of its block; waiting for it again", "what", what, "tx", h.Hex(), "block", r.BlockNumber)
			}
			for _, v := range st.versions {
				s.rebroadcast(ctx, v)
			}
			st.sentAt = time.Now()
		}
		if !mined && nerr == nil && used > st.nonce {
			// The nonce is taken and none of ours holds it. Asked twice,
			// a poll apart, so a receipt still being indexed is not
			// mistaken for a drop.
			st.unseenNonces++
			if st.unseenNonces >= 2 {
				s.mu.Lock()
				s.haveNonce = false
				s.mu.Unlock()
				return nil, fmt.Errorf("%s: %w (nonce %d)", what, ErrDropped, st.nonce)
			}
		} else {
			st.unseenNonces = 0
		}
		if !mined && time.Since(lastTold) >= time.Second {
			lastTold = time.Now()
			s.progress(fmt.Sprintf("waiting for %s to be mined (%s)", what, time.Since(waitStart).Round(time.Second)))
		}
		if !mined && build != nil && time.Since(st.sentAt) > s.cfg.StuckAfter {
			s.replace(ctx, what, build, st, res)
			st.sentAt = time.Now()
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%s: not mined (sent %v): %w", what, res.Sent, ctx.Err())
		case <-t.C:
			wait = min(2*wait, s.cfg.Poll)
			t.Reset(wait)
		}
	}
}

// replace sends a stuck transaction again with the same nonce and fees up
// by at least 12.5 % (what nodes ask of a replacement) or to today's,
// within the ceiling; written down before it is sent.
func (s *Sender) replace(ctx context.Context, what string, build Build, st *pending, res *Result) {
	ntip, ncap, err := s.Fees(ctx)
	if err != nil {
		s.cfg.Logger.Warn("a stuck transaction cannot be replaced", "what", what, "err", err)
		return
	}
	tip, feeCap := bump(st.tip, ntip, s.cfg.MaxFee), bump(st.feeCap, ncap, s.cfg.MaxFee)
	if tip.Cmp(feeCap) > 0 {
		tip = new(big.Int).Set(feeCap)
	}
	was := st.versions[len(st.versions)-1]
	rtx, err := s.sign(ctx, build, st.nonce, tip, feeCap, st.gas)
	if err == nil {
		next := *st
		next.versions = append(append([]*types.Transaction{}, st.versions...), rtx)
		err = s.cfg.Journal.put(s.from.Address(), what, &next)
	}
	if err == nil {
		err = s.ec.SendTransaction(ctx, rtx)
	}
	if err != nil {
		s.cfg.Logger.Warn("replacing a stuck transaction failed", "what", what, "tx", was.Hash().Hex(), "err", err)
		return
	}
	st.versions = append(st.versions, rtx)
	st.tip, st.feeCap = tip, feeCap
	res.Sent = append(res.Sent, rtx.Hash())
	res.Replaced++
	s.cfg.Logger.Warn("transaction stuck; replaced with higher fees", "what", what, "was", was.Hash().Hex(), "now", rtx.Hash().Hex(), "fee_cap", feeCap, "tip", tip)
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
