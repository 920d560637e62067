// Package discoveryd is the Discovery API server: providers announce
// signed proposals, consumers search them with filters (package discovery
// is the client and the filter). It keeps proposals in SQLite or
// PostgreSQL; nodes do not link it.
package discoveryd

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/mystnode/myst/discovery"
	"github.com/mystnode/myst/httpjson"
	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/proposal"
	"github.com/mystnode/myst/servicetypes"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

//go:embed openapi.json
var openAPI []byte

// Registry answers whether a provider is registered; registry.Cache is one.
type Registry interface {
	IsRegistered(ctx context.Context, id common.Address) (bool, error)
}

// Config configures a server.
type Config struct {
	// TTL is how long a proposal lives after its updated_at unless re-posted
	// (default 2 minutes).
	TTL time.Duration
	// MaxSkew bounds how far updated_at and delete timestamps may be from
	// the server's clock (default 5 minutes).
	MaxSkew time.Duration
	Logger  *slog.Logger
	// Registerer receives the server's metrics (nil: a private registry).
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
	// CacheTTL is how long a search answer is served from memory (default
	// 1 s; negative: no cache), and only while the database has not
	// changed but for renewals (a new or changed proposal, a delete, an
	// expiry): at once for changes made through this server, within
	// ChangePoll (default 100 ms) for those of other replicas.
	CacheTTL   time.Duration
	ChangePoll time.Duration
	// ServiceTypes are those proposals may offer (default
	// servicetypes.Names()): made-up ones are refused, so one
	// provider holds at most this many proposals.
	ServiceTypes []string
	// MaxInFlight requests (searches and posts) run at once (default one
	// per core); up to MaxQueue more (default DefaultQueue; negative:
	// none) wait at most QueueWait (default DefaultQueueWait) for a turn;
	// the rest get 503 with Retry-After at once.
	MaxInFlight int
	MaxQueue    int
	QueueWait   time.Duration
}

func (cfg Config) withDefaults() Config {
	if cfg.TTL <= 0 {
		cfg.TTL = 2 * time.Minute
	}
	if cfg.MaxSkew <= 0 {
		cfg.MaxSkew = 5 * time.Minute
	}
	if len(cfg.ServiceTypes) == 0 {
		cfg.ServiceTypes = servicetypes.Names()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = time.Second
	}
	if cfg.ChangePoll <= 0 {
		cfg.ChangePoll = 100 * time.Millisecond
	}
	if cfg.MaxQueue == 0 {
		cfg.MaxQueue = DefaultQueue
	}
	if cfg.QueueWait <= 0 {
		cfg.QueueWait = DefaultQueueWait
	}
	if cfg.Registerer == nil {
		r := prometheus.NewRegistry()
		cfg.Registerer, cfg.Gatherer = r, r
	}
	return cfg
}

// Server serves the Discovery API over a Store.
type Server struct {
	store    *Store
	registry Registry
	cfg      Config
	mux      *http.ServeMux

	requests *prometheus.CounterVec
	cacheOps *prometheus.CounterVec
	cache    *answerCache
	writes   chan writeReq
	// searchShed bounds the searches being worked out (not those being
	// written to their clients: a slow reader holds no turn).
	searchShed *shedder
	gen        atomic.Int64 // the store's Generation as last read

	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
	writers  sync.WaitGroup
}

const maxBody = 64 << 10

// NewServer builds the handlers and starts the expiry loop; Close stops it.
func NewServer(store *Store, reg Registry, cfg Config) *Server {
	cfg = cfg.withDefaults()
	s := &Server{store: store, registry: reg, cfg: cfg, mux: http.NewServeMux(), stop: make(chan struct{}), done: make(chan struct{}),
		cache: newAnswerCache(cfg.CacheTTL), writes: make(chan writeReq, 4096)}
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "myst_discovery_requests_total", Help: "Discovery API requests, by operation and outcome.",
	}, []string{"op", "code"})
	s.cacheOps = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "myst_discovery_search_cache_total", Help: "Search answers, by source (hit: from memory, shared: waited for the same query in flight, miss: from the database).",
	}, []string{"source"})
	cfg.Registerer.MustRegister(s.requests, s.cacheOps)

	shed := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "myst_discovery_shed_total", Help: "Requests answered 503 at once because the server was over capacity.",
	})
	cfg.Registerer.MustRegister(shed)
	sh := newShedder(cfg.MaxInFlight, cfg.MaxQueue, cfg.QueueWait, shed.Inc)
	// Writes wait mostly for the writer's batched transaction, not for a
	// core: a pool of their own, wider, so that they never hold back
	// searches nor searches them.
	wsh := newShedder(WriteInFlight, WriteQueue, WriteQueueWait, shed.Inc)
	s.mux.HandleFunc("POST /v1/proposals", s.bodyFirst("post", wsh.wrap(s.post)))
	s.mux.HandleFunc("DELETE /v1/proposals/{provider_id}/{service_type}", s.bodyFirst("delete", wsh.wrap(s.delete)))
	s.searchShed = sh
	s.mux.HandleFunc("GET /v1/proposals", s.search)
	s.mux.HandleFunc("GET /v1/openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(openAPI)
	})
	s.mux.HandleFunc("GET /healthcheck", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		if err := store.Ping(ctx); err != nil {
			httpjson.Write(w, http.StatusServiceUnavailable, map[string]string{"status": "database unreachable", "error": err.Error()})
			return
		}
		httpjson.Write(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	if cfg.Gatherer != nil {
		s.mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{}))
	}
	s.refreshGen()
	go s.expireLoop()
	for range store.Writers() {
		s.writers.Go(s.writer)
	}
	return s
}

// refreshGen reads the store's Generation; on an error the cache stops
// serving (a generation no answer has) until a read succeeds.
func (s *Server) refreshGen() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	gen, err := s.store.Generation(ctx)
	if err != nil {
		s.cfg.Logger.Warn("read the store's change count", "err", err)
		gen = -1 - time.Now().UnixNano() // matches no cached answer
	}
	s.gen.Store(gen)
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Close stops the expiry loop and the writer (after the writes queued).
func (s *Server) Close() {
	s.stopOnce.Do(func() { close(s.stop) })
	<-s.done
	s.writers.Wait()
}

// writeReq is a proposal waiting for the writer.
type writeReq struct {
	ctx  context.Context
	rec  *Record
	done chan error
}

// maxWriteBatch bounds the proposals stored in one transaction.
const maxWriteBatch = 512

// writer stores posted proposals in batches: whatever queued while the
// previous batch committed goes in the next transaction, so a burst of
// announces costs one commit per batch, not one each. SQLite has one
// writer; PostgreSQL several, each with its own transaction.
func (s *Server) writer() {
	for {
		var first writeReq
		select {
		case first = <-s.writes:
		case <-s.stop:
			return
		}
		batch := []writeReq{first}
	fill:
		for len(batch) < maxWriteBatch {
			select {
			case w := <-s.writes:
				batch = append(batch, w)
			default:
				break fill
			}
		}
		recs := make([]*Record, 0, len(batch))
		live := batch[:0]
		for _, w := range batch {
			if w.ctx.Err() != nil {
				w.done <- w.ctx.Err()
				continue
			}
			recs = append(recs, w.rec)
			live = append(live, w)
		}
		if len(recs) == 0 {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		errs := s.store.UpsertBatch(ctx, recs)
		cancel()
		s.refreshGen() // before anyone hears the post succeeded
		for i, w := range live {
			w.done <- errs[i]
		}
	}
}

// NewRecord is what the store keeps of a checked proposal (p is
// signed.Open()'s result), living ttl after its updated_at.
func NewRecord(p *proposal.Proposal, signed *proposal.Signed, ttl time.Duration) *Record {
	hour, _ := proposal.ParseAmount(p.Price.PerHour)
	gib, _ := proposal.ParseAmount(p.Price.PerGiB)
	return &Record{
		ProviderID: strings.ToLower(p.Provider().Hex()), ServiceType: p.ServiceType, Country: p.Location.Country,
		BandwidthMbps: p.Quality.BandwidthMbps, Reachability: string(p.Reachability), BlockedPorts: blockedPorts(p.Exit), SessionMbit: sessionMbit(p.Exit),
		PriceHour: hour, PriceGiB: gib,
		UpdatedAt: p.UpdatedAt, ExpiresAt: p.UpdatedAt.Add(ttl),
		Proposal: string(signed.Proposal), Signature: signed.Signature,
	}
}

// save queues a record for the writer and waits for its outcome.
func (s *Server) save(ctx context.Context, rec *Record) error {
	w := writeReq{ctx: ctx, rec: rec, done: make(chan error, 1)}
	select {
	case s.writes <- w:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.stop:
		return errors.New("the server is stopping")
	}
	select {
	case err := <-w.done:
		return err
	case <-s.stop:
		return errors.New("the server is stopping")
	}
}

func (s *Server) expireLoop() {
	defer close(s.done)
	t := time.NewTicker(min(s.cfg.TTL/2, 30*time.Second))
	defer t.Stop()
	poll := time.NewTicker(s.cfg.ChangePoll)
	defer poll.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-poll.C:
			s.refreshGen() // what other replicas changed
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			n, err := s.store.Expire(ctx, time.Now())
			if n > 0 {
				s.refreshGen()
				s.cfg.Logger.Info("expired proposals", "count", n)
			}
			if err != nil {
				s.cfg.Logger.Warn("expire proposals", "err", err)
			}
			cancel()
		}
	}
}

// APIError is every error body.
func (s *Server) fail(w http.ResponseWriter, op string, status int, field, format string, args ...any) {
	s.requests.WithLabelValues(op, strconv.Itoa(status)).Inc()
	httpjson.Write(w, status, discovery.APIError{Error: fmt.Sprintf(format, args...), Field: field})
}

func (s *Server) ok(w http.ResponseWriter, op string, status int, v any) {
	s.requests.WithLabelValues(op, strconv.Itoa(status)).Inc()
	if v == nil {
		w.WriteHeader(status)
		return
	}
	httpjson.Write(w, status, v)
}

// bodyFirst reads a request's body (at most maxBody, within the HTTP
// server's read timeout) before h runs, so that a client sending its body
// slowly holds none of the shedder's slots.
func (s *Server) bodyFirst(op string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			body, err := httpjson.ReadBody(w, r, maxBody)
			if err != nil {
				var se *httpjson.StatusError
				if errors.As(err, &se) {
					s.fail(w, op, se.Status, se.Body.Field, "%s", se.Body.Error)
				} else {
					s.fail(w, op, http.StatusBadRequest, "", "read the body: %v", err)
				}
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		h(w, r)
	}
}

func (s *Server) readBody(w http.ResponseWriter, r *http.Request, op string, v any) bool {
	var se *httpjson.StatusError
	body, err := httpjson.ReadBody(w, r, maxBody)
	if err == nil {
		err = httpjson.Decode(body, v)
	}
	if errors.As(err, &se) {
		s.fail(w, op, se.Status, se.Body.Field, "%s", se.Body.Error)
		return false
	}
	return true
}

func (s *Server) post(w http.ResponseWriter, r *http.Request) {
	const op = "post"
	var signed proposal.Signed
	if !s.readBody(w, r, op, &signed) {
		return
	}
	p, err := signed.Open()
	if err != nil {
		var fe *proposal.FieldError
		if errors.As(err, &fe) {
			s.fail(w, op, http.StatusBadRequest, fe.Field, "%v", err)
		} else {
			s.fail(w, op, http.StatusBadRequest, "proposal", "%v", err)
		}
		return
	}
	if !slices.Contains(s.cfg.ServiceTypes, p.ServiceType) {
		s.fail(w, op, http.StatusBadRequest, "service_type", "service type %q is not offered on this network (known: %s)", p.ServiceType, strings.Join(s.cfg.ServiceTypes, ", "))
		return
	}
	now := time.Now()
	if d := p.UpdatedAt.Sub(now); d > s.cfg.MaxSkew || d < -s.cfg.MaxSkew {
		s.fail(w, op, http.StatusBadRequest, "updated_at", "updated_at is %s off the server's clock (at most %s): check the provider's clock", d.Round(time.Second), s.cfg.MaxSkew)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	registered, err := s.registry.IsRegistered(ctx, p.Provider())
	if err != nil {
		s.fail(w, op, http.StatusBadGateway, "", "could not ask the identity registry: %v", err)
		return
	}
	if !registered {
		s.fail(w, op, http.StatusForbidden, "provider_id", "provider %s is not registered on chain: register it with `myst identity register`", p.Provider().Hex())
		return
	}
	rec := NewRecord(p, &signed, s.cfg.TTL)
	if !rec.ExpiresAt.After(now) {
		s.fail(w, op, http.StatusBadRequest, "updated_at", "the proposal expired already (updated_at + TTL %s is past)", s.cfg.TTL)
		return
	}
	switch err := s.save(ctx, rec); {
	case errors.Is(err, ErrNotNewer):
		s.fail(w, op, http.StatusConflict, "updated_at", "%v: re-sign the proposal with a later updated_at", err)
		return
	case err != nil:
		s.cfg.Logger.Error("store proposal", "err", err)
		s.fail(w, op, http.StatusServiceUnavailable, "", "could not store the proposal; try again")
		return
	}
	s.ok(w, op, http.StatusOK, discovery.PostResult{ExpiresAt: rec.ExpiresAt})
}

func (s *Server) delete(w http.ResponseWriter, r *http.Request) {
	const op = "delete"
	provider, err := identity.ParseAddress(r.PathValue("provider_id"))
	if err != nil {
		s.fail(w, op, http.StatusBadRequest, "provider_id", "%v", err)
		return
	}
	svc := r.PathValue("service_type")
	if !proposal.ValidServiceType(svc) {
		s.fail(w, op, http.StatusBadRequest, "service_type", "%q is not a service type", svc)
		return
	}
	var req proposal.DeleteRequest
	if !s.readBody(w, r, op, &req) {
		return
	}
	if d := time.Since(req.Timestamp); d > s.cfg.MaxSkew || d < -s.cfg.MaxSkew {
		s.fail(w, op, http.StatusBadRequest, "timestamp", "timestamp is %s off the server's clock (at most %s)", d.Round(time.Second), s.cfg.MaxSkew)
		return
	}
	if err := req.Verify(provider, svc); err != nil {
		s.fail(w, op, http.StatusForbidden, "signature", "%v", err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	// A delete removes only what was posted before it was signed, so a
	// replayed delete can't remove a later announcement.
	switch err := s.store.Delete(ctx, strings.ToLower(provider.Hex()), svc, req.Timestamp); {
	case errors.Is(err, ErrNotFound):
		s.fail(w, op, http.StatusNotFound, "", "no proposal %s/%s posted before the delete was signed", provider.Hex(), svc)
	case err != nil:
		s.cfg.Logger.Error("delete proposal", "err", err)
		s.fail(w, op, http.StatusServiceUnavailable, "", "could not delete the proposal; try again")
	default:
		s.refreshGen()
		s.ok(w, op, http.StatusNoContent, nil)
	}
}

// encodeResult writes a SearchResult's JSON by hand: the stored proposal
// bytes are compact JSON already (checked when posted), so they are copied,
// not parsed and re-encoded.
func encodeResult(page Page, f discovery.Filter, next string) []byte {
	size := 128
	for _, r := range page.Records {
		size += len(r.Proposal) + len(r.Signature) + 32
	}
	b := make([]byte, 0, size)
	b = append(b, `{"proposals":[`...)
	first := true
	for _, r := range page.Records {
		if !json.Valid([]byte(r.Proposal)) {
			continue // not what a post stored; never break the answer
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, `{"proposal":`...)
		b = append(b, r.Proposal...)
		b = append(b, `,"signature":`...)
		b = strconv.AppendQuote(b, r.Signature)
		b = append(b, '}')
	}
	b = append(b, `],"total":`...)
	b = strconv.AppendInt(b, int64(page.Total), 10)
	b = append(b, `,"total_exact":`...)
	b = strconv.AppendBool(b, page.TotalExact)
	b = append(b, `,"limit":`...)
	b = strconv.AppendInt(b, int64(f.Limit), 10)
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, int64(f.Offset), 10)
	if next != "" {
		b = append(b, `,"next":`...)
		b = strconv.AppendQuote(b, next)
	}
	return append(b, "}\n"...)
}

func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	const op = "search"
	q := r.URL.Query()
	f, err := discovery.ParseFilter(q)
	if err != nil {
		var fe *proposal.FieldError
		errors.As(err, &fe)
		s.fail(w, op, http.StatusBadRequest, fe.Field, "%v", err)
		return
	}
	if !s.searchShed.enter(w) {
		return
	}
	a, source, err := s.cache.get(q.Encode(), s.gen.Load(), func() (*answer, error) {
		// Not the request's context: other requests may wait for this one.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		page, err := s.store.Search(ctx, f, time.Now())
		if err != nil {
			return nil, err
		}
		next := ""
		if page.Next != nil {
			next = discovery.EncodeCursor(*page.Next)
		}
		var expires time.Time
		for _, rec := range page.Records {
			if expires.IsZero() || rec.ExpiresAt.Before(expires) {
				expires = rec.ExpiresAt
			}
		}
		return newAnswer(encodeResult(page, f, next), expires), nil
	})
	s.searchShed.leave()
	s.cacheOps.WithLabelValues(source).Inc()
	if err != nil {
		s.cfg.Logger.Error("search proposals", "err", err)
		s.fail(w, op, http.StatusServiceUnavailable, "", "could not search; try again")
		return
	}
	s.requests.WithLabelValues(op, "200").Inc()
	a.serve(w, r)
}

// blockedPorts is an exit's blocked ports as stored: ",25,465," ("" for
// none), so that a port is matched as ",25,".
func blockedPorts(e *proposal.Exit) string {
	if e == nil || len(e.BlockedPorts) == 0 {
		return ""
	}
	var b strings.Builder
	for _, p := range e.BlockedPorts {
		fmt.Fprintf(&b, ",%d", p)
	}
	return b.String() + ","
}

func sessionMbit(e *proposal.Exit) float64 {
	if e == nil {
		return 0
	}
	return e.SessionMbit
}
