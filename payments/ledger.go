package payments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/mystnode/myst/dialog"
	"github.com/mystnode/myst/proposal"
	"github.com/mystnode/myst/registry"
)

// DefaultCreditLimit is what a provider serves a consumer without cover
// (a promise backed by a mined lane) by default: 0.05 MYSTT. See the
// README's "What strangers can take" for the bound it gives.
var DefaultCreditLimit = big.NewInt(5e16)

// LedgerConfig configures a provider's accounts.
type LedgerConfig struct {
	Client *Client
	Store  *Store
	Funds  *Funds
	// CreditLimit is the most a consumer may owe the provider without cover
	// at any moment (default DefaultCreditLimit).
	CreditLimit *big.Int
	Every       time.Duration // invoice period (default 5 s)
	Grace       time.Duration // end sessions unpaid this long (default 20 s)
	// Watch is how often exposure is checked against the limit, by bytes
	// and by time (default 200 ms).
	Watch time.Duration
	// ReserveFor sizes a reservation: the account's sessions' price over
	// this long (default 10 min), and at least twice the credit limit.
	ReserveFor time.Duration
	// MaxPause is how long a consumer's sessions may stay paused at the
	// limit, waiting for its reservation to be mined, before they end
	// (default 30 s).
	MaxPause time.Duration
	// Reserve submits a consumer's reservation and returns once it is
	// mined (with the sender's confirmations), or why it failed.
	Reserve func(ctx context.Context, r Reservation) error
	// Settle queues a settlement of the pair's newest promise: when a
	// session ends, and when a promise leaves SettleThreshold or more
	// unsettled (nil: only at the end).
	Settle          func(consumer, provider common.Address)
	SettleThreshold *big.Int
	Logger          *slog.Logger
}

// Ledger keeps a provider's accounts: one per (consumer, provider), through
// which every session of that consumer at that provider is billed, however
// many run at once and on however many of the consumer's daemons.
//
// The provider's exposure to a consumer is the value it served minus the
// part covered by both a stored promise and money on chain the consumer
// can no longer take away (what was settled, and the provider's mined
// lane). The ledger keeps it under the credit limit at every moment: it
// asks for a reservation at half the limit, and when the limit would be
// passed (by time, or by bytes at the rate the sessions move them) it
// pauses the consumer's sessions: forwarding stops in the data plane and
// their meters stop, until the reservation is mined and promised; a
// session that cannot pause, a reservation that fails, or a pause longer
// than MaxPause ends them. The limit applies only while the consumer's
// spendable free deposit and lane headroom are as large; else what they
// are, and sessions end at it.
type Ledger struct {
	cfg LedgerConfig

	mu       sync.Mutex
	accounts map[pair]*account
	blocked  map[pair]string // consumers refused until their funds cover what they owe

	stop chan struct{}
	done chan struct{}
	// reserving tracks the reservations in flight (started by the watch
	// loop only); Close cancels ctx and waits for them, so none outlives
	// the ledger or sends a transaction after it closed.
	ctx       context.Context
	cancel    context.CancelFunc
	reserving sync.WaitGroup
}

type pair struct{ consumer, provider common.Address }

// account is one (consumer, provider) pair.
type account struct {
	pair
	invoiceMu sync.Mutex // one invoice at a time: each carries the newest promise

	mu        sync.Mutex
	sessions  map[string]*billed
	past      *big.Int  // value served by ended sessions and before this run (the promise stored at open)
	promised  *big.Int  // the newest stored promise's cumulative
	reserving bool      // a reservation is asked or in flight
	nextAsk   time.Time // not before: the consumer signed none when asked
}

// billed is one session of an account; the fields below lastPaid are
// guarded by its account's mu.
type billed struct {
	SessionBilling
	lastPaid time.Time
	stop     chan struct{}
	done     chan struct{}
	kick     chan struct{} // invoice now

	promised    *big.Int // what of this session promises cover
	pausedAt    time.Time
	pausedTotal time.Duration
	lastBytes   uint64 // at the last watch, for the byte rate
	lastAt      time.Time
	rate        float64 // bytes a second while forwarding
}

// SessionBilling is one session a ledger bills.
type SessionBilling struct {
	ID       string
	Consumer common.Address
	Provider common.Address
	Price    proposal.Price
	Start    time.Time     // billing starts here (session-create)
	Bytes    func() uint64 // both ways so far; nil: not metered by bytes
	Dialog   *dialog.Dialog
	// End ends the session with a reason told to the consumer.
	End func(reason string)
	// Pause stops (true) or restarts (false) the session's forwarding in
	// the data plane without ending it; nil: the session cannot pause, it
	// ends at the limit.
	Pause func(paused bool) error
}

// due is what the session served so far (its account's mu held): its
// time while not paused, and its bytes.
func (s *billed) due() *big.Int {
	var bytes uint64
	if s.Bytes != nil && perGiB(s.Price) {
		bytes = s.Bytes()
	}
	el := time.Since(s.Start) - s.pausedTotal
	if !s.pausedAt.IsZero() {
		el -= time.Since(s.pausedAt)
	}
	return Due(s.Price, max(el, 0), bytes)
}

func perGiB(p proposal.Price) bool {
	g, err := proposal.ParseAmount(p.PerGiB)
	return err == nil && g.Sign() > 0
}

// NewLedger starts the watch of exposures; Close stops it.
func NewLedger(cfg LedgerConfig) *Ledger {
	if cfg.CreditLimit == nil {
		cfg.CreditLimit = DefaultCreditLimit
	}
	if cfg.Every <= 0 {
		cfg.Every = 5 * time.Second
	}
	if cfg.Grace <= 0 {
		cfg.Grace = 20 * time.Second
	}
	if cfg.Watch <= 0 {
		cfg.Watch = 200 * time.Millisecond
	}
	if cfg.ReserveFor <= 0 {
		cfg.ReserveFor = 10 * time.Minute
	}
	if cfg.MaxPause <= 0 {
		cfg.MaxPause = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Settle == nil {
		cfg.Settle = func(common.Address, common.Address) {}
	}
	l := &Ledger{cfg: cfg, accounts: map[pair]*account{}, blocked: map[pair]string{}, stop: make(chan struct{}), done: make(chan struct{})}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	go l.watch()
	return l
}

// Close stops every session's invoicing and the watch.
func (l *Ledger) Close() {
	select {
	case <-l.stop:
		return
	default:
	}
	close(l.stop)
	<-l.done
	// The watch started every reservation; none starts now.
	l.cancel()
	l.reserving.Wait()
	l.mu.Lock()
	var all []*billed
	for _, a := range l.accounts {
		a.mu.Lock()
		for _, s := range a.sessions {
			all = append(all, s)
		}
		a.mu.Unlock()
	}
	l.mu.Unlock()
	for _, s := range all {
		s.halt()
	}
}

func (s *billed) halt() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
}

// ErrRefused wraps the reason a ledger refuses a consumer's new session.
var ErrRefused = errors.New("refused")

// Admit says whether a new priced session of consumer may start: its funds
// on chain must cover what it owes plus a minute at price, and it must not
// be blocked for an earlier shortfall. It starts tracking the consumer's
// funds (one read from the chain, then events).
func (l *Ledger) Admit(ctx context.Context, consumer, provider common.Address, price proposal.Price) error {
	if err := l.cfg.Funds.Track(ctx, consumer, provider); err != nil {
		return fmt.Errorf("the provider could not read the consumer's deposit on the chain (%v); try again later", err)
	}
	v, _ := l.cfg.Funds.View(consumer, provider)
	r, err := l.cfg.Store.ReceivedFrom(ctx, consumer, provider)
	if err != nil {
		return err
	}
	k := pair{consumer, provider}
	owed := maxZero(new(big.Int).Sub(r.Cumulative, v.Settled))
	avail := new(big.Int).Add(v.Spendable(), v.Lane)
	l.mu.Lock()
	reason, blocked := l.blocked[k]
	if blocked && avail.Cmp(owed) >= 0 {
		delete(l.blocked, k)
		blocked = false
	}
	l.mu.Unlock()
	if blocked {
		return fmt.Errorf("%w: %s; deposit more with `myst payments deposit`", ErrRefused, reason)
	}
	// What the consumer owes without cover already (promises no lane holds,
	// service no promise covers) counts against its credit from the start:
	// settled first, then it may come back.
	uncovered := maxZero(new(big.Int).Sub(owed, v.Lane))
	l.mu.Lock()
	if a := l.accounts[k]; a != nil {
		a.mu.Lock()
		uncovered.Add(uncovered, maxZero(new(big.Int).Sub(a.servedLocked(), a.promised)))
		a.mu.Unlock()
	}
	l.mu.Unlock()
	if uncovered.Cmp(new(big.Int).Quo(l.cfg.CreditLimit, big.NewInt(2))) >= 0 {
		l.cfg.Settle(consumer, provider)
		return fmt.Errorf("%w: the consumer owes %s MYSTT that no lane covers; the provider settles it now: try again once that is mined", ErrRefused, proposal.FormatAmount(uncovered))
	}
	need := Due(price, time.Minute, 16<<20)
	left := new(big.Int).Sub(avail, owed)
	if left.Cmp(need) < 0 {
		// A deposit made a moment ago may be in a block not read yet.
		if err := l.cfg.Funds.Sync(ctx); err == nil {
			v, _ = l.cfg.Funds.View(consumer, provider)
			avail = new(big.Int).Add(v.Spendable(), v.Lane)
			left = new(big.Int).Sub(avail, owed)
		}
	}
	if left.Cmp(need) < 0 {
		what := "deposit"
		if v.WithdrawalAt != 0 {
			what = "deposit (its withdrawal is announced, so none of it counts)"
		}
		return fmt.Errorf("%w: the consumer's %s and lane (%s MYSTT available) can't cover a minute of the session (%s MYSTT): deposit more with `myst payments deposit`",
			ErrRefused, what, proposal.FormatAmount(maxZero(left)), proposal.FormatAmount(need))
	}
	return nil
}

// Open starts billing a session: invoices every period through its
// account, from s.Start.
func (l *Ledger) Open(ctx context.Context, s SessionBilling) error {
	if err := l.cfg.Funds.Track(ctx, s.Consumer, s.Provider); err != nil {
		return err
	}
	k := pair{s.Consumer, s.Provider}
	l.mu.Lock()
	a := l.accounts[k]
	if a == nil {
		r, err := l.cfg.Store.ReceivedFrom(ctx, s.Consumer, s.Provider)
		if err != nil {
			l.mu.Unlock()
			return err
		}
		a = &account{pair: k, sessions: map[string]*billed{}, past: r.Cumulative, promised: new(big.Int).Set(r.Cumulative)}
		l.accounts[k] = a
	}
	l.mu.Unlock()
	b := &billed{SessionBilling: s, promised: new(big.Int), lastPaid: time.Now(), stop: make(chan struct{}), done: make(chan struct{}), kick: make(chan struct{}, 1)}
	a.mu.Lock()
	a.sessions[s.ID] = b
	a.mu.Unlock()
	go l.invoiceLoop(a, b)
	return nil
}

// account is the pair's account (nil: none yet).
func (l *Ledger) account(consumer, provider common.Address) *account {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.accounts[pair{consumer, provider}]
}

// CloseSession stops billing a session (it ended) and queues a settlement.
func (l *Ledger) CloseSession(consumer, provider common.Address, id string) {
	a := l.account(consumer, provider)
	if a == nil {
		return
	}
	a.mu.Lock()
	b := a.sessions[id]
	a.mu.Unlock()
	if b == nil {
		return
	}
	b.halt()
	a.mu.Lock()
	delete(a.sessions, id)
	// What it served stays owed to the account: a new session does not
	// start the consumer's credit afresh.
	a.past.Add(a.past, b.due())
	a.mu.Unlock()
	l.cfg.Settle(consumer, provider)
}

// Promised is what promises cover of a session (nil: not billed here).
func (l *Ledger) Promised(consumer, provider common.Address, id string) *big.Int {
	a := l.account(consumer, provider)
	if a == nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if b := a.sessions[id]; b != nil {
		return new(big.Int).Set(b.promised)
	}
	return nil
}

// Served is the value the provider served the consumer since the account
// opened, on top of the promise stored then (zero: no account).
func (l *Ledger) Served(consumer, provider common.Address) *big.Int {
	a := l.account(consumer, provider)
	if a == nil {
		return new(big.Int)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.servedLocked()
}

// Exposure is what a consumer owes a provider without cover now, and the
// limit it is held under.
func (l *Ledger) Exposure(consumer, provider common.Address) (exposure, limit *big.Int) {
	a := l.account(consumer, provider)
	if a == nil {
		return new(big.Int), new(big.Int).Set(l.cfg.CreditLimit)
	}
	e, lim, _, _ := l.exposure(a)
	return e, lim
}

// Block refuses consumer's new sessions at provider and ends its running
// ones: a settlement paid less than its promise (the deposit went
// elsewhere). Admit lifts it once the consumer's funds cover what it owes.
func (l *Ledger) Block(consumer, provider common.Address, reason string) {
	k := pair{consumer, provider}
	l.mu.Lock()
	l.blocked[k] = reason
	a := l.accounts[k]
	l.mu.Unlock()
	if a != nil {
		l.endAll(a, reason)
	}
}

// Owing lists the providers a consumer has an account with (for a
// withdrawal announced: settle them at once).
func (l *Ledger) Owing(consumer common.Address) []common.Address {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []common.Address
	for k := range l.accounts {
		if k.consumer == consumer {
			out = append(out, k.provider)
		}
	}
	return out
}

func (l *Ledger) endAll(a *account, reason string) {
	a.mu.Lock()
	var ends []func(string)
	for _, s := range a.sessions {
		ends = append(ends, s.End)
	}
	a.mu.Unlock()
	for _, end := range ends {
		go end(reason)
	}
}

// served is what the account served so far (a.mu held): the promise stored
// when it opened, what ended sessions served, and the running sessions' due.
func (a *account) servedLocked() *big.Int {
	v := new(big.Int).Set(a.past)
	for _, s := range a.sessions {
		v.Add(v, s.due())
	}
	return v
}

// exposure computes an account's exposure and the limit it has now; free
// is the consumer's spendable free deposit, headroom what its lane holds
// beyond its promises.
func (l *Ledger) exposure(a *account) (exposure, limit, free, headroom *big.Int) {
	v, ok := l.cfg.Funds.View(a.consumer, a.provider)
	if !ok {
		v = FundsView{Free: new(big.Int), Lane: new(big.Int), Settled: new(big.Int)}
	}
	a.mu.Lock()
	served, promised := a.servedLocked(), new(big.Int).Set(a.promised)
	a.mu.Unlock()
	// Covered: settled, plus the unsettled part of the promise the lane holds.
	unsettled := maxZero(new(big.Int).Sub(promised, v.Settled))
	covered := new(big.Int).Add(v.Settled, minBig(unsettled, v.Lane))
	exposure = maxZero(new(big.Int).Sub(served, covered))
	// Credit is what the limit allows, no more than the consumer's money
	// not yet promised: its spendable free deposit and the lane's headroom.
	free = v.Spendable()
	headroom = maxZero(new(big.Int).Sub(v.Lane, unsettled))
	limit = minBig(l.cfg.CreditLimit, new(big.Int).Add(free, headroom))
	return exposure, limit, free, headroom
}

// watch checks every account with sessions against its limit.
func (l *Ledger) watch() {
	defer close(l.done)
	t := time.NewTicker(l.cfg.Watch)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		l.mu.Lock()
		var live []*account
		for _, a := range l.accounts {
			a.mu.Lock()
			if len(a.sessions) > 0 {
				live = append(live, a)
			}
			a.mu.Unlock()
		}
		l.mu.Unlock()
		for _, a := range live {
			l.check(a)
		}
	}
}

// check holds an account under its limit: it invoices a session early
// when what it served unpromised nears the limit, asks for a reservation
// from half of it, pauses the sessions when the limit would be passed
// before the next check, and ends them when they cannot wait.
func (l *Ledger) check(a *account) {
	e, lim, free, headroom := l.exposure(a)
	now := time.Now()
	// What the sessions serve until the check after next: their time, and
	// their bytes at the rate of the last period.
	ahead := new(big.Int)
	early := new(big.Int).Quo(l.cfg.CreditLimit, big.NewInt(2)) // unpromised value that is invoiced at once
	pausable, paused := true, false
	var longest time.Duration
	a.mu.Lock()
	for _, s := range a.sessions {
		if s.Bytes != nil && perGiB(s.Price) {
			// The byte rate is measured while the session forwards, and
			// kept while it is paused (for when it forwards again).
			b := s.Bytes()
			if s.pausedAt.IsZero() && !s.lastAt.IsZero() && b >= s.lastBytes {
				s.rate = float64(b-s.lastBytes) / now.Sub(s.lastAt).Seconds()
			}
			s.lastBytes, s.lastAt = b, now
		}
		ahead.Add(ahead, Due(s.Price, 2*l.cfg.Watch, uint64(s.rate*(2*l.cfg.Watch).Seconds())))
		if !s.pausedAt.IsZero() {
			paused = true
			longest = max(longest, now.Sub(s.pausedAt))
		}
		pausable = pausable && s.Pause != nil
	}
	a.mu.Unlock()
	// A session faster than the limit allows between two checks cannot be
	// held under it by checking: it forwards at most half the limit's worth
	// between pauses (the README's credit limit section says the bound).
	ahead = minBig(ahead, new(big.Int).Quo(lim, big.NewInt(2)))
	over := new(big.Int).Add(e, ahead).Cmp(lim) >= 0
	// Promised value the lane covers is no exposure: invoice early what a
	// session will have served unpromised by the check after next, from a
	// half of the limit, or at once when the limit is near.
	a.mu.Lock()
	for _, s := range a.sessions {
		u := new(big.Int).Sub(s.due(), s.promised)
		soon := new(big.Int).Add(u, Due(s.Price, 2*l.cfg.Watch, uint64(s.rate*(2*l.cfg.Watch).Seconds())))
		if soon.Cmp(early) >= 0 || (over || paused) && u.Sign() > 0 {
			select {
			case s.kick <- struct{}{}:
			default:
			}
		}
	}
	a.mu.Unlock()
	// Paused sessions can wait for promises and a lane while the
	// consumer's free deposit and lane headroom hold the limit.
	waitable := pausable && l.cfg.Reserve != nil && lim.Cmp(l.cfg.CreditLimit) >= 0
	switch {
	case over && !waitable:
		l.cfg.Logger.Warn("credit limit reached; ending the consumer's sessions", "consumer", a.consumer.Hex(), "exposure", proposal.FormatAmount(e), "limit", proposal.FormatAmount(lim))
		reason := fmt.Sprintf("the consumer owes %s MYSTT without cover, the provider's credit limit is %s: it reserves funds for the provider (a lane) to go on",
			proposal.FormatAmount(e), proposal.FormatAmount(lim))
		if lim.Cmp(l.cfg.CreditLimit) < 0 {
			reason = fmt.Sprintf("%v: it owes %s MYSTT without cover and has %s spendable (its withdrawal is announced, or its deposit went elsewhere)",
				errUncovered, proposal.FormatAmount(e), proposal.FormatAmount(lim))
		}
		l.endAll(a, reason)
		return
	case paused && longest > l.cfg.MaxPause:
		l.cfg.Logger.Warn("no reservation while paused at the credit limit; ending the consumer's sessions", "consumer", a.consumer.Hex(), "paused", longest.Round(time.Millisecond))
		l.endAll(a, fmt.Sprintf("the consumer owes %s MYSTT without cover, the provider's credit limit is %s, and no reservation (a lane) was mined in %s",
			proposal.FormatAmount(e), proposal.FormatAmount(lim), l.cfg.MaxPause))
		return
	case over:
		if !paused {
			l.cfg.Logger.Debug("credit limit near; pausing the consumer's sessions until its reservation is mined", "consumer", a.consumer.Hex(), "exposure", proposal.FormatAmount(e), "limit", proposal.FormatAmount(lim))
		}
		l.setPaused(a, true)
	case paused && new(big.Int).Add(new(big.Int).Mul(e, big.NewInt(2)), ahead).Cmp(lim) < 0:
		l.cfg.Logger.Debug("credit covered again; the consumer's sessions forward again", "consumer", a.consumer.Hex(), "exposure", proposal.FormatAmount(e))
		l.setPaused(a, false)
	}
	// A reservation is asked from half the limit, or when it is near,
	// unless the lane holds what is exposed and what comes next.
	half := new(big.Int).Quo(l.cfg.CreditLimit, big.NewInt(2))
	if (e.Cmp(half) < 0 && !over && !paused) || free.Sign() == 0 || l.cfg.Reserve == nil ||
		headroom.Cmp(new(big.Int).Add(e, new(big.Int).Add(ahead, half))) >= 0 {
		return
	}
	a.mu.Lock()
	if a.reserving || now.Before(a.nextAsk) {
		a.mu.Unlock()
		return
	}
	a.reserving = true
	rate := new(big.Int)
	var d *dialog.Dialog
	for _, s := range a.sessions {
		rate.Add(rate, Due(s.Price, l.cfg.ReserveFor, 1<<30))
		d = s.Dialog
	}
	a.mu.Unlock()
	if d == nil {
		// The sessions ended meanwhile.
		a.mu.Lock()
		a.reserving = false
		a.mu.Unlock()
		return
	}
	amount := maxBig(rate, new(big.Int).Mul(l.cfg.CreditLimit, big.NewInt(2)))
	amount = minBig(amount, free)
	l.reserving.Go(func() { l.reserve(a, d, amount) })
}

// setPaused pauses or restarts every session of an account: forwarding
// and the meters stop together. One that fails to pause ends.
func (l *Ledger) setPaused(a *account, paused bool) {
	type change struct {
		s     *billed
		pause func(bool) error
	}
	var changes []change
	now := time.Now()
	a.mu.Lock()
	for _, s := range a.sessions {
		switch {
		case paused && s.pausedAt.IsZero():
			s.pausedAt = now
		case !paused && !s.pausedAt.IsZero():
			s.pausedTotal += now.Sub(s.pausedAt)
			s.pausedAt = time.Time{}
		default:
			continue
		}
		changes = append(changes, change{s, s.Pause})
	}
	a.mu.Unlock()
	for _, c := range changes {
		if err := c.pause(paused); err != nil {
			l.cfg.Logger.Warn("pause a session's forwarding", "session", c.s.ID, "paused", paused, "err", err)
			go c.s.End(fmt.Sprintf("the provider could not hold the session at its credit limit (%v)", err))
		}
	}
}

// Paused says whether a session is paused at its account's credit limit.
func (l *Ledger) Paused(consumer, provider common.Address, id string) bool {
	a := l.account(consumer, provider)
	if a == nil {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.sessions[id]
	return s != nil && !s.pausedAt.IsZero()
}

// reserve asks the consumer for a reservation and submits it; one that
// fails on chain ends the consumer's sessions.
func (l *Ledger) reserve(a *account, d *dialog.Dialog, amount *big.Int) {
	defer func() {
		a.mu.Lock()
		a.reserving = false
		a.mu.Unlock()
	}()
	v, _ := l.cfg.Funds.View(a.consumer, a.provider)
	body, _ := json.Marshal(ReserveRequest{Amount: amount, Nonce: v.LaneNonce})
	ctx, cancel := context.WithTimeout(l.ctx, 2*time.Minute)
	defer cancel()
	rctx, rcancel := context.WithTimeout(ctx, max(l.cfg.Every, 5*time.Second))
	raw, err := d.Request(rctx, TopicReserve, body)
	rcancel()
	if err != nil {
		l.cfg.Logger.Info("the consumer signed no reservation", "consumer", a.consumer.Hex(), "err", err)
		a.mu.Lock()
		a.nextAsk = time.Now().Add(2 * time.Second)
		a.mu.Unlock()
		return
	}
	var r Reservation
	if err := json.Unmarshal(raw, &r); err != nil || r.Amount == nil {
		l.cfg.Logger.Warn("malformed reservation", "consumer", a.consumer.Hex())
		return
	}
	switch {
	case r.Consumer != a.consumer || r.Provider != a.provider || r.Nonce != v.LaneNonce:
		l.endAll(a, "the consumer's reservation is for another consumer, provider or nonce")
		return
	case r.Amount.Sign() <= 0 || r.Amount.Cmp(amount) > 0:
		l.endAll(a, "the consumer's reservation is for an amount not asked")
		return
	}
	if err := l.cfg.Reserve(ctx, r); err != nil {
		if !errors.Is(err, ErrWouldRevert) && !errors.Is(err, registry.ErrReverted) && !errors.Is(err, ErrBadReservation) {
			// The chain could not be asked: the session goes on under the
			// limit, and the next check asks again.
			l.cfg.Logger.Warn("reservation not sent", "consumer", a.consumer.Hex(), "err", err)
			return
		}
		// A nonce the view had not caught up with (an earlier reservation
		// landed meanwhile) is not the consumer's fault: look again.
		if l.cfg.Funds.Sync(ctx) == nil {
			if v2, _ := l.cfg.Funds.View(a.consumer, a.provider); v2.LaneNonce != v.LaneNonce {
				return
			}
		}
		l.cfg.Logger.Warn("reservation failed; ending the consumer's sessions", "consumer", a.consumer.Hex(), "err", err)
		l.endAll(a, fmt.Sprintf("the consumer's reservation of %s MYSTT failed (%v): its deposit no longer covers the session", proposal.FormatAmount(r.Amount), err))
		return
	}
	if err := l.cfg.Funds.Sync(ctx); err != nil {
		l.cfg.Logger.Warn("funds: read events after a reservation", "err", err)
	}
	l.cfg.Logger.Info("lane reserved", "consumer", a.consumer.Hex(), "amount", proposal.FormatAmount(r.Amount))
}

// invoiceLoop invoices one session every period.
func (l *Ledger) invoiceLoop(a *account, s *billed) {
	defer close(s.done)
	t := time.NewTicker(l.cfg.Every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-s.Dialog.Done():
			return
		case <-t.C:
		case <-s.kick:
		}
		err := l.invoice(a, s)
		switch {
		case err == nil:
			s.lastPaid = time.Now()
			continue
		case errors.Is(err, ErrStore):
			go s.End(fmt.Sprintf("the provider could not store the consumer's promise, so it ends the session (%v)", err))
			return
		case errors.Is(err, errUncovered):
			go s.End(err.Error())
			return
		}
		if since := time.Since(s.lastPaid); since > l.cfg.Grace {
			go s.End(fmt.Sprintf("the consumer did not pay for %s: %v", since.Round(time.Second), err))
			return
		}
	}
}

var errUncovered = errors.New("the consumer's deposit no longer covers the session")

// invoice asks the session's consumer for the account's next promise.
func (l *Ledger) invoice(a *account, s *billed) error {
	a.invoiceMu.Lock()
	defer a.invoiceMu.Unlock()
	a.mu.Lock()
	due := s.due()
	a.mu.Unlock()
	// The next period must be covered: the consumer's spendable deposit and
	// lane hold what it promised and did not settle, this session's amount
	// not promised yet, and one more period.
	if v, ok := l.cfg.Funds.View(a.consumer, a.provider); ok {
		a.mu.Lock()
		owed := new(big.Int).Sub(a.servedLocked(), v.Settled)
		a.mu.Unlock()
		next := Due(s.Price, l.cfg.Every, 0)
		have := new(big.Int).Add(v.Spendable(), v.Lane)
		if have.Cmp(new(big.Int).Add(owed, next)) < 0 {
			return fmt.Errorf("%w: it holds %s MYSTT, the provider is owed %s and the next period costs %s", errUncovered,
				proposal.FormatAmount(have), proposal.FormatAmount(maxZero(owed)), proposal.FormatAmount(next))
		}
	}
	if due.Sign() == 0 {
		return nil
	}
	r, err := l.cfg.Store.ReceivedFrom(context.Background(), a.consumer, a.provider)
	if err != nil {
		return err
	}
	a.mu.Lock()
	unpaid := new(big.Int).Sub(due, s.promised)
	a.mu.Unlock()
	if unpaid.Sign() <= 0 {
		return nil
	}
	inv := Invoice{SessionID: s.ID, SessionAmount: due, Cumulative: new(big.Int).Add(r.Cumulative, unpaid)}
	if r.Cumulative.Sign() > 0 {
		inv.Base = &PromiseMsg{Cumulative: r.Cumulative, Signature: r.Signature}
	}
	body, _ := json.Marshal(inv)
	ctx, cancel := context.WithTimeout(context.Background(), l.cfg.Every)
	defer cancel()
	raw, err := s.Dialog.Request(ctx, TopicInvoice, body)
	if err != nil {
		return err
	}
	var pm PromiseMsg
	if err := json.Unmarshal(raw, &pm); err != nil || pm.Cumulative == nil {
		return errors.New("malformed promise")
	}
	p := Promise{Consumer: a.consumer, Provider: a.provider, Cumulative: pm.Cumulative, Signature: pm.Signature}
	if err := l.cfg.Client.Verify(p); err != nil {
		return err
	}
	if p.Cumulative.Cmp(inv.Cumulative) < 0 {
		return fmt.Errorf("promise of %s is below the invoiced %s", p.Cumulative, inv.Cumulative)
	}
	// On disk before it is acknowledged, with time of its own: a slow
	// answer must not leave the store too little to write.
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	if err := l.cfg.Store.SaveReceived(sctx, p); err != nil {
		return err
	}
	ack, _ := json.Marshal(PromiseMsg{Cumulative: p.Cumulative})
	s.Dialog.Send(TopicAck, ack)
	if th := l.cfg.SettleThreshold; th != nil && new(big.Int).Sub(p.Cumulative, r.Settled).Cmp(th) >= 0 {
		l.cfg.Settle(a.consumer, a.provider)
	}
	a.mu.Lock()
	s.promised.Add(s.promised, new(big.Int).Sub(p.Cumulative, r.Cumulative))
	if p.Cumulative.Cmp(a.promised) > 0 {
		a.promised = new(big.Int).Set(p.Cumulative)
	}
	a.mu.Unlock()
	return nil
}

func maxZero(v *big.Int) *big.Int {
	if v.Sign() < 0 {
		return new(big.Int)
	}
	return v
}

func minBig(a, b *big.Int) *big.Int {
	if a.Cmp(b) < 0 {
		return new(big.Int).Set(a)
	}
	return new(big.Int).Set(b)
}

func maxBig(a, b *big.Int) *big.Int {
	if a.Cmp(b) > 0 {
		return new(big.Int).Set(a)
	}
	return new(big.Int).Set(b)
}
