package dialog

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/mystnode/myst/identity"
	"github.com/nats-io/nats.go"
)

// DialConfig configures a consumer's dial.
type DialConfig struct {
	// Setup is called with the dialog before any message can arrive; it
	// sets the dialog's handlers.
	Setup   func(*Dialog)
	Metrics *Metrics
	// Now is the clock the create is stamped with (default time.Now).
	Now func() time.Time
}

// Dial opens a dialog from self (a consumer) to provider: it looks up the
// provider's registered key, sends a signed dialog-create encrypted to it,
// and waits (until ctx ends) for an answer signed by that provider. Answers
// signed by anyone else are dropped and counted.
func Dial(ctx context.Context, nc *nats.Conn, self *identity.Signer, provider common.Address, reg Registry, cfg DialConfig) (*Dialog, error) {
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(nil, nil)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m := cfg.Metrics
	providerPub, err := reg.PublicKey(ctx, provider)
	if err != nil {
		return nil, fmt.Errorf("provider %s: %w", provider.Hex(), err)
	}
	var id ID
	if _, err := rand.Read(id[:]); err != nil {
		return nil, err
	}
	priv, eph, err := newEphemeral()
	if err != nil {
		return nil, err
	}
	req := &createRequest{ID: id, Consumer: self.Address(), Provider: provider, UnixMilli: cfg.Now().UnixMilli(), Ephemeral: eph}
	if req.Sig, err = self.Sign(req.signedBytes()); err != nil {
		return nil, err
	}
	ct, err := identity.EncryptTo(providerPub, req.marshal())
	if err != nil {
		return nil, err
	}

	d := newDialog(id, self, provider, "consumer", nc, m)
	if cfg.Setup != nil {
		cfg.Setup(d)
	}
	// Until the handshake completes, the inbound subject carries the answer;
	// afterwards, sealed messages.
	answers := make(chan *createResponse, 1)
	ready := make(chan struct{})
	sub, err := nc.Subscribe(d.inSubj, func(msg *nats.Msg) {
		select {
		case <-ready:
			d.receive(msg.Data)
			return
		default:
		}
		r, reason, err := openResponse(self, msg.Data)
		if err == nil && (r.Provider != provider || r.Consumer != self.Address() || r.ID != id || r.ConsumerEphemeral != eph) {
			reason, err = ReasonWrongPeer, errors.New("answer for another dialog")
		}
		if err == nil {
			var signer common.Address
			signer, _, err = identity.Recover(r.signedBytes(), r.Sig)
			if err == nil && signer != provider {
				err = fmt.Errorf("answer signed by %s, not the provider %s", signer.Hex(), provider.Hex())
			}
			reason = ReasonBadSignature
		}
		if err != nil {
			m.drop(reason, msg.Subject, err)
			return
		}
		if r.Accepted {
			// Keys are set here, before the next message on this subject is
			// handled (a subscription's callbacks run one at a time).
			toP, toC, err := sessionKeys(priv, r.Ephemeral, id, self.Address(), provider, eph, r.Ephemeral)
			if err != nil {
				m.drop(ReasonGarbage, msg.Subject, err)
				return
			}
			d.setKeys(toP, toC)
			close(ready)
		}
		select {
		case answers <- r:
		default:
		}
	})
	if err != nil {
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	sub.SetPendingLimits(4096, 16<<20)
	d.sub = sub
	fail := func(err error) (*Dialog, error) {
		d.shutdown(err)
		return nil, err
	}
	if err := nc.Flush(); err != nil {
		return fail(fmt.Errorf("broker: %w", err))
	}
	// The create is sent again, with backoff, until answered: a broker
	// may lose it (interest not yet propagated across a cluster, a
	// reconnect) and a busy provider may shed it. The provider answers a
	// retransmit of a create it accepted with the same answer.
	create := append([]byte{tagCreate}, ct...)
	retransmit := time.NewTimer(0)
	defer retransmit.Stop()
	for wait := RetransmitAfter; ; wait = min(2*wait, 8*RetransmitAfter) {
		select {
		case r := <-answers:
			if !r.Accepted {
				return fail(fmt.Errorf("%w by %s: %s", ErrRefused, provider.Hex(), r.Reason))
			}
			m.Opened.WithLabelValues("consumer").Inc()
			return d, nil
		case <-ctx.Done():
			return fail(fmt.Errorf("%w from %s within the timeout: %w", ErrTimeout, provider.Hex(), ctx.Err()))
		case <-retransmit.C:
			if err := nc.Publish(CreateSubject(provider, self.Address()), create); err != nil {
				return fail(fmt.Errorf("publish dialog-create: %w", err))
			}
			retransmit.Reset(wait)
		}
	}
}

// RetransmitAfter is how long Dial waits for an answer before sending the
// create again; the wait doubles up to eight times this.
const RetransmitAfter = time.Second

func openResponse(self *identity.Signer, data []byte) (*createResponse, string, error) {
	if len(data) < 2 || data[0] != tagResponse {
		return nil, ReasonGarbage, fmt.Errorf("%w: not a dialog answer", errMalformed)
	}
	plain, err := self.Decrypt(data[1:])
	if err != nil {
		return nil, ReasonGarbage, fmt.Errorf("decrypt answer: %w", err)
	}
	r, err := decodeCreateResponse(plain)
	if err != nil {
		return nil, ReasonGarbage, err
	}
	return r, "", nil
}

// CreateMessage is a dialog-create from self to provider, signed and
// encrypted to providerPub as Dial sends it, and the subject to publish it
// on; for load and flood tools. Nobody waits for its answer.
func CreateMessage(self *identity.Signer, provider common.Address, providerPub []byte) (subject string, msg []byte, err error) {
	var id ID
	if _, err := rand.Read(id[:]); err != nil {
		return "", nil, err
	}
	_, eph, err := newEphemeral()
	if err != nil {
		return "", nil, err
	}
	req := &createRequest{ID: id, Consumer: self.Address(), Provider: provider, UnixMilli: time.Now().UnixMilli(), Ephemeral: eph}
	if req.Sig, err = self.Sign(req.signedBytes()); err != nil {
		return "", nil, err
	}
	ct, err := identity.EncryptTo(providerPub, req.marshal())
	if err != nil {
		return "", nil, err
	}
	return CreateSubject(provider, self.Address()), append([]byte{tagCreate}, ct...), nil
}
