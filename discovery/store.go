package discovery

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	_ "modernc.org/sqlite"             // database/sql driver "sqlite", pure Go
)

// ErrNotNewer means a stored proposal is as new or newer than the one posted
// (a replay, or a keep-alive that lost a race).
var ErrNotNewer = errors.New("a newer or identical proposal is already stored")

// ErrNotFound means no such proposal.
var ErrNotFound = errors.New("no such proposal")

// Store keeps proposals in SQLite or PostgreSQL; several discovery replicas
// may share one PostgreSQL database.
type Store struct {
	db     *sql.DB
	driver string
}

// Record is one stored proposal with its search columns.
type Record struct {
	ProviderID    string // lowercase hex
	ServiceType   string
	Country       string
	BandwidthMbps float64
	PriceHourNano int64
	PriceGiBNano  int64
	UpdatedAt     time.Time
	ExpiresAt     time.Time
	Proposal      string // the signed bytes
	Signature     string
}

const schema = `
CREATE TABLE IF NOT EXISTS proposals (
	provider_id     TEXT NOT NULL,
	service_type    TEXT NOT NULL,
	country         TEXT NOT NULL,
	bandwidth_mbps  DOUBLE PRECISION NOT NULL,
	price_hour_nano BIGINT NOT NULL,
	price_gib_nano  BIGINT NOT NULL,
	updated_at_ms   BIGINT NOT NULL,
	expires_at_ms   BIGINT NOT NULL,
	proposal        TEXT NOT NULL,
	signature       TEXT NOT NULL,
	PRIMARY KEY (provider_id, service_type)
);
CREATE INDEX IF NOT EXISTS proposals_by_type_country ON proposals (service_type, country, expires_at_ms);
CREATE INDEX IF NOT EXISTS proposals_by_expiry ON proposals (expires_at_ms);
`

// OpenStore opens "sqlite:PATH" or a "postgres://" URL and creates the
// schema if it is missing.
func OpenStore(ctx context.Context, dsn string) (*Store, error) {
	var s Store
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		path := strings.TrimPrefix(dsn, "sqlite:")
		if path == "" {
			return nil, errors.New("--db sqlite:PATH needs a path")
		}
		db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)")
		if err != nil {
			return nil, fmt.Errorf("open sqlite %s: %w", path, err)
		}
		db.SetMaxOpenConns(1) // one writer; SQLite serializes anyway
		s = Store{db: db, driver: "sqlite"}
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		db.SetMaxOpenConns(16)
		s = Store{db: db, driver: "postgres"}
	default:
		return nil, fmt.Errorf("--db %q: want sqlite:PATH or postgres://...", dsn)
	}
	if err := s.db.PingContext(ctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("connect to %s database: %w", s.driver, err)
	}
	if err := s.migrate(ctx); err != nil {
		s.db.Close()
		return nil, err
	}
	return &s, nil
}

func (s *Store) migrate(ctx context.Context) error {
	if s.driver == "postgres" {
		// Replicas starting together must not race on CREATE.
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(4051)`); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if _, err := tx.ExecContext(ctx, schema); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		return tx.Commit()
	}
	for _, stmt := range strings.Split(schema, ";") {
		if strings.TrimSpace(stmt) == "" {
			continue
		}
		if _, err := s.db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Ping checks the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Upsert stores r unless a proposal for the same provider and service type
// with the same or a later UpdatedAt is stored (ErrNotNewer).
func (s *Store) Upsert(ctx context.Context, r *Record) error {
	res, err := s.db.ExecContext(ctx, `
INSERT INTO proposals (provider_id, service_type, country, bandwidth_mbps, price_hour_nano, price_gib_nano, updated_at_ms, expires_at_ms, proposal, signature)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (provider_id, service_type) DO UPDATE SET
	country = excluded.country, bandwidth_mbps = excluded.bandwidth_mbps,
	price_hour_nano = excluded.price_hour_nano, price_gib_nano = excluded.price_gib_nano,
	updated_at_ms = excluded.updated_at_ms, expires_at_ms = excluded.expires_at_ms,
	proposal = excluded.proposal, signature = excluded.signature
WHERE proposals.updated_at_ms < excluded.updated_at_ms`,
		r.ProviderID, r.ServiceType, r.Country, r.BandwidthMbps, r.PriceHourNano, r.PriceGiBNano,
		r.UpdatedAt.UnixMilli(), r.ExpiresAt.UnixMilli(), r.Proposal, r.Signature)
	if err != nil {
		return fmt.Errorf("store proposal: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store proposal: %w", err)
	}
	if n == 0 {
		return ErrNotNewer
	}
	return nil
}

// Delete removes a proposal last updated at or before notAfter.
func (s *Store) Delete(ctx context.Context, providerID, serviceType string, notAfter time.Time) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM proposals WHERE provider_id = $1 AND service_type = $2 AND updated_at_ms <= $3`,
		providerID, serviceType, notAfter.UnixMilli())
	if err != nil {
		return fmt.Errorf("delete proposal: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// Expire deletes proposals that expired before now.
func (s *Store) Expire(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM proposals WHERE expires_at_ms <= $1`, now.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("expire proposals: %w", err)
	}
	return res.RowsAffected()
}

// Filter selects proposals. Zero values don't filter.
type Filter struct {
	ServiceType  string
	Country      string
	Metering     string // "time": charges per hour; "bytes": charges per GiB
	MaxPriceHour int64  // nano-tokens; -1: no limit
	MaxPriceGiB  int64  // nano-tokens; -1: no limit
	MinBandwidth float64
	ProviderID   string // lowercase hex
	Limit        int
	Offset       int
}

// Search returns the live proposals matching f, ordered by provider and
// service type, and how many match in all.
func (s *Store) Search(ctx context.Context, f Filter, now time.Time) ([]Record, int, error) {
	where := []string{"expires_at_ms > $1"}
	args := []any{now.UnixMilli()}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "?", fmt.Sprintf("$%d", len(args))))
	}
	if f.ServiceType != "" {
		add("service_type = ?", f.ServiceType)
	}
	if f.Country != "" {
		add("country = ?", f.Country)
	}
	switch f.Metering {
	case "time":
		where = append(where, "price_hour_nano > 0")
	case "bytes":
		where = append(where, "price_gib_nano > 0")
	}
	if f.MaxPriceHour >= 0 {
		add("price_hour_nano <= ?", f.MaxPriceHour)
	}
	if f.MaxPriceGiB >= 0 {
		add("price_gib_nano <= ?", f.MaxPriceGiB)
	}
	if f.MinBandwidth > 0 {
		add("bandwidth_mbps >= ?", f.MinBandwidth)
	}
	if f.ProviderID != "" {
		add("provider_id = ?", f.ProviderID)
	}
	cond := strings.Join(where, " AND ")
	var total int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM proposals WHERE `+cond, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count proposals: %w", err)
	}
	args = append(args, f.Limit, f.Offset)
	rows, err := s.db.QueryContext(ctx, fmt.Sprintf(`SELECT provider_id, service_type, country, bandwidth_mbps, price_hour_nano, price_gib_nano, updated_at_ms, expires_at_ms, proposal, signature
FROM proposals WHERE %s ORDER BY provider_id, service_type LIMIT $%d OFFSET $%d`, cond, len(args)-1, len(args)), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("search proposals: %w", err)
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		var r Record
		var upd, exp int64
		if err := rows.Scan(&r.ProviderID, &r.ServiceType, &r.Country, &r.BandwidthMbps, &r.PriceHourNano, &r.PriceGiBNano, &upd, &exp, &r.Proposal, &r.Signature); err != nil {
			return nil, 0, fmt.Errorf("search proposals: %w", err)
		}
		r.UpdatedAt, r.ExpiresAt = time.UnixMilli(upd).UTC(), time.UnixMilli(exp).UTC()
		out = append(out, r)
	}
	return out, total, rows.Err()
}

var nano = big.NewInt(1e9)

// NanoCeil converts smallest units (10^-18) to nano-tokens, rounding up and
// saturating at MaxInt64.
func NanoCeil(v *big.Int) int64 {
	q, r := new(big.Int).QuoRem(v, nano, new(big.Int))
	if r.Sign() > 0 {
		q.Add(q, big.NewInt(1))
	}
	if !q.IsInt64() {
		return math.MaxInt64
	}
	return q.Int64()
}

// NanoFloor converts smallest units to nano-tokens, rounding down.
func NanoFloor(v *big.Int) int64 {
	q := new(big.Int).Quo(v, nano)
	if !q.IsInt64() {
		return math.MaxInt64
	}
	return q.Int64()
}
