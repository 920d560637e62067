package dialog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/mystnode/myst/broker"
	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/registry"
	"github.com/nats-io/nats.go"
	"golang.org/x/time/rate"
)

// Registry answers whether an identity is registered, and with which public
// key; registry.Cache is one. For an unregistered identity PublicKey's error
// wraps registry.ErrNotRegistered.
type Registry interface {
	PublicKey(ctx context.Context, id common.Address) ([]byte, error)
}

// knower is a Registry that can say at once, without asking anyone,
// whether it holds an identity's key (registry.Cache can). A listener
// checks an identity it does not hold off its workers, so that creates of
// unknown identities wait for the registry without holding up the others.
type knower interface {
	Known(id common.Address) ([]byte, bool)
}

// maxLookups bounds the creates of unknown identities waiting for the
// registry at once; past it they are refused as overload.
const maxLookups = 4096

// CreateSubject is the subject a consumer sends its dialog-creates to a
// provider on.
func CreateSubject(provider, consumer common.Address) string {
	return broker.Subject(provider, consumer, "create")
}

// CreatesTo is the subscription of a provider's listener: creates from
// any consumer.
func CreatesTo(provider common.Address) string { return broker.FromAny(provider, "create") }

// MaxClockSkew is how far a dialog-create's timestamp may be from the
// provider's clock; dialog ids are remembered this long to refuse replays.
const MaxClockSkew = 2 * time.Minute

// ListenConfig configures a provider's listener.
type ListenConfig struct {
	// Accept is called for each new dialog before the consumer learns it is
	// accepted; it sets the dialog's handlers. It must not block.
	Accept func(*Dialog)
	// MaxDialogs caps concurrent dialogs (default 10000); MaxPerConsumer
	// one consumer's (default 8), so that one identity cannot take the
	// slots of everyone else.
	MaxDialogs     int
	MaxPerConsumer int
	// FirstMessageTimeout closes a dialog whose consumer sent nothing this
	// long after opening it (default 30 s).
	FirstMessageTimeout time.Duration
	// IdleTimeout closes a dialog whose peer has sent nothing this long
	// (default 10 minutes).
	IdleTimeout time.Duration
	Metrics     *Metrics
	Logger      *slog.Logger

	// Dialog-creates are checked (decrypted, signature recovered,
	// registration looked up) off the broker's callback by Workers
	// goroutines (default 2×GOMAXPROCS, at least 4); at most Queue wait
	// for one (default 1024). Rate (default 2000/s, burst as much) bounds
	// the creates admitted for checking, all consumers together;
	// PerConsumerRate (default 1/s, burst PerConsumerBurst, default 5)
	// one consumer's, before its registration is looked up. What is over
	// a bound is dropped and counted (reasons overload and rate_limited);
	// the consumer's Dial retransmits.
	Workers          int
	Queue            int
	Rate             rate.Limit
	PerConsumerRate  rate.Limit
	PerConsumerBurst int
	// MaxRemembered bounds the dialog ids remembered against replay (the
	// accepted and the refused creates of registered consumers of the last
	// 2×MaxClockSkew; default 1<<18). Past it, creates are refused as at
	// capacity.
	MaxRemembered int
}

// maxCreate bounds a dialog-create's size; real ones are about 400 bytes.
const maxCreate = 4096

// Listener is a provider's end: it answers dialog-creates addressed to one
// identity and holds the dialogs it opened.
type Listener struct {
	nc       *nats.Conn
	self     *identity.Signer
	registry Registry
	cfg      ListenConfig
	sub      *nats.Subscription

	queue   chan *nats.Msg
	limiter *rate.Limiter
	lookups chan struct{} // slots of maxLookups

	mu        sync.Mutex
	dialogs   map[ID]*Dialog
	perPeer   map[common.Address]int // open dialogs by consumer
	seen      map[ID]seenCreate      // dialog ids of checked creates
	consumers map[common.Address]*rate.Limiter
	closed    bool

	ctx     context.Context // ends at Close: lookups in flight give up
	cancel  context.CancelFunc
	stop    chan struct{}
	done    chan struct{}
	workers sync.WaitGroup
}

// seenCreate is a remembered dialog-create: when it came, and for an
// accepted one its dialog and answer, sent again if the consumer
// retransmits the create because the answer was lost.
type seenCreate struct {
	at     time.Time
	dialog *Dialog
	answer []byte
}

// Listen subscribes to self's create subject.
func Listen(nc *nats.Conn, self *identity.Signer, reg Registry, cfg ListenConfig) (*Listener, error) {
	if cfg.MaxDialogs <= 0 {
		cfg.MaxDialogs = 10000
	}
	if cfg.MaxPerConsumer <= 0 {
		cfg.MaxPerConsumer = 8
	}
	if cfg.FirstMessageTimeout <= 0 {
		cfg.FirstMessageTimeout = 30 * time.Second
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 10 * time.Minute
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil, cfg.Logger)
	}
	if cfg.Accept == nil {
		cfg.Accept = func(*Dialog) {}
	}
	if cfg.Workers <= 0 {
		cfg.Workers = max(4, 2*runtime.GOMAXPROCS(0))
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 1024
	}
	if cfg.Rate <= 0 {
		cfg.Rate = 2000
	}
	if cfg.PerConsumerRate <= 0 {
		cfg.PerConsumerRate = 1
	}
	if cfg.PerConsumerBurst <= 0 {
		cfg.PerConsumerBurst = 5
	}
	if cfg.MaxRemembered <= 0 {
		cfg.MaxRemembered = 1 << 18
	}
	l := &Listener{nc: nc, self: self, registry: reg, cfg: cfg,
		queue: make(chan *nats.Msg, cfg.Queue), lookups: make(chan struct{}, maxLookups), limiter: rate.NewLimiter(cfg.Rate, int(max(cfg.Rate, 1))),
		dialogs: map[ID]*Dialog{}, perPeer: map[common.Address]int{}, seen: map[ID]seenCreate{}, consumers: map[common.Address]*rate.Limiter{},
		stop: make(chan struct{}), done: make(chan struct{})}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	sub, err := nc.Subscribe(CreatesTo(self.Address()), l.admit)
	if err != nil {
		return nil, fmt.Errorf("subscribe %s: %w", CreatesTo(self.Address()), err)
	}
	sub.SetPendingLimits(4096, 16<<20)
	l.sub = sub
	// Not connected yet (the broker has not admitted the node so far): the
	// subscription is made when it connects.
	if !nc.IsConnected() {
		// nothing to wait for
	} else if err := nc.Flush(); err != nil && nc.IsConnected() {
		sub.Unsubscribe()
		l.cancel()
		return nil, fmt.Errorf("subscribe %s: %w", CreatesTo(self.Address()), err)
	}
	for range cfg.Workers {
		l.workers.Go(l.work)
	}
	go l.reap()
	return l, nil
}

// Identity is the provider identity this listener answers for.
func (l *Listener) Identity() common.Address { return l.self.Address() }

// Dialogs returns the open dialogs.
func (l *Listener) Dialogs() []*Dialog {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]*Dialog, 0, len(l.dialogs))
	for _, d := range l.dialogs {
		out = append(out, d)
	}
	return out
}

// Close stops answering and closes every dialog, telling each consumer.
func (l *Listener) Close() {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	l.closed = true
	dialogs := make([]*Dialog, 0, len(l.dialogs))
	for _, d := range l.dialogs {
		dialogs = append(dialogs, d)
	}
	l.mu.Unlock()
	l.sub.Unsubscribe()
	l.cancel()
	close(l.stop)
	<-l.done
	l.workers.Wait()
	for _, d := range dialogs {
		d.Close()
		d.wait()
	}
}

// reap closes idle dialogs and forgets old dialog ids.
func (l *Listener) reap() {
	defer close(l.done)
	t := time.NewTicker(min(l.cfg.IdleTimeout/4, l.cfg.FirstMessageTimeout/2, 30*time.Second))
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case now := <-t.C:
			var idle []*Dialog
			l.mu.Lock()
			for id, c := range l.seen {
				if now.Sub(c.at) > 2*MaxClockSkew {
					delete(l.seen, id)
				}
			}
			for id, lim := range l.consumers {
				if lim.TokensAt(now) >= float64(lim.Burst()) {
					delete(l.consumers, id)
				}
			}
			var silent []*Dialog
			for _, d := range l.dialogs {
				switch {
				case d.silent() && now.Sub(d.LastActive()) > l.cfg.FirstMessageTimeout:
					silent = append(silent, d)
				case now.Sub(d.LastActive()) > l.cfg.IdleTimeout:
					idle = append(idle, d)
				}
			}
			l.mu.Unlock()
			for _, d := range idle {
				d.Close()
			}
			for _, d := range silent {
				l.cfg.Metrics.refuse(ReasonSilent, d.inSubj, fmt.Errorf("%s sent nothing within %s of opening a dialog", d.peer.Hex(), l.cfg.FirstMessageTimeout))
				d.Close()
			}
		}
	}
}

// admit runs on the broker's callback: only cheap checks, then the create
// waits for a worker.
func (l *Listener) admit(msg *nats.Msg) {
	m := l.cfg.Metrics
	if len(msg.Data) < 2 || len(msg.Data) > maxCreate || msg.Data[0] != tagCreate {
		m.drop(ReasonGarbage, msg.Subject, errMalformed)
		return
	}
	if !l.limiter.Allow() {
		m.drop(ReasonOverload, msg.Subject, errors.New("dialog-creates over the provider's rate"))
		return
	}
	select {
	case l.queue <- msg:
	default:
		m.drop(ReasonOverload, msg.Subject, errors.New("dialog-create queue full"))
	}
}

func (l *Listener) work() {
	for {
		select {
		case <-l.stop:
			return
		case msg := <-l.queue:
			start := time.Now()
			l.onCreate(msg)
			l.cfg.Metrics.CreateSeconds.Observe(time.Since(start).Seconds())
		}
	}
}

func (l *Listener) onCreate(msg *nats.Msg) {
	m := l.cfg.Metrics
	subj := msg.Subject
	plain, err := l.self.Decrypt(msg.Data[1:])
	if err != nil {
		m.drop(ReasonGarbage, subj, fmt.Errorf("decrypt: %w", err))
		return
	}
	req, err := decodeCreateRequest(plain)
	if err != nil {
		m.drop(ReasonGarbage, subj, err)
		return
	}
	if req.Provider != l.self.Address() {
		m.drop(ReasonWrongPeer, subj, fmt.Errorf("create for %s", req.Provider.Hex()))
		return
	}
	signer, consumerPub, err := identity.Recover(req.signedBytes(), req.Sig)
	if err != nil || signer != req.Consumer {
		m.drop(ReasonBadSignature, subj, fmt.Errorf("create from %s signed by %s: %v", req.Consumer.Hex(), signer.Hex(), err))
		return
	}
	if sender, ok := broker.Sender(subj); !ok || sender != req.Consumer {
		// Under broker admission the subject's sender is the connection's
		// own identity; a create signed by another one is someone else's.
		m.drop(ReasonWrongPeer, subj, fmt.Errorf("create of %s sent as %s", req.Consumer.Hex(), sender.Hex()))
		return
	}
	_, toConsumerSubj := subjects(req.ID, req.Consumer, l.self.Address())
	answer := func(r *createResponse) []byte {
		b := l.seal(consumerPub, r)
		if b != nil {
			l.nc.Publish(toConsumerSubj, b)
		}
		return b
	}
	refuse := func(reason, text string) {
		m.refuse(reason, subj, fmt.Errorf("%s: %s", req.Consumer.Hex(), text))
		answer(&createResponse{
			ID: req.ID, Provider: l.self.Address(), Consumer: req.Consumer, ConsumerEphemeral: req.Ephemeral, Reason: text,
		})
	}
	at := time.UnixMilli(req.UnixMilli)
	if d := time.Since(at); d > MaxClockSkew || d < -MaxClockSkew {
		off := fmt.Sprintf("%s behind", d.Round(time.Second))
		if d < 0 {
			off = fmt.Sprintf("%s ahead of", (-d).Round(time.Second))
		}
		refuse(ReasonStale, fmt.Sprintf("the consumer's clock is %s the provider's (more than %s apart): set the consumer's clock right (NTP) and connect again", off, MaxClockSkew))
		return
	}
	l.mu.Lock()
	prev, replayed := l.seen[req.ID]
	limited := false
	if !replayed {
		lim := l.consumers[req.Consumer]
		if lim == nil && len(l.consumers) < l.cfg.MaxRemembered {
			lim = rate.NewLimiter(l.cfg.PerConsumerRate, l.cfg.PerConsumerBurst)
			l.consumers[req.Consumer] = lim
		}
		limited = lim == nil || !lim.Allow()
	}
	l.mu.Unlock()
	if replayed {
		// A retransmit of an accepted create whose answer was lost gets
		// the same answer again while its dialog is young; anything else
		// is a replay.
		if prev.dialog != nil && prev.answer != nil && !isDone(prev.dialog) && time.Since(prev.at) < 30*time.Second {
			l.nc.Publish(toConsumerSubj, prev.answer)
		}
		m.drop(ReasonReplayed, subj, fmt.Errorf("dialog id %s", req.ID))
		return
	}
	if limited {
		m.drop(ReasonRateLimited, subj, fmt.Errorf("dialog-creates from %s over %v/s", req.Consumer.Hex(), l.cfg.PerConsumerRate))
		return
	}
	c := &checked{req: req, consumerPub: consumerPub, subj: subj, answer: answer, refuse: refuse}
	if k, ok := l.registry.(knower); ok {
		if _, known := k.Known(req.Consumer); !known {
			select {
			case l.lookups <- struct{}{}:
			default:
				m.drop(ReasonOverload, subj, errors.New("too many registration lookups in flight"))
				return
			}
			l.workers.Go(func() {
				defer func() { <-l.lookups }()
				l.lookUp(c)
			})
			return
		}
	}
	l.lookUp(c)
}

// checked is a dialog-create that passed the cheap checks, waiting for its
// consumer's registration.
type checked struct {
	req         *createRequest
	consumerPub []byte
	subj        string
	answer      func(*createResponse) []byte
	refuse      func(reason, text string)
}

// lookUp checks the consumer's registration and opens the dialog.
func (l *Listener) lookUp(c *checked) {
	m, req, subj, answer, refuse := l.cfg.Metrics, c.req, c.subj, c.answer, c.refuse
	ctx, cancel := context.WithTimeout(l.ctx, 5*time.Second)
	_, err := l.registry.PublicKey(ctx, req.Consumer)
	cancel()
	if err != nil {
		switch {
		case errors.Is(err, registry.ErrNotRegistered):
			refuse(ReasonUnregistered, "consumer not registered")
		case l.ctx.Err() != nil:
		default:
			refuse(ReasonRegistryFailed, "provider could not check the consumer's registration; try again")
		}
		return
	}
	// Registered: remember the id against replays (unregistered ones are
	// not remembered, so fresh keys cannot fill this).
	l.mu.Lock()
	_, replayed := l.seen[req.ID]
	full := len(l.seen) >= l.cfg.MaxRemembered
	if !replayed && !full {
		l.seen[req.ID] = seenCreate{at: time.Now()}
	}
	l.mu.Unlock()
	switch {
	case replayed:
		m.drop(ReasonReplayed, subj, fmt.Errorf("dialog id %s", req.ID))
		return
	case full:
		refuse(ReasonCapacity, "provider is at capacity; try later")
		return
	}

	priv, eph, err := newEphemeral()
	if err != nil {
		refuse(ReasonRegistryFailed, "provider failed to make a key")
		return
	}
	toP, toC, err := sessionKeys(priv, req.Ephemeral, req.ID, req.Consumer, l.self.Address(), req.Ephemeral, eph)
	if err != nil {
		m.drop(ReasonGarbage, subj, err)
		return
	}
	d := newDialog(req.ID, l.self, req.Consumer, "provider", l.nc, m)
	d.setKeys(toP, toC)
	d.onClose = l.forget

	l.mu.Lock()
	switch {
	case l.closed:
		l.mu.Unlock()
		return
	case len(l.dialogs) >= l.cfg.MaxDialogs:
		l.mu.Unlock()
		refuse(ReasonCapacity, "provider is at capacity; try later")
		return
	case l.perPeer[req.Consumer] >= l.cfg.MaxPerConsumer:
		l.mu.Unlock()
		refuse(ReasonPerConsumer, fmt.Sprintf("the consumer has %d dialogs open with this provider already (the most it allows); close one first", l.cfg.MaxPerConsumer))
		return
	}
	l.dialogs[req.ID] = d
	l.perPeer[req.Consumer]++
	l.mu.Unlock()

	l.cfg.Accept(d)
	sub, err := l.nc.Subscribe(d.inSubj, func(msg *nats.Msg) { d.receive(msg.Data) })
	if err != nil {
		d.shutdown(err)
		return
	}
	sub.SetPendingLimits(4096, 16<<20)
	d.sub = sub
	m.Opened.WithLabelValues("provider").Inc()
	sealed := answer(&createResponse{
		ID: req.ID, Provider: l.self.Address(), Consumer: req.Consumer, ConsumerEphemeral: req.Ephemeral,
		Accepted: true, Ephemeral: eph,
	})
	l.mu.Lock()
	if c, ok := l.seen[req.ID]; ok {
		c.dialog, c.answer = d, sealed
		l.seen[req.ID] = c
	}
	l.mu.Unlock()
}

func (l *Listener) forget(d *Dialog) {
	l.mu.Lock()
	if _, ok := l.dialogs[d.id]; ok {
		delete(l.dialogs, d.id)
		if l.perPeer[d.peer]--; l.perPeer[d.peer] <= 0 {
			delete(l.perPeer, d.peer)
		}
	}
	l.mu.Unlock()
}

// seal signs r and encrypts it to the consumer: a create's answer, ready
// to publish (nil if it could not be made).
func (l *Listener) seal(consumerPub []byte, r *createResponse) []byte {
	sig, err := l.self.Sign(r.signedBytes())
	if err != nil {
		return nil
	}
	r.Sig = sig
	ct, err := identity.EncryptTo(consumerPub, r.marshal())
	if err != nil {
		return nil
	}
	return append([]byte{tagResponse}, ct...)
}

func isDone(d *Dialog) bool {
	select {
	case <-d.Done():
		return true
	default:
		return false
	}
}
