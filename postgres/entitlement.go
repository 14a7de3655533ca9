package postgres

import (
	"context"
	"fmt"

	"github.com/canasta/canasta"
	"github.com/jackc/pgx/v5"
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
func (s *EntitlementService) FindEntitlements(ctx context.Context, householdID string, period canasta.Period) (_ []*canasta.Entitlement, err error) {
	defer checkAvailable(&err)
	if _, err := canasta.ParsePeriod(string(period)); err != nil {
		return nil, err
	}
	ctx, tx, err := s.db.beginRecordRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.release()

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
	if err := tx.commit("entitlements read"); err != nil {
		return nil, err
	}
	return ents, nil
}

func findEntitlements(ctx context.Context, q querier, hid int64, householdID string, period canasta.Period) ([]*canasta.Entitlement, error) {
	// The grant's redeemed column also counts what points hold in
	// reserve; the rights say how much of it that is.
	rows, err := q.Query(ctx, `SELECT e.program_id, p.name, p.commodity_code, p.unit, e.granted, e.redeemed, e.explanation,
	COALESCE((SELECT sum(r.quantity - r.spent - r.released) FROM rights r
		WHERE r.household_hid = e.household_hid AND r.period = e.period AND r.program_id = e.program_id AND r.released_at IS NULL), 0)::bigint
FROM entitlements e JOIN programs p ON p.id = e.program_id
WHERE e.period = $1 AND e.household_hid = $2
ORDER BY e.program_id`, string(period), hid)
	if err != nil {
		return nil, fmt.Errorf("find entitlements: %w", err)
	}
	ents, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*canasta.Entitlement, error) {
		e := canasta.Entitlement{HouseholdID: householdID, Period: period}
		err := row.Scan(&e.ProgramID, &e.Program, &e.Commodity, &e.Unit, &e.Granted, &e.Redeemed, &e.Explanation, &e.Held)
		e.Remaining = e.Granted - e.Redeemed
		e.Redeemed -= e.Held
		return &e, err
	})
	if err != nil {
		return nil, fmt.Errorf("find entitlements: %w", err)
	}
	if ents == nil {
		ents = []*canasta.Entitlement{}
	}
	return ents, nil
}
