package session

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/mystnode/myst/broker"
	"github.com/mystnode/myst/dialog"
	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/mysttest"
	"github.com/mystnode/myst/proposal"
	"github.com/mystnode/myst/registry/registrytest"
	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type noop struct {
	mu      sync.Mutex
	started map[string]bool
	configs []string // consumer configs seen in session-create
}

func (n *noop) Start(_ context.Context, s Info, consumerConfig json.RawMessage) (json.RawMessage, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.started[s.ID] = true
	n.configs = append(n.configs, string(consumerConfig))
	return json.RawMessage(`{"hello":"consumer"}`), nil
}

func (n *noop) Bytes(string) (uint64, uint64) { return 0, 0 }
func (n *noop) Close() error                  { return nil }

func (n *noop) Stop(s Info) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.started, s.ID)
}

func (n *noop) live() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.started)
}

type noopConnector struct{ up bool }

func (c *noopConnector) Connect(context.Context, string, json.RawMessage) error {
	c.up = true
	return nil
}
func (c *noopConnector) Disconnect() { c.up = false }
func (c *noopConnector) Config() (json.RawMessage, error) {
	return json.RawMessage(`{"hello":"provider"}`), nil
}
func (c *noopConnector) Stats() Stats          { return Stats{} }
func (c *noopConnector) Down() <-chan struct{} { return nil }

type env struct {
	nc       *nats.Conn
	reg      *registrytest.Registry
	provider *identity.Signer
	prov     *Provider
	backend  *noop
	svc      *Service
}

func setup(t *testing.T, maxSessions int, price proposal.Price) *env {
	nc := mysttest.Connect(t, mysttest.StartBroker(t).URL())
	e := &env{nc: nc, reg: registrytest.New(), provider: mysttest.NewSigner(t), backend: &noop{started: map[string]bool{}}}
	e.reg.Add(e.provider)
	e.prov = NewProvider(ProviderConfig{KeepAliveTimeout: 600 * time.Millisecond})
	t.Cleanup(e.prov.Close)
	e.svc = &Service{ID: "svc1", Type: "noop", Provider: e.provider.Address(), Price: price, MaxSessions: maxSessions, Provisioner: e.backend}
	if err := e.prov.AddService(e.svc); err != nil {
		t.Fatal(err)
	}
	l, err := dialog.Listen(nc, e.provider, e.reg, dialog.ListenConfig{Accept: e.prov.Attach})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return e
}

func (e *env) proposal(t *testing.T, svc string, price proposal.Price, at time.Time) proposal.Signed {
	p := &proposal.Proposal{FormatVersion: 1, ProviderID: e.provider.Address().Hex(), ServiceType: svc,
		Location: proposal.Location{Country: "DE"}, Price: price,
		Contacts:  []proposal.Contact{{Type: "nats/v1", BrokerURLs: []string{"nats://127.0.0.1:1"}, Subject: broker.Mailbox(e.provider.Address())}},
		UpdatedAt: at}
	s, err := proposal.Sign(p, e.provider)
	if err != nil {
		t.Fatal(err)
	}
	return *s
}

func (e *env) dial(t *testing.T) *dialog.Dialog {
	c := mysttest.NewSigner(t)
	e.reg.Add(c)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d, err := dialog.Dial(ctx, e.nc, c, e.provider.Address(), e.reg, dialog.DialConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

var price = proposal.Price{Currency: "MYSTT", PerHour: "0.01", PerGiB: "0.02"}

func open(t *testing.T, e *env, s proposal.Signed) (*Conn, *noopConnector, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn := &noopConnector{}
	c, err := Open(ctx, e.dial(t), s, conn, ConsumerConfig{KeepAliveEvery: 100 * time.Millisecond})
	return c, conn, err
}

func TestSessionLifecycleAndCapacity(t *testing.T) {
	e := setup(t, 1, price)
	c, conn, err := open(t, e, e.proposal(t, "noop", price, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if !conn.up || c.ID() == "" {
		t.Fatal("connector not up after Open")
	}
	e.backend.mu.Lock()
	configs := e.backend.configs
	e.backend.mu.Unlock()
	if len(configs) != 1 || configs[0] != `{"hello":"provider"}` {
		t.Fatalf("the provider saw consumer configs %q", configs)
	}
	sessions := e.prov.Sessions()
	if len(sessions) != 1 || sessions[0].State != StateActive || sessions[0].ID != c.ID() {
		t.Fatalf("provider sessions %+v", sessions)
	}
	// Keep-alives hold it past the provider's 600 ms timeout.
	time.Sleep(time.Second)
	if e.prov.CountFor("svc1") != 1 {
		t.Fatal("kept-alive session was reaped")
	}
	// A second consumer is refused for capacity.
	_, _, err = open(t, e, e.proposal(t, "noop", price, time.Now()))
	var re *RefusedError
	if !errors.As(err, &re) || re.Reason != RefuseCapacity {
		t.Fatalf("second session: %v", err)
	}
	// Disconnect ends it on both sides and frees the slot.
	c.Close()
	if conn.up {
		t.Fatal("connector still up after Close")
	}
	mysttest.WaitFor(t, 5*time.Second, func() bool { return e.prov.CountFor("svc1") == 0 && e.backend.live() == 0 })
	if _, _, err := open(t, e, e.proposal(t, "noop", price, time.Now())); err != nil {
		t.Fatalf("after the slot freed: %v", err)
	}
}

func TestRefusals(t *testing.T) {
	e := setup(t, 5, price)
	var re *RefusedError
	cheap := proposal.Price{Currency: "MYSTT", PerHour: "0.001", PerGiB: "0.02"}
	for name, c := range map[string]struct {
		s    proposal.Signed
		want string
	}{
		"unknown service":    {e.proposal(t, "wireguard", price, time.Now()), RefuseUnknownProposal},
		"stale proposal":     {e.proposal(t, "noop", price, time.Now().Add(-time.Hour)), RefuseStaleProposal},
		"price not accepted": {e.proposal(t, "noop", cheap, time.Now()), RefusePrice},
	} {
		_, conn, err := open(t, e, c.s)
		if !errors.As(err, &re) || re.Reason != c.want || conn.up {
			t.Errorf("%s: %v (connector up %v), want refusal %q", name, err, conn.up, c.want)
		}
	}
	if n := len(e.prov.Sessions()); n != 0 {
		t.Fatalf("%d sessions after refusals", n)
	}
}

func TestProviderEndsSession(t *testing.T) {
	e := setup(t, 5, price)
	ended := make(chan string, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn := &noopConnector{}
	c, err := Open(ctx, e.dial(t), e.proposal(t, "noop", price, time.Now()), conn, ConsumerConfig{KeepAliveEvery: 100 * time.Millisecond, OnEnd: func(r string) { ended <- r }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	e.prov.RemoveService("svc1")
	select {
	case r := <-ended:
		if conn.up {
			t.Fatal("connector up after the provider ended the session")
		}
		t.Logf("consumer saw: %s", r)
	case <-time.After(5 * time.Second):
		t.Fatal("consumer did not notice the provider ending the session")
	}
}

func TestQuietConsumerIsReaped(t *testing.T) {
	e := setup(t, 1, price)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d := e.dial(t)
	// Keep-alives far apart: the provider gives up first.
	c, err := Open(ctx, d, e.proposal(t, "noop", price, time.Now()), &noopConnector{}, ConsumerConfig{KeepAliveEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	mysttest.WaitFor(t, 5*time.Second, func() bool { return e.prov.CountFor("svc1") == 0 && e.backend.live() == 0 })
}

func (c *noopConnector) Peer(json.RawMessage) (Peer, error) { return Peer{}, nil }
