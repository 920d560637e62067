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
	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/proposal"
)

// Dialog topics of the exchange.
const (
	TopicInvoice = "payment-invoice"
	TopicAck     = "payment-ack"
)

// Dialog topic on which a provider asks its consumer for a reservation.
const TopicReserve = "payment-reserve"

// Invoice asks for a promise: the session's amount due so far, and the
// cumulative amount (all sessions of this consumer with this provider)
// the provider expects promised: Base plus what of the session no
// promise covers yet.
type Invoice struct {
	SessionID     string   `json:"session_id"`
	SessionAmount *big.Int `json:"session_amount"`
	Cumulative    *big.Int `json:"cumulative"`
	// Base is the newest promise of this consumer the provider holds. It
	// is signed by the consumer itself, so another daemon of the same
	// identity (whose own store does not know it) can check it and
	// promise on top of it: concurrent sessions at one provider are billed
	// their sum.
	Base *PromiseMsg `json:"base,omitempty"`
}

// ReserveRequest asks the consumer to sign a reservation of Amount for
// the provider with the lane's next Nonce.
type ReserveRequest struct {
	Amount *big.Int `json:"amount"`
	Nonce  uint64   `json:"nonce"`
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

// PayerConfig configures the consumer's side of one session.
type PayerConfig struct {
	Client    *Client
	Store     *Store
	Consumer  *identity.Signer
	Provider  common.Address
	SessionID string
	Price     proposal.Price // the price accepted in session-create
	// Start is when the consumer asked for the session: billing starts at
	// session-create on both sides, and the consumer's clock starts first.
	Start time.Time
	Bytes func() uint64
	// Tolerance is the fraction an invoice may exceed the consumer's own
	// meter by (clocks and byte counts differ a little); default 5%. Slack
	// is an absolute allowance on top (default: 5 s and 1 MiB at the price).
	Tolerance float64
	Slack     *big.Int
	// MaxSpend caps what the session may cost (nil: no cap); an invoice
	// beyond it is refused and the session ends (OnOverbilled).
	MaxSpend *big.Int
	// OnOverbilled ends the session.
	OnOverbilled func(reason string)
}

// Payer answers a provider's invoices with promises.
type Payer struct {
	cfg   PayerConfig
	mu    sync.Mutex
	paid  *big.Int // this session's amount promised
	acked *big.Int // the highest cumulative the provider acknowledged storing
}

// NewPayer makes the consumer's side of a session.
func NewPayer(_ context.Context, cfg PayerConfig) (*Payer, error) {
	if cfg.Tolerance == 0 {
		cfg.Tolerance = 0.05
	}
	if cfg.Slack == nil {
		cfg.Slack = Due(cfg.Price, 5*time.Second, 1<<20)
	}
	return &Payer{cfg: cfg, paid: new(big.Int), acked: new(big.Int)}, nil
}

// Paid is this session's amount promised so far.
func (p *Payer) Paid() *big.Int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return new(big.Int).Set(p.paid)
}

// MaxSpend is the session's spending cap (nil: none).
func (p *Payer) MaxSpend() *big.Int { return p.cfg.MaxSpend }

// RatePerHour is what the session has cost an hour on average so far.
func (p *Payer) RatePerHour() *big.Int {
	el := time.Since(p.cfg.Start)
	if el < time.Second {
		return new(big.Int)
	}
	r := new(big.Int).Mul(p.Paid(), hourNanos)
	return r.Quo(r, big.NewInt(int64(el)))
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

func (p *Payer) overbilled(reason string) error {
	if p.cfg.OnOverbilled != nil {
		go p.cfg.OnOverbilled(reason)
	}
	return errors.New(reason)
}

// Handle answers one invoice (a dialog handler for TopicInvoice): it
// checks the session's amount against the consumer's own meter and its
// cap, and promises the newest cumulative it knows (its own, or the
// invoice's base when that is a higher promise it signed, from another
// daemon of the same identity) plus what of the session it has not
// promised yet.
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
		return nil, p.overbilled(fmt.Sprintf("overbilled: the provider asked %s for the session, the consumer's meter says %s", proposal.FormatAmount(inv.SessionAmount), proposal.FormatAmount(meter)))
	}
	if p.cfg.MaxSpend != nil && inv.SessionAmount.Cmp(p.cfg.MaxSpend) > 0 {
		return nil, p.overbilled(fmt.Sprintf("spending cap reached: the session would cost %s MYSTT, the cap is %s", proposal.FormatAmount(inv.SessionAmount), proposal.FormatAmount(p.cfg.MaxSpend)))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if inv.SessionAmount.Cmp(p.paid) < 0 {
		return nil, errors.New("invoice below an amount already promised")
	}
	base, err := p.cfg.Store.Issued(ctx, p.cfg.Consumer.Address(), p.cfg.Provider)
	if err != nil {
		return nil, err
	}
	if b := inv.Base; b != nil && b.Cumulative != nil && b.Cumulative.Cmp(base) > 0 {
		// A higher promise than this daemon ever made: valid only if this
		// identity signed it (another daemon of it did).
		own := Promise{Consumer: p.cfg.Consumer.Address(), Provider: p.cfg.Provider, Cumulative: b.Cumulative, Signature: b.Signature}
		if err := p.cfg.Client.Verify(own); err != nil {
			return nil, fmt.Errorf("the invoice's base is not this consumer's promise: %w", err)
		}
		base = b.Cumulative
	}
	cum := new(big.Int).Add(base, new(big.Int).Sub(inv.SessionAmount, p.paid))
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

// ReserveFloor is the most a consumer reserves for a provider whatever its
// price, when half an hour at that price is less: 1 MYSTT.
var ReserveFloor = big.NewInt(1e18)

// HandleReserve answers a provider's request for a reservation (a dialog
// handler for TopicReserve): it signs one of the amount asked, no more
// than the session could use in half an hour (and 2 GiB) at its price, or
// ReserveFloor, and no more than is left under the session's spending cap.
func (p *Payer) HandleReserve(_ context.Context, body []byte) ([]byte, error) {
	var req ReserveRequest
	if err := json.Unmarshal(body, &req); err != nil || req.Amount == nil || req.Amount.Sign() <= 0 {
		return nil, errors.New("malformed reservation request")
	}
	amount := new(big.Int).Set(req.Amount)
	// A provider may lock no more of the deposit than the session could
	// use in a while: half an hour and 2 GiB at its price, or 1 MYSTT.
	if most := maxBig(Due(p.cfg.Price, 30*time.Minute, 2<<30), ReserveFloor); amount.Cmp(most) > 0 {
		amount = most
	}
	if p.cfg.MaxSpend != nil {
		left := new(big.Int).Sub(p.cfg.MaxSpend, p.Paid())
		if left.Sign() <= 0 {
			return nil, errors.New("the consumer's spending cap is reached: it reserves nothing more")
		}
		if amount.Cmp(left) > 0 {
			amount = left
		}
	}
	r, err := p.cfg.Client.SignReservation(p.cfg.Consumer, p.cfg.Provider, amount, req.Nonce)
	if err != nil {
		return nil, err
	}
	return json.Marshal(r)
}
