package storetest

import (
	"cmp"
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/canasta/canasta"
)

// reportLedger is a small ledger whose every redemption is known, so each
// report can be computed again from the list.
type reportLedger struct {
	*fixture
	north, south, clinic *canasta.Point
	households           []*canasta.Household // two in North, one in South
	rice, rice2, oil     *canasta.Program
	made                 []madeRedemption
}

type madeRedemption struct {
	at        time.Time
	point     *canasta.Point
	household *canasta.Household
	items     map[*canasta.Program]int64
}

func newReportLedger(t *testing.T, opener Opener) *reportLedger {
	t.Helper()
	l := &reportLedger{fixture: open(t, opener)}
	ctx := context.Background()
	for _, p := range []**canasta.Point{&l.north, &l.south, &l.clinic} {
		*p = &canasta.Point{Name: "Point", Kind: canasta.PointShop, Region: "North"}
	}
	l.south.Region, l.clinic.Kind, l.clinic.Name = "South", canasta.PointClinic, "Clinic"
	for _, p := range []*canasta.Point{l.north, l.south, l.clinic} {
		if err := l.Points.CreatePoint(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	for i, size := range []int{2, 1, 3} {
		h := NewHousehold(i, size)
		if i == 2 {
			h.Address.Region = "South"
		}
		l.households = append(l.households, mustCreateHousehold(t, l.Store, h))
	}
	l.rice = mustCreateProgram(t, l.Store, "Rice", "rice", canasta.UnitGram, "true", ruleSizeTimes1000)
	l.rice2 = mustCreateProgram(t, l.Store, "Rice v2", "rice", canasta.UnitGram, "true", "500")
	l.oil = mustCreateProgram(t, l.Store, "Oil", "oil", canasta.UnitMillilitre, "true", "500")
	for _, period := range []canasta.Period{Period, "2025-04"} {
		if _, err := l.Cycles.RunCycle(ctx, period, nil); err != nil {
			t.Fatal(err)
		}
	}

	hN1, hN2, hS := l.households[0], l.households[1], l.households[2]
	at := func(s string) time.Time {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			panic(err)
		}
		return t
	}
	for _, m := range []madeRedemption{
		{at("2025-03-15T10:00:00Z"), l.north, hN1, map[*canasta.Program]int64{l.rice: 500, l.oil: 100}},
		{at("2025-03-15T23:30:00Z"), l.north, hS, map[*canasta.Program]int64{l.rice: 1000, l.rice2: 200}},
		{at("2025-03-16T03:00:00Z"), l.south, hS, map[*canasta.Program]int64{l.oil: 200}},
		{at("2025-03-16T12:00:00Z"), l.south, hN2, map[*canasta.Program]int64{l.rice: 300}},
		{at("2025-03-17T05:30:00Z"), l.north, hN2, map[*canasta.Program]int64{l.oil: 50}},
		{at("2025-03-17T05:45:00Z"), l.north, hN1, map[*canasta.Program]int64{l.rice2: 100}},
		{at("2025-04-01T02:00:00Z"), l.south, hS, map[*canasta.Program]int64{l.rice: 100}},
	} {
		l.clock.Set(m.at)
		req := &canasta.RedemptionRequest{RequestID: fmt.Sprintf("r%d", len(l.made)), PointID: m.point.ID, HouseholdID: m.household.ID}
		for _, p := range []*canasta.Program{l.rice, l.rice2, l.oil} {
			if q := m.items[p]; q > 0 {
				req.Items = append(req.Items, canasta.RedemptionItem{ProgramID: p.ID, Quantity: q})
			}
		}
		if _, _, err := l.Redemptions.Redeem(ctx, req); err != nil {
			t.Fatalf("redeem at %v: %v", m.at, err)
		}
		l.made = append(l.made, m)
	}
	l.clock.Set(Now)
	return l
}

// inSpan returns the redemptions the filter covers, each with its local
// time.
func (l *reportLedger) inSpan(f canasta.RedemptionFilter) (ms []madeRedemption, local []time.Time) {
	loc := f.Location
	if loc == nil {
		loc = time.UTC
	}
	for _, m := range l.made {
		day := m.at.In(loc).Format(canasta.DayFormat)
		if day >= f.From && day <= f.To && (f.Region == "" || f.Region == m.point.Region) {
			ms = append(ms, m)
			local = append(local, m.at.In(loc))
		}
	}
	return ms, local
}

func (l *reportLedger) perDay(f canasta.RedemptionFilter) []*canasta.RedemptionDay {
	type key struct{ day, region, commodity string }
	rows := map[key]*canasta.RedemptionDay{}
	ms, local := l.inSpan(f)
	for i, m := range ms {
		counted := map[string]bool{}
		for p, q := range m.items {
			k := key{local[i].Format(canasta.DayFormat), m.point.Region, p.Commodity.Code}
			r := rows[k]
			if r == nil {
				r = &canasta.RedemptionDay{Day: k.day, Region: k.region, Commodity: k.commodity, Unit: p.Commodity.Unit}
				rows[k] = r
			}
			r.Quantity += q
			if !counted[k.commodity] {
				counted[k.commodity] = true
				r.Redemptions++
			}
		}
	}
	out := []*canasta.RedemptionDay{}
	for _, r := range rows {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b *canasta.RedemptionDay) int {
		return cmp.Or(cmp.Compare(a.Day, b.Day), cmp.Compare(a.Region, b.Region), cmp.Compare(a.Commodity, b.Commodity))
	})
	return out
}

func (l *reportLedger) unusual(f canasta.RedemptionFilter) []*canasta.PointPattern {
	odd := f.OddHours
	if odd == (canasta.HourWindow{}) {
		odd = canasta.DefaultOddHours
	}
	rows := map[int64]*canasta.PointPattern{}
	ms, local := l.inSpan(f)
	for i, m := range ms {
		p := rows[m.point.ID]
		if p == nil {
			p = &canasta.PointPattern{PointID: m.point.ID, Name: m.point.Name, Kind: m.point.Kind, Region: m.point.Region}
			rows[m.point.ID] = p
		}
		p.Redemptions++
		if m.household.Address.Region != m.point.Region {
			p.OtherRegion++
		}
		if odd.Contains(local[i].Hour()*60 + local[i].Minute()) {
			p.OddHours++
		}
	}
	out := []*canasta.PointPattern{}
	for _, p := range rows {
		p.SetShares()
		out = append(out, p)
	}
	slices.SortFunc(out, canasta.UnusualFirst)
	return out
}

func (l *reportLedger) usage(tb testing.TB, f canasta.UsageFilter) []*canasta.ProgramUsage {
	var out []*canasta.ProgramUsage
	for _, period := range []canasta.Period{Period, "2025-04"} {
		if period < f.From || period > f.To {
			continue
		}
		for _, p := range []*canasta.Program{l.rice, l.rice2, l.oil} {
			if f.ProgramID != 0 && f.ProgramID != p.ID {
				continue
			}
			u := &canasta.ProgramUsage{ProgramID: p.ID, Program: p.Name, Commodity: p.Commodity.Code, Unit: p.Commodity.Unit, Period: period}
			for _, h := range l.households {
				if f.Region != "" && h.Address.Region != f.Region {
					continue
				}
				u.Households++
				u.Granted += grantOf(tb, l.Store, p, h, period).Quantity
				var redeemed int64
				for _, m := range l.made {
					if m.household == h && canasta.PeriodOf(m.at) == period {
						redeemed += m.items[p]
					}
				}
				if redeemed > 0 {
					u.Redeemers++
				}
				u.Redeemed += redeemed
			}
			u.Untouched, u.Unused = u.Households-u.Redeemers, u.Granted-u.Redeemed
			if u.Households > 0 {
				out = append(out, u)
			}
		}
	}
	return out
}

func testReports(t *testing.T, opener Opener) {
	l := newReportLedger(t, opener)
	ctx := context.Background()
	lima, err := time.LoadLocation("America/Lima")
	if err != nil {
		t.Fatal(err)
	}
	kathmandu, err := time.LoadLocation("Asia/Kathmandu") // UTC+5:45
	if err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		name string
		f    canasta.RedemptionFilter
	}{
		{"MarchUTC", canasta.RedemptionFilter{From: "2025-03-15", To: "2025-03-31"}},
		{"MarchLima", canasta.RedemptionFilter{From: "2025-03-15", To: "2025-03-31", Location: lima}},
		{"QuarterHourZone", canasta.RedemptionFilter{From: "2025-03-01", To: "2025-04-30", Location: kathmandu}},
		{"OneDay", canasta.RedemptionFilter{From: "2025-03-16", To: "2025-03-16"}},
		{"South", canasta.RedemptionFilter{From: "2025-03-01", To: "2025-04-30", Region: "South"}},
		{"NoSuchRegion", canasta.RedemptionFilter{From: "2025-03-01", To: "2025-04-30", Region: "East"}},
		{"OtherOddHours", canasta.RedemptionFilter{From: "2025-03-01", To: "2025-04-30", OddHours: canasta.HourWindow{Start: 5 * 60, End: 11 * 60}}},
		{"BeforeAnything", canasta.RedemptionFilter{From: "2024-01-01", To: "2024-12-31"}},
	} {
		t.Run("PerDay"+tt.name, func(t *testing.T) {
			got, err := l.Reports.RedemptionsPerDay(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if want := l.perDay(tt.f); !reflect.DeepEqual(got, want) {
				t.Fatalf("redemptions per day:\n%s\nwant\n%s", dumpRows(got), dumpRows(want))
			}
		})
		t.Run("Unusual"+tt.name, func(t *testing.T) {
			got, err := l.Reports.UnusualPoints(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			if want := l.unusual(tt.f); !reflect.DeepEqual(got, want) {
				t.Fatalf("unusual points:\n%s\nwant\n%s", dumpRows(got), dumpRows(want))
			}
		})
	}

	t.Run("PerDayShape", func(t *testing.T) {
		// The second redemption of the 15th redeems rice under two
		// programs: one receipt, counted once for rice.
		got, err := l.Reports.RedemptionsPerDay(ctx, canasta.RedemptionFilter{From: "2025-03-15", To: "2025-03-15"})
		if err != nil {
			t.Fatal(err)
		}
		want := []*canasta.RedemptionDay{
			{Day: "2025-03-15", Region: "North", Commodity: "oil", Unit: canasta.UnitMillilitre, Redemptions: 1, Quantity: 100},
			{Day: "2025-03-15", Region: "North", Commodity: "rice", Unit: canasta.UnitGram, Redemptions: 2, Quantity: 1700},
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("got\n%s\nwant\n%s", dumpRows(got), dumpRows(want))
		}
	})

	for _, tt := range []struct {
		name string
		f    canasta.UsageFilter
	}{
		{"March", canasta.UsageFilter{From: Period, To: Period}},
		{"MarchApril", canasta.UsageFilter{From: Period, To: "2025-04"}},
		{"OneProgram", canasta.UsageFilter{From: Period, To: "2025-04", ProgramID: l.rice.ID}},
		{"NorthHouseholds", canasta.UsageFilter{From: Period, To: "2025-04", Region: "North"}},
		{"NoGrants", canasta.UsageFilter{From: "2024-01", To: "2024-12"}},
	} {
		t.Run("Usage"+tt.name, func(t *testing.T) {
			got, err := l.Reports.ProgramUsage(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			want := l.usage(t, tt.f)
			if want == nil {
				want = []*canasta.ProgramUsage{}
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("program usage:\n%s\nwant\n%s", dumpRows(got), dumpRows(want))
			}
		})
	}

	for _, tt := range []struct {
		name string
		f    canasta.RedemptionFilter
	}{
		{"NoDays", canasta.RedemptionFilter{}},
		{"BadDay", canasta.RedemptionFilter{From: "2025-02-30", To: "2025-03-01"}},
		{"EndBeforeStart", canasta.RedemptionFilter{From: "2025-03-02", To: "2025-03-01"}},
		{"TooManyDays", canasta.RedemptionFilter{From: "2024-01-01", To: "2025-03-01"}},
		{"LocalZone", canasta.RedemptionFilter{From: "2025-03-01", To: "2025-03-01", Location: time.Local}},
		{"EmptyOddHours", canasta.RedemptionFilter{From: "2025-03-01", To: "2025-03-01", OddHours: canasta.HourWindow{Start: 60, End: 60}}},
	} {
		t.Run("Refuses"+tt.name, func(t *testing.T) {
			_, err := l.Reports.RedemptionsPerDay(ctx, tt.f)
			wantCode(t, err, canasta.EINVALID)
			_, err = l.Reports.UnusualPoints(ctx, tt.f)
			wantCode(t, err, canasta.EINVALID)
		})
	}
	for _, tt := range []struct {
		name string
		f    canasta.UsageFilter
	}{
		{"NoPeriods", canasta.UsageFilter{}},
		{"EndBeforeStart", canasta.UsageFilter{From: "2025-03", To: "2025-02"}},
		{"TooManyPeriods", canasta.UsageFilter{From: "2020-01", To: "2025-02"}},
	} {
		t.Run("RefusesUsage"+tt.name, func(t *testing.T) {
			_, err := l.Reports.ProgramUsage(ctx, tt.f)
			wantCode(t, err, canasta.EINVALID)
		})
	}
}

// dumpRows formats report rows for failure messages.
func dumpRows[T any](rows []*T) string {
	s := ""
	for _, r := range rows {
		s += fmt.Sprintf("  %+v\n", *r)
	}
	return s
}
