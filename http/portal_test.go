package http_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/canasta/canasta"
	"github.com/canasta/canasta/audit"
	"github.com/canasta/canasta/card"
	"github.com/canasta/canasta/dedup"
	"github.com/canasta/canasta/sqlite"
	"golang.org/x/mod/sumdb/tlog"
)

// portalServer is a card server with the person portal, the audit log and
// grievances, and two households with cards: the ledger's (A) and B.
type portalServer struct {
	*cardServer
	a, b       canasta.IssuedCard
	householdB string
}

func newPortalServer(t *testing.T) *portalServer {
	t.Helper()
	cs := newCardServer(t)
	store := sqlite.NewPortalStore(cs.db)
	p := card.NewPortal(cs.cards, store)
	p.Now = cs.clock.Now
	cs.PortalService = p
	cs.HouseholdRecords = store
	log := audit.NewLog(sqlite.NewAuditStore(cs.db))
	cs.AuditService = log
	cs.ExportSigner = log
	cs.GrievanceService = sqlite.NewGrievanceService(cs.db)
	cs.CorrectionService = sqlite.NewCorrectionService(cs.db)
	ps := &portalServer{cardServer: cs, a: cs.issue(t)}
	ps.householdB = createHousehold(t, cs.testServer, map[string]any{"attributes": map[string]any{"dependents": 1}}).ID
	cs.mustDo(t, http.StatusCreated, request{method: "POST", path: "/api/v1/households/" + ps.householdB + "/cards",
		token: cs.registrar}).decode(t, &ps.b)
	return ps
}

func (ps *portalServer) login(t *testing.T, ic canasta.IssuedCard) string {
	t.Helper()
	var resp struct {
		Token       string `json:"token"`
		HouseholdID string `json:"household_id"`
	}
	ps.mustDo(t, http.StatusOK, request{method: "POST", path: "/api/v1/portal/login",
		body: map[string]string{"card": ic.CardID, "pin": ic.PIN}}).decode(t, &resp)
	if !strings.HasPrefix(resp.Token, canasta.PortalTokenPrefix) || resp.HouseholdID == "" {
		t.Fatalf("login answered %+v", resp)
	}
	return resp.Token
}

func TestPortalLogin(t *testing.T) {
	ps := newPortalServer(t)

	t.Run("ByCodeOrID", func(t *testing.T) {
		for _, c := range []string{ps.a.CardID, ps.a.Code} {
			ps.mustDo(t, http.StatusOK, request{method: "POST", path: "/api/v1/portal/login",
				body: map[string]string{"card": c, "pin": ps.a.PIN}})
		}
	})
	t.Run("UnknownCardAndWrongPINLookAlike", func(t *testing.T) {
		wrong := ps.do(t, request{method: "POST", path: "/api/v1/portal/login", body: map[string]string{"card": ps.b.CardID, "pin": "000000x"}})
		unknown := ps.do(t, request{method: "POST", path: "/api/v1/portal/login", body: map[string]string{"card": "crd_nobody", "pin": "123456"}})
		if wrong.status != http.StatusUnauthorized || unknown.status != http.StatusUnauthorized ||
			wrong.errorMessage(t) != unknown.errorMessage(t) {
			t.Fatalf("wrong PIN %d %s; unknown card %d %s: want the same 401", wrong.status, wrong.body, unknown.status, unknown.body)
		}
	})
	t.Run("LockAfterRepeatedWrongPINs", func(t *testing.T) {
		for i := 1; i < card.DefaultMaxPINFailures; i++ {
			ps.mustDo(t, http.StatusUnauthorized, request{method: "POST", path: "/api/v1/portal/login",
				body: map[string]string{"card": ps.a.CardID, "pin": "999999x"}})
		}
		r := ps.mustDo(t, http.StatusForbidden, request{method: "POST", path: "/api/v1/portal/login",
			body: map[string]string{"card": ps.a.CardID, "pin": "999999x"}})
		if !strings.Contains(r.errorMessage(t), "locked") {
			t.Fatalf("lock message %s", r.body)
		}
		// The right PIN is refused while locked, and the lock is logged.
		ps.mustDo(t, http.StatusForbidden, request{method: "POST", path: "/api/v1/portal/login",
			body: map[string]string{"card": ps.a.CardID, "pin": ps.a.PIN}})
		if !auditHas(t, ps.cardServer, canasta.AuditCardLock, "card", ps.a.CardID) {
			t.Fatal("no audit entry for the card lock")
		}
		ps.clock.Set(ps.clock.Now().Add(card.DefaultPINLock + 1))
		ps.login(t, ps.a)
	})
	t.Run("SessionEndsAtLogout", func(t *testing.T) {
		tok := ps.login(t, ps.b)
		ps.mustDo(t, http.StatusOK, request{method: "GET", path: "/api/v1/portal/me", token: tok})
		ps.mustDo(t, http.StatusNoContent, request{method: "POST", path: "/api/v1/portal/logout", token: tok})
		ps.mustDo(t, http.StatusUnauthorized, request{method: "GET", path: "/api/v1/portal/me", token: tok})
	})
	t.Run("StaffTokenIsNotASession", func(t *testing.T) {
		ps.mustDo(t, http.StatusUnauthorized, request{method: "GET", path: "/api/v1/portal/me", token: ps.admin})
		ps.mustDo(t, http.StatusUnauthorized, request{method: "GET", path: "/api/v1/portal/me"})
	})
}

// auditHas reports whether the log holds an entry of type t whose object
// key is value.
func auditHas(t *testing.T, cs *cardServer, typ canasta.AuditType, key, value string) bool {
	t.Helper()
	st := sqlite.NewAuditStore(cs.db)
	n, err := st.AuditSize(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	leaves, err := st.FindAuditLeaves(context.Background(), 0, n)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range leaves {
		e, err := audit.ParseLeaf(l)
		if err != nil {
			t.Fatal(err)
		}
		if e.Type == typ && e.Objects[key] == value {
			return true
		}
	}
	return false
}

func TestPortalOwnData(t *testing.T) {
	ps := newPortalServer(t)
	// A registrar reads A's record; an operator redeems with A's card and
	// B's card.
	ps.mustDo(t, http.StatusOK, request{method: "GET", path: "/api/v1/households/" + ps.l.household + "?purpose=eligibility-review", token: ps.registrar})
	ps.redeemWithCard(t, http.StatusCreated, "portal-a-1", ps.a.Code, ps.l.point, 500)
	runCycle(t, ps.testServer) // grants B, created after the first cycle
	ps.redeemWithCard(t, http.StatusCreated, "portal-b-1", ps.b.Code, ps.l.point, 100)
	tokA, tokB := ps.login(t, ps.a), ps.login(t, ps.b)
	var gB canasta.Grievance
	ps.mustDo(t, http.StatusCreated, request{method: "POST", path: "/api/v1/portal/grievances", token: tokB,
		body: map[string]string{"category": "wrong-data", "text": "My birth date is wrong."}}).decode(t, &gB)

	t.Run("Me", func(t *testing.T) {
		var h canasta.Household
		ps.mustDo(t, http.StatusOK, request{method: "GET", path: "/api/v1/portal/me", token: tokA}).decode(t, &h)
		if h.ID != ps.l.household || len(h.Members) == 0 {
			t.Fatalf("me = %+v", h)
		}
	})
	t.Run("EntitlementsWithExplanations", func(t *testing.T) {
		var es struct {
			HouseholdID  string `json:"household_id"`
			Entitlements []struct {
				ProgramID   int64  `json:"program_id"`
				Remaining   int64  `json:"remaining"`
				Explanation string `json:"explanation"`
			} `json:"entitlements"`
		}
		ps.mustDo(t, http.StatusOK, request{method: "GET", path: "/api/v1/portal/me/entitlements", token: tokA}).decode(t, &es)
		if es.HouseholdID != ps.l.household || len(es.Entitlements) != 2 {
			t.Fatalf("entitlements %+v", es)
		}
		for _, e := range es.Entitlements {
			if e.Explanation == "" {
				t.Fatalf("entitlement %+v has no explanation", e)
			}
			if e.ProgramID == ps.l.rice && e.Remaining != ps.l.riceGranted-500 {
				t.Fatalf("rice remaining %d", e.Remaining)
			}
		}
	})
	t.Run("ReceiptsWithInclusionProofs", func(t *testing.T) {
		var resp struct {
			Redemptions []struct {
				RequestID string `json:"request_id"`
				Audit     *struct {
					Index int64 `json:"index"`
				} `json:"audit"`
				Proof *struct {
					Index    int64    `json:"index"`
					Size     int64    `json:"size"`
					LeafHash []byte   `json:"leaf_hash"`
					Proof    [][]byte `json:"proof"`
				} `json:"proof"`
			} `json:"redemptions"`
		}
		ps.mustDo(t, http.StatusOK, request{method: "GET", path: "/api/v1/portal/me/redemptions", token: tokA}).decode(t, &resp)
		if len(resp.Redemptions) != 1 || resp.Redemptions[0].RequestID != "portal-a-1" {
			t.Fatalf("redemptions %+v", resp.Redemptions)
		}
		rc := resp.Redemptions[0]
		if rc.Audit == nil || rc.Proof == nil || rc.Proof.Index != rc.Audit.Index {
			t.Fatalf("receipt without audit entry or proof: %+v", rc)
		}
		// The proof checks against the published checkpoint's root.
		cp := ps.mustDo(t, http.StatusOK, request{method: "GET", path: "/api/v1/audit/checkpoint"})
		lines := strings.Split(string(cp.body), "\n")
		root, err := tlog.ParseHash(lines[2])
		if err != nil {
			t.Fatal(err)
		}
		proof := make(tlog.RecordProof, len(rc.Proof.Proof))
		for i, p := range rc.Proof.Proof {
			copy(proof[i][:], p)
		}
		var leaf tlog.Hash
		copy(leaf[:], rc.Proof.LeafHash)
		if err := tlog.CheckRecord(proof, rc.Proof.Size, root, rc.Proof.Index, leaf); err != nil {
			t.Fatalf("inclusion proof does not verify: %v", err)
		}
	})
	t.Run("AccessLogShowsTheRegistrarsRead", func(t *testing.T) {
		var resp struct {
			Events []canasta.AccessEvent `json:"events"`
		}
		ps.mustDo(t, http.StatusOK, request{method: "GET", path: "/api/v1/portal/me/access-log", token: tokA}).decode(t, &resp)
		found := false
		for _, e := range resp.Events {
			if e.HouseholdID != ps.l.household {
				t.Fatalf("access log shows another household's event %+v", e)
			}
			found = found || e.Role == canasta.RoleRegistrar && e.Purpose == canasta.PurposeEligibilityReview
		}
		if !found {
			t.Fatalf("registrar's read missing from %+v", resp.Events)
		}
	})
	t.Run("ExportIsSigned", func(t *testing.T) {
		var exp struct {
			Document  json.RawMessage `json:"document"`
			Signature struct {
				Alg   string `json:"alg"`
				Key   string `json:"key"`
				Value []byte `json:"value"`
			} `json:"signature"`
		}
		ps.mustDo(t, http.StatusOK, request{method: "GET", path: "/api/v1/portal/me/export", token: tokA}).decode(t, &exp)
		key := ps.mustDo(t, http.StatusOK, request{method: "GET", path: "/api/v1/audit/key"})
		if exp.Signature.Key != strings.TrimSpace(string(key.body)) {
			t.Fatalf("export signed with %q, the audit key is %q", exp.Signature.Key, key.body)
		}
		if err := audit.VerifyDocument(exp.Signature.Key, exp.Document, exp.Signature.Value); err != nil {
			t.Fatal(err)
		}
		tampered := []byte(strings.Replace(string(exp.Document), ps.l.household, ps.householdB, 1))
		if audit.VerifyDocument(exp.Signature.Key, tampered, exp.Signature.Value) == nil {
			t.Fatal("a tampered export verifies")
		}
		var doc map[string]json.RawMessage
		if err := json.Unmarshal(exp.Document, &doc); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"household", "entitlements", "redemptions", "access_log", "grievances"} {
			if doc[k] == nil {
				t.Fatalf("export lacks %s: %s", k, exp.Document)
			}
		}
		if strings.Contains(string(exp.Document), ps.householdB) {
			t.Fatal("export mentions another household")
		}
	})
	// Every route that takes an id answers 404 for another household's.
	t.Run("OtherHouseholdsIDsAreNotFound", func(t *testing.T) {
		for _, path := range []string{
			"/api/v1/portal/grievances/" + gB.ID,
			"/api/v1/portal/me/redemptions/portal-b-1",
			"/api/v1/portal/me/redemptions/no-such-request",
		} {
			ps.mustDo(t, http.StatusNotFound, request{method: "GET", path: path, token: tokA})
		}
		ps.mustDo(t, http.StatusOK, request{method: "GET", path: "/api/v1/portal/grievances/" + gB.ID, token: tokB})
		var list struct {
			Grievances []canasta.Grievance `json:"grievances"`
		}
		ps.mustDo(t, http.StatusOK, request{method: "GET", path: "/api/v1/portal/grievances", token: tokA}).decode(t, &list)
		if len(list.Grievances) != 0 {
			t.Fatalf("A sees grievances %+v", list.Grievances)
		}
	})
}

func TestPortalSeesCorrections(t *testing.T) {
	ps := newPortalServer(t)
	var h canasta.Household
	ps.mustDo(t, http.StatusOK, request{method: "GET", path: "/api/v1/households/" + ps.l.household + "?purpose=data-correction",
		token: ps.registrar}).decode(t, &h)
	h.MonthlyIncome = 1234
	body := map[string]any{"reason": "Grievance: income was entered wrongly.", "household": h}
	path := "/api/v1/households/" + ps.l.household + "/corrections"

	ps.mustDo(t, http.StatusBadRequest, request{method: "POST", path: path, token: ps.registrar, body: body})
	ps.mustDo(t, http.StatusForbidden, request{method: "POST", path: path + "?purpose=enrollment", token: ps.registrar, body: body})
	ps.mustDo(t, http.StatusForbidden, request{method: "POST", path: path + "?purpose=data-correction", token: ps.operator, body: body})
	var c canasta.Correction
	ps.mustDo(t, http.StatusCreated, request{method: "POST", path: path + "?purpose=data-correction", token: ps.registrar, body: body}).decode(t, &c)
	if len(c.Fields) != 1 || c.Fields[0] != "monthly_income" || c.Audit == nil {
		t.Fatalf("correction %+v", c)
	}

	tok := ps.login(t, ps.a)
	var seen struct {
		Corrections []canasta.Correction `json:"corrections"`
	}
	ps.mustDo(t, http.StatusOK, request{method: "GET", path: "/api/v1/portal/me/corrections", token: tok}).decode(t, &seen)
	if len(seen.Corrections) != 1 || seen.Corrections[0].Reason != c.Reason || seen.Corrections[0].Role != "registrar" {
		t.Fatalf("portal corrections %+v", seen.Corrections)
	}
	var me canasta.Household
	ps.mustDo(t, http.StatusOK, request{method: "GET", path: "/api/v1/portal/me", token: tok}).decode(t, &me)
	if me.MonthlyIncome != 1234 {
		t.Fatalf("portal shows income %d after the correction", me.MonthlyIncome)
	}
	// Household B sees none of A's corrections.
	ps.mustDo(t, http.StatusOK, request{method: "GET", path: "/api/v1/portal/me/corrections", token: ps.login(t, ps.b)}).decode(t, &seen)
	if len(seen.Corrections) != 0 {
		t.Fatalf("B sees %+v", seen.Corrections)
	}
}

// TestPortalNoticesAndContest checks a household learns of a confirmed
// merge of one of its members before it takes effect, contests it with a
// grievance naming the case, and cannot reach another household's case.
func TestPortalNoticesAndContest(t *testing.T) {
	ps := newPortalServer(t)
	ps.db.Dedup = dedup.NewMatcher()
	ps.DedupService = sqlite.NewDedupService(ps.db)
	enroll(t, ps.testServer) // the household the person is kept in
	merged := enroll(t, ps.testServer)
	caseID := merged.Duplicates[0].CaseID
	ps.mustDo(t, http.StatusOK, request{method: "POST", path: "/api/v1/dedup/cases/" + itoa(caseID) + "/confirm", token: ps.registrar,
		body: map[string]string{"note": "same person"}})
	var ic canasta.IssuedCard
	ps.mustDo(t, http.StatusCreated, request{method: "POST", path: "/api/v1/households/" + merged.ID + "/cards",
		token: ps.registrar}).decode(t, &ic)
	tok := ps.login(t, ic)

	var notices struct {
		Cases []canasta.DedupCase `json:"dedup_cases"`
	}
	ps.mustDo(t, http.StatusOK, request{method: "GET", path: "/api/v1/portal/me/notices", token: tok}).decode(t, &notices)
	var c *canasta.DedupCase
	for i := range notices.Cases {
		if notices.Cases[i].ID == caseID {
			c = &notices.Cases[i]
		}
	}
	if c == nil || c.Status != canasta.DedupCaseConfirmed || c.EffectiveAt == nil || c.HouseholdID != merged.ID {
		t.Fatalf("notices %+v: want confirmed case %d with its effective date", notices.Cases, caseID)
	}
	if c.KeepHouseholdID != "" || c.KeepPersonID != "" {
		t.Fatalf("notice shows the other household: %+v", *c)
	}

	// Another household cannot name the case.
	ps.mustDo(t, http.StatusNotFound, request{method: "POST", path: "/api/v1/portal/grievances", token: ps.login(t, ps.b),
		body: map[string]string{"category": "wrong-data", "text": "Not me.", "case": itoa(caseID)}})
	ps.mustDo(t, http.StatusCreated, request{method: "POST", path: "/api/v1/portal/grievances", token: tok,
		body: map[string]string{"category": "wrong-data", "text": "This is my sister, not me.", "case": itoa(caseID)}})
	ps.mustDo(t, http.StatusOK, request{method: "GET", path: "/api/v1/portal/me/notices", token: tok}).decode(t, &notices)
	for _, n := range notices.Cases {
		if n.ID == caseID && (n.Status != canasta.DedupCaseContested || n.GrievanceID == "") {
			t.Fatalf("after the grievance the case is %+v, want contested", n)
		}
	}
}
