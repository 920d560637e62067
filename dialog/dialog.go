// Package dialog is the default communication channel between two
// identities over the message broker: a signed X25519 handshake, then
// messages each signed by its sender and sealed with AES-GCM, numbered and
// checked against a replay window; request/response with correlation ids
// and timeouts, and one-way messages.
package dialog

import (
	"context"
	"crypto/cipher"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/mystnode/myst/broker"
	"github.com/mystnode/myst/identity"
	"github.com/nats-io/nats.go"
)

// Sentinel errors, for errors.Is.
var (
	ErrClosed    = errors.New("dialog closed")
	ErrTimeout   = errors.New("no answer")
	ErrRefused   = errors.New("dialog refused")
	ErrNoHandler = errors.New("no handler for topic")
	ErrTooLarge  = errors.New("payload too large")
)

// HandlerFunc answers a request (its result goes back to the peer) or takes
// a one-way message (its result is dropped).
type HandlerFunc func(ctx context.Context, payload []byte) ([]byte, error)

// RemoteError is an error the peer's handler returned.
type RemoteError struct{ Text string }

func (e *RemoteError) Error() string { return "peer: " + e.Text }

// Dialog is one open dialog between a consumer and a provider. It is safe
// for concurrent use.
type Dialog struct {
	id      ID
	self    *identity.Signer
	peer    common.Address
	role    string
	nc      *nats.Conn
	outSubj string
	inSubj  string
	sendDir byte
	recvDir byte
	metrics *Metrics

	send struct {
		sync.Mutex
		aead cipher.AEAD
		seq  uint64
	}
	recv struct {
		sync.Mutex
		aead   cipher.AEAD
		window replayWindow
	}
	pending struct {
		sync.Mutex
		calls map[uint64]chan *frame
	}
	handlers struct {
		sync.RWMutex
		byTopic map[string]HandlerFunc
	}
	nextCorr   atomic.Uint64
	lastActive atomic.Int64 // unix nanoseconds of the last accepted message
	created    int64        // unix nanoseconds of the dialog's creation

	sub       *nats.Subscription
	closeOnce sync.Once
	closed    chan struct{}
	closeErr  error
	onClose   func(*Dialog)

	ctx    context.Context // cancelled on close; handlers run under it
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// subjects are a dialog's two directions, each from one peer to the
// other.
func subjects(id ID, consumer, provider common.Address) (toProviderSubj, toConsumerSubj string) {
	kind := "d." + id.String()
	return broker.Subject(provider, consumer, kind), broker.Subject(consumer, provider, kind)
}

func newDialog(id ID, self *identity.Signer, peer common.Address, role string, nc *nats.Conn, metrics *Metrics) *Dialog {
	d := &Dialog{id: id, self: self, peer: peer, role: role, nc: nc, metrics: metrics, closed: make(chan struct{})}
	consumer, provider := self.Address(), peer
	if role != "consumer" {
		consumer, provider = peer, self.Address()
	}
	toP, toC := subjects(id, consumer, provider)
	if role == "consumer" {
		d.outSubj, d.inSubj, d.sendDir, d.recvDir = toP, toC, toProvider, toConsumer
	} else {
		d.outSubj, d.inSubj, d.sendDir, d.recvDir = toC, toP, toConsumer, toProvider
	}
	d.pending.calls = map[uint64]chan *frame{}
	d.handlers.byTopic = map[string]HandlerFunc{}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	d.created = time.Now().UnixNano()
	d.lastActive.Store(d.created)
	return d
}

func (d *Dialog) setKeys(toP, toC cipher.AEAD) {
	if d.role == "consumer" {
		d.send.aead, d.recv.aead = toP, toC
	} else {
		d.send.aead, d.recv.aead = toC, toP
	}
}

// ID is the dialog's id.
func (d *Dialog) ID() ID { return d.id }

// Peer is the identity at the other end.
func (d *Dialog) Peer() common.Address { return d.peer }

// Self is this end's identity.
func (d *Dialog) Self() common.Address { return d.self.Address() }

// Done is closed when the dialog closes, from either side.
func (d *Dialog) Done() <-chan struct{} { return d.closed }

// Err says why the dialog closed (nil while open).
func (d *Dialog) Err() error {
	select {
	case <-d.closed:
		return d.closeErr
	default:
		return nil
	}
}

// LastActive is when the peer last sent an accepted message.
func (d *Dialog) LastActive() time.Time { return time.Unix(0, d.lastActive.Load()) }

// silent reports whether no message was accepted since the dialog opened.
func (d *Dialog) silent() bool { return d.lastActive.Load() == d.created }

// Handle sets the handler for requests and one-way messages on topic.
func (d *Dialog) Handle(topic string, h HandlerFunc) {
	d.handlers.Lock()
	d.handlers.byTopic[topic] = h
	d.handlers.Unlock()
}

// Request sends payload on topic and waits for the peer's answer until ctx
// ends.
func (d *Dialog) Request(ctx context.Context, topic string, payload []byte) ([]byte, error) {
	corr := d.nextCorr.Add(1)
	ch := make(chan *frame, 1)
	d.pending.Lock()
	d.pending.calls[corr] = ch
	d.pending.Unlock()
	defer func() {
		d.pending.Lock()
		delete(d.pending.calls, corr)
		d.pending.Unlock()
	}()
	if err := d.write(&frame{Kind: kindRequest, Corr: corr, Topic: topic, Payload: payload}); err != nil {
		return nil, err
	}
	select {
	case f := <-ch:
		if f.Err != "" {
			return nil, &RemoteError{Text: f.Err}
		}
		return f.Payload, nil
	case <-d.closed:
		return nil, fmt.Errorf("%w while waiting for %s: %v", ErrClosed, topic, d.closeErr)
	case <-ctx.Done():
		return nil, fmt.Errorf("%w from %s to %q: %w", ErrTimeout, d.peer.Hex(), topic, ctx.Err())
	}
}

// Send sends a one-way message.
func (d *Dialog) Send(topic string, payload []byte) error {
	return d.write(&frame{Kind: kindOneWay, Topic: topic, Payload: payload})
}

// Close tells the peer and closes the dialog.
func (d *Dialog) Close() error {
	select {
	case <-d.closed:
		return nil
	default:
	}
	err := d.write(&frame{Kind: kindClose})
	d.shutdown(errors.New("closed by this side"))
	return err
}

func (d *Dialog) shutdown(reason error) {
	d.closeOnce.Do(func() {
		d.closeErr = reason
		if d.sub != nil {
			d.sub.Unsubscribe()
		}
		close(d.closed)
		d.cancel()
		if d.onClose != nil {
			d.onClose(d)
		}
	})
}

// wait waits for handlers still running; used by tests and listeners.
func (d *Dialog) wait() { d.wg.Wait() }

// write signs, seals and publishes one frame.
func (d *Dialog) write(f *frame) error {
	if len(f.Payload) > MaxPayload {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrTooLarge, len(f.Payload), MaxPayload)
	}
	if len(f.Topic) > maxTopic {
		return fmt.Errorf("topic %q longer than %d bytes", f.Topic, maxTopic)
	}
	if len(f.Err) > maxErrText {
		f.Err = f.Err[:maxErrText]
	}
	select {
	case <-d.closed:
		if f.Kind != kindClose {
			return ErrClosed
		}
	default:
	}
	plain := f.marshal(make([]byte, 0, 12+len(f.Topic)+len(f.Err)+len(f.Payload)+sigLen))

	d.send.Lock()
	d.send.seq++
	seq := d.send.seq
	sig, err := d.self.Sign(messageSignedBytes(d.id, d.sendDir, seq, plain))
	if err != nil {
		d.send.Unlock()
		return err
	}
	plain = append(plain, sig...)
	out := make([]byte, 9, 9+len(plain)+d.send.aead.Overhead())
	out[0] = tagMessage
	putSeq(out[1:9], seq)
	out = d.send.aead.Seal(out, nonce(seq), plain, associatedData(d.id, d.sendDir, seq))
	// Publish under the lock so sequence numbers leave in order.
	err = d.nc.Publish(d.outSubj, out)
	d.send.Unlock()
	if err != nil {
		return fmt.Errorf("publish to broker: %w", err)
	}
	d.metrics.Messages.WithLabelValues("sent").Inc()
	return nil
}

func putSeq(b []byte, seq uint64) {
	for i := 7; i >= 0; i-- {
		b[i] = byte(seq)
		seq >>= 8
	}
}

// receive handles one broker message on the dialog's inbound subject.
func (d *Dialog) receive(data []byte) {
	if len(data) == 0 {
		d.metrics.drop(ReasonGarbage, d.inSubj, errMalformed)
		return
	}
	if data[0] != tagMessage {
		// A late or repeated create response, or garbage.
		d.metrics.drop(ReasonGarbage, d.inSubj, fmt.Errorf("%w: tag %q", errMalformed, data[0]))
		return
	}
	seq, ct, err := splitSealed(data)
	if err != nil {
		d.metrics.drop(ReasonGarbage, d.inSubj, err)
		return
	}
	d.recv.Lock()
	if !d.recv.window.check(seq) {
		reason := ReasonReplayed
		if seq+windowSize <= d.recv.window.max {
			reason = ReasonTooOld
		}
		d.recv.Unlock()
		d.metrics.drop(reason, d.inSubj, fmt.Errorf("sequence %d", seq))
		return
	}
	plain, err := d.recv.aead.Open(nil, nonce(seq), ct, associatedData(d.id, d.recvDir, seq))
	if err != nil {
		d.recv.Unlock()
		d.metrics.drop(ReasonTampered, d.inSubj, err)
		return
	}
	if len(plain) < sigLen {
		d.recv.Unlock()
		d.metrics.drop(ReasonGarbage, d.inSubj, errMalformed)
		return
	}
	body, sig := plain[:len(plain)-sigLen], plain[len(plain)-sigLen:]
	signer, _, err := identity.Recover(messageSignedBytes(d.id, d.recvDir, seq, body), sig)
	if err != nil || signer != d.peer {
		d.recv.Unlock()
		d.metrics.drop(ReasonBadSignature, d.inSubj, fmt.Errorf("signed by %s, want %s: %v", signer.Hex(), d.peer.Hex(), err))
		return
	}
	d.recv.window.accept(seq)
	d.recv.Unlock()

	f, err := decodeFrame(body)
	if err != nil {
		d.metrics.drop(ReasonGarbage, d.inSubj, err)
		return
	}
	d.lastActive.Store(time.Now().UnixNano())
	d.metrics.Messages.WithLabelValues("received").Inc()
	d.dispatch(f)
}

func (d *Dialog) dispatch(f *frame) {
	switch f.Kind {
	case kindResponse:
		d.pending.Lock()
		ch := d.pending.calls[f.Corr]
		d.pending.Unlock()
		if ch != nil {
			select {
			case ch <- f:
			default:
			}
		}
	case kindRequest, kindOneWay:
		d.handlers.RLock()
		h := d.handlers.byTopic[f.Topic]
		d.handlers.RUnlock()
		// Handlers run on their own goroutine so a slow one does not stall
		// the dialog; payload is a fresh slice (AEAD Open allocated it).
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			var out []byte
			var err error
			if h == nil {
				err = fmt.Errorf("%w %q", ErrNoHandler, f.Topic)
			} else {
				out, err = h(d.ctx, f.Payload)
			}
			if f.Kind == kindRequest {
				resp := &frame{Kind: kindResponse, Corr: f.Corr, Topic: f.Topic, Payload: out}
				if err != nil {
					resp.Payload, resp.Err = nil, err.Error()
				}
				d.write(resp)
			}
		}()
	case kindClose:
		d.shutdown(errors.New("closed by the peer"))
	}
}
