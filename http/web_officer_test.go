package http_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/canasta/canasta"
	canastahttp "github.com/canasta/canasta/http"
)

func TestWebOfficer(t *testing.T) {
	ws := newWebServer(t)
	b := ws.browser(t)
	b.login(canasta.RoleAdmin)
	b.get("/officer")

	t.Run("SpecialCategoryIsRefusedWithExplanation", func(t *testing.T) {
		p := b.post("/officer/attributes", url.Values{"name": {"religion"}, "type": {"string"}, "applies_to": {"person"},
			"purpose": {"To plan meals around religious holidays."}})
		if p.status != http.StatusBadRequest || p.doc.Find("#attribute-error p").Length() != 2 {
			t.Fatalf("status %d: %s", p.status, text(p.doc.Find("#attribute-error")))
		}
		if v, _ := p.doc.Find("#attr_name").Attr("value"); v != "religion" {
			t.Fatalf("typed name not kept: %q", v)
		}
	})
	t.Run("DeclareAttribute", func(t *testing.T) {
		p := b.post("/officer/attributes", url.Values{"name": {"pregnant"}, "type": {"bool"}, "applies_to": {"person"},
			"purpose": {"Nutrition support during pregnancy."}})
		if p.status != http.StatusOK || !strings.Contains(text(p.doc.Find("table.attributes")), "pregnant") {
			t.Fatalf("status %d: %s", p.status, text(p.doc.Find("main")))
		}
	})
	t.Run("RuleSyntaxError", func(t *testing.T) {
		p := b.post("/officer/programs", url.Values{"name": {"Beans"}, "commodity": {"beans"}, "unit": {"g"},
			"eligibility": {"household.size >"}, "quantity": {"1000"}})
		if p.status != http.StatusBadRequest || p.doc.Find("#program-error").Length() != 1 {
			t.Fatalf("status %d: %s", p.status, text(p.doc.Find("main")))
		}
		if got := p.doc.Find("#prog_eligibility").Text(); got != "household.size >" {
			t.Fatalf("typed rule not kept: %q", got)
		}
	})
	t.Run("Publish", func(t *testing.T) {
		p := b.post("/officer/programs", url.Values{"name": {"Beans"}, "commodity": {"beans"}, "unit": {"g"},
			"eligibility": {"household.size > 0"}, "quantity": {"household.size * 500"}})
		if p.status != http.StatusOK || !strings.HasPrefix(p.url.Path, "/officer/programs/") || text(p.doc.Find("h1")) != "Beans" {
			t.Fatalf("publish: %d at %s", p.status, p.url)
		}
	})
	t.Run("DryRun", func(t *testing.T) {
		p := b.get("/officer/programs/" + itoa(ws.l.rice))
		// Everyone now, and 3000 g per member instead of 2000.
		p = b.post("/officer/programs/"+itoa(ws.l.rice)+"/dry-run", url.Values{"eligibility": {"true"},
			"quantity": {"household.size * 3000"}, "period": {testPeriod}, "cost_minor": {"1.50"}, "cost_per": {"1000"}})
		if p.status != http.StatusOK || p.doc.Find("#dry-result").Length() != 1 {
			t.Fatalf("dry run: %d %s", p.status, text(p.doc.Find("main")))
		}
		// Household A (2 members) changes 4000 → 6000; B (high income) gains 6000.
		for sel, want := range map[string]string{"#dry-gain": "1", "#dry-lose": "0", "#dry-change": "1", "#dry-keep": "0",
			"#total-change": "8 kg", "#cost-change": "12.00"} {
			if got := text(p.doc.Find(sel)); got != want {
				t.Errorf("%s = %q, want %q", sel, got, want)
			}
		}
		if n := p.doc.Find("#dry-sample tbody tr").Length(); n != 2 {
			t.Errorf("%d sample rows, want 2", n)
		}
		p = b.post("/officer/programs/"+itoa(ws.l.rice)+"/dry-run", url.Values{"eligibility": {"household.nope"}, "quantity": {"1"}})
		if p.status != http.StatusBadRequest || p.doc.Find("#dry-error").Length() != 1 {
			t.Fatalf("bad proposal: %d", p.status)
		}
	})
	t.Run("CycleWithProgress", func(t *testing.T) {
		p := b.post("/officer/cycles", url.Values{"period": {"2027-01"}})
		if !strings.HasPrefix(p.url.Path, "/officer/cycles/cy_") {
			t.Fatalf("cycle start: %d at %s", p.status, p.url)
		}
		deadline := time.Now().Add(10 * time.Second)
		for p.doc.Find("#cycle-done").Length() == 0 {
			if p.doc.Find(`meta[http-equiv=refresh]`).Length() != 1 || p.doc.Find("#cycle-running progress").Length() != 1 {
				t.Fatalf("a running cycle's page neither refreshes nor shows progress: %s", text(p.doc.Find("main")))
			}
			if time.Now().After(deadline) {
				t.Fatal("cycle did not finish")
			}
			time.Sleep(50 * time.Millisecond)
			p = b.get(p.url.Path)
		}
		// Rice and milk for household A, beans for both households.
		if got := text(p.doc.Find("#cycle-created")); got != "4" {
			t.Fatalf("grants created %q, want 4", got)
		}
		if p.doc.Find(`meta[http-equiv=refresh]`).Length() != 0 {
			t.Fatal("a finished cycle's page still refreshes")
		}
	})
	t.Run("PublishChange", func(t *testing.T) {
		p := b.post("/officer/programs/"+itoa(ws.l.rice)+"/dry-run", url.Values{"eligibility": {"true"},
			"quantity": {"household.size * 3000"}, "period": {testPeriod}})
		if p.doc.Find("#publish-form").Length() != 1 {
			t.Fatalf("a dry run offers no publishing: %s", text(p.doc.Find("main")))
		}
		p = b.post("/officer/programs/"+itoa(ws.l.rice)+"/publish", url.Values{"eligibility": {"true"}, "quantity": {"household.size * 3000"}})
		if p.status != http.StatusOK || p.url.Path == "/officer/programs/"+itoa(ws.l.rice) {
			t.Fatalf("publish change: %d at %s", p.status, p.url)
		}
		next, err := ws.ProgramService.FindProgramByID(context.Background(), mustAtoi(t, strings.TrimPrefix(p.url.Path, "/officer/programs/")))
		if err != nil || next.Replaces != ws.l.rice || next.Quantity != "household.size * 3000" || !next.Active() {
			t.Fatalf("published %+v (%v)", next, err)
		}
		old := b.get("/officer/programs/" + itoa(ws.l.rice))
		if old.doc.Find("#replaced-by").Length() != 1 || old.doc.Find("#dry-form").Length() != 0 {
			t.Fatal("the replaced program's page neither links its successor nor hides the dry run")
		}
		// A program is replaced once.
		if p := b.post("/officer/programs/"+itoa(ws.l.rice)+"/publish", url.Values{"eligibility": {"true"}, "quantity": {"1"}}); p.status != http.StatusConflict {
			t.Fatalf("second replacement: %d", p.status)
		}
	})
	t.Run("NotForOtherRoles", func(t *testing.T) {
		o := ws.browser(t)
		o.login(canasta.RoleAuditor)
		if p := o.get("/officer"); p.status != http.StatusForbidden {
			t.Fatalf("auditor opened the officer page: %d", p.status)
		}
	})
}

func TestWebAuditor(t *testing.T) {
	ws := newWebPortalServer(t)
	// A redemption makes an audit entry.
	ws.mustDo(t, http.StatusCreated, request{method: "POST", path: "/api/v1/redemptions", token: ws.admin,
		body: ws.l.redemption("audit-r1", [2]int64{ws.l.rice, 1000})})
	b := ws.browser(t)
	b.login(canasta.RoleAuditor)

	p := b.get("/auditor")
	if p.status != http.StatusOK || p.doc.Find("#checkpoint-ok").Length() != 1 || p.doc.Find("#entries tbody tr").Length() == 0 {
		t.Fatalf("auditor page: %d %s", p.status, text(p.doc.Find("main")))
	}
	t.Run("LandingShowsCheckpoint", func(t *testing.T) {
		p := ws.browser(t).get("/")
		if cp := text(p.doc.Find("#checkpoint")); cp == "" || cp != text(b.get("/auditor").doc.Find("#checkpoint")) {
			t.Fatalf("landing checkpoint %q", cp)
		}
	})
	t.Run("InclusionProof", func(t *testing.T) {
		p := b.get("/auditor?index=0")
		if p.doc.Find("#proof-ok").Length() != 1 {
			t.Fatalf("entry 0 not proved: %s", text(p.doc.Find("#proof-bad")))
		}
		p = b.get("/auditor?index=999999")
		if p.doc.Find("#proof-bad").Length() != 1 {
			t.Fatal("an index beyond the log was not refused")
		}
	})
	t.Run("AccessLogSearch", func(t *testing.T) {
		staff := ws.browser(t)
		staff.login(canasta.RoleRegistrar)
		staff.get("/registrar")
		staff.post("/registrar/search", url.Values{"by": {"household"}, "q": {ws.l.household}, "purpose": {"data-correction"}})
		b.get("/auditor/access")
		p := b.post("/auditor/access", url.Values{"household": {ws.l.household}, "purpose": {"audit"}})
		if p.status != http.StatusOK || !strings.Contains(text(p.doc.Find("#access-log")), "Data correction") {
			t.Fatalf("access log: %d %s", p.status, text(p.doc.Find("main")))
		}
		p = b.post("/auditor/access", url.Values{"household": {ws.l.household}})
		if p.status != http.StatusBadRequest || p.doc.Find("#access-error").Length() != 1 {
			t.Fatalf("search without purpose: %d", p.status)
		}
	})
	for _, name := range canastaReportNames() {
		t.Run("Report/"+name, func(t *testing.T) {
			p := b.get("/auditor/reports/" + name)
			if p.status != http.StatusOK || p.doc.Find("#chart svg").Length() != 1 || p.doc.Find("#report-table thead th").Length() == 0 {
				t.Fatalf("report: %d %s", p.status, text(p.doc.Find("main")))
			}
			href, _ := p.doc.Find("#csv-link").Attr("href")
			req, _ := http.NewRequest("GET", b.base+href, nil)
			resp, err := b.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
				t.Fatalf("CSV: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			if rows := strings.Count(string(body), "\n"); rows != p.doc.Find("#report-table tbody tr").Length()+1 {
				t.Fatalf("CSV has %d lines, table %d rows", rows, p.doc.Find("#report-table tbody tr").Length())
			}
		})
	}
	t.Run("BadFilter", func(t *testing.T) {
		p := b.get("/auditor/reports/uptake?from=May")
		if p.status != http.StatusBadRequest || p.doc.Find("#report-error").Length() != 1 {
			t.Fatalf("bad filter: %d", p.status)
		}
	})
}

func canastaReportNames() []string { return canastahttp.ReportNames }

func mustAtoi(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
