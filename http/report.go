package http

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/canasta/canasta"
)

// Report is one auditor report, ready to show: its rows as text (the data
// table a page renders beside the chart, and the CSV), the chart of it,
// and the rows as the JSON API returns them.
type Report struct {
	// Name is the report's path name, such as "uptake"; it also keys the
	// report's title and column headings in a message catalog.
	Name  string
	Title string
	// Filter is the filter as applied, defaults filled in, by query
	// parameter name: from, to, region, tz, odd_hours, program.
	Filter map[string]string
	// Columns are the column keys, as in the CSV header.
	Columns []string
	Rows    [][]string
	Chart   Chart
	// Data is the rows as the JSON API returns them.
	Data any
}

// ReportNames lists the reports in the order pages show them.
var ReportNames = []string{"redemptions-per-day", "uptake", "unused", "unusual-points"}

// reportTitles are the reports' English titles.
var reportTitles = map[string]string{
	"redemptions-per-day": "Redemptions per day and region",
	"uptake":              "Uptake per program",
	"unused":              "Quota left unused",
	"unusual-points":      "Points with unusual patterns",
}

// MaxChartPoints bounds the points the unusual-points chart shows; the
// table lists them all.
const MaxChartPoints = 12

// Report computes the named report for the filters in q (from, to,
// region, tz and odd_hours for the redemption reports; from, to, program
// and region for uptake and unused). Missing days default to the 30 days
// ending today, missing periods to the current one; the time zone to
// ReportLocation. ENOTFOUND for an unknown report, EINVALID for a bad
// filter.
func (s *Server) Report(ctx context.Context, name string, q url.Values) (*Report, error) {
	if s.ReportService == nil {
		return nil, fmt.Errorf("report %s: no report service configured", name)
	}
	switch name {
	case "redemptions-per-day", "unusual-points":
		f, err := s.redemptionFilter(q)
		if err != nil {
			return nil, err
		}
		rep := &Report{Name: name, Title: reportTitles[name], Filter: map[string]string{
			"from": f.From, "to": f.To, "region": f.Region, "tz": f.Location.String()}}
		if name == "unusual-points" {
			rep.Filter["odd_hours"] = f.OddHours.String()
			points, err := s.ReportService.UnusualPoints(ctx, f)
			if err != nil {
				return nil, fmt.Errorf("report %s: %w", name, err)
			}
			unusualPointsReport(rep, points)
			return rep, nil
		}
		days, err := s.ReportService.RedemptionsPerDay(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("report %s: %w", name, err)
		}
		redemptionsPerDayReport(rep, f, days, q.Get("commodity"))
		return rep, nil
	case "uptake", "unused":
		f, err := s.usageFilter(q)
		if err != nil {
			return nil, err
		}
		usage, err := s.ReportService.ProgramUsage(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("report %s: %w", name, err)
		}
		rep := &Report{Name: name, Title: reportTitles[name], Filter: map[string]string{
			"from": string(f.From), "to": string(f.To), "region": f.Region}}
		if f.ProgramID != 0 {
			rep.Filter["program"] = strconv.FormatInt(f.ProgramID, 10)
		}
		if name == "uptake" {
			uptakeReport(rep, usage)
		} else {
			unusedReport(rep, usage)
		}
		return rep, nil
	}
	return nil, canasta.Errorf(canasta.ENOTFOUND, "There is no report %q: the reports are %s.", name, strings.Join(ReportNames, ", "))
}

func (s *Server) reportLocation(q url.Values) (*time.Location, error) {
	name := q.Get("tz")
	if name == "" {
		if s.ReportLocation != nil {
			return s.ReportLocation, nil
		}
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil || name == "Local" {
		return nil, canasta.Errorf(canasta.EINVALID, "Unknown time zone %q: use an IANA name such as America/Lima.", name)
	}
	return loc, nil
}

func (s *Server) redemptionFilter(q url.Values) (canasta.RedemptionFilter, error) {
	loc, err := s.reportLocation(q)
	if err != nil {
		return canasta.RedemptionFilter{}, err
	}
	f := canasta.RedemptionFilter{From: q.Get("from"), To: q.Get("to"), Region: q.Get("region"), Location: loc}
	if f.To == "" {
		f.To = s.now().In(loc).Format(canasta.DayFormat)
	}
	if f.From == "" {
		if to, err := time.Parse(canasta.DayFormat, f.To); err == nil {
			f.From = to.AddDate(0, 0, -29).Format(canasta.DayFormat)
		}
	}
	if v := q.Get("odd_hours"); v != "" {
		if f.OddHours, err = canasta.ParseHourWindow(v); err != nil {
			return f, err
		}
	}
	if err := f.Validate(); err != nil {
		return f, err
	}
	return f, nil
}

func (s *Server) usageFilter(q url.Values) (canasta.UsageFilter, error) {
	current := canasta.PeriodOf(s.now())
	f := canasta.UsageFilter{From: canasta.Period(q.Get("from")), To: canasta.Period(q.Get("to")), Region: q.Get("region")}
	if f.To == "" {
		f.To = current
	}
	if f.From == "" {
		f.From = f.To
	}
	if v := q.Get("program"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			return f, canasta.Errorf(canasta.EINVALID, "The program must be a program id, not %q.", v)
		}
		f.ProgramID = id
	}
	if err := f.Validate(); err != nil {
		return f, err
	}
	return f, nil
}

// redemptionsPerDayReport charts one commodity's quantity per day, a line
// per region: commodities are counted in different units, so they do not
// share an axis. The commodity is the one asked for, or the one redeemed
// most often.
func redemptionsPerDayReport(rep *Report, f canasta.RedemptionFilter, days []*canasta.RedemptionDay, commodity string) {
	rep.Data = days
	rep.Columns = []string{"day", "region", "commodity", "unit", "redemptions", "quantity"}
	var regions []string
	units := map[string]canasta.Unit{}
	receipts := map[string]int64{}
	for _, d := range days {
		rep.Rows = append(rep.Rows, []string{d.Day, d.Region, d.Commodity, string(d.Unit), reportInt(d.Redemptions), reportInt(d.Quantity)})
		units[d.Commodity] = d.Unit
		receipts[d.Commodity] += d.Redemptions
	}
	if _, ok := units[commodity]; !ok {
		// The most redeemed commodity, the first by name of equals.
		commodity = ""
		for c, n := range receipts {
			if commodity == "" || n > receipts[commodity] || (n == receipts[commodity] && c < commodity) {
				commodity = c
			}
		}
	}
	rep.Filter["commodity"] = commodity

	from, _ := time.Parse(canasta.DayFormat, f.From)
	to, _ := time.Parse(canasta.DayFormat, f.To)
	var labels []string
	index := map[string]int{}
	for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
		index[d.Format(canasta.DayFormat)] = len(labels)
		labels = append(labels, d.Format(canasta.DayFormat))
	}
	series := map[string][]int64{}
	for _, d := range days {
		if d.Commodity != commodity {
			continue
		}
		if series[d.Region] == nil {
			regions = append(regions, d.Region)
			series[d.Region] = make([]int64, len(labels))
		}
		series[d.Region][index[d.Day]] += d.Quantity
	}
	slices.Sort(regions)
	rep.Chart = Chart{
		ID:     "redemptions-per-day",
		Title:  fmt.Sprintf("%s redeemed per day, by region", commodity),
		Desc:   fmt.Sprintf("Quantity of %s redeemed each day from %s to %s, in %s, one line per region of the point.", commodity, f.From, f.To, units[commodity]),
		XLabel: "Day",
		YLabel: fmt.Sprintf("Quantity (%s)", units[commodity]),
		Labels: labels,
	}
	if commodity == "" {
		rep.Chart.Title, rep.Chart.Desc, rep.Chart.YLabel = "Redemptions per day", fmt.Sprintf("No redemptions from %s to %s.", f.From, f.To), "Quantity"
	}
	for _, r := range regions {
		rep.Chart.Series = append(rep.Chart.Series, ChartSeries{Name: r, Values: series[r]})
	}
}

// reportUsageLabel names a program in a chart, with the period when the report
// covers more than one.
func reportUsageLabel(u *canasta.ProgramUsage, periods bool) string {
	if periods {
		return u.Program + " " + string(u.Period)
	}
	return u.Program
}

func reportManyPeriods(usage []*canasta.ProgramUsage) bool {
	for _, u := range usage {
		if u.Period != usage[0].Period {
			return true
		}
	}
	return false
}

func uptakeReport(rep *Report, usage []*canasta.ProgramUsage) {
	rep.Data = usage
	rep.Columns = []string{"period", "program_id", "program", "commodity", "unit", "households_granted", "households_redeemed", "granted", "redeemed"}
	periods := reportManyPeriods(usage)
	granted, redeemed := ChartSeries{Name: "Households granted"}, ChartSeries{Name: "Households that redeemed"}
	var labels []string
	for _, u := range usage {
		rep.Rows = append(rep.Rows, []string{string(u.Period), reportInt(u.ProgramID), u.Program, u.Commodity, string(u.Unit),
			reportInt(u.Households), reportInt(u.Redeemers), reportInt(u.Granted), reportInt(u.Redeemed)})
		labels = append(labels, reportUsageLabel(u, periods))
		granted.Values = append(granted.Values, u.Households)
		redeemed.Values = append(redeemed.Values, u.Redeemers)
	}
	rep.Chart = Chart{
		ID: "uptake", Title: "Uptake per program",
		Desc:   fmt.Sprintf("Households granted each program and households that redeemed any of it, from %s to %s.", rep.Filter["from"], rep.Filter["to"]),
		XLabel: "Program", YLabel: "Households", Labels: labels,
		Series: []ChartSeries{granted, redeemed},
	}
}

func unusedReport(rep *Report, usage []*canasta.ProgramUsage) {
	rep.Data = usage
	rep.Columns = []string{"period", "program_id", "program", "commodity", "unit", "granted", "redeemed", "unused", "unused_percent", "households_untouched"}
	periods := reportManyPeriods(usage)
	unused := ChartSeries{Name: "Unused (%)"}
	var labels []string
	for _, u := range usage {
		pct := reportPercent(u.Unused, u.Granted)
		rep.Rows = append(rep.Rows, []string{string(u.Period), reportInt(u.ProgramID), u.Program, u.Commodity, string(u.Unit),
			reportInt(u.Granted), reportInt(u.Redeemed), reportInt(u.Unused), reportInt(pct), reportInt(u.Untouched)})
		labels = append(labels, reportUsageLabel(u, periods))
		unused.Values = append(unused.Values, pct)
	}
	rep.Chart = Chart{
		ID: "unused", Title: "Quota left unused",
		Desc:   fmt.Sprintf("Share of each program's granted quantity not redeemed, in percent, from %s to %s.", rep.Filter["from"], rep.Filter["to"]),
		XLabel: "Program", YLabel: "Unused (%)", Labels: labels,
		Series: []ChartSeries{unused},
	}
}

func unusualPointsReport(rep *Report, points []*canasta.PointPattern) {
	rep.Data = points
	rep.Columns = []string{"point_id", "name", "kind", "region", "redemptions", "other_region", "other_region_share", "odd_hours", "odd_hours_share"}
	other, odd := ChartSeries{Name: "Other region (%)"}, ChartSeries{Name: "Odd hours (%)"}
	var labels []string
	for i, p := range points {
		rep.Rows = append(rep.Rows, []string{reportInt(p.PointID), p.Name, string(p.Kind), p.Region, reportInt(p.Redemptions),
			reportInt(p.OtherRegion), reportShare(p.OtherRegionShare), reportInt(p.OddHours), reportShare(p.OddHoursShare)})
		if i < MaxChartPoints {
			labels = append(labels, p.Name)
			other.Values = append(other.Values, reportPercent(p.OtherRegion, p.Redemptions))
			odd.Values = append(odd.Values, reportPercent(p.OddHours, p.Redemptions))
		}
	}
	rep.Chart = Chart{
		ID: "unusual-points", Title: "Points with unusual patterns",
		Desc: fmt.Sprintf("For the %d points with the highest shares, from %s to %s: the percentage of redemptions for households registered in another region than the point's, and made at odd hours (%s).",
			len(labels), rep.Filter["from"], rep.Filter["to"], rep.Filter["odd_hours"]),
		XLabel: "Point", YLabel: "Share of redemptions (%)", Labels: labels,
		Series: []ChartSeries{other, odd},
	}
}

// percent is part/whole in whole percent, rounded half up.
func reportPercent(part, whole int64) int64 {
	if whole == 0 {
		return 0
	}
	return (part*200 + whole) / (2 * whole)
}

func reportShare(f float64) string { return strconv.FormatFloat(f, 'f', 4, 64) }

func reportInt(v int64) string { return strconv.FormatInt(v, 10) }

// CSV returns the report's columns and rows as CSV. A text cell a
// spreadsheet would run as a formula is prefixed with an apostrophe.
func (rep *Report) CSV() []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write(rep.Columns)
	for _, row := range rep.Rows {
		safe := make([]string, len(row))
		for i, cell := range row {
			safe[i] = reportCSVCell(cell)
		}
		w.Write(safe)
	}
	w.Flush()
	return b.Bytes()
}

func reportCSVCell(cell string) string {
	if cell == "" || strings.IndexByte("=+-@\t\r", cell[0]) < 0 {
		return cell
	}
	if _, err := strconv.ParseFloat(cell, 64); err == nil {
		return cell
	}
	return "'" + cell
}

// SVG returns the report's chart: a line chart for redemptions per day,
// bars for the others.
func (rep *Report) SVG() []byte {
	if rep.Name == "redemptions-per-day" {
		return LineChart(rep.Chart)
	}
	return BarChart(rep.Chart)
}

// reportHandler serves a report as JSON, or as CSV with ?format=csv.
func (s *Server) reportHandler(name string) func(w http.ResponseWriter, r *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		format := r.URL.Query().Get("format")
		if format != "" && format != "json" && format != "csv" {
			return canasta.Errorf(canasta.EINVALID, "The format must be json or csv, not %q.", format)
		}
		rep, err := s.Report(r.Context(), name, r.URL.Query())
		if err != nil {
			return err
		}
		if format == "csv" {
			rep.WriteCSV(w)
			return nil
		}
		s.writeJSON(w, r, http.StatusOK, struct {
			Report string            `json:"report"`
			Filter map[string]string `json:"filter"`
			Rows   any               `json:"rows"`
		}{rep.Name, rep.Filter, rep.Data})
		return nil
	}
}

// handleReportFile serves NAME.svg, the report's chart, and NAME.csv.
func (s *Server) handleReportFile(w http.ResponseWriter, r *http.Request) error {
	file := r.PathValue("file")
	name, ext, ok := strings.Cut(file, ".")
	if !ok || (ext != "svg" && ext != "csv") || !slices.Contains(ReportNames, name) {
		return canasta.Errorf(canasta.ENOTFOUND, "There is no report file %q: ask for NAME.svg or NAME.csv, with NAME one of %s.", file, strings.Join(ReportNames, ", "))
	}
	rep, err := s.Report(r.Context(), name, r.URL.Query())
	if err != nil {
		return err
	}
	if ext == "svg" {
		rep.WriteSVG(w)
	} else {
		rep.WriteCSV(w)
	}
	return nil
}

// WriteCSV sends the report as a CSV download, named after the report
// and its days or periods.
func (rep *Report) WriteCSV(w http.ResponseWriter) {
	w.Header().Set("Content-Disposition", `attachment; filename="`+rep.Name+"_"+rep.Filter["from"]+"_"+rep.Filter["to"]+`.csv"`)
	writeReportFile(w, "text/csv; charset=utf-8", rep.CSV())
}

// WriteSVG sends the report's chart as an SVG image.
func (rep *Report) WriteSVG(w http.ResponseWriter) {
	writeReportFile(w, "image/svg+xml", rep.SVG())
}

// writeReportFile sends a report's CSV or chart. An SVG opened on its own
// may not run scripts or load anything, whatever text it holds.
func writeReportFile(w http.ResponseWriter, contentType string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; sandbox")
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}
