package postgres

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/canasta/canasta"
	"github.com/jackc/pgx/v5"
)

// RedemptionService is the ledger's redemption path.
//
// Ledger invariants, each held by the database rather than by any server,
// so they hold with any number of servers on one database:
//
//	L1 conservation: for every entitlement, the redeemed column equals the
//	   sum of the quantities of the redemption items against it plus what
//	   offline points hold in reserve (package point, O1: granted =
//	   available + held + redeemed), because every debit is written in one
//	   transaction with the items or the right that accounts for it.
//	L2 non-negative: granted - redeemed never drops below zero, because the
//	   debit is a conditional UPDATE, which PostgreSQL re-checks against
//	   the latest committed row when two transactions race for it, and the
//	   table CHECKs the same bound.
//	L4 idempotency: a request id has at most one effect, because the
//	   transaction claims it (request_id is UNIQUE) before it debits: a
//	   concurrent duplicate waits at the claim for the first to commit or
//	   roll back, then finds its receipt or makes its own.
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
func (s *RedemptionService) Redeem(ctx context.Context, req *canasta.RedemptionRequest) (_ *canasta.Redemption, _ bool, err error) {
	defer checkAvailable(&err)
	if err := req.Validate(); err != nil {
		return nil, false, err
	}
	fingerprint := req.Fingerprint()

	ctx, tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return nil, false, err
	}
	defer tx.release()

	// One round trip answers what would refuse the request: a request id
	// seen before returns its receipt and has no effect; then an unknown
	// point or household is ENOTFOUND.
	var (
		stored      []byte
		pointExists bool
		hid         *int64
	)
	if err := tx.QueryRow(ctx, `SELECT (SELECT fingerprint FROM redemptions WHERE request_id = $1),
	EXISTS (SELECT 1 FROM points WHERE id = $2),
	(SELECT hid FROM households WHERE id = $3)`, req.RequestID, req.PointID, req.HouseholdID).Scan(&stored, &pointExists, &hid); err != nil {
		return nil, false, fmt.Errorf("redeem %s: %w", req.RequestID, err)
	}
	if stored != nil {
		r, stored, err := findRedemption(ctx, tx, req.RequestID)
		if err != nil {
			return nil, false, err
		}
		return replay(r, stored, fingerprint)
	}
	if !pointExists {
		return nil, false, canasta.Errorf(canasta.ENOTFOUND, "Point %d not found.", req.PointID)
	}
	if hid == nil {
		return nil, false, canasta.Errorf(canasta.ENOTFOUND, "Household %q not found.", req.HouseholdID)
	}
	period := canasta.PeriodOf(tx.now)
	r := &canasta.Redemption{RequestID: req.RequestID, HouseholdID: req.HouseholdID, PointID: req.PointID,
		Period: period, CreatedAt: tx.now}

	// L4: claim the request id. If another transaction holds the claim,
	// this waits for it to end; once it has committed, there is nothing
	// to insert and the request is a replay.
	claimed, err := claimRequestID(ctx, tx, r, *hid, fingerprint)
	if err != nil {
		return nil, false, err
	}
	if !claimed {
		r, stored, err := findRedemption(ctx, tx, req.RequestID)
		if err != nil {
			return nil, false, err
		}
		return replay(r, stored, fingerprint)
	}

	if r.Items, err = debitAll(ctx, tx, *hid, period, req.Items); err != nil {
		return nil, false, err // rolls back the claim and every debit: all or none
	}
	if err := insertItems(ctx, tx, r); err != nil {
		return nil, false, err
	}
	if err := auditRedemptions(ctx, tx, []*canasta.Redemption{r}, []int64{*hid}); err != nil {
		return nil, false, err
	}
	if err := tx.commit("redemption " + req.RequestID); err != nil {
		return nil, false, err
	}
	return r, false, nil
}

// FindRedemptionByRequestID returns a committed receipt. ENOTFOUND.
func (s *RedemptionService) FindRedemptionByRequestID(ctx context.Context, requestID string) (_ *canasta.Redemption, err error) {
	defer checkAvailable(&err)
	ctx, tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.release()

	r, _, err := findRedemption(ctx, tx, requestID)
	return r, err
}

// claimRequestID inserts the receipt's header, setting r.ID, and reports
// whether it did; false means the request id is already committed.
func claimRequestID(ctx context.Context, tx *Tx, r *canasta.Redemption, hid int64, fingerprint []byte) (bool, error) {
	err := tx.QueryRow(ctx, `INSERT INTO redemptions (request_id, fingerprint, household_hid, point_id, period, created_at)
VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (request_id) DO NOTHING RETURNING id`,
		r.RequestID, fingerprint, hid, r.PointID, string(r.Period), r.CreatedAt).Scan(&r.ID)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("claim request id %s: %w", r.RequestID, err)
	}
	return true, nil
}

// replay answers a request id that is already spent: the original receipt
// if the request is the same, ECONFLICT if it differs.
func replay(r *canasta.Redemption, stored, fingerprint []byte) (*canasta.Redemption, bool, error) {
	if !bytes.Equal(stored, fingerprint) {
		return nil, false, canasta.Errorf(canasta.ECONFLICT, "Request id %q was already used for a different redemption.", r.RequestID)
	}
	return r, true, nil
}

// debitAll debits the items and returns them with what remains, in the
// request's order. The debits run in program order, so two redemptions for
// one household lock its entitlements in the same order and never
// deadlock.
func debitAll(ctx context.Context, tx *Tx, hid int64, period canasta.Period, req []canasta.RedemptionItem) ([]canasta.RedemptionItem, error) {
	order := make([]int, len(req))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(req[a].ProgramID, req[b].ProgramID) })
	items := make([]canasta.RedemptionItem, len(req))
	for _, i := range order {
		remaining, err := debit(ctx, tx, hid, period, req[i])
		if err != nil {
			return nil, err
		}
		items[i] = canasta.RedemptionItem{ProgramID: req[i].ProgramID, Quantity: req[i].Quantity, Remaining: remaining}
	}
	return items, nil
}

// debit takes q from one entitlement and returns what remains. L2: the
// UPDATE only matches while enough remains, so the balance is checked and
// changed in one statement.
func debit(ctx context.Context, tx *Tx, hid int64, period canasta.Period, it canasta.RedemptionItem) (int64, error) {
	var remaining int64
	err := tx.QueryRow(ctx, `UPDATE entitlements SET redeemed = redeemed + $1
WHERE period = $2 AND household_hid = $3 AND program_id = $4 AND granted - redeemed >= $1
RETURNING granted - redeemed`, it.Quantity, string(period), hid, it.ProgramID).Scan(&remaining)
	if err == nil {
		return remaining, nil
	} else if !errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("debit program %d: %w", it.ProgramID, err)
	}

	// Nothing matched: say whether there is no grant or too little of it.
	var code string
	var unit canasta.Unit
	err = tx.QueryRow(ctx, `SELECT e.granted - e.redeemed, p.commodity_code, p.unit
FROM entitlements e JOIN programs p ON p.id = e.program_id
WHERE e.period = $1 AND e.household_hid = $2 AND e.program_id = $3`, string(period), hid, it.ProgramID).Scan(&remaining, &code, &unit)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, canasta.Errorf(canasta.ENOTFOUND, "The household has no grant from program %d for %s.", it.ProgramID, period)
	} else if err != nil {
		return 0, fmt.Errorf("check balance of program %d: %w", it.ProgramID, err)
	}
	return 0, canasta.Errorf(canasta.ECONFLICT, "Only %d %s of %s remain for %s; %d %s were asked for.",
		remaining, unit, code, period, it.Quantity, unit)
}

func insertItems(ctx context.Context, tx *Tx, r *canasta.Redemption) error {
	lines := make([]int32, len(r.Items))
	programs := make([]int64, len(r.Items))
	quantities := make([]int64, len(r.Items))
	remaining := make([]int64, len(r.Items))
	for i, it := range r.Items {
		lines[i], programs[i], quantities[i], remaining[i] = int32(i+1), it.ProgramID, it.Quantity, it.Remaining
	}
	_, err := tx.Exec(ctx, `INSERT INTO redemption_items (redemption_id, line, program_id, quantity, remaining)
SELECT $1, * FROM unnest($2::integer[], $3::bigint[], $4::bigint[], $5::bigint[])`, r.ID, lines, programs, quantities, remaining)
	if err != nil {
		return fmt.Errorf("insert redemption %s items: %w", r.RequestID, err)
	}
	return nil
}

// findRedemption returns a stored receipt and the fingerprint of the
// request that made it. ENOTFOUND.
func findRedemption(ctx context.Context, q querier, requestID string) (*canasta.Redemption, []byte, error) {
	var (
		r           = canasta.Redemption{RequestID: requestID}
		fingerprint []byte
	)
	var auditIndex *int64
	err := q.QueryRow(ctx, `SELECT r.id, r.fingerprint, h.id, r.point_id, r.period, r.created_at, r.audit_index
FROM redemptions r JOIN households h ON h.hid = r.household_hid
WHERE r.request_id = $1`, requestID).Scan(&r.ID, &fingerprint, &r.HouseholdID, &r.PointID, &r.Period, &r.CreatedAt, &auditIndex)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, canasta.Errorf(canasta.ENOTFOUND, "No redemption has request id %q.", requestID)
	} else if err != nil {
		return nil, nil, fmt.Errorf("find redemption %s: %w", requestID, err)
	}
	if auditIndex != nil {
		r.Audit = &canasta.AuditRef{Index: *auditIndex}
	}

	rows, err := q.Query(ctx, `SELECT program_id, quantity, remaining FROM redemption_items
WHERE redemption_id = $1 ORDER BY line`, r.ID)
	if err != nil {
		return nil, nil, fmt.Errorf("find redemption %s items: %w", requestID, err)
	}
	r.Items, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (canasta.RedemptionItem, error) {
		var it canasta.RedemptionItem
		err := row.Scan(&it.ProgramID, &it.Quantity, &it.Remaining)
		return it, err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("find redemption %s items: %w", requestID, err)
	}
	return &r, fingerprint, nil
}
