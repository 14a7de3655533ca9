package canasta_test

import (
	"slices"
	"testing"
	"time"

	"github.com/canasta/canasta"
)

func TestParseHourWindow(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want canasta.HourWindow
		ok   bool
	}{
		{"22:00-06:00", canasta.HourWindow{Start: 1320, End: 360}, true},
		{"09:30-17:45", canasta.HourWindow{Start: 570, End: 1065}, true},
		{"22-06", canasta.HourWindow{Start: 1320, End: 360}, true},
		{"00:00-24:00", canasta.HourWindow{Start: 0, End: 1440}, true},
		{"25:00-06:00", canasta.HourWindow{}, false},
		{"22:60-06:00", canasta.HourWindow{}, false},
		{"06:00-06:00", canasta.HourWindow{}, false},
		{"24:00-06:00", canasta.HourWindow{}, false},
		{"6:00-7:00", canasta.HourWindow{}, false},
		{"22:00", canasta.HourWindow{}, false},
		{"", canasta.HourWindow{}, false},
	} {
		t.Run(tt.in, func(t *testing.T) {
			got, err := canasta.ParseHourWindow(tt.in)
			if tt.ok != (err == nil) || (tt.ok && got != tt.want) {
				t.Fatalf("ParseHourWindow(%q) = %+v, %v; want %+v, ok %v", tt.in, got, err, tt.want, tt.ok)
			}
			if err != nil && canasta.ErrorCode(err) != canasta.EINVALID {
				t.Fatalf("error %v is not EINVALID", err)
			}
			if tt.ok && got.String() != tt.in && len(tt.in) == 11 {
				t.Fatalf("String() = %q, want %q", got.String(), tt.in)
			}
		})
	}
}

func TestHourWindowContains(t *testing.T) {
	night, day := canasta.DefaultOddHours, canasta.HourWindow{Start: 9 * 60, End: 17 * 60}
	for _, tt := range []struct {
		w    canasta.HourWindow
		m    int
		want bool
	}{
		{night, 22 * 60, true}, {night, 23*60 + 59, true}, {night, 0, true}, {night, 6*60 - 1, true},
		{night, 6 * 60, false}, {night, 12 * 60, false}, {night, 22*60 - 1, false},
		{day, 9 * 60, true}, {day, 17*60 - 1, true}, {day, 17 * 60, false}, {day, 0, false},
	} {
		if got := tt.w.Contains(tt.m); got != tt.want {
			t.Errorf("%s contains %02d:%02d = %v, want %v", tt.w, tt.m/60, tt.m%60, got, tt.want)
		}
	}
}

// TestRedemptionFilterSpan checks that days are local: a day in a zone
// with daylight saving time is 23 or 25 hours long.
func TestRedemptionFilterSpan(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name       string
		f          canasta.RedemptionFilter
		start, end string
	}{
		{"UTC", canasta.RedemptionFilter{From: "2025-03-01", To: "2025-03-31"}, "2025-03-01T00:00:00Z", "2025-04-01T00:00:00Z"},
		{"SpringForward", canasta.RedemptionFilter{From: "2025-03-09", To: "2025-03-09", Location: ny}, "2025-03-09T05:00:00Z", "2025-03-10T04:00:00Z"},
		{"FallBack", canasta.RedemptionFilter{From: "2025-11-02", To: "2025-11-02", Location: ny}, "2025-11-02T04:00:00Z", "2025-11-03T05:00:00Z"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.f.Validate(); err != nil {
				t.Fatal(err)
			}
			start, end := tt.f.Span()
			if got := start.Format(time.RFC3339) + " " + end.Format(time.RFC3339); got != tt.start+" "+tt.end {
				t.Fatalf("span %s, want %s %s", got, tt.start, tt.end)
			}
			if tt.f.OddHours != canasta.DefaultOddHours {
				t.Fatalf("odd hours %v, want the default", tt.f.OddHours)
			}
		})
	}
}

func TestUnusualFirst(t *testing.T) {
	p := func(id, n, other, odd int64) *canasta.PointPattern {
		pp := &canasta.PointPattern{PointID: id, Redemptions: n, OtherRegion: other, OddHours: odd}
		pp.SetShares()
		return pp
	}
	points := []*canasta.PointPattern{
		p(1, 100, 10, 0),  // 0.10
		p(2, 10, 0, 9),    // 0.90
		p(3, 50, 45, 5),   // 0.90, more redemptions
		p(4, 0, 0, 0),     // nothing
		p(5, 100, 10, 10), // 0.10, tie with 1 on everything but id
	}
	slices.SortFunc(points, canasta.UnusualFirst)
	var ids []int64
	for _, pp := range points {
		ids = append(ids, pp.PointID)
	}
	if want := []int64{3, 2, 1, 5, 4}; !slices.Equal(ids, want) {
		t.Fatalf("order %v, want %v", ids, want)
	}
	if points[0].OtherRegionShare != 0.9 || points[0].OddHoursShare != 0.1 {
		t.Fatalf("shares %+v", *points[0])
	}
}
