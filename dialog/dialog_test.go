package dialog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/mysttest"
	"github.com/mystnode/myst/registry"
	"github.com/mystnode/myst/registry/registrytest"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, mysttest.LeakOptions()...)
}

// pair is a provider listening and a consumer's open dialog to it.
type pair struct {
	provider, consumer *identity.Signer
	listener           *Listener
	dialog             *Dialog
	pMetrics, cMetrics *Metrics
	pConn, cConn       *nats.Conn
	reg                *registrytest.Registry
	accepted           chan *Dialog
}

func echo(_ context.Context, p []byte) ([]byte, error) { return p, nil }

func newPair(t testing.TB, pURL, cURL string) *pair {
	t.Helper()
	return newPairThen(t, pURL, cURL, nil)
}

// newPairThen is newPair with beforeDial run between the provider's
// Listen and the consumer's Dial.
func newPairThen(t testing.TB, pURL, cURL string, beforeDial func(p *pair)) *pair {
	t.Helper()
	p := &pair{provider: mysttest.NewSigner(t), consumer: mysttest.NewSigner(t), pMetrics: NewMetrics(nil, nil), cMetrics: NewMetrics(nil, nil),
		accepted: make(chan *Dialog, 16)}
	p.reg = registrytest.New(p.provider, p.consumer)
	p.pConn, p.cConn = mysttest.Connect(t, pURL), mysttest.Connect(t, cURL)
	l, err := Listen(p.pConn, p.provider, p.reg, ListenConfig{Metrics: p.pMetrics, Accept: func(d *Dialog) {
		d.Handle("echo", echo)
		d.Handle("fail", func(context.Context, []byte) ([]byte, error) { return nil, errors.New("handler says no") })
		select {
		case p.accepted <- d:
		default:
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	p.listener = l
	if beforeDial != nil {
		beforeDial(p)
	}
	d, err := Dial(mysttest.Ctx(t, 10*time.Second), p.cConn, p.consumer, p.provider.Address(), p.reg, DialConfig{Metrics: p.cMetrics})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close(); d.wait() })
	p.dialog = d
	return p
}

func TestRequestResponseOneWayClose(t *testing.T) {
	srv := mysttest.StartBroker(t)
	p := newPair(t, srv.URL(), srv.URL())
	ctx := mysttest.Ctx(t, 10*time.Second)
	for i := range 20 {
		msg := []byte(fmt.Sprintf("hello %d", i))
		got, err := p.dialog.Request(ctx, "echo", msg)
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("echo %d = %q, %v", i, got, err)
		}
	}
	if _, err := p.dialog.Request(ctx, "fail", nil); err == nil || !strings.Contains(err.Error(), "handler says no") {
		t.Fatalf("failing handler: %v", err)
	}
	if _, err := p.dialog.Request(ctx, "nope", nil); err == nil || !strings.Contains(err.Error(), "no handler") {
		t.Fatalf("unknown topic: %v", err)
	}
	// One-way consumer -> provider.
	pd := <-p.accepted
	got := make(chan []byte, 1)
	pd.Handle("note", func(_ context.Context, b []byte) ([]byte, error) { got <- b; return nil, nil })
	if err := p.dialog.Send("note", []byte("fyi")); err != nil {
		t.Fatal(err)
	}
	select {
	case b := <-got:
		if string(b) != "fyi" {
			t.Fatalf("one-way got %q", b)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("one-way message not delivered")
	}
	// Provider -> consumer request.
	p.dialog.Handle("echo", echo)
	if b, err := pd.Request(ctx, "echo", []byte("back")); err != nil || string(b) != "back" {
		t.Fatalf("provider request: %q, %v", b, err)
	}
	if pd.Peer() != p.consumer.Address() || p.dialog.Peer() != p.provider.Address() {
		t.Fatal("peers mixed up")
	}
	// Consumer closes: the provider's side closes too.
	p.dialog.Close()
	select {
	case <-pd.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("provider's dialog still open after consumer closed")
	}
	if _, err := p.dialog.Request(ctx, "echo", nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("request on closed dialog: %v", err)
	}
	mysttest.WaitFor(t, 5*time.Second, func() bool { return len(p.listener.Dialogs()) == 0 })
	if n := testutil.ToFloat64(p.pMetrics.Dropped.WithLabelValues(ReasonGarbage)); n != 0 {
		t.Fatalf("%v messages dropped in a clean dialog", n)
	}
}

func TestProviderClosesDialog(t *testing.T) {
	srv := mysttest.StartBroker(t)
	p := newPair(t, srv.URL(), srv.URL())
	pd := <-p.accepted
	pd.Close()
	select {
	case <-p.dialog.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("consumer's dialog still open after provider closed")
	}
	if _, err := p.dialog.Request(mysttest.Ctx(t, time.Second), "echo", nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("request after close: %v", err)
	}
}

func TestUnregisteredConsumerRefused(t *testing.T) {
	srv := mysttest.StartBroker(t)
	provider, stranger := mysttest.NewSigner(t), mysttest.NewSigner(t)
	reg := registrytest.New(provider) // the consumer is not registered
	m := NewMetrics(nil, nil)
	l, err := Listen(mysttest.Connect(t, srv.URL()), provider, reg, ListenConfig{Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, err = Dial(mysttest.Ctx(t, 5*time.Second), mysttest.Connect(t, srv.URL()), stranger, provider.Address(), reg, DialConfig{})
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "consumer not registered") {
		t.Fatalf("Dial by unregistered consumer: %v", err)
	}
	if n := testutil.ToFloat64(m.Refused.WithLabelValues(ReasonUnregistered)); n != 1 {
		t.Fatalf("refused{unregistered} = %v", n)
	}
	// And an unregistered provider can't be dialled.
	ghost := mysttest.NewSigner(t)
	if _, err := Dial(mysttest.Ctx(t, time.Second), mysttest.Connect(t, srv.URL()), provider, ghost.Address(), reg, DialConfig{}); !errors.Is(err, registry.ErrNotRegistered) {
		t.Fatalf("dial unregistered provider: %v", err)
	}
}

func TestNoProviderTimesOut(t *testing.T) {
	srv := mysttest.StartBroker(t)
	provider, consumer := mysttest.NewSigner(t), mysttest.NewSigner(t)
	reg := registrytest.New(provider, consumer)
	start := time.Now()
	_, err := Dial(mysttest.Ctx(t, 300*time.Millisecond), mysttest.Connect(t, srv.URL()), consumer, provider.Address(), reg, DialConfig{})
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("dial with nobody listening: %v", err)
	}
	if time.Since(start) > 3*time.Second {
		t.Fatal("dial hung past its deadline")
	}
}

func TestCapacity(t *testing.T) {
	srv := mysttest.StartBroker(t)
	provider := mysttest.NewSigner(t)
	c1, c2 := mysttest.NewSigner(t), mysttest.NewSigner(t)
	reg := registrytest.New(provider, c1, c2)
	l, err := Listen(mysttest.Connect(t, srv.URL()), provider, reg, ListenConfig{MaxDialogs: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	d, err := Dial(mysttest.Ctx(t, 5*time.Second), mysttest.Connect(t, srv.URL()), c1, provider.Address(), reg, DialConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := Dial(mysttest.Ctx(t, 5*time.Second), mysttest.Connect(t, srv.URL()), c2, provider.Address(), reg, DialConfig{}); err == nil || !strings.Contains(err.Error(), "capacity") {
		t.Fatalf("second dialog past capacity: %v", err)
	}
}

func TestManyDialogsAtOnce(t *testing.T) {
	srv := mysttest.StartBroker(t)
	provider := mysttest.NewSigner(t)
	reg := registrytest.New(provider)
	l, err := Listen(mysttest.Connect(t, srv.URL()), provider, reg, ListenConfig{Accept: func(d *Dialog) { d.Handle("echo", echo) }})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	const n = 50
	consumers := make([]*identity.Signer, n)
	for i := range consumers {
		consumers[i] = mysttest.NewSigner(t)
		reg.Add(consumers[i])
	}
	nc := mysttest.Connect(t, srv.URL())
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			d, err := Dial(ctx, nc, consumers[i], provider.Address(), reg, DialConfig{})
			if err != nil {
				errs <- err
				return
			}
			defer d.Close()
			for j := range 5 {
				want := fmt.Sprintf("%d/%d", i, j)
				got, err := d.Request(ctx, "echo", []byte(want))
				if err != nil || string(got) != want {
					errs <- fmt.Errorf("dialog %d: %q, %v", i, got, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
