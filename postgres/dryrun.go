package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/canasta/canasta"
	"github.com/jackc/pgx/v5"
)

// DryRunService evaluates proposed program rules over the registry
// without writing anything.
type DryRunService struct {
	db *DB
}

var _ canasta.DryRunService = (*DryRunService)(nil)

// NewDryRunService returns the dry-run service on db.
func NewDryRunService(db *DB) *DryRunService {
	return &DryRunService{db: db}
}

// DryRun reads the registry as a cycle does, in ranges of row ids on a
// few readers, each range on one snapshot with the stored grants of the
// same households, and evaluates on GOMAXPROCS workers that each keep
// their own tally.
func (s *DryRunService) DryRun(ctx context.Context, req *canasta.DryRunRequest) (_ *canasta.DryRun, err error) {
	defer checkAvailable(&err)
	if err := req.Validate(); err != nil {
		return nil, err
	}
	if s.db.Rules == nil {
		return nil, fmt.Errorf("dry run: no rule engine configured")
	}
	started := s.db.now()
	r := *req
	if r.Period == "" {
		r.Period = canasta.PeriodOf(started)
	}
	plan, maxHID, err := s.plan(ctx, &r)
	if err != nil {
		return nil, err
	}
	res, keys, err := plan.Run(ctx, cycleReaders, maxHID, cycleReadBatch, func(ctx context.Context, first, last int64) ([]canasta.DryRunHousehold, error) {
		return s.readBatch(ctx, &r, plan.Baseline(), first, last)
	})
	if err != nil {
		return nil, err
	}
	if err := s.fillSample(ctx, res, keys); err != nil {
		return nil, err
	}
	res.StartedAt, res.FinishedAt = started, s.db.now()
	return res, nil
}

// plan reads the program, the schema and the extent of the registry in
// one snapshot, and picks the baseline: the period's stored grants once
// its cycle has run, the current rule before.
func (s *DryRunService) plan(ctx context.Context, req *canasta.DryRunRequest) (*canasta.DryRunPlan, int64, error) {
	ctx, tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer tx.release()

	rows, err := tx.Query(ctx, `SELECT `+programColumns+` FROM programs WHERE id = $1`, req.ProgramID)
	if err != nil {
		return nil, 0, fmt.Errorf("find program %d: %w", req.ProgramID, err)
	}
	current, err := pgx.CollectExactlyOneRow(rows, scanProgram)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, 0, canasta.Errorf(canasta.ENOTFOUND, "Program %d not found.", req.ProgramID)
	} else if err != nil {
		return nil, 0, fmt.Errorf("find program %d: %w", req.ProgramID, err)
	}
	var maxHID int64
	if err := tx.QueryRow(ctx, `SELECT COALESCE(max(hid), 0) FROM households`).Scan(&maxHID); err != nil {
		return nil, 0, fmt.Errorf("count households: %w", err)
	}
	var cycled bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM entitlements WHERE period = $1)`, string(req.Period)).Scan(&cycled); err != nil {
		return nil, 0, fmt.Errorf("find period grants: %w", err)
	}
	baseline := canasta.DryRunBaselineRule
	if cycled {
		baseline = canasta.DryRunBaselineGrants
	}
	schema, err := findSchema(ctx, tx)
	if err != nil {
		return nil, 0, err
	}
	plan, err := canasta.CompileDryRun(s.db.Rules, req, current, schema, baseline)
	if err != nil {
		return nil, 0, err
	}
	return plan, maxHID, nil
}

// readBatch reads the households with row ids first to last and, with the
// grants baseline, their stored grants from the program.
func (s *DryRunService) readBatch(ctx context.Context, req *canasta.DryRunRequest, baseline string, first, last int64) ([]canasta.DryRunHousehold, error) {
	ctx, tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.release()

	hs, err := readHouseholdRange(ctx, tx, first, last)
	if err != nil || len(hs) == 0 {
		return nil, err
	}
	b := make([]canasta.DryRunHousehold, len(hs))
	for i, ch := range hs {
		b[i] = canasta.DryRunHousehold{Key: ch.hid, Household: ch.h}
	}
	if baseline != canasta.DryRunBaselineGrants {
		return b, nil
	}
	rows, err := tx.Query(ctx, `SELECT household_hid, granted FROM entitlements
WHERE period = $1 AND household_hid BETWEEN $2 AND $3 AND program_id = $4 ORDER BY household_hid`,
		string(req.Period), first, last, req.ProgramID)
	if err != nil {
		return nil, fmt.Errorf("read grants: %w", err)
	}
	defer rows.Close()
	i := 0
	var hid, granted int64
	for rows.Next() {
		if err := rows.Scan(&hid, &granted); err != nil {
			return nil, fmt.Errorf("scan grant: %w", err)
		}
		for i < len(hs) && hs[i].hid < hid {
			i++
		}
		if i < len(hs) && hs[i].hid == hid {
			b[i].Stored = granted
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read grants: %w", err)
	}
	return b, nil
}

// fillSample sets the sample's household ids and, for households that
// hold a grant, the explanation stored with it. It reads no more of any
// record, so it is not a read the access log records.
func (s *DryRunService) fillSample(ctx context.Context, res *canasta.DryRun, keys []int64) error {
	if len(keys) == 0 {
		return nil
	}
	ctx, tx, err := s.db.beginRead(ctx)
	if err != nil {
		return err
	}
	defer tx.release()

	ids := map[int64]string{}
	rows, err := tx.Query(ctx, `SELECT h.hid, h.id, e.explanation FROM households h
LEFT JOIN entitlements e ON e.period = $2 AND e.household_hid = h.hid AND e.program_id = $3
WHERE h.hid = ANY($1)`, keys, string(res.Period), res.ProgramID)
	if err != nil {
		return fmt.Errorf("find sample: %w", err)
	}
	defer rows.Close()
	explanations := map[int64]string{}
	for rows.Next() {
		var hid int64
		var id string
		var explanation *string
		if err := rows.Scan(&hid, &id, &explanation); err != nil {
			return fmt.Errorf("scan sample: %w", err)
		}
		ids[hid] = id
		if explanation != nil {
			explanations[hid] = *explanation
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("find sample: %w", err)
	}
	for i, k := range keys {
		res.Sample[i].HouseholdID = ids[k]
		if e, ok := explanations[k]; ok && res.Baseline == canasta.DryRunBaselineGrants {
			res.Sample[i].BeforeExplanation = e
		}
	}
	return nil
}
