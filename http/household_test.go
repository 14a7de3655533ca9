package http_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/canasta/canasta"
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// householdBody returns a valid registration body with overrides applied.
func householdBody(overrides map[string]any) map[string]any {
	body := map[string]any{
		"address":        map[string]string{"line": "12 Calle Sol", "locality": "Cusco", "region": "north", "postcode": "08000"},
		"monthly_income": 90000,
		"members": []map[string]any{
			{"given_name": "Amaru", "family_name": "Quispe", "birth_date": "1980-04-02", "sex": "M", "relationship": "head", "disability": false},
			{"given_name": "Killa", "family_name": "Quispe", "birth_date": "2023", "sex": "F", "relationship": "child", "disability": false},
		},
	}
	maps.Copy(body, overrides)
	return body
}

func createHousehold(tb testing.TB, ts *testServer, overrides map[string]any) *canasta.Household {
	tb.Helper()
	var h canasta.Household
	ts.mustDo(tb, http.StatusCreated, request{method: "POST", path: "/api/v1/households", token: ts.admin,
		body: householdBody(overrides)}).decode(tb, &h)
	return &h
}

func createAttribute(tb testing.TB, ts *testServer, name, typ, appliesTo string) {
	tb.Helper()
	ts.mustDo(tb, http.StatusCreated, request{method: "POST", path: "/api/v1/attributes", token: ts.admin,
		body: map[string]string{"name": name, "type": typ, "applies_to": appliesTo, "purpose": "Sizes the grant to the household's need."}})
}

func createProgram(tb testing.TB, ts *testServer, name, commodity, unit, eligibility, quantity string) int64 {
	tb.Helper()
	var p canasta.Program
	ts.mustDo(tb, http.StatusCreated, request{method: "POST", path: "/api/v1/programs", token: ts.admin,
		body: map[string]any{"name": name, "commodity": map[string]string{"code": commodity, "unit": unit},
			"eligibility": eligibility, "quantity": quantity, "period": "monthly"}}).decode(tb, &p)
	if p.ID <= 0 {
		tb.Fatalf("program without id: %+v", p)
	}
	return p.ID
}

func createPoint(tb testing.TB, ts *testServer) int64 {
	tb.Helper()
	var p canasta.Point
	ts.mustDo(tb, http.StatusCreated, request{method: "POST", path: "/api/v1/points", token: ts.admin,
		body: map[string]string{"name": "Tienda Central", "kind": "shop", "region": "north"}}).decode(tb, &p)
	if p.ID <= 0 {
		tb.Fatalf("point without id: %+v", p)
	}
	return p.ID
}

func runCycle(tb testing.TB, ts *testServer) canasta.CycleSummary {
	tb.Helper()
	var sum canasta.CycleSummary
	ts.mustDo(tb, http.StatusOK, request{method: "POST", path: "/api/v1/cycles", token: ts.admin,
		body: map[string]string{"period": testPeriod}}).decode(tb, &sum)
	return sum
}

type entitlements struct {
	HouseholdID  string `json:"household_id"`
	Period       string `json:"period"`
	Entitlements []struct {
		ProgramID   int64  `json:"program_id"`
		Program     string `json:"program"`
		Commodity   string `json:"commodity"`
		Unit        string `json:"unit"`
		Granted     int64  `json:"granted"`
		Redeemed    int64  `json:"redeemed"`
		Remaining   int64  `json:"remaining"`
		Explanation string `json:"explanation"`
	} `json:"entitlements"`
}

func findEntitlements(tb testing.TB, ts *testServer, householdID, query string) entitlements {
	tb.Helper()
	var es entitlements
	ts.mustDo(tb, http.StatusOK, request{method: "GET", path: "/api/v1/households/" + householdID + "/entitlements" + query,
		token: ts.admin}).decode(tb, &es)
	return es
}

// remaining returns what is left of one program's grant.
func (es entitlements) remaining(tb testing.TB, programID int64) int64 {
	tb.Helper()
	for _, e := range es.Entitlements {
		if e.ProgramID == programID {
			return e.Remaining
		}
	}
	tb.Fatalf("no entitlement for program %d in %+v", programID, es)
	return 0
}

func TestCreateHousehold(t *testing.T) {
	ts := newTestServer(t)
	createAttribute(t, ts, "dependents", "int", "household")
	createAttribute(t, ts, "pregnant", "bool", "person")

	t.Run("Created", func(t *testing.T) {
		body := householdBody(map[string]any{"source_id": "SRC-1", "attributes": map[string]any{"dependents": 3}})
		body["members"].([]map[string]any)[0]["attributes"] = map[string]any{"pregnant": false}
		r := ts.mustDo(t, http.StatusCreated, request{method: "POST", path: "/api/v1/households", token: ts.admin, body: body})
		var h canasta.Household
		r.decode(t, &h)
		if !strings.HasPrefix(h.ID, canasta.HouseholdIDPrefix) || len(h.Members) != 2 {
			t.Fatalf("household = %s", r.body)
		}
		for _, m := range h.Members {
			if !strings.HasPrefix(m.ID, canasta.PersonIDPrefix) || m.HouseholdID != h.ID {
				t.Fatalf("member = %+v", m)
			}
		}
		if h.MonthlyIncome != 90000 || h.Attributes["dependents"] != float64(3) {
			t.Fatalf("household = %s", r.body)
		}
		if loc := r.header.Get("Location"); loc != "/api/v1/households/"+h.ID {
			t.Fatalf("Location = %q", loc)
		}
	})
	t.Run("IncomeOmittedIsUnknown", func(t *testing.T) {
		body := householdBody(nil)
		delete(body, "monthly_income")
		var h canasta.Household
		ts.mustDo(t, http.StatusCreated, request{method: "POST", path: "/api/v1/households", token: ts.admin, body: body}).decode(t, &h)
		if h.MonthlyIncome != canasta.UnknownIncome {
			t.Fatalf("monthly_income = %d, want %d", h.MonthlyIncome, canasta.UnknownIncome)
		}
	})
	t.Run("IncomeZeroIsZero", func(t *testing.T) {
		var h canasta.Household
		ts.mustDo(t, http.StatusCreated, request{method: "POST", path: "/api/v1/households", token: ts.admin,
			body: householdBody(map[string]any{"monthly_income": 0})}).decode(t, &h)
		if h.MonthlyIncome != 0 {
			t.Fatalf("monthly_income = %d, want 0", h.MonthlyIncome)
		}
	})
	t.Run("LargeIntAttributeExact", func(t *testing.T) {
		// 2^53+1 does not survive a float64; attributes must reach the
		// store as JSON numbers.
		body := `{"address":{"region":"north"},"attributes":{"dependents":9007199254740993},` +
			`"members":[{"given_name":"Amaru","relationship":"head"}]}`
		r := ts.mustDo(t, http.StatusCreated, request{method: "POST", path: "/api/v1/households", token: ts.admin, body: body})
		if !strings.Contains(string(r.body), `"dependents":9007199254740993`) {
			t.Fatalf("household = %s", r.body)
		}
	})
	t.Run("RegistrarMayCreate", func(t *testing.T) {
		ts.mustDo(t, http.StatusCreated, request{method: "POST", path: "/api/v1/households",
			token: ts.token(t, canasta.RoleRegistrar), body: householdBody(nil)})
	})

	for _, tt := range []struct {
		name string
		body map[string]any
		code string
		want string // in the message
	}{
		{"DuplicateSourceID", householdBody(map[string]any{"source_id": "SRC-1"}), canasta.ECONFLICT, ""},
		{"UndeclaredAttribute", householdBody(map[string]any{"attributes": map[string]any{"religion": "x"}}), canasta.EINVALID, "religion"},
		{"AttributeWrongType", householdBody(map[string]any{"attributes": map[string]any{"dependents": "three"}}), canasta.EINVALID, "dependents"},
		{"AttributeFraction", householdBody(map[string]any{"attributes": map[string]any{"dependents": 2.5}}), canasta.EINVALID, "dependents"},
		{"NoMembers", householdBody(map[string]any{"members": []any{}}), canasta.EINVALID, "member"},
		{"NoRegion", householdBody(map[string]any{"address": map[string]string{"line": "x"}}), canasta.EINVALID, "region"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.do(t, request{method: "POST", path: "/api/v1/households", token: ts.admin, body: tt.body})
			if code := r.errorCode(t); code != tt.code {
				t.Fatalf("code = %s, want %s: %s", code, tt.code, r.body)
			}
			if !strings.Contains(r.errorMessage(t), tt.want) {
				t.Fatalf("message %q does not mention %q", r.errorMessage(t), tt.want)
			}
		})
	}
}

func TestRequestBody(t *testing.T) {
	ts := newTestServer(t)
	valid, _ := json.Marshal(householdBody(nil))
	for _, tt := range []struct {
		name        string
		body        string
		contentType string
		want        string // in the message
	}{
		{"UnknownField", `{"name":"Rice","colour":"red"}`, "", `"colour"`},
		{"UnknownNestedField", strings.Replace(string(valid), `"line"`, `"street":"x","line"`, 1), "", `"street"`},
		{"MalformedJSON", `{"name": "Rice",`, "", "not valid JSON"},
		{"SyntaxError", `{"name" "Rice"}`, "", "not valid JSON"},
		{"TrailingData", `{"name":"Rice"} {"name":"Beans"}`, "", "nothing after it"},
		{"TrailingGarbage", `{"name":"Rice"}x`, "", "nothing after it"},
		{"WrongType", `{"name":42}`, "", `"name"`},
		{"NotAnObject", `[1,2,3]`, "", "JSON object"},
		{"Empty", ``, "", "empty"},
		{"TooLarge", `{"name":"` + strings.Repeat("a", 1<<20) + `"}`, "", "larger than"},
		{"FormBody", `name=Rice`, "application/x-www-form-urlencoded", "not valid JSON"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := request{method: "POST", path: "/api/v1/points", token: ts.admin, body: tt.body}
			if tt.name == "UnknownNestedField" {
				req.path = "/api/v1/households"
			}
			if tt.contentType != "" {
				req.header = map[string]string{"Content-Type": tt.contentType}
			}
			r := ts.mustDo(t, http.StatusBadRequest, req)
			if code := r.errorCode(t); code != canasta.EINVALID {
				t.Fatalf("code = %s", code)
			}
			if msg := r.errorMessage(t); !strings.Contains(msg, tt.want) {
				t.Fatalf("message %q does not mention %q", msg, tt.want)
			}
		})
	}
	t.Run("IncomeWrongType", func(t *testing.T) {
		r := ts.mustDo(t, http.StatusBadRequest, request{method: "POST", path: "/api/v1/households", token: ts.admin,
			body: householdBody(map[string]any{"monthly_income": "a lot"})})
		if msg := r.errorMessage(t); !strings.Contains(msg, "monthly_income") || !strings.Contains(msg, "whole number") {
			t.Fatalf("message = %q", msg)
		}
	})
	// None of the refused bodies created anything.
	var points struct{ Points []canasta.Point }
	ts.mustDo(t, http.StatusOK, request{method: "GET", path: "/api/v1/points", token: ts.admin}).decode(t, &points)
	if len(points.Points) != 0 {
		t.Fatalf("refused bodies created %d points", len(points.Points))
	}
}

func TestPurpose(t *testing.T) {
	ts := newTestServer(t)
	hh := createHousehold(t, ts, map[string]any{"source_id": "SRC-P-1"})
	auditor := ts.token(t, canasta.RoleAuditor)

	for _, tt := range []struct {
		name   string
		path   string
		header string
		want   int
	}{
		{"ByIDMissing", "/api/v1/households/" + hh.ID, "", http.StatusBadRequest},
		{"ByIDUnknownPurpose", "/api/v1/households/" + hh.ID + "?purpose=curiosity", "", http.StatusBadRequest},
		{"ByIDConflicting", "/api/v1/households/" + hh.ID + "?purpose=audit", "grievance", http.StatusBadRequest},
		{"ByIDQuery", "/api/v1/households/" + hh.ID + "?purpose=audit", "", http.StatusOK},
		{"ByIDHeader", "/api/v1/households/" + hh.ID, "eligibility-review", http.StatusOK},
		{"ByIDNotFound", "/api/v1/households/hh_nobody?purpose=audit", "", http.StatusNotFound},
		{"BySourceIDMissingPurpose", "/api/v1/households?source_id=SRC-P-1", "", http.StatusBadRequest},
		{"BySourceID", "/api/v1/households?source_id=SRC-P-1&purpose=grievance", "", http.StatusOK},
		{"BySourceIDNotFound", "/api/v1/households?source_id=SRC-NONE&purpose=grievance", "", http.StatusNotFound},
		{"WithoutSourceID", "/api/v1/households?purpose=grievance", "", http.StatusBadRequest},
		{"AccessLogMissingPurpose", "/api/v1/households/" + hh.ID + "/access-log", "", http.StatusBadRequest},
		{"EntitlementsBadPurpose", "/api/v1/households/" + hh.ID + "/entitlements?purpose=curiosity", "", http.StatusBadRequest},
		{"EntitlementsNoPurpose", "/api/v1/households/" + hh.ID + "/entitlements", "", http.StatusOK},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := request{method: "GET", path: tt.path, token: auditor}
			if tt.header != "" {
				req.header = map[string]string{"Canasta-Purpose": tt.header}
			}
			r := ts.mustDo(t, tt.want, req)
			switch {
			case tt.want != http.StatusOK:
				want := map[int]string{400: canasta.EINVALID, 404: canasta.ENOTFOUND}[tt.want]
				if code := r.errorCode(t); code != want {
					t.Fatalf("code = %s, want %s", code, want)
				}
			case !strings.Contains(tt.path, "/entitlements"):
				var h canasta.Household
				r.decode(t, &h)
				if h.ID != hh.ID || len(h.Members) != 2 {
					t.Fatalf("read household %s, want %q", r.body, hh.ID)
				}
			}
		})
	}

	t.Run("AccessLog", func(t *testing.T) {
		var log struct{ Events []canasta.AccessEvent }
		ts.mustDo(t, http.StatusOK, request{method: "GET", path: "/api/v1/households/" + hh.ID + "/access-log?purpose=audit",
			token: ts.admin}).decode(t, &log)
		got := map[canasta.Purpose]int{}
		for _, e := range log.Events {
			if e.HouseholdID != hh.ID {
				t.Errorf("event for another household: %+v", e)
			}
			if e.Action == "read-household" {
				if e.ActorName != "test auditor" || e.Role != canasta.RoleAuditor {
					t.Errorf("event = %+v", e)
				}
				got[e.Purpose]++
			}
		}
		// The three successful reads of the record, each with its purpose;
		// the refused ones left no row because they never reached the store.
		want := map[canasta.Purpose]int{canasta.PurposeAudit: 1, canasta.PurposeEligibilityReview: 1, canasta.PurposeGrievance: 1}
		if !maps.Equal(got, want) {
			t.Fatalf("read-household events by purpose = %v, want %v (all events %+v)", got, want, log.Events)
		}
	})
}
