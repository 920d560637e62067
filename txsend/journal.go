package txsend

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/mystnode/myst/atomicfile"
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
