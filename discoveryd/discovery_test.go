package discoveryd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/mystnode/myst/discovery"
	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/mysttest"
	"github.com/mystnode/myst/proposal"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
	)
}

// fakeRegistry stands in for the chain in unit tests; e2e tests use the real one.
type fakeRegistry struct {
	mu  sync.Mutex
	ids map[common.Address]bool
	err error
}

func (r *fakeRegistry) IsRegistered(_ context.Context, id common.Address) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ids == nil {
		r.ids = map[common.Address]bool{}
	}
	return r.ids[id], r.err
}

func sqliteStore(t testing.TB) *Store {
	t.Helper()
	s, err := OpenStore(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "discovery.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

type testServer struct {
	*httptest.Server
	reg    *fakeRegistry
	client *discovery.Client
}

func startServer(t testing.TB, store *Store, reg *fakeRegistry, ttl time.Duration) *testServer {
	t.Helper()
	if reg == nil {
		reg = &fakeRegistry{}
	}
	srv := NewServer(store, reg, Config{TTL: ttl})
	t.Cleanup(srv.Close)
	return startServerWith(t, srv)
}

// startServerWith serves srv (whose registry is a *fakeRegistry) over HTTP.
func startServerWith(t testing.TB, srv *Server) *testServer {
	t.Helper()
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return &testServer{Server: hs, reg: srv.registry.(*fakeRegistry), client: discovery.NewClient(hs.URL)}
}

func (s *testServer) register(ids ...*identity.Signer) {
	s.reg.mu.Lock()
	defer s.reg.mu.Unlock()
	if s.reg.ids == nil {
		s.reg.ids = map[common.Address]bool{}
	}
	for _, id := range ids {
		s.reg.ids[id.Address()] = true
	}
}

func newProposal(p *identity.Signer, svc, country, perHour, perGiB string, mbps float64) *proposal.Proposal {
	return &proposal.Proposal{
		FormatVersion: 1, ProviderID: p.Address().Hex(), ServiceType: svc,
		Location:  proposal.Location{Country: country, City: "Somewhere", IPType: "residential"},
		Quality:   proposal.Quality{BandwidthMbps: mbps},
		Price:     proposal.Price{Currency: "MYSTT", PerHour: perHour, PerGiB: perGiB},
		Contacts:  []proposal.Contact{{Type: "nats/v1", BrokerURLs: []string{"nats://127.0.0.1:4222"}, Subject: "myst.v1.x.dialog"}},
		UpdatedAt: time.Now().UTC(),
	}
}

func signed(t testing.TB, p *proposal.Proposal, by *identity.Signer) *proposal.Signed {
	t.Helper()
	s, err := proposal.Sign(p, by)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func search(t testing.TB, c *discovery.Client, q string) []discovery.Found {
	t.Helper()
	v, err := url.ParseQuery(q)
	if err != nil {
		t.Fatal(err)
	}
	f, err := discovery.ParseFilter(v)
	if err != nil {
		t.Fatal(err)
	}
	found, _, dropped, err := c.Search(mysttest.Ctx(t, 30*time.Second), f)
	if err != nil {
		t.Fatalf("search %q: %v", q, err)
	}
	if dropped != 0 {
		t.Fatalf("search %q: %d results with bad signatures", q, dropped)
	}
	return found
}

func TestAnnounceSearchUnregister(t *testing.T) {
	srv := startServer(t, sqliteStore(t), nil, time.Minute)
	ctx := mysttest.Ctx(t, 30*time.Second)
	a, b, c := mysttest.NewSigner(t), mysttest.NewSigner(t), mysttest.NewSigner(t)
	srv.register(a, b, c)
	for _, x := range []struct {
		s             *identity.Signer
		svc, cc, h, g string
		mbps          float64
	}{
		{a, "noop", "DE", "0.01", "0", 100},
		{a, "openvpn", "DE", "0.02", "0.05", 100},
		{b, "openvpn", "US", "0", "0.1", 10},
		{c, "openvpn", "DE", "0.5", "0", 1000},
	} {
		p := newProposal(x.s, x.svc, x.cc, x.h, x.g, x.mbps)
		switch {
		case x.s == b:
			p.Reachability = "mapped"
			p.Exit = &proposal.Exit{BlockedPorts: []uint16{25, 465}, SessionMbit: 20}
		case x.s == c:
			p.Reachability = "symmetric"
			p.Exit = &proposal.Exit{BlockedPorts: []uint16{2525}}
		case x.svc == "openvpn":
			p.Exit = &proposal.Exit{SessionMbit: 100}
		}
		if _, err := srv.client.Announce(ctx, signed(t, p, x.s)); err != nil {
			t.Fatal(err)
		}
	}
	cases := map[string]int{
		"":                                      4,
		"service_type=openvpn":                  3,
		"service_type=openvpn&country=DE":       2,
		"country=US":                            1,
		"metering=time":                         3,
		"metering=bytes":                        2,
		"max_price_hour=0.02":                   3,
		"max_price_hour=0.019999":               2,
		"max_price_gib=0.05":                    3,
		"min_bandwidth=100":                     3,
		"min_bandwidth=500":                     1,
		"provider_id=" + a.Address().Hex():      2,
		"service_type=openvpn&limit=2":          2,
		"service_type=openvpn&limit=2&offset=2": 1,
		"service_type=wireguard":                0,
		"reachability=mapped":                   1,
		"reachability=public,mapped,cone":       1,
		"reachability=symmetric,mapped":         2,
		"port=25":                               3, // not b
		"port=465&service_type=openvpn":         2,
		"port=2525":                             3, // not c (",25," does not match ",2525,")
		"port=80":                               4,
		"min_session_mbit=50":                   3, // a's (100, none) and c (none)
		"min_session_mbit=10":                   4,
		"min_session_mbit=200":                  2, // a's noop and c: no limit
	}
	for q, want := range cases {
		if got := len(search(t, srv.client, q)); got != want {
			t.Errorf("search %q: %d results, want %d", q, got, want)
		}
	}
	// Unregister: gone from search.
	if err := srv.client.Unregister(ctx, a, "openvpn"); err != nil {
		t.Fatal(err)
	}
	if got := len(search(t, srv.client, "provider_id="+a.Address().Hex())); got != 1 {
		t.Fatalf("after unregister: %d proposals of a, want 1", got)
	}
	var he *discovery.HTTPError
	if err := srv.client.Unregister(ctx, a, "openvpn"); !errors.As(err, &he) || he.Status != 404 {
		t.Fatalf("second unregister: %v", err)
	}
}

func TestTTLAndKeepAlive(t *testing.T) {
	srv := startServer(t, sqliteStore(t), nil, 400*time.Millisecond)
	ctx := mysttest.Ctx(t, 30*time.Second)
	p := mysttest.NewSigner(t)
	srv.register(p)
	if _, err := srv.client.Announce(ctx, signed(t, newProposal(p, "noop", "DE", "0", "0", 1), p)); err != nil {
		t.Fatal(err)
	}
	// Keep-alives (re-signed, later updated_at) keep it past its first TTL.
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		if _, err := srv.client.Announce(ctx, signed(t, newProposal(p, "noop", "DE", "0", "0", 1), p)); err != nil {
			t.Fatal(err)
		}
		if len(search(t, srv.client, "")) != 1 {
			t.Fatal("proposal vanished while kept alive")
		}
	}
	// Without them it disappears.
	mysttest.WaitFor(t, 3*time.Second, func() bool { return len(search(t, srv.client, "")) == 0 })
}

func post(t *testing.T, url string, body []byte) (int, discovery.APIError) {
	t.Helper()
	resp, err := http.Post(url+"/v1/proposals", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e discovery.APIError
	json.NewDecoder(resp.Body).Decode(&e)
	return resp.StatusCode, e
}

func TestBadInput(t *testing.T) {
	store := sqliteStore(t)
	srv := startServer(t, store, nil, time.Minute)
	p, other, stranger := mysttest.NewSigner(t), mysttest.NewSigner(t), mysttest.NewSigner(t)
	srv.register(p, other)
	good := newProposal(p, "openvpn", "DE", "0.01", "0.02", 10)
	mustJSON := func(v any) []byte { b, _ := json.Marshal(v); return b }
	mutate := func(f func(*proposal.Proposal)) []byte {
		q := *good
		f(&q)
		return mustJSON(signed(t, &q, p))
	}
	sGood := signed(t, good, p)
	cases := []struct {
		name   string
		body   []byte
		status int
		field  string
	}{
		{"malformed json", []byte(`{"proposal":`), 400, ""},
		{"trailing data", append(mustJSON(sGood), []byte(" {}")...), 400, ""},
		{"unknown field", []byte(`{"proposal":{},"signature":"0x","extra":1}`), 400, "extra"},
		{"oversized", append([]byte(`{"proposal":"`), append(bytes.Repeat([]byte("a"), maxBody), '"', '}')...), 413, ""},
		{"signed by another identity", mustJSON(&proposal.Signed{Proposal: sGood.Proposal, Signature: signed(t, good, other).Signature}), 400, "signature"},
		{"garbage signature", mustJSON(&proposal.Signed{Proposal: sGood.Proposal, Signature: "0x1234"}), 400, "signature"},
		{"tampered proposal", mustJSON(&proposal.Signed{Proposal: bytes.Replace(sGood.Proposal, []byte(`"DE"`), []byte(`"US"`), 1), Signature: sGood.Signature}), 400, "signature"},
		{"unregistered provider", mustJSON(signed(t, newProposal(stranger, "openvpn", "DE", "0", "0", 1), stranger)), 403, "provider_id"},
		{"bad country", mutate(func(q *proposal.Proposal) { q.Location.Country = "XX" }), 400, "location.country"},
		{"lowercase country", mutate(func(q *proposal.Proposal) { q.Location.Country = "de" }), 400, "location.country"},
		{"negative price", mutate(func(q *proposal.Proposal) { q.Price.PerHour = "-1" }), 400, "price.per_hour"},
		{"non-numeric price", mutate(func(q *proposal.Proposal) { q.Price.PerGiB = "cheap" }), 400, "price.per_gib"},
		{"too many decimals", mutate(func(q *proposal.Proposal) { q.Price.PerGiB = "0.0000000000000000001" }), 400, "price.per_gib"},
		{"bad service type", mutate(func(q *proposal.Proposal) { q.ServiceType = "Open VPN" }), 400, "service_type"},
		{"no contacts", mutate(func(q *proposal.Proposal) { q.Contacts = nil }), 400, "contacts"},
		{"old format", mutate(func(q *proposal.Proposal) { q.FormatVersion = 0 }), 400, "format_version"},
		{"clock skew", mutate(func(q *proposal.Proposal) { q.UpdatedAt = time.Now().Add(time.Hour) }), 400, "updated_at"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, e := post(t, srv.URL, c.body)
			if status != c.status || e.Field != c.field || e.Error == "" {
				t.Fatalf("status %d field %q error %q; want %d %q", status, e.Field, e.Error, c.status, c.field)
			}
		})
	}
	// Nothing was stored by any of them.
	if n := len(search(t, srv.client, "")); n != 0 {
		t.Fatalf("%d proposals stored by bad requests", n)
	}
	// A good one, then its replay.
	if status, e := post(t, srv.URL, mustJSON(sGood)); status != 200 {
		t.Fatalf("good post: %d %v", status, e)
	}
	if status, e := post(t, srv.URL, mustJSON(sGood)); status != 409 || e.Field != "updated_at" {
		t.Fatalf("replayed post: %d %v", status, e)
	}
	// Bad filters.
	for q, field := range map[string]string{
		"country=Germany": "country", "metering=minutes": "metering", "max_price_hour=-1": "max_price_hour",
		"max_price_gib=abc": "max_price_gib", "min_bandwidth=-5": "min_bandwidth", "limit=0": "limit", "limit=501": "limit",
		"offset=-1": "offset", "provider_id=0x12": "provider_id", "colour=red": "colour", "service_type=A%20B": "service_type",
	} {
		resp, err := http.Get(srv.URL + "/v1/proposals?" + q)
		if err != nil {
			t.Fatal(err)
		}
		var e discovery.APIError
		json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode != 400 || e.Field != field {
			t.Errorf("filter %q: %d %+v, want 400 naming %q", q, resp.StatusCode, e, field)
		}
	}
	// Deletes: signed by someone else, or replayed after a re-post.
	del := func(by *identity.Signer, ts time.Time) int {
		req, _ := proposal.SignDelete(by, "openvpn", ts)
		body, _ := json.Marshal(req)
		hr, _ := http.NewRequest(http.MethodDelete, srv.URL+"/v1/proposals/"+p.Address().Hex()+"/openvpn", bytes.NewReader(body))
		resp, err := http.DefaultClient.Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := del(other, time.Now()); s != 403 {
		t.Fatalf("delete signed by another identity: %d", s)
	}
	if s := del(p, time.Now().Add(-time.Hour)); s != 400 {
		t.Fatalf("stale delete: %d", s)
	}
	if s := del(p, good.UpdatedAt.Add(-time.Second)); s != 404 {
		t.Fatalf("delete signed before the stored proposal: %d", s)
	}
	if n := len(search(t, srv.client, "")); n != 1 {
		t.Fatalf("%d proposals after refused deletes, want 1", n)
	}
	// Registry failures are the registry's, not the provider's.
	srv.reg.mu.Lock()
	srv.reg.err = errors.New("rpc down")
	srv.reg.mu.Unlock()
	if status, _ := post(t, srv.URL, mutate(func(q *proposal.Proposal) { q.UpdatedAt = time.Now() })); status != 502 {
		t.Fatalf("post with the registry down: %d", status)
	}
	// The server still serves.
	for _, path := range []string{"/healthcheck", "/v1/openapi.json", "/metrics"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s: %v %v", path, resp.StatusCode, err)
		}
		resp.Body.Close()
	}
}

func TestSearchIgnoresForgedStoredProposals(t *testing.T) {
	// A result whose signature does not match (a corrupted or malicious
	// discovery) is dropped by the client.
	store := sqliteStore(t)
	srv := startServer(t, store, nil, time.Minute)
	p := mysttest.NewSigner(t)
	s := signed(t, newProposal(p, "noop", "DE", "0", "0", 1), p)
	rec := &Record{ProviderID: strings.ToLower(p.Address().Hex()), ServiceType: "noop", Country: "DE", UpdatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Minute),
		Proposal: strings.Replace(string(s.Proposal), `"DE"`, `"FR"`, 1), Signature: s.Signature}
	if err := store.Upsert(mysttest.Ctx(t, 30*time.Second), rec); err != nil {
		t.Fatal(err)
	}
	found, total, dropped, err := srv.client.Search(mysttest.Ctx(t, 30*time.Second), discovery.Filter{})
	if err != nil || len(found) != 0 || total != 1 || dropped != 1 {
		t.Fatalf("found %d total %d dropped %d err %v", len(found), total, dropped, err)
	}
}

func BenchmarkSearch(b *testing.B) {
	store := sqliteStore(b)
	srv := startServer(b, store, nil, time.Hour)
	ctx := context.Background()
	countries := []string{"DE", "US", "FR", "NL", "GB"}
	for i := range 1000 {
		p := mysttest.NewSigner(b)
		srv.register(p)
		if _, err := srv.client.Announce(ctx, signed(b, newProposal(p, "openvpn", countries[i%5], fmt.Sprintf("0.%03d", i%100), "0", float64(i%200)), p)); err != nil {
			b.Fatal(err)
		}
	}
	q := discovery.Filter{ServiceType: "openvpn", Country: "DE", MaxPriceHour: mustAmount(b, "0.05"), Limit: 50}
	b.ResetTimer()
	for b.Loop() {
		if _, _, _, err := srv.client.Search(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
}

func mustAmount(t testing.TB, s string) *big.Int {
	t.Helper()
	a, err := proposal.ParseAmount(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
