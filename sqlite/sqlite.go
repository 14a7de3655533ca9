// Package sqlite stores Canasta's registry, programs and ledger in one
// embedded SQLite file and implements every service interface of package
// canasta on it.
//
// The server and CLI commands may open the same file at the same time, so
// nothing that can change (tokens, balances, the schema) is cached in
// memory: every call reads the database, and balances are enforced by the
// database itself, with conditional updates and CHECK constraints, never by
// a lock in this process.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/canasta/canasta"
	sqlitedriver "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migration/*.sql
var migrationFS embed.FS

// DB is an open Canasta database: one writer connection and a pool of
// read-only connections on the same file.
type DB struct {
	// writer has a single connection whose transactions begin IMMEDIATE:
	// they take the file's write lock at BEGIN, so two processes never
	// both read a balance and then both try to upgrade to write it.
	writer *sql.DB
	// reader is a pool of query_only connections; in WAL mode they read
	// a committed snapshot without waiting for the writer.
	reader *sql.DB
	// lookup is a query_only connection without a memory map, for the
	// small read on every API request (the bearer token). A reader with a
	// map drops the whole map at its first read after any commit, which
	// under group commit is nearly every read, and maps it again.
	lookup *sql.DB

	// Path is the database file, e.g. DIR/canasta.db.
	Path string

	// Now returns the current time. Tests replace it.
	Now func() time.Time

	// Rules compiles program rules. Required by CreateProgram and RunCycle.
	Rules canasta.RuleEngine

	// Dedup keys the enrollment index of likely duplicates; nil leaves
	// new persons out of it and makes ScreenHousehold find nothing.
	Dedup canasta.DuplicateMatcher

	// Logger receives operational messages; nil means slog.Default().
	Logger *slog.Logger

	// audit holds the audit log's statements, prepared on the writer.
	audit *auditStmts

	// flush makes the writer's commits durable (flush.go).
	flush *flusher

	// unauditedRedemptions leaves redemptions out of the audit log. Only
	// the benchmark that measures the log's cost sets it (export_test.go);
	// nothing else can reach it.
	unauditedRedemptions bool
}

// NewDB returns a DB for the file at path; call Open before use.
func NewDB(path string) *DB {
	return &DB{Path: path, Now: time.Now}
}

// Connection settings shared by every connection. synchronous=FULL makes a
// commit wait until the WAL is on stable storage: an acknowledged
// redemption survives a power cut. The writer overrides it with NORMAL
// and has the flusher do that wait (flush.go). busy_timeout lets a writer
// wait for another process's transaction instead of failing at once.
var commonPragmas = []string{
	fmt.Sprintf("busy_timeout(%d)", busyWait.Milliseconds()),
	"foreign_keys(1)",
	"synchronous(FULL)",
}

const (
	writerCacheKiB = 131072 // an import touches random pages of the household id index
	// walCheckpointPages is how many WAL pages the writer lets accumulate
	// before it copies them back into the database file: 16 MiB. A page
	// that many commits rewrite, such as a busy index page, is then copied
	// once rather than once per 4 MiB, and the commit that runs the
	// checkpoint, holding up every redemption waiting for it, comes four
	// times less often than by default. Measured against 4 MiB and 64 MiB:
	// 64 MiB gives the engine alone a tenth more, but each checkpoint then
	// stalls one commit so long that the API's p99 latency at half its
	// peak doubles.
	walCheckpointPages = 4096
	readerCacheKiB     = 16384
	lookupCacheKiB     = 2048
	// readerMmapBytes lets readers map the file instead of copying each
	// page in with a system call; a full cycle reads every page, and
	// measured a fifth faster. SQLite caps it at its compile-time limit.
	readerMmapBytes = 1 << 31
)

// dsn builds a modernc.org/sqlite data source name. Without a "file:"
// prefix the path is passed through unescaped, so any file name but one
// holding '?' works.
func (db *DB) dsn(cacheKiB int, extra url.Values) string {
	q := url.Values{}
	for _, p := range commonPragmas {
		q.Add("_pragma", p)
	}
	q.Add("_pragma", fmt.Sprintf("cache_size(-%d)", cacheKiB))
	for k, vs := range extra {
		for _, v := range vs {
			q.Add(k, v)
		}
	}
	return db.Path + "?" + q.Encode()
}

// Open creates the file if needed, sets the connection pragmas and applies
// pending migrations.
func (db *DB) Open() (err error) {
	if db.Path == "" || db.Path == ":memory:" {
		return fmt.Errorf("open sqlite: a database file path is required")
	}
	if strings.ContainsRune(db.Path, '?') {
		return fmt.Errorf("open sqlite: path %q must not contain '?'", db.Path)
	}
	if db.Now == nil {
		db.Now = time.Now
	}
	if err := os.MkdirAll(filepath.Dir(db.Path), 0o700); err != nil {
		return fmt.Errorf("open sqlite: %w", err)
	}
	defer func() {
		if err != nil {
			db.Close()
		}
	}()

	db.writer, err = sql.Open("sqlite", db.dsn(writerCacheKiB, url.Values{
		"_pragma": {"journal_mode(WAL)", "journal_size_limit(67108864)",
			fmt.Sprintf("wal_autocheckpoint(%d)", walCheckpointPages), "temp_store(memory)",
			"synchronous(NORMAL)"},
		// temp_store keeps statement journals in memory: a batch's
		// statements would otherwise each open a temporary file.
		// synchronous=NORMAL leaves the WAL's fsync to the flusher, which
		// every commit waits for (flush.go): as durable as FULL, but one
		// fsync serves every commit made while the last one ran.
		"_txlock": {"immediate"},
	}))
	if err != nil {
		return fmt.Errorf("open sqlite writer: %w", err)
	}
	db.writer.SetMaxOpenConns(1)
	db.writer.SetMaxIdleConns(1)
	db.writer.SetConnMaxLifetime(0)
	db.writer.SetConnMaxIdleTime(0)
	if err := pingBusy(db.writer, busyWait); err != nil {
		return fmt.Errorf("open sqlite writer: %w", err)
	}
	db.flush = newFlusher(db.Path)
	if err := db.migrate(); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if err := db.flush.now(); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	stamp, err := os.OpenFile(db.revocationsPath(), os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open sqlite: %w", err)
	}
	stamp.Close()
	// Prepared now: the writer's one connection is busy inside every
	// transaction that appends to the log.
	if err := db.prepareAudit(); err != nil {
		return err
	}

	db.reader, err = sql.Open("sqlite", db.dsn(readerCacheKiB, url.Values{
		"_query_only": {"1"},
		"_pragma":     {fmt.Sprintf("mmap_size(%d)", readerMmapBytes)},
	}))
	if err != nil {
		return fmt.Errorf("open sqlite reader: %w", err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	db.reader.SetMaxOpenConns(n)
	db.reader.SetMaxIdleConns(n)
	if err := pingBusy(db.reader, busyWait); err != nil {
		return fmt.Errorf("open sqlite reader: %w", err)
	}

	db.lookup, err = sql.Open("sqlite", db.dsn(lookupCacheKiB, url.Values{"_query_only": {"1"}}))
	if err != nil {
		return fmt.Errorf("open sqlite lookup reader: %w", err)
	}
	db.lookup.SetMaxOpenConns(2)
	db.lookup.SetMaxIdleConns(2)
	if err := pingBusy(db.lookup, busyWait); err != nil {
		return fmt.Errorf("open sqlite lookup reader: %w", err)
	}
	return nil
}

// migrate applies, in name order, each embedded migration not yet recorded
// in the migrations table, each in its own transaction.
func (db *DB) migrate() error {
	if _, err := db.writer.Exec(`CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY)`); err != nil {
		return fmt.Errorf("create migrations table: %w", err)
	}
	names, err := fs.Glob(migrationFS, "migration/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		if err := db.migrateFile(name); err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
	}
	return nil
}

// migrateFile applies one migration. The check runs inside the IMMEDIATE
// transaction, so two processes opening a new file at once apply it once.
func (db *DB) migrateFile(name string) error {
	tx, err := db.writer.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()

	var n int
	if err := tx.QueryRow(`SELECT COUNT(*) FROM migrations WHERE name = ?`, name).Scan(&n); err != nil {
		return err
	} else if n != 0 {
		return nil
	}
	buf, err := fs.ReadFile(migrationFS, name)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(string(buf)); err != nil {
		return err
	}
	if _, err := tx.Exec(`INSERT INTO migrations (name) VALUES (?)`, name); err != nil {
		return err
	}
	return tx.Commit()
}

// Close closes every handle.
func (db *DB) Close() error {
	var errs []error
	if db.lookup != nil {
		errs = append(errs, db.lookup.Close())
		db.lookup = nil
	}
	if db.reader != nil {
		errs = append(errs, db.reader.Close())
		db.reader = nil
	}
	if db.writer != nil {
		errs = append(errs, db.writer.Close())
		db.writer = nil
	}
	if db.flush != nil {
		db.flush.close()
	}
	return errors.Join(errs...)
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
// carries one timestamp.
type Tx struct {
	*sql.Tx
	db  *DB
	now time.Time
	// write is set on the writer's transactions; ended once Commit or
	// Rollback ran.
	write, ended bool
}

// revocationsPath is the file every process appends to when it revokes a
// token (token.go).
func (db *DB) revocationsPath() string { return db.Path + "-revocations" }

// beginWrite starts an IMMEDIATE transaction on the writer: it holds the
// file's write lock, waiting up to busy_timeout for another process.
func (db *DB) beginWrite(ctx context.Context) (*Tx, error) {
	if err := db.flush.check(); err != nil {
		return nil, fmt.Errorf("begin write: %w", err)
	}
	tx, err := db.writer.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin write: %w", err)
	}
	return &Tx{Tx: tx, db: db, now: db.now(), write: true}, nil
}

// Commit commits and returns once the commit is durable; a read
// transaction returns once everything it may have seen is.
func (tx *Tx) Commit() error {
	if !tx.write {
		tx.ended = true
		err := tx.Tx.Commit()
		return errors.Join(err, tx.db.flush.barrier())
	}
	n, err := tx.commitMade()
	if err != nil {
		return err
	}
	return tx.db.flush.wait(n)
}

// commitMade commits a write transaction without waiting for it to be
// durable, and returns its number for flush.wait.
func (tx *Tx) commitMade() (uint64, error) {
	tx.ended = true
	n := tx.db.flush.begin()
	err := tx.Tx.Commit()
	tx.db.flush.end(n)
	return n, err
}

// Rollback abandons the transaction; after Commit it does nothing. A read
// transaction returns once everything it may have seen is durable.
func (tx *Tx) Rollback() error {
	if tx.ended {
		return sql.ErrTxDone
	}
	tx.ended = true
	err := tx.Tx.Rollback()
	if !tx.write {
		tx.db.flush.barrier()
	}
	return err
}

// beginRead starts a read-only transaction on the reader pool.
func (db *DB) beginRead(ctx context.Context) (*Tx, error) {
	tx, err := db.reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("begin read: %w", err)
	}
	return &Tx{Tx: tx, db: db, now: db.now()}, nil
}

// beginRecordRead starts the transaction for a read of a household's
// record. A staff read must be logged in the same transaction that serves
// it, so the data never leaves without its log row; that needs the writer.
// Internal calls carry no actor, are not logged and use the reader pool.
func (db *DB) beginRecordRead(ctx context.Context) (*Tx, error) {
	if canasta.ActorFromContext(ctx) != nil {
		return db.beginWrite(ctx)
	}
	return db.beginRead(ctx)
}

// timeFormat is fixed width, so text order is time order.
const timeFormat = "2006-01-02T15:04:05.000000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(timeFormat, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse stored time %q: %w", s, err)
	}
	return t, nil
}

// nullString stores "" as NULL, for columns that are UNIQUE or indexed
// only where present.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// rowsAffected is r's count; the driver always knows it.
func rowsAffected(r sql.Result) int64 {
	n, err := r.RowsAffected()
	if err != nil {
		return 0
	}
	return n
}

// busyWait is how long a connection waits for a lock another holds, and
// how long Open retries a first connection that finds the file busy.
const busyWait = 10 * time.Second

// pingBusy opens a first connection, retrying while it fails with
// SQLITE_BUSY. Switching a new file to WAL needs an exclusive lock, and
// SQLite returns BUSY at once rather than calling the busy handler when
// waiting could deadlock, as when several processes open a new file at once.
func pingBusy(pool *sql.DB, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for delay := time.Millisecond; ; delay = min(2*delay, 100*time.Millisecond) {
		err := pool.Ping()
		if err == nil || !isBusy(err) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(delay)
	}
}

// isBusy reports whether err is SQLITE_BUSY or one of its extended codes.
func isBusy(err error) bool {
	var e *sqlitedriver.Error
	return errors.As(err, &e) && e.Code()&0xff == sqlite3.SQLITE_BUSY
}

// isUniqueViolation reports whether err is a UNIQUE or PRIMARY KEY
// constraint failure.
func isUniqueViolation(err error) bool {
	var e *sqlitedriver.Error
	if errors.As(err, &e) {
		return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}
