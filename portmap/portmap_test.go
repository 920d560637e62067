package portmap

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// router is a stand-in for a UPnP router: it can refuse, or answer late.
type router struct {
	mu     sync.Mutex
	maps   map[int]int
	refuse bool
	delay  time.Duration
}

func (r *router) Add(_ context.Context, ext, in int, _ string, _ time.Duration) (int, error) {
	r.mu.Lock()
	d := r.delay
	r.mu.Unlock()
	time.Sleep(d)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.refuse {
		return 0, errors.New("ConflictInMappingEntry")
	}
	r.maps[ext] = in
	return ext, nil
}
func (r *router) Delete(_ context.Context, ext, _ int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.maps, ext)
	return nil
}
func (r *router) ExternalIP(context.Context) (netip.Addr, error) {
	return netip.MustParseAddr("198.18.10.2"), nil
}
func (r *router) String() string { return "UPnP(test)" }
func (r *router) set(refuse bool, delay time.Duration) {
	r.mu.Lock()
	r.refuse, r.delay = refuse, delay
	r.mu.Unlock()
}
func (r *router) count() int { r.mu.Lock(); defer r.mu.Unlock(); return len(r.maps) }

func TestMapUnmapRefuseLate(t *testing.T) {
	r := &router{maps: map[int]int{}}
	finds := 0
	m := NewWith(nil, func(context.Context) (Router, error) { finds++; return r, nil })
	ctx := context.Background()
	mp, err := m.Map(ctx, 51820, "myst")
	if err != nil || mp.External.String() != "198.18.10.2:51820" {
		t.Fatalf("%+v %v", mp, err)
	}
	if err := m.Unmap(51820); err != nil || r.count() != 0 {
		t.Fatalf("unmap: %v, %d left", err, r.count())
	}
	// Refused: an error naming the router; the router is looked for again next time.
	r.set(true, 0)
	if _, err := m.Map(ctx, 51821, "myst"); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("refused mapping: %v", err)
	}
	// Too late: given up, and removed when it does come.
	r.set(false, 300*time.Millisecond)
	tctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := m.Map(tctx, 51822, "myst"); err == nil {
		t.Fatal("a late mapping was waited for")
	}
	r.set(false, 0)
	if _, err := m.Map(ctx, 51823, "myst"); err != nil {
		t.Fatal(err)
	}
	// A router that forgets the mapping (a reboot) gets it back at the next renewal.
	m2 := NewWith(nil, func(context.Context) (Router, error) { return r, nil })
	m2.RenewEvery = 50 * time.Millisecond
	if _, err := m2.Map(ctx, 51824, "myst"); err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	delete(r.maps, 51824)
	r.mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r.mu.Lock()
		_, back := r.maps[51824]
		r.mu.Unlock()
		if back {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a forgotten mapping was not renewed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	m2.Close()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if r.count() != 0 {
		t.Fatalf("%d mappings left after Close", r.count())
	}
	if finds < 2 {
		t.Fatalf("router looked for %d times; want again after a refusal", finds)
	}
}
