package broker_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/mystnode/myst/broker"
	"github.com/mystnode/myst/brokerd"
	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/registry/registrytest"
	"github.com/mystnode/myst/relay"
	"github.com/mystnode/myst/relaylink"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

func newSigner(t *testing.T) *identity.Signer {
	t.Helper()
	k, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return identity.NewSigner(k)
}

// errs collects a connection's asynchronous errors (permission
// violations arrive that way).
type errs struct {
	mu  sync.Mutex
	all []string
}

func (e *errs) handler(_ *nats.Conn, _ *nats.Subscription, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.all = append(e.all, err.Error())
}

func (e *errs) has(s string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, m := range e.all {
		if strings.Contains(strings.ToLower(m), s) {
			return true
		}
	}
	return false
}

func waitFor(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestAdmission: the embedded broker with admission refuses anonymous
// clients, unregistered identities and signatures of another nonce; a
// registered identity that signs the server's nonce connects, receives
// its own mail, and can neither subscribe to another identity's subjects
// or ">" nor publish as another identity.
func TestAdmission(t *testing.T) {
	alice, bob, mallory := newSigner(t), newSigner(t), newSigner(t)
	reg := registrytest.New(alice, bob)
	srv, err := brokerd.StartServer(brokerd.ServerConfig{Addr: "127.0.0.1:0", Admission: &broker.AdmissionConfig{Registered: reg.IsRegistered}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	url := []string{srv.URL()}

	if nc, err := nats.Connect(srv.URL(), nats.MaxReconnects(0)); err == nil {
		nc.Close()
		t.Fatal("an anonymous client connected")
	} else if !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("anonymous: %v", err)
	}
	as := func(signers ...*identity.Signer) func() []*identity.Signer {
		return func() []*identity.Signer { return signers }
	}
	if nc, err := nats.Connect(srv.URL(), nats.MaxReconnects(0), broker.Identities(as(mallory))); err == nil {
		nc.Close()
		t.Fatal("an unregistered identity connected")
	}
	// A signature of some other nonce (a replayed CONNECT): refused.
	old, _ := broker.SignNonce([]byte("an old nonce"), []*identity.Signer{alice})
	replay := func(o *nats.Options) error {
		o.Nkey = broker.AuthNkey
		o.SignatureCB = func([]byte) ([]byte, error) { return old, nil }
		return nil
	}
	if nc, err := nats.Connect(srv.URL(), nats.MaxReconnects(0), replay); err == nil {
		nc.Close()
		t.Fatal("a signature of another nonce was admitted")
	}

	aliceErrs, bobErrs := &errs{}, &errs{}
	a, err := broker.Connect(url, "alice", nil, broker.Identities(as(alice, mallory)), nats.ErrorHandler(aliceErrs.handler))
	if err != nil {
		t.Fatalf("alice (registered, with an unregistered one along): %v", err)
	}
	defer a.Close()
	b, err := broker.Connect(url, "bob", nil, broker.Identities(as(bob)), nats.ErrorHandler(bobErrs.handler))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	got := make(chan string, 16)
	if _, err := b.Subscribe(broker.FromAny(bob.Address(), "create"), func(m *nats.Msg) { got <- string(m.Data) }); err != nil {
		t.Fatal(err)
	}
	b.Flush()
	waitFor(t, "bob's subscription", func() bool { return srv.HasInterest(broker.Subject(bob.Address(), alice.Address(), "create")) })
	if err := a.Publish(broker.Subject(bob.Address(), alice.Address(), "create"), []byte("hello from alice")); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		if m != "hello from alice" {
			t.Fatalf("bob got %q", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("alice's mail to bob did not arrive")
	}
	// Alice claiming to be someone else (mallory, whom she signed for but
	// who is not registered; and bob): the broker drops it.
	a.Publish(broker.Subject(bob.Address(), mallory.Address(), "create"), []byte("as mallory"))
	a.Publish(broker.Subject(bob.Address(), bob.Address(), "create"), []byte("as bob"))
	a.Flush()
	waitFor(t, "alice's publish violations", func() bool { return aliceErrs.has("permissions violation for publish") })
	select {
	case m := <-got:
		t.Fatalf("bob got %q, sent under another identity", m)
	case <-time.After(300 * time.Millisecond):
	}
	// Subscribing to bob's mail or to everything: refused.
	for _, subj := range []string{broker.FromAny(bob.Address(), "create"), ">", broker.Prefix + ">", "$SYS.>"} {
		a.Subscribe(subj, func(*nats.Msg) { t.Errorf("alice received on %s", subj) })
	}
	a.Flush()
	waitFor(t, "alice's subscribe violations", func() bool { return aliceErrs.has("permissions violation for subscription") })
	b.Publish(broker.Subject(bob.Address(), alice.Address(), "create"), []byte("bob to himself, as alice"))
	b.Publish(broker.Subject(alice.Address(), bob.Address(), "x"), []byte("to alice"))
	b.Flush()
	waitFor(t, "bob's publish violation", func() bool { return bobErrs.has("permissions violation for publish") })
	time.Sleep(200 * time.Millisecond)
}

func TestSubjects(t *testing.T) {
	to, from := common.HexToAddress("0x00000000000000000000000000000000000000aa"), common.HexToAddress("0x00000000000000000000000000000000000000bb")
	s := broker.Subject(to, from, "d.123")
	if s != "myst.v2.0x00000000000000000000000000000000000000aa.0x00000000000000000000000000000000000000bb.d.123" {
		t.Fatal(s)
	}
	if got, ok := broker.Sender(s); !ok || got != from {
		t.Fatalf("sender of %s: %s %v", s, got.Hex(), ok)
	}
	for _, bad := range []string{"myst.v1.x.y.z", "myst.v2.a", "myst.v2.a.nothex.c"} {
		if _, ok := broker.Sender(bad); ok {
			t.Errorf("sender of %q found", bad)
		}
	}
}

// TestExternalServerAdmission: a nats-server configured only with
// AdmissionConfigText (what 'myst-net broker-admission init' prints for an
// external cluster; no option of myst's own) and the callout service of
// ServeAdmission admit a registered identity and refuse anonymous ones.
func TestExternalServerAdmission(t *testing.T) {
	auth, _ := nkeys.CreateUser()
	issuer, _ := nkeys.CreateAccount()
	authPub, _ := auth.PublicKey()
	issuerPub, _ := issuer.PublicKey()
	opts := &server.Options{}
	if err := opts.ProcessConfigString(broker.AdmissionConfigText(authPub, issuerPub, "MYST")); err != nil {
		t.Fatal(err)
	}
	opts.Host, opts.Port, opts.NoSigs, opts.NoLog = "127.0.0.1", server.RANDOM_PORT, true, true
	ns, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	defer func() { ns.Shutdown(); ns.WaitForShutdown() }()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	alice := newSigner(t)
	reg := registrytest.New(alice)
	issue := &relay.Issuer{Secret: []byte("the relay operator's shared secret"), Registered: reg.IsRegistered}
	svc, err := broker.ServeAdmission([]string{ns.ClientURL()}, auth, issuer, broker.AdmissionConfig{Registered: reg.IsRegistered, RelayCredentials: issue.Answer})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	if nc, err := nats.Connect(ns.ClientURL(), nats.MaxReconnects(0)); err == nil {
		nc.Close()
		t.Fatal("anonymous client admitted")
	}
	nc, err := broker.Connect([]string{ns.ClientURL()}, "alice", nil, broker.Identities(func() []*identity.Signer { return []*identity.Signer{alice} }))
	if err != nil {
		t.Fatalf("registered identity: %v", err)
	}
	defer nc.Close()

	// Relay credentials, asked over the broker in alice's own name.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	g, err := relaylink.Ask(ctx, nc, alice)
	if err != nil || !strings.HasSuffix(g.Username, strings.ToLower(alice.Address().Hex())) || g.Password == "" {
		t.Fatalf("relay credentials for alice: %+v %v", g, err)
	}
	// In someone else's name: the broker does not let it out.
	bob := newSigner(t)
	short, cancel2 := context.WithTimeout(ctx, time.Second)
	defer cancel2()
	if g, err := relaylink.Ask(short, nc, bob); !errors.Is(err, relaylink.ErrNoIssuer) {
		t.Fatalf("alice's connection asking as bob: %+v %v", g, err)
	}
}
