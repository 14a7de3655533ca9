package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/canasta/canasta"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

var _ canasta.RedemptionBatcher = (*RedemptionService)(nil)

// maxBatchAttempts bounds how often a batch is run again after a conflict
// with another transaction that made it roll back before its commit.
const maxBatchAttempts = 4

// RedeemBatch applies reqs in order in one READ COMMITTED transaction with
// one commit, for the period current at the transaction's start. Each
// request is decided on its own against the balances the earlier ones
// left: a refused request leaves nothing behind and does not affect the
// others. The transaction costs four round trips whatever the batch's
// size: begin, one pipeline of reads, one pipeline of writes, commit.
//
// The ledger invariants hold as in Redeem, with any number of servers:
//
//	L2: the batch locks the grants it reads (FOR UPDATE, in key order, so
//	    two batches never deadlock), decides against those locked
//	    balances, and its debits are still conditional UPDATEs under the
//	    table's CHECK.
//	L4: the batch reads which request ids are spent after it holds its
//	    grants' locks, so another transaction that redeemed the same
//	    request for the same household has committed by then, and the
//	    request is a replay rather than a second decision against the
//	    balance that transaction left. A request id committed by another
//	    transaction between this batch's read and its insert makes the
//	    insert fail on the UNIQUE request_id; the batch then rolls back and
//	    runs again, and the request becomes a replay (or ECONFLICT, if the
//	    other body differs).
//
// A batch that rolled back because of another transaction (a deadlock, a
// serialization failure, a request id taken meanwhile) is run again from
// the start, at most maxBatchAttempts times; it has had no effect. A
// failed commit is never run again: its outcome is unknown.
func (s *RedemptionService) RedeemBatch(ctx context.Context, reqs []*canasta.RedemptionRequest) (results []canasta.RedeemResult, err error) {
	defer checkAvailable(&err)
	for attempt := 1; ; attempt++ {
		results, err := s.redeemBatch(ctx, reqs)
		if err == nil || attempt == maxBatchAttempts || !errors.Is(err, errBatchRolledBack) || ctx.Err() != nil {
			return results, err
		}
	}
}

// errBatchRolledBack marks a batch that a concurrent transaction forced to
// roll back before its commit, so that running it again is safe.
var errBatchRolledBack = errors.New("batch rolled back by a concurrent transaction")

// redeemBatch runs one attempt of RedeemBatch.
func (s *RedemptionService) redeemBatch(ctx context.Context, reqs []*canasta.RedemptionRequest) ([]canasta.RedeemResult, error) {
	ctx, tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.release()

	b := newRedemptionBatch(tx)
	if err := b.load(ctx, reqs); err != nil {
		return nil, batchError(fmt.Errorf("redeem batch of %d: %w", len(reqs), err))
	}
	outcomes := make([]batchOutcome, len(reqs))
	for i, req := range reqs {
		outcomes[i] = b.redeem(ctx, req)
		if canasta.ErrorCode(outcomes[i].err) == canasta.EINTERNAL {
			return nil, batchError(fmt.Errorf("redeem %s: %w", req.RequestID, outcomes[i].err))
		}
	}
	if err := b.write(ctx); err != nil {
		return nil, batchError(fmt.Errorf("redeem batch of %d: %w", len(reqs), err))
	}
	if err := tx.commit(fmt.Sprintf("%d redemptions", len(reqs))); err != nil {
		return nil, err
	}
	results := make([]canasta.RedeemResult, len(reqs))
	for i, o := range outcomes {
		switch {
		case o.err != nil:
			results[i].Err = o.err
		case o.accepted != nil:
			results[i] = canasta.RedeemResult{Receipt: copyRedemption(o.accepted.receipt), Replay: o.replay}
		default:
			results[i] = canasta.RedeemResult{Receipt: o.stored, Replay: true}
		}
	}
	return results, nil
}

// SQLSTATE codes of a transaction that a concurrent one made fail.
const (
	deadlockDetected     = "40P01"
	serializationFailure = "40001"
)

// batchError marks err as errBatchRolledBack when PostgreSQL refused the
// batch because of a concurrent transaction.
func batchError(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case deadlockDetected, serializationFailure, uniqueViolation:
			return fmt.Errorf("%w: %w", errBatchRolledBack, err)
		}
	}
	return err
}

// redemptionBatch decides a batch's requests inside one transaction. It
// reads everything the batch refers to in one pipeline, decides each
// request in order against that state as the earlier requests left it,
// and writes what was accepted in one more.
type redemptionBatch struct {
	tx     *Tx
	period canasta.Period

	stored     map[string][]byte // request id → fingerprint, committed earlier
	points     map[int64]bool
	households map[string]int64 // id → hid
	grants     map[grantKey]*batchGrant

	accepted map[string]*acceptedRedemption // by request id
	order    []*acceptedRedemption
	debited  []*batchGrant // in the order first debited
}

type grantKey struct {
	hid     int64
	program int64
}

// batchGrant is one locked entitlement as the batch has left it so far.
type batchGrant struct {
	key       grantKey
	remaining int64
	debit     int64 // what the batch takes from it
	code      string
	unit      canasta.Unit
}

type acceptedRedemption struct {
	receipt     *canasta.Redemption // ID set by write
	fingerprint []byte
	hid         int64
}

// batchOutcome is one request's fate, turned into its result once the
// batch has committed and the receipts have their ids.
type batchOutcome struct {
	accepted *acceptedRedemption // accepted in this batch, or replayed from it
	stored   *canasta.Redemption // replayed from an earlier commit
	replay   bool
	err      error // an application error: the request has no effect
}

func newRedemptionBatch(tx *Tx) *redemptionBatch {
	return &redemptionBatch{
		tx:         tx,
		period:     canasta.PeriodOf(tx.now),
		stored:     map[string][]byte{},
		points:     map[int64]bool{},
		households: map[string]int64{},
		grants:     map[grantKey]*batchGrant{},
		accepted:   map[string]*acceptedRedemption{},
	}
}

// The batch's reads, each taking the batch's values as one array.
const (
	// indexPlansSQL keeps sequential scans out of the batch's plans for
	// the rest of its transaction. A batch touches a few rows of large
	// tables, but a generic plan, cached for good after a statement's
	// fifth run, is costed with the statistics of that moment: on a new
	// database, whose receipts table is still empty and not analyzed, it
	// scans that table for the spent request ids, and every later batch
	// on the connection scans it again as it grows.
	indexPlansSQL     = `SELECT set_config('enable_seqscan', 'off', true)`
	findRequestsSQL   = `SELECT request_id, fingerprint FROM redemptions WHERE request_id = ANY($1::text[])`
	findPointsSQL     = `SELECT id FROM points WHERE id = ANY($1::bigint[])`
	findHouseholdsSQL = `SELECT id, hid FROM households WHERE id = ANY($1::text[])`
	// L2: the grants are locked until the commit, in key order, so no
	// other transaction changes a balance the batch decided against, and
	// two batches that share grants lock them in the same order.
	lockGrantsSQL = `SELECT e.household_hid, e.program_id, e.granted - e.redeemed, p.commodity_code, p.unit
FROM entitlements e JOIN programs p ON p.id = e.program_id
WHERE e.period = $1 AND e.household_hid IN (SELECT hid FROM households WHERE id = ANY($2::text[]))
ORDER BY e.household_hid, e.program_id
FOR UPDATE OF e`
)

// load reads, in one round trip, the points and households named, the
// households' grants, which it locks, and then the request ids already
// spent.
func (b *redemptionBatch) load(ctx context.Context, reqs []*canasta.RedemptionRequest) error {
	ids := make([]string, 0, len(reqs))
	var households []string
	var points []int64
	seenHousehold, seenPoint := map[string]bool{}, map[int64]bool{}
	for _, r := range reqs {
		ids = append(ids, r.RequestID)
		if !seenHousehold[r.HouseholdID] {
			seenHousehold[r.HouseholdID] = true
			households = append(households, r.HouseholdID)
		}
		if !seenPoint[r.PointID] {
			seenPoint[r.PointID] = true
			points = append(points, r.PointID)
		}
	}

	var batch pgx.Batch
	batch.Queue(indexPlansSQL)
	batch.Queue(findPointsSQL, points).Query(func(rows pgx.Rows) error {
		var id int64
		_, err := pgx.ForEachRow(rows, []any{&id}, func() error {
			b.points[id] = true
			return nil
		})
		if err != nil {
			return fmt.Errorf("find points: %w", err)
		}
		return nil
	})
	batch.Queue(findHouseholdsSQL, households).Query(func(rows pgx.Rows) error {
		var id string
		var hid int64
		_, err := pgx.ForEachRow(rows, []any{&id, &hid}, func() error {
			b.households[id] = hid
			return nil
		})
		if err != nil {
			return fmt.Errorf("find households: %w", err)
		}
		return nil
	})
	batch.Queue(lockGrantsSQL, string(b.period), households).Query(func(rows pgx.Rows) error {
		var (
			key        grantKey
			remaining  int64
			code, unit string
		)
		_, err := pgx.ForEachRow(rows, []any{&key.hid, &key.program, &remaining, &code, &unit}, func() error {
			b.grants[key] = &batchGrant{key: key, remaining: remaining, code: code, unit: canasta.Unit(unit)}
			return nil
		})
		if err != nil {
			return fmt.Errorf("lock grants: %w", err)
		}
		return nil
	})
	// After the grants' locks: a transaction that held one of them has
	// ended, and if it spent one of these request ids, this sees it.
	batch.Queue(findRequestsSQL, ids).Query(func(rows pgx.Rows) error {
		var id string
		var fingerprint []byte
		_, err := pgx.ForEachRow(rows, []any{&id, &fingerprint}, func() error {
			b.stored[id] = fingerprint
			return nil
		})
		if err != nil {
			return fmt.Errorf("find request ids: %w", err)
		}
		return nil
	})
	return b.tx.SendBatch(ctx, &batch).Close()
}

// redeem decides one request against the state the batch has reached. An
// outcome with an application error has no effect; any other error leaves
// the batch unusable.
func (b *redemptionBatch) redeem(ctx context.Context, req *canasta.RedemptionRequest) batchOutcome {
	if err := req.Validate(); err != nil {
		return batchOutcome{err: err}
	}
	fingerprint := req.Fingerprint()

	// L4: a request id spent earlier in this batch, or committed before
	// it, returns its receipt and has no effect.
	if a, ok := b.accepted[req.RequestID]; ok {
		if !bytes.Equal(a.fingerprint, fingerprint) {
			return batchOutcome{err: errRequestIDReused(req.RequestID)}
		}
		return batchOutcome{accepted: a, replay: true}
	}
	if stored, ok := b.stored[req.RequestID]; ok {
		if !bytes.Equal(stored, fingerprint) {
			return batchOutcome{err: errRequestIDReused(req.RequestID)}
		}
		r, _, err := findRedemption(ctx, b.tx, req.RequestID)
		return batchOutcome{stored: r, replay: true, err: err}
	}

	if !b.points[req.PointID] {
		return batchOutcome{err: canasta.Errorf(canasta.ENOTFOUND, "Point %d not found.", req.PointID)}
	}
	hid, ok := b.households[req.HouseholdID]
	if !ok {
		return batchOutcome{err: canasta.Errorf(canasta.ENOTFOUND, "Household %q not found.", req.HouseholdID)}
	}
	// All or none: every item is checked before any is debited. L2: no
	// debit takes a balance below zero.
	grants := make([]*batchGrant, len(req.Items))
	for i, it := range req.Items {
		g := b.grants[grantKey{hid, it.ProgramID}]
		if g == nil {
			return batchOutcome{err: canasta.Errorf(canasta.ENOTFOUND, "The household has no grant from program %d for %s.", it.ProgramID, b.period)}
		}
		if g.remaining < it.Quantity {
			return batchOutcome{err: canasta.Errorf(canasta.ECONFLICT, "Only %d %s of %s remain for %s; %d %s were asked for.",
				g.remaining, g.unit, g.code, b.period, it.Quantity, g.unit)}
		}
		grants[i] = g
	}

	r := &canasta.Redemption{RequestID: req.RequestID, HouseholdID: req.HouseholdID, PointID: req.PointID,
		Period: b.period, Items: make([]canasta.RedemptionItem, len(req.Items)), CreatedAt: b.tx.now}
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
	return batchOutcome{accepted: a}
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

// The batch's writes, each one statement over arrays whatever the batch's
// size.
const (
	// insertReceiptsSQL inserts the receipts and their items and returns
	// each receipt's id.
	insertReceiptsSQL = `WITH r AS (
	INSERT INTO redemptions (request_id, fingerprint, household_hid, point_id, period, created_at)
	SELECT u.request_id, u.fingerprint, u.hid, u.point_id, $5, $6
	FROM unnest($1::text[], $2::bytea[], $3::bigint[], $4::bigint[]) AS u(request_id, fingerprint, hid, point_id)
	RETURNING id, request_id
), i AS (
	INSERT INTO redemption_items (redemption_id, line, program_id, quantity, remaining)
	SELECT r.id, u.line, u.program_id, u.quantity, u.remaining
	FROM unnest($7::text[], $8::integer[], $9::bigint[], $10::bigint[], $11::bigint[])
		AS u(request_id, line, program_id, quantity, remaining)
	JOIN r USING (request_id)
)
SELECT request_id, id FROM r`
	// debitGrantsSQL debits each grant by the batch's total. L2 in the
	// database: a debit matches only while enough remains.
	debitGrantsSQL = `UPDATE entitlements e SET redeemed = e.redeemed + d.quantity
FROM unnest($2::bigint[], $3::bigint[], $4::bigint[]) AS d(hid, program_id, quantity)
WHERE e.period = $1 AND e.household_hid = d.hid AND e.program_id = d.program_id
	AND e.granted - e.redeemed >= d.quantity`
)

// write stores the accepted receipts and their items, setting each
// receipt's id, and debits each grant the batch touched by the batch's
// total, in one round trip. L1: the debits and the items that account for
// them commit together or not at all.
func (b *redemptionBatch) write(ctx context.Context) error {
	if len(b.order) == 0 {
		return nil
	}
	var (
		requestIDs   = make([]string, len(b.order))
		fingerprints = make([][]byte, len(b.order))
		hids         = make([]int64, len(b.order))
		points       = make([]int64, len(b.order))

		itemRequestIDs                   []string
		lines                            []int32
		itemPrograms, quantities, remain []int64
	)
	byRequestID := make(map[string]*canasta.Redemption, len(b.order))
	for i, a := range b.order {
		r := a.receipt
		requestIDs[i], fingerprints[i], hids[i], points[i] = r.RequestID, a.fingerprint, a.hid, r.PointID
		byRequestID[r.RequestID] = r
		for j, it := range r.Items {
			itemRequestIDs = append(itemRequestIDs, r.RequestID)
			lines = append(lines, int32(j+1))
			itemPrograms = append(itemPrograms, it.ProgramID)
			quantities = append(quantities, it.Quantity)
			remain = append(remain, it.Remaining)
		}
	}
	debitHids := make([]int64, len(b.debited))
	debitPrograms := make([]int64, len(b.debited))
	debits := make([]int64, len(b.debited))
	for i, g := range b.debited {
		debitHids[i], debitPrograms[i], debits[i] = g.key.hid, g.key.program, g.debit
	}

	var batch pgx.Batch
	batch.Queue(insertReceiptsSQL, requestIDs, fingerprints, hids, points, string(b.period), b.tx.now,
		itemRequestIDs, lines, itemPrograms, quantities, remain).Query(func(rows pgx.Rows) error {
		var requestID string
		var id int64
		n := 0
		_, err := pgx.ForEachRow(rows, []any{&requestID, &id}, func() error {
			if r := byRequestID[requestID]; r != nil && r.ID == 0 {
				r.ID = id
				n++
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("insert receipts: %w", err)
		}
		if n != len(b.order) {
			return fmt.Errorf("inserted %d of %d receipts", n, len(b.order))
		}
		return nil
	})
	batch.Queue(debitGrantsSQL, string(b.period), debitHids, debitPrograms, debits).Exec(func(tag pgconn.CommandTag) error {
		if int(tag.RowsAffected()) != len(b.debited) {
			return fmt.Errorf("debited %d of %d grants: a balance changed under the batch", tag.RowsAffected(), len(b.debited))
		}
		return nil
	})
	if err := b.tx.SendBatch(ctx, &batch).Close(); err != nil {
		return err
	}
	// The receipts' audit entries, appended last: the log's lock is held
	// from here to the commit.
	receipts := make([]*canasta.Redemption, len(b.order))
	for i, a := range b.order {
		receipts[i] = a.receipt
	}
	return auditRedemptions(ctx, b.tx, receipts, hids)
}
