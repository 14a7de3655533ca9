package canasta

import (
	"fmt"
	"sync/atomic"
	"time"
)

// CycleRules are the programs' rules compiled once for one cycle run, with
// a count of the households each rule failed on. Every store's cycle uses
// them, so a grant means the same thing whichever store computed it. They
// are safe for concurrent use.
type CycleRules struct {
	day   time.Time
	rules []*cycleRule
}

type cycleRule struct {
	programID int64
	rule      Rule
	failures  atomic.Int64 // households the rule failed on
}

// CompileCycleRules compiles every program's rule against the schema for a
// run over the period. EINVALID naming the program for a rule that does not
// compile.
func CompileCycleRules(engine RuleEngine, period Period, programs []*Program, schema *Schema) (*CycleRules, error) {
	c := &CycleRules{day: period.Start()}
	for _, p := range programs {
		rule, err := engine.Compile(p, schema)
		if code := ErrorCode(err); code == EINTERNAL {
			return nil, fmt.Errorf("compile program %d: %w", p.ID, err)
		} else if err != nil {
			return nil, Errorf(code, "Program %d (%s) does not compile: %s", p.ID, p.Name, ErrorMessage(err))
		}
		c.rules = append(c.rules, &cycleRule{programID: p.ID, rule: rule})
	}
	return c, nil
}

// Len returns how many programs the run evaluates.
func (c *CycleRules) Len() int { return len(c.rules) }

// Evaluate applies every rule to h, with ages as of the period's first
// day, and calls grant for each eligible grant of a positive quantity. A
// rule failing for h (an evaluation error or a negative quantity) is
// counted, not fatal; onFirstFailure, if not nil, hears of the first
// failure of each program in the run, so a caller can log it once. It
// reports whether any rule failed for h.
func (c *CycleRules) Evaluate(h *Household, grant func(programID, quantity int64, explanation string), onFirstFailure func(programID int64, err error)) (failed bool) {
	facts := NewFacts(h, c.day)
	for _, r := range c.rules {
		g, err := r.rule.Evaluate(facts)
		if err == nil && g.Quantity < 0 {
			err = Errorf(EINVALID, "Program %d gave a negative quantity.", r.programID)
		}
		if err != nil {
			failed = true
			if r.failures.Add(1) == 1 && onFirstFailure != nil {
				onFirstFailure(r.programID, err)
			}
			continue
		}
		if g.Eligible && g.Quantity > 0 {
			grant(r.programID, g.Quantity, g.Explanation)
		}
	}
	return failed
}

// Failures returns, by program id, how many households each rule failed
// on; programs without failures are left out.
func (c *CycleRules) Failures() map[int64]int64 {
	m := map[int64]int64{}
	for _, r := range c.rules {
		if n := r.failures.Load(); n > 0 {
			m[r.programID] = n
		}
	}
	return m
}
