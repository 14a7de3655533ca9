package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/canasta/canasta"
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

// dryRunBatch is a read batch with each household's stored grant from the
// program (0 for none), in the same order.
type dryRunBatch struct {
	households []cycleHousehold
	stored     []int64
}

// DryRun reads the registry as a cycle does, in ranges of row ids on a
// few readers, each range in one short read transaction with the stored
// grants of the same households, and evaluates on GOMAXPROCS workers that
// each keep their own tally.
func (s *DryRunService) DryRun(ctx context.Context, req *canasta.DryRunRequest) (*canasta.DryRun, error) {
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

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	batches := make(chan dryRunBatch, 2)
	var readers, workers sync.WaitGroup
	var next atomic.Int64
	for range min(runtime.GOMAXPROCS(0), 4) {
		readers.Go(func() {
			if err := s.read(ctx, &r, plan.Baseline(), maxHID, &next, batches); err != nil {
				cancel(err)
			}
		})
	}
	go func() {
		readers.Wait()
		close(batches)
	}()
	tallies := make([]*canasta.DryRunTally, runtime.GOMAXPROCS(0))
	for i := range tallies {
		tallies[i] = plan.NewTally()
		workers.Go(func() {
			for b := range batches {
				for j, ch := range b.households {
					plan.Evaluate(tallies[i], ch.hid, ch.h, b.stored[j])
				}
			}
		})
	}
	workers.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, fmt.Errorf("dry run of program %d: %w", r.ProgramID, err)
	}

	res, keys, err := plan.Result(tallies)
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
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback()

	current, err := scanProgram(tx.QueryRowContext(ctx, `SELECT `+programColumns+` FROM programs WHERE id = ?`, req.ProgramID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, canasta.Errorf(canasta.ENOTFOUND, "Program %d not found.", req.ProgramID)
	} else if err != nil {
		return nil, 0, err
	}
	var maxHID int64
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(hid), 0) FROM households`).Scan(&maxHID); err != nil {
		return nil, 0, fmt.Errorf("count households: %w", err)
	}
	var cycled bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM entitlements WHERE period = ?)`, string(req.Period)).Scan(&cycled); err != nil {
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

// read sends batches of the households with row ids up to maxHID, ranges
// taken in turn from next.
func (s *DryRunService) read(ctx context.Context, req *canasta.DryRunRequest, baseline string, maxHID int64, next *atomic.Int64, out chan<- dryRunBatch) error {
	for {
		first := next.Add(1)*cycleReadBatch - cycleReadBatch + 1
		if first > maxHID {
			return nil
		}
		b, err := s.readBatch(ctx, req, baseline, first, min(first+cycleReadBatch-1, maxHID))
		if err != nil {
			return err
		} else if len(b.households) == 0 {
			continue
		}
		select {
		case out <- b:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

func (s *DryRunService) readBatch(ctx context.Context, req *canasta.DryRunRequest, baseline string, first, last int64) (dryRunBatch, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return dryRunBatch{}, err
	}
	defer tx.Rollback()

	hs, err := readHouseholdRange(ctx, tx, first, last)
	if err != nil || len(hs) == 0 {
		return dryRunBatch{}, err
	}
	b := dryRunBatch{households: hs, stored: make([]int64, len(hs))}
	if baseline != canasta.DryRunBaselineGrants {
		return b, nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT household_hid, granted FROM entitlements
WHERE period = ? AND household_hid >= ? AND household_hid <= ? AND program_id = ? ORDER BY household_hid`,
		string(req.Period), first, last, req.ProgramID)
	if err != nil {
		return dryRunBatch{}, fmt.Errorf("read grants: %w", err)
	}
	defer rows.Close()
	i := 0
	for rows.Next() {
		var hid, granted int64
		if err := rows.Scan(&hid, &granted); err != nil {
			return dryRunBatch{}, fmt.Errorf("scan grant: %w", err)
		}
		for i < len(hs) && hs[i].hid < hid {
			i++
		}
		if i < len(hs) && hs[i].hid == hid {
			b.stored[i] = granted
		}
	}
	if err := rows.Err(); err != nil {
		return dryRunBatch{}, fmt.Errorf("read grants: %w", err)
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
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	marks := strings.TrimSuffix(strings.Repeat("?,", len(keys)), ",")
	args := make([]any, 0, len(keys)+2)
	for _, k := range keys {
		args = append(args, k)
	}
	ids := map[int64]string{}
	rows, err := tx.QueryContext(ctx, `SELECT hid, id FROM households WHERE hid IN (`+marks+`)`, args...)
	if err != nil {
		return fmt.Errorf("find sample ids: %w", err)
	}
	for rows.Next() {
		var hid int64
		var id string
		if err := rows.Scan(&hid, &id); err != nil {
			rows.Close()
			return fmt.Errorf("scan sample id: %w", err)
		}
		ids[hid] = id
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("find sample ids: %w", err)
	}

	explanations := map[int64]string{}
	if res.Baseline == canasta.DryRunBaselineGrants {
		args = append(args, string(res.Period), res.ProgramID)
		rows, err := tx.QueryContext(ctx, `SELECT household_hid, explanation FROM entitlements
WHERE household_hid IN (`+marks+`) AND period = ? AND program_id = ?`, args...)
		if err != nil {
			return fmt.Errorf("find sample explanations: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var hid int64
			var explanation string
			if err := rows.Scan(&hid, &explanation); err != nil {
				return fmt.Errorf("scan sample explanation: %w", err)
			}
			explanations[hid] = explanation
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("find sample explanations: %w", err)
		}
	}
	for i, k := range keys {
		res.Sample[i].HouseholdID = ids[k]
		if e, ok := explanations[k]; ok {
			res.Sample[i].BeforeExplanation = e
		}
	}
	return nil
}
