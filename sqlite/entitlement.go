package sqlite

import (
	"context"
	"fmt"

	"github.com/canasta/canasta"
)

// EntitlementService reads grants and balances.
type EntitlementService struct {
	db *DB
}

var _ canasta.EntitlementService = (*EntitlementService)(nil)

// NewEntitlementService returns the entitlement service on db.
func NewEntitlementService(db *DB) *EntitlementService {
	return &EntitlementService{db: db}
}

// FindEntitlements returns the household's grants in the period, by
// program, and logs the read when the context carries an actor.
func (s *EntitlementService) FindEntitlements(ctx context.Context, householdID string, period canasta.Period) ([]*canasta.Entitlement, error) {
	if _, err := canasta.ParsePeriod(string(period)); err != nil {
		return nil, err
	}
	tx, err := s.db.beginRecordRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	hid, err := householdHID(ctx, tx, householdID)
	if err != nil {
		return nil, err
	}
	ents, err := findEntitlements(ctx, tx, hid, householdID, period)
	if err != nil {
		return nil, err
	}
	if err := logAccess(ctx, tx, hid, "read-entitlements"); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit entitlements read: %w", err)
	}
	return ents, nil
}

func findEntitlements(ctx context.Context, tx *Tx, hid int64, householdID string, period canasta.Period) ([]*canasta.Entitlement, error) {
	// The grant's redeemed column also counts what points hold in
	// reserve; the rights say how much of it that is.
	rows, err := tx.QueryContext(ctx, `SELECT e.program_id, p.name, p.commodity_code, p.unit, e.granted, e.redeemed, e.explanation,
	COALESCE((SELECT SUM(r.quantity - r.spent - r.released) FROM rights r
		WHERE r.household_hid = e.household_hid AND r.period = e.period AND r.program_id = e.program_id AND r.released_at IS NULL), 0)
FROM entitlements e JOIN programs p ON p.id = e.program_id
WHERE e.period = ? AND e.household_hid = ?
ORDER BY e.program_id`, string(period), hid)
	if err != nil {
		return nil, fmt.Errorf("find entitlements: %w", err)
	}
	defer rows.Close()
	ents := []*canasta.Entitlement{}
	for rows.Next() {
		e := canasta.Entitlement{HouseholdID: householdID, Period: period}
		var unit string
		if err := rows.Scan(&e.ProgramID, &e.Program, &e.Commodity, &unit, &e.Granted, &e.Redeemed, &e.Explanation, &e.Held); err != nil {
			return nil, fmt.Errorf("scan entitlement: %w", err)
		}
		e.Unit = canasta.Unit(unit)
		e.Remaining = e.Granted - e.Redeemed
		e.Redeemed -= e.Held
		ents = append(ents, &e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find entitlements: %w", err)
	}
	return ents, nil
}
