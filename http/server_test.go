package http_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canasta/canasta"
	canastahttp "github.com/canasta/canasta/http"
	"github.com/canasta/canasta/rules"
	"github.com/canasta/canasta/sqlite"
)

// testNow is inside period 2026-12, the period the tests run cycles for.
var testNow = time.Date(2026, 12, 10, 12, 0, 0, 0, time.UTC)

const testPeriod = "2026-12"

// testServer is a real server on a loopback port over a real store.
type testServer struct {
	*canastahttp.Server
	db    *sqlite.DB
	logs  *syncBuffer
	admin string // secret of an admin token
}

func newTestServer(tb testing.TB) *testServer {
	tb.Helper()
	db := sqlite.NewDB(filepath.Join(tb.TempDir(), "canasta.db"))
	db.Now = func() time.Time { return testNow }
	db.Rules = rules.NewEngine()
	db.Logger = slog.New(slog.DiscardHandler)
	if err := db.Open(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })

	logs := &syncBuffer{}
	s := canastahttp.NewServer()
	s.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	s.Now = func() time.Time { return testNow }
	s.HouseholdService = sqlite.NewHouseholdService(db)
	s.AttributeService = sqlite.NewAttributeService(db)
	s.ProgramService = sqlite.NewProgramService(db)
	s.PointService = sqlite.NewPointService(db)
	s.CycleService = sqlite.NewCycleService(db)
	s.EntitlementService = sqlite.NewEntitlementService(db)
	s.RedemptionService = sqlite.NewRedemptionService(db)
	s.TokenService = sqlite.NewTokenService(db)
	s.AccessLogService = sqlite.NewAccessLogService(db)
	s.DryRunService = sqlite.NewDryRunService(db)
	s.ReportService = sqlite.NewReportService(db)
	if err := s.Open(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Error(err)
		}
	})
	ts := &testServer{Server: s, db: db, logs: logs}
	ts.admin = ts.token(tb, canasta.RoleAdmin)
	return ts
}

// token creates a token directly in the store and returns its secret.
func (ts *testServer) token(tb testing.TB, role canasta.Role) string {
	tb.Helper()
	_, secret, err := sqlite.NewTokenService(ts.db).CreateToken(context.Background(), role, "test "+string(role))
	if err != nil {
		tb.Fatal(err)
	}
	return secret
}

// response is what a test sees of an HTTP exchange.
type response struct {
	status int
	header http.Header
	body   []byte
}

// decode unmarshals the body into v, failing the test if it is not JSON.
func (r response) decode(tb testing.TB, v any) {
	tb.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		tb.Fatalf("response %d is not JSON: %v: %s", r.status, err, r.body)
	}
}

// errorCode returns the code of an error response, failing if the body is
// not the error shape.
func (r response) errorCode(tb testing.TB) string {
	tb.Helper()
	var e canastahttp.ErrorResponse
	r.decode(tb, &e)
	if e.Error.Code == "" || e.Error.Message == "" {
		tb.Fatalf("not an error body: %s", r.body)
	}
	return e.Error.Code
}

func (r response) errorMessage(tb testing.TB) string {
	tb.Helper()
	var e canastahttp.ErrorResponse
	r.decode(tb, &e)
	return e.Error.Message
}

// request is one call to the API. body is sent as is if it is a string,
// otherwise encoded as JSON.
type request struct {
	method, path string
	token        string
	body         any
	header       map[string]string
}

func (ts *testServer) do(tb testing.TB, req request) response {
	tb.Helper()
	var body io.Reader
	switch b := req.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			tb.Fatal(err)
		}
		body = bytes.NewReader(buf)
	}
	hr, err := http.NewRequest(req.method, ts.URL()+req.path, body)
	if err != nil {
		tb.Fatal(err)
	}
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if req.token != "" {
		hr.Header.Set("Authorization", "Bearer "+req.token)
	}
	for k, v := range req.header {
		hr.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// mustDo is do that fails the test unless the status is want.
func (ts *testServer) mustDo(tb testing.TB, want int, req request) response {
	tb.Helper()
	r := ts.do(tb, req)
	if r.status != want {
		tb.Fatalf("%s %s: status %d, want %d: %s", req.method, req.path, r.status, want, r.body)
	}
	return r
}

// syncBuffer collects log output written from many handlers at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lines returns the JSON log records written so far.
func (b *syncBuffer) lines(tb testing.TB) []map[string]any {
	tb.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			tb.Fatalf("log line is not JSON: %q", l)
		}
		out = append(out, m)
	}
	return out
}

func TestHealthz(t *testing.T) {
	ts := newTestServer(t)
	r := ts.mustDo(t, http.StatusOK, request{method: "GET", path: "/healthz"})
	var got map[string]string
	r.decode(t, &got)
	if got["status"] != "ok" || len(got) != 1 {
		t.Fatalf("healthz = %s", r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type = %q", ct)
	}
}

func TestErrorStatusCode(t *testing.T) {
	for _, tt := range []struct {
		code string
		want int
	}{
		{canasta.ENOTFOUND, 404},
		{canasta.EINVALID, 400},
		{canasta.EUNAUTHORIZED, 401},
		{canasta.EFORBIDDEN, 403},
		{canasta.ECONFLICT, 409},
		{canasta.EINTERNAL, 500},
		{"EUNKNOWN", 500},
	} {
		t.Run(tt.code, func(t *testing.T) {
			if got := canastahttp.ErrorStatusCode(tt.code); got != tt.want {
				t.Fatalf("ErrorStatusCode(%s) = %d, want %d", tt.code, got, tt.want)
			}
		})
	}
}

func TestAuthentication(t *testing.T) {
	ts := newTestServer(t)
	for _, tt := range []struct {
		name   string
		header string
		want   int
	}{
		{"Missing", "", http.StatusUnauthorized},
		{"UnknownToken", "Bearer cnst_notatoken", http.StatusUnauthorized},
		{"WrongScheme", "Basic " + ts.admin, http.StatusUnauthorized},
		{"EmptyBearer", "Bearer ", http.StatusUnauthorized},
		{"Valid", "Bearer " + ts.admin, http.StatusOK},
		{"SchemeCaseInsensitive", "bearer " + ts.admin, http.StatusOK},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := request{method: "GET", path: "/api/v1/points"}
			if tt.header != "" {
				req.header = map[string]string{"Authorization": tt.header}
			}
			r := ts.mustDo(t, tt.want, req)
			if tt.want == http.StatusUnauthorized {
				if code := r.errorCode(t); code != canasta.EUNAUTHORIZED {
					t.Fatalf("code = %s", code)
				}
				if r.header.Get("WWW-Authenticate") == "" {
					t.Fatal("401 without WWW-Authenticate")
				}
			}
		})
	}
}

func TestForbidden(t *testing.T) {
	ts := newTestServer(t)
	operator := ts.token(t, canasta.RoleOperator)
	registrar := ts.token(t, canasta.RoleRegistrar)
	auditor := ts.token(t, canasta.RoleAuditor)
	for _, tt := range []struct {
		name  string
		token string
		req   request
	}{
		{"OperatorCreatesProgram", operator, request{method: "POST", path: "/api/v1/programs",
			body: map[string]any{"name": "Rice", "commodity": map[string]string{"code": "rice", "unit": "g"},
				"eligibility": "true", "quantity": "1000", "period": "monthly"}}},
		{"RegistrarRedeems", registrar, request{method: "POST", path: "/api/v1/redemptions",
			body: map[string]any{"request_id": "r1", "point_id": 1, "household_id": "hh_x",
				"items": []map[string]any{{"program_id": 1, "quantity": 1}}}}},
		{"AuditorCreatesHousehold", auditor, request{method: "POST", path: "/api/v1/households", body: map[string]any{}}},
		{"OperatorReadsHousehold", operator, request{method: "GET", path: "/api/v1/households/hh_x?purpose=audit"}},
		{"RegistrarReadsAccessLog", registrar, request{method: "GET", path: "/api/v1/households/hh_x/access-log?purpose=audit"}},
		{"OperatorListsTokens", operator, request{method: "GET", path: "/api/v1/tokens"}},
		{"AuditorRunsCycle", auditor, request{method: "POST", path: "/api/v1/cycles", body: map[string]string{"period": testPeriod}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.token = tt.token
			r := ts.mustDo(t, http.StatusForbidden, tt.req)
			if code := r.errorCode(t); code != canasta.EFORBIDDEN {
				t.Fatalf("code = %s", code)
			}
		})
	}
	// Nothing the forbidden calls asked for happened.
	var programs struct{ Programs []canasta.Program }
	ts.mustDo(t, http.StatusOK, request{method: "GET", path: "/api/v1/programs"}).decode(t, &programs)
	if len(programs.Programs) != 0 {
		t.Fatalf("forbidden POST created %d programs", len(programs.Programs))
	}
}

func TestPublicRoutes(t *testing.T) {
	ts := newTestServer(t)
	id := createProgram(t, ts, "Rice", "rice", "g", "true", "1000")
	for _, tt := range []struct {
		name, path, key string
	}{
		{"Attributes", "/api/v1/attributes", "attributes"},
		{"Programs", "/api/v1/programs", "programs"},
		{"Program", "/api/v1/programs/" + itoa(id), "name"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.mustDo(t, http.StatusOK, request{method: "GET", path: tt.path})
			var m map[string]json.RawMessage
			r.decode(t, &m)
			if _, ok := m[tt.key]; !ok {
				t.Fatalf("no %q in %s", tt.key, r.body)
			}
		})
	}
	// Lists are [] when empty, never null.
	r := ts.mustDo(t, http.StatusOK, request{method: "GET", path: "/api/v1/attributes"})
	if !strings.Contains(string(r.body), `"attributes":[]`) {
		t.Fatalf("empty attribute list = %s", r.body)
	}
}

func TestDefaultDeny(t *testing.T) {
	ts := newTestServer(t)
	for _, tt := range []struct {
		name, method, path string
	}{
		{"UnknownPath", "GET", "/api/v1/nothing"},
		{"UnlistedMethodOnListedPath", "DELETE", "/api/v1/programs"},
		{"PutHousehold", "PUT", "/api/v1/households/hh_abc"},
		{"GetCycles", "GET", "/api/v1/cycles"},
		{"PostHealthz", "POST", "/healthz"},
		{"Root", "GET", "/"},
		{"TrailingSlash", "GET", "/api/v1/households/"},
		{"RevokeByGet", "GET", "/api/v1/tokens/1/revoke"},
	} {
		for _, auth := range []string{"", ts.admin} {
			name := tt.name + "/Anonymous"
			if auth != "" {
				name = tt.name + "/Admin"
			}
			t.Run(name, func(t *testing.T) {
				r := ts.mustDo(t, http.StatusNotFound, request{method: tt.method, path: tt.path, token: auth})
				if code := r.errorCode(t); code != canasta.ENOTFOUND {
					t.Fatalf("code = %s", code)
				}
			})
		}
	}
}

func TestRequestIDAndAccessLog(t *testing.T) {
	ts := newTestServer(t)
	hh := createHousehold(t, ts, map[string]any{"source_id": "SRC-LOG-1"})
	r1 := ts.mustDo(t, http.StatusOK, request{method: "GET", path: "/api/v1/households/" + hh.ID + "?purpose=grievance", token: ts.admin})
	r2 := ts.mustDo(t, http.StatusOK, request{method: "GET", path: "/healthz"})
	id1, id2 := r1.header.Get(canastahttp.RequestIDHeader), r2.header.Get(canastahttp.RequestIDHeader)
	if id1 == "" || id2 == "" || id1 == id2 {
		t.Fatalf("request ids %q and %q: want two distinct ids", id1, id2)
	}

	var found bool
	for _, l := range ts.logs.lines(t) {
		if l["request_id"] == nil || l["request_id"] == "" {
			t.Errorf("log line without request id: %v", l)
		}
		if l["request_id"] == id1 && l["msg"] == "request" {
			found = true
			if l["route"] != "GET /api/v1/households/{id}" || l["method"] != "GET" || l["status"] != float64(200) || l["duration"] == nil {
				t.Errorf("access log line = %v", l)
			}
		}
	}
	if !found {
		t.Fatalf("no access log line for request %s", id1)
	}
	logs := ts.logs.String()
	for _, secret := range []string{hh.ID, "grievance", "SRC-LOG-1", "Amaru", ts.admin} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain %q", secret)
		}
	}
}

// failingPoints is a PointService whose failures are chosen by the test, to
// reach the server's internal-error and panic paths.
type failingPoints struct {
	canasta.PointService
	panics bool
	err    error
}

func (f failingPoints) FindPoints(ctx context.Context) ([]*canasta.Point, error) {
	if f.panics {
		panic("point index corrupted")
	}
	return nil, f.err
}

func TestInternalErrors(t *testing.T) {
	for _, tt := range []struct {
		name    string
		panics  bool
		err     error
		cause   string
		status  int
		message string
	}{
		{"Error", false, errors.New("disk on fire"), "disk on fire", http.StatusInternalServerError, "Internal error."},
		{"Panic", true, nil, "point index corrupted", http.StatusInternalServerError, "Internal error."},
		{"Unavailable", false, fmt.Errorf("find points: %w: %w", canasta.ErrUnavailable, errors.New("dial 10.0.0.7:5432: connection refused")),
			"connection refused", http.StatusServiceUnavailable, "The service is temporarily unavailable. Try again shortly."},
		{"UnavailableApplicationError", false, fmt.Errorf("%w: %w", canasta.ErrUnavailable, canasta.Errorf(canasta.ENOTFOUND, "Point 7 not found.")),
			"", http.StatusNotFound, "Point 7 not found."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t)
			ts.PointService = failingPoints{panics: tt.panics, err: tt.err}
			r := ts.mustDo(t, tt.status, request{method: "GET", path: "/api/v1/points", token: ts.admin})
			wantCode := canasta.EINTERNAL
			if tt.status == http.StatusNotFound {
				wantCode = canasta.ENOTFOUND
			}
			if code, msg := r.errorCode(t), r.errorMessage(t); code != wantCode || msg != tt.message {
				t.Fatalf("got %s %q, want %s %q", code, msg, wantCode, tt.message)
			}
			if tt.cause == "" {
				return
			}
			if tt.status == http.StatusServiceUnavailable && r.header.Get("Retry-After") == "" {
				t.Fatal("503 without Retry-After")
			}
			if strings.Contains(string(r.body), tt.cause) {
				t.Fatalf("response leaks the cause: %s", r.body)
			}
			reqID := r.header.Get(canastahttp.RequestIDHeader)
			var logged bool
			for _, l := range ts.logs.lines(t) {
				if l["request_id"] == reqID && strings.Contains(fmt.Sprint(l["err"], l["panic"]), tt.cause) {
					logged = true
				}
			}
			if !logged {
				t.Fatalf("cause %q not logged with request id %s:\n%s", tt.cause, reqID, ts.logs.String())
			}
			// The server keeps serving after a panic.
			ts.mustDo(t, http.StatusOK, request{method: "GET", path: "/healthz"})
		})
	}
}

func TestOpenClose(t *testing.T) {
	s := canastahttp.NewServer()
	if s.URL() != "" {
		t.Fatalf("URL before Open = %q", s.URL())
	}
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.URL(), "http://127.0.0.1:") || strings.HasSuffix(s.URL(), ":0") {
		t.Fatalf("URL = %q", s.URL())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(s.URL() + "/healthz"); err == nil {
		t.Fatal("server still answers after Close")
	}
}
