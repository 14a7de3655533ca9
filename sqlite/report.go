package sqlite

import (
	"context"
	"database/sql/driver"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/canasta/canasta"
	sqlitedriver "modernc.org/sqlite"
)

// ReportService computes the auditors' reports with aggregate queries.
type ReportService struct {
	db *DB
}

var _ canasta.ReportService = (*ReportService)(nil)

// NewReportService returns the report service on db.
func NewReportService(db *DB) *ReportService {
	return &ReportService{db: db}
}

// SQLite has no time zone database, so reports bucket stored UTC times by
// local day and hour with Go's, through two SQL functions:
// canasta_local_day(time, zone) is the local "YYYY-MM-DD", and
// canasta_local_minute(time, zone) the minutes after local midnight.
func init() {
	sqlitedriver.MustRegisterDeterministicScalarFunction("canasta_local_day", 2, func(_ *sqlitedriver.FunctionContext, args []driver.Value) (driver.Value, error) {
		t, err := localTime(args)
		if err != nil {
			return nil, err
		}
		return t.Format(canasta.DayFormat), nil
	})
	sqlitedriver.MustRegisterDeterministicScalarFunction("canasta_local_minute", 2, func(_ *sqlitedriver.FunctionContext, args []driver.Value) (driver.Value, error) {
		t, err := localTime(args)
		if err != nil {
			return nil, err
		}
		return int64(t.Hour()*60 + t.Minute()), nil
	})
}

// locations caches time zones by name: a report calls the functions once
// for each redemption it covers.
var locations sync.Map

func localTime(args []driver.Value) (time.Time, error) {
	var ts, zone string
	for i, p := range []*string{&ts, &zone} {
		switch v := args[i].(type) {
		case string:
			*p = v
		case []byte:
			*p = string(v)
		default:
			return time.Time{}, fmt.Errorf("canasta_local: argument %d is %T, not text", i+1, args[i])
		}
	}
	loc, ok := locations.Load(zone)
	if !ok {
		l, err := time.LoadLocation(zone)
		if err != nil {
			return time.Time{}, fmt.Errorf("canasta_local: %w", err)
		}
		loc, _ = locations.LoadOrStore(zone, l)
	}
	t, err := parseTime(ts)
	if err != nil {
		return time.Time{}, err
	}
	return t.In(loc.(*time.Location)), nil
}

// RedemptionsPerDay reads the redemptions of the filter's span through
// the index on their time, and groups them by local day, point region and
// commodity. Redemptions are counted once per commodity even when two
// versions of a program grant the same one.
func (s *ReportService) RedemptionsPerDay(ctx context.Context, f canasta.RedemptionFilter) ([]*canasta.RedemptionDay, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	start, end := f.Span()
	rows, err := tx.QueryContext(ctx, `SELECT r.day, p.region, g.commodity_code, g.unit, COUNT(DISTINCT r.id), SUM(i.quantity)
FROM (SELECT id, point_id, canasta_local_day(created_at, ?) AS day FROM redemptions
	WHERE created_at >= ? AND created_at < ?) r
JOIN points p ON p.id = r.point_id
JOIN redemption_items i ON i.redemption_id = r.id
JOIN programs g ON g.id = i.program_id
WHERE ? = '' OR p.region = ?
GROUP BY r.day, p.region, g.commodity_code, g.unit
ORDER BY r.day, p.region, g.commodity_code, g.unit`,
		f.Location.String(), formatTime(start), formatTime(end), f.Region, f.Region)
	if err != nil {
		return nil, fmt.Errorf("report redemptions per day: %w", err)
	}
	defer rows.Close()
	days := []*canasta.RedemptionDay{}
	for rows.Next() {
		var d canasta.RedemptionDay
		var unit string
		if err := rows.Scan(&d.Day, &d.Region, &d.Commodity, &unit, &d.Redemptions, &d.Quantity); err != nil {
			return nil, fmt.Errorf("scan redemption day: %w", err)
		}
		d.Unit = canasta.Unit(unit)
		days = append(days, &d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("report redemptions per day: %w", err)
	}
	return days, nil
}

// ProgramUsage sums the period range of the grants table, which its key
// leads with, by program; a region filter joins each grant to its
// household.
func (s *ReportService) ProgramUsage(ctx context.Context, f canasta.UsageFilter) ([]*canasta.ProgramUsage, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	var q strings.Builder
	args := []any{string(f.From), string(f.To)}
	q.WriteString(`SELECT t.period, t.program_id, p.name, p.commodity_code, p.unit, t.n, t.redeemers, t.granted, t.redeemed
FROM (SELECT e.period, e.program_id, COUNT(*) AS n, SUM(e.redeemed > 0) AS redeemers,
		SUM(e.granted) AS granted, SUM(e.redeemed) AS redeemed
	FROM entitlements e`)
	if f.Region != "" {
		q.WriteString(` JOIN households h ON h.hid = e.household_hid AND h.region = ?`)
		args = append([]any{f.Region}, args...)
	}
	q.WriteString(` WHERE e.period >= ? AND e.period <= ?`)
	if f.ProgramID != 0 {
		q.WriteString(` AND e.program_id = ?`)
		args = append(args, f.ProgramID)
	}
	q.WriteString(` GROUP BY e.period, e.program_id) t
JOIN programs p ON p.id = t.program_id
ORDER BY t.period, t.program_id`)
	rows, err := tx.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("report program usage: %w", err)
	}
	defer rows.Close()
	usage := []*canasta.ProgramUsage{}
	for rows.Next() {
		var u canasta.ProgramUsage
		var period, unit string
		if err := rows.Scan(&period, &u.ProgramID, &u.Program, &u.Commodity, &unit, &u.Households, &u.Redeemers, &u.Granted, &u.Redeemed); err != nil {
			return nil, fmt.Errorf("scan program usage: %w", err)
		}
		u.Period, u.Unit = canasta.Period(period), canasta.Unit(unit)
		u.Untouched, u.Unused = u.Households-u.Redeemers, u.Granted-u.Redeemed
		usage = append(usage, &u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("report program usage: %w", err)
	}
	return usage, nil
}

// UnusualPoints groups the span's redemptions by point, comparing each
// household's region with the point's and each local time with the odd
// hours.
func (s *ReportService) UnusualPoints(ctx context.Context, f canasta.RedemptionFilter) ([]*canasta.PointPattern, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	start, end := f.Span()
	rows, err := tx.QueryContext(ctx, `SELECT p.id, p.name, p.kind, p.region, COUNT(*), SUM(h.region <> p.region),
	SUM(CASE WHEN ? <= ? THEN r.minute >= ? AND r.minute < ? ELSE r.minute >= ? OR r.minute < ? END)
FROM (SELECT point_id, household_hid, canasta_local_minute(created_at, ?) AS minute FROM redemptions
	WHERE created_at >= ? AND created_at < ?) r
JOIN points p ON p.id = r.point_id
JOIN households h ON h.hid = r.household_hid
WHERE ? = '' OR p.region = ?
GROUP BY p.id`,
		f.OddHours.Start, f.OddHours.End, f.OddHours.Start, f.OddHours.End, f.OddHours.Start, f.OddHours.End,
		f.Location.String(), formatTime(start), formatTime(end), f.Region, f.Region)
	if err != nil {
		return nil, fmt.Errorf("report unusual points: %w", err)
	}
	defer rows.Close()
	points := []*canasta.PointPattern{}
	for rows.Next() {
		var p canasta.PointPattern
		var kind string
		if err := rows.Scan(&p.PointID, &p.Name, &kind, &p.Region, &p.Redemptions, &p.OtherRegion, &p.OddHours); err != nil {
			return nil, fmt.Errorf("scan point pattern: %w", err)
		}
		p.Kind = canasta.PointKind(kind)
		p.SetShares()
		points = append(points, &p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("report unusual points: %w", err)
	}
	slices.SortFunc(points, canasta.UnusualFirst)
	return points, nil
}
