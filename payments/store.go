package payments

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	_ "modernc.org/sqlite" // database/sql driver "sqlite"
)

// Store keeps promises durably in SQLite with synchronous=FULL: a promise
// the provider received is on disk before it is acknowledged, and a
// consumer's highest promise to each provider survives restarts.
type Store struct {
	db *sql.DB

	mu        sync.Mutex
	lastWrite time.Time // when the last write ended
	writeErr  error     // its error
}

// ErrStore wraps a failure to store a promise durably (disk full or
// read-only, I/O error): such a promise must not be acknowledged.
var ErrStore = errors.New("the promise store failed")

const storeSchema = `
CREATE TABLE IF NOT EXISTS received (
	consumer   TEXT NOT NULL,
	provider   TEXT NOT NULL,
	cumulative TEXT NOT NULL,
	signature  BLOB NOT NULL,
	settled    TEXT NOT NULL DEFAULT '0',
	PRIMARY KEY (consumer, provider)
);
CREATE TABLE IF NOT EXISTS probe (
	k  INTEGER PRIMARY KEY,
	at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS issued (
	consumer   TEXT NOT NULL,
	provider   TEXT NOT NULL,
	cumulative TEXT NOT NULL,
	PRIMARY KEY (consumer, provider)
);
`

// OpenStore opens (creating) the store at path.
func OpenStore(path string) (*Store, error) {
	// Promises are the provider's money and the consumer's debts: the file
	// (and the WAL files SQLite makes alongside with its mode) is the
	// owner's alone.
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open payments store: %w", err)
	}
	f.Close()
	if err := os.Chmod(path, 0o600); err != nil {
		return nil, fmt.Errorf("open payments store: %w", err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)")
	if err != nil {
		return nil, fmt.Errorf("open payments store: %w", err)
	}
	db.SetMaxOpenConns(1)
	for _, stmt := range strings.Split(storeSchema, ";") {
		if strings.TrimSpace(stmt) == "" {
			continue
		}
		if _, err := db.Exec(stmt); err != nil {
			db.Close()
			return nil, fmt.Errorf("payments store schema: %w", err)
		}
	}
	return &Store{db: db}, nil
}

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

func key(a common.Address) string { return strings.ToLower(a.Hex()) }

func parseBig(s string) *big.Int {
	v, ok := new(big.Int).SetString(s, 10)
	if !ok {
		return new(big.Int)
	}
	return v
}

// noteWrite records a write's outcome for Writable.
func (s *Store) noteWrite(err error) error {
	s.mu.Lock()
	s.lastWrite, s.writeErr = time.Now(), err
	s.mu.Unlock()
	if err != nil && !errors.Is(err, ErrStore) {
		err = fmt.Errorf("%w: %w", ErrStore, err)
	}
	return err
}

// Writable reports whether the store takes writes: the outcome of the last
// write if it ended within the last second, else of a probe write.
func (s *Store) Writable(ctx context.Context) error {
	s.mu.Lock()
	recent, err := time.Since(s.lastWrite) < time.Second, s.writeErr
	s.mu.Unlock()
	if recent {
		if err != nil && !errors.Is(err, ErrStore) {
			err = fmt.Errorf("%w: %w", ErrStore, err)
		}
		return err
	}
	_, err = s.db.ExecContext(ctx, `INSERT OR REPLACE INTO probe (k, at) VALUES (1, $1)`, time.Now().UnixNano())
	return s.noteWrite(err)
}

// SaveReceived stores a promise if it is higher than the one stored. Its
// error wraps ErrStore when the store could not write.
func (s *Store) SaveReceived(ctx context.Context, p Promise) error {
	return s.noteWrite(s.saveReceived(ctx, p))
}

func (s *Store) saveReceived(ctx context.Context, p Promise) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var cur string
	err = tx.QueryRowContext(ctx, `SELECT cumulative FROM received WHERE consumer=$1 AND provider=$2`, key(p.Consumer), key(p.Provider)).Scan(&cur)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		_, err = tx.ExecContext(ctx, `INSERT INTO received (consumer, provider, cumulative, signature) VALUES ($1, $2, $3, $4)`,
			key(p.Consumer), key(p.Provider), p.Cumulative.String(), p.Signature)
	case err != nil:
	case parseBig(cur).Cmp(p.Cumulative) >= 0:
		return nil // older or same: nothing new
	default:
		_, err = tx.ExecContext(ctx, `UPDATE received SET cumulative=$3, signature=$4 WHERE consumer=$1 AND provider=$2`,
			key(p.Consumer), key(p.Provider), p.Cumulative.String(), p.Signature)
	}
	if err != nil {
		return fmt.Errorf("store promise: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store promise: %w", err)
	}
	return nil
}

// Received is a stored promise with what was settled of it.
type Received struct {
	Promise
	Settled *big.Int
}

// Unsettled is Cumulative - Settled.
func (r Received) Unsettled() *big.Int { return new(big.Int).Sub(r.Cumulative, r.Settled) }

// ReceivedFrom returns the stored promise of consumer to provider (zero
// cumulative if none).
func (s *Store) ReceivedFrom(ctx context.Context, consumer, provider common.Address) (Received, error) {
	var cum, settled string
	var sig []byte
	err := s.db.QueryRowContext(ctx, `SELECT cumulative, signature, settled FROM received WHERE consumer=$1 AND provider=$2`, key(consumer), key(provider)).Scan(&cum, &sig, &settled)
	if errors.Is(err, sql.ErrNoRows) {
		return Received{Promise: Promise{Consumer: consumer, Provider: provider, Cumulative: new(big.Int)}, Settled: new(big.Int)}, nil
	}
	if err != nil {
		return Received{}, err
	}
	return Received{Promise: Promise{Consumer: consumer, Provider: provider, Cumulative: parseBig(cum), Signature: sig}, Settled: parseBig(settled)}, nil
}

// AllReceived lists every stored promise to provider ("" address: all).
func (s *Store) AllReceived(ctx context.Context, provider common.Address) ([]Received, error) {
	q := `SELECT consumer, provider, cumulative, signature, settled FROM received`
	var args []any
	if provider != (common.Address{}) {
		q += ` WHERE provider=$1`
		args = append(args, key(provider))
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Received
	for rows.Next() {
		var c, p, cum, settled string
		var sig []byte
		if err := rows.Scan(&c, &p, &cum, &sig, &settled); err != nil {
			return nil, err
		}
		out = append(out, Received{Promise: Promise{Consumer: common.HexToAddress(c), Provider: common.HexToAddress(p), Cumulative: parseBig(cum), Signature: sig}, Settled: parseBig(settled)})
	}
	return out, rows.Err()
}

// MarkSettled records that the chain has settled up to cumulative.
func (s *Store) MarkSettled(ctx context.Context, consumer, provider common.Address, cumulative *big.Int) error {
	_, err := s.db.ExecContext(ctx, `UPDATE received SET settled=$3 WHERE consumer=$1 AND provider=$2`, key(consumer), key(provider), cumulative.String())
	return err
}

// Issued is the highest amount consumer promised provider.
func (s *Store) Issued(ctx context.Context, consumer, provider common.Address) (*big.Int, error) {
	var cum string
	err := s.db.QueryRowContext(ctx, `SELECT cumulative FROM issued WHERE consumer=$1 AND provider=$2`, key(consumer), key(provider)).Scan(&cum)
	if errors.Is(err, sql.ErrNoRows) {
		return new(big.Int), nil
	}
	if err != nil {
		return nil, err
	}
	return parseBig(cum), nil
}

// SaveIssued records a promise the consumer made, if it is higher than
// the one recorded (two sessions of one identity may promise out of order).
func (s *Store) SaveIssued(ctx context.Context, consumer, provider common.Address, cumulative *big.Int) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var cur string
	err = tx.QueryRowContext(ctx, `SELECT cumulative FROM issued WHERE consumer=$1 AND provider=$2`, key(consumer), key(provider)).Scan(&cur)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return err
	case parseBig(cur).Cmp(cumulative) >= 0:
		return nil
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO issued (consumer, provider, cumulative) VALUES ($1, $2, $3)
ON CONFLICT (consumer, provider) DO UPDATE SET cumulative = excluded.cumulative`, key(consumer), key(provider), cumulative.String()); err != nil {
		return err
	}
	return tx.Commit()
}
