package http_test

import (
	"net/http"
	"testing"

	"github.com/canasta/canasta"
)

// riceProposal is the body of a dry run of rice for everyone with a known
// income below 1,000,000, at 2500 g a member.
func riceProposal(extra map[string]any) map[string]any {
	body := map[string]any{
		"program": map[string]any{"name": "Rice for low incomes", "commodity": map[string]string{"code": "rice", "unit": "g"},
			"eligibility": "household.monthly_income >= 0 && household.monthly_income < 1000000", "quantity": "household.size * 2500", "period": "monthly"},
	}
	for k, v := range extra {
		body[k] = v
	}
	return body
}

func TestDryRunRoles(t *testing.T) {
	ts := newTestServer(t)
	l := newLedger(t, ts)
	path := "/api/v1/programs/" + itoa(l.rice) + "/dry-run"
	for _, tt := range []struct {
		name   string
		token  string
		status int
	}{
		{"Public", "", http.StatusUnauthorized},
		{"Operator", ts.token(t, canasta.RoleOperator), http.StatusForbidden},
		{"Registrar", ts.token(t, canasta.RoleRegistrar), http.StatusForbidden},
		{"Auditor", ts.token(t, canasta.RoleAuditor), http.StatusForbidden},
		{"Admin", ts.admin, http.StatusOK},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ts.mustDo(t, tt.status, request{method: "POST", path: path, token: tt.token, body: riceProposal(nil)})
		})
	}
}

func TestDryRun(t *testing.T) {
	ts := newTestServer(t)
	l := newLedger(t, ts)
	path := "/api/v1/programs/" + itoa(l.rice) + "/dry-run"
	// The ledger's first household (two members, income 90000) holds 4000 g
	// of rice; the second (income 500000) nothing. The proposal gives both
	// 5000 g.
	check := func(t *testing.T, res canasta.DryRun, baseline string) {
		t.Helper()
		if res.Baseline != baseline || res.Period != testPeriod || res.Households != 2 || res.Gain != 1 || res.Change != 1 ||
			len(res.Totals) != 1 || res.Totals[0].Before != 4000 || res.Totals[0].After != 10000 || len(res.Sample) != 2 {
			t.Fatalf("dry run %+v, want one gain and one change over the %s", res, baseline)
		}
		for _, s := range res.Sample {
			if (s.HouseholdID == l.household) != (s.Outcome == canasta.DryRunChange) || s.AfterExplanation == "" {
				t.Fatalf("sample %+v", s)
			}
		}
	}

	var res canasta.DryRun
	ts.mustDo(t, http.StatusOK, request{method: "POST", path: path, token: ts.admin,
		body: riceProposal(map[string]any{"unit_cost": map[string]int64{"minor": 3, "per": 2}})}).decode(t, &res)
	check(t, res, canasta.DryRunBaselineRule)
	if res.CostBefore == nil || *res.CostBefore != 6000 || *res.CostAfter != 15000 || *res.CostChange != 9000 {
		t.Fatalf("costs %v %v %v, want 6000, 15000, 9000", res.CostBefore, res.CostAfter, res.CostChange)
	}

	runCycle(t, ts)
	res = canasta.DryRun{}
	ts.mustDo(t, http.StatusOK, request{method: "POST", path: path, token: ts.admin,
		body: riceProposal(map[string]any{"period": testPeriod})}).decode(t, &res)
	check(t, res, canasta.DryRunBaselineGrants)
	if res.CostBefore != nil {
		t.Fatalf("costs without a unit cost: %v", *res.CostBefore)
	}

	t.Run("NothingPublished", func(t *testing.T) {
		var body struct{ Programs []canasta.Program }
		ts.mustDo(t, http.StatusOK, request{method: "GET", path: "/api/v1/programs"}).decode(t, &body)
		if len(body.Programs) != 2 {
			t.Fatalf("%d programs after dry runs, want the 2 created", len(body.Programs))
		}
	})

	for _, tt := range []struct {
		name   string
		path   string
		body   any
		status int
	}{
		{"UnknownProgram", "/api/v1/programs/999/dry-run", riceProposal(nil), http.StatusNotFound},
		{"NotAProgramID", "/api/v1/programs/rice/dry-run", riceProposal(nil), http.StatusNotFound},
		{"UnknownField", path, riceProposal(map[string]any{"budget": 5}), http.StatusBadRequest},
		{"NoProgram", path, map[string]any{"period": testPeriod}, http.StatusBadRequest},
		{"BadPeriod", path, riceProposal(map[string]any{"period": "December"}), http.StatusBadRequest},
		{"RuleDoesNotCompile", path, map[string]any{"program": map[string]any{"name": "Rice", "commodity": map[string]string{"code": "rice", "unit": "g"},
			"eligibility": "household.religion == 'x'", "quantity": "1", "period": "monthly"}}, http.StatusBadRequest},
		{"CostOfOtherCommodity", path, map[string]any{"program": map[string]any{"name": "Maize", "commodity": map[string]string{"code": "maize", "unit": "g"},
			"eligibility": "true", "quantity": "1", "period": "monthly"}, "unit_cost": map[string]int64{"minor": 1}}, http.StatusBadRequest},
		{"NotJSON", path, "{", http.StatusBadRequest},
	} {
		t.Run("Refuses"+tt.name, func(t *testing.T) {
			ts.mustDo(t, tt.status, request{method: "POST", path: tt.path, token: ts.admin, body: tt.body})
		})
	}
}
