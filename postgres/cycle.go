package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strconv"
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

// Sizes of the cycle's pipeline. A read batch is one short transaction, so
// a long cycle holds no snapshot that would keep vacuum from its work. A
// write is one INSERT of arrays, in its own transaction: large enough that
// round trips and commits are rare, small enough to stay well inside the
// DB's timeout.
const (
	cycleReadBatch       = 2000
	cycleReaders         = 2
	cycleWriteGrants     = 16384
	cycleWriteHouseholds = 8 * cycleReadBatch // so progress moves even when few are granted
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

// cycleResult is the outcome of evaluating one read batch, as the columns
// of the grants it makes.
type cycleResult struct {
	households int
	errors     int
	grants     cycleGrants
}

type cycleGrants struct {
	hids, programs, quantities []int64
	explanations               []string
}

func (g *cycleGrants) add(hid, program, quantity int64, explanation string) {
	g.hids = append(g.hids, hid)
	g.programs = append(g.programs, program)
	g.quantities = append(g.quantities, quantity)
	g.explanations = append(g.explanations, explanation)
}

func (g *cycleGrants) append(o cycleGrants) {
	g.hids = append(g.hids, o.hids...)
	g.programs = append(g.programs, o.programs...)
	g.quantities = append(g.quantities, o.quantities...)
	g.explanations = append(g.explanations, o.explanations...)
}

func (g *cycleGrants) reset() {
	g.hids, g.programs, g.quantities, g.explanations = g.hids[:0], g.programs[:0], g.quantities[:0], g.explanations[:0]
}

func (g *cycleGrants) len() int { return len(g.hids) }

// RunCycle evaluates every program for every household and stores the
// grants that do not exist yet. Households stream in batches of row ids
// from a few readers, rules run on GOMAXPROCS workers, and grants are
// written with INSERT ... ON CONFLICT DO NOTHING, so a second run creates
// nothing, a household registered since the last run gets its grants, and
// two servers running the same cycle at once grant each household once.
func (s *CycleService) RunCycle(ctx context.Context, period canasta.Period, progress func(done, total int)) (_ *canasta.CycleSummary, err error) {
	defer checkAvailable(&err)
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
	// A cycle writes a period's grants at once, usually after an import,
	// and autovacuum may not analyze them for a minute or more. Until it
	// does, the statements that follow are planned for the tables as they
	// were before, and a generic plan a connection fixes meanwhile (after
	// a statement's fifth run) keeps that choice.
	if sum.Created > 0 {
		if _, err := s.db.pool.Exec(ctx, `ANALYZE households, entitlements`); err != nil {
			return nil, fmt.Errorf("run cycle %s: analyze: %w", period, err)
		}
	}
	sum.FinishedAt = s.db.now()
	return sum, nil
}

// grant runs the pipeline: readers, GOMAXPROCS rule workers, and the
// calling goroutine as the single writer. The first error stops all.
func (s *CycleService) grant(ctx context.Context, plan *cyclePlan, sum *canasta.CycleSummary, progress func(done, total int)) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	batches := make(chan []cycleHousehold, 2)
	results := make(chan cycleResult, 2)
	var readers, workers sync.WaitGroup
	var nextRange atomic.Int64
	for range cycleReaders {
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
	ctx, tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.release()

	plan := &cyclePlan{period: period, log: s.db.logger()}
	if err := tx.QueryRow(ctx, `SELECT count(*), COALESCE(max(hid), 0) FROM households`).Scan(&plan.total, &plan.maxHID); err != nil {
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
// maxHID. Batches are ranges of row ids, taken in turn by the readers from
// next. Row ids have gaps where a sequence value went unused; a range may
// hold fewer households than its width, or none.
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
// with its members, on one snapshot. Names and identifiers are not read:
// rules never see them.
func (s *CycleService) readBatch(ctx context.Context, first, last int64) ([]cycleHousehold, error) {
	ctx, tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.release()
	return readHouseholdRange(ctx, tx, first, last)
}

// readHouseholdRange reads, in tx, what rules see of the households with
// row ids from first to last.
func readHouseholdRange(ctx context.Context, tx *Tx, first, last int64) ([]cycleHousehold, error) {
	rows, err := tx.Query(ctx, `SELECT hid, region, monthly_income, attributes FROM households
WHERE hid BETWEEN $1 AND $2 ORDER BY hid`, first, last)
	if err != nil {
		return nil, fmt.Errorf("read households: %w", err)
	}
	defer rows.Close()
	batch := make([]cycleHousehold, 0, cycleReadBatch)
	households := make([]canasta.Household, cycleReadBatch)
	var attrs []byte
	for rows.Next() {
		h := &households[len(batch)]
		var hid int64
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
	rows, err := tx.Query(ctx, `SELECT household_hid, birth_date, sex, disability, attributes FROM persons p
WHERE household_hid BETWEEN $1 AND $2 AND NOT EXISTS (SELECT 1 FROM dedup_cases c WHERE c.household_hid = p.household_hid
	AND c.line = p.line AND c.status = 'confirmed' AND c.effective_at <= $3)
ORDER BY household_hid, line`, batch[0].hid, batch[len(batch)-1].hid, tx.now)
	if err != nil {
		return fmt.Errorf("read members: %w", err)
	}
	defer rows.Close()
	// Members are allocated in chunks; a full chunk is left in place, so
	// pointers into it stay valid.
	chunk := make([]canasta.Person, 0, 4*len(batch))
	i := 0
	var (
		hid   int64
		sex   string
		attrs []byte
	)
	for rows.Next() {
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
		res := cycleResult{households: len(batch)}
		for _, ch := range batch {
			grant := func(program, quantity int64, explanation string) {
				res.grants.add(ch.hid, program, quantity, explanation)
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

// writeGrants stores the workers' grants and reports progress after each
// write, counting households whose grants are stored.
func (s *CycleService) writeGrants(ctx context.Context, plan *cyclePlan, results <-chan cycleResult, sum *canasta.CycleSummary, progress func(done, total int)) error {
	var pending cycleGrants
	done, waiting := 0, 0
	flush := func() error {
		n, err := s.insertGrants(ctx, plan.period, &pending)
		if err != nil {
			return err
		}
		sum.Created += n
		done += waiting
		pending.reset()
		waiting = 0
		if progress != nil {
			progress(done, plan.total)
		}
		return nil
	}
	for res := range results {
		pending.append(res.grants)
		waiting += res.households
		sum.Errors += res.errors
		if pending.len() >= cycleWriteGrants || waiting >= cycleWriteHouseholds {
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

// insertGrants writes grants in one statement and returns how many were
// new. Sorting by key first makes the inserts appends to the primary key's
// index, which leads with the period.
func (s *CycleService) insertGrants(ctx context.Context, period canasta.Period, g *cycleGrants) (int, error) {
	if g.len() == 0 {
		return 0, nil
	}
	order := make([]int, g.len())
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		return cmp.Or(cmp.Compare(g.hids[a], g.hids[b]), cmp.Compare(g.programs[a], g.programs[b]))
	})
	var sorted cycleGrants
	for _, i := range order {
		sorted.add(g.hids[i], g.programs[i], g.quantities[i], g.explanations[i])
	}

	ctx, tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.release()
	tag, err := tx.Exec(ctx, `INSERT INTO entitlements (period, household_hid, program_id, granted, explanation, created_at)
SELECT $1, g.hid, g.program_id, g.granted, g.explanation, $6
FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::text[]) AS g (hid, program_id, granted, explanation)
ON CONFLICT DO NOTHING`, string(period), sorted.hids, sorted.programs, sorted.quantities, sorted.explanations, tx.now)
	if err != nil {
		return 0, fmt.Errorf("insert grants: %w", err)
	}
	created := int(tag.RowsAffected())
	if created > 0 {
		if err := auditGrants(ctx, tx, period, &sorted, created); err != nil {
			return 0, err
		}
	}
	if err := tx.commit("grants"); err != nil {
		return 0, err
	}
	return created, nil
}

// auditGrants appends one entry for a transaction's grants, fixing them by
// digest: a cycle is recorded batch by batch, as it commits.
func auditGrants(ctx context.Context, tx *Tx, period canasta.Period, g *cycleGrants, created int) error {
	rows := make([][3]int64, g.len())
	for i := range rows {
		rows[i] = [3]int64{g.hids[i], g.programs[i], g.quantities[i]}
	}
	return auditPublic(ctx, tx, canasta.AuditCycleGrants, map[string]string{
		"period": string(period),
		"grants": strconv.Itoa(created),
	}, struct {
		Period canasta.Period `json:"period"`
		Grants [][3]int64     `json:"grants"`
	}{period, rows})
}

// summarize counts the period's grants, whether made by this run or an
// earlier one, and totals them by commodity.
func (s *CycleService) summarize(ctx context.Context, sum *canasta.CycleSummary) error {
	ctx, cancel := s.db.withTimeout(ctx)
	defer cancel()

	// Aggregating by program before joining keeps the join to a few rows.
	rows, err := s.db.pool.Query(ctx, `SELECT p.commodity_code, p.unit, sum(t.n)::bigint, sum(t.granted)::bigint
FROM (SELECT program_id, count(*) AS n, sum(granted) AS granted FROM entitlements WHERE period = $1 GROUP BY program_id) t
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
