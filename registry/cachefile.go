package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/mystnode/myst/atomicfile"
)

// cacheFile is the cache as kept on disk.
type cacheFile struct {
	Version   int                               `json:"version"`
	Registry  common.Address                    `json:"registry"`
	FromBlock uint64                            `json:"from_block"`
	Next      uint64                            `json:"next"`
	Refs      []blockRef                        `json:"refs"`
	Keys      map[common.Address]cacheFileEntry `json:"keys"`
}

type cacheFileEntry struct {
	Key   hexutil.Bytes `json:"key"`
	Block uint64        `json:"block"`
}

// Persist keeps the cache's scanned state in path: read now (when it is
// of this registry; a file of another is ignored), written after scans
// that learnt something, at most every `every`, and by Save. A restart
// then scans from the last block it read, not from the registry's first
// (the next scan checks the saved heads against the chain, so a file of
// a chain that reorganized or was reset meanwhile is corrected).
func (c *Cache) Persist(path string, every time.Duration) error {
	c.saveMu.Lock()
	c.path, c.saveEach = path, every
	c.saveMu.Unlock()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("registry cache file: %w", err)
	}
	var f cacheFile
	if err := json.Unmarshal(b, &f); err != nil || f.Version != 1 {
		return nil // unreadable or old: scanned again, and overwritten
	}
	if f.Registry != c.client.address || f.FromBlock != c.fromBlock || f.Next < c.fromBlock {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, e := range f.Keys {
		if c.storeLocked(id, e.Key) {
			c.learnt[id] = e.Block
		}
	}
	c.next, c.refs, c.loaded = f.Next, f.Refs, true
	return nil
}

// Save writes the state to the Persist file now (if it changed).
func (c *Cache) Save() error { return c.maybeSave(true) }

func (c *Cache) maybeSave(now bool) error {
	c.saveMu.Lock()
	defer c.saveMu.Unlock()
	if c.path == "" || (!now && time.Since(c.savedAt) < c.saveEach) {
		return nil
	}
	c.mu.Lock()
	if !c.dirty {
		c.mu.Unlock()
		return nil
	}
	f := cacheFile{Version: 1, Registry: c.client.address, FromBlock: c.fromBlock, Next: c.next, Refs: append([]blockRef(nil), c.refs...),
		Keys: make(map[common.Address]cacheFileEntry, len(c.learnt))}
	for id, b := range c.learnt {
		f.Keys[id] = cacheFileEntry{Key: c.keys[id], Block: b}
	}
	c.dirty = false
	c.mu.Unlock()
	blob, err := json.Marshal(f)
	if err == nil {
		err = atomicfile.Write(c.path, blob, 0o600)
	}
	if err != nil {
		c.mu.Lock()
		c.dirty = true
		c.mu.Unlock()
		return fmt.Errorf("registry cache file: %w", err)
	}
	c.savedAt = time.Now()
	return nil
}
