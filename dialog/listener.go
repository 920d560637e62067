package dialog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/registry"
	"github.com/nats-io/nats.go"
)

// Registry answers whether an identity is registered, and with which public
// key; registry.Cache is one. For an unregistered identity PublicKey's error
// wraps registry.ErrNotRegistered.
type Registry interface {
	PublicKey(ctx context.Context, id common.Address) ([]byte, error)
}

// CreateSubject is the subject a provider listens on for dialog-creates.
func CreateSubject(provider common.Address) string {
	return "myst.v1." + strings.ToLower(provider.Hex()) + ".dialog"
}

// MaxClockSkew is how far a dialog-create's timestamp may be from the
// provider's clock; dialog ids are remembered this long to refuse replays.
const MaxClockSkew = 2 * time.Minute

// ListenConfig configures a provider's listener.
type ListenConfig struct {
	// Accept is called for each new dialog before the consumer learns it is
	// accepted; it sets the dialog's handlers. It must not block.
	Accept func(*Dialog)
	// MaxDialogs caps concurrent dialogs (default 10000).
	MaxDialogs int
	// IdleTimeout closes a dialog whose peer has sent nothing this long
	// (default 10 minutes).
	IdleTimeout time.Duration
	Metrics     *Metrics
	Logger      *slog.Logger
}

// Listener is a provider's end: it answers dialog-creates addressed to one
// identity and holds the dialogs it opened.
type Listener struct {
	nc       *nats.Conn
	self     *identity.Signer
	registry Registry
	cfg      ListenConfig
	sub      *nats.Subscription

	mu      sync.Mutex
	dialogs map[ID]*Dialog
	seen    map[ID]time.Time // dialog ids of accepted or refused creates
	closed  bool

	stop chan struct{}
	done chan struct{}
}

// Listen subscribes to self's create subject.
func Listen(nc *nats.Conn, self *identity.Signer, reg Registry, cfg ListenConfig) (*Listener, error) {
	if cfg.MaxDialogs <= 0 {
		cfg.MaxDialogs = 10000
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
	l := &Listener{nc: nc, self: self, registry: reg, cfg: cfg, dialogs: map[ID]*Dialog{}, seen: map[ID]time.Time{},
		stop: make(chan struct{}), done: make(chan struct{})}
	sub, err := nc.Subscribe(CreateSubject(self.Address()), l.onCreate)
	if err != nil {
		return nil, fmt.Errorf("subscribe %s: %w", CreateSubject(self.Address()), err)
	}
	sub.SetPendingLimits(4096, 16<<20)
	l.sub = sub
	if err := nc.Flush(); err != nil {
		sub.Unsubscribe()
		return nil, fmt.Errorf("subscribe %s: %w", CreateSubject(self.Address()), err)
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
	close(l.stop)
	<-l.done
	for _, d := range dialogs {
		d.Close()
		d.wait()
	}
}

// reap closes idle dialogs and forgets old dialog ids.
func (l *Listener) reap() {
	defer close(l.done)
	t := time.NewTicker(min(l.cfg.IdleTimeout/4, 30*time.Second))
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case now := <-t.C:
			var idle []*Dialog
			l.mu.Lock()
			for id, at := range l.seen {
				if now.Sub(at) > 2*MaxClockSkew {
					delete(l.seen, id)
				}
			}
			for _, d := range l.dialogs {
				if now.Sub(d.LastActive()) > l.cfg.IdleTimeout {
					idle = append(idle, d)
				}
			}
			l.mu.Unlock()
			for _, d := range idle {
				d.Close()
			}
		}
	}
}

func (l *Listener) onCreate(msg *nats.Msg) {
	m := l.cfg.Metrics
	subj := msg.Subject
	if len(msg.Data) < 2 || msg.Data[0] != tagCreate {
		m.drop(ReasonGarbage, subj, errMalformed)
		return
	}
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
	_, toConsumerSubj := subjects(req.ID)
	refuse := func(reason, text string) {
		m.refuse(reason, subj, fmt.Errorf("%s: %s", req.Consumer.Hex(), text))
		l.respond(toConsumerSubj, consumerPub, &createResponse{
			ID: req.ID, Provider: l.self.Address(), Consumer: req.Consumer, ConsumerEphemeral: req.Ephemeral, Reason: text,
		})
	}
	at := time.UnixMilli(req.UnixMilli)
	if d := time.Since(at); d > MaxClockSkew || d < -MaxClockSkew {
		refuse(ReasonStale, fmt.Sprintf("dialog-create is %s off the provider's clock; check the consumer's clock", d.Round(time.Second)))
		return
	}
	l.mu.Lock()
	_, replayed := l.seen[req.ID]
	if !replayed {
		l.seen[req.ID] = time.Now()
	}
	l.mu.Unlock()
	if replayed {
		m.drop(ReasonReplayed, subj, fmt.Errorf("dialog id %s", req.ID))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	_, err = l.registry.PublicKey(ctx, req.Consumer)
	cancel()
	if err != nil {
		if errors.Is(err, registry.ErrNotRegistered) {
			refuse(ReasonUnregistered, "consumer not registered")
		} else {
			refuse(ReasonRegistryFailed, "provider could not check the consumer's registration; try again")
		}
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
	}
	l.dialogs[req.ID] = d
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
	l.respond(toConsumerSubj, consumerPub, &createResponse{
		ID: req.ID, Provider: l.self.Address(), Consumer: req.Consumer, ConsumerEphemeral: req.Ephemeral,
		Accepted: true, Ephemeral: eph,
	})
}

func (l *Listener) forget(d *Dialog) {
	l.mu.Lock()
	delete(l.dialogs, d.id)
	l.mu.Unlock()
}

func (l *Listener) respond(subject string, consumerPub []byte, r *createResponse) {
	sig, err := l.self.Sign(r.signedBytes())
	if err != nil {
		return
	}
	r.Sig = sig
	ct, err := identity.EncryptTo(consumerPub, r.marshal())
	if err != nil {
		return
	}
	l.nc.Publish(subject, append([]byte{tagResponse}, ct...))
}
