package discoveryd

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// TestShed: past its requests in flight and its queue, a server answers
// 503 with Retry-After at once; a queued request gets its turn when one
// ends within the wait, or 503 after it.
func TestShed(t *testing.T) {
	release := make(chan struct{})
	var shed int
	var mu sync.Mutex
	s := newShedder(1, 1, 200*time.Millisecond, func() { mu.Lock(); shed++; mu.Unlock() })
	h := s.wrap(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/block" {
			<-release
		}
		w.WriteHeader(http.StatusOK)
	})
	do := func(path string) (*httptest.ResponseRecorder, time.Duration) {
		rec := httptest.NewRecorder()
		began := time.Now()
		h(rec, httptest.NewRequest("GET", path, nil))
		return rec, time.Since(began)
	}
	first := make(chan int)
	go func() { rec, _ := do("/block"); first <- rec.Code }()
	time.Sleep(20 * time.Millisecond) // the slot is taken
	queued := make(chan int)
	go func() { rec, _ := do("/"); queued <- rec.Code }()
	time.Sleep(20 * time.Millisecond) // the queue is full
	rec, took := do("/")
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "1" || took > 50*time.Millisecond {
		t.Fatalf("over the queue: %d, Retry-After %q, after %s; want 503 at once", rec.Code, rec.Header().Get("Retry-After"), took)
	}
	close(release)
	if c := <-first; c != http.StatusOK {
		t.Fatalf("the first: %d", c)
	}
	if c := <-queued; c != http.StatusOK {
		t.Fatalf("the queued one, whose turn came: %d", c)
	}
	// A queued request whose turn does not come within the wait.
	block := make(chan struct{})
	h2 := s.wrap(func(w http.ResponseWriter, r *http.Request) { <-block })
	go h2(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	time.Sleep(20 * time.Millisecond)
	rec, took = do("/")
	close(block)
	if rec.Code != http.StatusServiceUnavailable || took < 150*time.Millisecond {
		t.Fatalf("queued past the wait: %d after %s", rec.Code, took)
	}
	if shed != 2 {
		t.Fatalf("%d shed, want 2", shed)
	}
}
