package http_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/canasta/canasta"
	"github.com/canasta/canasta/dedup"
	"github.com/canasta/canasta/sqlite"
)

// enrolled is the enrollment response as a client reads it.
type enrolled struct {
	canasta.Household
	Duplicates []canasta.DuplicateCandidate `json:"duplicates"`
}

func newDedupServer(tb testing.TB) *testServer {
	ts := newTestServer(tb)
	ts.db.Dedup = dedup.NewMatcher()
	ts.DedupService = sqlite.NewDedupService(ts.db)
	return ts
}

func enroll(tb testing.TB, ts *testServer) enrolled {
	tb.Helper()
	var e enrolled
	ts.mustDo(tb, http.StatusCreated, request{method: "POST", path: "/api/v1/households", token: ts.admin,
		body: householdBody(nil)}).decode(tb, &e)
	return e
}

func TestEnrollmentListsDuplicates(t *testing.T) {
	ts := newDedupServer(t)
	first := enroll(t, ts)
	if first.Duplicates == nil || len(first.Duplicates) != 0 {
		t.Fatalf("first enrollment: duplicates = %+v, want an empty list", first.Duplicates)
	}
	second := enroll(t, ts)
	if len(second.Duplicates) != 2 {
		t.Fatalf("second enrollment: duplicates = %+v, want one per member", second.Duplicates)
	}
	for i, d := range second.Duplicates {
		if d.ForPersonID != second.Members[i].ID || d.PersonID != first.Members[i].ID || d.HouseholdID != first.ID {
			t.Errorf("candidate %d = %+v, want member %d of the first household", i, d, i)
		}
		if d.Score < canasta.ReviewThreshold || d.CaseID == 0 {
			t.Errorf("candidate %d = %+v, want a review case", i, d)
		}
	}
}

func TestDedupCaseRoutes(t *testing.T) {
	ts := newDedupServer(t)
	first := enroll(t, ts)
	second := enroll(t, ts)
	caseID := second.Duplicates[0].CaseID
	registrar := ts.token(t, canasta.RoleRegistrar)
	purpose := map[string]string{"Canasta-Purpose": string(canasta.PurposeDataCorrection)}
	casePath := "/api/v1/dedup/cases/" + itoa(caseID)

	t.Run("Roles", func(t *testing.T) {
		for _, role := range []canasta.Role{canasta.RoleOperator, canasta.RoleAuditor} {
			tok := ts.token(t, role)
			for _, req := range []request{
				{method: "GET", path: "/api/v1/dedup/cases", header: purpose},
				{method: "GET", path: casePath, header: purpose},
				{method: "POST", path: casePath + "/confirm"},
				{method: "POST", path: casePath + "/dismiss"},
				{method: "POST", path: casePath + "/undo"},
			} {
				req.token = tok
				if r := ts.do(t, req); r.status != http.StatusForbidden {
					t.Errorf("%s %s %s: status %d, want 403", role, req.method, req.path, r.status)
				}
			}
		}
	})

	t.Run("PurposeRequired", func(t *testing.T) {
		r := ts.do(t, request{method: "GET", path: "/api/v1/dedup/cases", token: registrar})
		if r.status != http.StatusBadRequest || r.errorCode(t) != canasta.EINVALID {
			t.Errorf("no purpose: status %d %s, want 400", r.status, r.body)
		}
		var cases []canasta.DedupCase
		ts.mustDo(t, http.StatusOK, request{method: "GET", path: "/api/v1/dedup/cases?status=open", token: registrar,
			header: purpose}).decode(t, &cases)
		if len(cases) != 2 {
			t.Fatalf("open cases = %+v, want 2", cases)
		}
		events, err := sqlite.NewAccessLogService(ts.db).FindAccessEvents(context.Background(), first.ID)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range events {
			if e.Action == "read-dedup-case" && e.Purpose == canasta.PurposeDataCorrection && e.Role == canasta.RoleRegistrar {
				n++
			}
		}
		if n != 2 {
			t.Errorf("first household's access log has %d case reads, want 2: %+v", n, events)
		}
	})

	t.Run("Decisions", func(t *testing.T) {
		var c canasta.DedupCase
		ts.mustDo(t, http.StatusOK, request{method: "POST", path: casePath + "/confirm", token: registrar,
			body: map[string]string{"note": "same person"}}).decode(t, &c)
		if c.Status != canasta.DedupCaseConfirmed || c.EffectiveAt == nil || !c.EffectiveAt.Equal(testNow.Add(canasta.DefaultAnswerWindow)) {
			t.Fatalf("confirmed = %+v", c)
		}
		if r := ts.do(t, request{method: "POST", path: casePath + "/dismiss", token: registrar}); r.status != http.StatusConflict {
			t.Errorf("dismiss a confirmed case: status %d, want 409", r.status)
		}
		ts.mustDo(t, http.StatusOK, request{method: "POST", path: casePath + "/undo", token: ts.admin}).decode(t, &c)
		if c.Status != canasta.DedupCaseUndone {
			t.Errorf("undone = %+v", c)
		}
		ts.mustDo(t, http.StatusOK, request{method: "GET", path: casePath, token: registrar, header: purpose}).decode(t, &c)
		if c.ID != caseID || c.Status != canasta.DedupCaseUndone || c.KeepHouseholdID != first.ID {
			t.Errorf("case = %+v", c)
		}
		if r := ts.do(t, request{method: "GET", path: "/api/v1/dedup/cases/99999", token: registrar, header: purpose}); r.status != http.StatusNotFound {
			t.Errorf("missing case: status %d, want 404", r.status)
		}
	})
}
