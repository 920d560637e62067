package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/mystnode/myst/api"
	"github.com/mystnode/myst/broker"
	"github.com/mystnode/myst/dialog"
	"github.com/mystnode/myst/discovery"
	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/localnet"
	"github.com/mystnode/myst/noop"
	"github.com/mystnode/myst/payments"
	"github.com/mystnode/myst/proposal"
	"github.com/mystnode/myst/registry"
	"github.com/mystnode/myst/session"
	"github.com/mystnode/myst/txsend"
	"github.com/nats-io/nats.go"
)

// report is what a run measured.
type report struct {
	Unlock                       time.Duration
	IdleRSS, IdleAnon, IdleFile  uint64
	Opened, Refused, Failed      int
	RefusedBy, FailedBy          map[string]int
	Dropped                      int64
	DroppedBy                    map[string]int
	Dial, Open                   []time.Duration // of the held sessions
	ProbeQuiet, ProbeFlood       []time.Duration
	ProbeFailed                  int64
	KeepAlives, KeepAliveMissed  atomic.Int64
	MissedInFlood                atomic.Int64
	KeepAliveRTT                 []time.Duration
	Invoices, Promises           atomic.Int64
	InvoiceGaps                  atomic.Int64
	FloodSent                    int
	FloodTook                    time.Duration
	HeldPeakRSS, HeldRSS         uint64
	HeldCPU, FloodCPU, RampCPU   float64
	Stop                         time.Duration
	Pairs, Lost, Unacked         int
	Issued, Acked, Stored        *big.Int
	held, flooding               time.Duration
	sessionsWanted, probesWanted int
}

func (r *report) ok() bool {
	return r.Failed == 0 && r.Refused == 0 && r.Dropped == 0 && r.Lost == 0 && r.Opened == r.sessionsWanted
}

type consumer struct {
	signer      *identity.Signer
	conn        *session.Conn
	payer       atomic.Pointer[payments.Payer]
	lastInvoice atomic.Int64
	ended       atomic.Pointer[string]
}

// opener opens the load's sessions: each consumer dials the provider over
// the shared broker connections and opens a priced noop session, paying
// invoices with promises.
type opener struct {
	ctx      context.Context
	c        config
	r        *report
	conns    []*nats.Conn
	provider common.Address
	cache    *registry.Cache
	metrics  *dialog.Metrics
	prop     proposal.Signed
	price    proposal.Price
	pay      *payments.Client
	store    *payments.Store

	mu       sync.Mutex // guards rtts and the report's counts
	flooding atomic.Bool
	rtts     []time.Duration
}

// open dials as consumer i (signer s) and, when held, opens a session;
// it returns how long the dial and the open took.
func (o *opener) open(i int, s *identity.Signer, held bool) (*consumer, time.Duration, time.Duration, error) {
	cs := &consumer{signer: s}
	nc := o.conns[i/broker.MaxIdentities]
	octx, cancel := context.WithTimeout(o.ctx, 60*time.Second)
	defer cancel()
	start := time.Now()
	dl, err := dialog.Dial(octx, nc, s, o.provider, o.cache, dialog.DialConfig{Metrics: o.metrics})
	dialTook := time.Since(start)
	if err != nil {
		return nil, dialTook, 0, err
	}
	if !held {
		dl.Close()
		return nil, dialTook, 0, nil
	}
	dl.Handle(payments.TopicInvoice, func(hctx context.Context, body []byte) ([]byte, error) {
		p := cs.payer.Load()
		if p == nil {
			return nil, errors.New("not ready for invoices yet")
		}
		now := time.Now().UnixNano()
		if last := cs.lastInvoice.Swap(now); last != 0 && time.Duration(now-last) > o.c.invoiceEvery*3/2 {
			o.r.InvoiceGaps.Add(1)
		}
		o.r.Invoices.Add(1)
		out, err := p.Handle(hctx, body)
		if err == nil {
			o.r.Promises.Add(1)
		}
		return out, err
	})
	dl.Handle(payments.TopicAck, func(hctx context.Context, body []byte) ([]byte, error) {
		if p := cs.payer.Load(); p != nil {
			return p.HandleAck(hctx, body)
		}
		return nil, nil
	})
	dl.Handle(payments.TopicReserve, func(hctx context.Context, body []byte) ([]byte, error) {
		if p := cs.payer.Load(); p != nil {
			return p.HandleReserve(hctx, body)
		}
		return nil, errors.New("not ready for reservations yet")
	})
	ostart := time.Now()
	conn, err := session.Open(octx, dl, o.prop, noop.Type.Connector(session.ConnectEnv{}), session.ConsumerConfig{
		KeepAliveEvery: o.c.keepAlive,
		// Billing starts at session-create: the payer answers from the
		// acceptance on.
		OnAccepted: func(sessionID string, asked time.Time) error {
			p, err := payments.NewPayer(octx, payments.PayerConfig{Client: o.pay, Store: o.store, Consumer: s, Provider: o.provider,
				SessionID: sessionID, Price: o.price, Start: asked})
			if err != nil {
				return err
			}
			cs.payer.Store(p)
			return nil
		},
		OnEnd: func(reason string) { cs.ended.Store(&reason) },
		OnKeepAlive: func(rtt time.Duration, err error) {
			o.r.KeepAlives.Add(1)
			if err != nil {
				o.r.KeepAliveMissed.Add(1)
				if o.flooding.Load() {
					o.r.MissedInFlood.Add(1)
				}
				return
			}
			o.mu.Lock()
			o.rtts = append(o.rtts, rtt)
			o.mu.Unlock()
		},
	})
	openTook := time.Since(ostart)
	if err != nil {
		dl.Close()
		return nil, dialTook, openTook, err
	}
	cs.conn = conn
	return cs, dialTook, openTook, nil
}

// tally compares, for every consumer that held a session, what it signed,
// what the provider acknowledged and what the provider's store (at
// pstorePath, the provider stopped) holds.
func tally(ctx context.Context, r *report, consumers []*consumer, store *payments.Store, pstorePath string, provider common.Address) error {
	pstore, err := payments.OpenStore(pstorePath)
	if err != nil {
		return err
	}
	defer pstore.Close()
	r.Issued, r.Acked, r.Stored = new(big.Int), new(big.Int), new(big.Int)
	for _, cs := range consumers {
		if cs == nil {
			continue
		}
		issued, err := store.Issued(ctx, cs.signer.Address(), provider)
		if err != nil {
			return err
		}
		got, err := pstore.ReceivedFrom(ctx, cs.signer.Address(), provider)
		if err != nil {
			return err
		}
		acked := new(big.Int)
		if p := cs.payer.Load(); p != nil {
			acked = p.Acked()
		}
		r.Pairs++
		r.Issued.Add(r.Issued, issued)
		r.Acked.Add(r.Acked, acked)
		r.Stored.Add(r.Stored, got.Cumulative)
		if acked.Cmp(got.Cumulative) > 0 {
			r.Lost++
		}
		if issued.Cmp(got.Cumulative) != 0 {
			r.Unacked++
		}
	}
	return nil
}

func runSessions(ctx context.Context, c config) (*report, error) {
	r := &report{RefusedBy: map[string]int{}, FailedBy: map[string]int{}, DroppedBy: map[string]int{}, sessionsWanted: c.sessions, probesWanted: c.probes}
	dir := c.dir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "myst-load-"); err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
	}
	step := func(format string, args ...any) { fmt.Fprintf(os.Stderr, "== "+format+"\n", args...) }

	step("localnet (dev chain, broker, discovery) in this process")
	ln, err := localnet.Start(ctx, localnet.Config{DataDir: filepath.Join(dir, "net"), RPCAddr: "127.0.0.1:0", Fresh: true})
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	nf := ln.File()
	payer, err := nf.GasPayer()
	if err != nil {
		return nil, err
	}
	reg, err := registry.DialURLs(ctx, nf.RPCURLs(), nf.ChainID, nf.RegistryAddress)
	if err != nil {
		return nil, err
	}
	defer reg.Close()
	pay, err := payments.NewClient(reg.Eth(), nf.ChainID, *nf.TokenAddress, *nf.PaymentsAddress)
	if err != nil {
		return nil, err
	}

	step("provider daemon (%s), priced noop service", c.myst)
	pdir := filepath.Join(dir, "provider")
	if err := os.MkdirAll(pdir, 0o700); err != nil {
		return nil, err
	}
	pass := filepath.Join(dir, "pass")
	if err := os.WriteFile(pass, []byte("load-test-passphrase\n"), 0o600); err != nil {
		return nil, err
	}
	global := []string{"--data-dir", pdir, "--network", ln.Path()}
	if c.lightKDF {
		global = append(global, "--lightkdf")
	}
	pid, err := cli(ctx, c.myst, append(global, "identity", "new", "--passphrase-file", pass)...)
	if err != nil {
		return nil, err
	}
	if _, err := cli(ctx, c.myst, append(global, "identity", "register", pid, "--passphrase-file", pass)...); err != nil {
		return nil, err
	}
	d, err := startDaemon(ctx, c.myst, global, pdir, "--invoice-every", c.invoiceEvery.String(), "--payment-grace", (4 * c.invoiceEvery).String(), "--credit-limit", "0.1")
	if err != nil {
		return nil, err
	}
	stopped := false
	defer func() {
		if !stopped {
			d.stop()
		}
	}()
	prov := d.proc.Pid()
	samples := startSampler(prov, 500*time.Millisecond)
	defer samples.close()
	t0 := time.Now()
	if err := d.client.Unlock(ctx, pid, "load-test-passphrase"); err != nil {
		return nil, err
	}
	r.Unlock = time.Since(t0)
	if _, err := d.client.StartService(ctx, api.ServiceRequest{ProviderID: pid, Type: "noop", Options: api.ServiceOptions{
		PriceHour: "36", Country: "DE", MaxSessions: min(10000, c.sessions+c.probes+10)}}); err != nil {
		return nil, err
	}
	provider := common.HexToAddress(pid)

	step("%d consumer identities (+%d probes): registered and funded in one batch", c.sessions, c.probes)
	// One more, the flood's sender: under broker admission only a
	// registered identity can publish, and only as itself.
	signers := make([]*identity.Signer, c.sessions+c.probes+1)
	addrs := make([]common.Address, len(signers))
	for i := range signers {
		k, err := crypto.GenerateKey()
		if err != nil {
			return nil, err
		}
		signers[i] = identity.NewSigner(k)
		addrs[i] = signers[i].Address()
	}
	progress := func(s string) { step("  %s", s) }
	sender := txsend.New(reg.Eth(), new(big.Int).SetUint64(nf.ChainID), payer, txsend.Config{Poll: 200 * time.Millisecond})
	if err := reg.RegisterBatch(ctx, signers, sender, progress); err != nil {
		return nil, fmt.Errorf("register consumers: %w", err)
	}
	each, _ := proposal.ParseAmount("20")
	if err := pay.DepositBatch(ctx, sender, addrs, each); err != nil {
		return nil, fmt.Errorf("fund consumers: %w", err)
	}
	// Idle: unlocked, serving, nothing to do (the memory the key's
	// decryption took is returned by now).
	time.Sleep(3 * time.Second)
	if s, err := sampleProc(prov); err == nil {
		r.IdleRSS, r.IdleAnon, r.IdleFile = s.rss, s.anon, s.file
	}

	found, _, _, err := discovery.NewClient(nf.DiscoveryURL).Search(ctx, discovery.Filter{ProviderID: strings.ToLower(pid), ServiceType: "noop"})
	if err != nil || len(found) != 1 {
		return r, fmt.Errorf("the provider's proposal in discovery: %d found, %v", len(found), err)
	}
	prop := found[0].Signed
	propPrice := found[0].Proposal.Price
	cache := registry.NewCache(reg, nf.RegistryFromBlock)
	if err := cache.Sync(ctx); err != nil {
		return r, err
	}
	attacker := signers[len(signers)-1]
	conns := make([]*nats.Conn, (len(signers)-1+broker.MaxIdentities-1)/broker.MaxIdentities)
	for i := range conns {
		ids := signers[i*broker.MaxIdentities : min((i+1)*broker.MaxIdentities, len(signers)-1)]
		if conns[i], err = broker.Connect(nf.BrokerURLs, "myst-load", nil, broker.Identities(func() []*identity.Signer { return ids })); err != nil {
			return r, err
		}
		defer conns[i].Close()
	}
	store, err := payments.OpenStore(filepath.Join(dir, "consumers.db"))
	if err != nil {
		return r, err
	}
	defer store.Close()
	metrics := dialog.NewMetrics(nil, slog.New(slog.DiscardHandler))

	o := &opener{ctx: ctx, c: c, r: r, conns: conns, provider: provider, cache: cache, metrics: metrics, prop: prop, price: propPrice, pay: pay, store: store}

	step("opening %d priced sessions at %g a second", c.sessions, c.ramp)
	rampStart := time.Now()
	consumers := make([]*consumer, c.sessions)
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Duration(float64(time.Second) / c.ramp))
	for i := 0; i < c.sessions; i++ {
		select {
		case <-ctx.Done():
			tick.Stop()
			wg.Wait()
			return r, ctx.Err()
		case <-tick.C:
		}
		wg.Go(func() {
			cs, dialTook, openTook, err := o.open(i, signers[i], true)
			o.mu.Lock()
			defer o.mu.Unlock()
			var re *session.RefusedError
			switch {
			case errors.As(err, &re):
				r.Refused++
				r.RefusedBy[shorten(re.Explain())]++
			case errors.Is(err, dialog.ErrRefused):
				r.Refused++
				r.RefusedBy["dialog: "+err.Error()]++
			case err != nil:
				r.Failed++
				r.FailedBy[shorten(err.Error())]++
			default:
				r.Opened++
				consumers[i] = cs
				r.Dial = append(r.Dial, dialTook)
				r.Open = append(r.Open, openTook)
			}
		})
	}
	tick.Stop()
	wg.Wait()
	rampEnd := time.Now()
	_, _, r.RampCPU = samples.between(rampStart, rampEnd)
	step("%d opened, %d refused, %d failed in %s; holding for %s", r.Opened, r.Refused, r.Failed, rampEnd.Sub(rampStart).Round(time.Millisecond), c.duration)

	// The hold: probes dial now and then; the flood, if any, runs in it.
	holdStart := time.Now()
	holdCtx, endHold := context.WithTimeout(ctx, c.duration)
	defer endHold()
	var floodStart, floodEnd time.Time
	var side sync.WaitGroup
	if c.flood > 0 {
		step("preparing %d dialog-creates from one registered identity, %s", c.flood, attacker.Address().Hex())
		creates, subject, err := makeFlood(c.flood, attacker, provider, cache)
		if err != nil {
			return r, err
		}
		side.Go(func() {
			wait := min(5*time.Second, c.duration-c.floodOver)
			select {
			case <-holdCtx.Done():
				return
			case <-time.After(wait - time.Since(holdStart)):
			}
			step("flood: %d creates over %s", c.flood, c.floodOver)
			nc, err := broker.Connect(nf.BrokerURLs, "myst-load-flood", nil, broker.Identities(func() []*identity.Signer { return []*identity.Signer{attacker} }))
			if err != nil {
				return
			}
			defer nc.Close()
			floodStart = time.Now()
			o.flooding.Store(true)
			batches := int(c.floodOver / (10 * time.Millisecond))
			per := (len(creates) + batches - 1) / batches
			t := time.NewTicker(10 * time.Millisecond)
			defer t.Stop()
			for i := 0; i < len(creates); i += per {
				<-t.C
				for _, m := range creates[i:min(i+per, len(creates))] {
					nc.Publish(subject, m)
				}
				r.FloodSent = min(i+per, len(creates))
			}
			nc.Flush()
			floodEnd = time.Now()
			r.FloodTook = floodEnd.Sub(floodStart)
			time.Sleep(2 * time.Second) // its answers drain
			o.flooding.Store(false)
		})
	}
	if c.probes > 0 {
		side.Go(func() {
			t := time.NewTicker(max(100*time.Millisecond, time.Second/time.Duration(c.probes)*2))
			defer t.Stop()
			for i := 0; ; i++ {
				select {
				case <-holdCtx.Done():
					return
				case <-t.C:
				}
				inFlood := o.flooding.Load()
				_, took, _, err := o.open(c.sessions+i%c.probes, signers[c.sessions+i%c.probes], false)
				o.mu.Lock()
				switch {
				case err != nil:
					r.ProbeFailed++
				case inFlood:
					r.ProbeFlood = append(r.ProbeFlood, took)
				default:
					r.ProbeQuiet = append(r.ProbeQuiet, took)
				}
				o.mu.Unlock()
			}
		})
	}
	<-holdCtx.Done()
	side.Wait()
	holdEnd := time.Now()
	r.held = holdEnd.Sub(holdStart)
	r.HeldPeakRSS, r.HeldRSS, r.HeldCPU = samples.between(holdStart, holdEnd)
	if !floodStart.IsZero() {
		_, _, r.FloodCPU = samples.between(floodStart, floodEnd)
	}
	for _, cs := range consumers {
		if cs == nil {
			continue
		}
		if reason := cs.ended.Load(); reason != nil {
			r.Dropped++
			r.DroppedBy[shorten(*reason)]++
		}
	}
	if ctx.Err() != nil {
		return r, ctx.Err()
	}

	step("closing the sessions; stopping the provider")
	sem := make(chan struct{}, 64)
	for _, cs := range consumers {
		if cs == nil || cs.conn == nil {
			continue
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			cs.conn.Close()
		})
	}
	wg.Wait()
	r.Stop, err = d.stop()
	stopped = true
	if err != nil {
		return r, err
	}
	if err := tally(ctx, r, consumers, store, filepath.Join(pdir, "payments.db"), provider); err != nil {
		return r, err
	}
	r.KeepAliveRTT = o.rtts
	return r, nil
}

// makeFlood signs and encrypts n dialog-creates from fresh keys.
func makeFlood(n int, from *identity.Signer, provider common.Address, reg dialog.Registry) ([][]byte, string, error) {
	pub, err := reg.PublicKey(context.Background(), provider)
	if err != nil {
		return nil, "", err
	}
	out := make([][]byte, n)
	var subject string
	var wg sync.WaitGroup
	errs := make(chan error, runtime.GOMAXPROCS(0))
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				// Each a new dialog: a fresh id and ephemeral key.
				s, m, err := dialog.CreateMessage(from, provider, pub)
				if err != nil {
					errs <- err
					return
				}
				out[i] = m
				if i == 0 {
					subject = s
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, "", err
	}
	return out, subject, nil
}

func shorten(s string) string {
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}

func pct(v []time.Duration, q float64) time.Duration {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[int(q*float64(len(s)-1))]
}

func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func (r *report) print(w io.Writer, c config) {
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/1e6) }
	fmt.Fprintf(w, "\nmyst-load sessions: %d sessions held %s (keep-alive %s, invoice every %s), %d probes, flood %d\n",
		c.sessions, r.held.Round(time.Second), c.keepAlive, c.invoiceEvery, c.probes, c.flood)
	fmt.Fprintf(w, "machine: %d CPUs (GOMAXPROCS), %s\n", runtime.NumCPU(), runtime.Version())
	fmt.Fprintf(w, "sessions:     opened %d, refused %d, failed %d, dropped during the hold %d\n", r.Opened, r.Refused, r.Failed, r.Dropped)
	for k, v := range r.RefusedBy {
		fmt.Fprintf(w, "  refused %d: %s\n", v, k)
	}
	for k, v := range r.FailedBy {
		fmt.Fprintf(w, "  failed %d: %s\n", v, k)
	}
	for k, v := range r.DroppedBy {
		fmt.Fprintf(w, "  dropped %d: %s\n", v, k)
	}
	fmt.Fprintf(w, "dialog-create (ramp): p50 %s, p99 %s; session open p50 %s, p99 %s\n", ms(pct(r.Dial, .5)), ms(pct(r.Dial, .99)), ms(pct(r.Open, .5)), ms(pct(r.Open, .99)))
	if c.probes > 0 {
		fmt.Fprintf(w, "dialog-create (probes, quiet): %d, p50 %s, p99 %s; failed %d\n", len(r.ProbeQuiet), ms(pct(r.ProbeQuiet, .5)), ms(pct(r.ProbeQuiet, .99)), r.ProbeFailed)
	}
	if c.flood > 0 {
		fmt.Fprintf(w, "flood:        %d creates from one registered identity sent in %s (%.0f/s)\n", r.FloodSent, r.FloodTook.Round(time.Millisecond), float64(r.FloodSent)/r.FloodTook.Seconds())
		fmt.Fprintf(w, "dialog-create (probes, during the flood): %d, p50 %s, p99 %s, max %s\n", len(r.ProbeFlood), ms(pct(r.ProbeFlood, .5)), ms(pct(r.ProbeFlood, .99)), ms(pct(r.ProbeFlood, 1)))
		fmt.Fprintf(w, "keep-alives missed during the flood: %d; provider CPU during the flood %.0f%% of a core\n", r.MissedInFlood.Load(), 100*r.FloodCPU)
	}
	fmt.Fprintf(w, "keep-alives:  %d, missed %d, round trip p50 %s, p99 %s\n", r.KeepAlives.Load(), r.KeepAliveMissed.Load(), ms(pct(r.KeepAliveRTT, .5)), ms(pct(r.KeepAliveRTT, .99)))
	fmt.Fprintf(w, "invoices:     %d answered with %d promises; gaps over 1.5 periods: %d\n", r.Invoices.Load(), r.Promises.Load(), r.InvoiceGaps.Load())
	if r.Issued != nil {
		fmt.Fprintf(w, "promises:     %d consumer/provider pairs; consumers signed %s, provider acknowledged %s and stored %s MYSTT\n",
			r.Pairs, proposal.FormatAmount(r.Issued), proposal.FormatAmount(r.Acked), proposal.FormatAmount(r.Stored))
		fmt.Fprintf(w, "              acknowledged but not stored (lost): %d; last promise unanswered at close: %d\n", r.Lost, r.Unacked)
	}
	fmt.Fprintf(w, "provider:     unlock %s; idle RSS %s (anonymous %s, file-backed %s); ramp CPU %.0f%%; with the sessions: RSS %s (peak %s), CPU %.0f%% of a core; stop %s\n",
		r.Unlock.Round(time.Millisecond), mib(r.IdleRSS), mib(r.IdleAnon), mib(r.IdleFile), 100*r.RampCPU, mib(r.HeldRSS), mib(r.HeldPeakRSS), 100*r.HeldCPU, r.Stop.Round(time.Millisecond))
	verdict := "PASS"
	if !r.ok() {
		verdict = "FAIL (sessions refused, failed or dropped, or promises lost)"
	}
	fmt.Fprintln(w, "result:      ", strings.TrimSpace(verdict))
}
