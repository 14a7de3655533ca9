package http

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/canasta/canasta"
)

// TestWebPagesLoad parses every embedded page in every language and
// checks the catalogs, as the server does at start-up.
func TestWebPagesLoad(t *testing.T) {
	ps, err := loadPages()
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range Languages {
		for _, page := range []string{"landing", "login", "staff", "point", "receipt", "registrar", "household", "card_issued", "enroll", "error", "portal_login", "portal", "grievance", "officer", "program", "cycle", "auditor", "access", "report", "dedup", "correct"} {
			if ps.pages[lang][page] == nil {
				t.Errorf("page %s missing in %s", page, lang)
			}
		}
	}
	// Keys built at run time are not found by scanning the templates.
	var dynamic []string
	for _, p := range canasta.Purposes {
		dynamic = append(dynamic, "purpose."+string(p))
	}
	for _, k := range []string{searchByCard, searchByHousehold, searchBySource, searchByNationalID, searchByName} {
		dynamic = append(dynamic, "registrar.by_"+k)
	}
	for _, c := range canasta.GrievanceCategories {
		dynamic = append(dynamic, "grievance.cat."+string(c))
	}
	for _, st := range canasta.GrievanceStatuses {
		dynamic = append(dynamic, "grievance.status."+string(st))
	}
	for _, o := range []string{canasta.DryRunGain, canasta.DryRunLose, canasta.DryRunChange} {
		dynamic = append(dynamic, "program."+o)
	}
	for _, name := range ReportNames {
		dynamic = append(dynamic, "report."+name)
	}
	for _, col := range []string{"day", "region", "commodity", "unit", "redemptions", "quantity", "period", "program_id", "program",
		"households_granted", "households_redeemed", "granted", "redeemed", "unused", "unused_percent", "households_untouched",
		"point_id", "name", "kind", "other_region", "other_region_share", "odd_hours", "odd_hours_share"} {
		dynamic = append(dynamic, "report.col."+col)
	}
	for _, st := range []canasta.DedupCaseStatus{canasta.DedupCaseOpen, canasta.DedupCaseConfirmed, canasta.DedupCaseDismissed,
		canasta.DedupCaseContested, canasta.DedupCaseUndone} {
		dynamic = append(dynamic, "dedup.status."+string(st))
	}
	dynamic = append(dynamic, "program.cost_bad", "error.internal", "error.unavailable", "point.code_missing", "point.qty_whole", "point.qty_none",
		"household.created", "card.revoked", "session.expired", "correct.done")
	for _, lang := range Languages {
		for _, k := range dynamic {
			if _, ok := ps.catalogs[lang][k]; !ok {
				t.Errorf("message %q missing from the %s catalog", k, lang)
			}
		}
	}
}

func TestCheckCatalogs(t *testing.T) {
	for _, tt := range []struct {
		name   string
		en, es catalog
		ok     bool
	}{
		{"Same", catalog{"a": "A"}, catalog{"a": "Á"}, true},
		{"MissingInSpanish", catalog{"a": "A", "b": "B"}, catalog{"a": "Á"}, false},
		{"ExtraInSpanish", catalog{"a": "A"}, catalog{"a": "Á", "c": "C"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ps := &pageSet{catalogs: map[string]catalog{"en": tt.en, "es": tt.es}}
			if err := ps.checkCatalogs(); (err == nil) != tt.ok {
				t.Fatalf("checkCatalogs() = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestFormatQuantity(t *testing.T) {
	for _, tt := range []struct {
		name string
		lang string
		q    int64
		unit canasta.Unit
		want string
	}{
		{"Grams", "en", 500, canasta.UnitGram, "500 g"},
		{"Kilograms", "en", 10000, canasta.UnitGram, "10 kg"},
		{"KilogramsFraction", "en", 1250, canasta.UnitGram, "1.25 kg"},
		{"KilogramsSpanish", "es", 1250, canasta.UnitGram, "1,25 kg"},
		{"Litres", "en", 1500, canasta.UnitMillilitre, "1.5 L"},
		{"Millilitres", "en", 750, canasta.UnitMillilitre, "750 ml"},
		{"Visits", "en", 2, canasta.UnitVisit, "2 ×"},
		{"Minor", "en", 150050, canasta.UnitMinor, "1500.50"},
		{"MinorWhole", "en", 100, canasta.UnitMinor, "1.00"},
		{"MinorSpanish", "es", 5, canasta.UnitMinor, "0,05"},
		{"Zero", "en", 0, canasta.UnitGram, "0 g"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := formatQuantity(tt.lang, tt.q, tt.unit); got != tt.want {
				t.Fatalf("formatQuantity(%s, %d, %s) = %q, want %q", tt.lang, tt.q, tt.unit, got, tt.want)
			}
		})
	}
}

func TestParseMinor(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1500", 150000, true},
		{"1500.5", 150050, true},
		{"1500,50", 150050, true},
		{" 0 ", 0, true},
		{"1.234", 0, false},
		{"-5", 0, false},
		{"abc", 0, false},
		{"1.", 0, false},
		{".5", 0, false},
		{"", 0, false},
	} {
		t.Run(strings.ReplaceAll(tt.in, " ", "_"), func(t *testing.T) {
			got, ok := parseMinor(tt.in)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("parseMinor(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestLocalPath(t *testing.T) {
	for _, tt := range []struct{ name, in, want string }{
		{"Path", "/point", "/point"},
		{"PathWithQuery", "/registrar?x=1", "/registrar?x=1"},
		{"Empty", "", "/fallback"},
		{"Absolute", "https://evil.example/", "/fallback"},
		{"SchemeRelative", "//evil.example/", "/fallback"},
		{"Backslash", "/\\evil.example", "/fallback"},
		{"Relative", "point", "/fallback"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := localPath(tt.in, "/fallback"); got != tt.want {
				t.Fatalf("localPath(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestRequestLanguage(t *testing.T) {
	for _, tt := range []struct{ name, cookie, accept, want string }{
		{"Default", "", "", "en"},
		{"AcceptSpanish", "", "es-PE,es;q=0.9,en;q=0.5", "es"},
		{"AcceptUnknownThenSpanish", "", "qu, es;q=0.8", "es"},
		{"AcceptUnknown", "", "fr-FR", "en"},
		{"CookieWins", "en", "es", "en"},
		{"BadCookieIgnored", "xx", "es", "es"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := newRequestForTest(tt.cookie, tt.accept)
			if got := requestLanguage(r); got != tt.want {
				t.Fatalf("requestLanguage = %q, want %q", got, tt.want)
			}
		})
	}
}

func newRequestForTest(langCookieValue, accept string) (*http.Request, error) {
	r := httptest.NewRequest("GET", "/", nil)
	if langCookieValue != "" {
		r.AddCookie(&http.Cookie{Name: langCookie, Value: langCookieValue})
	}
	if accept != "" {
		r.Header.Set("Accept-Language", accept)
	}
	return r, nil
}
