package discoveryd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/mystnode/myst/registry"
)

// ServiceConfig says what Start runs: where to listen, the store, the
// chain whose IdentityRegistry says who may post, and the server's
// settings.
type ServiceConfig struct {
	Addr string // host:port; port 0 picks a free one
	DB   string // sqlite:PATH or a postgres:// URL

	EtherRPCURL       string
	EtherRPCURLs      []string // more endpoints, failed over to
	ChainID           uint64
	RegistryAddress   common.Address
	RegistryFromBlock uint64

	Server Config
}

// Service is a running Discovery API: the registry connection and its
// cache, the store, the handlers and the HTTP server over them.
type Service struct {
	reg    *registry.Client
	store  *Store
	server *Server
	http   *http.Server
	ln     net.Listener
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// Start builds the parts in the order data flows (registry, store, cache,
// handlers, listener), each failure naming its step, and serves until
// Close.
func Start(ctx context.Context, cfg ServiceConfig) (*Service, error) {
	cfg.Server = cfg.Server.withDefaults()
	s := &Service{}
	fail := func(err error) (*Service, error) {
		s.Close()
		return nil, err
	}
	var err error
	if s.reg, err = registry.DialURLs(ctx, append([]string{cfg.EtherRPCURL}, cfg.EtherRPCURLs...), cfg.ChainID, cfg.RegistryAddress); err != nil {
		return fail(fmt.Errorf("registry.Dial: %w", err))
	}
	if s.store, err = OpenStore(ctx, cfg.DB); err != nil {
		return fail(fmt.Errorf("discovery.OpenStore: %w", err))
	}
	cache := registry.NewCache(s.reg, cfg.RegistryFromBlock)
	s.server = NewServer(s.store, cache, cfg.Server)
	if s.ln, err = net.Listen("tcp", cfg.Addr); err != nil {
		return fail(fmt.Errorf("listen on %s: %w", cfg.Addr, err))
	}
	s.http = &http.Server{Handler: s.server, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
	var runCtx context.Context
	runCtx, s.cancel = context.WithCancel(context.Background())
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		cache.Run(runCtx, 2*time.Second, func(err error) { cfg.Server.Logger.Warn("registry cache", "err", err) })
	}()
	go func() {
		defer s.wg.Done()
		if err := s.http.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			cfg.Server.Logger.Error("discovery server", "err", err)
		}
	}()
	return s, nil
}

// URL is the API's base URL.
func (s *Service) URL() string { return "http://" + s.ln.Addr().String() }

// Close stops serving (requests in flight get 5 s), then closes the
// parts in reverse order.
func (s *Service) Close() {
	s.once.Do(func() {
		if s.http != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if s.http.Shutdown(ctx) != nil {
				s.http.Close()
			}
			cancel()
		}
		if s.cancel != nil {
			s.cancel()
		}
		s.wg.Wait()
		if s.server != nil {
			s.server.Close()
		}
		if s.store != nil {
			s.store.Close()
		}
		if s.reg != nil {
			s.reg.Close()
		}
	})
}
