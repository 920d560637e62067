package discovery

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// TestBackoff: a replica that sheds a call (503, Retry-After) is left
// alone for that long while another answers; when every replica sheds,
// the call waits for the first to be free and asks once more.
func TestBackoff(t *testing.T) {
	var busyHits, okHits atomic.Int32
	shedding := atomic.Bool{}
	shedding.Store(true)
	busy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		busyHits.Add(1)
		if shedding.Load() {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"error":"over capacity"}`))
			return
		}
		w.Write([]byte(`{"proposals":[]}`))
	}))
	defer busy.Close()
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		okHits.Add(1)
		w.Write([]byte(`{"proposals":[]}`))
	}))
	c := NewClient(busy.URL, ok.URL)
	ctx := context.Background()
	for range 3 {
		if _, _, _, err := c.Search(ctx, Filter{}); err != nil {
			t.Fatal(err)
		}
	}
	if busyHits.Load() != 1 || okHits.Load() != 3 {
		t.Fatalf("the shedding replica asked %d times, the other %d: want 1 and 3", busyHits.Load(), okHits.Load())
	}
	// Now the other is gone too; the shedding one recovers in a moment.
	ok.Close()
	c = NewClient(busy.URL)
	time.AfterFunc(500*time.Millisecond, func() { shedding.Store(false) })
	began := time.Now()
	if _, _, _, err := c.Search(ctx, Filter{}); err != nil {
		t.Fatalf("after backing off: %v", err)
	}
	if took := time.Since(began); took < 900*time.Millisecond || took > 3*time.Second {
		t.Fatalf("answered after %s: want a wait of about the Retry-After (1 s)", took)
	}
}
