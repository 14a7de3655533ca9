package canasta

import (
	"context"
	"fmt"
	"time"
)

// Reports for auditors are aggregates only: counts and quantities by day,
// region, program, period and point. None names or identifies a person or
// a household; the unusual-points report flags places, never people.

// DayFormat is the form of a report's days.
const DayFormat = "2006-01-02"

// MaxReportDays bounds the days a redemption report may cover, and
// MaxReportPeriods the periods a usage report may cover, so one request
// cannot scan the whole ledger's history without end.
const (
	MaxReportDays    = 366
	MaxReportPeriods = 36
)

// HourWindow is a span of local time of day, in minutes after midnight.
// Start after End wraps around midnight: 22:00 to 06:00 is {1320, 360}.
type HourWindow struct {
	Start int `json:"start"`
	End   int `json:"end"`
}

// DefaultOddHours is 22:00 to 06:00, when most points are closed.
var DefaultOddHours = HourWindow{Start: 22 * 60, End: 6 * 60}

// Contains reports whether minute m after midnight falls in the window.
func (w HourWindow) Contains(m int) bool {
	if w.Start <= w.End {
		return m >= w.Start && m < w.End
	}
	return m >= w.Start || m < w.End
}

// String returns the window as "22:00-06:00".
func (w HourWindow) String() string {
	return fmt.Sprintf("%02d:%02d-%02d:%02d", w.Start/60, w.Start%60, w.End/60, w.End%60)
}

// ParseHourWindow parses "HH:MM-HH:MM" (or "HH-HH").
func ParseHourWindow(s string) (HourWindow, error) {
	var w HourWindow
	var sh, sm, eh, em int
	if n, _ := fmt.Sscanf(s, "%d:%d-%d:%d", &sh, &sm, &eh, &em); n == 4 && fmt.Sprintf("%02d:%02d-%02d:%02d", sh, sm, eh, em) == s {
		w = HourWindow{Start: sh*60 + sm, End: eh*60 + em}
	} else if n, _ := fmt.Sscanf(s, "%d-%d", &sh, &eh); n == 2 && fmt.Sprintf("%02d-%02d", sh, eh) == s {
		w = HourWindow{Start: sh * 60, End: eh * 60}
		sm, em = 0, 0
	} else {
		return w, Errorf(EINVALID, "Hours %q must be HH:MM-HH:MM, such as 22:00-06:00.", s)
	}
	if sh > 23 || eh > 24 || sm > 59 || em > 59 || w.End > 24*60 || w.Start == w.End {
		return w, Errorf(EINVALID, "Hours %q must be two different times of day between 00:00 and 24:00.", s)
	}
	return w, nil
}

// RedemptionFilter selects redemptions by the local day they were made
// on and the region of the point that made them.
type RedemptionFilter struct {
	// From and To are local days, "YYYY-MM-DD", both included.
	From, To string
	// Region is a point region; "" means every region.
	Region string
	// Location is where days and hours are local to; nil means UTC. Its
	// name must be an IANA zone name (time.LoadLocation's), which both
	// stores resolve.
	Location *time.Location
	// OddHours is the window the unusual-points report counts; the zero
	// window means DefaultOddHours.
	OddHours HourWindow
}

// Validate checks the filter and fills in its defaults.
func (f *RedemptionFilter) Validate() error {
	if f.Location == nil {
		f.Location = time.UTC
	}
	if f.Location.String() == "Local" {
		return Errorf(EINVALID, "Give the report's time zone by its IANA name, such as America/Lima.")
	}
	if f.OddHours == (HourWindow{}) {
		f.OddHours = DefaultOddHours
	}
	if f.OddHours.Start < 0 || f.OddHours.Start >= 24*60 || f.OddHours.End < 0 || f.OddHours.End > 24*60 || f.OddHours.Start == f.OddHours.End {
		return Errorf(EINVALID, "Odd hours must be two different times of day between 00:00 and 24:00.")
	}
	from, err := parseDay("from", f.From)
	if err != nil {
		return err
	}
	to, err := parseDay("to", f.To)
	if err != nil {
		return err
	}
	if to.Before(from) {
		return Errorf(EINVALID, "The report's end day %s is before its start day %s.", f.To, f.From)
	}
	if days := int(to.Sub(from).Hours()/24) + 1; days > MaxReportDays {
		return Errorf(EINVALID, "A report may cover at most %d days, not %d.", MaxReportDays, days)
	}
	if len(f.Region) > 200 {
		return Errorf(EINVALID, "A region name is at most 200 bytes.")
	}
	return nil
}

func parseDay(name, s string) (time.Time, error) {
	t, err := time.Parse(DayFormat, s)
	if err != nil || t.Format(DayFormat) != s {
		return time.Time{}, Errorf(EINVALID, "The %s day %q must be YYYY-MM-DD.", name, s)
	}
	return t, nil
}

// Span returns the instants the filter's days cover: from local midnight
// starting From to local midnight ending To. Call it after Validate.
func (f *RedemptionFilter) Span() (start, end time.Time) {
	from, _ := time.Parse(DayFormat, f.From)
	to, _ := time.Parse(DayFormat, f.To)
	start = time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, f.Location).UTC()
	end = time.Date(to.Year(), to.Month(), to.Day()+1, 0, 0, 0, 0, f.Location).UTC()
	return start, end
}

// UsageFilter selects grants by period, program and the region of the
// household they were granted to.
type UsageFilter struct {
	// From and To are periods, both included.
	From, To Period
	// ProgramID is one program; 0 means every program.
	ProgramID int64
	// Region is a household region; "" means every region.
	Region string
}

// Validate checks the filter.
func (f *UsageFilter) Validate() error {
	if _, err := ParsePeriod(string(f.From)); err != nil {
		return err
	}
	if _, err := ParsePeriod(string(f.To)); err != nil {
		return err
	}
	from, to := f.From.Start(), f.To.Start()
	if to.Before(from) {
		return Errorf(EINVALID, "The report's last period %s is before its first period %s.", f.To, f.From)
	}
	if n := (to.Year()-from.Year())*12 + int(to.Month()-from.Month()) + 1; n > MaxReportPeriods {
		return Errorf(EINVALID, "A report may cover at most %d periods, not %d.", MaxReportPeriods, n)
	}
	if f.ProgramID < 0 {
		return Errorf(EINVALID, "A program id is a positive number.")
	}
	if len(f.Region) > 200 {
		return Errorf(EINVALID, "A region name is at most 200 bytes.")
	}
	return nil
}

// RedemptionDay is what was redeemed of one commodity on one local day at
// the points of one region.
type RedemptionDay struct {
	Day       string `json:"day"`
	Region    string `json:"region"`
	Commodity string `json:"commodity"`
	Unit      Unit   `json:"unit"`
	// Redemptions counts the receipts with an item of the commodity.
	Redemptions int64 `json:"redemptions"`
	Quantity    int64 `json:"quantity"`
}

// ProgramUsage is how one program's grants of one period were used.
type ProgramUsage struct {
	ProgramID int64  `json:"program_id"`
	Program   string `json:"program"`
	Commodity string `json:"commodity"`
	Unit      Unit   `json:"unit"`
	Period    Period `json:"period"`
	// Households counts the households granted; Redeemers those that
	// redeemed any of it; Untouched those that redeemed none.
	Households int64 `json:"households"`
	Redeemers  int64 `json:"redeemers"`
	Untouched  int64 `json:"untouched"`
	Granted    int64 `json:"granted"`
	Redeemed   int64 `json:"redeemed"`
	Unused     int64 `json:"unused"` // Granted - Redeemed
}

// PointPattern is how a point's redemptions were spread: how many were for
// households registered in another region than the point's, and how many
// were made at odd hours. It describes the point, not the people served.
type PointPattern struct {
	PointID     int64     `json:"point_id"`
	Name        string    `json:"name"`
	Kind        PointKind `json:"kind"`
	Region      string    `json:"region"`
	Redemptions int64     `json:"redemptions"`
	OtherRegion int64     `json:"other_region"`
	OddHours    int64     `json:"odd_hours"`
	// Shares are of Redemptions, from 0 to 1.
	OtherRegionShare float64 `json:"other_region_share"`
	OddHoursShare    float64 `json:"odd_hours_share"`
}

// SetShares computes the shares from the counts.
func (p *PointPattern) SetShares() {
	if p.Redemptions > 0 {
		p.OtherRegionShare = float64(p.OtherRegion) / float64(p.Redemptions)
		p.OddHoursShare = float64(p.OddHours) / float64(p.Redemptions)
	}
}

// UnusualFirst orders points by the larger of their two shares, highest
// first, then by more redemptions, then by id, so the points most worth a
// look lead and the order is the same on every store.
func UnusualFirst(a, b *PointPattern) int {
	sa, sb := max(a.OtherRegionShare, a.OddHoursShare), max(b.OtherRegionShare, b.OddHoursShare)
	switch {
	case sa != sb:
		if sa > sb {
			return -1
		}
		return 1
	case a.Redemptions != b.Redemptions:
		if a.Redemptions > b.Redemptions {
			return -1
		}
		return 1
	}
	switch {
	case a.PointID < b.PointID:
		return -1
	case a.PointID > b.PointID:
		return 1
	}
	return 0
}

// ReportService computes the auditors' reports. Auditors and admins.
type ReportService interface {
	// RedemptionsPerDay totals redemptions by local day, point region and
	// commodity, ordered by day, region and commodity. EINVALID for a bad
	// filter.
	RedemptionsPerDay(ctx context.Context, f RedemptionFilter) ([]*RedemptionDay, error)

	// ProgramUsage totals grants and redemptions by program and period,
	// ordered by period and program id: the uptake and unused-quota
	// reports. EINVALID for a bad filter.
	ProgramUsage(ctx context.Context, f UsageFilter) ([]*ProgramUsage, error)

	// UnusualPoints counts, for each point with redemptions in the
	// filter's days, those for households registered in another region and
	// those made in the filter's odd hours, ordered by UnusualFirst.
	// EINVALID for a bad filter.
	UnusualPoints(ctx context.Context, f RedemptionFilter) ([]*PointPattern, error)
}
