// Package postgres stores Canasta's registry, programs and ledger in a
// PostgreSQL database through pgx, and implements every service interface
// of package canasta on it.
//
// Any number of stateless servers and CLI commands may use one database at
// once, so nothing that can change (tokens, balances, the schema) is
// cached in a process, and no correctness rests on a lock in one: balances
// are enforced by the database, with conditional updates and CHECK
// constraints; a redemption's request id is claimed with a UNIQUE insert
// before anything is debited; migrations run under an advisory lock.
//
// Every call runs under a deadline (DB.Timeout). When the database cannot
// be reached, calls fail with an internal error that wraps
// canasta.ErrUnavailable, and the pool reconnects by itself once the
// database is back.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/canasta/canasta"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migration/*.sql
var migrationFS embed.FS

// Defaults for DB's tunables.
const (
	DefaultTimeout        = 30 * time.Second
	DefaultConnectTimeout = 5 * time.Second
)

// DB is an open Canasta database: a pool of connections to one PostgreSQL
// database.
type DB struct {
	pool *pgxpool.Pool

	// URL is the database, as postgres://user:password@host:port/dbname?...
	// Besides libpq's parameters, pgx's are accepted, such as pool_max_conns
	// and default_query_exec_mode (see the README on PgBouncer).
	URL string

	// Now returns the current time. Tests replace it.
	Now func() time.Time

	// Rules compiles program rules. Required by CreateProgram and RunCycle.
	Rules canasta.RuleEngine

	// Dedup keys the enrollment index of likely duplicates; nil leaves
	// new persons out of it and makes ScreenHousehold find nothing.
	Dedup canasta.DuplicateMatcher

	// Logger receives operational messages; nil means slog.Default().
	Logger *slog.Logger

	// Timeout bounds each transaction, from waiting for a connection to
	// commit; a call that runs out of it fails as unavailable.
	Timeout time.Duration

	// ConnectTimeout bounds each attempt to connect, so an unreachable
	// database is reported in seconds; the URL's connect_timeout, if
	// given, wins.
	ConnectTimeout time.Duration
}

// NewDB returns a DB for the database at url; call Open before use.
func NewDB(url string) *DB {
	return &DB{URL: url, Now: time.Now, Timeout: DefaultTimeout, ConnectTimeout: DefaultConnectTimeout}
}

// Open connects, checks that the database answers and applies pending
// migrations. An unreachable database is an error wrapping
// canasta.ErrUnavailable that says where it was looked for.
func (db *DB) Open() (err error) {
	if db.Now == nil {
		db.Now = time.Now
	}
	if db.Timeout <= 0 {
		db.Timeout = DefaultTimeout
	}
	if db.ConnectTimeout <= 0 {
		db.ConnectTimeout = DefaultConnectTimeout
	}
	config, err := pgxpool.ParseConfig(db.URL)
	if err != nil {
		return fmt.Errorf("open postgres: %w", err)
	}
	if config.ConnConfig.ConnectTimeout == 0 {
		config.ConnConfig.ConnectTimeout = db.ConnectTimeout
	}
	connectTimeout := config.ConnConfig.ConnectTimeout
	if _, ok := config.ConnConfig.RuntimeParams["application_name"]; !ok {
		config.ConnConfig.RuntimeParams["application_name"] = "canasta"
	}
	config.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		// Times come back in UTC, as the domain keeps them.
		conn.TypeMap().RegisterType(&pgtype.Type{Name: "timestamptz", OID: pgtype.TimestamptzOID,
			Codec: &pgtype.TimestamptzCodec{ScanLocation: time.UTC}})
		return nil
	}
	where := describe(config.ConnConfig)

	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout+db.Timeout)
	defer cancel()
	if db.pool, err = pgxpool.NewWithConfig(ctx, config); err != nil {
		return fmt.Errorf("open postgres %s: %w", where, err)
	}
	defer func() {
		if err != nil {
			db.Close()
		}
	}()
	pingCtx, cancelPing := context.WithTimeout(ctx, connectTimeout)
	defer cancelPing()
	if err := db.pool.Ping(pingCtx); err != nil {
		return fmt.Errorf("open postgres %s: cannot reach the database: %w", where, markUnavailable(err))
	}
	if err := db.migrate(ctx); err != nil {
		return fmt.Errorf("open postgres %s: migrate: %w", where, markUnavailable(err))
	}
	return nil
}

// describe names a database for messages, without its password.
func describe(c *pgx.ConnConfig) string {
	return fmt.Sprintf("%s@%s/%s", c.User, net.JoinHostPort(c.Host, fmt.Sprint(c.Port)), c.Database)
}

// Redact returns a database URL with its password masked, for messages.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.User == nil {
		return rawURL
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// migrate applies, in name order, each embedded migration not yet recorded
// in the migrations table, each in its own transaction.
func (db *DB) migrate(ctx context.Context) error {
	names, err := fs.Glob(migrationFS, "migration/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		if err := db.migrateFile(ctx, name); err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
	}
	return nil
}

// migrateFile applies one migration. The transaction first takes an
// advisory lock named after the schema, so servers starting together on a
// new database wait for each other and apply each migration once; the lock
// is a transaction's, so it works through a pooler in transaction mode.
func (db *DB) migrateFile(ctx context.Context, name string) error {
	tx, err := db.pool.BeginTx(ctx, pgx.TxOptions{})
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)

	var schema *string
	if err := tx.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return err
	} else if schema == nil {
		return errors.New("no schema to create tables in: check the search_path and that its schema exists")
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('canasta.migrate.' || $1, 0))`, *schema); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS migrations (name text PRIMARY KEY)`); err != nil {
		return fmt.Errorf("create migrations table: %w", err)
	}
	var n int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM migrations WHERE name = $1`, name).Scan(&n); err != nil {
		return err
	} else if n != 0 {
		return nil
	}
	buf, err := fs.ReadFile(migrationFS, name)
	if err != nil {
		return err
	}
	// Without arguments pgx sends the file as one simple query, so it may
	// hold many statements.
	if _, err := tx.Exec(ctx, string(buf)); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO migrations (name) VALUES ($1)`, name); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// Close closes the pool, waiting for connections in use to be returned.
func (db *DB) Close() error {
	if db.pool != nil {
		db.pool.Close()
		db.pool = nil
	}
	return nil
}

func (db *DB) logger() *slog.Logger {
	if db.Logger != nil {
		return db.Logger
	}
	return slog.Default()
}

// now is the clock truncated to what both stores can keep.
func (db *DB) now() time.Time {
	return db.Now().UTC().Truncate(time.Microsecond)
}

// Tx is a transaction with the time it began, so every row it writes
// carries one timestamp, and the deadline of the call it serves.
type Tx struct {
	pgx.Tx
	ctx    context.Context
	cancel context.CancelFunc
	now    time.Time

	// pending are audit entries to append when the transaction commits:
	// the append takes the log's lock, which must be the last lock taken.
	pending []pendingAudit
}

// release rolls tx back unless it was committed, and ends its deadline.
// Every begin is followed by a deferred release.
func (tx *Tx) release() {
	tx.Tx.Rollback(tx.ctx)
	tx.cancel()
}

// begin starts a transaction under the DB's timeout and returns it with
// the context its statements must use.
func (db *DB) begin(ctx context.Context, opts pgx.TxOptions) (context.Context, *Tx, error) {
	ctx, cancel := context.WithTimeout(ctx, db.Timeout)
	tx, err := db.pool.BeginTx(ctx, opts)
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("begin: %w", err)
	}
	return ctx, &Tx{Tx: tx, ctx: ctx, cancel: cancel, now: db.now()}, nil
}

// beginWrite starts a READ COMMITTED transaction. That is enough for the
// ledger: every debit is one conditional UPDATE, which PostgreSQL
// re-checks against the latest committed row when two race.
func (db *DB) beginWrite(ctx context.Context) (context.Context, *Tx, error) {
	return db.begin(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
}

// beginRead starts a read-only transaction on one snapshot, so a record
// read in several statements is read as of one moment.
func (db *DB) beginRead(ctx context.Context) (context.Context, *Tx, error) {
	return db.begin(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
}

// beginRecordRead starts the transaction for a read of a household's
// record. A staff read is logged in the same transaction that serves it,
// so the data never leaves without its log row; internal calls carry no
// actor and are not logged.
func (db *DB) beginRecordRead(ctx context.Context) (context.Context, *Tx, error) {
	if canasta.ActorFromContext(ctx) != nil {
		return db.beginWrite(ctx)
	}
	return db.beginRead(ctx)
}

// withTimeout bounds a single statement run on the pool, outside a
// transaction.
func (db *DB) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, db.Timeout)
}

// commit appends the pending audit entries and commits tx, naming what it
// was for in the error.
func (tx *Tx) commit(what string) error {
	if err := tx.flushAudit(); err != nil {
		return fmt.Errorf("commit %s: %w", what, err)
	}
	if err := tx.Commit(tx.ctx); err != nil {
		return fmt.Errorf("commit %s: %w", what, err)
	}
	return nil
}

// SQLSTATE codes this package acts on.
const (
	uniqueViolation = "23505"
)

// isUniqueViolation reports whether err is a UNIQUE or PRIMARY KEY
// constraint failure.
func isUniqueViolation(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == uniqueViolation
}

// checkAvailable is deferred by every exported service method: it marks an
// error caused by an unreachable or unready database, so the HTTP layer
// answers 503 and the caller can retry.
func checkAvailable(err *error) {
	*err = markUnavailable(*err)
}

// markUnavailable wraps canasta.ErrUnavailable into err when the database
// could not be reached or could not serve for now.
func markUnavailable(err error) error {
	if err == nil || errors.Is(err, canasta.ErrUnavailable) || !unavailable(err) {
		return err
	}
	return fmt.Errorf("%w: %w", canasta.ErrUnavailable, err)
}

// unavailable reports whether err says the database is down, unreachable,
// shutting down, still starting, full, a standby that cannot take writes,
// or too slow for the call's deadline.
func unavailable(err error) bool {
	var app *canasta.Error
	if errors.As(err, &app) || errors.Is(err, context.Canceled) {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"): // connection exception
			return true
		case pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03": // shutdown, crash, starting
			return true
		case pgErr.Code == "53300": // too many connections
			return true
		case pgErr.Code == "25006": // read-only transaction: a standby, mid-failover
			return true
		case pgErr.Code == "57014": // query canceled, by our deadline
			return true
		}
		return false
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connectErr) || errors.As(err, &netErr) ||
		pgconn.SafeToRetry(err) || pgconn.Timeout(err) ||
		errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// querier is a transaction or the pool, for single statements that need
// no transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

var (
	_ querier = (*pgxpool.Pool)(nil)
	_ querier = (pgx.Tx)(nil)
)

// nullString stores "" as NULL, for columns that are UNIQUE or indexed
// only where present.
func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
