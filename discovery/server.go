// Package discovery is the Discovery API: providers announce signed
// proposals, consumers search them with filters. The server keeps proposals
// in SQLite or PostgreSQL; the client is what nodes use.
package discovery

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/mystnode/myst/httpjson"
	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/proposal"
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
}

func (cfg Config) withDefaults() Config {
	if cfg.TTL <= 0 {
		cfg.TTL = 2 * time.Minute
	}
	if cfg.MaxSkew <= 0 {
		cfg.MaxSkew = 5 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
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
	live     prometheus.GaugeFunc

	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
}

const maxBody = 64 << 10

// NewServer builds the handlers and starts the expiry loop; Close stops it.
func NewServer(store *Store, reg Registry, cfg Config) *Server {
	cfg = cfg.withDefaults()
	s := &Server{store: store, registry: reg, cfg: cfg, mux: http.NewServeMux(), stop: make(chan struct{}), done: make(chan struct{})}
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "myst_discovery_requests_total", Help: "Discovery API requests, by operation and outcome.",
	}, []string{"op", "code"})
	cfg.Registerer.MustRegister(s.requests)

	s.mux.HandleFunc("POST /v1/proposals", s.post)
	s.mux.HandleFunc("DELETE /v1/proposals/{provider_id}/{service_type}", s.delete)
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
	go s.expireLoop()
	return s
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Close stops the expiry loop.
func (s *Server) Close() {
	s.stopOnce.Do(func() { close(s.stop) })
	<-s.done
}

func (s *Server) expireLoop() {
	defer close(s.done)
	t := time.NewTicker(min(s.cfg.TTL/2, 30*time.Second))
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if n, err := s.store.Expire(ctx, time.Now()); err != nil {
				s.cfg.Logger.Warn("expire proposals", "err", err)
			} else if n > 0 {
				s.cfg.Logger.Info("expired proposals", "count", n)
			}
			cancel()
		}
	}
}

// APIError is every error body.
type APIError = httpjson.ErrorBody

func (s *Server) fail(w http.ResponseWriter, op string, status int, field, format string, args ...any) {
	s.requests.WithLabelValues(op, strconv.Itoa(status)).Inc()
	httpjson.Write(w, status, APIError{Error: fmt.Sprintf(format, args...), Field: field})
}

func (s *Server) ok(w http.ResponseWriter, op string, status int, v any) {
	s.requests.WithLabelValues(op, strconv.Itoa(status)).Inc()
	if v == nil {
		w.WriteHeader(status)
		return
	}
	httpjson.Write(w, status, v)
}

// PostResult answers a successful POST.
type PostResult struct {
	ExpiresAt time.Time `json:"expires_at"`
}

func (s *Server) readBody(w http.ResponseWriter, r *http.Request, op string, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		s.fail(w, op, http.StatusRequestEntityTooLarge, "", "request body over %d bytes", maxBody)
		return false
	}
	var se *httpjson.StatusError
	if err := httpjson.Decode(body, v); errors.As(err, &se) {
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
	hour, _ := proposal.ParseAmount(p.Price.PerHour)
	gib, _ := proposal.ParseAmount(p.Price.PerGiB)
	rec := &Record{
		ProviderID: strings.ToLower(p.Provider().Hex()), ServiceType: p.ServiceType, Country: p.Location.Country,
		BandwidthMbps: p.Quality.BandwidthMbps, PriceHourNano: NanoCeil(hour), PriceGiBNano: NanoCeil(gib),
		UpdatedAt: p.UpdatedAt, ExpiresAt: p.UpdatedAt.Add(s.cfg.TTL),
		Proposal: string(signed.Proposal), Signature: signed.Signature,
	}
	if !rec.ExpiresAt.After(now) {
		s.fail(w, op, http.StatusBadRequest, "updated_at", "the proposal expired already (updated_at + TTL %s is past)", s.cfg.TTL)
		return
	}
	switch err := s.store.Upsert(ctx, rec); {
	case errors.Is(err, ErrNotNewer):
		s.fail(w, op, http.StatusConflict, "updated_at", "%v: re-sign the proposal with a later updated_at", err)
		return
	case err != nil:
		s.cfg.Logger.Error("store proposal", "err", err)
		s.fail(w, op, http.StatusServiceUnavailable, "", "could not store the proposal; try again")
		return
	}
	s.ok(w, op, http.StatusOK, PostResult{ExpiresAt: rec.ExpiresAt})
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
		s.ok(w, op, http.StatusNoContent, nil)
	}
}

// SearchResult answers GET /v1/proposals.
type SearchResult struct {
	Proposals []proposal.Signed `json:"proposals"`
	Total     int               `json:"total"`
	Limit     int               `json:"limit"`
	Offset    int               `json:"offset"`
}

// ParseFilter reads and checks the search query parameters.
func ParseFilter(q map[string][]string) (Filter, error) {
	f := Filter{MaxPriceHour: -1, MaxPriceGiB: -1, Limit: 50}
	for name, vals := range q {
		if len(vals) != 1 {
			return f, &proposal.FieldError{Field: name, Msg: "give it once"}
		}
		v := vals[0]
		bad := func(format string, args ...any) error {
			return &proposal.FieldError{Field: name, Msg: fmt.Sprintf(format, args...)}
		}
		switch name {
		case "service_type":
			if !proposal.ValidServiceType(v) {
				return f, bad("%q is not a service type", v)
			}
			f.ServiceType = v
		case "country":
			if !proposal.ValidCountry(v) {
				return f, bad("%q is not an ISO 3166-1 alpha-2 country code (like DE)", v)
			}
			f.Country = v
		case "metering":
			if v != "time" && v != "bytes" {
				return f, bad("%q: want time or bytes", v)
			}
			f.Metering = v
		case "max_price_hour", "max_price_gib":
			a, err := proposal.ParseAmount(v)
			if err != nil {
				return f, bad("%v", err)
			}
			if name == "max_price_hour" {
				f.MaxPriceHour = NanoFloor(a)
			} else {
				f.MaxPriceGiB = NanoFloor(a)
			}
		case "min_bandwidth":
			b, err := strconv.ParseFloat(v, 64)
			if err != nil || b < 0 || b > 1e6 {
				return f, bad("%q: want Mbit/s between 0 and 1000000", v)
			}
			f.MinBandwidth = b
		case "provider_id":
			a, err := identity.ParseAddress(v)
			if err != nil {
				return f, bad("%v", err)
			}
			f.ProviderID = strings.ToLower(a.Hex())
		case "limit":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 500 {
				return f, bad("%q: want 1 to 500", v)
			}
			f.Limit = n
		case "offset":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 1_000_000 {
				return f, bad("%q: want 0 to 1000000", v)
			}
			f.Offset = n
		default:
			return f, bad("unknown filter (known: service_type, country, metering, max_price_hour, max_price_gib, min_bandwidth, provider_id, limit, offset)")
		}
	}
	return f, nil
}

func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	const op = "search"
	f, err := ParseFilter(r.URL.Query())
	if err != nil {
		var fe *proposal.FieldError
		errors.As(err, &fe)
		s.fail(w, op, http.StatusBadRequest, fe.Field, "%v", err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	recs, total, err := s.store.Search(ctx, f, time.Now())
	if err != nil {
		s.cfg.Logger.Error("search proposals", "err", err)
		s.fail(w, op, http.StatusServiceUnavailable, "", "could not search; try again")
		return
	}
	out := SearchResult{Proposals: make([]proposal.Signed, 0, len(recs)), Total: total, Limit: f.Limit, Offset: f.Offset}
	for _, rec := range recs {
		out.Proposals = append(out.Proposals, proposal.Signed{Proposal: json.RawMessage(rec.Proposal), Signature: rec.Signature})
	}
	s.ok(w, op, http.StatusOK, out)
}
