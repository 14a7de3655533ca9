package http_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/canasta/canasta"
)

// operatorAtPoint signs an operator in and chooses the ledger's point.
func (ws *webServer) operatorAtPoint(t *testing.T) *browser {
	t.Helper()
	b := ws.browser(t)
	p := b.login(canasta.RoleOperator)
	if p.doc.Find("select#point_id").Length() != 1 {
		t.Fatalf("no point choice on first visit: %s", text(p.doc.Find("main")))
	}
	p = b.post("/point/place", url.Values{"point_id": {itoa(ws.l.point)}})
	if p.doc.Find("textarea#code").Length() != 1 {
		t.Fatalf("no code field after choosing the point: %s", text(p.doc.Find("main")))
	}
	return b
}

// redeemForm returns the quantities form's hidden fields with quantities.
func redeemForm(t *testing.T, p webPage, qty map[int64]string) url.Values {
	t.Helper()
	f := p.doc.Find("form#redeem-form")
	if f.Length() != 1 {
		t.Fatalf("no redeem form: %s", text(p.doc.Find("main")))
	}
	v := url.Values{}
	for _, name := range []string{"csrf", "code", "request_id"} {
		val, _ := f.Find(`input[name=` + name + `]`).Attr("value")
		v.Set(name, val)
	}
	for id, q := range qty {
		v.Set("qty_"+itoa(id), q)
	}
	return v
}

func TestWebPointRedeem(t *testing.T) {
	ws := newWebServer(t)
	ic := ws.issue(t)
	b := ws.operatorAtPoint(t)

	p := b.post("/point/check", url.Values{"code": {"  " + ic.Code + "\n"}})
	if p.status != http.StatusOK || !strings.Contains(text(p.doc.Find("#check-h")), "Valid card") {
		t.Fatalf("check: %d %s", p.status, text(p.doc.Find("main")))
	}
	if got := text(p.doc.Find("#remaining-" + itoa(ws.l.rice))); got != "4 kg" {
		t.Fatalf("rice remaining shows %q, want 4 kg", got)
	}
	// The point sees balances, never the household.
	body := text(p.doc.Find("main"))
	if strings.Contains(body, ws.l.household) || strings.Contains(body, "Quispe") {
		t.Fatalf("the check page shows the household: %s", body)
	}

	form := redeemForm(t, p, map[int64]string{ws.l.rice: "1500", ws.l.milk: "0"})
	p = b.post("/point/redeem", form)
	if p.status != http.StatusOK || !strings.HasPrefix(p.url.Path, "/point/receipts/") {
		t.Fatalf("redeem: %d at %s: %s", p.status, p.url, text(p.doc.Find("main")))
	}
	if got := text(p.doc.Find("#receipt-id")); got != form.Get("request_id") {
		t.Fatalf("receipt id %q, want %q", got, form.Get("request_id"))
	}
	if got := text(p.doc.Find("td.remaining")); got != "2.5 kg" {
		t.Fatalf("receipt remaining %q, want 2.5 kg", got)
	}
	if src, _ := p.doc.Find("figure.qr img").Attr("src"); !strings.HasPrefix(src, "data:image/png;base64,") {
		t.Fatalf("receipt QR src = %.40q", src)
	}

	t.Run("DoubleSubmitRedeemsOnce", func(t *testing.T) {
		p := b.post("/point/redeem", form)
		if got := text(p.doc.Find("td.remaining")); got != "2.5 kg" {
			t.Fatalf("second submit: remaining %q, want 2.5 kg", got)
		}
		p = b.post("/point/check", url.Values{"code": {ic.Code}})
		if got := text(p.doc.Find("#remaining-" + itoa(ws.l.rice))); got != "2.5 kg" {
			t.Fatalf("after double submit rice remaining %q", got)
		}
	})
	t.Run("OverRemainingIsRefused", func(t *testing.T) {
		p := b.post("/point/check", url.Values{"code": {ic.Code}})
		p = b.post("/point/redeem", redeemForm(t, p, map[int64]string{ws.l.rice: "999999"}))
		if p.status != http.StatusConflict || p.doc.Find(".state-refused").Length() != 1 {
			t.Fatalf("status %d: %s", p.status, text(p.doc.Find("main")))
		}
		if got := text(p.doc.Find("#remaining-" + itoa(ws.l.rice))); got != "2.5 kg" {
			t.Fatalf("refused redemption changed rice to %q", got)
		}
	})
	t.Run("NoQuantity", func(t *testing.T) {
		p := b.post("/point/check", url.Values{"code": {ic.Code}})
		p = b.post("/point/redeem", redeemForm(t, p, nil))
		if p.status != http.StatusBadRequest || p.doc.Find(".state-refused").Length() != 1 {
			t.Fatalf("status %d: %s", p.status, text(p.doc.Find("main")))
		}
	})
	t.Run("NothingLeft", func(t *testing.T) {
		p := b.post("/point/check", url.Values{"code": {ic.Code}})
		p = b.post("/point/redeem", redeemForm(t, p, map[int64]string{ws.l.rice: "2500", ws.l.milk: "1500"}))
		if !strings.HasPrefix(p.url.Path, "/point/receipts/") {
			t.Fatalf("redeem all: %s", text(p.doc.Find("main")))
		}
		p = b.post("/point/check", url.Values{"code": {ic.Code}})
		if p.doc.Find(".state-nothing-left").Length() != 1 || p.doc.Find("form#redeem-form button[type=submit]").Length() != 0 {
			t.Fatalf("nothing left not shown: %s", text(p.doc.Find("main")))
		}
	})
	t.Run("ReceiptOfAnotherPointIsHidden", func(t *testing.T) {
		other := ws.browser(t)
		other.login(canasta.RoleOperator)
		if p := other.get("/point/receipts/" + form.Get("request_id")); p.status != http.StatusNotFound {
			t.Fatalf("an operator with no point read the receipt: %d", p.status)
		}
	})
	t.Run("StoreUnavailable", func(t *testing.T) {
		saved := ws.EntitlementService
		ws.EntitlementService = unavailableEntitlements{}
		defer func() { ws.EntitlementService = saved }()
		p := b.post("/point/check", url.Values{"code": {ic.Code}})
		if p.status != http.StatusServiceUnavailable || p.doc.Find(".state-unavailable").Length() != 1 || p.header.Get("Retry-After") == "" {
			t.Fatalf("store down: %d %s", p.status, text(p.doc.Find("main")))
		}
	})
	t.Run("Revoked", func(t *testing.T) {
		if err := ws.cards.RevokeCard(t.Context(), ic.CardID); err != nil {
			t.Fatal(err)
		}
		p := b.post("/point/check", url.Values{"code": {ic.Code}})
		if p.status != http.StatusConflict || p.doc.Find(".state-revoked").Length() != 1 {
			t.Fatalf("revoked card: %d %s", p.status, text(p.doc.Find("main")))
		}
	})
	t.Run("Forged", func(t *testing.T) {
		p := b.post("/point/check", url.Values{"code": {"CN1:NOTACARD"}})
		if p.status != http.StatusBadRequest || p.doc.Find(".state-invalid").Length() != 1 {
			t.Fatalf("forged card: %d %s", p.status, text(p.doc.Find("main")))
		}
	})
}

// unavailableEntitlements is a store that cannot be reached.
type unavailableEntitlements struct{}

func (unavailableEntitlements) FindEntitlements(context.Context, string, canasta.Period) ([]*canasta.Entitlement, error) {
	return nil, fmt.Errorf("find entitlements: %w: connection refused", canasta.ErrUnavailable)
}
