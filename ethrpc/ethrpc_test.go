package ethrpc

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mystnode/myst/devchain"
)

// TestFailoverAndRateLimit: the first URL refuses connections, the second
// rate-limits twice and then answers (a proxy to a real dev chain); calls
// succeed and stay on the second URL. Every URL down: a clear error.
func TestFailoverAndRateLimit(t *testing.T) {
	chain, err := devchain.Start(devchain.Config{RPCAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer chain.Close()
	target, _ := url.Parse(chain.RPCURL())
	proxy := httputil.NewSingleHostReverseProxy(target)
	var limited, served atomic.Int32
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if limited.Add(1) <= 2 {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
		served.Add(1)
		r.Host = target.Host
		proxy.ServeHTTP(w, r)
	}))
	defer front.Close()
	dead := deadURL(t)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ec, err := Dial(ctx, []string{dead, front.URL}, Config{RetryWait: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	id, err := ec.ChainID(ctx)
	if err != nil || id.Uint64() != devchain.ChainID {
		t.Fatalf("chain id %v, %v", id, err)
	}
	for range 5 {
		if _, err := ec.BlockNumber(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if served.Load() != 6 || limited.Load() != 8 {
		t.Fatalf("second URL served %d of %d requests, want 6 after 2 rate limits", served.Load(), limited.Load())
	}

	// Every URL down: the error says so, within the retries.
	down, err := Dial(ctx, []string{dead, deadURL(t)}, Config{RetryWait: 10 * time.Millisecond, Retries: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()
	start := time.Now()
	if _, err := down.BlockNumber(ctx); err == nil || !strings.Contains(err.Error(), "every URL failed") {
		t.Fatalf("all down: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("all down took %s", d)
	}
	// Bad lists are refused.
	if _, err := Dial(ctx, []string{"ws://127.0.0.1:1", front.URL}, Config{}); err == nil {
		t.Fatal("a ws URL in a failover list was accepted")
	}
	if _, err := Dial(ctx, nil, Config{}); err == nil {
		t.Fatal("no URL was accepted")
	}
}

// deadURL is an http URL where nothing listens.
func deadURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}
