package localnet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/mystnode/myst/devchain"
	"github.com/mystnode/myst/discovery"
	"github.com/mystnode/myst/registry"
)

// discoveryService is the embedded Discovery API with its own registry
// cache, over a SQLite file that starts empty with each (fresh) chain.
type discoveryService struct {
	reg       *registry.Client
	store     *discovery.Store
	server    *discovery.Server
	http      *http.Server
	ln        net.Listener
	cancel    context.CancelFunc
	done      chan struct{}
	cacheDone chan struct{}
}

func startDiscovery(ctx context.Context, rpcURL string, regAddr common.Address, fromBlock uint64, dbPath, addr string, logger *slog.Logger) (*discoveryService, error) {
	// The chain is new: proposals of an earlier run name registrations that
	// no longer exist.
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(dbPath + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	reg, err := registry.Dial(ctx, rpcURL, devchain.ChainID, regAddr)
	if err != nil {
		return nil, err
	}
	store, err := discovery.OpenStore(ctx, "sqlite:"+dbPath)
	if err != nil {
		reg.Close()
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		store.Close()
		reg.Close()
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	cache := registry.NewCache(reg, fromBlock)
	runCtx, cancel := context.WithCancel(context.Background())
	d := &discoveryService{reg: reg, store: store, ln: ln, cancel: cancel, done: make(chan struct{}), cacheDone: make(chan struct{})}
	d.server = discovery.NewServer(store, cache, discovery.Config{Logger: logger})
	d.http = &http.Server{Handler: d.server, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(d.cacheDone)
		cache.Run(runCtx, time.Second, nil)
	}()
	go func() {
		defer close(d.done)
		d.http.Serve(ln)
	}()
	return d, nil
}

// URL is the API's base URL.
func (d *discoveryService) URL() string { return "http://" + d.ln.Addr().String() }

// Close stops serving and closes the store.
func (d *discoveryService) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	d.http.Shutdown(ctx)
	cancel()
	<-d.done
	d.cancel()
	<-d.cacheDone
	d.server.Close()
	d.store.Close()
	d.reg.Close()
}
