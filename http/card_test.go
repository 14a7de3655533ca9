package http_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/canasta/canasta"
	"github.com/canasta/canasta/card"
	"github.com/canasta/canasta/sqlite"
)

// settableClock is shared by the store and the card service, so moving it
// moves issue, revocation and verification times together.
type settableClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *settableClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *settableClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// cardServer is a test server with cards, a ledger with grants for this
// period, and one token per role that handles cards.
type cardServer struct {
	*testServer
	clock     *settableClock
	cards     *card.Service
	l         ledger
	registrar string
	operator  string
}

func newCardServer(t *testing.T) *cardServer {
	t.Helper()
	ts := newTestServer(t)
	clk := &settableClock{now: testNow}
	ts.db.Now = clk.Now
	cards := card.NewService(sqlite.NewCardStore(ts.db), "canasta:test")
	cards.Now = clk.Now
	cards.PINParams = &argon2id.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	ts.CardService = cards
	cs := &cardServer{testServer: ts, clock: clk, cards: cards,
		registrar: ts.token(t, canasta.RoleRegistrar), operator: ts.token(t, canasta.RoleOperator)}
	cs.l = newLedger(t, ts)
	runCycle(t, ts)
	return cs
}

func (cs *cardServer) issue(t *testing.T) canasta.IssuedCard {
	t.Helper()
	var ic canasta.IssuedCard
	cs.mustDo(t, http.StatusCreated, request{method: "POST", path: "/api/v1/households/" + cs.l.household + "/cards",
		token: cs.registrar}).decode(t, &ic)
	return ic
}

// publishedKeys fetches /cards/keys anonymously, as a point would.
func (cs *cardServer) publishedKeys(t *testing.T) *card.KeySet {
	t.Helper()
	r := cs.mustDo(t, http.StatusOK, request{method: "GET", path: "/api/v1/cards/keys"})
	var resp struct {
		Keys []card.PublicKey `json:"keys"`
	}
	r.decode(t, &resp)
	keys, err := card.NewKeySet(resp.Keys...)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func (cs *cardServer) redeemWithCard(t *testing.T, want int, requestID, code string, point int64, rice int64) response {
	t.Helper()
	return cs.mustDo(t, want, request{method: "POST", path: "/api/v1/redemptions", token: cs.operator,
		body: map[string]any{"request_id": requestID, "point_id": point, "card": code,
			"items": []map[string]int64{{"program_id": cs.l.rice, "quantity": rice}}}})
}

func (cs *cardServer) riceLeft(t *testing.T) int64 {
	t.Helper()
	return findEntitlements(t, cs.testServer, cs.l.household, "").remaining(t, cs.l.rice)
}

func checkPath(code string) string { return "/api/v1/cards/check?code=" + url.QueryEscape(code) }

func TestCardIssueAndPrint(t *testing.T) {
	cs := newCardServer(t)
	r := cs.mustDo(t, http.StatusCreated, request{method: "POST", path: "/api/v1/households/" + cs.l.household + "/cards", token: cs.registrar})
	var fields map[string]any
	r.decode(t, &fields)
	if len(fields) != 4 || fields["card_id"] == nil || fields["version"] != float64(1) || fields["code"] == nil || fields["pin"] == nil {
		t.Fatalf("issue response %s: want exactly card_id, version 1, code and pin", r.body)
	}
	var ic canasta.IssuedCard
	r.decode(t, &ic)
	if r.header.Get("Location") != "/api/v1/cards/"+ic.CardID || len(ic.PIN) != 6 || !strings.HasPrefix(ic.Code, card.Prefix) {
		t.Fatalf("issued %+v with Location %q", ic, r.header.Get("Location"))
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("PIN response Cache-Control %q, want no-store", cc)
	}

	t.Run("PNGDecodesToCode", func(t *testing.T) {
		r := cs.mustDo(t, http.StatusOK, request{method: "GET", path: "/api/v1/cards/" + ic.CardID + ".png", token: cs.registrar})
		if ct := r.header.Get("Content-Type"); ct != "image/png" {
			t.Fatalf("Content-Type %q", ct)
		}
		got, err := card.DecodeQR(r.body)
		if err != nil {
			t.Fatal(err)
		}
		if got != ic.Code {
			t.Fatalf("QR reads %q, want %q", got, ic.Code)
		}
	})
	t.Run("PDF", func(t *testing.T) {
		r := cs.mustDo(t, http.StatusOK, request{method: "GET", path: "/api/v1/cards/" + ic.CardID + ".pdf", token: cs.registrar})
		if ct := r.header.Get("Content-Type"); ct != "application/pdf" || !bytes.HasPrefix(r.body, []byte("%PDF")) {
			t.Fatalf("Content-Type %q, body starts %q", ct, r.body[:min(8, len(r.body))])
		}
		// Reading the name to print it is an enrolment read, logged.
		var log struct{ Events []canasta.AccessEvent }
		cs.mustDo(t, http.StatusOK, request{method: "GET", path: "/api/v1/households/" + cs.l.household + "/access-log?purpose=audit",
			token: cs.admin}).decode(t, &log)
		if !slices.ContainsFunc(log.Events, func(e canasta.AccessEvent) bool {
			return e.Action == "read-household" && e.Purpose == canasta.PurposeEnrollment && e.Role == canasta.RoleRegistrar
		}) {
			t.Fatalf("no enrolment read logged for printing: %+v", log.Events)
		}
	})
	t.Run("JSON", func(t *testing.T) {
		r := cs.mustDo(t, http.StatusOK, request{method: "GET", path: "/api/v1/cards/" + ic.CardID, token: cs.admin})
		var c canasta.Card
		r.decode(t, &c)
		if c.ID != ic.CardID || c.Version != 1 || c.Code != ic.Code || c.RevokedAt != nil {
			t.Fatalf("card %s", r.body)
		}
		if strings.Contains(string(r.body), "argon2") || strings.Contains(string(r.body), ic.PIN) {
			t.Fatalf("card JSON holds the PIN or its hash: %s", r.body)
		}
	})
	for _, tt := range []struct {
		name, path, token string
		want              int
	}{
		{"UnknownExtension", "/api/v1/cards/" + ic.CardID + ".txt", cs.registrar, http.StatusNotFound},
		{"UnknownCard", "/api/v1/cards/card_nothing.png", cs.registrar, http.StatusNotFound},
		{"OperatorPrints", "/api/v1/cards/" + ic.CardID + ".pdf", cs.operator, http.StatusForbidden},
		{"AuditorPrints", "/api/v1/cards/" + ic.CardID + ".png", cs.token(t, canasta.RoleAuditor), http.StatusForbidden},
		{"AnonymousPrints", "/api/v1/cards/" + ic.CardID + ".png", "", http.StatusUnauthorized},
		{"RegistrarChecks", checkPath(ic.Code), cs.registrar, http.StatusForbidden},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cs.mustDo(t, tt.want, request{method: "GET", path: tt.path, token: tt.token})
		})
	}
	for _, tt := range []struct {
		name, path string
	}{
		{"OperatorIssues", "/api/v1/households/" + cs.l.household + "/cards"},
		{"OperatorRevokes", "/api/v1/cards/" + ic.CardID + "/revoke"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cs.mustDo(t, http.StatusForbidden, request{method: "POST", path: tt.path, token: cs.operator})
		})
	}
	t.Run("UnknownHousehold", func(t *testing.T) {
		cs.mustDo(t, http.StatusNotFound, request{method: "POST", path: "/api/v1/households/hh_nobody/cards", token: cs.registrar})
	})

	t.Run("ReissueRevokesPrevious", func(t *testing.T) {
		v2 := cs.issue(t)
		if v2.CardID != ic.CardID || v2.Version != 2 || v2.Code == ic.Code {
			t.Fatalf("re-issued %+v after %+v", v2, ic)
		}
		r := cs.mustDo(t, http.StatusConflict, request{method: "GET", path: checkPath(ic.Code), token: cs.operator})
		if !strings.Contains(r.errorMessage(t), "replaced") {
			t.Fatalf("old card refused with %s", r.body)
		}
		cs.mustDo(t, http.StatusOK, request{method: "GET", path: checkPath(v2.Code), token: cs.operator})
	})
}

func TestCardKeysAndRevocations(t *testing.T) {
	cs := newCardServer(t)
	ic := cs.issue(t)

	t.Run("KeysVerifyOffline", func(t *testing.T) {
		claims, err := card.VerifyCard(ic.Code, card.VerifyOptions{Keys: cs.publishedKeys(t), At: testNow})
		if err != nil {
			t.Fatal(err)
		}
		if claims.CardID != ic.CardID || claims.Version != ic.Version || claims.Household != cs.l.household {
			t.Fatalf("claims %+v", *claims)
		}
	})

	t.Run("Revoke", func(t *testing.T) {
		r := cs.mustDo(t, http.StatusOK, request{method: "POST", path: "/api/v1/cards/" + ic.CardID + "/revoke", token: cs.registrar})
		var c canasta.Card
		r.decode(t, &c)
		if c.RevokedAt == nil || c.Version != 1 {
			t.Fatalf("revoke answered %s", r.body)
		}
		cs.mustDo(t, http.StatusConflict, request{method: "POST", path: "/api/v1/cards/" + ic.CardID + "/revoke", token: cs.registrar})
		cs.mustDo(t, http.StatusNotFound, request{method: "POST", path: "/api/v1/cards/card_nothing/revoke", token: cs.admin})
		cs.mustDo(t, http.StatusConflict, request{method: "GET", path: "/api/v1/cards/" + ic.CardID + ".pdf", token: cs.registrar})
	})

	t.Run("SignedListVerifiesOffline", func(t *testing.T) {
		r := cs.mustDo(t, http.StatusOK, request{method: "GET", path: "/api/v1/cards/revocations"})
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/cose") {
			t.Fatalf("Content-Type %q", ct)
		}
		l, err := card.VerifyRevocations(r.body, cs.publishedKeys(t), testNow)
		if err != nil {
			t.Fatal(err)
		}
		if !l.Revoked(ic.CardID, ic.Version) || l.Revoked(ic.CardID, ic.Version+1) {
			t.Fatalf("revocation list %+v", l.Entries)
		}
		if !l.Expires.After(testNow) {
			t.Fatalf("list expires %v, before now", l.Expires)
		}
		// A list altered in transit does not verify.
		bad := bytes.Clone(r.body)
		bad[len(bad)-1] ^= 1
		if _, err := card.VerifyRevocations(bad, cs.publishedKeys(t), testNow); err == nil {
			t.Fatal("altered revocation list verified")
		}
	})
}

func TestCardCheck(t *testing.T) {
	cs := newCardServer(t)
	ic := cs.issue(t)
	cs.redeemWithCard(t, http.StatusCreated, "chk-1", ic.Code, cs.l.point, 1000)

	r := cs.mustDo(t, http.StatusOK, request{method: "GET", path: checkPath(ic.Code), token: cs.operator})
	var check canasta.CardCheck
	r.decode(t, &check)
	if !check.Valid || check.CardID != ic.CardID || check.Version != 1 || check.Period != testPeriod || len(check.Entitlements) != 2 {
		t.Fatalf("check = %s", r.body)
	}
	for _, e := range check.Entitlements {
		want := map[int64]int64{cs.l.rice: cs.l.riceGranted - 1000, cs.l.milk: cs.l.milkGranted}[e.ProgramID]
		if e.Remaining != want {
			t.Errorf("program %d: remaining %d, want %d", e.ProgramID, e.Remaining, want)
		}
		if e.Explanation != "" {
			t.Errorf("program %d: explanation %q quotes the household's data", e.ProgramID, e.Explanation)
		}
	}
	for _, private := range []string{cs.l.household, "household", "Amaru", "Quispe", "90000", "Calle", "1980"} {
		if strings.Contains(string(r.body), private) {
			t.Errorf("check response holds %q: %s", private, r.body)
		}
	}

	t.Run("MissingCode", func(t *testing.T) {
		cs.mustDo(t, http.StatusBadRequest, request{method: "GET", path: "/api/v1/cards/check", token: cs.operator})
	})
	t.Run("Logged", func(t *testing.T) {
		var log struct{ Events []canasta.AccessEvent }
		cs.mustDo(t, http.StatusOK, request{method: "GET", path: "/api/v1/households/" + cs.l.household + "/access-log?purpose=audit",
			token: cs.admin}).decode(t, &log)
		if !slices.ContainsFunc(log.Events, func(e canasta.AccessEvent) bool {
			return e.Action == "read-entitlements" && e.Purpose == canasta.PurposeRedemptionSupport && e.Role == canasta.RoleOperator
		}) {
			t.Fatalf("card check not logged: %+v", log.Events)
		}
	})
}

// TestCardRedTeam attacks redemption by card the ways a point or a holder
// could: every refused attempt must be a 4xx that debits nothing.
func TestCardRedTeam(t *testing.T) {
	cs := newCardServer(t)
	l := cs.l
	ic := cs.issue(t)
	left := l.riceGranted

	refused := func(t *testing.T, want int, requestID, code, message string) {
		t.Helper()
		r := cs.redeemWithCard(t, want, requestID, code, l.point, 100)
		if message != "" && !strings.Contains(r.errorMessage(t), message) {
			t.Errorf("refusal says %q, want it to mention %q", r.errorMessage(t), message)
		}
		if got := cs.riceLeft(t); got != left {
			t.Fatalf("a refused redemption debited: %d left, want %d", got, left)
		}
		cs.mustDo(t, http.StatusNotFound, request{method: "GET", path: "/api/v1/redemptions/" + requestID, token: cs.operator})
	}

	t.Run("Valid", func(t *testing.T) {
		var receipt canasta.Redemption
		cs.redeemWithCard(t, http.StatusCreated, "rt-valid", ic.Code, l.point, 500).decode(t, &receipt)
		left -= 500
		if receipt.HouseholdID != l.household || receipt.Items[0].Remaining != left {
			t.Fatalf("receipt %+v", receipt)
		}
	})
	t.Run("CopiedToTwoPoints", func(t *testing.T) {
		other := createPoint(t, cs.testServer)
		take := left - 500
		cs.redeemWithCard(t, http.StatusCreated, "rt-copy-1", ic.Code, l.point, take)
		left -= take
		r := cs.redeemWithCard(t, http.StatusConflict, "rt-copy-2", ic.Code, other, take)
		if r.errorCode(t) != canasta.ECONFLICT {
			t.Fatalf("second point got %s", r.body)
		}
		if got := cs.riceLeft(t); got != left {
			t.Fatalf("%d left after the copy was refused, want %d", got, left)
		}
	})
	t.Run("BothCardAndHousehold", func(t *testing.T) {
		r := cs.mustDo(t, http.StatusBadRequest, request{method: "POST", path: "/api/v1/redemptions", token: cs.operator,
			body: map[string]any{"request_id": "rt-both", "point_id": l.point, "card": ic.Code, "household_id": l.household,
				"items": []map[string]int64{{"program_id": l.rice, "quantity": 100}}}})
		if !strings.Contains(r.errorMessage(t), "not both") {
			t.Fatalf("body %s", r.body)
		}
		if got := cs.riceLeft(t); got != left {
			t.Fatalf("debited: %d left, want %d", got, left)
		}
	})
	t.Run("Neither", func(t *testing.T) {
		cs.mustDo(t, http.StatusBadRequest, request{method: "POST", path: "/api/v1/redemptions", token: cs.operator,
			body: map[string]any{"request_id": "rt-neither", "point_id": l.point,
				"items": []map[string]int64{{"program_id": l.rice, "quantity": 100}}}})
	})
	t.Run("Forged", func(t *testing.T) {
		forger, err := card.GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		code, err := card.Issue(forger, card.Claims{Issuer: "canasta:test", IssuedAt: testNow, Expires: testNow.AddDate(1, 0, 0),
			CardID: ic.CardID, Version: ic.Version, Household: l.household}, "")
		if err != nil {
			t.Fatal(err)
		}
		refused(t, http.StatusBadRequest, "rt-forged", code, "not signed by a trusted key")
	})
	t.Run("Tampered", func(t *testing.T) {
		b := []byte(ic.Code)
		i := len(b) - 12
		b[i] = map[bool]byte{true: '1', false: '0'}[b[i] == '0']
		refused(t, http.StatusBadRequest, "rt-tampered", string(b), "")
	})
	t.Run("NotACard", func(t *testing.T) {
		refused(t, http.StatusBadRequest, "rt-junk", "HC1:NCFOXN%TS3DH3ZSUZK+.V0ETD%65NL-AH", "not a card code")
	})
	t.Run("Expired", func(t *testing.T) {
		cs.clock.Set(testNow.AddDate(6, 0, 0))
		defer cs.clock.Set(testNow)
		refused(t, http.StatusBadRequest, "rt-expired", ic.Code, "expired")
		cs.mustDo(t, http.StatusBadRequest, request{method: "GET", path: checkPath(ic.Code), token: cs.operator})
	})
	t.Run("Revoked", func(t *testing.T) {
		cs.mustDo(t, http.StatusOK, request{method: "POST", path: "/api/v1/cards/" + ic.CardID + "/revoke", token: cs.registrar})
		refused(t, http.StatusConflict, "rt-revoked", ic.Code, "revoked")
		cs.mustDo(t, http.StatusConflict, request{method: "GET", path: checkPath(ic.Code), token: cs.operator})
	})
	t.Run("Superseded", func(t *testing.T) {
		v2 := cs.issue(t)
		refused(t, http.StatusConflict, "rt-old-version", ic.Code, "replaced")
		cs.redeemWithCard(t, http.StatusCreated, "rt-new-version", v2.Code, l.point, 100)
		left -= 100
		if got := cs.riceLeft(t); got != left {
			t.Fatalf("%d left, want %d", got, left)
		}
		// The new card verifies offline against the published keys.
		v, err := card.Verify(v2.Code, card.VerifyOptions{Keys: cs.publishedKeys(t), At: cs.clock.Now()})
		if err != nil {
			t.Fatal(err)
		}
		keys, _ := cs.cards.FindSigningKeys(context.Background())
		if got := hex.EncodeToString(v.KID); got != keys[len(keys)-1].KID {
			t.Fatalf("new card signed by %s, want %s", got, keys[len(keys)-1].KID)
		}
	})
	t.Run("RetiredKey", func(t *testing.T) {
		ctx := context.Background()
		keys, err := cs.cards.FindSigningKeys(ctx)
		if err != nil || len(keys) != 1 {
			t.Fatalf("keys %v, %v: want the one made at the first issue", keys, err)
		}
		old := keys[0]
		cs.clock.Set(testNow.Add(time.Hour))
		if _, err := cs.cards.RotateKey(ctx); err != nil {
			t.Fatal(err)
		}
		retiredAt := testNow.Add(2 * time.Hour)
		cs.clock.Set(retiredAt)
		if err := cs.cards.RetireKey(ctx, old.KID); err != nil {
			t.Fatal(err)
		}
		cs.clock.Set(retiredAt.Add(time.Hour))

		// Issued before retirement: no longer trusted once its key is retired.
		refused(t, http.StatusBadRequest, "rt-retired-before", ic.Code, "not signed by a trusted key")

		// Issued after retirement by whoever kept the old private key.
		leaked, err := card.ParseKey(old.Private)
		if err != nil {
			t.Fatal(err)
		}
		late, err := card.Issue(leaked, card.Claims{Issuer: "canasta:test", IssuedAt: retiredAt.Add(time.Minute),
			Expires: retiredAt.AddDate(1, 0, 0), CardID: ic.CardID, Version: ic.Version, Household: l.household}, "")
		if err != nil {
			t.Fatal(err)
		}
		refused(t, http.StatusBadRequest, "rt-retired-after", late, "not signed by a trusted key")
	})
}

// TestCardKeysJSON checks the published form: every key has a kid, an
// algorithm and its public key, and nothing private.
func TestCardKeysJSON(t *testing.T) {
	cs := newCardServer(t)
	cs.issue(t)
	r := cs.mustDo(t, http.StatusOK, request{method: "GET", path: "/api/v1/cards/keys"})
	var raw struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(r.body, &raw); err != nil {
		t.Fatal(err)
	}
	if len(raw.Keys) != 1 || raw.Keys[0]["kid"] == nil || raw.Keys[0]["alg"] != "EdDSA" || raw.Keys[0]["spki"] == nil || raw.Keys[0]["not_before"] == nil {
		t.Fatalf("keys = %s", r.body)
	}
	if strings.Contains(string(r.body), "PRIVATE") || strings.Contains(string(r.body), "private") {
		t.Fatalf("keys hold private material: %s", r.body)
	}
}

// TestCardsNotConfigured checks a server started without cards, as on a
// store that keeps none: card routes answer 404, never a panic or a 500.
func TestCardsNotConfigured(t *testing.T) {
	ts := newTestServer(t)
	operator := ts.token(t, canasta.RoleOperator)
	for _, tt := range []struct {
		name string
		req  request
	}{
		{"Keys", request{method: "GET", path: "/api/v1/cards/keys"}},
		{"Revocations", request{method: "GET", path: "/api/v1/cards/revocations"}},
		{"Issue", request{method: "POST", path: "/api/v1/households/hh_x/cards", token: ts.admin}},
		{"Check", request{method: "GET", path: checkPath("CN1:X"), token: operator}},
		{"RedeemWithCard", request{method: "POST", path: "/api/v1/redemptions", token: operator,
			body: map[string]any{"request_id": "r1", "point_id": 1, "card": "CN1:X",
				"items": []map[string]any{{"program_id": 1, "quantity": 1}}}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.mustDo(t, http.StatusNotFound, tt.req)
			if !strings.Contains(r.errorMessage(t), "does not handle cards") {
				t.Fatalf("body %s", r.body)
			}
		})
	}
}
