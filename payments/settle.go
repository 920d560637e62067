package payments

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/mystnode/myst/proposal"
	"github.com/mystnode/myst/txsend"
)

// ErrNoSender: no account can pay gas for a provider's settlement now (its
// identity is locked and the network has no gas payer); the settlement
// waits, not retried, until the node queues it again.
var ErrNoSender = errors.New("no account to pay gas")

// SettlerConfig configures a Settler.
type SettlerConfig struct {
	Client *Client
	Store  *Store
	// Sender is the transaction sender that pays gas for provider's
	// settlements (an error wrapping ErrNoSender when there is none now).
	Sender func(provider common.Address) (*txsend.Sender, error)
	// RetryMax caps the wait between retries; they start at a second and
	// double (default a minute).
	RetryMax time.Duration
	// OnShort hears of a promise the chain could pay only part of (paid
	// may be zero: then nothing was sent): the consumer's funds went
	// elsewhere.
	OnShort func(consumer, provider common.Address, owed, paid *big.Int)
	// OnResult hears of each settlement tried (for metrics).
	OnResult func(err error)
	Logger   *slog.Logger
}

// Settler settles a provider's stored promises on chain, one at a time:
// queued ones are retried with backoff until they succeed or it stops
// (what is left stays in the store, for the next start). It never sends a
// settlement that would pay nothing: each is simulated first.
type Settler struct {
	cfg SettlerConfig

	mu    sync.Mutex // one settlement at a time
	qmu   sync.Mutex
	queue map[pair]bool
	wake  chan struct{}
}

// NewSettler makes a settler; Run runs it.
func NewSettler(cfg SettlerConfig) *Settler {
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Settler{cfg: cfg, queue: map[pair]bool{}, wake: make(chan struct{}, 1)}
}

// Request queues a settlement of consumer's newest promise to provider.
func (s *Settler) Request(consumer, provider common.Address) {
	s.qmu.Lock()
	s.queue[pair{consumer, provider}] = true
	s.qmu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// QueueUnsettled queues every unsettled promise to provider (zero: all).
func (s *Settler) QueueUnsettled(ctx context.Context, provider common.Address) error {
	rs, err := s.cfg.Store.AllReceived(ctx, provider)
	if err != nil {
		return err
	}
	for _, r := range rs {
		if r.Unsettled().Sign() > 0 {
			s.Request(r.Consumer, r.Provider)
		}
	}
	return nil
}

// Run settles what is queued until ctx ends; failures (chain RPC down, a
// transaction not mined) are retried after 1 s, 2 s, ... up to RetryMax.
func (s *Settler) Run(ctx context.Context) {
	backoff := time.Second
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	var notBefore time.Time // a failed round waits its backoff, whatever wakes it
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
			if time.Now().Before(notBefore) {
				continue
			}
		case <-retry.C:
		}
		s.qmu.Lock()
		batch := s.queue
		s.queue = map[pair]bool{}
		s.qmu.Unlock()
		failed := 0
		for k := range batch {
			_, err := s.Settle(ctx, k.consumer, k.provider)
			switch {
			case ctx.Err() != nil:
				return
			case errors.Is(err, ErrNoSender):
				// Queued again when the node can pay gas.
			case err != nil:
				failed++
				s.qmu.Lock()
				s.queue[k] = true
				s.qmu.Unlock()
			}
			if s.cfg.OnResult != nil {
				s.cfg.OnResult(err)
			}
		}
		if failed == 0 {
			backoff, notBefore = time.Second, time.Time{}
			continue
		}
		s.cfg.Logger.Warn("settlement failed; retrying", "pending", failed, "in", backoff)
		notBefore = time.Now().Add(backoff)
		retry.Reset(backoff)
		backoff = min(2*backoff, s.cfg.RetryMax)
	}
}

// Settle settles consumer's newest promise to provider now, if it adds
// anything, and returns what the provider was paid.
func (s *Settler) Settle(ctx context.Context, consumer, provider common.Address) (*big.Int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Bounded: a stop does not wait minutes for a slow chain; what is not
	// settled stays in the store for the next start.
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	paid, err := s.round(ctx, consumer, provider)
	if err != nil || paid == nil {
		return paid, err
	}
	// The round may have waited for a settlement an earlier run sent (an
	// older promise, found in the transaction journal): the newest is
	// sent now.
	more, err := s.round(ctx, consumer, provider)
	if more != nil {
		paid = new(big.Int).Add(paid, maxZero(more))
	}
	return paid, err
}

// round sends (or waits for the journaled) settlement of consumer's newest
// stored promise to provider, and marks what the chain then holds as
// settled.
func (s *Settler) round(ctx context.Context, consumer, provider common.Address) (*big.Int, error) {
	r, err := s.cfg.Store.ReceivedFrom(ctx, consumer, provider)
	if err != nil || r.Unsettled().Sign() <= 0 {
		return new(big.Int), err
	}
	sender, err := s.cfg.Sender(provider)
	if err != nil {
		return nil, fmt.Errorf("settle: %w", err)
	}
	owed := r.Unsettled()
	// What the chain would pay now; nothing is sent for nothing. A
	// settlement an earlier run sent is waited for instead (once mined,
	// simulating it again would say it pays nothing).
	would, err := new(big.Int).Set(owed), error(nil)
	if !sender.Journaled(settleWhat(consumer, provider)) {
		would, err = s.cfg.Client.SimulateSettle(ctx, sender.From(), r.Promise)
	}
	switch {
	case errors.Is(err, ErrNothingToPay):
		if done, err := s.markSettled(ctx, consumer, provider); err != nil || done {
			return new(big.Int), err
		}
		s.cfg.Logger.Warn("the consumer's funds cannot pay its promise; nothing sent", "consumer", consumer.Hex(), "provider", provider.Hex(), "owed", proposal.FormatAmount(owed))
		if s.cfg.OnShort != nil {
			s.cfg.OnShort(consumer, provider, owed, new(big.Int))
		}
		return new(big.Int), nil
	case err != nil:
		return nil, fmt.Errorf("settle: %w", err)
	}
	paid, tx, err := s.cfg.Client.Settle(ctx, sender, r.Promise)
	if errors.Is(err, ErrNothingToPay) {
		err = nil
	}
	if err != nil {
		s.cfg.Logger.Warn("settle", "consumer", consumer.Hex(), "provider", provider.Hex(), "err", err)
		return nil, err
	}
	if _, err := s.markSettled(ctx, consumer, provider); err != nil {
		return paid, err
	}
	s.cfg.Logger.Info("settled", "consumer", consumer.Hex(), "provider", provider.Hex(), "paid", proposal.FormatAmount(maxZero(paid)), "gas", tx.GasUsed)
	if would.Cmp(owed) < 0 && s.cfg.OnShort != nil {
		s.cfg.OnShort(consumer, provider, owed, paid)
	}
	return paid, nil
}

// markSettled records what the chain settled of the pair; done reports
// that the stored promise is all settled.
func (s *Settler) markSettled(ctx context.Context, consumer, provider common.Address) (done bool, err error) {
	settled, err := s.cfg.Client.Settled(ctx, consumer, provider)
	if err != nil {
		return false, err
	}
	if err := s.cfg.Store.MarkSettled(ctx, consumer, provider, settled); err != nil {
		return false, err
	}
	r, err := s.cfg.Store.ReceivedFrom(ctx, consumer, provider)
	if err != nil {
		return false, err
	}
	return r.Unsettled().Sign() <= 0, nil
}

// SettleAll settles every unsettled promise to provider (zero: all) now.
func (s *Settler) SettleAll(ctx context.Context, provider common.Address) (*big.Int, error) {
	rs, err := s.cfg.Store.AllReceived(ctx, provider)
	if err != nil {
		return nil, err
	}
	total := new(big.Int)
	var errs []error
	for _, r := range rs {
		if r.Unsettled().Sign() <= 0 {
			continue
		}
		paid, err := s.Settle(ctx, r.Consumer, r.Provider)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		total.Add(total, paid)
	}
	return total, errors.Join(errs...)
}
