package storetest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/canasta/canasta"
	"github.com/canasta/canasta/rules"
)

// proposal is a program as a dry run proposes it.
func proposal(code string, eligibility, quantity string) canasta.Program {
	return canasta.Program{Name: "Proposal", Commodity: canasta.Commodity{Code: code, Unit: canasta.UnitGram},
		Eligibility: eligibility, Quantity: quantity, Period: canasta.PeriodMonthly}
}

// dryRunCounts is the part of a dry run an oracle predicts.
type dryRunCounts struct {
	Households, Gain, Lose, Keep, Change, Neither, Errors int
	Before, After                                         int64
}

func countsOf(r *canasta.DryRun) dryRunCounts {
	c := dryRunCounts{Households: r.Households, Gain: r.Gain, Lose: r.Lose, Keep: r.Keep, Change: r.Change, Neither: r.Neither, Errors: r.Errors}
	for _, t := range r.Totals {
		c.Before += t.Before
		c.After += t.After
	}
	return c
}

// tally classifies one household's before and after, as the oracle.
func (c *dryRunCounts) add(before, after int64) {
	c.Households++
	c.Before += before
	c.After += after
	switch {
	case before == 0 && after == 0:
		c.Neither++
	case before == 0:
		c.Gain++
	case after == 0:
		c.Lose++
	case before == after:
		c.Keep++
	default:
		c.Change++
	}
}

func (c dryRunCounts) outcome(before, after int64) string {
	switch {
	case before == 0 && after > 0:
		return canasta.DryRunGain
	case before > 0 && after == 0:
		return canasta.DryRunLose
	case before != after:
		return canasta.DryRunChange
	}
	return ""
}

// dryRunRegistry is ten households of sizes 1 to 4 and incomes 0 to
// 40000 (NewHousehold), with a rice program of size*1000 g for all.
func dryRunRegistry(tb testing.TB, opener Opener) (*fixture, []*canasta.Household, *canasta.Program) {
	tb.Helper()
	st := open(tb, opener)
	var hs []*canasta.Household
	for i := range 10 {
		hs = append(hs, mustCreateHousehold(tb, st.Store, NewHousehold(i, 1+i%4)))
	}
	rice := mustCreateProgram(tb, st.Store, "Rice", "rice", canasta.UnitGram, "true", ruleSizeTimes1000)
	return st, hs, rice
}

func testDryRun(t *testing.T, opener Opener) {
	st, hs, rice := dryRunRegistry(t, opener)
	ctx := context.Background()
	size := func(h *canasta.Household) int64 { return int64(len(h.Members)) }

	for _, tt := range []struct {
		name                  string
		eligibility, quantity string
		after                 func(h *canasta.Household) (quantity int64, fails bool)
	}{
		{"Unchanged", "true", ruleSizeTimes1000, func(h *canasta.Household) (int64, bool) { return size(h) * 1000, false }},
		{"LowIncomeOnlyLargerForBig", "household.monthly_income < 25000", "household.size > 2 ? household.size * 1200 : 1000",
			func(h *canasta.Household) (int64, bool) {
				switch {
				case h.MonthlyIncome >= 25000:
					return 0, false
				case size(h) > 2:
					return size(h) * 1200, false
				}
				return 1000, false
			}},
		// Pairs divide by zero; single people get a negative quantity.
		{"FailsForSmall", "true", "1000 / (household.size - 2)", func(h *canasta.Household) (int64, bool) {
			if size(h) <= 2 {
				return 0, true
			}
			return 1000 / (size(h) - 2), false
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var want dryRunCounts
			outcomes := map[string]string{}
			for _, h := range hs {
				after, fails := tt.after(h)
				if fails {
					want.Errors++
				}
				want.add(size(h)*1000, after)
				outcomes[h.ID] = want.outcome(size(h)*1000, after)
			}
			res, err := st.DryRuns.DryRun(ctx, &canasta.DryRunRequest{ProgramID: rice.ID, Proposal: proposal("rice", tt.eligibility, tt.quantity)})
			if err != nil {
				t.Fatal(err)
			}
			if got := countsOf(res); got != want {
				t.Fatalf("dry run counts %+v, want %+v", got, want)
			}
			if res.Baseline != canasta.DryRunBaselineRule || res.Period != Period || res.ProgramID != rice.ID || len(res.Totals) != 1 ||
				res.Totals[0].Change != want.After-want.Before || res.CostChange != nil {
				t.Fatalf("dry run %+v: want the rule baseline in %s, one total", *res, Period)
			}
			if (want.Errors > 0) != (res.FirstError != "") {
				t.Fatalf("first error %q with %d errors", res.FirstError, want.Errors)
			}
			affected := want.Gain + want.Lose + want.Change
			if len(res.Sample) != min(affected, canasta.MaxDryRunSample) {
				t.Fatalf("sample of %d, want %d", len(res.Sample), min(affected, canasta.MaxDryRunSample))
			}
			for _, s := range res.Sample {
				if outcomes[s.HouseholdID] != s.Outcome || s.Outcome == "" || s.AfterExplanation == "" || s.BeforeExplanation == "" {
					t.Fatalf("sample %+v: want outcome %q and both explanations", s, outcomes[s.HouseholdID])
				}
			}
		})
	}

	t.Run("UnitCostAndCommodity", func(t *testing.T) {
		var before int64
		for _, h := range hs {
			before += size(h) * 1000
		}
		req := &canasta.DryRunRequest{ProgramID: rice.ID, Proposal: proposal("rice", "true", "household.size * 1500"),
			UnitCost: &canasta.UnitCost{Minor: 120, Per: 1000}}
		res, err := st.DryRuns.DryRun(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		after := before * 3 / 2
		if res.CostBefore == nil || *res.CostBefore != before*120/1000 || *res.CostAfter != after*120/1000 ||
			*res.CostChange != (after-before)*120/1000 || res.Change != len(hs) {
			t.Fatalf("costs %v %v %v, changed %d; want %d, %d", res.CostBefore, res.CostAfter, res.CostChange, res.Change, before*120/1000, after*120/1000)
		}

		req.UnitCost, req.Proposal.Commodity.Code = nil, "maize"
		res, err = st.DryRuns.DryRun(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		wantTotals := []canasta.DryRunTotal{
			{Commodity: "maize", Unit: canasta.UnitGram, After: after, Change: after},
			{Commodity: "rice", Unit: canasta.UnitGram, Before: before, Change: -before},
		}
		if !reflect.DeepEqual(res.Totals, wantTotals) {
			t.Fatalf("totals %+v, want %+v", res.Totals, wantTotals)
		}
	})

	for _, tt := range []struct {
		name string
		req  canasta.DryRunRequest
		code string
	}{
		{"UnknownProgram", canasta.DryRunRequest{ProgramID: rice.ID + 100, Proposal: proposal("rice", "true", "1")}, canasta.ENOTFOUND},
		{"RuleDoesNotParse", canasta.DryRunRequest{ProgramID: rice.ID, Proposal: proposal("rice", "household.size >", "1")}, canasta.EINVALID},
		{"RuleNamesUndeclaredAttribute", canasta.DryRunRequest{ProgramID: rice.ID, Proposal: proposal("rice", ruleFarmer, "1")}, canasta.EINVALID},
		{"BadPeriod", canasta.DryRunRequest{ProgramID: rice.ID, Proposal: proposal("rice", "true", "1"), Period: "2025-13"}, canasta.EINVALID},
		{"BadProgram", canasta.DryRunRequest{ProgramID: rice.ID, Proposal: proposal("Rice!", "true", "1")}, canasta.EINVALID},
		{"CostWithNewCommodity", canasta.DryRunRequest{ProgramID: rice.ID, Proposal: proposal("maize", "true", "1"), UnitCost: &canasta.UnitCost{Minor: 1}}, canasta.EINVALID},
		{"NegativeCost", canasta.DryRunRequest{ProgramID: rice.ID, Proposal: proposal("rice", "true", "1"), UnitCost: &canasta.UnitCost{Minor: -1}}, canasta.EINVALID},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := st.DryRuns.DryRun(ctx, &tt.req)
			wantCode(t, err, tt.code)
		})
	}
}

// testDryRunGrants compares with a period's stored grants once its cycle
// has run: a household registered after the cycle holds nothing, so the
// unchanged rule gains it, and the stored explanations are shown.
func testDryRunGrants(t *testing.T, opener Opener) {
	st, hs, rice := dryRunRegistry(t, opener)
	ctx := context.Background()
	if _, err := st.Cycles.RunCycle(ctx, Period, nil); err != nil {
		t.Fatal(err)
	}
	late := mustCreateHousehold(t, st.Store, NewHousehold(20, 3))
	stored := map[string]*canasta.Entitlement{}
	for _, h := range hs {
		ents, err := st.Entitlements.FindEntitlements(ctx, h.ID, Period)
		if err != nil || len(ents) != 1 {
			t.Fatalf("entitlements %v (%v), want one", ents, err)
		}
		stored[h.ID] = ents[0]
	}

	res, err := st.DryRuns.DryRun(ctx, &canasta.DryRunRequest{ProgramID: rice.ID, Proposal: proposal("rice", "true", ruleSizeTimes1000)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Baseline != canasta.DryRunBaselineGrants || res.Gain != 1 || res.Keep != len(hs) || res.Households != len(hs)+1 || len(res.Sample) != 1 {
		t.Fatalf("dry run %+v: want the grants baseline, 1 gain and %d kept", *res, len(hs))
	}
	if s := res.Sample[0]; s.HouseholdID != late.ID || s.Before != 0 || s.After != 3000 || s.BeforeExplanation != "" || s.AfterExplanation == "" {
		t.Fatalf("sample %+v, want the late household gaining 3000 with no earlier explanation", s)
	}

	t.Run("StoredExplanations", func(t *testing.T) {
		res, err := st.DryRuns.DryRun(ctx, &canasta.DryRunRequest{ProgramID: rice.ID, Proposal: proposal("rice", "household.size >= 3", "4000")})
		if err != nil {
			t.Fatal(err)
		}
		changed := 0
		for _, s := range res.Sample {
			if e := stored[s.HouseholdID]; e != nil {
				changed++
				if s.BeforeExplanation != e.Explanation || s.Before != e.Granted {
					t.Fatalf("sample %+v: want the stored grant %d %q", s, e.Granted, e.Explanation)
				}
			}
		}
		if changed == 0 || res.Lose+res.Change+res.Gain != len(res.Sample) {
			t.Fatalf("dry run %+v: want every affected household in the sample", *res)
		}
	})

	t.Run("OtherPeriodUsesRule", func(t *testing.T) {
		res, err := st.DryRuns.DryRun(ctx, &canasta.DryRunRequest{ProgramID: rice.ID, Period: "2025-04", Proposal: proposal("rice", "true", ruleSizeTimes1000)})
		if err != nil {
			t.Fatal(err)
		}
		if res.Baseline != canasta.DryRunBaselineRule || res.Keep != len(hs)+1 || res.Period != "2025-04" {
			t.Fatalf("dry run %+v: want the rule baseline keeping all", *res)
		}
	})

	t.Run("WritesNothing", func(t *testing.T) {
		for _, h := range append(hs, late) {
			ents, err := st.Entitlements.FindEntitlements(ctx, h.ID, Period)
			if err != nil {
				t.Fatal(err)
			}
			if want := stored[h.ID]; (want == nil && len(ents) != 0) || (want != nil && !reflect.DeepEqual(ents[0], want)) {
				t.Fatalf("entitlements of %s changed to %+v", h.ID, ents)
			}
			if ents, err := st.Entitlements.FindEntitlements(ctx, h.ID, "2025-04"); err != nil || len(ents) != 0 {
				t.Fatalf("April entitlements %+v (%v) after a dry run of April", ents, err)
			}
			if events, err := st.AccessLog.FindAccessEvents(ctx, h.ID); err != nil || len(events) != 0 {
				t.Fatalf("access log of %s: %+v (%v), want no reads", h.ID, events, err)
			}
		}
	})
}

// testDryRunManyBatches runs over several read batches with a rule on a
// declared attribute, against the rules evaluated one by one.
func testDryRunManyBatches(t *testing.T, opener Opener) {
	st := open(t, opener)
	declareSyntheticAttributes(t, st.Store)
	ctx := context.Background()
	hs := SyntheticHouseholds(0, 4500)
	mustImport(t, st.Store, hs)
	rice := mustCreateProgram(t, st.Store, "Rice", "rice", canasta.UnitGram, "household.monthly_income < 150000", ruleSizeTimes1000)
	prop := proposal("rice", ruleFarmer+" || household.size >= 5", "household.size > 3 ? household.size * 1000 : 2500")

	attrs, err := st.Attributes.FindAttributes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	schema := canasta.NewSchema(attrs)
	current, err := rules.NewEngine().Compile(rice, schema)
	if err != nil {
		t.Fatal(err)
	}
	proposed, err := rules.NewEngine().Compile(&prop, schema)
	if err != nil {
		t.Fatal(err)
	}
	var want dryRunCounts
	outcomes := map[string]string{}
	for _, h := range hs {
		f := canasta.NewFacts(h, Period.Start())
		g1, err1 := current.Evaluate(f)
		g2, err2 := proposed.Evaluate(f)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		want.add(g1.Quantity, g2.Quantity)
		outcomes[h.ID] = want.outcome(g1.Quantity, g2.Quantity)
	}

	req := &canasta.DryRunRequest{ProgramID: rice.ID, Proposal: prop}
	res, err := st.DryRuns.DryRun(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if got := countsOf(res); got != want {
		t.Fatalf("counts %+v, want %+v", got, want)
	}
	if want.Gain < canasta.MaxDryRunSample || want.Change < canasta.MaxDryRunSample || want.Lose < canasta.MaxDryRunSample {
		t.Fatalf("the registry gives too few of an outcome to test the sample: %+v", want)
	}
	perOutcome := map[string]int{}
	for _, s := range res.Sample {
		perOutcome[s.Outcome]++
		if outcomes[s.HouseholdID] != s.Outcome {
			t.Fatalf("sample %+v: the household's outcome is %q", s, outcomes[s.HouseholdID])
		}
	}
	if len(res.Sample) != canasta.MaxDryRunSample || perOutcome[canasta.DryRunGain] < 6 || perOutcome[canasta.DryRunLose] < 6 || perOutcome[canasta.DryRunChange] < 6 {
		t.Fatalf("sample by outcome %v, want %d drawn evenly", perOutcome, canasta.MaxDryRunSample)
	}

	again, err := st.DryRuns.DryRun(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again.Sample, res.Sample) {
		t.Fatalf("a second run drew another sample:\n%+v\n%+v", again.Sample, res.Sample)
	}
}

// BenchmarkDryRun dry-runs a change to one program's rule over a registry
// of the given number of households, compared with the period's stored
// grants (grants) and with the current rule before any cycle (rule), and
// reports the time and the CPU time per household: on a shared machine
// the second says what a run costs.
func BenchmarkDryRun(b *testing.B, opener Opener, households int) {
	st := open(b, opener)
	declareSyntheticAttributes(b, st.Store)
	ctx := context.Background()
	importStart := time.Now()
	for first := 0; first < households; first += ImportBatch {
		if _, err := st.Households.ImportHouseholds(ctx, SyntheticHouseholds(first, min(ImportBatch, households-first))); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("imported %d households in %v", households, time.Since(importStart).Round(time.Millisecond))
	rice := mustCreateProgram(b, st.Store, "Rice", "rice", canasta.UnitGram, "household.monthly_income < 150000", ruleSizeTimes1000)
	req := &canasta.DryRunRequest{ProgramID: rice.ID, Proposal: proposal("rice", ruleFarmer+" || household.monthly_income < 100000",
		"household.size > 3 ? household.size * 1200 : 2500"), UnitCost: &canasta.UnitCost{Minor: 150, Per: 1000}}

	run := func(b *testing.B, baseline string) {
		done := 0
		var cpu time.Duration
		for b.Loop() {
			start, cpuStart := time.Now(), processCPU()
			res, err := st.DryRuns.DryRun(ctx, req)
			if err != nil {
				b.Fatal(err)
			}
			if res.Households != households || res.Baseline != baseline {
				b.Fatalf("dry run %+v, want %d households over the %s", *res, households, baseline)
			}
			done += res.Households
			cpu += processCPU() - cpuStart
			b.Logf("%s: %d households (%d gain, %d lose, %d change) in %v, %v of CPU", baseline, res.Households, res.Gain, res.Lose, res.Change,
				time.Since(start).Round(time.Millisecond), (processCPU() - cpuStart).Round(time.Millisecond))
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(done), "ns/household")
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(done), "cpu-ns/household")
		b.ReportMetric(0, "ns/op")
	}
	b.Run("rule", func(b *testing.B) { run(b, canasta.DryRunBaselineRule) })
	if _, err := st.Cycles.RunCycle(ctx, Period, nil); err != nil {
		b.Fatal(err)
	}
	b.Run("grants", func(b *testing.B) { run(b, canasta.DryRunBaselineGrants) })
}
