package storetest

import (
	"context"
	"reflect"
	"sync"
	"testing"

	"github.com/canasta/canasta"
	"github.com/canasta/canasta/rules"
)

// grantOf evaluates p's rule for h directly, as a cycle for the period
// must have: the oracle for what a store granted.
func grantOf(tb testing.TB, st *Store, p *canasta.Program, h *canasta.Household, period canasta.Period) canasta.Grant {
	tb.Helper()
	attrs, err := st.Attributes.FindAttributes(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	rule, err := rules.NewEngine().Compile(p, canasta.NewSchema(attrs))
	if err != nil {
		tb.Fatal(err)
	}
	g, err := rule.Evaluate(canasta.NewFacts(h, period.Start()))
	if err != nil {
		tb.Fatal(err)
	}
	return g
}

func testRunCycle(t *testing.T, opener Opener) {
	st := open(t, opener)
	ctx := context.Background()
	// Sizes 1, 2, 3, 4; incomes 0, 10000, 20000, 30000 (NewHousehold).
	var hs []*canasta.Household
	for i := range 4 {
		hs = append(hs, mustCreateHousehold(t, st.Store, NewHousehold(i, i+1)))
	}
	rice := mustCreateProgram(t, st.Store, "Rice", "rice", canasta.UnitGram, "true", ruleSizeTimes1000)
	oil := mustCreateProgram(t, st.Store, "Oil", "oil", canasta.UnitMillilitre, ruleLowIncome, "500")
	mustCreateProgram(t, st.Store, "Nobody", "salt", canasta.UnitGram, "false", "100")
	mustCreateProgram(t, st.Store, "Zero", "sugar", canasta.UnitGram, "true", "0")

	var calls [][2]int
	progress := func(done, total int) { calls = append(calls, [2]int{done, total}) }
	sum, err := st.Cycles.RunCycle(ctx, Period, progress)
	if err != nil {
		t.Fatal(err)
	}
	wantTotals := []canasta.CommodityTotal{
		{Commodity: "oil", Unit: canasta.UnitMillilitre, Granted: 1000},
		{Commodity: "rice", Unit: canasta.UnitGram, Granted: 10000},
	}
	if sum.Period != Period || sum.Households != 4 || sum.Created != 6 || sum.Entitlements != 6 || sum.Errors != 0 ||
		!reflect.DeepEqual(sum.Totals, wantTotals) || !sum.StartedAt.Equal(Now) || !sum.FinishedAt.Equal(Now) {
		t.Fatalf("first run %+v\nwant 4 households, 6 created, 6 entitlements, totals %+v", *sum, wantTotals)
	}
	if len(calls) == 0 || calls[len(calls)-1] != [2]int{4, 4} {
		t.Fatalf("progress calls %v, want the last to be [4 4]", calls)
	}

	ents, err := st.Entitlements.FindEntitlements(ctx, hs[1].ID, Period)
	if err != nil {
		t.Fatal(err)
	}
	riceGrant, oilGrant := grantOf(t, st.Store, rice, hs[1], Period), grantOf(t, st.Store, oil, hs[1], Period)
	want := []*canasta.Entitlement{
		{HouseholdID: hs[1].ID, ProgramID: rice.ID, Program: "Rice", Commodity: "rice", Unit: canasta.UnitGram, Period: Period,
			Granted: 2000, Remaining: 2000, Explanation: riceGrant.Explanation},
		{HouseholdID: hs[1].ID, ProgramID: oil.ID, Program: "Oil", Commodity: "oil", Unit: canasta.UnitMillilitre, Period: Period,
			Granted: 500, Remaining: 500, Explanation: oilGrant.Explanation},
	}
	if len(ents) != 2 || !reflect.DeepEqual(ents, want) || riceGrant.Explanation == "" {
		t.Fatalf("entitlements of household 2:\n%+v\nwant\n%+v\n%+v", ents, *want[0], *want[1])
	}

	t.Run("SecondRunCreatesNothing", func(t *testing.T) {
		sum, err := st.Cycles.RunCycle(ctx, Period, nil)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Created != 0 || sum.Entitlements != 6 || sum.Households != 4 || !reflect.DeepEqual(sum.Totals, wantTotals) {
			t.Fatalf("second run %+v, want 0 created of 6", *sum)
		}
	})

	t.Run("LateHouseholdGrantedOnRerun", func(t *testing.T) {
		late := mustCreateHousehold(t, st.Store, NewHousehold(10, 3)) // income 0
		sum, err := st.Cycles.RunCycle(ctx, Period, nil)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Created != 2 || sum.Entitlements != 8 || sum.Households != 5 {
			t.Fatalf("rerun %+v, want 2 created, 8 in all", *sum)
		}
		ents, err := st.Entitlements.FindEntitlements(ctx, late.ID, Period)
		if err != nil {
			t.Fatal(err)
		} else if len(ents) != 2 || ents[0].Granted != 3000 || ents[1].Granted != 500 {
			t.Fatalf("late household's entitlements %+v", ents)
		}
	})

	t.Run("PeriodsAreSeparate", func(t *testing.T) {
		sum, err := st.Cycles.RunCycle(ctx, "2025-04", nil)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Created != 8 || sum.Entitlements != 8 {
			t.Fatalf("April run %+v, want 8 created", *sum)
		}
		ents, err := st.Entitlements.FindEntitlements(ctx, hs[0].ID, "2025-05")
		if err != nil {
			t.Fatal(err)
		} else if ents == nil || len(ents) != 0 {
			t.Fatalf("entitlements in a period without a cycle = %#v, want an empty list", ents)
		}
	})

	t.Run("InvalidPeriod", func(t *testing.T) {
		_, err := st.Cycles.RunCycle(ctx, "2025-13", nil)
		wantCode(t, err, canasta.EINVALID)
		_, err = st.Entitlements.FindEntitlements(ctx, hs[0].ID, "March")
		wantCode(t, err, canasta.EINVALID)
	})

	t.Run("UnknownHousehold", func(t *testing.T) {
		_, err := st.Entitlements.FindEntitlements(ctx, "hh_none", Period)
		wantCode(t, err, canasta.ENOTFOUND)
	})
}

func testRunCycleRuleErrors(t *testing.T, opener Opener) {
	st := open(t, opener)
	ctx := context.Background()
	for i := range 6 {
		mustCreateHousehold(t, st.Store, NewHousehold(i, 1+i%3)) // two households each of sizes 1, 2, 3
	}
	mustCreateProgram(t, st.Store, "Rice", "rice", canasta.UnitGram, "true", "1000")
	// A negative quantity is an evaluation error, here for size 2.
	mustCreateProgram(t, st.Store, "Flaky", "oil", canasta.UnitMillilitre, "true", "household.size == 2 ? -1 : 1000")

	sum, err := st.Cycles.RunCycle(ctx, Period, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Rice for all 6; oil for the 4 not of size 2; 2 households failed.
	if sum.Errors != 2 || sum.Created != 10 || sum.Households != 6 {
		t.Fatalf("run %+v, want 2 errors and 10 grants", *sum)
	}
}

// testRunCycleManyBatches runs across several read and write batches and
// checks every total against a direct computation.
func testRunCycleManyBatches(t *testing.T, opener Opener) {
	st := open(t, opener)
	declareSyntheticAttributes(t, st.Store)
	ctx := context.Background()
	hs := SyntheticHouseholds(0, 4500)
	mustImport(t, st.Store, hs)
	rice := mustCreateProgram(t, st.Store, "Rice", "rice", canasta.UnitGram, "true", ruleSizeTimes1000)
	seeds := mustCreateProgram(t, st.Store, "Seeds", "seeds", canasta.UnitGram, ruleFarmer, "2500")
	mustCreateProgram(t, st.Store, "Oil", "oil", canasta.UnitMillilitre, "household.monthly_income < 50000", "household.size * 250")

	var grants int
	var riceTotal, seedsTotal, oilTotal int64
	for _, h := range hs {
		size := int64(len(h.Members))
		grants++
		riceTotal += size * 1000
		if h.Attributes["farmer"] == true {
			grants++
			seedsTotal += 2500
		}
		if h.MonthlyIncome < 50000 {
			grants++
			oilTotal += size * 250
		}
	}
	var mu sync.Mutex
	var calls, last int
	sum, err := st.Cycles.RunCycle(ctx, Period, func(done, total int) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if total != len(hs) || done > total || done < last {
			t.Errorf("progress(%d, %d) after %d, want total %d and done growing", done, total, last, len(hs))
		}
		last = done
	})
	if err != nil {
		t.Fatal(err)
	}
	wantTotals := []canasta.CommodityTotal{
		{Commodity: "oil", Unit: canasta.UnitMillilitre, Granted: oilTotal},
		{Commodity: "rice", Unit: canasta.UnitGram, Granted: riceTotal},
		{Commodity: "seeds", Unit: canasta.UnitGram, Granted: seedsTotal},
	}
	if sum.Households != len(hs) || sum.Created != grants || sum.Entitlements != grants || !reflect.DeepEqual(sum.Totals, wantTotals) {
		t.Fatalf("run %+v\nwant %d households, %d grants, totals %+v", *sum, len(hs), grants, wantTotals)
	}
	if calls < 1 || last != len(hs) {
		t.Fatalf("progress called %d times, last done %d; want calls ending at %d", calls, last, len(hs))
	}
	// A few households' grants, explanations and all, against the oracle.
	for _, i := range []int{0, 2222, 4499} {
		h := hs[i]
		ents, err := st.Entitlements.FindEntitlements(ctx, h.ID, Period)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			p := map[int64]*canasta.Program{rice.ID: rice, seeds.ID: seeds}[e.ProgramID]
			if p == nil {
				continue
			}
			if g := grantOf(t, st.Store, p, h, Period); e.Granted != g.Quantity || e.Explanation != g.Explanation {
				t.Fatalf("household %d, %s: granted %d %q; the rule gives %d %q", i, p.Name, e.Granted, e.Explanation, g.Quantity, g.Explanation)
			}
		}
	}
}

func testRunCycleEdges(t *testing.T, opener Opener) {
	ctx := context.Background()

	t.Run("NoPrograms", func(t *testing.T) {
		st := open(t, opener)
		mustCreateHousehold(t, st.Store, NewHousehold(1, 2))
		var last [2]int
		sum, err := st.Cycles.RunCycle(ctx, Period, func(done, total int) { last = [2]int{done, total} })
		if err != nil {
			t.Fatal(err)
		}
		if sum.Households != 1 || sum.Created != 0 || sum.Entitlements != 0 || sum.Totals == nil || last != [2]int{1, 1} {
			t.Fatalf("run %+v, progress %v; want 1 household, nothing granted, empty totals", *sum, last)
		}
	})

	t.Run("NoHouseholds", func(t *testing.T) {
		st := open(t, opener)
		mustCreateProgram(t, st.Store, "Rice", "rice", canasta.UnitGram, "true", "1000")
		sum, err := st.Cycles.RunCycle(ctx, Period, nil)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Households != 0 || sum.Created != 0 || sum.Totals == nil {
			t.Fatalf("run %+v, want nothing", *sum)
		}
	})

	t.Run("CanceledGrantsNothing", func(t *testing.T) {
		st := open(t, opener)
		mustCreateHousehold(t, st.Store, NewHousehold(1, 2))
		mustCreateProgram(t, st.Store, "Rice", "rice", canasta.UnitGram, "true", "1000")
		canceled, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := st.Cycles.RunCycle(canceled, Period, nil); err == nil {
			t.Fatal("a canceled run succeeded")
		}
		sum, err := st.Cycles.RunCycle(ctx, Period, nil)
		if err != nil {
			t.Fatal(err)
		} else if sum.Created != 1 {
			t.Fatalf("run after a canceled one created %d, want 1", sum.Created)
		}
	})
}

// testRunCycleConcurrent runs one cycle through two handles at once, as
// two servers might: every grant is made once.
func testRunCycleConcurrent(t *testing.T, opener Opener) {
	st := open(t, opener)
	other := st.Reopen(t)
	ctx := context.Background()
	declareSyntheticAttributes(t, st.Store)
	mustImport(t, st.Store, SyntheticHouseholds(0, 3000))
	mustCreateProgram(t, st.Store, "Rice", "rice", canasta.UnitGram, "true", ruleSizeTimes1000)

	var wg sync.WaitGroup
	sums := make([]*canasta.CycleSummary, 2)
	errs := make([]error, 2)
	for i, s := range []canasta.CycleService{st.Cycles, other.Cycles} {
		wg.Go(func() { sums[i], errs[i] = s.RunCycle(ctx, Period, nil) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if created := sums[0].Created + sums[1].Created; created != 3000 {
		t.Fatalf("the two runs created %d and %d grants, want 3000 in all", sums[0].Created, sums[1].Created)
	}
	for _, sum := range sums {
		if sum.Entitlements != 3000 {
			t.Fatalf("run %+v, want 3000 entitlements", *sum)
		}
	}
}
