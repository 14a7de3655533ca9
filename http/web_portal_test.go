package http_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/canasta/canasta"
)

// webPortalServer is a web server with the person portal, audit log and
// grievances of newPortalServer.
type webPortalServer struct {
	*webServer
	ps *portalServer
}

func newWebPortalServer(t *testing.T) *webPortalServer {
	t.Helper()
	ps := newPortalServer(t)
	return &webPortalServer{webServer: withWeb(t, ps.cardServer), ps: ps}
}

// personSignIn signs a person in with their card and PIN.
func (ws *webPortalServer) personSignIn(t *testing.T, ic canasta.IssuedCard) *browser {
	t.Helper()
	b := ws.browser(t)
	b.get("/portal/login")
	p := b.post("/portal/login", url.Values{"card": {ic.CardID}, "pin": {ic.PIN}})
	if p.status != http.StatusOK || p.url.Path != "/portal" {
		t.Fatalf("portal sign-in: %d at %s: %s", p.status, p.url, text(p.doc.Find("main")))
	}
	return b
}

func TestWebPortal(t *testing.T) {
	ws := newWebPortalServer(t)
	a := ws.ps.a

	// A registrar reads household A for a grievance.
	staff := ws.browser(t)
	staff.login(canasta.RoleRegistrar)
	staff.get("/registrar")
	if p := staff.post("/registrar/search", url.Values{"by": {"card"}, "q": {a.CardID}, "purpose": {"grievance"}}); p.status != http.StatusOK {
		t.Fatalf("registrar search: %d", p.status)
	}

	b := ws.personSignIn(t, a)
	p := b.get("/portal")
	t.Run("AccessLogShowsTheRegistrarsRead", func(t *testing.T) {
		rows := p.doc.Find("#access-log tbody tr")
		if rows.Length() == 0 {
			t.Fatalf("no access log rows: %s", text(p.doc.Find("#access-h").Parent()))
		}
		row := text(rows.First())
		if !strings.Contains(row, "registrar (registrar)") || !strings.Contains(row, "Grievance") {
			t.Fatalf("newest access row %q, want the registrar's grievance read", row)
		}
	})
	t.Run("EntitlementsWithExplanations", func(t *testing.T) {
		ents := p.doc.Find("article.entitlement")
		if ents.Length() != 2 {
			t.Fatalf("%d entitlements shown, want 2", ents.Length())
		}
		if why := text(ents.First().Find("p").Last()); len(why) < len("Why: x") {
			t.Fatalf("no explanation: %q", why)
		}
	})
	t.Run("OwnReadsAreNotStaffAccess", func(t *testing.T) {
		before := p.doc.Find("#access-log tbody tr").Length()
		again := b.get("/portal")
		if n := again.doc.Find("#access-log tbody tr").Length(); n != before {
			t.Fatalf("the person's own reads added %d access rows", n-before)
		}
	})
	t.Run("FileAndFollowGrievance", func(t *testing.T) {
		p := b.post("/portal/grievances", url.Values{"category": {"refused-at-point"}, "text": {"The shop said our card was not valid."}})
		if p.status != http.StatusOK || !strings.HasPrefix(p.url.Path, "/portal/grievances/gr_") {
			t.Fatalf("file: %d at %s: %s", p.status, p.url, text(p.doc.Find("main")))
		}
		if got := text(p.doc.Find("#grievance-status")); got != "open" {
			t.Fatalf("status %q", got)
		}
		home := b.get("/portal")
		if home.doc.Find(`a[href="`+p.url.Path+`"]`).Length() != 1 {
			t.Fatal("the overview does not list the grievance")
		}
		bad := b.post("/portal/grievances", url.Values{"category": {"complaint"}, "text": {"x"}})
		if bad.status != http.StatusBadRequest || bad.doc.Find("#portal-error").Length() != 1 {
			t.Fatalf("bad category: %d", bad.status)
		}
	})
	t.Run("OtherHouseholdsGrievanceIsHidden", func(t *testing.T) {
		other := ws.personSignIn(t, ws.ps.b)
		other.post("/portal/grievances", url.Values{"category": {"other"}, "text": {"A question about our card."}})
		var id string
		p := other.get("/portal")
		p.doc.Find(`#griev-h ~ ul a`).Each(func(_ int, s *goquery.Selection) { id, _ = s.Attr("href") })
		if id == "" {
			t.Fatal("household B has no grievance link")
		}
		if p := b.get(id); p.status != http.StatusNotFound {
			t.Fatalf("household A opened B's grievance: %d", p.status)
		}
	})
	t.Run("Export", func(t *testing.T) {
		req, _ := http.NewRequest("GET", b.base+"/portal/export", nil)
		resp, err := b.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var exp struct {
			Document struct {
				Household struct {
					ID string `json:"id"`
				} `json:"household"`
			} `json:"document"`
			Signature struct {
				Value []byte `json:"value"`
			} `json:"signature"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&exp); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("export: %d %v", resp.StatusCode, err)
		}
		if exp.Document.Household.ID != ws.l.household || len(exp.Signature.Value) == 0 {
			t.Fatalf("export of %q, signature %d bytes", exp.Document.Household.ID, len(exp.Signature.Value))
		}
	})
	t.Run("PersonIsNotStaff", func(t *testing.T) {
		if p := b.get("/registrar"); p.url.Path != "/login" {
			t.Fatalf("a person opened the registry: at %s", p.url.Path)
		}
		if p := staff.get("/portal"); p.url.Path != "/portal/login" {
			t.Fatalf("staff opened the portal: at %s", p.url.Path)
		}
	})
	t.Run("WrongPIN", func(t *testing.T) {
		c := ws.browser(t)
		c.get("/portal/login")
		p := c.post("/portal/login", url.Values{"card": {a.CardID}, "pin": {"000000000"}})
		if p.status != http.StatusUnauthorized || p.doc.Find("#portal-error").Length() != 1 {
			t.Fatalf("wrong PIN: %d", p.status)
		}
	})
	t.Run("LogoutEndsThePortalSession", func(t *testing.T) {
		c := ws.personSignIn(t, a)
		if p := c.post("/logout", nil); p.url.Path != "/portal/login" {
			t.Fatalf("after logout at %s", p.url.Path)
		}
		if p := c.get("/portal"); p.url.Path != "/portal/login" {
			t.Fatalf("after logout /portal opened at %s", p.url.Path)
		}
	})
}

func TestWebCorrect(t *testing.T) {
	ws := newWebPortalServer(t)
	b := ws.browser(t)
	b.login(canasta.RoleRegistrar)
	path := "/registrar/households/" + ws.l.household + "/correct"
	p := b.get(path)
	if v, _ := p.doc.Find("#income").Attr("value"); p.status != http.StatusOK || v == "" {
		t.Fatalf("correct form: %d, income %q", p.status, v)
	}
	form := url.Values{}
	p.doc.Find("#correct-form input, #correct-form select").Each(func(_ int, s *goquery.Selection) {
		name, _ := s.Attr("name")
		if typ, _ := s.Attr("type"); typ == "checkbox" {
			if _, on := s.Attr("checked"); !on {
				return
			}
		}
		if s.Is("select") {
			v, _ := s.Find("option[selected]").Attr("value")
			form.Set(name, v)
			return
		}
		v, _ := s.Attr("value")
		form.Set(name, v)
	})
	form.Set("income", "1200.00")

	if p := b.post(path, form); p.status != http.StatusBadRequest || p.doc.Find("#correct-error").Length() != 1 {
		t.Fatalf("correction without a reason: %d", p.status)
	}
	form.Set("reason", "Payslip seen at the office.")
	p = b.post(path, form)
	if p.status != http.StatusOK || p.doc.Find("#notice").Length() != 1 {
		t.Fatalf("correction: %d at %s: %s", p.status, p.url, text(p.doc.Find("main")))
	}
	h, err := ws.HouseholdService.FindHouseholdByID(t.Context(), ws.l.household)
	if err != nil || h.MonthlyIncome != 120000 {
		t.Fatalf("income after correction %d (%v), want 120000", h.MonthlyIncome, err)
	}
	person := ws.personSignIn(t, ws.ps.a)
	if got := text(person.get("/portal").doc.Find("#corrections")); !strings.Contains(got, "Payslip seen") || !strings.Contains(got, "monthly_income") {
		t.Fatalf("portal corrections: %q", got)
	}
	t.Run("OperatorMayNot", func(t *testing.T) {
		o := ws.browser(t)
		o.login(canasta.RoleOperator)
		if p := o.get(path); p.status != http.StatusForbidden {
			t.Fatalf("operator opened the correction form: %d", p.status)
		}
	})
}
