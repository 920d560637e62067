package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/mystnode/myst/devchain"
	"github.com/mystnode/myst/identity"
	"github.com/mystnode/myst/mysttest"
	"github.com/mystnode/myst/txsend"
)

// TestCacheReorgPersistRanges, on a chain sealed by hand:
//   - a registration that a reorg removes is forgotten by the cache (and
//     its identity answered "not registered"), the others kept;
//   - the scanned state is saved to a file and a new cache resumes from it
//     (no scan from the first block);
//   - an RPC that refuses long event ranges gets shorter ones, and the
//     scan completes.
func TestCacheReorgPersistRanges(t *testing.T) {
	payer := mysttest.NewSigner(t)
	chain, err := devchain.Start(devchain.Config{RPCAddr: "127.0.0.1:0", Funded: []common.Address{payer.Address()}, Manual: true})
	if err != nil {
		t.Fatal(err)
	}
	defer chain.Close()
	ctx := mysttest.Ctx(t, 2*time.Minute)
	// Blocks every 20 ms while setting up (deploy, first registration).
	mining := make(chan struct{})
	var miner sync.WaitGroup
	miner.Go(func() {
		for {
			select {
			case <-mining:
				return
			case <-time.After(20 * time.Millisecond):
				chain.Commit()
			}
		}
	})
	ec := chain.Client()
	addr, from, err := Deploy(ctx, ec, big.NewInt(devchain.ChainID), payer)
	ec.Close()
	if err != nil {
		t.Fatal(err)
	}
	client, err := Dial(ctx, chain.RPCURL(), devchain.ChainID, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	alice, bob := mysttest.NewSigner(t), mysttest.NewSigner(t)
	if _, err := client.Register(ctx, alice, txsend.New(client.Eth(), client.ChainID(), payer, txsend.Config{})); err != nil {
		t.Fatal(err)
	}
	close(mining)
	miner.Wait()

	path := filepath.Join(t.TempDir(), "registry-cache.json")
	cache := NewCache(client, from)
	var reorgs []string
	cache.OnReorg = func(after uint64, dropped int) {
		reorgs = append(reorgs, strconv.Itoa(dropped)+" after "+strconv.FormatUint(after, 10))
	}
	if err := cache.Persist(path, 0); err != nil {
		t.Fatal(err)
	}
	if err := cache.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := cache.Known(alice.Address()); !ok {
		t.Fatal("alice not learnt")
	}
	before, err := client.eth.HeaderByNumber(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}

	// Bob registers in the next block...
	done := make(chan error, 1)
	go func() {
		_, err := client.Register(ctx, bob, txsend.New(client.Eth(), client.ChainID(), payer, txsend.Config{}))
		done <- err
	}()
	mysttest.WaitFor(t, 10*time.Second, func() bool {
		n, err := client.eth.PendingNonceAt(ctx, payer.Address())
		return err == nil && n > 0 && pendingCount(t, client, payer) > 0
	})
	chain.Commit()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := cache.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok := cache.Known(bob.Address()); !ok {
		t.Fatal("bob not learnt")
	}
	// ...which a reorg removes: a side chain from before it, longer, and
	// bob's transaction gone from the pool.
	if err := chain.Fork(before.Hash()); err != nil {
		t.Fatal(err)
	}
	chain.Rollback()
	chain.Commit()
	chain.Commit()
	if err := cache.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if reg, err := cache.IsRegistered(ctx, bob.Address()); err != nil || reg {
		t.Fatalf("after the reorg bob is registered=%v (%v): the cache kept an event of a block that left the chain", reg, err)
	}
	if _, ok := cache.Known(alice.Address()); !ok {
		t.Fatal("the reorg dropped alice, registered long before it")
	}
	if st := cache.Stats(); st.Reorgs != 1 || len(reorgs) != 1 || !strings.HasPrefix(reorgs[0], "1 after ") {
		t.Fatalf("reorgs %d %v", st.Reorgs, reorgs)
	}
	if err := cache.Save(); err != nil {
		t.Fatal(err)
	}

	// A restart: the state comes from the file.
	head, err := client.eth.BlockNumber(ctx)
	if err != nil {
		t.Fatal(err)
	}
	again := NewCache(client, from)
	if err := again.Persist(path, 0); err != nil {
		t.Fatal(err)
	}
	st := again.Stats()
	if _, ok := again.Known(alice.Address()); !ok || !st.Loaded || st.ScannedTo != head {
		t.Fatalf("resumed cache: alice known %v, stats %+v (head %d)", ok, st, head)
	}
	if _, ok := again.Known(bob.Address()); ok {
		t.Fatal("the file kept bob")
	}

	// An RPC that refuses ranges over 50 blocks, after 300 more blocks.
	for range 300 {
		chain.Commit()
	}
	strict := rangeLimiter(t, chain.RPCURL(), 50)
	sc, err := Dial(ctx, strict, devchain.ChainID, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	fresh := NewCache(sc, from)
	if err := fresh.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	st = fresh.Stats()
	if _, ok := fresh.Known(alice.Address()); !ok || st.RangeRetries == 0 || st.ScannedTo < head+300 {
		t.Fatalf("scan through a range-limited RPC: alice known %v, stats %+v", ok, st)
	}
	t.Logf("range-limited RPC: %d ranges refused and read again shorter; scanned to %d", st.RangeRetries, st.ScannedTo)
}

// pendingCount is how many of payer's transactions wait in the pool.
func pendingCount(t *testing.T, c *Client, payer *identity.Signer) uint64 {
	t.Helper()
	p, err := c.eth.PendingNonceAt(context.Background(), payer.Address())
	if err != nil {
		return 0
	}
	n, err := c.eth.NonceAt(context.Background(), payer.Address(), nil)
	if err != nil {
		return 0
	}
	return p - n
}

// rangeLimiter is a JSON-RPC proxy to target that answers eth_getLogs
// over more than max blocks with the error public providers give.
func rangeLimiter(t *testing.T, target string, max uint64) string {
	t.Helper()
	u, _ := url.Parse(target)
	proxy := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
			Params []struct {
				FromBlock string `json:"fromBlock"`
				ToBlock   string `json:"toBlock"`
			} `json:"params"`
		}
		if json.Unmarshal(body, &req) == nil && req.Method == "eth_getLogs" && len(req.Params) == 1 {
			f, _ := strconv.ParseUint(strings.TrimPrefix(req.Params[0].FromBlock, "0x"), 16, 64)
			to, _ := strconv.ParseUint(strings.TrimPrefix(req.Params[0].ToBlock, "0x"), 16, 64)
			if to-f+1 > max {
				w.Header().Set("Content-Type", "application/json")
				w.Write([]byte(`{"jsonrpc":"2.0","id":` + string(req.ID) + `,"error":{"code":-32005,"message":"block range too large"}}`))
				return
			}
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.Host = u.Host
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
