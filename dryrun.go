package canasta

import (
	"cmp"
	"context"
	"fmt"
	"math/big"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// DryRunRequest proposes a new version of a program's rule: what the
// program would grant, for every household registered now, if Proposal
// replaced it. Programs carry no price, so a request may give one for the
// cost of the change.
type DryRunRequest struct {
	ProgramID int64
	// Proposal has the fields of a program as it would be published; its
	// ID and CreatedAt are ignored.
	Proposal Program
	// Period is the month compared; "" means the period current at the
	// service's clock. Ages are computed at its first day.
	Period Period
	// UnitCost, if not nil, prices the commodity, which the proposal must
	// then keep.
	UnitCost *UnitCost
}

// UnitCost is the price of a commodity: Minor minor currency units for
// every Per base units (150 for 1000 g), so prices below one minor unit
// per base unit stay exact.
type UnitCost struct {
	Minor int64 `json:"minor"`
	Per   int64 `json:"per"` // 0 means 1
}

// Cost returns the price of quantity base units, rounded to the nearest
// minor unit. ok is false if the result does not fit an int64.
func (c UnitCost) Cost(quantity int64) (cost int64, ok bool) {
	per := max(c.Per, 1)
	n := new(big.Int).Mul(big.NewInt(quantity), big.NewInt(c.Minor))
	n.Add(n, big.NewInt(per/2))
	n.Quo(n, big.NewInt(per))
	return n.Int64(), n.IsInt64()
}

// Validate checks the request's form; the rule itself is checked when it
// is compiled against the schema.
func (r *DryRunRequest) Validate() error {
	if r.ProgramID <= 0 {
		return Errorf(ENOTFOUND, "There is no program with id %d.", r.ProgramID)
	}
	if err := r.Proposal.Validate(); err != nil {
		return err
	}
	if r.Period != "" {
		if _, err := ParsePeriod(string(r.Period)); err != nil {
			return err
		}
	}
	if c := r.UnitCost; c != nil && (c.Minor < 0 || c.Per < 0) {
		return Errorf(EINVALID, "A unit cost must be zero or more minor units per a positive number of base units.")
	}
	return nil
}

// Outcomes of a dry run for one household.
const (
	DryRunGain   = "gain"   // granted nothing before, something now
	DryRunLose   = "lose"   // granted something before, nothing now
	DryRunChange = "change" // granted before and now, a different quantity
)

// Baselines a dry run compares against.
const (
	// DryRunBaselineGrants compares with the grants stored for the period,
	// once its cycle has run: what households actually hold.
	DryRunBaselineGrants = "grants"
	// DryRunBaselineRule compares with the current rule evaluated now, for
	// a period whose cycle has not run.
	DryRunBaselineRule = "rule"
)

// MaxDryRunSample bounds the affected households a dry run shows.
const MaxDryRunSample = 20

// DryRun is what a proposed rule would change. Every household registered
// when the run started counts in exactly one of Gain, Lose, Keep, Change
// and Neither; a household the proposed rule fails on counts as granted
// nothing, as a cycle would grant it nothing.
type DryRun struct {
	ProgramID  int64  `json:"program_id"`
	Period     Period `json:"period"`
	Baseline   string `json:"baseline"`
	Households int    `json:"households"`
	Gain       int    `json:"gain"`
	Lose       int    `json:"lose"`
	Keep       int    `json:"keep"` // the same quantity before and now
	Change     int    `json:"change"`
	Neither    int    `json:"neither"` // granted nothing before or now
	// Errors counts the households the proposed rule failed on, and
	// FirstError says why for one of them (no personal data: the rule's
	// message names the program and the failing part).
	Errors     int    `json:"errors"`
	FirstError string `json:"first_error,omitempty"`
	// BaselineErrors counts households the current rule failed on, with
	// the rule baseline; they count as granted nothing before.
	BaselineErrors int           `json:"baseline_errors"`
	Totals         []DryRunTotal `json:"totals"`
	// Costs are in minor currency units, only when a unit cost was given.
	UnitCost   *UnitCost `json:"unit_cost,omitempty"`
	CostBefore *int64    `json:"cost_before,omitempty"`
	CostAfter  *int64    `json:"cost_after,omitempty"`
	CostChange *int64    `json:"cost_change,omitempty"`
	// Sample is up to MaxDryRunSample affected households, drawn evenly
	// from gains, losses and changes, the same on every run over the same
	// registry.
	Sample     []DryRunSample `json:"sample"`
	StartedAt  time.Time      `json:"started_at"`
	FinishedAt time.Time      `json:"finished_at"`
}

// DryRunTotal is the change in one commodity's total grant.
type DryRunTotal struct {
	Commodity string `json:"commodity"`
	Unit      Unit   `json:"unit"`
	Before    int64  `json:"before"`
	After     int64  `json:"after"`
	Change    int64  `json:"change"`
}

// DryRunSample is one affected household: its opaque id and the two
// outcomes with their explanations, nothing else of its record.
type DryRunSample struct {
	HouseholdID       string `json:"household_id"`
	Outcome           string `json:"outcome"`
	Before            int64  `json:"before"`
	After             int64  `json:"after"`
	BeforeExplanation string `json:"before_explanation"`
	AfterExplanation  string `json:"after_explanation"`
}

// DryRunService evaluates proposed rules without publishing them.
type DryRunService interface {
	// DryRun evaluates req.Proposal for every household registered when
	// it starts and compares the outcome with the period's stored grants
	// of the program, or, when no cycle has run for the period, with the
	// program's current rule. Nothing is written and no record is read in
	// a way the access log records: the result holds household ids and
	// explanations only. Admins only. ENOTFOUND for an unknown program;
	// EINVALID for a malformed request, a proposal that does not compile,
	// a unit cost with a changed commodity, or, with the rule baseline, a
	// current rule that no longer compiles.
	DryRun(ctx context.Context, req *DryRunRequest) (*DryRun, error)
}

// fastEvaluator is a rule that can skip its explanation; a dry run needs
// explanations for its sample only.
type fastEvaluator interface {
	EvaluateFast(f *Facts) (Grant, error)
}

// DryRunPlan is a proposal and the current rule compiled for one dry run.
// Every store's dry run uses it, so they count alike. It is safe for
// concurrent use; each goroutine keeps its own dryRunTally.
type DryRunPlan struct {
	req      DryRunRequest
	current  *Program
	baseline string
	day      time.Time
	proposal Rule
	rule     Rule // the current rule; nil with the grants baseline if it no longer compiles
}

// CompileDryRun checks req against the current program and compiles both
// rules against the schema. req.Period must be set; baseline is
// DryRunBaselineGrants or DryRunBaselineRule.
func CompileDryRun(engine RuleEngine, req *DryRunRequest, current *Program, schema *Schema, baseline string) (*DryRunPlan, error) {
	if _, err := ParsePeriod(string(req.Period)); err != nil {
		return nil, err
	}
	if req.UnitCost != nil && req.Proposal.Commodity != current.Commodity {
		return nil, Errorf(EINVALID, "A unit cost prices one commodity: give one only when the proposal keeps the program's commodity (%s in %s).",
			current.Commodity.Code, current.Commodity.Unit)
	}
	p := &DryRunPlan{req: *req, current: current, baseline: baseline, day: req.Period.Start()}
	p.req.Proposal.ID = current.ID
	var err error
	if p.proposal, err = engine.Compile(&p.req.Proposal, schema); ErrorCode(err) == EINTERNAL {
		return nil, err
	} else if err != nil {
		return nil, Errorf(EINVALID, "The proposed rule does not compile: %s", ErrorMessage(err))
	}
	if p.rule, err = engine.Compile(current, schema); ErrorCode(err) == EINTERNAL {
		return nil, err
	} else if err != nil {
		if baseline == DryRunBaselineRule {
			return nil, Errorf(EINVALID, "The current rule of program %d no longer compiles, so there is nothing to compare with: %s", current.ID, ErrorMessage(err))
		}
		p.rule = nil
	}
	return p, nil
}

// Baseline returns what the plan compares against.
func (p *DryRunPlan) Baseline() string { return p.baseline }

// DryRunHousehold is a household a store read for a dry run: Key is the
// store's permanent number for it, which picks the sample and later finds
// its id, and Stored its grant from the program in the period (0 for
// none), used with the grants baseline.
type DryRunHousehold struct {
	Key       int64
	Household *Household
	Stored    int64
}

// Run evaluates the plan over the registry, read as a cycle reads it: in
// ranges of rangeSize keys from 1 to maxKey, taken in turn by readers
// goroutines that each call readRange, and evaluated on GOMAXPROCS
// workers that each keep their own tally. The first error stops the run.
// The sample's household ids, and with the grants baseline the stored
// explanations of sampled households that held a grant, are left for the
// store to fill in: keys[i] is the key of Sample[i].
func (p *DryRunPlan) Run(ctx context.Context, readers int, maxKey, rangeSize int64,
	readRange func(ctx context.Context, first, last int64) ([]DryRunHousehold, error)) (res *DryRun, keys []int64, err error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	batches := make(chan []DryRunHousehold, 2)
	var reading, working sync.WaitGroup
	var next atomic.Int64
	for range readers {
		reading.Go(func() {
			for {
				first := next.Add(1)*rangeSize - rangeSize + 1
				if first > maxKey {
					return
				}
				b, err := readRange(ctx, first, min(first+rangeSize-1, maxKey))
				if err != nil {
					cancel(err)
					return
				}
				if len(b) == 0 {
					continue
				}
				select {
				case batches <- b:
				case <-ctx.Done():
					return
				}
			}
		})
	}
	go func() {
		reading.Wait()
		close(batches)
	}()
	tallies := make([]*dryRunTally, runtime.GOMAXPROCS(0))
	for i := range tallies {
		tallies[i] = &dryRunTally{}
		working.Go(func() {
			for b := range batches {
				for _, h := range b {
					p.evaluate(tallies[i], h.Key, h.Household, h.Stored)
				}
			}
		})
	}
	working.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, nil, fmt.Errorf("dry run of program %d: %w", p.current.ID, err)
	}
	return p.result(tallies)
}

// dryRunTally counts the outcomes for the households one goroutine
// evaluated.
type dryRunTally struct {
	counts         [5]int // by outcome index
	errors         int
	baselineErrors int
	firstError     string
	before, after  int64
	sample         [3][]dryRunCandidate // gain, lose, change
}

const (
	outcomeGain = iota
	outcomeLose
	outcomeChange
	outcomeKeep
	outcomeNeither
)

var outcomeNames = [3]string{DryRunGain, DryRunLose, DryRunChange}

type dryRunCandidate struct {
	rank, key int64
	sample    DryRunSample
}

// evaluate counts one household (DryRunHousehold says what key and
// stored are).
func (p *DryRunPlan) evaluate(t *dryRunTally, key int64, h *Household, stored int64) {
	facts := NewFacts(h, p.day)
	before := stored
	if p.baseline == DryRunBaselineRule {
		before = 0
		if g, err := evaluateFast(p.rule, facts); err != nil {
			t.baselineErrors++
		} else if g.Eligible {
			before = g.Quantity
		}
	}
	var after int64
	if g, err := evaluateFast(p.proposal, facts); err != nil {
		t.errors++
		if t.firstError == "" {
			t.firstError = ErrorMessage(err)
		}
	} else if g.Eligible {
		after = g.Quantity
	}
	t.before += before
	t.after += after

	var outcome int
	switch {
	case before == 0 && after == 0:
		outcome = outcomeNeither
	case before == 0:
		outcome = outcomeGain
	case after == 0:
		outcome = outcomeLose
	case before == after:
		outcome = outcomeKeep
	default:
		outcome = outcomeChange
	}
	t.counts[outcome]++
	if outcome < len(t.sample) {
		p.consider(t, outcome, key, facts, before, after)
	}
}

// evaluateFast evaluates without an explanation where the rule can, and
// refuses a negative quantity as a cycle does.
func evaluateFast(r Rule, f *Facts) (Grant, error) {
	var g Grant
	var err error
	if fr, ok := r.(fastEvaluator); ok {
		g, err = fr.EvaluateFast(f)
	} else {
		g, err = r.Evaluate(f)
	}
	if err == nil && g.Quantity < 0 {
		return Grant{}, Errorf(EINVALID, "The rule gave a negative quantity.")
	}
	if !g.Eligible {
		g.Quantity = 0
	}
	return g, err
}

// consider keeps the household among the sample candidates if its rank
// is among the lowest of its outcome. Ranks are a hash of the key, so the
// sample is spread over the registry yet the same on every run; the
// explanations are computed only for candidates.
func (p *DryRunPlan) consider(t *dryRunTally, outcome int, key int64, facts *Facts, before, after int64) {
	rank := sampleRank(key)
	cands := t.sample[outcome]
	worst := -1
	if len(cands) == MaxDryRunSample {
		worst = 0
		for i, c := range cands {
			if c.rank > cands[worst].rank {
				worst = i
			}
		}
		if rank >= cands[worst].rank {
			return
		}
	}
	s := DryRunSample{Outcome: outcomeNames[outcome], Before: before, After: after}
	s.AfterExplanation = explanation(p.proposal.Evaluate(facts))
	if p.rule != nil {
		// With stored grants the store fills in the stored explanation; the
		// current rule explains only a household holding nothing, and only
		// if it still grants it nothing.
		g, err := p.rule.Evaluate(facts)
		if p.baseline == DryRunBaselineRule {
			s.BeforeExplanation = explanation(g, err)
		} else if before == 0 && err == nil && (!g.Eligible || g.Quantity == 0) {
			s.BeforeExplanation = g.Explanation
		}
	}
	c := dryRunCandidate{rank: rank, key: key, sample: s}
	if worst >= 0 {
		cands[worst] = c
	} else {
		t.sample[outcome] = append(cands, c)
	}
}

// explanation is a grant's explanation, or the message of the error a
// rule failed with.
func explanation(g Grant, err error) string {
	if err != nil {
		return ErrorMessage(err)
	}
	return g.Explanation
}

// sampleRank mixes a key (splitmix64's finaliser) so that ranks are
// spread evenly whatever the keys' order.
func sampleRank(key int64) int64 {
	z := uint64(key) + 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return int64((z ^ (z >> 31)) >> 1)
}

// result merges the tallies into the dry run's result.
func (p *DryRunPlan) result(tallies []*dryRunTally) (res *DryRun, keys []int64, err error) {
	res = &DryRun{ProgramID: p.current.ID, Period: p.req.Period, Baseline: p.baseline, Sample: []DryRunSample{}}
	var before, after int64
	var cands [3][]dryRunCandidate
	for _, t := range tallies {
		res.Gain += t.counts[outcomeGain]
		res.Lose += t.counts[outcomeLose]
		res.Change += t.counts[outcomeChange]
		res.Keep += t.counts[outcomeKeep]
		res.Neither += t.counts[outcomeNeither]
		res.Errors += t.errors
		res.BaselineErrors += t.baselineErrors
		if res.FirstError == "" {
			res.FirstError = t.firstError
		}
		before += t.before
		after += t.after
		for i := range cands {
			cands[i] = append(cands[i], t.sample[i]...)
		}
	}
	res.Households = res.Gain + res.Lose + res.Change + res.Keep + res.Neither

	old, proposed := p.current.Commodity, p.req.Proposal.Commodity
	if old == proposed {
		res.Totals = []DryRunTotal{{Commodity: old.Code, Unit: old.Unit, Before: before, After: after, Change: after - before}}
	} else {
		res.Totals = []DryRunTotal{
			{Commodity: old.Code, Unit: old.Unit, Before: before, Change: -before},
			{Commodity: proposed.Code, Unit: proposed.Unit, After: after, Change: after},
		}
		slices.SortFunc(res.Totals, func(a, b DryRunTotal) int {
			return cmp.Or(cmp.Compare(a.Commodity, b.Commodity), cmp.Compare(a.Unit, b.Unit))
		})
	}
	if c := p.req.UnitCost; c != nil {
		cb, ok1 := c.Cost(before)
		ca, ok2 := c.Cost(after)
		if !ok1 || !ok2 {
			return nil, nil, Errorf(EINVALID, "The cost of these quantities at this unit cost is too large to count.")
		}
		change := ca - cb
		cost := *c
		cost.Per = max(cost.Per, 1)
		res.UnitCost, res.CostBefore, res.CostAfter, res.CostChange = &cost, &cb, &ca, &change
	}

	// Round-robin over the outcomes, lowest rank first within each.
	for i := range cands {
		slices.SortFunc(cands[i], func(a, b dryRunCandidate) int { return cmp.Compare(a.rank, b.rank) })
	}
	for round := 0; len(res.Sample) < MaxDryRunSample && round < MaxDryRunSample; round++ {
		for i := range cands {
			if round < len(cands[i]) && len(res.Sample) < MaxDryRunSample {
				res.Sample = append(res.Sample, cands[i][round].sample)
				keys = append(keys, cands[i][round].key)
			}
		}
	}
	return res, keys, nil
}
