package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/canasta/canasta"
	"github.com/canasta/canasta/audit"
	"golang.org/x/mod/sumdb/tlog"
)

// AuditStore reads the audit log that every write transaction appends to.
type AuditStore struct {
	db *DB
}

var _ canasta.AuditStore = (*AuditStore)(nil)

// NewAuditStore returns the audit log store on db.
func NewAuditStore(db *DB) *AuditStore { return &AuditStore{db: db} }

// appendAudit appends entries to the log inside tx: it numbers them,
// stamps them with the transaction's time if they carry none, and stores
// their leaves and the tree hashes they add. The writer holds the file's
// write lock from BEGIN, so the size read here cannot move before commit.
func appendAudit(ctx context.Context, tx *Tx, entries ...*canasta.AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	n, err := auditSize(ctx, tx)
	if err != nil {
		return err
	}
	return appendAuditAt(ctx, tx, n, entries)
}

// auditSize is the log's size as tx sees it.
func auditSize(ctx context.Context, tx *Tx) (int64, error) {
	var n int64
	if err := tx.StmtContext(ctx, tx.db.audit.size).QueryRowContext(ctx).Scan(&n); err != nil {
		return 0, fmt.Errorf("audit size: %w", err)
	}
	return n, nil
}

// appendAuditAt appends entries to a log of n entries, which the caller
// read in tx: a redemption batch reads it first, to give each receipt its
// entry's index.
func appendAuditAt(ctx context.Context, tx *Tx, n int64, entries []*canasta.AuditEntry) error {
	st := tx.db.audit
	readHashes := tx.StmtContext(ctx, st.readHashes)
	insertLeaf, insertHash := tx.StmtContext(ctx, st.insertLeaf), tx.StmtContext(ctx, st.insertHash)
	leaves := make([][]byte, len(entries))
	for i, e := range entries {
		e.Index = n + int64(i)
		if e.Time.IsZero() {
			e.Time = tx.now
		}
		leaf, err := audit.Leaf(e)
		if err != nil {
			return err
		}
		leaves[i] = leaf
	}
	app, err := audit.Append(n, leaves, func(indexes []int64) ([]tlog.Hash, error) {
		var ids jsonArray
		for _, x := range indexes {
			ids.int(x)
		}
		rows, err := readHashes.QueryContext(ctx, ids.text())
		if err != nil {
			return nil, fmt.Errorf("read audit hashes: %w", err)
		}
		return scanAuditHashes(rows, indexes)
	})
	if err != nil {
		return err
	}
	// One prepared single-row insert each, as the redemption path does:
	// cheaper than a multi-row statement prepared for each batch size.
	for i, leaf := range leaves {
		if _, err := insertLeaf.ExecContext(ctx, n+int64(i), leaf); err != nil {
			return fmt.Errorf("append audit leaf: %w", err)
		}
	}
	for i, h := range app.Hashes {
		if _, err := insertHash.ExecContext(ctx, app.First+int64(i), h[:]); err != nil {
			return fmt.Errorf("append audit hash: %w", err)
		}
	}
	return nil
}

// auditStmts are the log's statements, prepared once on the writer.
type auditStmts struct {
	size, readHashes, insertLeaf, insertHash *sql.Stmt
}

// prepareAudit prepares the log's statements on the writer. Open calls it
// before any transaction can hold the writer's one connection.
func (db *DB) prepareAudit() error {
	var st auditStmts
	for _, p := range []struct {
		dst **sql.Stmt
		sql string
	}{
		{&st.size, `SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_leaves`},
		{&st.readHashes, `SELECT idx, hash FROM audit_hashes WHERE idx IN (SELECT value FROM json_each(?))`},
		{&st.insertLeaf, `INSERT INTO audit_leaves (idx, data) VALUES (?, ?)`},
		{&st.insertHash, `INSERT INTO audit_hashes (idx, hash) VALUES (?, ?)`},
	} {
		stmt, err := db.writer.Prepare(p.sql)
		if err != nil {
			return fmt.Errorf("prepare audit statements: %w", err)
		}
		*p.dst = stmt
	}
	db.audit = &st
	return nil
}

// queryer is what reading hashes needs: a transaction or a pool.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// readAuditHashes returns the stored hashes at indexes, in their order.
func readAuditHashes(ctx context.Context, q queryer, indexes []int64) ([]tlog.Hash, error) {
	if len(indexes) == 0 {
		return nil, nil
	}
	args := make([]any, len(indexes))
	for i, x := range indexes {
		args[i] = x
	}
	rows, err := q.QueryContext(ctx, `SELECT idx, hash FROM audit_hashes WHERE idx IN (`+strings.TrimSuffix(strings.Repeat("?,", len(indexes)), ",")+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("read audit hashes: %w", err)
	}
	return scanAuditHashes(rows, indexes)
}

// scanAuditHashes returns the hashes rows hold in the order of indexes.
func scanAuditHashes(rows *sql.Rows, indexes []int64) ([]tlog.Hash, error) {
	defer rows.Close()
	found := make(map[int64]tlog.Hash, len(indexes))
	for rows.Next() {
		var x int64
		var b []byte
		if err := rows.Scan(&x, &b); err != nil {
			return nil, fmt.Errorf("read audit hashes: %w", err)
		}
		if len(b) != tlog.HashSize {
			return nil, fmt.Errorf("audit hash %d has %d bytes", x, len(b))
		}
		found[x] = tlog.Hash(b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read audit hashes: %w", err)
	}
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		h, ok := found[x]
		if !ok {
			return nil, fmt.Errorf("audit hash %d is missing", x)
		}
		out[i] = h
	}
	return out, nil
}

// householdAuditKey returns the household's commitment key, creating it on
// first use.
func householdAuditKey(ctx context.Context, tx *Tx, hid int64) ([]byte, error) {
	var key []byte
	err := tx.QueryRowContext(ctx, `SELECT key FROM audit_keys WHERE household_hid = ?`, hid).Scan(&key)
	if errors.Is(err, sql.ErrNoRows) {
		key = audit.NewKey()
		_, err = tx.ExecContext(ctx, `INSERT INTO audit_keys (household_hid, key) VALUES (?, ?)`, hid, key)
	}
	if err != nil {
		return nil, fmt.Errorf("household audit key: %w", err)
	}
	return key, nil
}

// householdEntry is an audit entry about one household, committing to
// details under the household's key.
func householdEntry(ctx context.Context, tx *Tx, t canasta.AuditType, hid int64, householdID string, details any) (*canasta.AuditEntry, error) {
	key, err := householdAuditKey(ctx, tx, hid)
	if err != nil {
		return nil, err
	}
	e := canasta.AuditEntryFor(ctx, t, tx.now)
	e.Objects = map[string]string{"household": householdID}
	if e.Commitment, err = audit.Commit(key, details); err != nil {
		return nil, err
	}
	return e, nil
}

// publicEntry is an audit entry about non-personal content, which it
// fixes by digest.
func publicEntry(ctx context.Context, tx *Tx, t canasta.AuditType, objects map[string]string, content any) (*canasta.AuditEntry, error) {
	e := canasta.AuditEntryFor(ctx, t, tx.now)
	e.Objects = objects
	if content != nil {
		var err error
		if e.Digest, err = audit.Digest(content); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// AuditSize returns the number of entries.
func (s *AuditStore) AuditSize(ctx context.Context) (int64, error) {
	var n int64
	if err := s.db.reader.QueryRowContext(ctx, `SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_leaves`).Scan(&n); err != nil {
		return 0, fmt.Errorf("audit size: %w", err)
	}
	// A checkpoint signed over entries a crash could still take back
	// would commit the log to entries it then lacks.
	if err := s.db.flush.barrier(); err != nil {
		return 0, fmt.Errorf("audit size: %w", err)
	}
	return n, nil
}

// FindAuditLeaves returns the leaves of entries start to end-1.
func (s *AuditStore) FindAuditLeaves(ctx context.Context, start, end int64) ([][]byte, error) {
	if start < 0 || end < start {
		return nil, canasta.Errorf(canasta.EINVALID, "Audit entries %d to %d are not a range.", start, end)
	}
	rows, err := s.db.reader.QueryContext(ctx, `SELECT idx, data FROM audit_leaves WHERE idx >= ? AND idx < ? ORDER BY idx`, start, end)
	if err != nil {
		return nil, fmt.Errorf("find audit leaves: %w", err)
	}
	defer rows.Close()
	out := make([][]byte, 0, end-start)
	for rows.Next() {
		var x int64
		var b []byte
		if err := rows.Scan(&x, &b); err != nil {
			return nil, fmt.Errorf("find audit leaves: %w", err)
		}
		if x != start+int64(len(out)) {
			return nil, fmt.Errorf("audit entry %d is missing", start+int64(len(out)))
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find audit leaves: %w", err)
	}
	if int64(len(out)) != end-start {
		return nil, canasta.Errorf(canasta.EINVALID, "Audit entries %d to %d are beyond the log's %d entries.", start, end-1, start+int64(len(out)))
	}
	return out, nil
}

// ReadAuditHashes returns stored tree hashes.
func (s *AuditStore) ReadAuditHashes(ctx context.Context, indexes []int64) ([]canasta.AuditHash, error) {
	hs, err := readAuditHashes(ctx, s.db.reader, indexes)
	if err != nil {
		return nil, err
	}
	out := make([]canasta.AuditHash, len(hs))
	for i, h := range hs {
		out[i] = h
	}
	return out, nil
}

// AuditSignerKey returns the checkpoint signer key, creating it once.
func (s *AuditStore) AuditSignerKey(ctx context.Context, create func() (string, error)) (string, error) {
	var skey string
	err := s.db.reader.QueryRowContext(ctx, `SELECT skey FROM audit_signer WHERE id = 1`).Scan(&skey)
	if err == nil {
		return skey, nil
	} else if !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("audit signer key: %w", err)
	}
	fresh, err := create()
	if err != nil {
		return "", err
	}
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return "", err
	}
	defer tx.Rollback()
	// Another process may have created it first: its key wins.
	if _, err := tx.ExecContext(ctx, `INSERT INTO audit_signer (id, skey) VALUES (1, ?) ON CONFLICT (id) DO NOTHING`, fresh); err != nil {
		return "", fmt.Errorf("audit signer key: %w", err)
	}
	if err := tx.QueryRowContext(ctx, `SELECT skey FROM audit_signer WHERE id = 1`).Scan(&skey); err != nil {
		return "", fmt.Errorf("audit signer key: %w", err)
	}
	return skey, tx.Commit()
}

// SaveAuditCheckpoint keeps a signed checkpoint.
func (s *AuditStore) SaveAuditCheckpoint(ctx context.Context, size int64, note []byte) error {
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO audit_checkpoints (size, note, signed_at) SELECT ?, ?, ?
WHERE ? > (SELECT COALESCE(MAX(size), -1) FROM audit_checkpoints)`, size, note, formatTime(tx.now), size); err != nil {
		return fmt.Errorf("save audit checkpoint: %w", err)
	}
	return tx.Commit()
}

// LatestAuditCheckpoint returns the newest signed checkpoint.
func (s *AuditStore) LatestAuditCheckpoint(ctx context.Context) (int64, []byte, error) {
	var size int64
	var note []byte
	err := s.db.reader.QueryRowContext(ctx, `SELECT size, note FROM audit_checkpoints ORDER BY size DESC LIMIT 1`).Scan(&size, &note)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil, canasta.Errorf(canasta.ENOTFOUND, "No audit checkpoint has been signed yet.")
	} else if err != nil {
		return 0, nil, fmt.Errorf("latest audit checkpoint: %w", err)
	}
	return size, note, nil
}

// auditPublic appends one entry about non-personal content.
func auditPublic(ctx context.Context, tx *Tx, t canasta.AuditType, objects map[string]string, content any) error {
	e, err := publicEntry(ctx, tx, t, objects, content)
	if err != nil {
		return err
	}
	return appendAudit(ctx, tx, e)
}

// auditHousehold appends one entry about a household, committing to its
// record as stored.
func auditHousehold(ctx context.Context, tx *Tx, t canasta.AuditType, hid int64, h *canasta.Household) error {
	e, err := householdEntry(ctx, tx, t, hid, h.ID, h)
	if err != nil {
		return err
	}
	return appendAudit(ctx, tx, e)
}
