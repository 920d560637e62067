package localapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/mystnode/myst/atomicfile"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Config says where and how to serve.
type Config struct {
	Addr string // host:port; port 0 picks a free one
	// UIAddr, if set, serves the same API and web UI on a second address
	// (for a browser on another machine); the daemon warns about it.
	UIAddr    string
	TokenPath string // the bearer token is written here (0600) and removed on Close
	Metrics   prometheus.Gatherer
	Logger    *slog.Logger
}

// Server is the local API listening on its address.
type Server struct {
	cfg  Config
	ln   net.Listener
	uiLn net.Listener // UIAddr's, nil without
	http *http.Server
	wg   sync.WaitGroup
	once sync.Once
}

// Listen writes a fresh token and listens on cfg.Addr; nothing is served
// until Start.
func Listen(b Node, cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("api token: %w", err)
	}
	token := hex.EncodeToString(secret)
	if err := atomicfile.Write(cfg.TokenPath, []byte(token+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("api token: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		os.Remove(cfg.TokenPath)
		return nil, fmt.Errorf("api listen on %s: %w (is another daemon using it? pick another --api-addr)", cfg.Addr, err)
	}
	var metrics http.Handler
	if cfg.Metrics != nil {
		metrics = promhttp.HandlerFor(cfg.Metrics, promhttp.HandlerOpts{})
	}
	var uiLn net.Listener
	if cfg.UIAddr != "" {
		if uiLn, err = net.Listen("tcp", cfg.UIAddr); err != nil {
			ln.Close()
			os.Remove(cfg.TokenPath)
			return nil, fmt.Errorf("--ui-addr %s: %w", cfg.UIAddr, err)
		}
		cfg.Logger.Warn("the web UI and the API also listen on --ui-addr: anyone who can reach it and holds a sign-in link or the API token controls this node; prefer an SSH tunnel to the loopback address", "ui_addr", uiLn.Addr().String())
	}
	s := &Server{cfg: cfg, ln: ln, uiLn: uiLn, http: &http.Server{
		Handler:           Handler(b, token, metrics),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}}
	return s, nil
}

// UIAddr is the address of --ui-addr ("" without).
func (s *Server) UIAddr() string {
	if s.uiLn == nil {
		return ""
	}
	return s.uiLn.Addr().String()
}

// Addr is the address the API listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Start serves requests until Close.
func (s *Server) Start() {
	for _, ln := range []net.Listener{s.ln, s.uiLn} {
		if ln == nil {
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.cfg.Logger.Error("api server", "err", err)
			}
		}()
	}
}

// Close stops serving (requests in flight get 5 s to finish) and removes
// the token file.
func (s *Server) Close() {
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.http.Shutdown(ctx); err != nil {
			s.http.Close()
		}
		s.ln.Close()
		if s.uiLn != nil {
			s.uiLn.Close()
		}
		s.wg.Wait()
		os.Remove(s.cfg.TokenPath)
	})
}
