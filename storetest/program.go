package storetest

import (
	"context"
	"reflect"
	"testing"

	"github.com/canasta/canasta"
)

func testPrograms(t *testing.T, opener Opener) {
	st := open(t, opener)
	ctx := context.Background()
	program := func(eligibility, quantity string) *canasta.Program {
		return &canasta.Program{Name: "Rice", Commodity: canasta.Commodity{Code: "rice", Unit: canasta.UnitGram},
			Eligibility: eligibility, Quantity: quantity, Period: canasta.PeriodMonthly}
	}

	for _, tt := range []struct {
		name   string
		p      *canasta.Program
		before func()
		code   string
	}{
		{"OK", program("true", ruleSizeTimes1000), nil, ""},
		{"BadUnit", func() *canasta.Program { p := program("true", "1"); p.Commodity.Unit = "kg"; return p }(), nil, canasta.EINVALID},
		{"BadPeriod", func() *canasta.Program { p := program("true", "1"); p.Period = "weekly"; return p }(), nil, canasta.EINVALID},
		{"RuleDoesNotParse", program("household.size >", "1"), nil, canasta.EINVALID},
		{"RuleHasWrongType", program("true", "household.region"), nil, canasta.EINVALID},
		{"RuleNamesUndeclaredAttribute", program(ruleFarmer, "1"), nil, canasta.EINVALID},
		{"RuleNamesDeclaredAttribute", program(ruleFarmer, "2500"), func() { declareSyntheticAttributes(t, st.Store) }, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.before != nil {
				tt.before()
			}
			err := st.Programs.CreateProgram(ctx, tt.p)
			wantCode(t, err, tt.code)
			if tt.code != "" {
				if tt.p.ID != 0 {
					t.Fatalf("a refused program got id %d", tt.p.ID)
				}
				return
			}
			got, err := st.Programs.FindProgramByID(ctx, tt.p.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.p) || !got.CreatedAt.Equal(Now) {
				t.Fatalf("found %+v, want %+v", got, tt.p)
			}
		})
	}

	t.Run("FindPrograms", func(t *testing.T) {
		ps, err := st.Programs.FindPrograms(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) != 2 || ps[0].ID >= ps[1].ID || ps[0].Quantity != ruleSizeTimes1000 || ps[1].Eligibility != ruleFarmer {
			t.Fatalf("programs %+v, want the two created, by id", ps)
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		_, err := st.Programs.FindProgramByID(ctx, 999)
		wantCode(t, err, canasta.ENOTFOUND)
	})
	t.Run("EmptyListIsNotNil", func(t *testing.T) {
		got, err := open(t, opener).Programs.FindPrograms(ctx)
		if err != nil {
			t.Fatal(err)
		} else if got == nil || len(got) != 0 {
			t.Fatalf("FindPrograms on an empty store = %#v, want an empty list", got)
		}
	})
}

func testPoints(t *testing.T, opener Opener) {
	st := open(t, opener)
	ctx := context.Background()

	t.Run("EmptyListIsNotNil", func(t *testing.T) {
		got, err := st.Points.FindPoints(ctx)
		if err != nil {
			t.Fatal(err)
		} else if got == nil || len(got) != 0 {
			t.Fatalf("FindPoints on an empty store = %#v, want an empty list", got)
		}
	})

	for _, tt := range []struct {
		name string
		p    canasta.Point
		code string
	}{
		{"OK", canasta.Point{Name: "Clinic A", Kind: canasta.PointClinic, Region: "South"}, ""},
		{"OKShop", canasta.Point{Name: "Shop B", Kind: canasta.PointShop, Region: "North"}, ""},
		{"NoName", canasta.Point{Kind: canasta.PointShop, Region: "North"}, canasta.EINVALID},
		{"BadKind", canasta.Point{Name: "X", Kind: "bank", Region: "North"}, canasta.EINVALID},
		{"NoRegion", canasta.Point{Name: "X", Kind: canasta.PointFuel}, canasta.EINVALID},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.p
			wantCode(t, st.Points.CreatePoint(ctx, &p), tt.code)
			if tt.code != "" {
				return
			}
			got, err := st.Points.FindPointByID(ctx, p.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, p) || !got.CreatedAt.Equal(Now) {
				t.Fatalf("found %+v, want %+v", *got, p)
			}
		})
	}

	ps, err := st.Points.FindPoints(ctx)
	if err != nil {
		t.Fatal(err)
	} else if len(ps) != 2 || ps[0].Name != "Clinic A" || ps[1].Name != "Shop B" {
		t.Fatalf("points %+v, want Clinic A and Shop B", ps)
	}
	_, err = st.Points.FindPointByID(ctx, 999)
	wantCode(t, err, canasta.ENOTFOUND)
}

// testProgramReplacement checks that publishing a changed rule retires the
// program it replaces: both stay published, the next cycle grants only
// from the new one, and a program can be replaced once.
func testProgramReplacement(t *testing.T, opener Opener) {
	st := open(t, opener)
	ctx := context.Background()
	h := mustCreateHousehold(t, st.Store, NewHousehold(1, 2))
	old := mustCreateProgram(t, st.Store, "Rice", "rice", canasta.UnitGram, "true", "1000")
	if _, err := st.Cycles.RunCycle(ctx, Period, nil); err != nil {
		t.Fatal(err)
	}
	next := &canasta.Program{Name: "Rice", Commodity: old.Commodity, Eligibility: "true", Quantity: "2000",
		Period: canasta.PeriodMonthly, Replaces: old.ID}
	if err := st.Programs.CreateProgram(ctx, next); err != nil {
		t.Fatal(err)
	}
	again := *next
	again.ID = 0
	wantCode(t, st.Programs.CreateProgram(ctx, &again), canasta.ECONFLICT)
	unknown := *next
	unknown.ID, unknown.Replaces = 0, 9999
	wantCode(t, st.Programs.CreateProgram(ctx, &unknown), canasta.ECONFLICT)

	got, err := st.Programs.FindProgramByID(ctx, old.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Active() || got.ReplacedBy != next.ID || got.RetiredAt == nil {
		t.Fatalf("replaced program %+v", got)
	}
	if got, _ := st.Programs.FindProgramByID(ctx, next.ID); got.Replaces != old.ID || !got.Active() {
		t.Fatalf("replacing program %+v", got)
	}
	all, err := st.Programs.FindPrograms(ctx)
	if err != nil || len(all) != 2 {
		t.Fatalf("published programs %d (%v), want both", len(all), err)
	}

	// The period already granted keeps its grant; the next grants anew.
	nextPeriod := canasta.PeriodOf(Period.Start().AddDate(0, 1, 0))
	if _, err := st.Cycles.RunCycle(ctx, nextPeriod, nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		period canasta.Period
		want   map[int64]int64
	}{
		{Period, map[int64]int64{old.ID: 1000}},
		{nextPeriod, map[int64]int64{next.ID: 2000}},
	} {
		es, err := st.Entitlements.FindEntitlements(ctx, h.ID, c.period)
		if err != nil {
			t.Fatal(err)
		}
		got := map[int64]int64{}
		for _, e := range es {
			got[e.ProgramID] = e.Granted
		}
		if len(got) != len(c.want) || got[old.ID] != c.want[old.ID] || got[next.ID] != c.want[next.ID] {
			t.Fatalf("%s grants %v, want %v", c.period, got, c.want)
		}
	}
}
