package http_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/canasta/canasta"
	"github.com/canasta/canasta/sqlite"
)

const grievanceText = "El punto Sanmartín me negó el arroz"

// grievanceServer is a test server with grievances, one household and one
// grievance filed by it, and a token per staff role.
type grievanceServer struct {
	*testServer
	household string
	grievance *canasta.Grievance
	tokens    map[canasta.Role]string
}

func newGrievanceServer(t *testing.T) *grievanceServer {
	t.Helper()
	ts := newTestServer(t)
	ts.GrievanceService = sqlite.NewGrievanceService(ts.db)
	gs := &grievanceServer{testServer: ts, tokens: map[canasta.Role]string{canasta.RoleAdmin: ts.admin}}
	for _, role := range []canasta.Role{canasta.RoleRegistrar, canasta.RoleOperator, canasta.RoleAuditor} {
		gs.tokens[role] = ts.token(t, role)
	}
	gs.household = createHousehold(t, ts, nil).ID
	gs.grievance = gs.file(t)
	return gs
}

// file files a grievance as the person would through the portal.
func (gs *grievanceServer) file(t *testing.T) *canasta.Grievance {
	t.Helper()
	g, err := gs.GrievanceService.FileGrievance(context.Background(), gs.household, canasta.GrievanceRefusedAtPoint, grievanceText, "case-9")
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestGrievanceAccess(t *testing.T) {
	gs := newGrievanceServer(t)
	path := "/api/v1/grievances/" + gs.grievance.ID
	for _, tt := range []struct {
		name string
		role canasta.Role // "" for no token
		req  request
		want int
	}{
		{"AnonymousLists", "", request{method: "GET", path: "/api/v1/grievances"}, http.StatusUnauthorized},
		{"OperatorLists", canasta.RoleOperator, request{method: "GET", path: "/api/v1/grievances"}, http.StatusForbidden},
		{"OperatorReads", canasta.RoleOperator, request{method: "GET", path: path + "?purpose=grievance"}, http.StatusForbidden},
		{"OperatorAssigns", canasta.RoleOperator, request{method: "POST", path: path + "/assign", body: map[string]string{"assignee": "x"}}, http.StatusForbidden},
		{"OperatorAnswers", canasta.RoleOperator, request{method: "POST", path: path + "/answer", body: map[string]string{"text": "x"}}, http.StatusForbidden},
		{"OperatorCloses", canasta.RoleOperator, request{method: "POST", path: path + "/close"}, http.StatusForbidden},
		{"AuditorAssigns", canasta.RoleAuditor, request{method: "POST", path: path + "/assign", body: map[string]string{"assignee": "x"}}, http.StatusForbidden},
		{"AuditorAnswers", canasta.RoleAuditor, request{method: "POST", path: path + "/answer", body: map[string]string{"text": "x"}}, http.StatusForbidden},
		{"AuditorCloses", canasta.RoleAuditor, request{method: "POST", path: path + "/close"}, http.StatusForbidden},
		{"AuditorLists", canasta.RoleAuditor, request{method: "GET", path: "/api/v1/grievances"}, http.StatusOK},
		{"AuditorReads", canasta.RoleAuditor, request{method: "GET", path: path + "?purpose=audit"}, http.StatusOK},
		{"RegistrarLists", canasta.RoleRegistrar, request{method: "GET", path: "/api/v1/grievances"}, http.StatusOK},
		{"AdminReads", canasta.RoleAdmin, request{method: "GET", path: path, header: map[string]string{"Canasta-Purpose": "grievance"}}, http.StatusOK},
		{"RegistrarReadsWithoutPurpose", canasta.RoleRegistrar, request{method: "GET", path: path}, http.StatusBadRequest},
		{"RegistrarReadsUnknownPurpose", canasta.RoleRegistrar, request{method: "GET", path: path + "?purpose=curiosity"}, http.StatusBadRequest},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.token = gs.tokens[tt.role]
			r := gs.mustDo(t, tt.want, tt.req)
			if tt.want != http.StatusOK {
				r.errorCode(t)
			}
		})
	}
	// Nothing the refused calls asked for happened.
	g, err := gs.GrievanceService.FindGrievanceForHousehold(context.Background(), gs.household, gs.grievance.ID)
	if err != nil {
		t.Fatal(err)
	}
	if g.Status != canasta.GrievanceOpen || g.Assignee != "" || len(g.Messages) != 0 {
		t.Fatalf("refused steps changed the grievance: %+v", g)
	}
}

func TestGrievanceReadIsLogged(t *testing.T) {
	gs := newGrievanceServer(t)
	r := gs.mustDo(t, http.StatusOK, request{method: "GET", path: "/api/v1/grievances/" + gs.grievance.ID + "?purpose=grievance",
		token: gs.tokens[canasta.RoleRegistrar]})
	var body map[string]json.RawMessage
	r.decode(t, &body)
	for _, key := range []string{"id", "household_id", "category", "text", "status", "assignee", "case", "messages", "created_at", "updated_at", "closed_at"} {
		if _, ok := body[key]; !ok {
			t.Fatalf("no %q in %s", key, r.body)
		}
	}
	var g canasta.Grievance
	r.decode(t, &g)
	if g.Text != grievanceText || g.Case != "case-9" || g.HouseholdID != gs.household {
		t.Fatalf("grievance = %s", r.body)
	}
	events, err := sqlite.NewAccessLogService(gs.db).FindAccessEvents(context.Background(), gs.household)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].Action != "read-grievance" || events[0].Purpose != canasta.PurposeGrievance ||
		events[0].Role != canasta.RoleRegistrar {
		t.Fatalf("access events = %+v", events)
	}
	// A refused read is not served, so not logged.
	gs.mustDo(t, http.StatusBadRequest, request{method: "GET", path: "/api/v1/grievances/" + gs.grievance.ID, token: gs.tokens[canasta.RoleRegistrar]})
	gs.mustDo(t, http.StatusNotFound, request{method: "GET", path: "/api/v1/grievances/gr_nothing?purpose=grievance", token: gs.tokens[canasta.RoleRegistrar]})
	if events, _ := sqlite.NewAccessLogService(gs.db).FindAccessEvents(context.Background(), gs.household); len(events) != 1 {
		t.Fatalf("access events = %+v", events)
	}
}

func TestGrievanceList(t *testing.T) {
	gs := newGrievanceServer(t)
	registrar := gs.tokens[canasta.RoleRegistrar]
	for _, tt := range []struct {
		name, query string
		want        int
		status      int
	}{
		{"All", "", 1, http.StatusOK},
		{"Open", "?status=open", 1, http.StatusOK},
		{"Closed", "?status=closed", 0, http.StatusOK},
		{"Category", "?category=refused-at-point", 1, http.StatusOK},
		{"OtherCategory", "?category=other", 0, http.StatusOK},
		{"Limit", "?limit=1&offset=0", 1, http.StatusOK},
		{"Offset", "?offset=1", 0, http.StatusOK},
		{"UnknownStatus", "?status=pending", 0, http.StatusBadRequest},
		{"UnknownCategory", "?category=complaint", 0, http.StatusBadRequest},
		{"NegativeLimit", "?limit=-1", 0, http.StatusBadRequest},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := gs.mustDo(t, tt.status, request{method: "GET", path: "/api/v1/grievances" + tt.query, token: registrar})
			if tt.status != http.StatusOK {
				if code := r.errorCode(t); code != canasta.EINVALID {
					t.Fatalf("code = %s", code)
				}
				return
			}
			var list struct {
				Grievances []map[string]any `json:"grievances"`
			}
			r.decode(t, &list)
			if list.Grievances == nil || len(list.Grievances) != tt.want {
				t.Fatalf("list = %s", r.body)
			}
			if strings.Contains(string(r.body), "Sanmartín") {
				t.Fatalf("list shows the person's text: %s", r.body)
			}
			for _, g := range list.Grievances {
				if _, ok := g["text"]; ok {
					t.Fatalf("list item has text: %v", g)
				}
				if _, ok := g["messages"]; ok {
					t.Fatalf("list item has messages: %v", g)
				}
				if g["id"] != gs.grievance.ID || g["household_id"] != gs.household || g["status"] == "" {
					t.Fatalf("list item %v", g)
				}
			}
		})
	}
	// Listing reads no personal text and is not logged.
	if events, _ := sqlite.NewAccessLogService(gs.db).FindAccessEvents(context.Background(), gs.household); len(events) != 0 {
		t.Fatalf("access events = %+v", events)
	}
}

func TestGrievanceSteps(t *testing.T) {
	gs := newGrievanceServer(t)
	registrar := gs.tokens[canasta.RoleRegistrar]
	path := "/api/v1/grievances/" + gs.grievance.ID
	for _, tt := range []struct {
		name   string
		req    request
		want   int
		code   string
		status canasta.GrievanceStatus
	}{
		{"AssignEmpty", request{method: "POST", path: path + "/assign", body: map[string]string{"assignee": " "}}, http.StatusBadRequest, canasta.EINVALID, ""},
		{"AssignUnknownField", request{method: "POST", path: path + "/assign", body: map[string]string{"who": "Desk 1"}}, http.StatusBadRequest, canasta.EINVALID, ""},
		{"Assign", request{method: "POST", path: path + "/assign", body: map[string]string{"assignee": "Desk 1"}}, http.StatusOK, "", canasta.GrievanceAssigned},
		{"AnswerWithoutBody", request{method: "POST", path: path + "/answer"}, http.StatusBadRequest, canasta.EINVALID, ""},
		{"Answer", request{method: "POST", path: path + "/answer", body: map[string]string{"text": "We corrected your record."}}, http.StatusOK, "", canasta.GrievanceAnswered},
		{"AnswerAgain", request{method: "POST", path: path + "/answer", body: map[string]string{"text": "And restored the grant."}}, http.StatusOK, "", canasta.GrievanceAnswered},
		{"UnknownID", request{method: "POST", path: "/api/v1/grievances/gr_nothing/answer", body: map[string]string{"text": "x"}}, http.StatusNotFound, canasta.ENOTFOUND, ""},
		{"CloseWithoutBody", request{method: "POST", path: path + "/close"}, http.StatusOK, "", canasta.GrievanceClosed},
		{"CloseAgain", request{method: "POST", path: path + "/close", body: map[string]string{"text": "again"}}, http.StatusConflict, canasta.ECONFLICT, ""},
		{"AnswerClosed", request{method: "POST", path: path + "/answer", body: map[string]string{"text": "late"}}, http.StatusConflict, canasta.ECONFLICT, ""},
		{"AssignClosed", request{method: "POST", path: path + "/assign", body: map[string]string{"assignee": "Desk 2"}}, http.StatusConflict, canasta.ECONFLICT, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.token = registrar
			r := gs.mustDo(t, tt.want, tt.req)
			if tt.code != "" {
				if code := r.errorCode(t); code != tt.code {
					t.Fatalf("code = %s, want %s", code, tt.code)
				}
				return
			}
			var res map[string]any
			r.decode(t, &res)
			if res["id"] != gs.grievance.ID || res["status"] != string(tt.status) || res["assignee"] != "Desk 1" {
				t.Fatalf("step answered %s", r.body)
			}
			if strings.Contains(string(r.body), "Sanmartín") {
				t.Fatalf("step answer shows the person's text: %s", r.body)
			}
		})
	}
	// The person sees the status and both answers, from the registrar.
	g, err := gs.GrievanceService.FindGrievanceForHousehold(context.Background(), gs.household, gs.grievance.ID)
	if err != nil {
		t.Fatal(err)
	}
	if g.Status != canasta.GrievanceClosed || g.ClosedAt == nil || len(g.Messages) != 2 ||
		g.Messages[0].Text != "We corrected your record." || g.Messages[1].From != string(canasta.RoleRegistrar) {
		t.Fatalf("person sees %+v", g)
	}
}

func TestGrievancesNotServed(t *testing.T) {
	ts := newTestServer(t)
	r := ts.mustDo(t, http.StatusNotFound, request{method: "GET", path: "/api/v1/grievances", token: ts.admin})
	if code := r.errorCode(t); code != canasta.ENOTFOUND {
		t.Fatalf("code = %s", code)
	}
}
