package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/mystnode/myst/identity"
)

// Cache answers "is X registered, and with which public key" from memory,
// kept current from the contract's Registered events, and falls back to the
// contract's views for identities it has not seen yet. Registration is
// permanent, so a cached answer never goes stale; a negative answer is never
// cached, since an identity may register at any moment.
type Cache struct {
	client    *Client
	fromBlock uint64
	batch     uint64

	mu   sync.RWMutex
	keys map[common.Address][]byte
	next uint64 // first block not yet scanned for events

	stats struct {
		hits, misses, viewHits atomic.Uint64
	}
}

// NewCache returns a cache over client that scans events from fromBlock
// (the registry's deployment block, or 0).
func NewCache(client *Client, fromBlock uint64) *Cache {
	return &Cache{client: client, fromBlock: fromBlock, next: fromBlock, batch: 5000, keys: map[common.Address][]byte{}}
}

// Run keeps the cache current until ctx ends, syncing every interval.
// Errors are retried at the next tick; onError (may be nil) hears of them.
func (c *Cache) Run(ctx context.Context, interval time.Duration, onError func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := c.Sync(ctx); err != nil && ctx.Err() == nil && onError != nil {
			onError(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Sync reads the Registered events from the last block it scanned to the
// chain's head.
func (c *Cache) Sync(ctx context.Context) error {
	head, err := c.client.eth.BlockNumber(ctx)
	if err != nil {
		return fmt.Errorf("registry cache: block number: %w", err)
	}
	c.mu.RLock()
	from := c.next
	c.mu.RUnlock()
	for from <= head {
		to := min(from+c.batch-1, head)
		it, err := c.client.contract.FilterRegistered(&bind.FilterOpts{Start: from, End: &to, Context: ctx}, nil)
		if err != nil {
			return fmt.Errorf("registry cache: logs %d-%d: %w", from, to, err)
		}
		found := map[common.Address][]byte{}
		for it.Next() {
			if it.Event.Raw.Removed {
				continue
			}
			found[it.Event.Identity] = bytes.Clone(it.Event.PublicKey)
		}
		err = it.Error()
		it.Close()
		if err != nil {
			return fmt.Errorf("registry cache: logs %d-%d: %w", from, to, err)
		}
		c.mu.Lock()
		for id, key := range found {
			c.storeLocked(id, key)
		}
		c.next = to + 1
		c.mu.Unlock()
		from = to + 1
	}
	return nil
}

// storeLocked adds a key after checking that it belongs to id.
func (c *Cache) storeLocked(id common.Address, key []byte) {
	if got, err := identity.AddressOfPublicKey(key); err != nil || got != id {
		return
	}
	c.keys[id] = key
}

// PublicKey returns id's registered 64-byte public key, or an error
// wrapping ErrNotRegistered.
func (c *Cache) PublicKey(ctx context.Context, id common.Address) ([]byte, error) {
	c.mu.RLock()
	key, ok := c.keys[id]
	c.mu.RUnlock()
	if ok {
		c.stats.hits.Add(1)
		return key, nil
	}
	c.stats.misses.Add(1)
	key, err := c.client.PublicKeyOf(ctx, id)
	if err != nil {
		return nil, err
	}
	if got, err := identity.AddressOfPublicKey(key); err != nil || got != id {
		return nil, fmt.Errorf("registry returned a public key that is not %s's", id.Hex())
	}
	c.stats.viewHits.Add(1)
	c.mu.Lock()
	c.keys[id] = key
	c.mu.Unlock()
	return key, nil
}

// IsRegistered reports whether id is registered.
func (c *Cache) IsRegistered(ctx context.Context, id common.Address) (bool, error) {
	_, err := c.PublicKey(ctx, id)
	if errors.Is(err, ErrNotRegistered) {
		return false, nil
	}
	return err == nil, err
}

// CacheStats counts lookups.
type CacheStats struct {
	Known      int    // identities in memory
	Hits       uint64 // answered from memory
	Misses     uint64 // asked the contract
	ViewHits   uint64 // misses the contract answered as registered
	ScannedTo  uint64 // last block scanned for events
	FirstBlock uint64
}

// Stats returns the cache's counters.
func (c *Cache) Stats() CacheStats {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var scanned uint64
	if c.next > 0 {
		scanned = c.next - 1
	}
	return CacheStats{
		Known: len(c.keys), Hits: c.stats.hits.Load(), Misses: c.stats.misses.Load(),
		ViewHits: c.stats.viewHits.Load(), ScannedTo: scanned, FirstBlock: c.fromBlock,
	}
}
