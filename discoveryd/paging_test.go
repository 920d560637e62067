package discoveryd

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/mystnode/myst/discovery"
	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/mysttest"
	"github.com/mystnode/myst/proposal"
)

// seed stores n proposals straight into the store (as the load tool does),
// living ttl; country and price vary with the index.
func seed(t testing.TB, store *Store, n int, ttl time.Duration) []string {
	t.Helper()
	recs := make([]*Record, n)
	ids := make([]string, n)
	countries := []string{"DE", "US", "FR", "NL", "GB"}
	for i := range recs {
		p := mysttest.NewSigner(t)
		prop := newProposal(p, "wireguard", countries[i%len(countries)], fmt.Sprintf("0.%03d", i%100), "0", float64(i%200))
		s := signed(t, prop, p)
		opened, err := s.Open()
		if err != nil {
			t.Fatal(err)
		}
		recs[i] = NewRecord(opened, s, ttl)
		ids[i] = recs[i].ProviderID
	}
	for _, err := range store.UpsertBatch(context.Background(), recs) {
		if err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

// TestCursorPagingExactlyOnce pages through proposals by cursor while
// others are added and expire: every proposal live from start to end comes
// exactly once, nothing comes twice.
func TestCursorPagingExactlyOnce(t *testing.T) {
	store := sqliteStore(t)
	srv := startServer(t, store, nil, time.Hour)
	stable := seed(t, store, 400, time.Hour)
	short := seed(t, store, 100, 300*time.Millisecond) // expire while we page
	ctx := mysttest.Ctx(t, time.Minute)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { // new proposals arrive meanwhile
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
				seed(t, store, 5, time.Hour)
			}
		}
	})
	seen := map[string]int{}
	q := url.Values{"service_type": {"wireguard"}, "limit": {"17"}}
	pages := 0
	for {
		r, err := srv.client.SearchPage(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range r.Proposals {
			p, err := s.Open()
			if err != nil {
				t.Fatal(err)
			}
			seen[p.Provider().Hex()]++
		}
		pages++
		if pages == 5 {
			store.Expire(ctx, time.Now().Add(time.Second)) // the short-lived ones go
		}
		if r.Next == "" {
			break
		}
		q.Set("cursor", r.Next)
		time.Sleep(5 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	for id, n := range seen {
		if n != 1 {
			t.Errorf("%s came %d times", id, n)
		}
	}
	for _, id := range stable {
		if seen[mixedCase(t, id)] != 1 {
			t.Fatalf("stable proposal %s came %d times", id, seen[mixedCase(t, id)])
		}
	}
	t.Logf("%d pages, %d proposals seen (%d stable, %d short-lived, the rest added while paging)", pages, len(seen), len(stable), len(short))

	// A forged or foreign cursor is refused by name.
	if _, err := srv.client.SearchPage(ctx, url.Values{"cursor": {"bm90IGEgY3Vyc29y"}}); err == nil {
		t.Fatal("a forged cursor was accepted")
	}
	if _, err := srv.client.SearchPage(ctx, url.Values{"offset": {strconv.Itoa(discovery.MaxOffset + 1)}}); err == nil {
		t.Fatal("an offset past the bound was accepted")
	}
}

func mixedCase(_ *testing.T, lower string) string { return common.HexToAddress(lower).Hex() }

// TestTotalsMarked: a total is exact up to TotalCap matches and marked a
// lower bound above.
func TestTotalsMarked(t *testing.T) {
	store := sqliteStore(t)
	srv := startServer(t, store, nil, time.Hour)
	seed(t, store, TotalCap+50, time.Hour)
	ctx := mysttest.Ctx(t, time.Minute)
	r, err := srv.client.SearchPage(ctx, url.Values{"limit": {"10"}})
	if err != nil || r.TotalExact || r.Total != TotalCap+1 || len(r.Proposals) != 10 || r.Next == "" {
		t.Fatalf("all %d: total %d exact %v, %d shown, next %q, %v", TotalCap+50, r.Total, r.TotalExact, len(r.Proposals), r.Next, err)
	}
	// Country DE is every fifth: 210 match.
	r, err = srv.client.SearchPage(ctx, url.Values{"country": {"DE"}})
	if err != nil || !r.TotalExact || r.Total != (TotalCap+50+4)/5 {
		t.Fatalf("DE: total %d exact %v, %v", r.Total, r.TotalExact, err)
	}
	// Price below 0.010 matches i%100 < 10 and > 0: exact and small.
	r, err = srv.client.SearchPage(ctx, url.Values{"max_price_hour": {"0.009"}, "metering": {"time"}})
	want := 0
	for i := range TotalCap + 50 {
		if i%100 > 0 && i%100 <= 9 {
			want++
		}
	}
	if err != nil || !r.TotalExact || r.Total != want {
		t.Fatalf("max price: total %d (want %d) exact %v, %v", r.Total, want, r.TotalExact, err)
	}
}

// TestCacheNeverOutlivesDelete: an answer held in memory is not served
// after a delete or an expiry removed one of its proposals.
func TestCacheNeverOutlivesDelete(t *testing.T) {
	store := sqliteStore(t)
	srv := NewServer(store, &fakeRegistry{}, Config{TTL: time.Hour, CacheTTL: time.Hour})
	t.Cleanup(srv.Close)
	ts := startServerWith(t, srv)
	p := mysttest.NewSigner(t)
	ts.register(p)
	ctx := mysttest.Ctx(t, time.Minute)
	if _, err := ts.client.Announce(ctx, signed(t, newProposal(p, "openvpn", "DE", "0.01", "0", 10), p)); err != nil {
		t.Fatal(err)
	}
	for range 3 { // cached after the first
		if n := len(search(t, ts.client, "country=DE")); n != 1 {
			t.Fatalf("%d before the delete", n)
		}
	}
	if err := ts.client.Unregister(ctx, p, "openvpn"); err != nil {
		t.Fatal(err)
	}
	if n := len(search(t, ts.client, "country=DE")); n != 0 {
		t.Fatalf("%d after the delete: a cached answer outlived it", n)
	}
	// Expiry too.
	seed(t, store, 3, 200*time.Millisecond)
	if n := len(search(t, ts.client, "service_type=wireguard")); n != 3 {
		t.Fatalf("%d seeded", n)
	}
	time.Sleep(250 * time.Millisecond)
	// Expired but not swept yet: the answer held them, so it is not served.
	if n := len(search(t, ts.client, "service_type=wireguard")); n != 0 {
		t.Fatalf("%d after the expiry: a cached answer outlived it", n)
	}
	if n, err := store.Expire(ctx, time.Now()); err != nil || n != 3 {
		t.Fatalf("swept %d, %v", n, err)
	}
	if n := len(search(t, ts.client, "service_type=wireguard")); n != 0 {
		t.Fatalf("%d after the sweep", n)
	}
}

// upsertBatchCases runs one batch of every kind of post through store:
// renewals, a changed proposal, a new one, a stale one and a key twice.
func upsertBatchCases(t *testing.T, store *Store) {
	ctx := mysttest.Ctx(t, time.Minute)
	mk := func(p *identity.Signer, country string, at time.Time) *Record {
		prop := newProposal(p, "wireguard", country, "0.01", "0", 10)
		prop.UpdatedAt = at.UTC()
		s := signed(t, prop, p)
		opened, err := s.Open()
		if err != nil {
			t.Fatal(err)
		}
		return NewRecord(opened, s, time.Hour)
	}
	t0 := time.Now().Add(-time.Minute)
	ps := make([]*identity.Signer, 6)
	var first []*Record
	for i := range ps {
		ps[i] = mysttest.NewSigner(t)
		if i < 5 {
			first = append(first, mk(ps[i], "DE", t0))
		}
	}
	for _, err := range store.UpsertBatch(ctx, first) {
		if err != nil {
			t.Fatal(err)
		}
	}
	gen0, _ := store.Generation(ctx)
	t1 := t0.Add(time.Second)
	batch := []*Record{
		mk(ps[0], "DE", t1), mk(ps[1], "DE", t1), mk(ps[2], "DE", t1), // renewals
		mk(ps[3], "FR", t1),                  // changed
		mk(ps[5], "DE", t1),                  // new
		mk(ps[4], "DE", t0),                  // not newer
		mk(ps[0], "DE", t1.Add(time.Second)), // the same key again, later
	}
	errs := store.UpsertBatch(ctx, batch)
	want := []error{nil, nil, nil, nil, nil, ErrNotNewer, nil}
	for i := range want {
		if !errors.Is(errs[i], want[i]) && errs[i] != want[i] {
			t.Fatalf("record %d: %v, want %v", i, errs[i], want[i])
		}
	}
	if gen1, _ := store.Generation(ctx); gen1 == gen0 {
		t.Fatal("a changed and a new proposal did not move the generation")
	}
	page, err := store.Search(ctx, discovery.Filter{Country: "FR", Limit: 10}, time.Now())
	if err != nil || len(page.Records) != 1 || page.Records[0].ProviderID != batch[3].ProviderID {
		t.Fatalf("the changed proposal: %+v, %v", page.Records, err)
	}
	page, err = store.Search(ctx, discovery.Filter{ProviderID: batch[0].ProviderID, Limit: 10}, time.Now())
	if err != nil || len(page.Records) != 1 || !page.Records[0].UpdatedAt.Equal(batch[6].UpdatedAt.Truncate(time.Millisecond)) {
		t.Fatalf("the key posted twice: %+v, %v", page.Records, err)
	}
	// Renewals alone do not move it.
	gen1, _ := store.Generation(ctx)
	t2 := t1.Add(5 * time.Second)
	for _, err := range store.UpsertBatch(ctx, []*Record{mk(ps[1], "DE", t2), mk(ps[2], "DE", t2)}) {
		if err != nil {
			t.Fatal(err)
		}
	}
	if gen2, _ := store.Generation(ctx); gen2 != gen1 {
		t.Fatal("renewals moved the generation")
	}
}

func TestUpsertBatchSQLite(t *testing.T) { upsertBatchCases(t, sqliteStore(t)) }

// TestOversizedProposalsRefused: a proposal stuffed to ~55 KB (long
// contact lists), or of a made-up service type, is refused with the field
// named; nothing is stored.
func TestOversizedProposalsRefused(t *testing.T) {
	store := sqliteStore(t)
	srv := startServer(t, store, nil, time.Hour)
	p := mysttest.NewSigner(t)
	srv.register(p)
	ctx := mysttest.Ctx(t, time.Minute)
	long := "nats://" + strings.Repeat("a", 380) + ".example:4222"
	var urls []string
	for range 16 {
		urls = append(urls, long)
	}
	cases := map[string]func(*proposal.Proposal){
		"proposal": func(pr *proposal.Proposal) { // 8 contacts x 16 URLs of 400 characters
			pr.Contacts = nil
			for range 8 {
				pr.Contacts = append(pr.Contacts, proposal.Contact{Type: proposal.ContactNATS, BrokerURLs: urls, Subject: "myst.v1.x.dialog"})
			}
		},
		"contacts": func(pr *proposal.Proposal) {
			c := pr.Contacts[0]
			pr.Contacts = []proposal.Contact{c, c, c}
		},
		"contacts[0].broker_urls": func(pr *proposal.Proposal) { pr.Contacts[0].BrokerURLs = []string{long} },
		"service_type":            func(pr *proposal.Proposal) { pr.ServiceType = "madeup-7" },
	}
	for field, mutate := range cases {
		pr := newProposal(p, "wireguard", "DE", "0.01", "0", 10)
		mutate(pr)
		s, err := proposal.Sign(pr, p)
		if err != nil {
			t.Fatal(err)
		}
		_, err = srv.client.Announce(ctx, s)
		var he *discovery.HTTPError
		if !errors.As(err, &he) || he.Status != 400 || he.Body.Field != field {
			t.Fatalf("%s: %d bytes posted: %v, want 400 naming %s", field, len(s.Proposal), err, field)
		}
		t.Logf("%d bytes: %v", len(s.Proposal), err)
	}
	if n, _ := store.Live(ctx, time.Now()); n != 0 {
		t.Fatalf("%d stored", n)
	}
}
