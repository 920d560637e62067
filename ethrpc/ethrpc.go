// Package ethrpc dials Ethereum JSON-RPC the way real endpoints need it:
// several URLs of one chain, tried in turn when one fails (a connection
// refused, a 5xx), and a rate limit (HTTP 429) waited out and retried,
// so a flaky or throttled provider slows a node down but never breaks it.
package ethrpc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/rpc"
)

// Config tunes the failover.
type Config struct {
	// Retries of one request over all URLs after rate limits and
	// failures (default 4), waiting RetryWait, doubling (default 250 ms),
	// or what a 429's Retry-After says (at most 5 s).
	Retries   int
	RetryWait time.Duration
	// Cooldown: a URL that failed is tried again only after this long,
	// unless all have failed (default 30 s).
	Cooldown time.Duration
	Logger   *slog.Logger // nil: slog.Default()
}

// Dial connects to the chain at urls: one ws(s):// URL is dialled as it
// is; http(s):// URLs (one or more) share a client that fails over and
// retries.
func Dial(ctx context.Context, urls []string, cfg Config) (*ethclient.Client, error) {
	if len(urls) == 0 {
		return nil, errors.New("no Ethereum RPC URL")
	}
	for _, u := range urls {
		p, err := url.Parse(u)
		if err != nil || p.Host == "" {
			return nil, fmt.Errorf("RPC URL %q: want http(s)://host[:port][/path]", u)
		}
		if p.Scheme != "http" && p.Scheme != "https" {
			if len(urls) > 1 {
				return nil, fmt.Errorf("RPC URL %q: only http(s) URLs fail over; give one ws URL alone", u)
			}
			return ethclient.DialContext(ctx, u)
		}
	}
	t := NewTransport(urls, cfg)
	c, err := rpc.DialOptions(ctx, urls[0], rpc.WithHTTPClient(&http.Client{Transport: t}))
	if err != nil {
		return nil, err
	}
	return ethclient.NewClient(c), nil
}

// Transport is an http.RoundTripper that sends each request to the first
// healthy URL of its list (whatever URL the request names), fails over
// on connection errors and 5xx answers, and retries after 429s.
type Transport struct {
	urls []*url.URL
	cfg  Config
	base http.RoundTripper

	mu      sync.Mutex
	badTill []time.Time
	current int
}

// NewTransport makes the transport over urls (http or https).
func NewTransport(urls []string, cfg Config) *Transport {
	if cfg.Retries <= 0 {
		cfg.Retries = 4
	}
	if cfg.RetryWait <= 0 {
		cfg.RetryWait = 250 * time.Millisecond
	}
	if cfg.Cooldown <= 0 {
		cfg.Cooldown = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	t := &Transport{cfg: cfg, base: http.DefaultTransport.(*http.Transport).Clone(), badTill: make([]time.Time, len(urls))}
	for _, u := range urls {
		p, _ := url.Parse(u)
		t.urls = append(t.urls, p)
	}
	return t
}

// pick is the URL to try: the current one unless it is cooling down, else
// the next that is not; all cooling down, the one that cools first.
func (t *Transport) pick() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	best := t.current
	for i := range t.urls {
		j := (t.current + i) % len(t.urls)
		if now.After(t.badTill[j]) {
			t.current = j
			return j
		}
		if t.badTill[j].Before(t.badTill[best]) {
			best = j
		}
	}
	return best
}

func (t *Transport) fail(i int, why string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.badTill[i] = time.Now().Add(t.cfg.Cooldown)
	if len(t.urls) > 1 {
		next := (i + 1) % len(t.urls)
		t.cfg.Logger.Warn("Ethereum RPC failing; using the next URL", "failed", t.urls[i].Redacted(), "why", why, "next", t.urls[next].Redacted())
	}
}

// RoundTrip sends req, failing over and retrying as the Transport says.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
	}
	wait := t.cfg.RetryWait
	var lastErr error
	for attempt := 0; ; attempt++ {
		i := t.pick()
		r := req.Clone(req.Context())
		u := *t.urls[i]
		r.URL, r.Host = &u, u.Host
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		resp, err := t.base.RoundTrip(r)
		retryAfter := time.Duration(0)
		switch {
		case err != nil:
			if req.Context().Err() != nil {
				return nil, err
			}
			lastErr = err
			t.fail(i, err.Error())
		case resp.StatusCode == http.StatusTooManyRequests:
			lastErr = fmt.Errorf("%s: rate limited (429)", u.Redacted())
			if s, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); err == nil && s > 0 {
				retryAfter = min(time.Duration(s)*time.Second, 5*time.Second)
			}
			drain(resp)
			t.cfg.Logger.Debug("Ethereum RPC rate limit; waiting", "url", u.Redacted())
			if len(t.urls) > 1 {
				t.fail(i, "rate limited")
			}
		case resp.StatusCode >= 500:
			lastErr = fmt.Errorf("%s: HTTP %s", u.Redacted(), resp.Status)
			drain(resp)
			t.fail(i, resp.Status)
		default:
			return resp, nil
		}
		if attempt >= t.cfg.Retries*max(1, len(t.urls)) {
			return nil, fmt.Errorf("Ethereum RPC: every URL failed, %d tries: %w", attempt+1, lastErr)
		}
		// Another URL at once; the same (or all cooling) after a wait.
		if t.pick() == i || retryAfter > 0 {
			d := max(wait, retryAfter)
			wait = min(2*wait, 5*time.Second)
			select {
			case <-req.Context().Done():
				return nil, req.Context().Err()
			case <-time.After(d):
			}
		}
	}
}

func drain(resp *http.Response) {
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// CloseIdleConnections closes the idle connections to every URL.
func (t *Transport) CloseIdleConnections() {
	if ci, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}
