package discoveryd

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"hash/fnv"
	"net/http"
	"strings"
	"sync"
	"time"
)

// answer is an encoded search answer, ready to serve many times.
type answer struct {
	body    []byte
	etag    string
	expires time.Time // the first expiry of a proposal in it (zero: none)

	gzOnce sync.Once
	gz     []byte // gzip of body, made on first demand
}

func newAnswer(body []byte, expires time.Time) *answer {
	h := fnv.New64a()
	h.Write(body)
	return &answer{body: body, etag: fmt.Sprintf(`"%016x"`, h.Sum64()), expires: expires}
}

// gzipMin is the smallest body worth compressing.
const gzipMin = 1024

// gzipWriters are reused: a compressor is about a megabyte to set up.
var gzipWriters = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return zw
}}

// serve writes the answer: 304 for a client that holds it (If-None-Match),
// gzip for one that takes it.
func (a *answer) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("ETag", a.etag)
	h.Set("Vary", "Accept-Encoding")
	h.Set("Cache-Control", "no-cache")
	if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", "application/json")
	body := a.body
	if len(body) >= gzipMin && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		a.gzOnce.Do(func() {
			var buf bytes.Buffer
			zw := gzipWriters.Get().(*gzip.Writer)
			zw.Reset(&buf)
			zw.Write(a.body)
			zw.Close()
			gzipWriters.Put(zw)
			a.gz = buf.Bytes()
		})
		body = a.gz
		h.Set("Content-Encoding", "gzip")
	}
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// answerCache keeps search answers for a short while, keyed by the
// normalized query, and lets concurrent identical queries share one
// database search. An answer is served until the first proposal in it
// expires. Each answer remembers the store's Generation it was
// computed at and is served only while the store is still at it, so an
// answer never outlives a delete, an expiry or a new proposal, on this
// replica or another one sharing the database.
type answerCache struct {
	ttl time.Duration

	mu       sync.Mutex
	entries  map[string]cacheEntry
	inflight map[string]*flight
}

type cacheEntry struct {
	a   *answer
	at  time.Time
	gen int64
}

type flight struct {
	done chan struct{}
	a    *answer
	err  error
}

// maxCached bounds the answers held; past it the cache starts over.
const maxCached = 10000

func newAnswerCache(ttl time.Duration) *answerCache {
	return &answerCache{ttl: ttl, entries: map[string]cacheEntry{}, inflight: map[string]*flight{}}
}

// get returns the answer for key at generation gen: from memory ("hit"),
// from a search in flight ("shared") or from compute ("miss").
func (c *answerCache) get(key string, gen int64, compute func() (*answer, error)) (*answer, string, error) {
	if c.ttl < 0 {
		a, err := compute()
		return a, "miss", err
	}
	flightKey := fmt.Sprintf("%d/%s", gen, key)
	c.mu.Lock()
	if e, ok := c.entries[key]; ok && e.gen == gen && time.Since(e.at) < c.ttl && (e.a.expires.IsZero() || time.Now().Before(e.a.expires)) {
		c.mu.Unlock()
		return e.a, "hit", nil
	}
	if f, ok := c.inflight[flightKey]; ok {
		c.mu.Unlock()
		<-f.done
		return f.a, "shared", f.err
	}
	f := &flight{done: make(chan struct{})}
	c.inflight[flightKey] = f
	start := time.Now()
	c.mu.Unlock()

	f.a, f.err = compute()

	c.mu.Lock()
	delete(c.inflight, flightKey)
	if f.err == nil {
		if len(c.entries) >= maxCached {
			clear(c.entries)
		}
		if e, ok := c.entries[key]; !ok || e.gen <= gen {
			c.entries[key] = cacheEntry{a: f.a, at: start, gen: gen}
		}
	}
	c.mu.Unlock()
	close(f.done)
	return f.a, "miss", f.err
}
