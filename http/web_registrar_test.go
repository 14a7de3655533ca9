package http_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/canasta/canasta"
	"github.com/canasta/canasta/dedup"
	"github.com/canasta/canasta/sqlite"
)

func TestWebRegistrarSearch(t *testing.T) {
	ws := newWebServer(t)
	ic := ws.issue(t)
	b := ws.browser(t)
	b.login(canasta.RoleRegistrar)
	b.get("/registrar")
	for _, tt := range []struct {
		name, by, q, purpose string
		status               int
	}{
		{"ByCard", "card", ic.CardID, "grievance", http.StatusOK},
		{"ByHousehold", "household", ws.l.household, "eligibility-review", http.StatusOK},
		{"NoPurpose", "household", ws.l.household, "", http.StatusBadRequest},
		{"UnknownPurpose", "household", ws.l.household, "curiosity", http.StatusBadRequest},
		{"UnknownCard", "card", "card_nope", "audit", http.StatusNotFound},
		{"UnknownKind", "name", "Quispe", "audit", http.StatusBadRequest},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := b.post("/registrar/search", url.Values{"by": {tt.by}, "q": {tt.q}, "purpose": {tt.purpose}})
			if p.status != tt.status {
				t.Fatalf("status %d, want %d: %s", p.status, tt.status, text(p.doc.Find("main")))
			}
			if tt.status != http.StatusOK {
				if p.doc.Find("#search-error").Length() != 1 {
					t.Fatal("no error shown above the search form")
				}
				if v, _ := p.doc.Find("#q").Attr("value"); v != tt.q {
					t.Fatalf("query not kept: %q", v)
				}
				return
			}
			if got := text(p.doc.Find("#household-id")); got != ws.l.household {
				t.Fatalf("found %q, want %q", got, ws.l.household)
			}
			if n := p.doc.Find("table.members tbody tr").Length(); n != 2 {
				t.Fatalf("%d members shown", n)
			}
		})
	}
	events, err := sqlite.NewAccessLogService(ws.db).FindAccessEvents(context.Background(), ws.l.household)
	if err != nil {
		t.Fatal(err)
	}
	var reads []string
	for _, e := range events {
		if e.ActorName != "registrar" || e.Role != canasta.RoleRegistrar {
			t.Fatalf("access event by %q (%s), want the signed-in registrar", e.ActorName, e.Role)
		}
		reads = append(reads, string(e.Purpose)+":"+e.Action)
	}
	for _, want := range []canasta.Purpose{canasta.PurposeGrievance, canasta.PurposeEligibilityReview} {
		if !strings.Contains(strings.Join(reads, " "), string(want)+":") {
			t.Fatalf("reads %v lack one for %s", reads, want)
		}
	}
	if strings.Contains(strings.Join(reads, " "), "audit") {
		t.Fatalf("refused searches were logged as reads: %v", reads)
	}
}

func TestWebEnroll(t *testing.T) {
	ws := newWebServer(t)
	b := ws.browser(t)
	b.login(canasta.RoleRegistrar)
	p := b.get("/registrar/enroll")
	if n := p.doc.Find("fieldset.member").Length(); n != 3 {
		t.Fatalf("%d member rows, want 3", n)
	}
	if p.doc.Find(`#attr_dependents[type=number]`).Length() != 1 {
		t.Fatal("the declared household attribute has no number field")
	}
	form := url.Values{
		"rows": {"3"}, "region": {"north"}, "locality": {"Cusco"}, "line": {"3 Calle Luna"}, "income": {"800.50"},
		"attr_dependents": {"2"},
		"m0_given":        {"Rosa"}, "m0_family": {"Mamani"}, "m0_birth": {"1975-02-11"}, "m0_sex": {"F"}, "m0_nid": {"NID-77"},
		"m1_given": {"Inti"}, "m1_family": {"Mamani"}, "m1_birth": {"2019"}, "m1_dis": {"1"},
	}

	t.Run("AddMemberRow", func(t *testing.T) {
		f := url.Values{}
		for k, v := range form {
			f[k] = v
		}
		f.Set("action", "add")
		p := b.post("/registrar/enroll", f)
		if n := p.doc.Find("fieldset.member").Length(); n != 4 {
			t.Fatalf("%d member rows after adding, want 4", n)
		}
		if v, _ := p.doc.Find("#m0_given").Attr("value"); v != "Rosa" {
			t.Fatalf("typed values lost: %q", v)
		}
	})
	for _, tt := range []struct {
		name, field, value string
	}{
		{"NoRegion", "region", ""},
		{"BadIncome", "income", "lots"},
		{"BadBirthDate", "m1_birth", "2019-13-45"},
		{"BadAttribute", "attr_dependents", "two"},
		{"NoMembers", "m0_given", ""},
	} {
		t.Run("Refuses"+tt.name, func(t *testing.T) {
			f := url.Values{}
			for k, v := range form {
				f[k] = v
			}
			f.Set(tt.field, tt.value)
			if tt.name == "NoMembers" {
				for _, k := range []string{"m0_family", "m0_birth", "m0_nid", "m1_given", "m1_family", "m1_birth"} {
					f.Del(k)
				}
			}
			f.Set("action", "save")
			p := b.post("/registrar/enroll", f)
			if p.status != http.StatusBadRequest || p.doc.Find("#enroll-error").Length() != 1 {
				t.Fatalf("status %d: %s", p.status, text(p.doc.Find("main")))
			}
			if v, _ := p.doc.Find("#locality").Attr("value"); v != "Cusco" {
				t.Fatalf("typed values lost: locality %q", v)
			}
		})
	}

	form.Set("action", "save")
	p = b.post("/registrar/enroll", form)
	if p.status != http.StatusOK || !strings.HasPrefix(p.url.Path, "/registrar/households/hh_") || p.doc.Find("#notice").Length() != 1 {
		t.Fatalf("enrol: %d at %s: %s", p.status, p.url, text(p.doc.Find("main")))
	}
	id := text(p.doc.Find("#household-id"))
	h, err := ws.HouseholdService.FindHouseholdByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if h.MonthlyIncome != 80050 || len(h.Members) != 2 || h.Members[0].Relationship != "head" || !h.Members[1].Disability ||
		h.Attributes["dependents"] != int64(2) {
		t.Fatalf("stored %s", dumpHousehold(h))
	}

	t.Run("IssueAndRevokeCard", func(t *testing.T) {
		p := b.post("/registrar/households/"+id+"/cards", url.Values{"purpose": {"enrollment"}})
		if p.status != http.StatusCreated {
			t.Fatalf("issue: %d %s", p.status, text(p.doc.Find("main")))
		}
		pin, cardID := text(p.doc.Find("#pin")), text(p.doc.Find("#card-id"))
		if len(pin) < 4 || !strings.HasPrefix(cardID, canasta.CardIDPrefix) {
			t.Fatalf("issued card %q with PIN %q", cardID, pin)
		}
		href, _ := p.doc.Find(`a.button.primary`).Attr("href")
		if href != "/registrar/cards/"+cardID+".pdf" {
			t.Fatalf("print link %q", href)
		}
		pdf := b.get(href)
		if pdf.status != http.StatusOK || pdf.header.Get("Content-Type") != "application/pdf" {
			t.Fatalf("print: %d %s", pdf.status, pdf.header.Get("Content-Type"))
		}
		back, _ := p.doc.Find(`a.button:not(.primary)`).Attr("href")
		p = b.get(back)
		if p.doc.Find(`form[action="/registrar/cards/`+cardID+`/revoke"]`).Length() != 1 {
			t.Fatalf("household page has no revoke form for the card: %s", text(p.doc.Find("main")))
		}
		p = b.post("/registrar/cards/"+cardID+"/revoke", url.Values{"purpose": {"enrollment"}})
		if p.status != http.StatusOK || p.doc.Find("#notice").Length() != 1 || p.doc.Find("strong.bad").Length() != 1 {
			t.Fatalf("revoke: %d %s", p.status, text(p.doc.Find("main")))
		}
	})
}

func dumpHousehold(h *canasta.Household) string {
	var b strings.Builder
	b.WriteString(h.ID + " income=" + itoa(h.MonthlyIncome))
	for _, m := range h.Members {
		b.WriteString(" | " + m.GivenName + " " + m.Relationship)
	}
	return b.String()
}

func TestWebEnrollDuplicates(t *testing.T) {
	ws := newWebServer(t)
	ws.db.Dedup = dedup.NewMatcher()
	ws.DedupService = sqlite.NewDedupService(ws.db)
	b := ws.browser(t)
	b.login(canasta.RoleRegistrar)
	b.get("/registrar/enroll")
	form := url.Values{"rows": {"1"}, "region": {"north"}, "locality": {"Cusco"}, "line": {"8 Jirón Puno"},
		"m0_given": {"Rosa Elena"}, "m0_family": {"Mamani Quispe"}, "m0_birth": {"1975-02-11"}, "m0_sex": {"F"}, "m0_nid": {"40112233"}}

	form.Set("action", "check")
	if p := b.post("/registrar/enroll", form); p.doc.Find("#no-duplicates").Length() != 1 {
		t.Fatalf("check on an empty registry: %s", text(p.doc.Find("main")))
	}
	form.Set("action", "save")
	first := b.post("/registrar/enroll", form)
	firstID := text(first.doc.Find("#household-id"))
	if firstID == "" || first.doc.Find("#duplicates").Length() != 0 {
		t.Fatalf("first enrolment: %s", text(first.doc.Find("main")))
	}

	// The same person again, typed a little differently.
	form.Set("m0_given", "Rosa")
	form.Set("line", "8 Jr. Puno")
	form.Set("action", "check")
	p := b.post("/registrar/enroll", form)
	if p.doc.Find("#duplicates").Length() != 1 || p.doc.Find(`#duplicates a[href^="/registrar/households/`+firstID+`"]`).Length() != 1 {
		t.Fatalf("check did not list the first household: %s", text(p.doc.Find("main")))
	}
	if v, _ := p.doc.Find("#m0_given").Attr("value"); v != "Rosa" {
		t.Fatalf("check lost the typed values: %q", v)
	}
	form.Set("action", "save")
	p = b.post("/registrar/enroll", form)
	if id := text(p.doc.Find("#household-id")); id == "" || id == firstID {
		t.Fatalf("second enrolment: %s", text(p.doc.Find("main")))
	}
	if p.doc.Find(`#duplicates a[href^="/registrar/households/`+firstID+`"]`).Length() != 1 {
		t.Fatalf("the new household's page does not warn of the first: %s", text(p.doc.Find("main")))
	}
	// The warning is shown once.
	if again := b.get(p.url.RequestURI()); again.doc.Find("#duplicates").Length() != 0 {
		t.Fatal("the duplicate warning is shown again on reload")
	}

	t.Run("SearchByNationalIDAndName", func(t *testing.T) {
		before, err := sqlite.NewAccessLogService(ws.db).FindAccessEvents(t.Context(), firstID)
		if err != nil {
			t.Fatal(err)
		}
		b.get("/registrar")
		// Both households hold this national id; the first must be listed.
		p := b.post("/registrar/search", url.Values{"by": {"national"}, "q": {"40112233"}, "purpose": {"grievance"}})
		if p.doc.Find(`#matches a[href^="/registrar/households/`+firstID+`?purpose=grievance"]`).Length() != 1 {
			t.Fatalf("search by national id: %s", text(p.doc.Find("main")))
		}
		p = b.post("/registrar/search", url.Values{"by": {"name"}, "q": {"Rosa Mamani Quispe"}, "purpose": {"grievance"}})
		if p.doc.Find(`#matches a[href^="/registrar/households/hh_"]`).Length() == 0 {
			t.Fatalf("search by name: %s", text(p.doc.Find("main")))
		}
		p = b.post("/registrar/search", url.Values{"by": {"name"}, "q": {"Zacarías Flores"}, "purpose": {"grievance"}})
		if p.doc.Find("#no-matches").Length() != 1 {
			t.Fatalf("search for an unknown name: %s", text(p.doc.Find("main")))
		}
		after, err := sqlite.NewAccessLogService(ws.db).FindAccessEvents(t.Context(), firstID)
		if err != nil {
			t.Fatal(err)
		}
		if len(after) != len(before) {
			t.Fatalf("listing matches read the record: %d access events, had %d", len(after), len(before))
		}
	})
	t.Run("ReviewQueue", func(t *testing.T) {
		b.get("/registrar/duplicates")
		if p := b.post("/registrar/duplicates", url.Values{}); p.status != http.StatusBadRequest || p.doc.Find("#dedup-error").Length() != 1 {
			t.Fatalf("listing without a purpose: %d", p.status)
		}
		p := b.post("/registrar/duplicates", url.Values{"purpose": {"enrollment"}})
		cases := p.doc.Find("article.dedup-case")
		if cases.Length() != 1 || cases.Find(`a[href^="/registrar/households/`+firstID+`"]`).Length() != 1 {
			t.Fatalf("queue: %s", text(p.doc.Find("main")))
		}
		action, _ := cases.Find("form").Attr("action")
		p = b.post(action, url.Values{"purpose": {"enrollment"}, "decision": {"dismiss"}, "note": {"Different mothers' names."}})
		if p.doc.Find("#decided").Length() != 1 || p.doc.Find("#no-cases").Length() != 1 {
			t.Fatalf("after dismissing: %s", text(p.doc.Find("main")))
		}
	})
}
