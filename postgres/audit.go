package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/canasta/canasta"
	"github.com/canasta/canasta/audit"
	"github.com/jackc/pgx/v5"
	"golang.org/x/mod/sumdb/tlog"
)

// AuditStore reads the audit log that every write transaction appends to.
type AuditStore struct {
	db *DB
}

var _ canasta.AuditStore = (*AuditStore)(nil)

// NewAuditStore returns the audit log store on db.
func NewAuditStore(db *DB) *AuditStore { return &AuditStore{db: db} }

// appendAudit appends entries to the log inside tx. A transaction-level
// advisory lock orders appends from every server: it is taken as the last
// step before commit and held until then, so the size read under it cannot
// move, and its holder never waits on any other lock (no deadlock).
func appendAudit(ctx context.Context, tx *Tx, entries ...*canasta.AuditEntry) error {
	if len(entries) == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('canasta.audit.' || current_schema(), 0))`); err != nil {
		return fmt.Errorf("lock audit log: %w", err)
	}
	var n int64
	if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_leaves`).Scan(&n); err != nil {
		return fmt.Errorf("audit size: %w", err)
	}
	leaves := make([][]byte, len(entries))
	idx := make([]int64, len(entries))
	for i, e := range entries {
		e.Index = n + int64(i)
		idx[i] = e.Index
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
		return readAuditHashes(ctx, tx, indexes)
	})
	if err != nil {
		return err
	}
	hidx := make([]int64, len(app.Hashes))
	hashes := make([][]byte, len(app.Hashes))
	for i := range app.Hashes {
		hidx[i] = app.First + int64(i)
		hashes[i] = app.Hashes[i][:]
	}
	if _, err := tx.Exec(ctx, `INSERT INTO audit_leaves (idx, data) SELECT * FROM unnest($1::bigint[], $2::bytea[])`, idx, leaves); err != nil {
		return fmt.Errorf("append audit leaves: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO audit_hashes (idx, hash) SELECT * FROM unnest($1::bigint[], $2::bytea[])`, hidx, hashes); err != nil {
		return fmt.Errorf("append audit hashes: %w", err)
	}
	return nil
}

// readAuditHashes returns the stored hashes at indexes, in their order.
func readAuditHashes(ctx context.Context, q querier, indexes []int64) ([]tlog.Hash, error) {
	if len(indexes) == 0 {
		return nil, nil
	}
	rows, err := q.Query(ctx, `SELECT idx, hash FROM audit_hashes WHERE idx = ANY($1)`, indexes)
	if err != nil {
		return nil, fmt.Errorf("read audit hashes: %w", err)
	}
	found := make(map[int64]tlog.Hash, len(indexes))
	var x int64
	var b []byte
	if _, err := pgx.ForEachRow(rows, []any{&x, &b}, func() error {
		if len(b) != tlog.HashSize {
			return fmt.Errorf("audit hash %d has %d bytes", x, len(b))
		}
		found[x] = tlog.Hash(b)
		return nil
	}); err != nil {
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
	err := tx.QueryRow(ctx, `WITH fresh AS (
	INSERT INTO audit_keys (household_hid, key) VALUES ($1, $2) ON CONFLICT (household_hid) DO NOTHING RETURNING key
)
SELECT key FROM fresh UNION ALL SELECT key FROM audit_keys WHERE household_hid = $1 LIMIT 1`, hid, audit.NewKey()).Scan(&key)
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

// auditPublic queues one entry about non-personal content for the
// transaction's commit.
func auditPublic(ctx context.Context, tx *Tx, t canasta.AuditType, objects map[string]string, content any) error {
	e, err := publicEntry(ctx, tx, t, objects, content)
	if err != nil {
		return err
	}
	tx.audit(e, 0)
	return nil
}

// auditHousehold queues one entry about a household, committing to its
// record as stored.
func auditHousehold(ctx context.Context, tx *Tx, t canasta.AuditType, hid int64, h *canasta.Household) error {
	e, err := householdEntry(ctx, tx, t, hid, h.ID, h)
	if err != nil {
		return err
	}
	tx.audit(e, 0)
	return nil
}

// AuditSize returns the number of entries.
func (s *AuditStore) AuditSize(ctx context.Context) (_ int64, err error) {
	defer checkAvailable(&err)
	ctx, cancel := s.db.withTimeout(ctx)
	defer cancel()
	var n int64
	if err := s.db.pool.QueryRow(ctx, `SELECT COALESCE(MAX(idx) + 1, 0) FROM audit_leaves`).Scan(&n); err != nil {
		return 0, fmt.Errorf("audit size: %w", err)
	}
	return n, nil
}

// FindAuditLeaves returns the leaves of entries start to end-1.
func (s *AuditStore) FindAuditLeaves(ctx context.Context, start, end int64) (_ [][]byte, err error) {
	defer checkAvailable(&err)
	if start < 0 || end < start {
		return nil, canasta.Errorf(canasta.EINVALID, "Audit entries %d to %d are not a range.", start, end)
	}
	ctx, cancel := s.db.withTimeout(ctx)
	defer cancel()
	rows, err := s.db.pool.Query(ctx, `SELECT idx, data FROM audit_leaves WHERE idx >= $1 AND idx < $2 ORDER BY idx`, start, end)
	if err != nil {
		return nil, fmt.Errorf("find audit leaves: %w", err)
	}
	out := make([][]byte, 0, end-start)
	var x int64
	var b []byte
	if _, err := pgx.ForEachRow(rows, []any{&x, &b}, func() error {
		if x != start+int64(len(out)) {
			return fmt.Errorf("audit entry %d is missing", start+int64(len(out)))
		}
		out = append(out, append([]byte(nil), b...))
		return nil
	}); err != nil {
		return nil, fmt.Errorf("find audit leaves: %w", err)
	}
	if int64(len(out)) != end-start {
		return nil, canasta.Errorf(canasta.EINVALID, "Audit entries %d to %d are beyond the log's %d entries.", start, end-1, start+int64(len(out)))
	}
	return out, nil
}

// ReadAuditHashes returns stored tree hashes.
func (s *AuditStore) ReadAuditHashes(ctx context.Context, indexes []int64) (_ []canasta.AuditHash, err error) {
	defer checkAvailable(&err)
	ctx, cancel := s.db.withTimeout(ctx)
	defer cancel()
	hs, err := readAuditHashes(ctx, s.db.pool, indexes)
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
func (s *AuditStore) AuditSignerKey(ctx context.Context, create func() (string, error)) (_ string, err error) {
	defer checkAvailable(&err)
	ctx, cancel := s.db.withTimeout(ctx)
	defer cancel()
	var skey string
	err = s.db.pool.QueryRow(ctx, `SELECT skey FROM audit_signer WHERE id = 1`).Scan(&skey)
	if err == nil {
		return skey, nil
	} else if !errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("audit signer key: %w", err)
	}
	fresh, err := create()
	if err != nil {
		return "", err
	}
	// Another server may have created it first: its key wins.
	if err := s.db.pool.QueryRow(ctx, `WITH fresh AS (
	INSERT INTO audit_signer (id, skey) VALUES (1, $1) ON CONFLICT (id) DO NOTHING RETURNING skey
)
SELECT skey FROM fresh UNION ALL SELECT skey FROM audit_signer WHERE id = 1 LIMIT 1`, fresh).Scan(&skey); err != nil {
		return "", fmt.Errorf("audit signer key: %w", err)
	}
	return skey, nil
}

// SaveAuditCheckpoint keeps a signed checkpoint.
func (s *AuditStore) SaveAuditCheckpoint(ctx context.Context, size int64, note []byte) (err error) {
	defer checkAvailable(&err)
	ctx, cancel := s.db.withTimeout(ctx)
	defer cancel()
	if _, err := s.db.pool.Exec(ctx, `INSERT INTO audit_checkpoints (size, note, signed_at) SELECT $1, $2, $3
WHERE $1 > (SELECT COALESCE(MAX(size), -1) FROM audit_checkpoints) ON CONFLICT (size) DO NOTHING`, size, note, s.db.now()); err != nil {
		return fmt.Errorf("save audit checkpoint: %w", err)
	}
	return nil
}

// LatestAuditCheckpoint returns the newest signed checkpoint.
func (s *AuditStore) LatestAuditCheckpoint(ctx context.Context) (_ int64, _ []byte, err error) {
	defer checkAvailable(&err)
	ctx, cancel := s.db.withTimeout(ctx)
	defer cancel()
	var size int64
	var note []byte
	err = s.db.pool.QueryRow(ctx, `SELECT size, note FROM audit_checkpoints ORDER BY size DESC LIMIT 1`).Scan(&size, &note)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil, canasta.Errorf(canasta.ENOTFOUND, "No audit checkpoint has been signed yet.")
	} else if err != nil {
		return 0, nil, fmt.Errorf("latest audit checkpoint: %w", err)
	}
	return size, note, nil
}

// auditRedemptions appends one entry per receipt, in order, as the last
// step of the transaction that stored them, records each entry's index
// on its receipt row and sets r.Audit. hids[i] is the row id of rs[i]'s
// household.
func auditRedemptions(ctx context.Context, tx *Tx, rs []*canasta.Redemption, hids []int64) error {
	if len(rs) == 0 {
		return nil
	}
	keys := make(map[int64][]byte)
	entries := make([]*canasta.AuditEntry, len(rs))
	for i, r := range rs {
		key, ok := keys[hids[i]]
		if !ok {
			var err error
			if key, err = householdAuditKey(ctx, tx, hids[i]); err != nil {
				return err
			}
			keys[hids[i]] = key
		}
		e, err := audit.RedemptionEntry(ctx, tx.now, key, r)
		if err != nil {
			return err
		}
		entries[i] = e
	}
	if err := appendAudit(ctx, tx, entries...); err != nil {
		return err
	}
	ids := make([]int64, len(rs))
	idx := make([]int64, len(rs))
	for i, r := range rs {
		ids[i], idx[i] = r.ID, entries[i].Index
	}
	if _, err := tx.Exec(ctx, `UPDATE redemptions r SET audit_index = u.idx FROM unnest($1::bigint[], $2::bigint[]) AS u (id, idx) WHERE r.id = u.id`, ids, idx); err != nil {
		return fmt.Errorf("record audit indexes: %w", err)
	}
	for i, r := range rs {
		r.Audit = &canasta.AuditRef{Index: idx[i]}
	}
	return nil
}

// pendingAudit is an entry waiting for its transaction's commit, and the
// receipt row that must name it, if any.
type pendingAudit struct {
	entry        *canasta.AuditEntry
	redemptionID int64
}

// audit queues an entry for the transaction's commit.
func (tx *Tx) audit(e *canasta.AuditEntry, redemptionID int64) {
	tx.pending = append(tx.pending, pendingAudit{e, redemptionID})
}

// flushAudit appends the queued entries and records each receipt's index.
func (tx *Tx) flushAudit() error {
	if len(tx.pending) == 0 {
		return nil
	}
	entries := make([]*canasta.AuditEntry, len(tx.pending))
	for i, p := range tx.pending {
		entries[i] = p.entry
	}
	if err := appendAudit(tx.ctx, tx, entries...); err != nil {
		return err
	}
	var ids, idx []int64
	for _, p := range tx.pending {
		if p.redemptionID != 0 {
			ids, idx = append(ids, p.redemptionID), append(idx, p.entry.Index)
		}
	}
	tx.pending = nil
	if len(ids) > 0 {
		if _, err := tx.Exec(tx.ctx, `UPDATE redemptions r SET audit_index = u.idx FROM unnest($1::bigint[], $2::bigint[]) AS u (id, idx) WHERE r.id = u.id`, ids, idx); err != nil {
			return fmt.Errorf("record audit indexes: %w", err)
		}
	}
	return nil
}

// auditRights queues an entry about a household's rights or home point,
// committing to details under its key. householdID may be "" when only
// the row id is at hand.
func auditRights(ctx context.Context, tx *Tx, t canasta.AuditType, hid int64, householdID string, objects map[string]string, details any) error {
	if householdID == "" {
		if err := tx.QueryRow(ctx, `SELECT id FROM households WHERE hid = $1`, hid).Scan(&householdID); err != nil {
			return fmt.Errorf("audit %s: %w", t, err)
		}
	}
	e, err := householdEntry(ctx, tx, t, hid, householdID, details)
	if err != nil {
		return err
	}
	for k, v := range objects {
		e.Objects[k] = v
	}
	tx.audit(e, 0)
	return nil
}
