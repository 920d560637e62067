package payments

import (
	"context"
	"fmt"
	"log/slog"
	"math/big"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/mystnode/myst/contracts"
)

// Funds is a provider's event-fed view of its consumers' money in the
// Payments contract: each tracked consumer's free deposit and announced
// withdrawal, and for each tracked provider its lane and what it settled.
// A consumer is read from the chain once, when first tracked; from then on
// the contract's events keep it current, so a provider checks a consumer's
// funds at every invoice without an RPC call.
type Funds struct {
	c      *Client
	parser *contracts.PaymentsFilterer
	logger *slog.Logger
	// OnWithdrawal hears of an announced withdrawal of a tracked consumer's
	// free deposit; OnLaneRelease of an announced release of a tracked
	// lane. Both are called without Funds' lock held.
	OnWithdrawal  func(consumer common.Address)
	OnLaneRelease func(consumer, provider common.Address)

	syncMu sync.Mutex // one Sync at a time: the others wait and find it done

	mu        sync.Mutex
	head      uint64 // the last block whose events are applied
	synced    time.Time
	consumers map[common.Address]*consumerFunds
}

type consumerFunds struct {
	free         *big.Int
	withdrawalAt uint64
	lanes        map[common.Address]*laneFunds // by provider
}

type laneFunds struct {
	amount    *big.Int
	releaseAt uint64
	nonce     uint64
	settled   *big.Int
}

// FundsView is a consumer's money as one provider sees it.
type FundsView struct {
	Free         *big.Int // free deposit (all of it, even when a withdrawal is announced)
	WithdrawalAt uint64   // unix seconds; 0: none announced
	Lane         *big.Int // reserved for this provider
	LaneRelease  uint64   // unix seconds; 0: none announced
	LaneNonce    uint64   // the next reservation's nonce
	Settled      *big.Int // what this provider settled so far (cumulative)
}

// Spendable is the free deposit a provider may count on: none once a
// withdrawal of it is announced.
func (v FundsView) Spendable() *big.Int {
	if v.WithdrawalAt != 0 {
		return new(big.Int)
	}
	return new(big.Int).Set(v.Free)
}

// NewFunds starts from the chain's current block.
func NewFunds(ctx context.Context, c *Client, logger *slog.Logger) (*Funds, error) {
	parser, err := contracts.NewPaymentsFilterer(c.payAt, nil)
	if err != nil {
		return nil, err
	}
	head, err := c.eth.BlockNumber(ctx)
	if err != nil {
		return nil, fmt.Errorf("funds: read the chain's head: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Funds{c: c, parser: parser, logger: logger, head: head, synced: time.Now(), consumers: map[common.Address]*consumerFunds{}}, nil
}

// Track reads consumer's deposit and its lane for provider from the chain,
// if they are not tracked yet, as of the last block applied (read again if
// events were applied meanwhile).
func (f *Funds) Track(ctx context.Context, consumer, provider common.Address) error {
	f.mu.Lock()
	cf := f.consumers[consumer]
	known := cf != nil && cf.lanes[provider] != nil
	f.mu.Unlock()
	if known {
		return nil
	}
	// Read as of the chain's head: events after it are applied by Sync.
	if err := f.Sync(ctx); err != nil {
		return fmt.Errorf("read the payments contract's events: %w", err)
	}
	f.mu.Lock()
	through := f.head
	f.mu.Unlock()
	fresh, lane, err := f.read(ctx, consumer, provider, through, cf == nil)
	if err != nil {
		return err
	}
	// Events of blocks applied meanwhile (a busy chain mines many) are
	// applied to what was read, until it is as current as the rest.
	scratch := &Funds{parser: f.parser, consumers: map[common.Address]*consumerFunds{}}
	if fresh == nil {
		fresh = &consumerFunds{free: new(big.Int), lanes: map[common.Address]*laneFunds{}}
	}
	fresh.lanes[provider] = lane
	scratch.consumers[consumer] = fresh
	for {
		f.mu.Lock()
		if f.head == through {
			if f.consumers[consumer] == nil {
				f.consumers[consumer] = fresh
			} else if cur := f.consumers[consumer]; cur.lanes[provider] == nil {
				cur.lanes[provider] = lane
			}
			f.mu.Unlock()
			return nil
		}
		upTo := f.head
		f.mu.Unlock()
		logs, err := f.c.eth.FilterLogs(ctx, ethereum.FilterQuery{FromBlock: new(big.Int).SetUint64(through + 1), ToBlock: new(big.Int).SetUint64(upTo),
			Addresses: []common.Address{f.c.payAt}})
		if err != nil {
			return fmt.Errorf("read the payments contract's events: %w", err)
		}
		for _, lg := range logs {
			scratch.apply(lg)
		}
		through = upTo
	}
}

// read reads a lane (and, if withConsumer, the consumer's deposit) at block head.
func (f *Funds) read(ctx context.Context, consumer, provider common.Address, head uint64, withConsumer bool) (*consumerFunds, *laneFunds, error) {
	o := &bind.CallOpts{Context: ctx, BlockNumber: new(big.Int).SetUint64(head)}
	var cf *consumerFunds
	if withConsumer {
		bal, err := f.c.payments.BalanceOf(o, consumer)
		if err != nil {
			return nil, nil, fmt.Errorf("read the consumer's deposit: %w", err)
		}
		w, err := f.c.payments.Withdrawals(o, consumer)
		if err != nil {
			return nil, nil, fmt.Errorf("read the consumer's withdrawal: %w", err)
		}
		cf = &consumerFunds{free: bal, withdrawalAt: w.AvailableAt.Uint64(), lanes: map[common.Address]*laneFunds{}}
	}
	l, err := f.c.payments.Lanes(o, consumer, provider)
	if err != nil {
		return nil, nil, fmt.Errorf("read the consumer's lane: %w", err)
	}
	n, err := f.c.payments.LaneNonce(o, consumer, provider)
	if err != nil {
		return nil, nil, fmt.Errorf("read the consumer's lane: %w", err)
	}
	s, err := f.c.payments.Settled(o, consumer, provider)
	if err != nil {
		return nil, nil, fmt.Errorf("read what was settled: %w", err)
	}
	return cf, &laneFunds{amount: l.Amount, releaseAt: l.ReleaseAt.Uint64(), nonce: n.Uint64(), settled: s}, nil
}

// View is consumer's money as provider sees it; ok is false when the pair
// is not tracked.
func (f *Funds) View(consumer, provider common.Address) (FundsView, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cf := f.consumers[consumer]
	if cf == nil || cf.lanes[provider] == nil {
		return FundsView{}, false
	}
	l := cf.lanes[provider]
	return FundsView{Free: new(big.Int).Set(cf.free), WithdrawalAt: cf.withdrawalAt, Lane: new(big.Int).Set(l.amount),
		LaneRelease: l.releaseAt, LaneNonce: l.nonce, Settled: new(big.Int).Set(l.settled)}, true
}

// Synced is when the events were last read up to the chain's head.
func (f *Funds) Synced() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.synced
}

// Run applies new events every interval until ctx ends.
func (f *Funds) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := f.Sync(ctx); err != nil && ctx.Err() == nil {
			f.logger.Warn("funds: reading the payments contract's events failed; the view may be behind", "err", err)
		}
	}
}

// Sync applies the events of the blocks after the last one applied, up to
// the chain's head.
func (f *Funds) Sync(ctx context.Context) error {
	f.syncMu.Lock()
	defer f.syncMu.Unlock()
	head, err := f.c.eth.BlockNumber(ctx)
	if err != nil {
		return err
	}
	f.mu.Lock()
	from := f.head + 1
	f.mu.Unlock()
	if head < from {
		f.mu.Lock()
		f.synced = time.Now()
		f.mu.Unlock()
		return nil
	}
	logs, err := f.c.eth.FilterLogs(ctx, ethereum.FilterQuery{FromBlock: new(big.Int).SetUint64(from), ToBlock: new(big.Int).SetUint64(head), Addresses: []common.Address{f.c.payAt}})
	if err != nil {
		return err
	}
	var withdrawals []common.Address
	var releases [][2]common.Address
	f.mu.Lock()
	if f.head+1 != from {
		f.mu.Unlock()
		return nil // another Sync applied them
	}
	for _, lg := range logs {
		w, r := f.apply(lg)
		if w != nil {
			withdrawals = append(withdrawals, *w)
		}
		if r != nil {
			releases = append(releases, *r)
		}
	}
	f.head, f.synced = head, time.Now()
	f.mu.Unlock()
	for _, c := range withdrawals {
		if f.OnWithdrawal != nil {
			f.OnWithdrawal(c)
		}
	}
	for _, r := range releases {
		if f.OnLaneRelease != nil {
			f.OnLaneRelease(r[0], r[1])
		}
	}
	return nil
}

// apply applies one event to the tracked consumers (f.mu held); it returns
// a consumer whose withdrawal, or a lane whose release, was announced.
func (f *Funds) apply(lg types.Log) (withdrawal *common.Address, release *[2]common.Address) {
	if len(lg.Topics) == 0 || lg.Removed {
		return nil, nil
	}
	ev, err := paymentsABI().EventByID(lg.Topics[0])
	if err != nil {
		return nil, nil
	}
	lane := func(c, p common.Address) (*consumerFunds, *laneFunds) {
		cf := f.consumers[c]
		if cf == nil {
			return nil, nil
		}
		return cf, cf.lanes[p]
	}
	switch ev.Name {
	case "Deposited":
		e, err := f.parser.ParseDeposited(lg)
		if err == nil && f.consumers[e.Consumer] != nil {
			f.consumers[e.Consumer].free = e.Balance
		}
	case "Settled":
		e, err := f.parser.ParseSettled(lg)
		if err != nil {
			return nil, nil
		}
		cf, l := lane(e.Consumer, e.Provider)
		if cf != nil {
			cf.free = e.Balance
		}
		if l != nil {
			l.amount = e.Lane
			l.settled = new(big.Int).Add(l.settled, e.Paid)
		}
	case "LaneReserved":
		e, err := f.parser.ParseLaneReserved(lg)
		if err != nil {
			return nil, nil
		}
		cf, l := lane(e.Consumer, e.Provider)
		if cf != nil {
			cf.free = e.Balance
		}
		if l != nil {
			l.amount, l.releaseAt, l.nonce = e.Lane, 0, e.Nonce.Uint64()+1
		}
	case "LaneReleaseRequested":
		e, err := f.parser.ParseLaneReleaseRequested(lg)
		if err != nil {
			return nil, nil
		}
		if _, l := lane(e.Consumer, e.Provider); l != nil {
			l.releaseAt = e.ReleaseAt.Uint64()
			l.nonce++
			return nil, &[2]common.Address{e.Consumer, e.Provider}
		}
	case "LaneReleased":
		e, err := f.parser.ParseLaneReleased(lg)
		if err != nil {
			return nil, nil
		}
		cf, l := lane(e.Consumer, e.Provider)
		if cf != nil {
			cf.free = e.Balance
		}
		if l != nil {
			l.amount, l.releaseAt = new(big.Int), 0
		}
	case "WithdrawalRequested":
		e, err := f.parser.ParseWithdrawalRequested(lg)
		if err == nil && f.consumers[e.Consumer] != nil {
			f.consumers[e.Consumer].withdrawalAt = e.AvailableAt.Uint64()
			c := e.Consumer
			return &c, nil
		}
	case "Withdrawn":
		e, err := f.parser.ParseWithdrawn(lg)
		if err == nil && f.consumers[e.Consumer] != nil {
			cf := f.consumers[e.Consumer]
			cf.free, cf.withdrawalAt = new(big.Int), 0
		}
	}
	return nil, nil
}
