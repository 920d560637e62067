package discoveryd

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/big"
	"runtime"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"github.com/mystnode/myst/discovery"
	_ "modernc.org/sqlite" // database/sql driver "sqlite", pure Go
)

// ErrNotNewer means a stored proposal is as new or newer than the one posted
// (a replay, or a keep-alive that lost a race).
var ErrNotNewer = errors.New("a newer or identical proposal is already stored")

// ErrNotFound means no such proposal.
var ErrNotFound = errors.New("no such proposal")

// Store keeps proposals in SQLite or PostgreSQL; several discovery replicas
// may share one PostgreSQL database. Reads run in parallel: on SQLite a
// pool of read-only connections over WAL next to the one writer, on
// PostgreSQL a sized pool; statements are prepared once per shape.
type Store struct {
	db     *sql.DB // writes (and, on PostgreSQL, reads)
	read   *sql.DB // reads
	driver string

	stmts sync.Map // SQL text -> *sql.Stmt on read
}

// Record is one stored proposal with its search columns.
type Record struct {
	ProviderID    string // lowercase hex
	ServiceType   string
	Country       string
	BandwidthMbps float64
	// Reachability is how consumers reach the provider (public, mapped,
	// cone, symmetric, unknown; "" when the proposal does not say).
	Reachability string
	// BlockedPorts are the exit's refused destination ports as ",25,465,"
	// ("" for none); SessionMbit its per-session limit (0: none).
	BlockedPorts string
	SessionMbit  float64
	// PriceHour and PriceGiB are the prices in the token's smallest unit
	// (10^-18), stored as 16-byte big-endian numbers so that both
	// databases index and compare them exactly (bytewise).
	PriceHour *big.Int
	PriceGiB  *big.Int
	UpdatedAt time.Time
	ExpiresAt time.Time
	Proposal  string // the signed bytes
	Signature string
}

// schemaVersion is bumped when the table changes. Proposals are soft state
// (they live minutes and are re-announced every 30 s), so an older table is
// dropped and made anew rather than migrated.
const schemaVersion = 5

// priceBytes is the width of a stored price: a uint128, big-endian.
const priceBytes = 16

// The table is ordered by the result order (SQLite: WITHOUT ROWID, so an
// unfiltered page reads rows in place). Each filter's index leads with its
// equality columns and the result order, then carries every column a
// search filters on, so that matching and counting read the index alone;
// only the rows of the page are read from the table.
var schema = `
CREATE TABLE IF NOT EXISTS proposals (
	provider_id    TEXT NOT NULL,
	service_type   TEXT NOT NULL,
	country        TEXT NOT NULL,
	bandwidth_mbps DOUBLE PRECISION NOT NULL,
	reachability   TEXT NOT NULL,
	blocked_ports  TEXT NOT NULL,
	session_mbit   DOUBLE PRECISION NOT NULL,
	price_hour     %[1]s NOT NULL,
	price_gib      %[1]s NOT NULL,
	updated_at_ms  BIGINT NOT NULL,
	expires_at_ms  BIGINT NOT NULL,
	proposal       TEXT NOT NULL,
	signature      TEXT NOT NULL,
	PRIMARY KEY (provider_id, service_type)
)%[2]s;
CREATE INDEX IF NOT EXISTS proposals_type_country ON proposals (service_type, country, provider_id, expires_at_ms, price_hour, price_gib, bandwidth_mbps, reachability, blocked_ports, session_mbit);
CREATE INDEX IF NOT EXISTS proposals_type ON proposals (service_type, provider_id, expires_at_ms, price_hour, price_gib, country, bandwidth_mbps, reachability, blocked_ports, session_mbit);
CREATE INDEX IF NOT EXISTS proposals_country ON proposals (country, provider_id, service_type, expires_at_ms, price_hour, price_gib, bandwidth_mbps, reachability, blocked_ports, session_mbit);
CREATE INDEX IF NOT EXISTS proposals_expiry ON proposals (expires_at_ms);
CREATE TABLE IF NOT EXISTS discovery_changes (id INTEGER PRIMARY KEY, gen BIGINT NOT NULL);
INSERT INTO discovery_changes (id, gen) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
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
		// The page cache is the OS's, shared by every connection through
		// mmap (up to 1 GiB of the file), plus 16 MiB per connection.
		base := "file:" + path + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)" +
			"&_pragma=mmap_size(1073741824)&_pragma=cache_size(-16384)&_pragma=temp_store(MEMORY)"
		db, err := sql.Open("sqlite", base)
		if err != nil {
			return nil, fmt.Errorf("open sqlite %s: %w", path, err)
		}
		db.SetMaxOpenConns(1) // the one writer
		s = Store{db: db, driver: "sqlite"}
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		n := max(8, 4*runtime.GOMAXPROCS(0))
		db.SetMaxOpenConns(n)
		db.SetMaxIdleConns(n)
		s = Store{db: db, read: db, driver: "postgres"}
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
	if s.driver == "sqlite" {
		// Readers open after the schema exists; they never write.
		path := strings.TrimPrefix(dsn, "sqlite:")
		read, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=query_only(1)"+
			"&_pragma=mmap_size(1073741824)&_pragma=cache_size(-16384)&_pragma=temp_store(MEMORY)")
		if err != nil {
			s.db.Close()
			return nil, fmt.Errorf("open sqlite %s for reading: %w", path, err)
		}
		n := max(4, 2*runtime.GOMAXPROCS(0))
		read.SetMaxOpenConns(n)
		read.SetMaxIdleConns(n)
		s.read = read
	}
	return &s, nil
}

func (s *Store) migrate(ctx context.Context) error {
	ddl := fmt.Sprintf(schema, "BLOB", " WITHOUT ROWID")
	if s.driver == "postgres" {
		ddl = fmt.Sprintf(schema, "BYTEA", "")
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()
	if s.driver == "postgres" {
		// Replicas starting together must not race on CREATE.
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(4051)`); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS discovery_schema (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var version int
	switch err := tx.QueryRowContext(ctx, `SELECT version FROM discovery_schema`).Scan(&version); {
	case errors.Is(err, sql.ErrNoRows):
		if _, err := tx.ExecContext(ctx, `INSERT INTO discovery_schema (version) VALUES (0)`); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	case err != nil:
		return fmt.Errorf("migrate: %w", err)
	}
	if version != schemaVersion {
		for _, t := range []string{"proposals", "discovery_changes"} {
			if _, err := tx.ExecContext(ctx, `DROP TABLE IF EXISTS `+t); err != nil {
				return fmt.Errorf("migrate: %w", err)
			}
		}
	}
	for _, stmt := range strings.Split(ddl, ";") {
		if strings.TrimSpace(stmt) == "" {
			continue
		}
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE discovery_schema SET version = $1`, schemaVersion); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return tx.Commit()
}

// Writers is how many transactions may write at once: one on SQLite
// (it has one writer), four on PostgreSQL.
func (s *Store) Writers() int {
	if s.driver == "postgres" {
		return 4
	}
	return 1
}

// Close closes the database.
func (s *Store) Close() error {
	s.stmts.Range(func(_, v any) bool { v.(*sql.Stmt).Close(); return true })
	if s.read != nil && s.read != s.db {
		s.read.Close()
	}
	return s.db.Close()
}

// Ping checks the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// price is a stored price: 16 bytes, big-endian, saturating.
func price(v *big.Int) []byte {
	out := make([]byte, priceBytes)
	switch {
	case v == nil || v.Sign() <= 0:
	case v.BitLen() > 8*priceBytes:
		for i := range out {
			out[i] = 0xff
		}
	default:
		v.FillBytes(out)
	}
	return out
}

func parsePrice(b []byte) *big.Int { return new(big.Int).SetBytes(b) }

const upsertSQL = `
INSERT INTO proposals (provider_id, service_type, country, bandwidth_mbps, price_hour, price_gib, updated_at_ms, expires_at_ms, proposal, signature, reachability, blocked_ports, session_mbit)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
ON CONFLICT (provider_id, service_type) DO UPDATE SET
	country = excluded.country, bandwidth_mbps = excluded.bandwidth_mbps, reachability = excluded.reachability,
	blocked_ports = excluded.blocked_ports, session_mbit = excluded.session_mbit,
	price_hour = excluded.price_hour, price_gib = excluded.price_gib,
	updated_at_ms = excluded.updated_at_ms, expires_at_ms = excluded.expires_at_ms,
	proposal = excluded.proposal, signature = excluded.signature
WHERE proposals.updated_at_ms < excluded.updated_at_ms`

// keepAliveSQL renews a stored proposal whose search columns are
// unchanged: what most posts are, and no search answer changes by it but
// for the signed bytes and the expiry.
const keepAliveSQL = `
UPDATE proposals SET updated_at_ms = $7, expires_at_ms = $8, proposal = $9, signature = $10
WHERE provider_id = $1 AND service_type = $2 AND updated_at_ms < $7
	AND country = $3 AND bandwidth_mbps = $4 AND price_hour = $5 AND price_gib = $6 AND reachability = $11
	AND blocked_ports = $12 AND session_mbit = $13`

const bumpSQL = `UPDATE discovery_changes SET gen = gen + 1 WHERE id = 1`

// Upsert stores r unless a proposal for the same provider and service type
// with the same or a later UpdatedAt is stored (ErrNotNewer).
func (s *Store) Upsert(ctx context.Context, r *Record) error {
	return s.UpsertBatch(ctx, []*Record{r})[0]
}

// UpsertBatch stores records in one transaction (one commit for all) and
// returns each one's outcome: nil, ErrNotNewer, or the error that failed
// the batch. A new proposal, or one whose search columns changed, moves
// the store's Generation.
func (s *Store) UpsertBatch(ctx context.Context, recs []*Record) []error {
	errs := make([]error, len(recs))
	fail := func(err error) []error {
		err = fmt.Errorf("store proposals: %w", err)
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fail(err)
	}
	defer tx.Rollback()
	renewed := map[int]bool{}
	if s.driver == "postgres" && len(recs) > 1 {
		if renewed, err = s.renewAll(ctx, tx, recs); err != nil {
			return fail(err)
		}
	}
	var keep *sql.Stmt
	if s.driver != "postgres" || len(recs) == 1 {
		if keep, err = tx.PrepareContext(ctx, keepAliveSQL); err != nil {
			return fail(err)
		}
		defer keep.Close()
	}
	var upsert *sql.Stmt
	changed := false
	for i, r := range recs {
		if renewed[i] {
			continue
		}
		args := []any{r.ProviderID, r.ServiceType, r.Country, r.BandwidthMbps, price(r.PriceHour), price(r.PriceGiB),
			r.UpdatedAt.UnixMilli(), r.ExpiresAt.UnixMilli(), r.Proposal, r.Signature, r.Reachability, r.BlockedPorts, r.SessionMbit}
		if keep != nil {
			if n, err := affected(ctx, keep, args); err != nil {
				return fail(err)
			} else if n == 1 {
				continue
			}
		}
		if upsert == nil {
			if upsert, err = tx.PrepareContext(ctx, upsertSQL); err != nil {
				return fail(err)
			}
			defer upsert.Close()
		}
		if n, err := affected(ctx, upsert, args); err != nil {
			return fail(err)
		} else if n == 0 {
			errs[i] = ErrNotNewer
		} else {
			changed = true
		}
	}
	if changed {
		if _, err := tx.ExecContext(ctx, bumpSQL); err != nil {
			return fail(err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fail(err)
	}
	return errs
}

// affected runs st and returns how many rows it changed.
func affected(ctx context.Context, st *sql.Stmt, args []any) (int64, error) {
	res, err := st.ExecContext(ctx, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// renewAllSQL renews a batch in one statement on PostgreSQL (keepAliveSQL
// over arrays), returning the keys it renewed.
const renewAllSQL = `
UPDATE proposals p SET updated_at_ms = v.upd, expires_at_ms = v.exp, proposal = v.prop, signature = v.sig
FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[], $5::bytea[], $6::bytea[], $7::bigint[], $8::bigint[], $9::text[], $10::text[], $11::text[], $12::text[], $13::float8[])
	AS v(pid, st, country, bw, ph, pg, upd, exp, prop, sig, reach, bp, sm)
WHERE p.provider_id = v.pid AND p.service_type = v.st AND p.updated_at_ms < v.upd
	AND p.country = v.country AND p.bandwidth_mbps = v.bw AND p.price_hour = v.ph AND p.price_gib = v.pg AND p.reachability = v.reach
	AND p.blocked_ports = v.bp AND p.session_mbit = v.sm
RETURNING p.provider_id, p.service_type`

// renewAll renews what it can of recs in one round trip and reports which
// (by index). A key that comes twice in the batch is left to the
// one-by-one path after its first.
func (s *Store) renewAll(ctx context.Context, tx *sql.Tx, recs []*Record) (map[int]bool, error) {
	n := len(recs)
	pid, st, country, prop, sig, reach := make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
	bw, sm := make([]float64, 0, n), make([]float64, 0, n)
	bp := make([]string, 0, n)
	ph, pg := make([][]byte, 0, n), make([][]byte, 0, n)
	upd, exp := make([]int64, 0, n), make([]int64, 0, n)
	index := map[discovery.Key]int{}
	for i, r := range recs {
		k := discovery.Key{ProviderID: r.ProviderID, ServiceType: r.ServiceType}
		if _, dup := index[k]; dup {
			continue
		}
		index[k] = i
		pid, st, country, prop, sig = append(pid, r.ProviderID), append(st, r.ServiceType), append(country, r.Country), append(prop, r.Proposal), append(sig, r.Signature)
		bw, ph, pg = append(bw, r.BandwidthMbps), append(ph, price(r.PriceHour)), append(pg, price(r.PriceGiB))
		upd, exp = append(upd, r.UpdatedAt.UnixMilli()), append(exp, r.ExpiresAt.UnixMilli())
		reach, bp, sm = append(reach, r.Reachability), append(bp, r.BlockedPorts), append(sm, r.SessionMbit)
	}
	rows, err := tx.QueryContext(ctx, renewAllSQL, pid, st, country, bw, ph, pg, upd, exp, prop, sig, reach, bp, sm)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	done := map[int]bool{}
	for rows.Next() {
		var k discovery.Key
		if err := rows.Scan(&k.ProviderID, &k.ServiceType); err != nil {
			return nil, err
		}
		done[index[k]] = true
	}
	return done, rows.Err()
}

// Generation counts the changes to search answers other than renewals: new
// and changed proposals, deletes, expiries. Every replica on one database
// sees the same count, so a cached answer can be checked against it.
func (s *Store) Generation(ctx context.Context) (int64, error) {
	st, err := s.stmt(ctx, `SELECT gen FROM discovery_changes WHERE id = 1`)
	if err != nil {
		return 0, err
	}
	var gen int64
	if err := st.QueryRowContext(ctx).Scan(&gen); err != nil {
		return 0, fmt.Errorf("read the change count: %w", err)
	}
	return gen, nil
}

// removing runs a delete and moves the Generation in one transaction if it
// removed anything.
func (s *Store) removing(ctx context.Context, query string, args ...any) (int64, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err != nil || n == 0 {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, bumpSQL); err != nil {
		return 0, err
	}
	return n, tx.Commit()
}

// Delete removes a proposal last updated at or before notAfter.
func (s *Store) Delete(ctx context.Context, providerID, serviceType string, notAfter time.Time) error {
	n, err := s.removing(ctx, `DELETE FROM proposals WHERE provider_id = $1 AND service_type = $2 AND updated_at_ms <= $3`,
		providerID, serviceType, notAfter.UnixMilli())
	if err != nil {
		return fmt.Errorf("delete proposal: %w", err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// ExpireBatch bounds one round of the expiry sweep.
const ExpireBatch = 2000

// Expire deletes proposals that expired before now, at most ExpireBatch
// per transaction, until none is left or ctx ends.
func (s *Store) Expire(ctx context.Context, now time.Time) (int64, error) {
	var total int64
	for {
		n, err := s.removing(ctx, `DELETE FROM proposals WHERE (provider_id, service_type) IN
	(SELECT provider_id, service_type FROM proposals WHERE expires_at_ms <= $1 LIMIT $2)`, now.UnixMilli(), ExpireBatch)
		if err != nil {
			return total, fmt.Errorf("expire proposals: %w", err)
		}
		total += n
		if n < ExpireBatch || ctx.Err() != nil {
			return total, nil
		}
	}
}

// Live counts the proposals that are live at now (exactly: for tools and
// health, not for every search).
func (s *Store) Live(ctx context.Context, now time.Time) (int, error) {
	var n int
	if err := s.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM proposals WHERE expires_at_ms > $1`, now.UnixMilli()).Scan(&n); err != nil {
		return 0, fmt.Errorf("count proposals: %w", err)
	}
	return n, nil
}

// TotalCap bounds how many matches Search counts: a total above it is
// reported as TotalCap+1 and not exact.
const TotalCap = 1000

// Page is one page of results.
type Page struct {
	Records []Record
	// Total counts every match (regardless of After and Offset) when
	// TotalExact; otherwise more than TotalCap match and Total is
	// TotalCap+1, a lower bound.
	Total      int
	TotalExact bool
	// Next is the key to continue after, if more match.
	Next *discovery.Key
}

// Search returns a page of the live proposals matching f, in (provider,
// service type) order, and how many match in all.
func (s *Store) Search(ctx context.Context, f discovery.Filter, now time.Time) (Page, error) {
	where := []string{"expires_at_ms > $1"}
	args := []any{now.UnixMilli()}
	add := func(cond string, vs ...any) {
		for _, v := range vs {
			args = append(args, v)
			cond = strings.Replace(cond, "?", fmt.Sprintf("$%d", len(args)), 1)
		}
		where = append(where, cond)
	}
	zero := price(new(big.Int))
	if f.ServiceType != "" {
		add("service_type = ?", f.ServiceType)
	}
	if f.Country != "" {
		add("country = ?", f.Country)
	}
	switch f.Metering {
	case "time":
		add("price_hour > ?", zero)
	case "bytes":
		add("price_gib > ?", zero)
	}
	if f.MaxPriceHour != nil {
		add("price_hour <= ?", price(f.MaxPriceHour))
	}
	if f.MaxPriceGiB != nil {
		add("price_gib <= ?", price(f.MaxPriceGiB))
	}
	if f.MinBandwidth > 0 {
		add("bandwidth_mbps >= ?", f.MinBandwidth)
	}
	if len(f.Reachability) > 0 {
		vs := make([]any, len(f.Reachability))
		for i, r := range f.Reachability {
			vs[i] = r
		}
		add("reachability IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(vs)), ", ")+")", vs...)
	}
	if f.Port != 0 {
		add("blocked_ports NOT LIKE ?", fmt.Sprintf("%%,%d,%%", f.Port))
	}
	if f.MinSessionMbit > 0 {
		add("(session_mbit = 0 OR session_mbit >= ?)", f.MinSessionMbit)
	}
	if f.ProviderID != "" {
		add("provider_id = ?", f.ProviderID)
	}
	matchCond := strings.Join(where, " AND ")
	nMatch := len(args)
	if f.After != nil {
		add("(provider_id, service_type) > (?, ?)", f.After.ProviderID, f.After.ServiceType)
	}
	cond := strings.Join(where, " AND ")

	var page Page
	args = append(args, f.Limit+1, f.Offset)
	q, err := s.stmt(ctx, fmt.Sprintf(`SELECT provider_id, service_type, country, bandwidth_mbps, price_hour, price_gib, updated_at_ms, expires_at_ms, proposal, signature, reachability
FROM proposals WHERE %s ORDER BY provider_id, service_type LIMIT $%d OFFSET $%d`, cond, len(args)-1, len(args)))
	if err != nil {
		return page, err
	}
	rows, err := q.QueryContext(ctx, args...)
	if err != nil {
		return page, fmt.Errorf("search proposals: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r Record
		var upd, exp int64
		var ph, pg []byte
		if err := rows.Scan(&r.ProviderID, &r.ServiceType, &r.Country, &r.BandwidthMbps, &ph, &pg, &upd, &exp, &r.Proposal, &r.Signature, &r.Reachability); err != nil {
			return page, fmt.Errorf("search proposals: %w", err)
		}
		r.PriceHour, r.PriceGiB = parsePrice(ph), parsePrice(pg)
		r.UpdatedAt, r.ExpiresAt = time.UnixMilli(upd).UTC(), time.UnixMilli(exp).UTC()
		page.Records = append(page.Records, r)
	}
	if err := rows.Err(); err != nil {
		return page, fmt.Errorf("search proposals: %w", err)
	}
	if len(page.Records) > f.Limit {
		page.Records = page.Records[:f.Limit]
		last := page.Records[f.Limit-1]
		page.Next = &discovery.Key{ProviderID: last.ProviderID, ServiceType: last.ServiceType}
	}
	// A first page that holds every match is its own total.
	if f.After == nil && f.Offset == 0 && page.Next == nil {
		page.Total, page.TotalExact = len(page.Records), true
		return page, nil
	}
	count, err := s.stmt(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM proposals WHERE `+matchCond+fmt.Sprintf(` LIMIT %d) m`, TotalCap+1))
	if err != nil {
		return page, err
	}
	if err := count.QueryRowContext(ctx, args[:nMatch]...).Scan(&page.Total); err != nil {
		return page, fmt.Errorf("count proposals: %w", err)
	}
	page.TotalExact = page.Total <= TotalCap
	return page, nil
}

// stmt is the read statement for query, prepared once.
func (s *Store) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := s.stmts.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := s.read.PrepareContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("prepare search: %w", err)
	}
	if prev, loaded := s.stmts.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}
