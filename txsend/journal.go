package txsend

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/mystnode/myst/atomicfile"
	"github.com/mystnode/myst/ethrpc"
)

// Journal keeps, in a folder, every transaction a Sender sent and has not
// yet seen confirmed: one file per account and what, written (and synced)
// before each version is sent, removed once one is confirmed. A nil
// Journal keeps nothing.
type Journal struct{ dir string }

// OpenJournal opens (making it, 0700) the journal folder dir.
func OpenJournal(dir string) (*Journal, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("transaction journal: %w", err)
	}
	return &Journal{dir: dir}, nil
}

// JournalEntry is a transaction in flight as written down.
type JournalEntry struct {
	From   common.Address  `json:"from"`
	What   string          `json:"what"`
	Nonce  uint64          `json:"nonce"`
	Raw    []hexutil.Bytes `json:"raw"` // every version, signed, the first first
	SentAt time.Time       `json:"sent_at"`
}

func (j *Journal) path(from common.Address, what string) string {
	h := sha256.Sum256([]byte(from.Hex() + "\x00" + what))
	return filepath.Join(j.dir, hex.EncodeToString(h[:12])+".json")
}

func (j *Journal) put(from common.Address, what string, st *pending) error {
	if j == nil {
		return nil
	}
	e := JournalEntry{From: from, What: what, Nonce: st.nonce, SentAt: time.Now().UTC()}
	for _, tx := range st.versions {
		raw, err := tx.MarshalBinary()
		if err != nil {
			return err
		}
		e.Raw = append(e.Raw, raw)
	}
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(j.path(from, what), b, 0o600)
}

func (j *Journal) get(from common.Address, what string) (JournalEntry, bool) {
	if j == nil {
		return JournalEntry{}, false
	}
	b, err := os.ReadFile(j.path(from, what))
	if err != nil {
		return JournalEntry{}, false
	}
	var e JournalEntry
	if json.Unmarshal(b, &e) != nil || e.From != from || e.What != what {
		return JournalEntry{}, false
	}
	return e, true
}

func (j *Journal) remove(from common.Address, what string) {
	if j == nil {
		return
	}
	// One left behind does no harm: the next Send of it finds it mined
	// (or its nonce used) and removes it.
	os.Remove(j.path(from, what))
}

// Entries lists what the journal holds (a restart settles these first).
func (j *Journal) Entries() ([]JournalEntry, error) {
	if j == nil {
		return nil, nil
	}
	files, err := filepath.Glob(filepath.Join(j.dir, "*.json"))
	if err != nil {
		return nil, err
	}
	var out []JournalEntry
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var e JournalEntry
		if err := json.Unmarshal(b, &e); err != nil {
			return nil, fmt.Errorf("transaction journal %s: %w", f, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// Resume looks at what an earlier run left in flight: an entry one of
// whose versions is mined is removed (done; the next Send of it would
// find the same), the others are sent to the chain again for a node that
// may have forgotten them. A later Send of the same thing waits for them.
func (j *Journal) Resume(ctx context.Context, ec *ethclient.Client) (done, resent int, err error) {
	es, err := j.Entries()
	if err != nil {
		return 0, 0, err
	}
	for _, e := range es {
		mined := false
		var txs []*types.Transaction
		for _, raw := range e.Raw {
			tx := new(types.Transaction)
			if tx.UnmarshalBinary(raw) != nil {
				continue
			}
			txs = append(txs, tx)
			if _, err := ec.TransactionReceipt(ctx, tx.Hash()); err == nil {
				mined = true
			} else if !errors.Is(err, ethereum.NotFound) && !ethrpc.IsIndexing(err) {
				// A fresh node still indexing answers "not found yet".
				return done, resent, err
			}
		}
		if mined {
			j.remove(e.From, e.What)
			done++
			continue
		}
		for _, tx := range txs {
			ec.SendTransaction(ctx, tx) // "already known" and "nonce too low" are fine
		}
		resent++
	}
	return done, resent, nil
}
