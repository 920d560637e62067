package node

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/mystnode/myst/api"
	"github.com/mystnode/myst/dialog"
	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/payments"
	"github.com/mystnode/myst/proposal"
	"github.com/mystnode/myst/session"
	"github.com/mystnode/myst/txsend"
)

// PaymentsConfig tunes metering and settlement.
type PaymentsConfig struct {
	InvoiceEvery    time.Duration // default 5 s
	Grace           time.Duration // end a session unpaid this long (default 20 s)
	SettleThreshold *big.Int      // settle when this much is unsettled (default 1 MYSTT)
	// Confirmations a settlement waits for (default 1); MaxFeeGwei caps
	// the fee per gas offered (default 500); StuckAfter replaces an
	// unmined settlement with higher fees (default 3 min).
	Confirmations  uint64
	MaxFeeGwei     uint64
	StuckAfter     time.Duration
	SettleRetryMax time.Duration // longest wait between settlement retries (default SettleRetryMax)
}

// billing is the provider's payment state.
type billing struct {
	mu       sync.Mutex
	billers  map[string]*payments.Biller // by session id
	settleMu sync.Mutex                  // one settlement at a time

	// Settlements wait here for the settler, which retries failed ones
	// with backoff until they succeed or the node stops (what is left is
	// in the store, for the next start).
	queueMu sync.Mutex
	queue   map[settlePair]bool
	wake    chan struct{}
}

type settlePair struct{ consumer, provider common.Address }

// SettleRetryMax caps the wait between settlement retries; they start at a
// second and double.
const SettleRetryMax = time.Minute

func (n *Node) paymentsEnabled() bool { return n.pay != nil }

// gasSender pays gas for an identity's payment transactions: the network's
// gas payer if it has one, else the identity itself (if unlocked).
// txSender is the one transaction sender of an account: every settlement
// it pays goes through it, so concurrent ones never collide on a nonce.
func (n *Node) txSender(s *identity.Signer) *txsend.Sender {
	n.sendersMu.Lock()
	defer n.sendersMu.Unlock()
	if ts := n.senders[s.Address()]; ts != nil {
		return ts
	}
	pc := n.cfg.Payments
	cfg := txsend.Config{Confirmations: pc.Confirmations, StuckAfter: pc.StuckAfter, Poll: 100 * time.Millisecond, Logger: n.logger, Journal: n.txJournal}
	if pc.MaxFeeGwei > 0 {
		cfg.MaxFee = new(big.Int).Mul(new(big.Int).SetUint64(pc.MaxFeeGwei), big.NewInt(1e9))
	}
	ts := txsend.New(n.reg.Eth(), new(big.Int).SetUint64(n.cfg.Network.ChainID), s, cfg)
	n.senders[s.Address()] = ts
	return ts
}

func (n *Node) gasSender(id common.Address) (*identity.Signer, error) {
	if n.cfg.Network.HasGasPayer() {
		return n.cfg.Network.GasPayer()
	}
	return n.store.Signer(id)
}

// admit refuses a priced session whose consumer's deposit, less what it
// already promised this provider and is not settled, is empty.
func (n *Node) admit(ctx context.Context, s session.Info) error {
	if !payments.Priced(s.Price) {
		return nil
	}
	if !n.paymentsEnabled() {
		return errors.New("the network has no payment contracts, so a priced service can't be paid")
	}
	if err := n.payStore.Writable(ctx); err != nil {
		return fmt.Errorf("the provider cannot store promises now (%v); it takes no priced session until its disk takes writes again", err)
	}
	consumer, provider := common.HexToAddress(s.ConsumerID), common.HexToAddress(s.ProviderID)
	bctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	bal, err := n.pay.Balance(bctx, consumer)
	cancel()
	if err != nil {
		return fmt.Errorf("the provider could not check the consumer's deposit on the chain (%v); try again later", err)
	}
	r, err := n.payStore.ReceivedFrom(ctx, consumer, provider)
	if err != nil {
		return err
	}
	avail := new(big.Int).Sub(bal, r.Unsettled())
	need := payments.Due(s.Price, time.Minute, 16<<20)
	if avail.Cmp(need) < 0 {
		return fmt.Errorf("the consumer's deposit (%s MYSTT available) can't cover a minute of the session (%s MYSTT): deposit more with `myst payments deposit`",
			proposal.FormatAmount(maxZero(avail)), proposal.FormatAmount(need))
	}
	return nil
}

func maxZero(v *big.Int) *big.Int {
	if v.Sign() < 0 {
		return new(big.Int)
	}
	return v
}

// startBilling invoices an acked priced session.
func (n *Node) startBilling(info session.Info, d *dialog.Dialog) {
	if !n.paymentsEnabled() || !payments.Priced(info.Price) {
		return
	}
	var bytes func() uint64
	n.mu.Lock()
	if s := n.services[info.ServiceID]; s != nil {
		meter := s.provided.Provisioner.Bytes
		bytes = func() uint64 { in, out := meter(info.ID); return in + out }
	}
	n.mu.Unlock()
	consumer, provider := common.HexToAddress(info.ConsumerID), common.HexToAddress(info.ProviderID)
	b, err := payments.StartBiller(n.ctx, payments.BillerConfig{
		Client: n.pay, Store: n.payStore, Dialog: d, SessionID: info.ID, Consumer: consumer, Provider: provider,
		Price: info.Price, Start: info.CreatedAt, Bytes: bytes, Every: n.cfg.Payments.InvoiceEvery, Grace: n.cfg.Payments.Grace,
		OnUnpaid: func(reason string) { n.provider.End(info.ID, reason) },
		OnStoreFailed: func(reason string) {
			n.logger.Error("promise store failed; ending the session", "session", info.ID, "reason", reason)
			n.provider.End(info.ID, reason)
		},
		OnPromise: func(r payments.Received) {
			if r.Unsettled().Cmp(n.cfg.Payments.SettleThreshold) >= 0 {
				n.requestSettle(consumer, provider)
			}
		},
	})
	if err != nil {
		n.logger.Error("start billing", "session", info.ID, "err", err)
		n.provider.End(info.ID, "the provider could not bill the session")
		return
	}
	n.billing.mu.Lock()
	n.billing.billers[info.ID] = b
	n.billing.mu.Unlock()
}

// stopBilling stops invoicing an ended session and settles what it earned.
func (n *Node) stopBilling(info session.Info) {
	n.billing.mu.Lock()
	b := n.billing.billers[info.ID]
	delete(n.billing.billers, info.ID)
	n.billing.mu.Unlock()
	if b == nil {
		return
	}
	b.Close()
	n.requestSettle(common.HexToAddress(info.ConsumerID), common.HexToAddress(info.ProviderID))
}

// requestSettle queues a settlement of consumer's newest promise to
// provider.
func (n *Node) requestSettle(consumer, provider common.Address) {
	n.billing.queueMu.Lock()
	n.billing.queue[settlePair{consumer, provider}] = true
	n.billing.queueMu.Unlock()
	select {
	case n.billing.wake <- struct{}{}:
	default:
	}
}

// queueUnsettled queues every unsettled promise to provider (zero: all).
func (n *Node) queueUnsettled(provider common.Address) error {
	rs, err := n.payStore.AllReceived(n.ctx, provider)
	if err != nil {
		return err
	}
	for _, r := range rs {
		if r.Unsettled().Sign() > 0 {
			n.requestSettle(r.Consumer, r.Provider)
		}
	}
	return nil
}

// settler settles what is queued, one at a time; failures (chain RPC down,
// a transaction not mined) are retried after 1 s, 2 s, ... up to
// SettleRetryMax.
func (n *Node) settler() {
	defer n.wg.Done()
	backoff := time.Second
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	var notBefore time.Time // a failed round waits its backoff, whatever wakes it
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-n.billing.wake:
			if time.Now().Before(notBefore) {
				continue
			}
		case <-retry.C:
		}
		n.billing.queueMu.Lock()
		batch := n.billing.queue
		n.billing.queue = map[settlePair]bool{}
		n.billing.queueMu.Unlock()
		failed := 0
		for pair := range batch {
			_, err := n.settleOne(pair.consumer, pair.provider)
			switch {
			case n.ctx.Err() != nil:
				return
			case errors.Is(err, ErrNoGasPayer):
				// Queued again when the identity is unlocked.
			case err != nil:
				failed++
				n.billing.queueMu.Lock()
				n.billing.queue[pair] = true
				n.billing.queueMu.Unlock()
			}
			n.metricsSettle(err)
		}
		if failed == 0 {
			backoff, notBefore = time.Second, time.Time{}
			continue
		}
		n.logger.Warn("settlement failed; retrying", "pending", failed, "in", backoff)
		notBefore = time.Now().Add(backoff)
		retry.Reset(backoff)
		backoff = min(2*backoff, n.cfg.Payments.SettleRetryMax)
	}
}

func (n *Node) promisedFor(sessionID string) *big.Int {
	n.billing.mu.Lock()
	b := n.billing.billers[sessionID]
	n.billing.mu.Unlock()
	if b == nil {
		return nil
	}
	return b.Promised()
}

func (n *Node) metricsSettle(err error) {
	if err != nil {
		n.settled.WithLabelValues("failed").Inc()
	} else {
		n.settled.WithLabelValues("ok").Inc()
	}
}

// settleOne settles consumer's newest promise to provider, if it adds
// anything.
func (n *Node) settleOne(consumer, provider common.Address) (*big.Int, error) {
	n.billing.settleMu.Lock()
	defer n.billing.settleMu.Unlock()
	// Bounded by the node's life: Close does not wait minutes for a slow
	// chain; what is not settled stays in the store for the next start.
	ctx, cancel := context.WithTimeout(n.ctx, 2*time.Minute)
	defer cancel()
	paid, err := n.settleRound(ctx, consumer, provider)
	if err != nil || paid == nil {
		return paid, err
	}
	// The round may have waited for a settlement an earlier run sent (an
	// older promise, found in the transaction journal): the newest is
	// sent now.
	more, err := n.settleRound(ctx, consumer, provider)
	if more != nil {
		paid = new(big.Int).Add(paid, maxZero(more))
	}
	return paid, err
}

// settleRound sends (or waits for the journaled) settlement of consumer's
// newest stored promise to provider, and marks what the chain then holds
// as settled.
func (n *Node) settleRound(ctx context.Context, consumer, provider common.Address) (*big.Int, error) {
	r, err := n.payStore.ReceivedFrom(ctx, consumer, provider)
	if err != nil || r.Unsettled().Sign() <= 0 {
		return new(big.Int), err
	}
	sender, err := n.gasSender(provider)
	if err != nil {
		return nil, fmt.Errorf("%w for settling: %w", ErrNoGasPayer, err)
	}
	paid, tx, err := n.pay.SettleWith(ctx, n.txSender(sender), r.Promise)
	if errors.Is(err, payments.ErrNothingToPay) {
		err = nil
	}
	if err != nil {
		n.logger.Warn("settle", "consumer", consumer.Hex(), "provider", provider.Hex(), "err", err)
		return nil, err
	}
	settled, err := n.pay.Settled(ctx, consumer, provider)
	if err != nil {
		return paid, err
	}
	if err := n.payStore.MarkSettled(ctx, consumer, provider, settled); err != nil {
		return paid, err
	}
	n.logger.Info("settled", "consumer", consumer.Hex(), "provider", provider.Hex(), "paid", proposal.FormatAmount(maxZero(paid)), "gas", tx.GasUsed)
	return paid, nil
}

// settleAll settles every unsettled promise to provider (zero: all).
func (n *Node) settleAll(provider common.Address) (*big.Int, error) {
	if !n.paymentsEnabled() {
		return nil, errors.New("the network has no payment contracts")
	}
	rs, err := n.payStore.AllReceived(n.ctx, provider)
	if err != nil {
		return nil, err
	}
	total := new(big.Int)
	var errs []error
	for _, r := range rs {
		if r.Unsettled().Sign() <= 0 {
			continue
		}
		paid, err := n.settleOne(r.Consumer, r.Provider)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		total.Add(total, paid)
	}
	return total, errors.Join(errs...)
}

// Earnings reports a provider's settled and unsettled promises.
func (n *Node) Earnings(ctx context.Context, id string) (api.Earnings, error) {
	provider, err := parseID("identity", id)
	if err != nil {
		return api.Earnings{}, err
	}
	if !n.paymentsEnabled() {
		return api.Earnings{}, ErrNoPayments
	}
	rs, err := n.payStore.AllReceived(ctx, provider)
	if err != nil {
		return api.Earnings{}, err
	}
	settled, unsettled := new(big.Int), new(big.Int)
	for _, r := range rs {
		settled.Add(settled, r.Settled)
		unsettled.Add(unsettled, maxZero(r.Unsettled()))
	}
	e := api.Earnings{ProviderID: provider.Hex(), Settled: proposal.FormatAmount(settled), Unsettled: proposal.FormatAmount(unsettled), Consumers: len(rs)}
	if n.cfg.Payments.SettleThreshold != nil {
		e.SettleThreshold = proposal.FormatAmount(n.cfg.Payments.SettleThreshold)
	}
	return e, nil
}

// Settle settles a provider's unsettled promises now.
func (n *Node) Settle(ctx context.Context, id string) (api.Earnings, error) {
	provider, err := parseID("provider_id", id)
	if err != nil {
		return api.Earnings{}, err
	}
	if _, err := n.settleAll(provider); err != nil {
		return api.Earnings{}, upstreamf("settle: %w", err)
	}
	return n.Earnings(ctx, provider.Hex())
}

// PaymentsBalance reports an identity's deposit, tokens and any announced
// withdrawal.
func (n *Node) PaymentsBalance(ctx context.Context, id string) (api.PaymentsBalance, error) {
	who, err := parseID("identity", id)
	if err != nil {
		return api.PaymentsBalance{}, err
	}
	if !n.paymentsEnabled() {
		return api.PaymentsBalance{}, ErrNoPayments
	}
	dep, err := n.pay.Balance(ctx, who)
	if err != nil {
		return api.PaymentsBalance{}, upstreamf("read the deposit: %w", err)
	}
	tok, err := n.pay.TokenBalance(ctx, who)
	if err != nil {
		return api.PaymentsBalance{}, upstreamf("read the token balance: %w", err)
	}
	out := api.PaymentsBalance{ID: who.Hex(), Deposit: proposal.FormatAmount(dep), Tokens: proposal.FormatAmount(tok)}
	if w, err := n.pay.PendingWithdrawal(ctx, who); err == nil && w.AvailableAt != 0 {
		at := time.Unix(int64(w.AvailableAt), 0).UTC()
		out.WithdrawalAt = &at
	}
	return out, nil
}

// Deposit deposits an unlocked identity's own tokens; it pays gas.
func (n *Node) Deposit(ctx context.Context, req api.DepositRequest) (api.PaymentsBalance, error) {
	who, err := parseID("identity", req.ID)
	if err != nil {
		return api.PaymentsBalance{}, err
	}
	amount, err := proposal.ParseAmount(req.Amount)
	if err != nil || amount.Sign() == 0 {
		return api.PaymentsBalance{}, fieldErrorf("amount", "%q: want a positive decimal amount of MYSTT", req.Amount)
	}
	if !n.paymentsEnabled() {
		return api.PaymentsBalance{}, ErrNoPayments
	}
	signer, err := n.unlocked("identity", who)
	if err != nil {
		return api.PaymentsBalance{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if _, err := n.pay.Deposit(ctx, signer, who, amount, nil); err != nil {
		return api.PaymentsBalance{}, upstreamf("deposit: %w", err)
	}
	return n.PaymentsBalance(ctx, who.Hex())
}

// Withdraw announces a withdrawal of an unlocked identity's deposit, or
// completes it after the challenge period. The network's gas payer sends
// the transactions if there is one, else the identity.
func (n *Node) Withdraw(ctx context.Context, req api.WithdrawRequest) (api.WithdrawResult, error) {
	who, err := parseID("identity", req.ID)
	if err != nil {
		return api.WithdrawResult{}, err
	}
	to := who
	if req.To != "" {
		if to, err = parseID("to", req.To); err != nil {
			return api.WithdrawResult{}, err
		}
	}
	if !n.paymentsEnabled() {
		return api.WithdrawResult{}, ErrNoPayments
	}
	signer, err := n.unlocked("identity", who)
	if err != nil {
		return api.WithdrawResult{}, err
	}
	sender, err := n.gasSender(who)
	if err != nil {
		return api.WithdrawResult{}, fmt.Errorf("%w: %w", ErrNoGasPayer, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	step, err := n.pay.WithdrawOrAnnounce(ctx, sender, signer, to, nil)
	switch {
	case errors.Is(err, payments.ErrChallengePeriod):
		return api.WithdrawResult{}, fmt.Errorf("%w: try again then", err)
	case err != nil:
		return api.WithdrawResult{}, upstreamf("withdraw: %w", err)
	case step.Announced:
		return api.WithdrawResult{Announced: true, AvailableAt: step.AvailableAt, TransactionHash: step.Tx.Hash.Hex()}, nil
	}
	return api.WithdrawResult{Withdrawn: proposal.FormatAmount(step.Withdrawn), TransactionHash: step.Tx.Hash.Hex()}, nil
}
