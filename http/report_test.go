package http_test

import (
	"encoding/csv"
	"net/http"
	"strings"
	"testing"

	"github.com/canasta/canasta"
)

// newReportServer is the ledger of newLedger with one redemption of
// 1000 g of rice, made at testNow.
func newReportServer(t *testing.T) (*testServer, ledger) {
	t.Helper()
	ts := newTestServer(t)
	l := newLedger(t, ts)
	runCycle(t, ts)
	ts.mustDo(t, http.StatusCreated, request{method: "POST", path: "/api/v1/redemptions", token: ts.admin,
		body: l.redemption("r1", [2]int64{l.rice, 1000})})
	return ts, l
}

var reportPaths = []string{
	"/api/v1/reports/redemptions-per-day", "/api/v1/reports/uptake", "/api/v1/reports/unused", "/api/v1/reports/unusual-points",
	"/api/v1/reports/uptake?format=csv", "/api/v1/reports/unusual-points?format=csv",
	"/api/v1/reports/redemptions-per-day.svg", "/api/v1/reports/uptake.svg", "/api/v1/reports/unused.svg", "/api/v1/reports/unusual-points.svg",
	"/api/v1/reports/redemptions-per-day.csv", "/api/v1/reports/unused.csv",
}

// TestReportRoles: reports are for auditors and admins; other staff are
// forbidden and anonymous callers unauthorised.
func TestReportRoles(t *testing.T) {
	ts, _ := newReportServer(t)
	tokens := map[string]string{
		"public":    "",
		"operator":  ts.token(t, canasta.RoleOperator),
		"registrar": ts.token(t, canasta.RoleRegistrar),
		"auditor":   ts.token(t, canasta.RoleAuditor),
		"admin":     ts.admin,
	}
	want := map[string]int{"public": http.StatusUnauthorized, "operator": http.StatusForbidden, "registrar": http.StatusForbidden,
		"auditor": http.StatusOK, "admin": http.StatusOK}
	for _, path := range reportPaths {
		for role, token := range tokens {
			t.Run(role+path, func(t *testing.T) {
				ts.mustDo(t, want[role], request{method: "GET", path: path, token: token})
			})
		}
	}
}

type reportBody[T any] struct {
	Report string            `json:"report"`
	Filter map[string]string `json:"filter"`
	Rows   []T               `json:"rows"`
}

func TestReportContent(t *testing.T) {
	ts, l := newReportServer(t)
	auditor := ts.token(t, canasta.RoleAuditor)
	get := func(t *testing.T, want int, path string) response {
		t.Helper()
		return ts.mustDo(t, want, request{method: "GET", path: path, token: auditor})
	}

	t.Run("PerDayJSON", func(t *testing.T) {
		var body reportBody[canasta.RedemptionDay]
		get(t, http.StatusOK, "/api/v1/reports/redemptions-per-day").decode(t, &body)
		want := canasta.RedemptionDay{Day: "2026-12-10", Region: "north", Commodity: "rice", Unit: canasta.UnitGram, Redemptions: 1, Quantity: 1000}
		if body.Report != "redemptions-per-day" || len(body.Rows) != 1 || body.Rows[0] != want ||
			body.Filter["from"] != "2026-11-11" || body.Filter["to"] != "2026-12-10" || body.Filter["tz"] != "UTC" {
			t.Fatalf("body %+v, want one row %+v over the 30 days to today", body, want)
		}
	})

	t.Run("PerDayOtherZone", func(t *testing.T) {
		// 12:00 UTC on the 10th is 21:00 in Tokyo, the same day; in
		// Kiribati (UTC+14) it is already the 11th.
		var body reportBody[canasta.RedemptionDay]
		get(t, http.StatusOK, "/api/v1/reports/redemptions-per-day?from=2026-12-01&to=2026-12-31&tz=Pacific/Kiritimati").decode(t, &body)
		if len(body.Rows) != 1 || body.Rows[0].Day != "2026-12-11" {
			t.Fatalf("rows %+v, want the redemption on the 11th", body.Rows)
		}
	})

	t.Run("UptakeJSON", func(t *testing.T) {
		var body reportBody[canasta.ProgramUsage]
		get(t, http.StatusOK, "/api/v1/reports/uptake").decode(t, &body)
		if len(body.Rows) != 2 {
			t.Fatalf("rows %+v, want rice and milk", body.Rows)
		}
		rice, milk := body.Rows[0], body.Rows[1]
		if rice.ProgramID != l.rice || rice.Households != 1 || rice.Redeemers != 1 || rice.Granted != l.riceGranted || rice.Redeemed != 1000 ||
			milk.ProgramID != l.milk || milk.Redeemers != 0 || milk.Untouched != 1 || milk.Unused != l.milkGranted {
			t.Fatalf("rows %+v", body.Rows)
		}
	})

	t.Run("UnusedCSV", func(t *testing.T) {
		r := get(t, http.StatusOK, "/api/v1/reports/unused?format=csv&from=2026-12&program="+itoa(l.rice))
		if ct := r.header.Get("Content-Type"); ct != "text/csv; charset=utf-8" || !strings.Contains(r.header.Get("Content-Disposition"), `filename="unused_2026-12_2026-12.csv"`) {
			t.Fatalf("content type %q, disposition %q", ct, r.header.Get("Content-Disposition"))
		}
		rows, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		want := [][]string{
			{"period", "program_id", "program", "commodity", "unit", "granted", "redeemed", "unused", "unused_percent", "households_untouched"},
			{"2026-12", itoa(l.rice), "Rice for low incomes", "rice", "g", "4000", "1000", "3000", "75", "0"},
		}
		if len(rows) != 2 || strings.Join(rows[0], ",") != strings.Join(want[0], ",") || strings.Join(rows[1], ",") != strings.Join(want[1], ",") {
			t.Fatalf("CSV %q, want %q", rows, want)
		}
	})

	t.Run("UnusualPoints", func(t *testing.T) {
		for _, tt := range []struct {
			query string
			odd   int64
		}{
			{"", 0},               // 12:00 UTC
			{"?tz=Asia/Tokyo", 0}, // 21:00
			{"?tz=Asia/Tokyo&odd_hours=20:00-23:00", 1},       // 21:00
			{"?tz=America/Lima&odd_hours=06:00-08:00", 1},     // 07:00
			{"?tz=America/Lima&odd_hours=07:30-07:00", 0},     // wraps midnight, 07:00 outside
			{"?tz=America/Lima&odd_hours=07:01-06:59", 0},     // just outside
			{"?tz=America/Lima&odd_hours=07:00-07:01", 1},     // start included
			{"?tz=America/Lima&odd_hours=06:00-07:00", 0},     // end excluded
			{"?tz=America/Lima&odd_hours=06-08&region=x", -1}, // no point in region x
		} {
			t.Run(tt.query, func(t *testing.T) {
				var body reportBody[canasta.PointPattern]
				get(t, http.StatusOK, "/api/v1/reports/unusual-points"+tt.query).decode(t, &body)
				if tt.odd < 0 {
					if len(body.Rows) != 0 {
						t.Fatalf("rows %+v, want none", body.Rows)
					}
					return
				}
				if len(body.Rows) != 1 || body.Rows[0].PointID != l.point || body.Rows[0].Redemptions != 1 ||
					body.Rows[0].OtherRegion != 0 || body.Rows[0].OddHours != tt.odd || body.Rows[0].OddHoursShare != float64(tt.odd) {
					t.Fatalf("rows %+v, want the point with %d at odd hours", body.Rows, tt.odd)
				}
			})
		}
	})

	t.Run("Chart", func(t *testing.T) {
		r := get(t, http.StatusOK, "/api/v1/reports/uptake.svg")
		if r.header.Get("Content-Type") != "image/svg+xml" || !strings.Contains(r.header.Get("Content-Security-Policy"), "default-src 'none'") {
			t.Fatalf("headers %v", r.header)
		}
		root := parseSVG(t, r.body)
		if root.Children[0].Text != "Uptake per program" {
			t.Fatalf("chart title %q", root.Children[0].Text)
		}
		var bars []string
		root.walk(func(n *svgNode) {
			if n.XMLName.Local == "rect" && len(n.Children) == 1 {
				bars = append(bars, n.Children[0].Text)
			}
		})
		want := "Rice for low incomes, Households granted: 1|Milk for dependents, Households granted: 1|" +
			"Rice for low incomes, Households that redeemed: 1|Milk for dependents, Households that redeemed: 0"
		if strings.Join(bars, "|") != want {
			t.Fatalf("bars %q, want %q", bars, want)
		}
	})

	for _, tt := range []struct {
		name, path string
		status     int
	}{
		{"BadDay", "/api/v1/reports/redemptions-per-day?from=2026-13-01", http.StatusBadRequest},
		{"EndBeforeStart", "/api/v1/reports/unusual-points?from=2026-12-02&to=2026-12-01", http.StatusBadRequest},
		{"TooLong", "/api/v1/reports/redemptions-per-day?from=2020-01-01&to=2026-12-01", http.StatusBadRequest},
		{"UnknownZone", "/api/v1/reports/redemptions-per-day?tz=Mars/Olympus", http.StatusBadRequest},
		{"LocalZone", "/api/v1/reports/redemptions-per-day?tz=Local", http.StatusBadRequest},
		{"BadHours", "/api/v1/reports/unusual-points?odd_hours=25:00-06:00", http.StatusBadRequest},
		{"BadPeriod", "/api/v1/reports/uptake?from=2026-1", http.StatusBadRequest},
		{"BadProgram", "/api/v1/reports/unused?program=rice", http.StatusBadRequest},
		{"BadFormat", "/api/v1/reports/uptake?format=xml", http.StatusBadRequest},
		{"UnknownFile", "/api/v1/reports/nothing.svg", http.StatusNotFound},
		{"UnknownExtension", "/api/v1/reports/uptake.png", http.StatusNotFound},
		{"NoExtension", "/api/v1/reports/everything", http.StatusNotFound},
	} {
		t.Run("Refuses"+tt.name, func(t *testing.T) {
			get(t, tt.status, tt.path)
		})
	}
}

// TestReportCSVFormulas: a point name a spreadsheet would run as a
// formula reaches the CSV as text.
func TestReportCSVFormulas(t *testing.T) {
	ts, l := newReportServer(t)
	var p canasta.Point
	ts.mustDo(t, http.StatusCreated, request{method: "POST", path: "/api/v1/points", token: ts.admin,
		body: map[string]string{"name": "=HYPERLINK(\"http://x\")", "kind": "shop", "region": "-south"}}).decode(t, &p)
	body := l.redemption("r2", [2]int64{l.rice, 1})
	body["point_id"] = p.ID
	ts.mustDo(t, http.StatusCreated, request{method: "POST", path: "/api/v1/redemptions", token: ts.admin, body: body})

	r := ts.mustDo(t, http.StatusOK, request{method: "GET", path: "/api/v1/reports/unusual-points.csv", token: ts.admin})
	rows, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	// The new point leads: its one redemption is for a household of
	// another region.
	if len(rows) != 3 || rows[1][1] != `'=HYPERLINK("http://x")` || rows[1][3] != "'-south" || rows[1][6] != "1.0000" {
		t.Fatalf("CSV rows %q", rows)
	}
}
