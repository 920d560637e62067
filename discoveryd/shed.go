package discoveryd

import (
	"net/http"
	"runtime"
	"sync/atomic"
	"time"
)

// shedder bounds the work a server takes on: at most inFlight requests run
// at once; up to queue more wait at most wait for a turn; the rest are
// answered 503 with Retry-After at once. Beyond what the cores can serve,
// queueing only makes every answer late (issue 29 measured 9 % of requests
// timing out at 5 s, p99 8.7 s, at 2.5x overload without it); shedding
// keeps what is served fast and tells clients to back off or use another
// replica.
type shedder struct {
	slots  chan struct{}
	queued atomic.Int64
	queue  int64
	wait   time.Duration
	retry  string // Retry-After, seconds
	onShed func()
}

// Shedding defaults: one request per core in flight, 64 waiting at most
// 50 ms each, Retry-After 1 s. Measured with vegeta at 100,000 proposals
// on 2 cores (docs/performance.md): more in flight serves hardly more and
// every answer later; a 5 ms wait answered overload fastest but shed a
// replica's 4 steady PostgreSQL clients (TestClientFailsOverToReplica).
const (
	DefaultQueue     = 64
	DefaultQueueWait = 50 * time.Millisecond
)

// Posts and deletes have a pool of their own: they wait for the writer's
// batch (a disk sync) more than for a core.
const (
	WriteInFlight  = 256
	WriteQueue     = 1024
	WriteQueueWait = 100 * time.Millisecond
)

func newShedder(inFlight, queue int, wait time.Duration, onShed func()) *shedder {
	if inFlight <= 0 {
		inFlight = runtime.GOMAXPROCS(0)
	}
	if queue < 0 {
		queue = 0
	}
	return &shedder{slots: make(chan struct{}, inFlight), queue: int64(queue), wait: wait, retry: "1", onShed: onShed}
}

// wrap runs h within the bounds.
func (s *shedder) wrap(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.enter(w) {
			return
		}
		defer s.leave()
		h(w, r)
	}
}

// enter takes a turn, or answers 503 and says false.
func (s *shedder) enter(w http.ResponseWriter) bool {
	if s.acquire() {
		return true
	}
	s.onShed()
	w.Header().Set("Retry-After", s.retry)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusServiceUnavailable)
	w.Write([]byte(`{"error":"discovery is over capacity: try again after Retry-After, or another replica"}` + "\n"))
	return false
}

// leave gives the turn back.
func (s *shedder) leave() { <-s.slots }

func (s *shedder) acquire() bool {
	select {
	case s.slots <- struct{}{}:
		return true
	default:
	}
	if s.queued.Add(1) > s.queue {
		s.queued.Add(-1)
		return false
	}
	defer s.queued.Add(-1)
	t := time.NewTimer(s.wait)
	defer t.Stop()
	select {
	case s.slots <- struct{}{}:
		return true
	case <-t.C:
		return false
	}
}
