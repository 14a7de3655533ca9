package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/canasta/canasta"
	"github.com/canasta/canasta/audit"
)

// RedemptionService is the ledger's redemption path. Redeem commits one
// request per transaction; RedeemBatch commits many in one transaction and
// one fsync, for a group-commit engine such as package ledger's, and
// RedeemBatchPipelined lets that engine apply its next batch while the
// last one's fsync runs.
//
// Balance reads go to the reader pool, which in WAL mode reads the last
// commit without waiting for a batch in progress. A batch holds the writer
// connection for its own transaction only, so a write queued behind it,
// such as a read that must be logged, waits for that one commit.
//
// Ledger invariants, each held by the database rather than by this process:
//
//	L1 conservation: for every entitlement, the redeemed column equals the
//	   sum of the quantities of the redemption items against it plus what
//	   offline points hold in reserve (package point, O1: granted =
//	   available + held + redeemed), because every debit is written in one
//	   transaction with the items or the right that accounts for it.
//	L2 non-negative: granted - redeemed never drops below zero, because
//	   each request is checked against the balances as the transaction has
//	   them, the debit is a conditional UPDATE, and the table CHECKs the
//	   same bound.
//	L3 durability: a receipt counts only once an fsync of the WAL that
//	   began after its commit has returned: RedeemBatch waits for it, and
//	   RedeemBatchPipelined hands the wait to the caller (flush.go).
//	L4 idempotency: a request id has at most one effect, because it is
//	   UNIQUE and is looked up inside the same write transaction, and
//	   checked against every earlier request of the same batch.
type RedemptionService struct {
	db *DB

	mu    sync.Mutex
	stmts *redemptionStmts
}

var (
	_ canasta.RedemptionService = (*RedemptionService)(nil)
	_ canasta.RedemptionBatcher = (*RedemptionService)(nil)
)

// NewRedemptionService returns the redemption service on db.
func NewRedemptionService(db *DB) *RedemptionService {
	return &RedemptionService{db: db}
}

// Redeem debits every item from the household's entitlements for the
// current period, all or none, and returns the committed receipt.
func (s *RedemptionService) Redeem(ctx context.Context, req *canasta.RedemptionRequest) (*canasta.Redemption, bool, error) {
	if err := req.Validate(); err != nil {
		return nil, false, err
	}
	results, err := s.RedeemBatch(ctx, []*canasta.RedemptionRequest{req})
	if err != nil {
		return nil, false, err
	}
	return results[0].Receipt, results[0].Replay, results[0].Err
}

// RedeemBatch applies reqs in order in one IMMEDIATE transaction with one
// commit, for the period current at the transaction's start. A request
// refused with an application error leaves nothing behind: every request
// is decided before anything is written. Any other error abandons the
// whole batch.
func (s *RedemptionService) RedeemBatch(ctx context.Context, reqs []*canasta.RedemptionRequest) ([]canasta.RedeemResult, error) {
	results, durable, err := s.RedeemBatchPipelined(ctx, reqs)
	if err != nil {
		return nil, err
	}
	if err := durable(); err != nil {
		return nil, fmt.Errorf("commit %d redemptions: %w", len(reqs), err)
	}
	return results, nil
}

// RedeemBatchPipelined applies reqs as RedeemBatch does, but returns once
// the batch is committed, before it is durable, so the caller can apply
// the next batch while this one is flushed. The results count only once
// durable has returned nil; an error from it leaves the outcome unknown.
func (s *RedemptionService) RedeemBatchPipelined(ctx context.Context, reqs []*canasta.RedemptionRequest) (_ []canasta.RedeemResult, durable func() error, _ error) {
	stmts, err := s.statements(ctx)
	if err != nil {
		return nil, nil, err
	}
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer tx.Rollback()

	b := newRedemptionBatch(ctx, tx, stmts)
	if err := b.load(reqs); err != nil {
		return nil, nil, fmt.Errorf("redeem batch of %d: %w", len(reqs), err)
	}
	results := make([]canasta.RedeemResult, len(reqs))
	for i, req := range reqs {
		r, replay, err := b.redeem(req)
		if canasta.ErrorCode(err) == canasta.EINTERNAL {
			return nil, nil, fmt.Errorf("redeem %s: %w", req.RequestID, err)
		}
		results[i] = canasta.RedeemResult{Receipt: r, Replay: replay, Err: err}
	}
	if err := b.write(); err != nil {
		return nil, nil, fmt.Errorf("redeem batch of %d: %w", len(reqs), err)
	}
	n, err := tx.commitMade()
	if err != nil {
		return nil, nil, fmt.Errorf("commit %d redemptions: %w", len(reqs), err)
	}
	return results, func() error { return s.db.flush.wait(n) }, nil
}

// FindRedemptionByRequestID returns a committed receipt. ENOTFOUND.
func (s *RedemptionService) FindRedemptionByRequestID(ctx context.Context, requestID string) (*canasta.Redemption, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	r, _, err := findRedemption(ctx, tx, requestID)
	return r, err
}

// redemptionStmts are the redemption path's statements, prepared once on
// the writer connection: at thousands of redemptions a second, parsing
// and planning each statement again costs more than running it. A batch's
// reads take the whole batch as one JSON array parameter, so one statement
// of each kind serves a batch of any size.
type redemptionStmts struct {
	nextID, findRequests, findPoints, findHouseholds, findGrants *sql.Stmt
	insertRedemption, insertItem, debit, findAuditKeys           *sql.Stmt
}

const (
	nextIDSQL       = `SELECT coalesce(max(id), 0) + 1 FROM redemptions`
	findRequestsSQL = `SELECT request_id, fingerprint FROM redemptions
WHERE request_id IN (SELECT value FROM json_each(?))`
	findPointsSQL     = `SELECT id FROM points WHERE id IN (SELECT value FROM json_each(?))`
	findHouseholdsSQL = `SELECT id, hid FROM households WHERE id IN (SELECT value FROM json_each(?))`
	findGrantsSQL     = `SELECT e.household_hid, e.program_id, e.granted - e.redeemed, p.commodity_code, p.unit
FROM entitlements e JOIN programs p ON p.id = e.program_id
WHERE e.period = ? AND e.household_hid IN (SELECT value FROM json_each(?))`
	// One row per statement: a statement that inserts many rows needs a
	// statement journal, written to a temporary file, to undo a partial
	// insert; measured, that costs more than the statements it saves.
	insertRedemptionSQL = `INSERT INTO redemptions (id, request_id, fingerprint, household_hid, point_id, period, created_at, audit_index)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	findAuditKeysSQL = `SELECT household_hid, key FROM audit_keys WHERE household_hid IN (SELECT value FROM json_each(?))`
	insertItemSQL    = `INSERT INTO redemption_items (redemption_id, line, program_id, quantity, remaining)
VALUES (?, ?, ?, ?, ?)`
	// L2 in the database: the debit matches only while enough remains,
	// whatever the batch read before.
	debitSQL = `UPDATE entitlements SET redeemed = redeemed + ?1
WHERE period = ?2 AND household_hid = ?3 AND program_id = ?4 AND granted - redeemed >= ?1`
)

// statements prepares the redemption statements on first use. They live
// as long as the database handle, which closes them.
func (s *RedemptionService) statements(ctx context.Context) (*redemptionStmts, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stmts != nil {
		return s.stmts, nil
	}
	var st redemptionStmts
	for _, p := range []struct {
		dst **sql.Stmt
		sql string
	}{
		{&st.nextID, nextIDSQL},
		{&st.findRequests, findRequestsSQL},
		{&st.findPoints, findPointsSQL},
		{&st.findHouseholds, findHouseholdsSQL},
		{&st.findGrants, findGrantsSQL},
		{&st.insertRedemption, insertRedemptionSQL},
		{&st.insertItem, insertItemSQL},
		{&st.debit, debitSQL},
		{&st.findAuditKeys, findAuditKeysSQL},
	} {
		stmt, err := s.db.writer.PrepareContext(ctx, p.sql)
		if err != nil {
			st.close()
			return nil, fmt.Errorf("prepare redemption statements: %w", err)
		}
		*p.dst = stmt
	}
	s.stmts = &st
	return s.stmts, nil
}

func (st *redemptionStmts) close() {
	for _, s := range []*sql.Stmt{st.nextID, st.findRequests, st.findPoints, st.findHouseholds, st.findGrants,
		st.insertRedemption, st.insertItem, st.debit, st.findAuditKeys} {
		if s != nil {
			s.Close()
		}
	}
}

// redemptionBatch applies requests inside one write transaction. It reads
// everything the batch refers to once, decides each request in order
// against that state as the earlier requests left it, and writes what was
// accepted at the end. A refused request is decided before anything is
// written, so it leaves nothing to undo; the transaction holds the write
// lock from its start, so nothing changes the state between the reads and
// the writes.
type redemptionBatch struct {
	ctx    context.Context
	tx     *Tx
	period canasta.Period
	stmts  redemptionStmts // bound to tx

	nextID     int64
	stored     map[string][]byte // request id → fingerprint, committed earlier
	points     map[int64]bool
	households map[string]int64 // id → hid
	grants     map[grantKey]*batchGrant

	accepted map[string]*acceptedRedemption // by request id
	order    []*acceptedRedemption
	debited  []*batchGrant // in the order first debited

	// auditFirst is the log's size when the batch began and auditNext the
	// index the next accepted receipt gets: the batch's receipts are
	// appended to the log in order, in its transaction, and each receipt
	// names its entry.
	auditFirst, auditNext int64
	// auditKeys are the commitment keys of the batch's households, by hid.
	auditKeys map[int64][]byte
}

type grantKey struct {
	hid     int64
	program int64
}

// batchGrant is one entitlement as the batch has left it so far.
type batchGrant struct {
	key       grantKey
	remaining int64
	debit     int64 // what the batch takes from it
	code      string
	unit      canasta.Unit
}

type acceptedRedemption struct {
	receipt     *canasta.Redemption
	fingerprint []byte
	hid         int64
}

func newRedemptionBatch(ctx context.Context, tx *Tx, prepared *redemptionStmts) *redemptionBatch {
	bind := func(s *sql.Stmt) *sql.Stmt { return tx.StmtContext(ctx, s) }
	return &redemptionBatch{
		ctx:    ctx,
		tx:     tx,
		period: canasta.PeriodOf(tx.now),
		stmts: redemptionStmts{
			nextID:           bind(prepared.nextID),
			findRequests:     bind(prepared.findRequests),
			findPoints:       bind(prepared.findPoints),
			findHouseholds:   bind(prepared.findHouseholds),
			findGrants:       bind(prepared.findGrants),
			insertRedemption: bind(prepared.insertRedemption),
			insertItem:       bind(prepared.insertItem),
			debit:            bind(prepared.debit),
			findAuditKeys:    bind(prepared.findAuditKeys),
		},
		stored:     map[string][]byte{},
		points:     map[int64]bool{},
		households: map[string]int64{},
		grants:     map[grantKey]*batchGrant{},
		accepted:   map[string]*acceptedRedemption{},
		auditKeys:  map[int64][]byte{},
	}
}

// load reads, in one statement each, the request ids already spent, the
// points and households named, and the households' grants.
func (b *redemptionBatch) load(reqs []*canasta.RedemptionRequest) error {
	var ids, households, points jsonArray
	seenHousehold, seenPoint := map[string]bool{}, map[int64]bool{}
	for _, r := range reqs {
		ids.string(r.RequestID)
		if !seenHousehold[r.HouseholdID] {
			seenHousehold[r.HouseholdID] = true
			households.string(r.HouseholdID)
		}
		if !seenPoint[r.PointID] {
			seenPoint[r.PointID] = true
			points.int(r.PointID)
		}
	}
	if err := b.stmts.nextID.QueryRowContext(b.ctx).Scan(&b.nextID); err != nil {
		return fmt.Errorf("next redemption id: %w", err)
	}
	err := b.query(b.stmts.findRequests, []any{ids.text()}, func(rows *sql.Rows) error {
		var id string
		var fingerprint []byte
		if err := rows.Scan(&id, &fingerprint); err != nil {
			return err
		}
		b.stored[id] = fingerprint
		return nil
	})
	if err != nil {
		return fmt.Errorf("find request ids: %w", err)
	}
	err = b.query(b.stmts.findPoints, []any{points.text()}, func(rows *sql.Rows) error {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return err
		}
		b.points[id] = true
		return nil
	})
	if err != nil {
		return fmt.Errorf("find points: %w", err)
	}
	var hids jsonArray
	err = b.query(b.stmts.findHouseholds, []any{households.text()}, func(rows *sql.Rows) error {
		var id string
		var hid int64
		if err := rows.Scan(&id, &hid); err != nil {
			return err
		}
		b.households[id] = hid
		hids.int(hid)
		return nil
	})
	if err != nil {
		return fmt.Errorf("find households: %w", err)
	}
	err = b.query(b.stmts.findGrants, []any{string(b.period), hids.text()}, func(rows *sql.Rows) error {
		g := &batchGrant{}
		var unit string
		if err := rows.Scan(&g.key.hid, &g.key.program, &g.remaining, &g.code, &unit); err != nil {
			return err
		}
		g.unit = canasta.Unit(unit)
		b.grants[g.key] = g
		return nil
	})
	if err != nil {
		return fmt.Errorf("find grants: %w", err)
	}
	if b.auditFirst, err = auditSize(b.ctx, b.tx); err != nil {
		return err
	}
	b.auditNext = b.auditFirst
	err = b.query(b.stmts.findAuditKeys, []any{hids.text()}, func(rows *sql.Rows) error {
		var hid int64
		var key []byte
		if err := rows.Scan(&hid, &key); err != nil {
			return err
		}
		b.auditKeys[hid] = key
		return nil
	})
	if err != nil {
		return fmt.Errorf("find audit keys: %w", err)
	}
	return nil
}

func (b *redemptionBatch) query(stmt *sql.Stmt, args []any, scan func(*sql.Rows) error) error {
	rows, err := stmt.QueryContext(b.ctx, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// redeem decides one request against the state the batch has reached. An
// application error means the request has no effect; any other error
// leaves the batch unusable.
func (b *redemptionBatch) redeem(req *canasta.RedemptionRequest) (*canasta.Redemption, bool, error) {
	if err := req.Validate(); err != nil {
		return nil, false, err
	}
	fingerprint := req.Fingerprint()

	// L4: a request id spent earlier in this batch, or committed before
	// it, returns its receipt and has no effect.
	if a, ok := b.accepted[req.RequestID]; ok {
		if !bytes.Equal(a.fingerprint, fingerprint) {
			return nil, false, errRequestIDReused(req.RequestID)
		}
		return copyRedemption(a.receipt), true, nil
	}
	if stored, ok := b.stored[req.RequestID]; ok {
		if !bytes.Equal(stored, fingerprint) {
			return nil, false, errRequestIDReused(req.RequestID)
		}
		r, _, err := findRedemption(b.ctx, b.tx, req.RequestID)
		return r, true, err
	}

	if !b.points[req.PointID] {
		return nil, false, canasta.Errorf(canasta.ENOTFOUND, "Point %d not found.", req.PointID)
	}
	hid, ok := b.households[req.HouseholdID]
	if !ok {
		return nil, false, canasta.Errorf(canasta.ENOTFOUND, "Household %q not found.", req.HouseholdID)
	}
	// All or none: every item is checked before any is debited. L2: no
	// debit takes a balance below zero.
	grants := make([]*batchGrant, len(req.Items))
	for i, it := range req.Items {
		g := b.grants[grantKey{hid, it.ProgramID}]
		if g == nil {
			return nil, false, canasta.Errorf(canasta.ENOTFOUND, "The household has no grant from program %d for %s.", it.ProgramID, b.period)
		}
		if g.remaining < it.Quantity {
			return nil, false, canasta.Errorf(canasta.ECONFLICT, "Only %d %s of %s remain for %s; %d %s were asked for.",
				g.remaining, g.unit, g.code, b.period, it.Quantity, g.unit)
		}
		grants[i] = g
	}

	r := &canasta.Redemption{ID: b.nextID, RequestID: req.RequestID, HouseholdID: req.HouseholdID, PointID: req.PointID,
		Period: b.period, Items: make([]canasta.RedemptionItem, len(req.Items)), CreatedAt: b.tx.now,
		Audit: &canasta.AuditRef{Index: b.auditNext}}
	if b.tx.db.unauditedRedemptions {
		r.Audit = nil
	}
	b.nextID++
	b.auditNext++
	for i, it := range req.Items {
		g := grants[i]
		if g.debit == 0 {
			b.debited = append(b.debited, g)
		}
		g.remaining -= it.Quantity
		g.debit += it.Quantity
		r.Items[i] = canasta.RedemptionItem{ProgramID: it.ProgramID, Quantity: it.Quantity, Remaining: g.remaining}
	}
	a := &acceptedRedemption{receipt: r, fingerprint: fingerprint, hid: hid}
	b.accepted[req.RequestID] = a
	b.order = append(b.order, a)
	return copyRedemption(r), false, nil
}

func errRequestIDReused(id string) error {
	return canasta.Errorf(canasta.ECONFLICT, "Request id %q was already used for a different redemption.", id)
}

func copyRedemption(r *canasta.Redemption) *canasta.Redemption {
	c := *r
	c.Items = append([]canasta.RedemptionItem(nil), r.Items...)
	if r.Audit != nil {
		a := *r.Audit
		c.Audit = &a
	}
	return &c
}

// write stores the accepted receipts and their items and debits each
// grant the batch touched by the batch's total. L1: the debits and the
// items that account for them commit together or not at all.
func (b *redemptionBatch) write() error {
	if len(b.order) == 0 {
		return nil
	}
	for _, a := range b.order {
		r := a.receipt
		if _, err := b.stmts.insertRedemption.ExecContext(b.ctx, r.ID, r.RequestID, a.fingerprint, a.hid, r.PointID,
			string(r.Period), formatTime(r.CreatedAt), auditIndex(r)); err != nil {
			return fmt.Errorf("insert redemption %s: %w", r.RequestID, err)
		}
		for i, it := range r.Items {
			if _, err := b.stmts.insertItem.ExecContext(b.ctx, r.ID, i+1, it.ProgramID, it.Quantity, it.Remaining); err != nil {
				return fmt.Errorf("insert redemption %s item: %w", r.RequestID, err)
			}
		}
	}
	for _, g := range b.debited {
		res, err := b.stmts.debit.ExecContext(b.ctx, g.debit, string(b.period), g.key.hid, g.key.program)
		if err != nil {
			return fmt.Errorf("debit program %d: %w", g.key.program, err)
		}
		if rowsAffected(res) != 1 {
			return fmt.Errorf("debit program %d of household %d: the balance changed under the batch", g.key.program, g.key.hid)
		}
	}
	return b.appendAudit()
}

// appendAudit appends the accepted receipts to the audit log, in the
// order that gave them their indexes, committing to each receipt's
// details under its household's key.
func (b *redemptionBatch) appendAudit() error {
	if b.tx.db.unauditedRedemptions {
		return nil
	}
	entries := make([]*canasta.AuditEntry, len(b.order))
	for i, a := range b.order {
		r := a.receipt
		key, ok := b.auditKeys[a.hid]
		if !ok {
			var err error
			if key, err = householdAuditKey(b.ctx, b.tx, a.hid); err != nil {
				return err
			}
			b.auditKeys[a.hid] = key
		}
		e, err := audit.RedemptionEntry(b.ctx, b.tx.now, key, r)
		if err != nil {
			return err
		}
		entries[i] = e
	}
	return appendAuditAt(b.ctx, b.tx, b.auditFirst, entries)
}

// jsonArray builds a JSON array of numbers and strings, for a statement
// that reads its values with json_each.
type jsonArray struct {
	buf []byte
}

func (a *jsonArray) sep() {
	if len(a.buf) == 0 {
		a.buf = append(a.buf, '[')
	} else {
		a.buf = append(a.buf, ',')
	}
}

func (a *jsonArray) int(v int64) {
	a.sep()
	a.buf = strconv.AppendInt(a.buf, v, 10)
}

func (a *jsonArray) string(s string) {
	a.sep()
	a.buf = appendJSONString(a.buf, s)
}

func (a *jsonArray) text() string {
	if len(a.buf) == 0 {
		return "[]"
	}
	return string(a.buf) + "]"
}

// appendJSONString appends s as a JSON string. Plain ASCII, the usual
// case for ids, is copied as it is; anything else goes through the JSON
// encoder, which escapes it correctly.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			enc, _ := json.Marshal(s)
			return append(b, enc...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// findRedemption returns a stored receipt and the fingerprint of the
// request that made it. ENOTFOUND.
func findRedemption(ctx context.Context, tx *Tx, requestID string) (*canasta.Redemption, []byte, error) {
	var (
		r                 = canasta.Redemption{RequestID: requestID}
		fingerprint       []byte
		period, createdAt string
		auditIndex        sql.NullInt64
	)
	err := tx.QueryRowContext(ctx, `SELECT r.id, r.fingerprint, h.id, r.point_id, r.period, r.created_at, r.audit_index
FROM redemptions r JOIN households h ON h.hid = r.household_hid
WHERE r.request_id = ?`, requestID).Scan(&r.ID, &fingerprint, &r.HouseholdID, &r.PointID, &period, &createdAt, &auditIndex)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, canasta.Errorf(canasta.ENOTFOUND, "No redemption has request id %q.", requestID)
	} else if err != nil {
		return nil, nil, fmt.Errorf("find redemption %s: %w", requestID, err)
	}
	r.Period = canasta.Period(period)
	if auditIndex.Valid {
		r.Audit = &canasta.AuditRef{Index: auditIndex.Int64}
	}
	if r.CreatedAt, err = parseTime(createdAt); err != nil {
		return nil, nil, err
	}

	rows, err := tx.QueryContext(ctx, `SELECT program_id, quantity, remaining FROM redemption_items
WHERE redemption_id = ? ORDER BY line`, r.ID)
	if err != nil {
		return nil, nil, fmt.Errorf("find redemption %s items: %w", requestID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var it canasta.RedemptionItem
		if err := rows.Scan(&it.ProgramID, &it.Quantity, &it.Remaining); err != nil {
			return nil, nil, fmt.Errorf("scan redemption item: %w", err)
		}
		r.Items = append(r.Items, it)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("find redemption %s items: %w", requestID, err)
	}
	return &r, fingerprint, nil
}

// auditIndex is the receipt's audit index as stored: NULL without one.
func auditIndex(r *canasta.Redemption) any {
	if r.Audit == nil {
		return nil
	}
	return r.Audit.Index
}
