package postgres

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/canasta/canasta"
)

// ReportService computes the auditors' reports with aggregate queries.
// Days and hours are local to the filter's zone through AT TIME ZONE, so
// the database's own zone database does the conversion.
type ReportService struct {
	db *DB
}

var _ canasta.ReportService = (*ReportService)(nil)

// NewReportService returns the report service on db.
func NewReportService(db *DB) *ReportService {
	return &ReportService{db: db}
}

// RedemptionsPerDay reads the redemptions of the filter's span through
// the index on their time, and groups them by local day, point region and
// commodity. Redemptions are counted once per commodity even when two
// versions of a program grant the same one.
func (s *ReportService) RedemptionsPerDay(ctx context.Context, f canasta.RedemptionFilter) (_ []*canasta.RedemptionDay, err error) {
	defer checkAvailable(&err)
	if err := f.Validate(); err != nil {
		return nil, err
	}
	ctx, cancel := s.db.withTimeout(ctx)
	defer cancel()

	start, end := f.Span()
	rows, err := s.db.pool.Query(ctx, `SELECT r.day, p.region, g.commodity_code, g.unit, count(DISTINCT r.id), sum(i.quantity)::bigint
FROM (SELECT id, point_id, to_char(created_at AT TIME ZONE $1, 'YYYY-MM-DD') AS day FROM redemptions
	WHERE created_at >= $2 AND created_at < $3) r
JOIN points p ON p.id = r.point_id
JOIN redemption_items i ON i.redemption_id = r.id
JOIN programs g ON g.id = i.program_id
WHERE $4 = '' OR p.region = $4
GROUP BY r.day, p.region, g.commodity_code, g.unit
ORDER BY r.day, p.region COLLATE "C", g.commodity_code COLLATE "C", g.unit COLLATE "C"`,
		f.Location.String(), start, end, f.Region)
	if err != nil {
		return nil, fmt.Errorf("report redemptions per day: %w", err)
	}
	defer rows.Close()
	days := []*canasta.RedemptionDay{}
	for rows.Next() {
		var d canasta.RedemptionDay
		if err := rows.Scan(&d.Day, &d.Region, &d.Commodity, &d.Unit, &d.Redemptions, &d.Quantity); err != nil {
			return nil, fmt.Errorf("scan redemption day: %w", err)
		}
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
func (s *ReportService) ProgramUsage(ctx context.Context, f canasta.UsageFilter) (_ []*canasta.ProgramUsage, err error) {
	defer checkAvailable(&err)
	if err := f.Validate(); err != nil {
		return nil, err
	}
	ctx, cancel := s.db.withTimeout(ctx)
	defer cancel()

	var q strings.Builder
	args := []any{string(f.From), string(f.To)}
	q.WriteString(`SELECT t.period, t.program_id, p.name, p.commodity_code, p.unit, t.n, t.redeemers, t.granted, t.redeemed
FROM (SELECT e.period, e.program_id, count(*) AS n, count(*) FILTER (WHERE e.redeemed > 0) AS redeemers,
		sum(e.granted)::bigint AS granted, sum(e.redeemed)::bigint AS redeemed
	FROM entitlements e`)
	if f.Region != "" {
		args = append(args, f.Region)
		q.WriteString(` JOIN households h ON h.hid = e.household_hid AND h.region = $` + strconv.Itoa(len(args)))
	}
	q.WriteString(` WHERE e.period >= $1 AND e.period <= $2`)
	if f.ProgramID != 0 {
		args = append(args, f.ProgramID)
		q.WriteString(` AND e.program_id = $` + strconv.Itoa(len(args)))
	}
	q.WriteString(` GROUP BY e.period, e.program_id) t
JOIN programs p ON p.id = t.program_id
ORDER BY t.period, t.program_id`)
	rows, err := s.db.pool.Query(ctx, q.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("report program usage: %w", err)
	}
	defer rows.Close()
	usage := []*canasta.ProgramUsage{}
	for rows.Next() {
		var u canasta.ProgramUsage
		if err := rows.Scan(&u.Period, &u.ProgramID, &u.Program, &u.Commodity, &u.Unit, &u.Households, &u.Redeemers, &u.Granted, &u.Redeemed); err != nil {
			return nil, fmt.Errorf("scan program usage: %w", err)
		}
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
func (s *ReportService) UnusualPoints(ctx context.Context, f canasta.RedemptionFilter) (_ []*canasta.PointPattern, err error) {
	defer checkAvailable(&err)
	if err := f.Validate(); err != nil {
		return nil, err
	}
	ctx, cancel := s.db.withTimeout(ctx)
	defer cancel()

	start, end := f.Span()
	rows, err := s.db.pool.Query(ctx, `SELECT p.id, p.name, p.kind, p.region, count(*),
	count(*) FILTER (WHERE h.region <> p.region),
	count(*) FILTER (WHERE CASE WHEN $5::int <= $6::int THEN r.minute >= $5::int AND r.minute < $6::int
		ELSE r.minute >= $5::int OR r.minute < $6::int END)
FROM (SELECT point_id, household_hid,
		extract(hour FROM created_at AT TIME ZONE $1)::int * 60 + extract(minute FROM created_at AT TIME ZONE $1)::int AS minute
	FROM redemptions WHERE created_at >= $2 AND created_at < $3) r
JOIN points p ON p.id = r.point_id
JOIN households h ON h.hid = r.household_hid
WHERE $4 = '' OR p.region = $4
GROUP BY p.id`,
		f.Location.String(), start, end, f.Region, f.OddHours.Start, f.OddHours.End)
	if err != nil {
		return nil, fmt.Errorf("report unusual points: %w", err)
	}
	defer rows.Close()
	points := []*canasta.PointPattern{}
	for rows.Next() {
		var p canasta.PointPattern
		if err := rows.Scan(&p.PointID, &p.Name, &p.Kind, &p.Region, &p.Redemptions, &p.OtherRegion, &p.OddHours); err != nil {
			return nil, fmt.Errorf("scan point pattern: %w", err)
		}
		p.SetShares()
		points = append(points, &p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("report unusual points: %w", err)
	}
	slices.SortFunc(points, canasta.UnusualFirst)
	return points, nil
}
