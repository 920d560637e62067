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
	InvoiceEvery    time.Duration
	Grace           time.Duration // end a session unpaid this long
	SettleThreshold *big.Int      // settle when this much is unsettled
	// Confirmations a settlement waits for; MaxFeeGwei caps the fee per
	// gas offered; StuckAfter replaces an unmined settlement with higher
	// fees.
	Confirmations  uint64
	MaxFeeGwei     uint64
	StuckAfter     time.Duration
	SettleRetryMax time.Duration // longest wait between settlement retries
	// CreditLimit is what a consumer may owe this provider without cover
	// (a promise backed by a mined lane) at any moment.
	CreditLimit *big.Int
	// MaxSpend caps what one connection of this node as a consumer may
	// cost (nil: no cap); a connect request may set a lower one.
	MaxSpend *big.Int
}

// paymentSide is the node's payments: the contracts' client, the promise
// store, a transaction sender per paying account, the network's gas payer
// (decrypted once), and the provider's billing parts.
type paymentSide struct {
	client   *payments.Client
	store    *payments.Store
	mu       sync.Mutex                        // guards senders and gasPayer
	senders  map[common.Address]*txsend.Sender // by paying account
	gasPayer *identity.Signer
	billing  billing
}

// billing is the provider's payment parts: the funds its consumers hold on
// chain (event-fed), the accounts that bill them, and the settler.
type billing struct {
	funds   *payments.Funds
	ledger  *payments.Ledger
	settler *payments.Settler
}

// SettleRetryMax caps the wait between settlement retries; they start at a
// second and double.
const SettleRetryMax = time.Minute

func (n *Node) paymentsEnabled() bool { return n.money.client != nil }

// startPayments builds the provider's payment parts (New, once the chain
// and store are open).
func (n *Node) startPayments(ctx context.Context) error {
	funds, err := payments.NewFunds(ctx, n.money.client, n.logger)
	if err != nil {
		return err
	}
	pc := n.cfg.Payments
	settler := payments.NewSettler(payments.SettlerConfig{Client: n.money.client, Store: n.money.store, RetryMax: pc.SettleRetryMax, Logger: n.logger,
		Sender: func(provider common.Address) (*txsend.Sender, error) {
			s, err := n.gasSender(provider)
			if err != nil {
				return nil, fmt.Errorf("%w (%w): %w", payments.ErrNoSender, ErrNoGasPayer, err)
			}
			return n.txSender(s), nil
		},
		OnShort: func(consumer, provider common.Address, owed, paid *big.Int) {
			n.money.billing.ledger.Block(consumer, provider, fmt.Sprintf("the consumer's funds paid %s of the %s MYSTT it promised",
				proposal.FormatAmount(paid), proposal.FormatAmount(owed)))
		},
		OnResult: n.metricsSettle,
	})
	ledger := payments.NewLedger(payments.LedgerConfig{Client: n.money.client, Store: n.money.store, Funds: funds, CreditLimit: pc.CreditLimit,
		Every: pc.InvoiceEvery, Grace: pc.Grace, Logger: n.logger, Settle: settler.Request, SettleThreshold: pc.SettleThreshold,
		Reserve: func(ctx context.Context, r payments.Reservation) error {
			s, err := n.gasSender(r.Provider)
			if err != nil {
				return fmt.Errorf("%w: %w", ErrNoGasPayer, err)
			}
			_, err = n.money.client.ReserveWith(ctx, n.txSender(s), r)
			return err
		},
	})
	// A consumer announcing a withdrawal, or a lane's release, is settled
	// at once: what it promised is paid before the money can leave.
	funds.OnWithdrawal = func(consumer common.Address) {
		for _, p := range ledger.Owing(consumer) {
			settler.Request(consumer, p)
		}
	}
	funds.OnLaneRelease = settler.Request
	n.money.billing = billing{funds: funds, ledger: ledger, settler: settler}
	n.onClose(ledger.Close)
	return nil
}

// txSender is the one transaction sender of an account: every settlement
// and reservation it pays goes through it, so concurrent ones never
// collide on a nonce.
func (n *Node) txSender(s *identity.Signer) *txsend.Sender {
	n.money.mu.Lock()
	defer n.money.mu.Unlock()
	if ts := n.money.senders[s.Address()]; ts != nil {
		return ts
	}
	pc := n.cfg.Payments
	cfg := txsend.Config{Confirmations: pc.Confirmations, StuckAfter: pc.StuckAfter, Poll: 100 * time.Millisecond, Logger: n.logger, Journal: n.txJournal}
	if pc.MaxFeeGwei > 0 {
		cfg.MaxFee = new(big.Int).Mul(new(big.Int).SetUint64(pc.MaxFeeGwei), big.NewInt(1e9))
	}
	ts := txsend.New(n.reg.Eth(), new(big.Int).SetUint64(n.cfg.Network.ChainID), s, cfg)
	n.money.senders[s.Address()] = ts
	return ts
}

// gasSender pays gas for an identity's payment transactions: the network's
// gas payer if it has one, else the identity itself (if unlocked).
func (n *Node) gasSender(id common.Address) (*identity.Signer, error) {
	if n.cfg.Network.HasGasPayer() {
		// Decrypted once: its scrypt takes 256 MiB and a second of a core.
		n.money.mu.Lock()
		defer n.money.mu.Unlock()
		if n.money.gasPayer == nil {
			gp, err := n.cfg.Network.GasPayer()
			if err != nil {
				return nil, err
			}
			n.money.gasPayer = gp
		}
		return n.money.gasPayer, nil
	}
	return n.store.Signer(id)
}

// admit refuses a priced session whose consumer's funds on chain can't
// pay for it (see payments.Ledger.Admit).
func (n *Node) admit(ctx context.Context, s session.Info) error {
	if !payments.Priced(s.Price) {
		return nil
	}
	if !n.paymentsEnabled() {
		return errors.New("the network has no payment contracts, so a priced service can't be paid")
	}
	if err := n.money.store.Writable(ctx); err != nil {
		return fmt.Errorf("the provider cannot store promises now (%v); it takes no priced session until its disk takes writes again", err)
	}
	bctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return n.money.billing.ledger.Admit(bctx, common.HexToAddress(s.ConsumerID), common.HexToAddress(s.ProviderID), s.Price)
}

// startBilling bills a priced session from its creation: the data plane
// is open from then on.
func (n *Node) startBilling(info session.Info, d *dialog.Dialog) error {
	if !n.paymentsEnabled() || !payments.Priced(info.Price) {
		return nil
	}
	var bytes func() uint64
	var pause func(bool) error
	n.offer.mu.Lock()
	if s := n.offer.services[info.ServiceID]; s != nil {
		meter := s.provided.Provisioner.Bytes
		bytes = func() uint64 { in, out := meter(info.ID); return in + out }
		if p, ok := s.provided.Provisioner.(session.Pauser); ok {
			pause = func(paused bool) error { return p.Pause(info.ID, paused) }
		}
	}
	n.offer.mu.Unlock()
	ctx, cancel := context.WithTimeout(n.ctx, 10*time.Second)
	defer cancel()
	err := n.money.billing.ledger.Open(ctx, payments.SessionBilling{ID: info.ID, Consumer: common.HexToAddress(info.ConsumerID), Provider: common.HexToAddress(info.ProviderID),
		Price: info.Price, Start: info.CreatedAt, Bytes: bytes, Dialog: d,
		End: func(reason string) { n.offer.sessions.End(info.ID, reason) }, Pause: pause})
	if err != nil {
		n.logger.Error("start billing", "session", info.ID, "err", err)
		return fmt.Errorf("the provider could not bill the session: %w", err)
	}
	return nil
}

// stopBilling stops invoicing an ended session and settles what it earned.
func (n *Node) stopBilling(info session.Info) {
	if !n.paymentsEnabled() || !payments.Priced(info.Price) {
		return
	}
	n.money.billing.ledger.CloseSession(common.HexToAddress(info.ConsumerID), common.HexToAddress(info.ProviderID), info.ID)
}

func (n *Node) promisedFor(info session.Info) *big.Int {
	if !n.paymentsEnabled() {
		return nil
	}
	return n.money.billing.ledger.Promised(common.HexToAddress(info.ConsumerID), common.HexToAddress(info.ProviderID), info.ID)
}

func (n *Node) metricsSettle(err error) {
	if err != nil {
		n.settled.WithLabelValues("failed").Inc()
	} else {
		n.settled.WithLabelValues("ok").Inc()
	}
}

// settleAll settles every unsettled promise to provider (zero: all).
func (n *Node) settleAll(provider common.Address) (*big.Int, error) {
	if !n.paymentsEnabled() {
		return nil, errors.New("the network has no payment contracts")
	}
	return n.money.billing.settler.SettleAll(n.ctx, provider)
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
	rs, err := n.money.store.AllReceived(ctx, provider)
	if err != nil {
		return api.Earnings{}, err
	}
	settled, unsettled := new(big.Int), new(big.Int)
	for _, r := range rs {
		settled.Add(settled, r.Settled)
		if u := r.Unsettled(); u.Sign() > 0 {
			unsettled.Add(unsettled, u)
		}
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
	dep, err := n.money.client.Balance(ctx, who)
	if err != nil {
		return api.PaymentsBalance{}, upstreamf("read the deposit: %w", err)
	}
	tok, err := n.money.client.TokenBalance(ctx, who)
	if err != nil {
		return api.PaymentsBalance{}, upstreamf("read the token balance: %w", err)
	}
	out := api.PaymentsBalance{ID: who.Hex(), Deposit: proposal.FormatAmount(dep), Tokens: proposal.FormatAmount(tok)}
	if w, err := n.money.client.PendingWithdrawal(ctx, who); err == nil && w.AvailableAt != 0 {
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
	if _, err := n.money.client.Deposit(ctx, n.txSender(signer), who, amount); err != nil {
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
	step, err := n.money.client.WithdrawOrAnnounce(ctx, n.txSender(sender), signer, to)
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
