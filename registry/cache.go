package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/mystnode/myst/identity"
)

// Cache answers "is X registered, and with which public key" from memory,
// kept current from the contract's Registered events. Registration is
// permanent, so a positive answer never goes stale.
//
// A negative answer must not cost a chain call per question, or anyone who
// makes fresh keys could queue chain calls at will: once the cache has
// scanned the events up to the chain's head, a question about an unknown
// identity waits for the next catch-up scan (one that starts after the
// question came, so an identity registered a moment ago is found), and
// scans start at most once per Freshness however many questions wait for
// them: one eth_blockNumber, plus eth_getLogs when the head moved. Before
// its first full scan the cache asks the contract's view instead, at most
// ViewConcurrency at a time, and remembers a negative for NegativeTTL.
type Cache struct {
	client    *Client
	fromBlock uint64
	batch     uint64

	// Freshness is the least time between the starts of two catch-up
	// scans (default 250 ms).
	Freshness time.Duration
	// NegativeTTL is how long a view's "not registered" is remembered
	// before the first full scan (default 10 s).
	NegativeTTL time.Duration

	// OnReorg, if set, hears of a reorg: what was learnt after block
	// `after` (dropped identities) is forgotten and scanned again.
	OnReorg func(after uint64, dropped int)

	mu       sync.RWMutex
	keys     map[common.Address][]byte
	learnt   map[common.Address]uint64 // block of the event, for reorgs
	refs     []blockRef                // heads scanned, oldest first
	next     uint64                    // first block not yet scanned for events
	maxBatch uint64
	okRun    int // ranges read without a refusal since the last
	negative map[common.Address]time.Time
	dirty    bool // changed since saved
	loaded   bool

	// Persisted state (see Persist).
	saveMu   sync.Mutex
	path     string
	savedAt  time.Time
	saveEach time.Duration

	// syncing admits one scan at a time; questions that wait for it use
	// its result.
	syncing chan struct{}
	scan    scanState // guarded by syncing
	scanned atomic.Bool
	views   chan struct{}
	stats   struct {
		hits, misses, viewHits, scanAnswers, negHits, scans atomic.Uint64
		reorgs, rangeRetries                                atomic.Uint64
	}
}

type scanState struct {
	at  time.Time // when the last scan started
	err error     // its error, nil if it reached the head it saw
}

// ViewConcurrency bounds the contract view calls in flight before the
// cache's first full scan.
const ViewConcurrency = 8

// NewCache returns a cache over client that scans events from fromBlock
// (the registry's deployment block, or 0).
func NewCache(client *Client, fromBlock uint64) *Cache {
	return &Cache{client: client, fromBlock: fromBlock, next: fromBlock, batch: 2000, maxBatch: 2000,
		Freshness: 250 * time.Millisecond, NegativeTTL: 10 * time.Second,
		keys: map[common.Address][]byte{}, learnt: map[common.Address]uint64{}, negative: map[common.Address]time.Time{},
		syncing: make(chan struct{}, 1), views: make(chan struct{}, ViewConcurrency)}
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
	select {
	case c.syncing <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-c.syncing }()
	return c.syncLocked(ctx)
}

// syncLocked scans; the caller holds c.syncing.
func (c *Cache) syncLocked(ctx context.Context) error {
	c.stats.scans.Add(1)
	c.scan = scanState{at: time.Now()}
	err := c.scanToHead(ctx)
	c.scan.err = err
	if err == nil {
		c.scanned.Store(true)
	}
	return err
}

// maxRefs is how many scanned heads are remembered to find where a reorg
// forked; a deeper reorg rescans from the registry's first block.
const maxRefs = 64

// blockRef is a scanned head.
type blockRef struct {
	N uint64      `json:"n"`
	H common.Hash `json:"h"`
}

func (c *Cache) scanToHead(ctx context.Context) error {
	head, err := c.client.eth.HeaderByNumber(ctx, nil)
	if err != nil {
		return fmt.Errorf("registry cache: head: %w", err)
	}
	c.mu.RLock()
	var last blockRef
	if n := len(c.refs); n > 0 {
		last = c.refs[n-1]
	}
	c.mu.RUnlock()
	if last.H == head.Hash() {
		return nil // nothing new
	}
	if last.H != (common.Hash{}) {
		if err := c.checkReorg(ctx); err != nil {
			return err
		}
	}
	c.mu.RLock()
	from := c.next
	c.mu.RUnlock()
	to := head.Number.Uint64()
	for from <= to {
		end, err := c.scanRange(ctx, from, to)
		if err != nil {
			return err
		}
		from = end + 1
	}
	c.mu.Lock()
	if c.next > to {
		c.refs = append(c.refs, blockRef{N: to, H: head.Hash()})
		if len(c.refs) > maxRefs {
			c.refs = append([]blockRef(nil), c.refs[len(c.refs)-maxRefs:]...)
		}
	}
	c.dirty = true
	c.mu.Unlock()
	c.maybeSave(false)
	return nil
}

// checkReorg compares the remembered heads with the chain's blocks at
// their heights, newest first; from the newest that still matches, what
// was learnt in later blocks is forgotten and scanned again. None
// matching: everything is scanned again from the first block.
func (c *Cache) checkReorg(ctx context.Context) error {
	c.mu.RLock()
	refs := append([]blockRef(nil), c.refs...)
	c.mu.RUnlock()
	keep := -1
	for i := len(refs) - 1; i >= 0; i-- {
		h, err := c.client.eth.HeaderByNumber(ctx, new(big.Int).SetUint64(refs[i].N))
		if err != nil && !errors.Is(err, ethereum.NotFound) {
			return fmt.Errorf("registry cache: block %d: %w", refs[i].N, err)
		}
		if err == nil && h.Hash() == refs[i].H {
			keep = i
			break
		}
	}
	if keep == len(refs)-1 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var after uint64 // blocks after this one are scanned again
	if keep >= 0 {
		after = refs[keep].N
		c.refs = c.refs[:keep+1]
		c.next = after + 1
	} else {
		c.refs = nil
		c.next = c.fromBlock
		if c.fromBlock > 0 {
			after = c.fromBlock - 1
		}
	}
	dropped := 0
	for id, b := range c.learnt {
		if b > after || keep < 0 {
			delete(c.keys, id)
			delete(c.learnt, id)
			dropped++
		}
	}
	c.stats.reorgs.Add(1)
	c.dirty = true
	if c.OnReorg != nil {
		c.OnReorg(after, dropped)
	}
	return nil
}

// scanRange reads the events of [from, to], or of a first part of it when
// the RPC refuses a range that long or fails: the range is halved and
// tried again, a few times with a growing wait. It returns the last block
// read.
func (c *Cache) scanRange(ctx context.Context, from, to uint64) (uint64, error) {
	wait := 100 * time.Millisecond
	var lastErr error
	for attempt := 0; attempt < 8; attempt++ {
		c.mu.RLock()
		batch := c.batch
		c.mu.RUnlock()
		end := min(from+batch-1, to)
		found, err := c.logs(ctx, from, end)
		if err == nil {
			c.mu.Lock()
			for id, ev := range found {
				if c.storeLocked(id, ev.key) {
					c.learnt[id] = ev.block
				}
			}
			c.next = end + 1
			// Ranges that worked a few times running: try longer ones.
			if c.okRun++; c.okRun >= 8 {
				c.batch, c.okRun = min(c.batch*2, c.maxBatch), 0
			}
			c.mu.Unlock()
			return end, nil
		}
		if ctx.Err() != nil {
			return 0, fmt.Errorf("registry cache: logs %d-%d: %w", from, end, err)
		}
		lastErr = fmt.Errorf("registry cache: logs %d-%d: %w", from, end, err)
		c.mu.Lock()
		c.batch, c.okRun = max(1, c.batch/2), 0
		c.mu.Unlock()
		c.stats.rangeRetries.Add(1)
		select {
		case <-ctx.Done():
			return 0, lastErr
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
	return 0, lastErr
}

type event struct {
	key   []byte
	block uint64
}

func (c *Cache) logs(ctx context.Context, from, to uint64) (map[common.Address]event, error) {
	it, err := c.client.contract.FilterRegistered(&bind.FilterOpts{Start: from, End: &to, Context: ctx}, nil)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	found := map[common.Address]event{}
	for it.Next() {
		if it.Event.Raw.Removed {
			continue
		}
		found[it.Event.Identity] = event{key: bytes.Clone(it.Event.PublicKey), block: it.Event.Raw.BlockNumber}
	}
	return found, it.Error()
}

// catchUp waits for a scan that started at or after asked, running one if
// none did (not sooner than Freshness after the last one started);
// concurrent callers share it. It returns that scan's error.
func (c *Cache) catchUp(ctx context.Context, asked time.Time) error {
	select {
	case c.syncing <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("registry cache: waiting for a scan: %w", ctx.Err())
	}
	defer func() { <-c.syncing }()
	if !c.scan.at.Before(asked) {
		return c.scan.err
	}
	if wait := time.Until(c.scan.at.Add(c.Freshness)); wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("registry cache: waiting for a scan: %w", ctx.Err())
		}
	}
	return c.syncLocked(ctx)
}

// storeLocked adds a key after checking that it belongs to id.
func (c *Cache) storeLocked(id common.Address, key []byte) bool {
	if got, err := identity.AddressOfPublicKey(key); err != nil || got != id {
		return false
	}
	c.keys[id] = key
	return true
}

// PublicKey returns id's registered 64-byte public key, or an error
// wrapping ErrNotRegistered.
func (c *Cache) PublicKey(ctx context.Context, id common.Address) ([]byte, error) {
	if key, ok := c.known(id); ok {
		c.stats.hits.Add(1)
		return key, nil
	}
	c.stats.misses.Add(1)
	if c.scanned.Load() {
		if err := c.catchUp(ctx, time.Now()); err != nil {
			return nil, err
		}
		if key, ok := c.known(id); ok {
			return key, nil
		}
		c.stats.scanAnswers.Add(1)
		return nil, fmt.Errorf("%w: %s", ErrNotRegistered, id.Hex())
	}
	return c.view(ctx, id)
}

// Known returns id's key if the cache holds it, without asking anyone.
func (c *Cache) Known(id common.Address) ([]byte, bool) { return c.known(id) }

func (c *Cache) known(id common.Address) ([]byte, bool) {
	c.mu.RLock()
	key, ok := c.keys[id]
	c.mu.RUnlock()
	return key, ok
}

// maxNegative bounds the negative answers remembered before the first scan.
const maxNegative = 1 << 16

// view asks the contract, at most ViewConcurrency at a time.
func (c *Cache) view(ctx context.Context, id common.Address) ([]byte, error) {
	c.mu.RLock()
	at, neg := c.negative[id]
	c.mu.RUnlock()
	if neg && time.Since(at) < c.NegativeTTL {
		c.stats.negHits.Add(1)
		return nil, fmt.Errorf("%w: %s", ErrNotRegistered, id.Hex())
	}
	select {
	case c.views <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("registry cache: waiting to ask the contract: %w", ctx.Err())
	}
	key, err := c.client.PublicKeyOf(ctx, id)
	<-c.views
	if errors.Is(err, ErrNotRegistered) {
		c.mu.Lock()
		if len(c.negative) >= maxNegative {
			clear(c.negative)
		}
		c.negative[id] = time.Now()
		c.mu.Unlock()
	}
	if err != nil {
		return nil, err
	}
	if got, err := identity.AddressOfPublicKey(key); err != nil || got != id {
		return nil, fmt.Errorf("registry returned a public key that is not %s's", id.Hex())
	}
	c.stats.viewHits.Add(1)
	c.mu.Lock()
	c.keys[id] = key
	delete(c.negative, id)
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
	Known    int    // identities in memory
	Hits     uint64 // answered from memory
	Misses   uint64 // asked the contract
	ViewHits uint64 // misses the contract answered as registered
	// ScanAnswers are misses answered "not registered" from a scan up to
	// the head; NegativeHits from a remembered view answer.
	ScanAnswers, NegativeHits uint64
	Scans                     uint64 // scans started (periodic and catch-up)
	ScannedTo                 uint64 // last block scanned for events
	FirstBlock                uint64
	Reorgs                    uint64 // reorgs seen (learnt events dropped and scanned again)
	RangeRetries              uint64 // event ranges the RPC refused or failed, read again shorter
	Loaded                    bool   // state read from the Persist file at start
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
		ViewHits: c.stats.viewHits.Load(), ScanAnswers: c.stats.scanAnswers.Load(), NegativeHits: c.stats.negHits.Load(), Scans: c.stats.scans.Load(), ScannedTo: scanned, FirstBlock: c.fromBlock,
		Reorgs: c.stats.reorgs.Load(), RangeRetries: c.stats.rangeRetries.Load(), Loaded: c.loaded,
	}
}
