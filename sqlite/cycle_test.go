package sqlite_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/canasta/canasta"
	"github.com/canasta/canasta/sqlite"
)

func TestCycleService_RunCycle(t *testing.T) {
	db, _ := MustOpenDB(t)
	ctx := context.Background()
	// Sizes 1, 2, 3, 4; incomes 0, 10000, 20000, 30000 (newHousehold).
	var hs []*canasta.Household
	for i := range 4 {
		hs = append(hs, mustCreateHousehold(t, db, newHousehold(i, i+1)))
	}
	rice := mustCreateProgram(t, db, "Rice", "rice", canasta.UnitGram, "true", "size*1000")
	oil := mustCreateProgram(t, db, "Oil", "oil", canasta.UnitMillilitre, "income<15000", "500")
	mustCreateProgram(t, db, "Nobody", "salt", canasta.UnitGram, "false", "100")
	mustCreateProgram(t, db, "Zero", "sugar", canasta.UnitGram, "true", "0")
	cycles := sqlite.NewCycleService(db)

	var calls [][2]int
	progress := func(done, total int) { calls = append(calls, [2]int{done, total}) }
	sum, err := cycles.RunCycle(ctx, testPeriod, progress)
	if err != nil {
		t.Fatal(err)
	}
	wantTotals := []canasta.CommodityTotal{
		{Commodity: "oil", Unit: canasta.UnitMillilitre, Granted: 1000},
		{Commodity: "rice", Unit: canasta.UnitGram, Granted: 10000},
	}
	if sum.Period != testPeriod || sum.Households != 4 || sum.Created != 6 || sum.Entitlements != 6 || sum.Errors != 0 ||
		!reflect.DeepEqual(sum.Totals, wantTotals) || !sum.StartedAt.Equal(testNow) || !sum.FinishedAt.Equal(testNow) {
		t.Fatalf("first run %+v\nwant 4 households, 6 created, 6 entitlements, totals %+v", *sum, wantTotals)
	}
	if last := calls[len(calls)-1]; last != [2]int{4, 4} {
		t.Fatalf("last progress %v, want [4 4]", last)
	}

	ents, err := sqlite.NewEntitlementService(db).FindEntitlements(ctx, hs[1].ID, testPeriod)
	if err != nil {
		t.Fatal(err)
	}
	want := []*canasta.Entitlement{
		{HouseholdID: hs[1].ID, ProgramID: rice.ID, Program: "Rice", Commodity: "rice", Unit: canasta.UnitGram, Period: testPeriod,
			Granted: 2000, Remaining: 2000, Explanation: "size 2 gives 2000"},
		{HouseholdID: hs[1].ID, ProgramID: oil.ID, Program: "Oil", Commodity: "oil", Unit: canasta.UnitMillilitre, Period: testPeriod,
			Granted: 500, Remaining: 500, Explanation: "size 2 gives 500"},
	}
	if !reflect.DeepEqual(ents, want) {
		t.Fatalf("entitlements of household 2:\n%+v\n%+v\nwant\n%+v\n%+v", *ents[0], *ents[1], *want[0], *want[1])
	}

	t.Run("SecondRunCreatesNothing", func(t *testing.T) {
		sum, err := cycles.RunCycle(ctx, testPeriod, nil)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Created != 0 || sum.Entitlements != 6 || sum.Households != 4 || !reflect.DeepEqual(sum.Totals, wantTotals) {
			t.Fatalf("second run %+v, want 0 created of 6", *sum)
		}
	})

	t.Run("LateHouseholdGrantedOnRerun", func(t *testing.T) {
		late := mustCreateHousehold(t, db, newHousehold(10, 3)) // income 0
		sum, err := cycles.RunCycle(ctx, testPeriod, nil)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Created != 2 || sum.Entitlements != 8 || sum.Households != 5 {
			t.Fatalf("rerun %+v, want 2 created, 8 in all", *sum)
		}
		ents, err := sqlite.NewEntitlementService(db).FindEntitlements(ctx, late.ID, testPeriod)
		if err != nil {
			t.Fatal(err)
		} else if len(ents) != 2 || ents[0].Granted != 3000 || ents[1].Granted != 500 {
			t.Fatalf("late household's entitlements %+v", ents)
		}
	})

	t.Run("PeriodsAreSeparate", func(t *testing.T) {
		sum, err := cycles.RunCycle(ctx, "2025-04", nil)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Created != 8 || sum.Entitlements != 8 {
			t.Fatalf("April run %+v, want 8 created", *sum)
		}
	})

	t.Run("InvalidPeriod", func(t *testing.T) {
		_, err := cycles.RunCycle(ctx, "2025-13", nil)
		wantCode(t, err, canasta.EINVALID)
	})

	t.Run("UnknownHousehold", func(t *testing.T) {
		_, err := sqlite.NewEntitlementService(db).FindEntitlements(ctx, "hh_none", testPeriod)
		wantCode(t, err, canasta.ENOTFOUND)
	})
}

func TestCycleService_RunCycle_RuleErrors(t *testing.T) {
	db, _ := MustOpenDB(t)
	ctx := context.Background()
	for i := range 6 {
		mustCreateHousehold(t, db, newHousehold(i, 1+i%3)) // two households each of sizes 1, 2, 3
	}
	mustCreateProgram(t, db, "Rice", "rice", canasta.UnitGram, "true", "1000")
	mustCreateProgram(t, db, "Flaky", "oil", canasta.UnitMillilitre, "true", "fail-size:2")

	sum, err := sqlite.NewCycleService(db).RunCycle(ctx, testPeriod, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Rice for all 6; oil for the 4 not of size 2; 2 households failed.
	if sum.Errors != 2 || sum.Created != 10 || sum.Households != 6 {
		t.Fatalf("run %+v, want 2 errors and 10 grants", *sum)
	}
}

// TestCycleService_RunCycle_ManyBatches runs across several read and write
// batches and checks every grant against a direct computation.
func TestCycleService_RunCycle_ManyBatches(t *testing.T) {
	db, _ := MustOpenDB(t)
	declareSyntheticAttributes(t, db)
	ctx := context.Background()
	hs := syntheticHouseholds(0, 4500)
	if _, err := sqlite.NewHouseholdService(db).ImportHouseholds(ctx, hs); err != nil {
		t.Fatal(err)
	}
	mustCreateProgram(t, db, "Rice", "rice", canasta.UnitGram, "true", "size*1000")
	mustCreateProgram(t, db, "Seeds", "seeds", canasta.UnitGram, "has:farmer", "2500")
	mustCreateProgram(t, db, "Oil", "oil", canasta.UnitMillilitre, "income<50000", "size*250")

	var grants int
	var rice, seeds, oil int64
	for _, h := range hs {
		size := int64(len(h.Members))
		grants++
		rice += size * 1000
		if h.Attributes["farmer"] == true {
			grants++
			seeds += 2500
		}
		if h.MonthlyIncome < 50000 {
			grants++
			oil += size * 250
		}
	}
	var calls int
	sum, err := sqlite.NewCycleService(db).RunCycle(ctx, testPeriod, func(done, total int) {
		calls++
		if total != len(hs) || done > total {
			t.Errorf("progress(%d, %d), want total %d", done, total, len(hs))
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	wantTotals := []canasta.CommodityTotal{
		{Commodity: "oil", Unit: canasta.UnitMillilitre, Granted: oil},
		{Commodity: "rice", Unit: canasta.UnitGram, Granted: rice},
		{Commodity: "seeds", Unit: canasta.UnitGram, Granted: seeds},
	}
	if sum.Households != len(hs) || sum.Created != grants || sum.Entitlements != grants || !reflect.DeepEqual(sum.Totals, wantTotals) {
		t.Fatalf("run %+v\nwant %d households, %d grants, totals %+v", *sum, len(hs), grants, wantTotals)
	}
	if calls < 1 {
		t.Fatal("progress never called")
	}
}

func TestCycleService_RunCycle_Edges(t *testing.T) {
	ctx := context.Background()

	t.Run("NoPrograms", func(t *testing.T) {
		db, _ := MustOpenDB(t)
		mustCreateHousehold(t, db, newHousehold(1, 2))
		var last [2]int
		sum, err := sqlite.NewCycleService(db).RunCycle(ctx, testPeriod, func(done, total int) { last = [2]int{done, total} })
		if err != nil {
			t.Fatal(err)
		}
		if sum.Households != 1 || sum.Created != 0 || sum.Entitlements != 0 || sum.Totals == nil || last != [2]int{1, 1} {
			t.Fatalf("run %+v, progress %v; want 1 household, nothing granted, empty totals", *sum, last)
		}
	})

	t.Run("NoHouseholds", func(t *testing.T) {
		db, _ := MustOpenDB(t)
		mustCreateProgram(t, db, "Rice", "rice", canasta.UnitGram, "true", "1000")
		sum, err := sqlite.NewCycleService(db).RunCycle(ctx, testPeriod, nil)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Households != 0 || sum.Created != 0 {
			t.Fatalf("run %+v, want nothing", *sum)
		}
	})

	t.Run("CanceledGrantsNothing", func(t *testing.T) {
		db, _ := MustOpenDB(t)
		mustCreateHousehold(t, db, newHousehold(1, 2))
		mustCreateProgram(t, db, "Rice", "rice", canasta.UnitGram, "true", "1000")
		canceled, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := sqlite.NewCycleService(db).RunCycle(canceled, testPeriod, nil); err == nil {
			t.Fatal("a canceled run succeeded")
		}
		sum, err := sqlite.NewCycleService(db).RunCycle(ctx, testPeriod, nil)
		if err != nil {
			t.Fatal(err)
		} else if sum.Created != 1 {
			t.Fatalf("run after a canceled one created %d, want 1", sum.Created)
		}
	})
}
