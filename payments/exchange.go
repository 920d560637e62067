package payments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/mystnode/myst/dialog"
	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/proposal"
)

// Dialog topics of the exchange.
const (
	TopicInvoice = "payment-invoice"
	TopicAck     = "payment-ack"
)

// Invoice asks for a promise: the session's amount due so far, and the
// cumulative amount (all sessions of this consumer with this provider)
// the provider expects promised.
type Invoice struct {
	SessionID     string   `json:"session_id"`
	SessionAmount *big.Int `json:"session_amount"`
	Cumulative    *big.Int `json:"cumulative"`
}

// PromiseMsg answers an invoice.
type PromiseMsg struct {
	Cumulative *big.Int `json:"cumulative"`
	Signature  []byte   `json:"signature"`
}

var (
	hourNanos = big.NewInt(int64(time.Hour))
	gib       = big.NewInt(1 << 30)
)

// Due is what a session owes at price after elapsed and bytes (both
// directions), in token units.
func Due(price proposal.Price, elapsed time.Duration, bytes uint64) *big.Int {
	out := new(big.Int)
	if h, err := proposal.ParseAmount(price.PerHour); err == nil && h.Sign() > 0 {
		t := new(big.Int).Mul(h, big.NewInt(int64(elapsed)))
		out.Add(out, t.Quo(t, hourNanos))
	}
	if g, err := proposal.ParseAmount(price.PerGiB); err == nil && g.Sign() > 0 {
		b := new(big.Int).Mul(g, new(big.Int).SetUint64(bytes))
		out.Add(out, b.Quo(b, gib))
	}
	return out
}

// Priced reports whether a price charges anything.
func Priced(p proposal.Price) bool { return Due(p, time.Hour, 1<<30).Sign() > 0 }

// BillerConfig configures the provider's side of one session.
type BillerConfig struct {
	Client    *Client
	Store     *Store
	Dialog    *dialog.Dialog
	SessionID string
	Consumer  common.Address
	Provider  common.Address
	Price     proposal.Price
	Start     time.Time
	Bytes     func() uint64 // bytes both ways so far; nil: not metered by bytes
	Every     time.Duration // invoice period
	Grace     time.Duration // end the session if unpaid this long
	// OnUnpaid ends the session; OnPromise hears of each stored promise.
	OnUnpaid  func(reason string)
	OnPromise func(Received)
	// OnStoreFailed ends the session when a promise could not be stored
	// (it was not acknowledged): serving on would be serving unpaid.
	// Default OnUnpaid.
	OnStoreFailed func(reason string)
}

// Biller invoices a consumer every period and keeps the promises.
type Biller struct {
	cfg      BillerConfig
	base     *big.Int
	mu       sync.Mutex
	promised *big.Int // this session's amount covered by promises
	stop     chan struct{}
	done     chan struct{}
}

// StartBiller starts invoicing.
func StartBiller(ctx context.Context, cfg BillerConfig) (*Biller, error) {
	r, err := cfg.Store.ReceivedFrom(ctx, cfg.Consumer, cfg.Provider)
	if err != nil {
		return nil, err
	}
	b := &Biller{cfg: cfg, base: r.Cumulative, promised: new(big.Int), stop: make(chan struct{}), done: make(chan struct{})}
	go b.loop()
	return b, nil
}

// Promised is this session's amount covered by the consumer's promises.
func (b *Biller) Promised() *big.Int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return new(big.Int).Set(b.promised)
}

// Stop stops invoicing.
func (b *Biller) Close() {
	select {
	case <-b.stop:
	default:
		close(b.stop)
	}
	<-b.done
}

func (b *Biller) loop() {
	defer close(b.done)
	t := time.NewTicker(b.cfg.Every)
	defer t.Stop()
	lastPaid := time.Now()
	for {
		select {
		case <-b.stop:
			return
		case <-b.cfg.Dialog.Done():
			return
		case <-t.C:
		}
		if err := b.invoice(); err != nil {
			if errors.Is(err, ErrStore) {
				end := b.cfg.OnStoreFailed
				if end == nil {
					end = b.cfg.OnUnpaid
				}
				go end(fmt.Sprintf("the provider could not store the consumer's promise, so it ends the session (%v)", err))
				return
			}
			if time.Since(lastPaid) > b.cfg.Grace {
				go b.cfg.OnUnpaid(fmt.Sprintf("the consumer did not pay for %s: %v", time.Since(lastPaid).Round(time.Second), err))
				return
			}
			continue
		}
		lastPaid = time.Now()
	}
}

func (b *Biller) invoice() error {
	var bytes uint64
	if b.cfg.Bytes != nil {
		bytes = b.cfg.Bytes()
	}
	due := Due(b.cfg.Price, time.Since(b.cfg.Start), bytes)
	if due.Sign() == 0 {
		return nil
	}
	inv := Invoice{SessionID: b.cfg.SessionID, SessionAmount: due, Cumulative: new(big.Int).Add(b.base, due)}
	body, _ := json.Marshal(inv)
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.Every)
	defer cancel()
	raw, err := b.cfg.Dialog.Request(ctx, TopicInvoice, body)
	if err != nil {
		return err
	}
	var pm PromiseMsg
	if err := json.Unmarshal(raw, &pm); err != nil || pm.Cumulative == nil {
		return errors.New("malformed promise")
	}
	p := Promise{Consumer: b.cfg.Consumer, Provider: b.cfg.Provider, Cumulative: pm.Cumulative, Signature: pm.Signature}
	if err := b.cfg.Client.Verify(p); err != nil {
		return err
	}
	if p.Cumulative.Cmp(inv.Cumulative) < 0 {
		return fmt.Errorf("promise of %s is below the invoiced %s", p.Cumulative, inv.Cumulative)
	}
	// On disk before it is acknowledged.
	if err := b.cfg.Store.SaveReceived(ctx, p); err != nil {
		return err
	}
	ack, _ := json.Marshal(PromiseMsg{Cumulative: p.Cumulative})
	b.cfg.Dialog.Send(TopicAck, ack)
	b.mu.Lock()
	b.promised = new(big.Int).Sub(p.Cumulative, b.base)
	b.mu.Unlock()
	if b.cfg.OnPromise != nil {
		r, err := b.cfg.Store.ReceivedFrom(context.Background(), b.cfg.Consumer, b.cfg.Provider)
		if err == nil {
			b.cfg.OnPromise(r)
		}
	}
	return nil
}

// PayerConfig configures the consumer's side of one session.
type PayerConfig struct {
	Client    *Client
	Store     *Store
	Consumer  *identity.Signer
	Provider  common.Address
	SessionID string
	Price     proposal.Price // the price accepted in session-create
	Start     time.Time
	Bytes     func() uint64
	// Tolerance is the fraction an invoice may exceed the consumer's own
	// meter by (clocks and byte counts differ a little); default 5%. Slack
	// is an absolute allowance on top (default: 5 s and 1 MiB at the price).
	Tolerance float64
	Slack     *big.Int
	// OnOverbilled ends the session.
	OnOverbilled func(reason string)
}

// Payer answers a provider's invoices with promises.
type Payer struct {
	cfg   PayerConfig
	base  *big.Int
	mu    sync.Mutex
	paid  *big.Int // this session's amount promised
	acked *big.Int // the highest cumulative the provider acknowledged storing
}

// NewPayer reads what the consumer promised the provider before.
func NewPayer(ctx context.Context, cfg PayerConfig) (*Payer, error) {
	base, err := cfg.Store.Issued(ctx, cfg.Consumer.Address(), cfg.Provider)
	if err != nil {
		return nil, err
	}
	if cfg.Tolerance == 0 {
		cfg.Tolerance = 0.05
	}
	if cfg.Slack == nil {
		cfg.Slack = Due(cfg.Price, 5*time.Second, 1<<20)
	}
	return &Payer{cfg: cfg, base: base, paid: new(big.Int), acked: new(big.Int)}, nil
}

// Paid is this session's amount promised so far.
func (p *Payer) Paid() *big.Int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return new(big.Int).Set(p.paid)
}

// Acked is the highest cumulative amount the provider acknowledged having
// stored (zero if none).
func (p *Payer) Acked() *big.Int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return new(big.Int).Set(p.acked)
}

// HandleAck takes the provider's acknowledgement of a stored promise (a
// dialog handler for TopicAck).
func (p *Payer) HandleAck(_ context.Context, body []byte) ([]byte, error) {
	var m PromiseMsg
	if err := json.Unmarshal(body, &m); err != nil || m.Cumulative == nil {
		return nil, errors.New("malformed acknowledgement")
	}
	p.mu.Lock()
	if m.Cumulative.Cmp(p.acked) > 0 {
		p.acked = new(big.Int).Set(m.Cumulative)
	}
	p.mu.Unlock()
	return nil, nil
}

// Handle answers one invoice (a dialog handler for TopicInvoice).
func (p *Payer) Handle(ctx context.Context, body []byte) ([]byte, error) {
	var inv Invoice
	if err := json.Unmarshal(body, &inv); err != nil || inv.SessionAmount == nil || inv.SessionAmount.Sign() < 0 {
		return nil, errors.New("malformed invoice")
	}
	if inv.SessionID != p.cfg.SessionID {
		return nil, errors.New("invoice for another session")
	}
	var bytes uint64
	if p.cfg.Bytes != nil {
		bytes = p.cfg.Bytes()
	}
	meter := Due(p.cfg.Price, time.Since(p.cfg.Start), bytes)
	limit := new(big.Float).Mul(new(big.Float).SetInt(meter), big.NewFloat(1+p.cfg.Tolerance))
	lim, _ := limit.Int(nil)
	lim.Add(lim, p.cfg.Slack)
	if inv.SessionAmount.Cmp(lim) > 0 {
		reason := fmt.Sprintf("overbilled: the provider asked %s for the session, the consumer's meter says %s", proposal.FormatAmount(inv.SessionAmount), proposal.FormatAmount(meter))
		if p.cfg.OnOverbilled != nil {
			go p.cfg.OnOverbilled(reason)
		}
		return nil, errors.New(reason)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if inv.SessionAmount.Cmp(p.paid) < 0 {
		return nil, errors.New("invoice below an amount already promised")
	}
	cum := new(big.Int).Add(p.base, inv.SessionAmount)
	promise, err := p.cfg.Client.SignPromise(p.cfg.Consumer, p.cfg.Provider, cum)
	if err != nil {
		return nil, err
	}
	if err := p.cfg.Store.SaveIssued(ctx, p.cfg.Consumer.Address(), p.cfg.Provider, cum); err != nil {
		return nil, err
	}
	p.paid = new(big.Int).Set(inv.SessionAmount)
	return json.Marshal(PromiseMsg{Cumulative: cum, Signature: promise.Signature})
}
