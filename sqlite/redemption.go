package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/canasta/canasta"
)

// RedemptionService is the ledger's redemption path.
//
// Ledger invariants, each held by the database rather than by this process:
//
//	L1 conservation: for every entitlement, redeemed equals the sum of the
//	   quantities of the redemption items against it, because the debit and
//	   the items are written in one transaction or not at all.
//	L2 non-negative: granted - redeemed never drops below zero, because the
//	   debit is a conditional UPDATE and the table CHECKs the same bound.
//	L4 idempotency: a request id has at most one effect, because it is
//	   UNIQUE and is looked up inside the same write transaction.
type RedemptionService struct {
	db *DB
}

var _ canasta.RedemptionService = (*RedemptionService)(nil)

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
	fingerprint := req.Fingerprint()

	// IMMEDIATE: the write lock is held from the first read, so no other
	// connection or process can debit between the check and the update.
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return nil, false, err
	}
	defer tx.Rollback()

	// L4: a request id seen before returns its receipt, and has no effect.
	if r, stored, err := findRedemption(ctx, tx, req.RequestID); err == nil {
		if !bytes.Equal(stored, fingerprint) {
			return nil, false, canasta.Errorf(canasta.ECONFLICT, "Request id %q was already used for a different redemption.", req.RequestID)
		}
		return r, true, nil
	} else if canasta.ErrorCode(err) != canasta.ENOTFOUND {
		return nil, false, err
	}

	if _, err := findPointByID(ctx, tx, req.PointID); err != nil {
		return nil, false, err
	}
	hid, err := householdHID(ctx, tx, req.HouseholdID)
	if err != nil {
		return nil, false, err
	}
	period := canasta.PeriodOf(tx.now)

	items := make([]canasta.RedemptionItem, len(req.Items))
	for i, it := range req.Items {
		remaining, err := debit(ctx, tx, hid, period, it)
		if err != nil {
			return nil, false, err // rolls back every earlier debit: all or none
		}
		items[i] = canasta.RedemptionItem{ProgramID: it.ProgramID, Quantity: it.Quantity, Remaining: remaining}
	}

	r := &canasta.Redemption{RequestID: req.RequestID, HouseholdID: req.HouseholdID, PointID: req.PointID,
		Period: period, Items: items, CreatedAt: tx.now}
	if err := insertRedemption(ctx, tx, r, hid, fingerprint); err != nil {
		return nil, false, err
	}
	if err := tx.Commit(); err != nil {
		return nil, false, fmt.Errorf("commit redemption %s: %w", req.RequestID, err)
	}
	return r, false, nil
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

// debit takes q from one entitlement and returns what remains. L2: the
// UPDATE only matches while enough remains, so the balance is checked and
// changed in one statement.
func debit(ctx context.Context, tx *Tx, hid int64, period canasta.Period, it canasta.RedemptionItem) (int64, error) {
	var remaining int64
	err := tx.QueryRowContext(ctx, `UPDATE entitlements SET redeemed = redeemed + ?
WHERE period = ? AND household_hid = ? AND program_id = ? AND granted - redeemed >= ?
RETURNING granted - redeemed`, it.Quantity, string(period), hid, it.ProgramID, it.Quantity).Scan(&remaining)
	if err == nil {
		return remaining, nil
	} else if !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("debit program %d: %w", it.ProgramID, err)
	}

	// Nothing matched: say whether there is no grant or too little of it.
	var code string
	var unit canasta.Unit
	err = tx.QueryRowContext(ctx, `SELECT e.granted - e.redeemed, p.commodity_code, p.unit
FROM entitlements e JOIN programs p ON p.id = e.program_id
WHERE e.period = ? AND e.household_hid = ? AND e.program_id = ?`, string(period), hid, it.ProgramID).Scan(&remaining, &code, &unit)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, canasta.Errorf(canasta.ENOTFOUND, "The household has no grant from program %d for %s.", it.ProgramID, period)
	} else if err != nil {
		return 0, fmt.Errorf("check balance of program %d: %w", it.ProgramID, err)
	}
	return 0, canasta.Errorf(canasta.ECONFLICT, "Only %d %s of %s remain for %s; %d %s were asked for.",
		remaining, unit, code, period, it.Quantity, unit)
}

func insertRedemption(ctx context.Context, tx *Tx, r *canasta.Redemption, hid int64, fingerprint []byte) error {
	res, err := tx.ExecContext(ctx, `INSERT INTO redemptions (request_id, fingerprint, household_hid, point_id, period, created_at)
VALUES (?, ?, ?, ?, ?, ?)`, r.RequestID, fingerprint, hid, r.PointID, string(r.Period), formatTime(r.CreatedAt))
	if err != nil {
		return fmt.Errorf("insert redemption %s: %w", r.RequestID, err)
	}
	if r.ID, err = res.LastInsertId(); err != nil {
		return fmt.Errorf("insert redemption %s: %w", r.RequestID, err)
	}
	for i, it := range r.Items {
		if _, err := tx.ExecContext(ctx, `INSERT INTO redemption_items (redemption_id, line, program_id, quantity, remaining)
VALUES (?, ?, ?, ?, ?)`, r.ID, i+1, it.ProgramID, it.Quantity, it.Remaining); err != nil {
			return fmt.Errorf("insert redemption %s item: %w", r.RequestID, err)
		}
	}
	return nil
}

// findRedemption returns a stored receipt and the fingerprint of the
// request that made it. ENOTFOUND.
func findRedemption(ctx context.Context, tx *Tx, requestID string) (*canasta.Redemption, []byte, error) {
	var (
		r                 = canasta.Redemption{RequestID: requestID}
		fingerprint       []byte
		period, createdAt string
	)
	err := tx.QueryRowContext(ctx, `SELECT r.id, r.fingerprint, h.id, r.point_id, r.period, r.created_at
FROM redemptions r JOIN households h ON h.hid = r.household_hid
WHERE r.request_id = ?`, requestID).Scan(&r.ID, &fingerprint, &r.HouseholdID, &r.PointID, &period, &createdAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, canasta.Errorf(canasta.ENOTFOUND, "No redemption has request id %q.", requestID)
	} else if err != nil {
		return nil, nil, fmt.Errorf("find redemption %s: %w", requestID, err)
	}
	r.Period = canasta.Period(period)
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
