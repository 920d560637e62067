package main

import (
	"context"
	"crypto/ecdsa"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/mystnode/myst/discoveryd"
	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/proposal"
)

type discoveryConfig struct {
	db                 string
	proposals, clients int
	duration, cacheTTL time.Duration
	mix                string
	announceRate       int
	cpuProfile         string
	serve              bool
	maxInFlight        int
	queueWait          time.Duration
}

var countries = []string{"DE", "US", "FR", "NL", "GB", "SE", "CH", "JP", "CA", "PL"}

func discoveryMain(args []string) int {
	fs := flag.NewFlagSet("discovery", flag.ExitOnError)
	var c discoveryConfig
	fs.StringVar(&c.db, "db", "", "the store: sqlite:PATH or postgres://… (default: a SQLite file in a new temporary directory)")
	fs.IntVar(&c.proposals, "proposals", 100000, "proposals to seed (1-10000000)")
	fs.IntVar(&c.clients, "clients", 16, "concurrent clients (1-4096)")
	fs.DurationVar(&c.duration, "duration", 30*time.Second, "how long to drive the server (1s-1h)")
	fs.DurationVar(&c.cacheTTL, "cache-ttl", time.Second, "the server's answer cache (0: off, to measure the database alone)")
	fs.StringVar(&c.mix, "mix", "mixed", "queries: filtered (type + country + max price, limit 50) or mixed (filtered, unfiltered, by type, cursor pages, offsets)")
	fs.IntVar(&c.announceRate, "announce-rate", 0, "re-announcements posted per second meanwhile (0-100000)")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of the run (server and clients) to this file")
	fs.BoolVar(&c.serve, "serve", false, "seed, then only serve for --duration (print the URL) for a load generator outside, like vegeta")
	fs.DurationVar(&c.queueWait, "queue-wait", 0, "how long a request waits for a turn before it is shed (0: the server's default)")
	fs.IntVar(&c.maxInFlight, "max-in-flight", 0, "the server's requests in flight before it queues and sheds (0: its default, one per core; -1: no shedding, queue without bound)")
	fs.Parse(args)
	switch {
	case c.proposals < 1 || c.proposals > 10_000_000:
		return usage("--proposals %d: must be 1-10000000", c.proposals)
	case c.clients < 1 || c.clients > 4096:
		return usage("--clients %d: must be 1-4096", c.clients)
	case c.duration < time.Second || c.duration > time.Hour:
		return usage("--duration %s: must be 1s-1h", c.duration)
	case c.cacheTTL < 0 || c.cacheTTL > time.Minute:
		return usage("--cache-ttl %s: must be 0-1m", c.cacheTTL)
	case c.mix != "filtered" && c.mix != "mixed":
		return usage("--mix %q: want filtered or mixed", c.mix)
	case c.announceRate < 0 || c.announceRate > 100_000:
		return usage("--announce-rate %d: must be 0-100000", c.announceRate)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := runDiscovery(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "myst-load:", err)
		return 1
	}
	return 0
}

func usage(format string, args ...any) int {
	fmt.Fprintf(os.Stderr, "myst-load: "+format+"\n", args...)
	return 2
}

// providerKey is the i-th seeded provider's key: derived from i, so a
// reused store's providers can sign again.
func providerKey(i int) *ecdsa.PrivateKey {
	for n := uint32(0); ; n++ {
		var b [12]byte
		binary.BigEndian.PutUint64(b[:8], uint64(i))
		binary.BigEndian.PutUint32(b[8:], n)
		if k, err := crypto.ToECDSA(crypto.Keccak256([]byte("myst-load provider"), b[:])); err == nil {
			return k
		}
	}
}

func seededProposal(i int, signer *identity.Signer, at time.Time) *proposal.Proposal {
	return &proposal.Proposal{
		FormatVersion: 1, ProviderID: signer.Address().Hex(), ServiceType: []string{"wireguard", "openvpn"}[i%2],
		Location:  proposal.Location{Country: countries[i%len(countries)], City: "Load", IPType: []string{"residential", "hosting"}[i%3/2]},
		Quality:   proposal.Quality{BandwidthMbps: float64(10 + i%500)},
		Price:     proposal.Price{Currency: "MYSTT", PerHour: fmt.Sprintf("0.%03d", i%100), PerGiB: fmt.Sprintf("0.%02d", i%50)},
		Contacts:  []proposal.Contact{{Type: "nats/v1", BrokerURLs: []string{"nats://127.0.0.1:4222"}, Subject: "myst.v1." + strings.ToLower(signer.Address().Hex()) + ".dialog"}},
		UpdatedAt: at.UTC(),
	}
}

// everyone is the seeding tool's registry: every provider is registered.
type everyone struct{}

func (everyone) IsRegistered(context.Context, common.Address) (bool, error) { return true, nil }

const seedTTL = 24 * time.Hour

func seedStore(ctx context.Context, store *discoveryd.Store, n int) error {
	have, err := store.Live(ctx, time.Now().Add(time.Hour))
	if err != nil {
		return err
	}
	if have >= n {
		fmt.Fprintf(os.Stderr, "== reusing the store: %d proposals live for another hour at least\n", have)
		return nil
	}
	fmt.Fprintf(os.Stderr, "== seeding %d proposals (%d live already)\n", n, have)
	start := time.Now()
	const batch = 512
	jobs := make(chan int)
	var wg sync.WaitGroup
	var firstErr atomic.Pointer[error]
	var done atomic.Int64
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for from := range jobs {
				recs := make([]*discoveryd.Record, 0, batch)
				for i := from; i < min(from+batch, n); i++ {
					signer := identity.NewSigner(providerKey(i))
					s, err := proposal.Sign(seededProposal(i, signer, time.Now()), signer)
					if err != nil {
						firstErr.CompareAndSwap(nil, &err)
						return
					}
					p, _ := s.Open()
					recs = append(recs, discoveryd.NewRecord(p, s, seedTTL))
				}
				for _, err := range store.UpsertBatch(ctx, recs) {
					if err != nil && err != discoveryd.ErrNotNewer {
						firstErr.CompareAndSwap(nil, &err)
						return
					}
				}
				if d := done.Add(int64(len(recs))); d%(50*batch) < batch {
					fmt.Fprintf(os.Stderr, "==   %d of %d\n", d, n)
				}
			}
		})
	}
	for from := 0; from < n; from += batch {
		select {
		case jobs <- from:
		case <-ctx.Done():
		}
	}
	close(jobs)
	wg.Wait()
	if e := firstErr.Load(); e != nil {
		return *e
	}
	took := time.Since(start)
	fmt.Fprintf(os.Stderr, "== seeded %d in %s (%.0f/s, signing included)\n", n, took.Round(time.Millisecond), float64(n)/took.Seconds())
	return ctx.Err()
}

type sample struct {
	kind string
	took time.Duration
	err  bool
}

func runDiscovery(ctx context.Context, c discoveryConfig) error {
	if c.db == "" {
		dir, err := os.MkdirTemp("", "myst-load-discovery-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		c.db = "sqlite:" + filepath.Join(dir, "discovery.db")
	}
	store, err := discoveryd.OpenStore(ctx, c.db)
	if err != nil {
		return err
	}
	defer store.Close()
	if err := seedStore(ctx, store, c.proposals); err != nil {
		return err
	}
	cacheTTL := c.cacheTTL
	if cacheTTL == 0 {
		cacheTTL = -1
	}
	scfg := discoveryd.Config{TTL: seedTTL, CacheTTL: cacheTTL, MaxInFlight: c.maxInFlight, QueueWait: c.queueWait}
	if c.maxInFlight < 0 {
		scfg.MaxInFlight, scfg.MaxQueue = 1<<30, -1
	}
	srv := discoveryd.NewServer(store, everyone{}, scfg)
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	defer hs.Close()
	base := "http://" + ln.Addr().String()
	if c.serve {
		fmt.Printf("serving %s (%d proposals) for %s\n", base, c.proposals, c.duration)
		sctx, cancel := context.WithTimeout(ctx, c.duration)
		defer cancel()
		<-sctx.Done()
		return nil
	}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: c.clients + 16, MaxIdleConns: c.clients + 16}}

	dbKind := strings.SplitN(c.db, ":", 2)[0]
	if dbKind == "postgresql" {
		dbKind = "postgres"
	}
	fmt.Fprintf(os.Stderr, "== %d clients, %s mix, cache %s, for %s\n", c.clients, c.mix, c.cacheTTL, c.duration)
	if c.cpuProfile != "" {
		f, err := os.Create(c.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	runCtx, cancel := context.WithTimeout(ctx, c.duration)
	defer cancel()
	results := make([][]sample, c.clients)
	var wg sync.WaitGroup
	for cl := range c.clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(cl), 7))
			var cursor url.Values
			for runCtx.Err() == nil {
				kind, q := nextQuery(c.mix, rng, &cursor)
				start := time.Now()
				next, ok := get(runCtx, hc, base, q)
				if runCtx.Err() != nil {
					break
				}
				results[cl] = append(results[cl], sample{kind: kind, took: time.Since(start), err: !ok})
				if kind == "cursor" {
					if next == "" || rng.IntN(10) == 0 {
						cursor = nil
					} else {
						q.Set("cursor", next)
						cursor = q
					}
				}
			}
		})
	}
	var posted, postErrs atomic.Int64
	if c.announceRate > 0 {
		wg.Go(func() { announce(runCtx, hc, base, c, &posted, &postErrs) })
	}
	wg.Wait()
	elapsed := c.duration

	all := map[string][]time.Duration{}
	var every []time.Duration
	errs := 0
	for _, rs := range results {
		for _, s := range rs {
			if s.err {
				errs++
				continue
			}
			all[s.kind] = append(all[s.kind], s.took)
			every = append(every, s.took)
		}
	}
	kinds := make([]string, 0, len(all))
	for k := range all {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		fmt.Printf("  %-10s %7d queries, p50 %s, p99 %s\n", k, len(all[k]), msec(pct(all[k], .5)), msec(pct(all[k], .99)))
	}
	if c.announceRate > 0 {
		fmt.Printf("  announces %6d posted (%.0f/s of %d/s asked), %d failed\n", posted.Load(), float64(posted.Load())/elapsed.Seconds(), c.announceRate, postErrs.Load())
	}
	fmt.Printf("discovery: %d proposals, %d clients, %s: %.0f q/s, p50 %s, p99 %s, errors %d\n",
		c.proposals, c.clients, dbKind, float64(len(every))/elapsed.Seconds(), msec(pct(every, .5)), msec(pct(every, .99)), errs)
	return nil
}

func msec(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/1e6) }

// nextQuery picks a query of the mix.
func nextQuery(mix string, rng *rand.Rand, cursor *url.Values) (string, url.Values) {
	filtered := func() url.Values {
		return url.Values{"service_type": {"wireguard"}, "country": {countries[rng.IntN(len(countries))]}, "max_price_hour": {"0.050"}, "limit": {"50"}}
	}
	if mix == "filtered" {
		return "filtered", filtered()
	}
	switch r := rng.IntN(100); {
	case *cursor != nil:
		return "cursor", *cursor
	case r < 40:
		return "filtered", filtered()
	case r < 60:
		return "all", url.Values{"limit": {"50"}}
	case r < 75:
		return "by-type", url.Values{"service_type": {"openvpn"}, "metering": {"time"}, "limit": {"50"}}
	case r < 90:
		return "cursor", url.Values{"service_type": {"wireguard"}, "limit": {"50"}}
	default:
		return "offset", url.Values{"limit": {"50"}, "offset": {fmt.Sprint(rng.IntN(5000))}}
	}
}

// get runs one search; it returns the next cursor and whether it succeeded.
func get(ctx context.Context, hc *http.Client, base string, q url.Values) (string, bool) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/proposals?"+q.Encode(), nil)
	resp, err := hc.Do(req)
	if err != nil {
		return "", false
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return "", false
	}
	// The cursor, without decoding the whole page.
	if i := strings.LastIndex(string(body), `"next":"`); i >= 0 {
		rest := string(body[i+8:])
		if j := strings.IndexByte(rest, '"'); j >= 0 {
			return rest[:j], true
		}
	}
	return "", true
}

// announce re-posts seeded proposals (freshly signed) at the rate asked.
func announce(ctx context.Context, hc *http.Client, base string, c discoveryConfig, posted, failed *atomic.Int64) {
	// Posts come from many providers at once: as many in flight as the
	// rate asks for an eighth of a second.
	workers := min(1024, max(32, c.announceRate/8))
	jobs := make(chan int, 4*workers)
	// Each provider's key is derived once: a real provider holds its key.
	signers := make([]atomic.Pointer[identity.Signer], c.proposals)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range jobs {
				signer := signers[i].Load()
				if signer == nil {
					signer = identity.NewSigner(providerKey(i))
					signers[i].Store(signer)
				}
				s, err := proposal.Sign(seededProposal(i, signer, time.Now()), signer)
				if err != nil {
					failed.Add(1)
					continue
				}
				b, _ := json.Marshal(s)
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/proposals", strings.NewReader(string(b)))
				req.Header.Set("Content-Type", "application/json")
				resp, err := hc.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						failed.Add(1)
					}
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					posted.Add(1)
				} else {
					failed.Add(1)
				}
			}
		})
	}
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	per := max(1, c.announceRate/100)
	next := 0
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-t.C:
		}
		for range per {
			select {
			case jobs <- next % c.proposals:
				next++
			default: // the workers are behind: the rate is not sustained
			}
		}
	}
	close(jobs)
	wg.Wait()
}
