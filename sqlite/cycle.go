package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/canasta/canasta"
)

// CycleService computes a period's entitlements.
type CycleService struct {
	db *DB
}

var _ canasta.CycleService = (*CycleService)(nil)

// NewCycleService returns the cycle service on db.
func NewCycleService(db *DB) *CycleService {
	return &CycleService{db: db}
}

// Sizes of the cycle's pipeline. A read batch is one short read
// transaction, so a long cycle never pins an old snapshot and stops the
// WAL from being checkpointed. A write batch is one transaction: large
// enough that the fsync at commit is rare, small enough that a redemption
// waiting for the write lock waits a fraction of a second.
const (
	cycleReadBatch       = 2000
	cycleWriteGrants     = 32768
	cycleWriteHouseholds = 8 * cycleReadBatch
	cycleInsertRows      = 128 // rows per INSERT statement; 6 parameters each
)

// cyclePlan is what a run works from, read in one snapshot.
type cyclePlan struct {
	period canasta.Period
	rules  *canasta.CycleRules
	total  int   // households at the start
	maxHID int64 // households registered later wait for the next run
	log    *slog.Logger
}

// cycleHousehold is a household as a rule sees it: only the fields facts
// are made of, and its row id.
type cycleHousehold struct {
	hid int64
	h   *canasta.Household
}

type cycleGrant struct {
	hid, programID, quantity int64
	explanation              string
}

// cycleResult is the outcome of evaluating one read batch.
type cycleResult struct {
	households int
	errors     int
	grants     []cycleGrant
}

// RunCycle evaluates every program for every household and stores the
// grants that do not exist yet. Households stream from the read pool in
// batches of row ids, rules run on GOMAXPROCS workers, and grants are
// written with INSERT ... ON CONFLICT DO NOTHING, so a second run creates
// nothing and a household registered since the last run gets its grants.
func (s *CycleService) RunCycle(ctx context.Context, period canasta.Period, progress func(done, total int)) (*canasta.CycleSummary, error) {
	if _, err := canasta.ParsePeriod(string(period)); err != nil {
		return nil, err
	}
	if s.db.Rules == nil {
		return nil, fmt.Errorf("run cycle: no rule engine configured")
	}
	sum := &canasta.CycleSummary{Period: period, StartedAt: s.db.now()}
	plan, err := s.plan(ctx, period)
	if err != nil {
		return nil, err
	}

	if plan.rules.Len() == 0 {
		sum.Households = plan.total
		if progress != nil {
			progress(plan.total, plan.total)
		}
	} else if err := s.grant(ctx, plan, sum, progress); err != nil {
		return nil, fmt.Errorf("run cycle %s: %w", period, err)
	}
	if err := s.summarize(ctx, sum); err != nil {
		return nil, err
	}
	sum.FinishedAt = s.db.now()
	return sum, nil
}

// grant runs the pipeline: a few readers, GOMAXPROCS rule workers, and
// the calling goroutine as the single writer. The first error stops all.
func (s *CycleService) grant(ctx context.Context, plan *cyclePlan, sum *canasta.CycleSummary, progress func(done, total int)) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	batches := make(chan []cycleHousehold, 2)
	results := make(chan cycleResult, 2)
	var readers, workers sync.WaitGroup
	var nextRange atomic.Int64
	for range min(runtime.GOMAXPROCS(0), 4) {
		readers.Go(func() {
			if err := s.readHouseholds(ctx, plan.maxHID, &nextRange, batches); err != nil {
				cancel(err)
			}
		})
	}
	go func() {
		readers.Wait()
		close(batches)
	}()
	for range runtime.GOMAXPROCS(0) {
		workers.Go(func() { evaluateHouseholds(ctx, plan, batches, results) })
	}
	go func() {
		workers.Wait()
		close(results)
	}()

	if err := s.writeGrants(ctx, plan, results, sum, progress); err != nil {
		cancel(err)
	}
	for range results {
		// Drain, so no worker or reader is left blocked on a send.
	}
	if err := context.Cause(ctx); err != nil {
		return err
	}
	for id, n := range plan.rules.Failures() {
		s.db.logger().Warn("cycle rule failures", "period", string(plan.period), "program", id, "households", n)
	}
	return nil
}

// plan reads the programs, compiles their rules against the current schema
// and fixes the households the run covers.
func (s *CycleService) plan(ctx context.Context, period canasta.Period) (*cyclePlan, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	plan := &cyclePlan{period: period, log: s.db.logger()}
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(MAX(hid), 0) FROM households`).Scan(&plan.total, &plan.maxHID); err != nil {
		return nil, fmt.Errorf("count households: %w", err)
	}
	programs, err := findPrograms(ctx, tx)
	if err != nil {
		return nil, err
	}
	// Retired programs were replaced by a changed rule: they grant no more.
	programs = canasta.ActivePrograms(programs)
	schema, err := findSchema(ctx, tx)
	if err != nil {
		return nil, err
	}
	if plan.rules, err = canasta.CompileCycleRules(s.db.Rules, period, programs, schema); err != nil {
		return nil, err
	}
	return plan, nil
}

// readHouseholds sends batches of the households with row ids up to
// maxHID. Batches are ranges of row ids, taken in turn by several readers
// from next, so reading, the cycle's largest cost short of the rules,
// runs on more than one core. Row ids are dense: they only have gaps
// where an import dropped a household of nobody.
func (s *CycleService) readHouseholds(ctx context.Context, maxHID int64, next *atomic.Int64, out chan<- []cycleHousehold) error {
	for {
		first := next.Add(1)*cycleReadBatch - cycleReadBatch + 1
		if first > maxHID {
			return nil
		}
		batch, err := s.readBatch(ctx, first, min(first+cycleReadBatch-1, maxHID))
		if err != nil {
			return err
		} else if len(batch) == 0 {
			continue
		}
		select {
		case out <- batch:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

// readBatch reads the households with row ids from first to last, each
// with its members, in one short transaction. Names and identifiers are
// not read: rules never see them.
func (s *CycleService) readBatch(ctx context.Context, first, last int64) ([]cycleHousehold, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return readHouseholdRange(ctx, tx, first, last)
}

// readHouseholdRange reads, in tx, what rules see of the households with
// row ids from first to last.
func readHouseholdRange(ctx context.Context, tx *Tx, first, last int64) ([]cycleHousehold, error) {
	rows, err := tx.QueryContext(ctx, `SELECT hid, region, monthly_income, attributes FROM households
WHERE hid >= ? AND hid <= ? ORDER BY hid`, first, last)
	if err != nil {
		return nil, fmt.Errorf("read households: %w", err)
	}
	defer rows.Close()
	batch := make([]cycleHousehold, 0, cycleReadBatch)
	households := make([]canasta.Household, cycleReadBatch)
	for rows.Next() {
		h := &households[len(batch)]
		var hid int64
		var attrs sql.NullString
		if err := rows.Scan(&hid, &h.Address.Region, &h.MonthlyIncome, &attrs); err != nil {
			return nil, fmt.Errorf("scan household: %w", err)
		}
		if h.Attributes, err = decodeAttributes(attrs); err != nil {
			return nil, err
		}
		batch = append(batch, cycleHousehold{hid: hid, h: h})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read households: %w", err)
	}
	if len(batch) == 0 {
		return nil, nil
	}
	if err := readMembers(ctx, tx, batch); err != nil {
		return nil, err
	}
	return batch, nil
}

// readMembers attaches members to a batch ordered by row id, merging the
// two ordered streams.
func readMembers(ctx context.Context, tx *Tx, batch []cycleHousehold) error {
	rows, err := tx.QueryContext(ctx, `SELECT household_hid, birth_date, sex, disability, attributes FROM persons p
WHERE household_hid >= ? AND household_hid <= ? AND `+notMergedSQL+` ORDER BY household_hid, line`,
		batch[0].hid, batch[len(batch)-1].hid, formatTime(tx.now))
	if err != nil {
		return fmt.Errorf("read members: %w", err)
	}
	defer rows.Close()
	// Members are allocated in chunks; a full chunk is left in place, so
	// pointers into it stay valid.
	chunk := make([]canasta.Person, 0, 4*len(batch))
	i := 0
	for rows.Next() {
		var (
			hid   int64
			sex   string
			attrs sql.NullString
		)
		if len(chunk) == cap(chunk) {
			chunk = make([]canasta.Person, 0, cap(chunk))
		}
		chunk = chunk[:len(chunk)+1]
		p := &chunk[len(chunk)-1]
		if err := rows.Scan(&hid, &p.BirthDate, &sex, &p.Disability, &attrs); err != nil {
			return fmt.Errorf("scan member: %w", err)
		}
		p.Sex = canasta.Sex(sex)
		if p.Attributes, err = decodeAttributes(attrs); err != nil {
			return err
		}
		for i < len(batch) && batch[i].hid < hid {
			i++
		}
		if i < len(batch) && batch[i].hid == hid {
			batch[i].h.Members = append(batch[i].h.Members, p)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read members: %w", err)
	}
	return nil
}

// evaluateHouseholds runs every program's rule on each household of each
// batch. A rule failing for one household is counted, not fatal; only the
// first failure of each program is logged, with no personal data, so a
// broken rule does not write a million log lines.
func evaluateHouseholds(ctx context.Context, plan *cyclePlan, in <-chan []cycleHousehold, out chan<- cycleResult) {
	logFirstFailure := func(program int64, err error) {
		plan.log.Warn("cycle rule failed for a household; further failures of the program are only counted",
			"period", string(plan.period), "program", program, "error", errorText(err))
	}
	for batch := range in {
		res := cycleResult{households: len(batch), grants: make([]cycleGrant, 0, len(batch)*plan.rules.Len())}
		for _, ch := range batch {
			grant := func(program, quantity int64, explanation string) {
				res.grants = append(res.grants, cycleGrant{hid: ch.hid, programID: program, quantity: quantity, explanation: explanation})
			}
			if plan.rules.Evaluate(ch.h, grant, logFirstFailure) {
				res.errors++
			}
		}
		select {
		case out <- res:
		case <-ctx.Done():
			return
		}
	}
}

// writeGrants stores the workers' grants in large transactions and reports
// progress after each commit, counting households whose grants are stored.
func (s *CycleService) writeGrants(ctx context.Context, plan *cyclePlan, results <-chan cycleResult, sum *canasta.CycleSummary, progress func(done, total int)) error {
	var pending []cycleGrant
	done, waiting := 0, 0
	flush := func() error {
		n, err := s.insertGrants(ctx, plan.period, pending)
		if err != nil {
			return err
		}
		sum.Created += n
		done += waiting
		pending, waiting = pending[:0], 0
		if progress != nil {
			progress(done, plan.total)
		}
		return nil
	}
	for res := range results {
		pending = append(pending, res.grants...)
		waiting += res.households
		sum.Errors += res.errors
		if len(pending) >= cycleWriteGrants || waiting >= cycleWriteHouseholds {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	sum.Households = done
	return nil
}

// insertGrants writes grants in one transaction and returns how many were
// new. Sorting by key first turns the inserts into appends to the
// period's range of the table.
func (s *CycleService) insertGrants(ctx context.Context, period canasta.Period, grants []cycleGrant) (int, error) {
	if len(grants) == 0 {
		return 0, nil
	}
	slices.SortFunc(grants, func(a, b cycleGrant) int {
		return cmp.Or(cmp.Compare(a.hid, b.hid), cmp.Compare(a.programID, b.programID))
	})
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()

	var full *sql.Stmt
	if len(grants) >= cycleInsertRows {
		if full, err = tx.PrepareContext(ctx, insertGrantsSQL(cycleInsertRows)); err != nil {
			return 0, fmt.Errorf("prepare grants: %w", err)
		}
		defer full.Close()
	}
	all := grants
	created := 0
	now := formatTime(tx.now)
	args := make([]any, 0, 6*cycleInsertRows)
	for len(grants) > 0 {
		chunk := grants[:min(cycleInsertRows, len(grants))]
		grants = grants[len(chunk):]
		args = args[:0]
		for _, g := range chunk {
			args = append(args, string(period), g.hid, g.programID, g.quantity, g.explanation, now)
		}
		var r sql.Result
		if len(chunk) == cycleInsertRows {
			r, err = full.ExecContext(ctx, args...)
		} else {
			r, err = tx.ExecContext(ctx, insertGrantsSQL(len(chunk)), args...)
		}
		if err != nil {
			return 0, fmt.Errorf("insert grants: %w", err)
		}
		created += int(rowsAffected(r))
	}
	if created > 0 {
		if err := auditGrants(ctx, tx, period, all, created); err != nil {
			return 0, err
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("commit grants: %w", err)
	}
	return created, nil
}

func insertGrantsSQL(rows int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO entitlements (period, household_hid, program_id, granted, explanation, created_at) VALUES `)
	for i := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`(?,?,?,?,?,?)`)
	}
	b.WriteString(` ON CONFLICT DO NOTHING`)
	return b.String()
}

// summarize counts the period's grants, whether made by this run or an
// earlier one, and totals them by commodity.
func (s *CycleService) summarize(ctx context.Context, sum *canasta.CycleSummary) error {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	// Aggregating by program before joining keeps the join to a few rows.
	rows, err := tx.QueryContext(ctx, `SELECT p.commodity_code, p.unit, SUM(t.n), SUM(t.granted)
FROM (SELECT program_id, COUNT(*) AS n, SUM(granted) AS granted FROM entitlements WHERE period = ? GROUP BY program_id) t
JOIN programs p ON p.id = t.program_id
GROUP BY p.commodity_code, p.unit
ORDER BY p.commodity_code, p.unit`, string(sum.Period))
	if err != nil {
		return fmt.Errorf("summarize cycle: %w", err)
	}
	defer rows.Close()
	sum.Totals = []canasta.CommodityTotal{}
	sum.Entitlements = 0
	for rows.Next() {
		var t canasta.CommodityTotal
		var n int
		if err := rows.Scan(&t.Commodity, &t.Unit, &n, &t.Granted); err != nil {
			return fmt.Errorf("scan cycle total: %w", err)
		}
		sum.Entitlements += n
		sum.Totals = append(sum.Totals, t)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("summarize cycle: %w", err)
	}
	return nil
}

// errorText is an error's user message when it is an application error,
// whose text is meant to be read, and its full text otherwise.
func errorText(err error) string {
	var e *canasta.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}

// auditGrants appends one entry for a transaction's grants, fixing them by
// digest: a cycle is recorded batch by batch, as it commits.
func auditGrants(ctx context.Context, tx *Tx, period canasta.Period, grants []cycleGrant, created int) error {
	rows := make([][3]int64, len(grants))
	for i, g := range grants {
		rows[i] = [3]int64{g.hid, g.programID, g.quantity}
	}
	return auditPublic(ctx, tx, canasta.AuditCycleGrants, map[string]string{
		"period": string(period),
		"grants": strconv.Itoa(created),
	}, struct {
		Period canasta.Period `json:"period"`
		Grants [][3]int64     `json:"grants"`
	}{period, rows})
}
