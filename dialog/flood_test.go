package dialog

import (
	"context"
	"errors"
	"math/big"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mystnode/myst/devchain"
	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/mysttest"
	"github.com/mystnode/myst/registry"
	"github.com/mystnode/myst/registry/registrytest"
	"github.com/mystnode/myst/txsend"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestFloodOfUnregisteredCreates floods a provider (whose registry is the
// real event-fed cache over a dev chain) with signed dialog-creates from
// fresh unregistered keys, while a live dialog exchanges requests and a
// registered consumers dial again and again: no live request fails, every
// legitimate dial is accepted, and the flood costs no chain call per
// create (the cache answers "not registered" from its scan).
func TestFloodOfUnregisteredCreates(t *testing.T) {
	srv := mysttest.StartBroker(t)
	provider, consumer, payer := mysttest.NewSigner(t), mysttest.NewSigner(t), mysttest.NewSigner(t)
	others := make([]*identity.Signer, 10)
	for i := range others {
		others[i] = mysttest.NewSigner(t)
	}
	chain := mysttest.StartChain(t, payer.Address())
	ctx := mysttest.Ctx(t, 2*time.Minute)
	ec := chain.Client()
	addr, _, err := registry.Deploy(ctx, ec, big.NewInt(devchain.ChainID), payer)
	ec.Close()
	if err != nil {
		t.Fatal(err)
	}
	client, err := registry.Dial(ctx, chain.RPCURL(), devchain.ChainID, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	for _, s := range append([]*identity.Signer{provider, consumer}, others...) {
		if _, err := client.Register(ctx, s, txsend.New(client.Eth(), client.ChainID(), payer, txsend.Config{})); err != nil {
			t.Fatal(err)
		}
	}
	cache := registry.NewCache(client, 0)
	runCtx, stopRun := context.WithCancel(ctx)
	var runDone sync.WaitGroup
	runDone.Go(func() { cache.Run(runCtx, 2*time.Second, nil) })
	defer func() { stopRun(); runDone.Wait() }()
	mysttest.WaitFor(t, 10*time.Second, func() bool { return cache.Stats().Known == 2+len(others) })

	m := NewMetrics(nil, nil)
	l, err := Listen(mysttest.Connect(t, srv.URL()), provider, cache, ListenConfig{Metrics: m, Accept: func(d *Dialog) { d.Handle("echo", echo) }})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	live, err := Dial(ctx, mysttest.Connect(t, srv.URL()), consumer, provider.Address(), cache, DialConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()

	// The flood, made before it starts: fresh keys, valid signatures.
	const n = 3000
	floods := make([][]byte, n)
	subjects := make([]string, n)
	for i := range floods {
		s := mysttest.NewSigner(t)
		var err error
		if subjects[i], floods[i], err = CreateMessage(s, provider.Address(), provider.PublicKey()); err != nil {
			t.Fatal(err)
		}
	}
	misses0 := cache.Stats()
	attacker := mysttest.Connect(t, srv.URL())
	var wg sync.WaitGroup
	flooding := make(chan struct{})
	wg.Go(func() {
		defer close(flooding)
		// 1,000 a second for 3 s.
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for i := 0; i < n; i += 10 {
			<-tick.C
			for j := i; j < i+10; j++ {
				attacker.Publish(subjects[j], floods[j])
			}
		}
	})
	var liveFailed atomic.Int64
	wg.Go(func() {
		for {
			select {
			case <-flooding:
				return
			case <-time.After(20 * time.Millisecond):
			}
			rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			if _, err := live.Request(rctx, "echo", []byte("ping")); err != nil {
				liveFailed.Add(1)
				t.Errorf("live dialog during the flood: %v", err)
			}
			cancel()
		}
	})
	var lat []time.Duration
	nc := mysttest.Connect(t, srv.URL())
	for {
		select {
		case <-flooding:
		default:
			start := time.Now()
			d, err := Dial(ctx, nc, others[len(lat)%len(others)], provider.Address(), cache, DialConfig{})
			if err != nil {
				t.Errorf("legitimate dial during the flood: %v", err)
				continue
			}
			lat = append(lat, time.Since(start))
			d.Close()
			time.Sleep(100 * time.Millisecond) // each consumer within its rate
			continue
		}
		break
	}
	wg.Wait()
	// Every flood create is answered (refused) or shed, soon.
	mysttest.WaitFor(t, 10*time.Second, func() bool {
		return int(testutil.ToFloat64(m.Refused.WithLabelValues(ReasonUnregistered))+dropped(m, ReasonOverload)) == n
	})
	slices.Sort(lat)
	st := cache.Stats()
	refused := testutil.ToFloat64(m.Refused.WithLabelValues(ReasonUnregistered))
	t.Logf("%d flood creates: %v refused unregistered, %v dropped overload; %d legitimate dials p50 %v p99 %v max %v; cache: %d scan answers from %d scans, %d view answers",
		n, refused, dropped(m, ReasonOverload), len(lat), lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1],
		st.ScanAnswers-misses0.ScanAnswers, st.Scans-misses0.Scans, st.ViewHits-misses0.ViewHits)
	if st.ViewHits != misses0.ViewHits {
		t.Errorf("the flood made %d contract view calls", st.ViewHits-misses0.ViewHits)
	}
	if len(lat) < 5 {
		t.Errorf("only %d legitimate dials during the flood", len(lat))
	}
}

// TestPerConsumerRateRetransmit: a create over its consumer's rate is
// dropped before any lookup and counted; Dial's retransmit gets through
// once the rate allows.
func TestPerConsumerRateRetransmit(t *testing.T) {
	srv := mysttest.StartBroker(t)
	provider, consumer := mysttest.NewSigner(t), mysttest.NewSigner(t)
	reg := registrytest.New(provider, consumer)
	m := NewMetrics(nil, nil)
	l, err := Listen(mysttest.Connect(t, srv.URL()), provider, reg, ListenConfig{Metrics: m, PerConsumerRate: 2, PerConsumerBurst: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	nc := mysttest.Connect(t, srv.URL())
	for range 2 {
		d, err := Dial(mysttest.Ctx(t, 10*time.Second), nc, consumer, provider.Address(), reg, DialConfig{})
		if err != nil {
			t.Fatal(err)
		}
		d.Close()
	}
	if n := dropped(m, ReasonRateLimited); n != 1 {
		t.Fatalf("dropped{rate_limited} = %v, want 1", n)
	}
}

// TestPerConsumerDialogsAndSilentOnes: one consumer cannot hold more than
// its share of a provider's dialogs, and a dialog it never uses is closed.
func TestPerConsumerDialogsAndSilentOnes(t *testing.T) {
	srv := mysttest.StartBroker(t)
	provider, greedy, other := mysttest.NewSigner(t), mysttest.NewSigner(t), mysttest.NewSigner(t)
	reg := registrytest.New(provider, greedy, other)
	m := NewMetrics(nil, nil)
	l, err := Listen(mysttest.Connect(t, srv.URL()), provider, reg, ListenConfig{Metrics: m, PerConsumerRate: 1000, PerConsumerBurst: 1000,
		MaxPerConsumer: 3, FirstMessageTimeout: 300 * time.Millisecond, Accept: func(d *Dialog) { d.Handle("echo", echo) }})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	nc := mysttest.Connect(t, srv.URL())
	var held []*Dialog
	for range 3 {
		d, err := Dial(mysttest.Ctx(t, 10*time.Second), nc, greedy, provider.Address(), reg, DialConfig{})
		if err != nil {
			t.Fatal(err)
		}
		if len(held) == 0 { // the first one is used at once
			if _, err := d.Request(mysttest.Ctx(t, 5*time.Second), "echo", []byte("x")); err != nil {
				t.Fatal(err)
			}
		}
		held = append(held, d)
	}
	_, err = Dial(mysttest.Ctx(t, 10*time.Second), nc, greedy, provider.Address(), reg, DialConfig{})
	if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "dialogs open") {
		t.Fatalf("a fourth dialog of one consumer: %v", err)
	}
	// Someone else is still served.
	d, err := Dial(mysttest.Ctx(t, 10*time.Second), nc, other, provider.Address(), reg, DialConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Request(mysttest.Ctx(t, 5*time.Second), "echo", []byte("x")); err != nil {
		t.Fatal(err)
	}
	// The greedy consumer's unused dialogs are closed; the used one stays.
	for _, h := range held[1:] {
		select {
		case <-h.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("an unused dialog still open 10 s after its first-message timeout")
		}
	}
	if n := testutil.ToFloat64(m.Refused.WithLabelValues(ReasonSilent)); n != 2 {
		t.Fatalf("refused{silent} = %v, want 2", n)
	}
	select {
	case <-held[0].Done():
		t.Fatal("the used dialog was closed")
	default:
	}
	held[0].Close()
	// Its slots are free again.
	d2, err := Dial(mysttest.Ctx(t, 10*time.Second), nc, greedy, provider.Address(), reg, DialConfig{})
	if err != nil {
		t.Fatalf("after its dialogs closed: %v", err)
	}
	d2.Close()
}

// TestFloodFromOneRegisteredIdentity: one registered identity sends 3,000
// signed dialog-creates with fresh ids at 1,000 a second and never uses the
// dialogs it gets. Its per-consumer rate and dialog cap hold it to a handful
// of slots, the rest is dropped and counted, and other consumers' new
// dialogs are answered all along.
func TestFloodFromOneRegisteredIdentity(t *testing.T) {
	srv := mysttest.StartBroker(t)
	provider, attacker := mysttest.NewSigner(t), mysttest.NewSigner(t)
	others := make([]*identity.Signer, 10)
	for i := range others {
		others[i] = mysttest.NewSigner(t)
	}
	reg := registrytest.New(append([]*identity.Signer{provider, attacker}, others...)...)
	m := NewMetrics(nil, nil)
	l, err := Listen(mysttest.Connect(t, srv.URL()), provider, reg, ListenConfig{Metrics: m, Accept: func(d *Dialog) { d.Handle("echo", echo) }})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx := mysttest.Ctx(t, time.Minute)

	const n = 3000
	floods := make([][]byte, n)
	subjects := make([]string, n)
	for i := range floods {
		var err error
		if subjects[i], floods[i], err = CreateMessage(attacker, provider.Address(), provider.PublicKey()); err != nil {
			t.Fatal(err)
		}
	}
	nc := mysttest.Connect(t, srv.URL())
	flooding := make(chan struct{})
	go func() {
		defer close(flooding)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for i := 0; i < n; i += 10 {
			<-tick.C
			for j := i; j < i+10; j++ {
				nc.Publish(subjects[j], floods[j])
			}
		}
	}()
	var lat []time.Duration
	dialer := mysttest.Connect(t, srv.URL())
loop:
	for {
		select {
		case <-flooding:
			break loop
		default:
		}
		start := time.Now()
		d, err := Dial(ctx, dialer, others[len(lat)%len(others)], provider.Address(), reg, DialConfig{})
		if err != nil {
			t.Errorf("legitimate dial during the flood: %v", err)
			continue
		}
		if _, err := d.Request(ctx, "echo", []byte("x")); err != nil {
			t.Errorf("legitimate request during the flood: %v", err)
		}
		lat = append(lat, time.Since(start))
		d.Close()
		time.Sleep(100 * time.Millisecond)
	}
	accepted := func() float64 { return testutil.ToFloat64(m.Opened.WithLabelValues("provider")) }
	mysttest.WaitFor(t, 10*time.Second, func() bool {
		return int(dropped(m, ReasonRateLimited)+testutil.ToFloat64(m.Refused.WithLabelValues(ReasonPerConsumer))+dropped(m, ReasonOverload))+int(accepted())-len(lat) == n
	})
	slices.Sort(lat)
	got := int(accepted()) - len(lat)
	t.Logf("%d creates from one registered identity: %v dropped over its rate, %v refused over its dialog cap, %v dropped overload, %d accepted; %d legitimate dials p50 %v p99 %v max %v",
		n, dropped(m, ReasonRateLimited), testutil.ToFloat64(m.Refused.WithLabelValues(ReasonPerConsumer)), dropped(m, ReasonOverload), got,
		len(lat), lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1])
	if got > 8 {
		t.Errorf("the attacker got %d dialogs, want at most the per-consumer cap 8", got)
	}
	if len(lat) < 5 {
		t.Errorf("only %d legitimate dials during the flood", len(lat))
	}
}
