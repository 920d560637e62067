package dialog

import (
	"bytes"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mystnode/myst/mysttest"
	"github.com/mystnode/myst/registry/registrytest"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// capture records every message on the broker.
type capture struct {
	mu   sync.Mutex
	msgs []*nats.Msg
}

func sniff(t *testing.T, url string) *capture {
	t.Helper()
	c := &capture{}
	nc := mysttest.Connect(t, url)
	if _, err := nc.Subscribe(">", func(m *nats.Msg) {
		c.mu.Lock()
		c.msgs = append(c.msgs, m)
		c.mu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	nc.Flush()
	return c
}

func (c *capture) on(subject string) []*nats.Msg {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*nats.Msg
	for _, m := range c.msgs {
		if m.Subject == subject {
			out = append(out, m)
		}
	}
	return out
}

func (c *capture) all() []*nats.Msg {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*nats.Msg(nil), c.msgs...)
}

func dropped(m *Metrics, reason string) float64 {
	return testutil.ToFloat64(m.Dropped.WithLabelValues(reason))
}

// stillServes checks the dialog answers after an attack.
func stillServes(t *testing.T, d *Dialog) {
	t.Helper()
	got, err := d.Request(mysttest.Ctx(t, 5*time.Second), "echo", []byte("still here"))
	if err != nil || string(got) != "still here" {
		t.Fatalf("dialog after attack: %q, %v", got, err)
	}
}

func TestNoPlaintextOnBroker(t *testing.T) {
	srv := mysttest.StartBroker(t)
	c := sniff(t, srv.URL())
	p := newPair(t, srv.URL(), srv.URL())
	secret := []byte("attack at dawn: the plaintext that must not show")
	for range 3 {
		if _, err := p.dialog.Request(mysttest.Ctx(t, 5*time.Second), "echo", secret); err != nil {
			t.Fatal(err)
		}
	}
	p.dialog.Send("echo", secret)
	p.dialog.Close()
	// The whole dialog: create, answer, three requests and their answers,
	// the one-way message and the close.
	mysttest.WaitFor(t, 5*time.Second, func() bool { return len(c.all()) >= 10 })
	msgs := c.all()
	forbidden := [][]byte{secret[:12], []byte("echo"), p.consumer.Address().Bytes(), []byte(strings.ToLower(p.consumer.Address().Hex()[2:])),
		[]byte(p.consumer.Address().Hex()[2:]), p.consumer.PublicKey()[:16]}
	for _, m := range msgs {
		for _, f := range forbidden {
			if bytes.Contains(m.Data, f) {
				t.Fatalf("broker message on %s contains %q in the clear", m.Subject, f)
			}
		}
	}
}

func TestTamperedReplayedForgedDropped(t *testing.T) {
	srv := mysttest.StartBroker(t)
	c := sniff(t, srv.URL())
	p := newPair(t, srv.URL(), srv.URL())
	if _, err := p.dialog.Request(mysttest.Ctx(t, 5*time.Second), "echo", []byte("one")); err != nil {
		t.Fatal(err)
	}
	toP, _ := subjects(p.dialog.ID(), p.consumer.Address(), p.provider.Address())
	mysttest.WaitFor(t, 2*time.Second, func() bool { return len(c.on(toP)) > 0 })
	orig := c.on(toP)[0].Data
	raw := mysttest.Connect(t, srv.URL())

	// Replayed: the same bytes again.
	raw.Publish(toP, orig)
	// Tampered: one ciphertext bit flipped (under a fresh sequence number,
	// else the replay window drops it first).
	tampered := bytes.Clone(orig)
	tampered[8] += 50
	tampered[len(tampered)-20] ^= 1
	raw.Publish(toP, tampered)
	// Tampered sequence number: AEAD binds it.
	reseq := bytes.Clone(orig)
	reseq[8] += 100
	raw.Publish(toP, reseq)
	// Garbage.
	raw.Publish(toP, []byte("garbage"))
	raw.Publish(toP, nil)
	raw.Publish(CreateSubject(p.provider.Address(), p.consumer.Address()), []byte("C not ecies"))
	raw.Publish(CreateSubject(p.provider.Address(), p.consumer.Address()), []byte{})
	raw.Flush()

	mysttest.WaitFor(t, 5*time.Second, func() bool {
		return dropped(p.pMetrics, ReasonReplayed) == 1 && dropped(p.pMetrics, ReasonTampered) == 2 && dropped(p.pMetrics, ReasonGarbage) == 4
	})
	stillServes(t, p.dialog)

	// Signed by someone else: a message sealed with the dialog's own keys
	// (as if the keys leaked) but signed by a third identity.
	mallory := mysttest.NewSigner(t)
	forged := newDialog(p.dialog.ID(), mallory, p.provider.Address(), "consumer", raw, NewMetrics(nil, nil))
	forged.send.aead = p.dialog.send.aead
	forged.outSubj = p.dialog.outSubj // on an open broker anyone may publish there
	p.dialog.send.Lock()
	forged.send.seq = p.dialog.send.seq + 10
	p.dialog.send.Unlock()
	if err := forged.write(&frame{Kind: kindOneWay, Topic: "echo", Payload: []byte("forged")}); err != nil {
		t.Fatal(err)
	}
	mysttest.WaitFor(t, 5*time.Second, func() bool { return dropped(p.pMetrics, ReasonBadSignature) == 1 })
	stillServes(t, p.dialog)

	// Reordered beyond the window: an old sequence number after many new ones.
	for range windowSize + 5 {
		if err := p.dialog.Send("nothing", nil); err != nil {
			t.Fatal(err)
		}
	}
	stillServes(t, p.dialog)
	raw.Publish(toP, orig)
	raw.Flush()
	mysttest.WaitFor(t, 5*time.Second, func() bool { return dropped(p.pMetrics, ReasonTooOld) == 1 })
	stillServes(t, p.dialog)
}

func TestReplayedCreateDropped(t *testing.T) {
	srv := mysttest.StartBroker(t)
	c := sniff(t, srv.URL())
	p := newPair(t, srv.URL(), srv.URL())
	subj := CreateSubject(p.provider.Address(), p.consumer.Address())
	mysttest.WaitFor(t, 2*time.Second, func() bool { return len(c.on(subj)) == 1 })
	raw := mysttest.Connect(t, srv.URL())
	raw.Publish(subj, c.on(subj)[0].Data)
	raw.Flush()
	mysttest.WaitFor(t, 5*time.Second, func() bool { return dropped(p.pMetrics, ReasonReplayed) == 1 })
	if n := len(p.listener.Dialogs()); n != 1 {
		t.Fatalf("%d dialogs after a replayed create, want 1", n)
	}
	stillServes(t, p.dialog)
}

func TestImpostorOnProviderSubject(t *testing.T) {
	// Mallory listens on the provider's subject, but the create is
	// encrypted to the provider: she can't read it or learn the keys. With
	// no real provider there, the consumer times out with a clear error.
	srv := mysttest.StartBroker(t)
	provider, consumer, mallory := mysttest.NewSigner(t), mysttest.NewSigner(t), mysttest.NewSigner(t)
	reg := registrytest.New(provider, consumer, mallory)
	mnc := mysttest.Connect(t, srv.URL())
	readable := make(chan bool, 1)
	sub, err := mnc.Subscribe(CreatesTo(provider.Address()), func(m *nats.Msg) {
		_, err := mallory.Decrypt(m.Data[1:])
		readable <- err == nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	mnc.Flush()
	_, err = Dial(mysttest.Ctx(t, 500*time.Millisecond), mysttest.Connect(t, srv.URL()), consumer, provider.Address(), reg, DialConfig{})
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("dial with only an impostor listening: %v", err)
	}
	if <-readable {
		t.Fatal("mallory decrypted a create meant for the provider")
	}
}

func TestForgedAnswerWithKnownDialogID(t *testing.T) {
	// A stronger impostor who learned the dialog id (it is in the subject)
	// answers, signed by herself; the consumer drops it and accepts only
	// the real provider's answer.
	srv := mysttest.StartBroker(t)
	provider, consumer, mallory := mysttest.NewSigner(t), mysttest.NewSigner(t), mysttest.NewSigner(t)
	reg := registrytest.New(provider, consumer, mallory)
	mnc := mysttest.Connect(t, srv.URL())
	idCh := make(chan ID, 1)
	cm := NewMetrics(nil, nil)
	cnc := mysttest.Connect(t, srv.URL())
	l, err := Listen(mysttest.Connect(t, srv.URL()), provider, reg, ListenConfig{Accept: func(d *Dialog) {
		d.Handle("echo", echo)
		idCh <- d.ID()
		// Mallory's answer arrives first: published before the real one.
		forged := &createResponse{ID: d.ID(), Provider: provider.Address(), Consumer: consumer.Address(), Accepted: true}
		forged.Sig, _ = mallory.Sign(forged.signedBytes())
		ct, _ := encryptToSigner(consumer, forged.marshal())
		_, toC := subjects(d.ID(), consumer.Address(), provider.Address())
		mnc.Publish(toC, append([]byte{tagResponse}, ct...))
		mnc.Flush()
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	d, err := Dial(mysttest.Ctx(t, 5*time.Second), cnc, consumer, provider.Address(), reg, DialConfig{Metrics: cm})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	<-idCh
	stillServes(t, d)
	// The forged answer is dropped: before the handshake completes as an
	// answer for another dialog or signer, after it (NATS does not order
	// messages from different connections) as an unexpected answer.
	mysttest.WaitFor(t, 5*time.Second, func() bool {
		return dropped(cm, ReasonWrongPeer)+dropped(cm, ReasonBadSignature)+dropped(cm, ReasonGarbage) == 1
	})
}

func encryptToSigner(to interface{ PublicKey() []byte }, msg []byte) ([]byte, error) {
	return encryptTo(to.PublicKey(), msg)
}

// TestCreateSentAsAnotherDropped: a create signed by one consumer but sent
// with another identity as the subject's sender (what broker admission
// stops at the broker; on an open broker the listener stops it) is
// dropped, and nobody answers it.
func TestCreateSentAsAnotherDropped(t *testing.T) {
	srv := mysttest.StartBroker(t)
	p := newPair(t, srv.URL(), srv.URL())
	mallory := mysttest.NewSigner(t)
	p.reg.Add(mallory)
	_, msg, err := CreateMessage(mallory, p.provider.Address(), p.provider.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	raw := mysttest.Connect(t, srv.URL())
	raw.Publish(CreateSubject(p.provider.Address(), p.consumer.Address()), msg)
	raw.Flush()
	mysttest.WaitFor(t, 5*time.Second, func() bool { return dropped(p.pMetrics, ReasonWrongPeer) == 1 })
	if n := len(p.listener.Dialogs()); n != 1 {
		t.Fatalf("%d dialogs, want only the pair's", n)
	}
}
