package http_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/canasta/canasta"
)

// ledger is a household with grants from two programs, ready to redeem.
type ledger struct {
	household   string
	point       int64
	rice, milk  int64 // program ids
	riceGranted int64
	milkGranted int64
}

// newLedger registers a household of two with 3 dependents: rice is
// 2000 g per member, milk 500 ml per dependent.
func newLedger(tb testing.TB, ts *testServer) ledger {
	tb.Helper()
	createAttribute(tb, ts, "dependents", "int", "household")
	l := ledger{
		rice: createProgram(tb, ts, "Rice for low incomes", "rice", "g",
			"household.monthly_income >= 0 && household.monthly_income < 150000", "household.size * 2000"),
		milk: createProgram(tb, ts, "Milk for dependents", "milk", "ml",
			"household.attributes.dependents > 0", "household.attributes.dependents * 500"),
		point:       createPoint(tb, ts),
		riceGranted: 4000,
		milkGranted: 1500,
	}
	l.household = createHousehold(tb, ts, map[string]any{"attributes": map[string]any{"dependents": 3}}).ID
	// A household the rules refuse: income too high, no dependents.
	createHousehold(tb, ts, map[string]any{"monthly_income": 500000, "attributes": map[string]any{"dependents": 0}})
	return l
}

func (l ledger) redemption(requestID string, items ...[2]int64) map[string]any {
	var is []map[string]int64
	for _, it := range items {
		is = append(is, map[string]int64{"program_id": it[0], "quantity": it[1]})
	}
	return map[string]any{"request_id": requestID, "point_id": l.point, "household_id": l.household, "items": is}
}

func TestCycleAndEntitlements(t *testing.T) {
	ts := newTestServer(t)
	l := newLedger(t, ts)

	sum := runCycle(t, ts)
	if sum.Period != testPeriod || sum.Households != 2 || sum.Created != 2 || sum.Entitlements != 2 || sum.Errors != 0 {
		t.Fatalf("summary = %+v", sum)
	}
	if again := runCycle(t, ts); again.Created != 0 || again.Entitlements != 2 {
		t.Fatalf("second run = %+v, want nothing created", again)
	}

	for _, tt := range []struct {
		name, query string
	}{
		{"DefaultPeriod", ""},
		{"ExplicitPeriod", "?period=" + testPeriod},
		{"WithPurpose", "?period=" + testPeriod + "&purpose=redemption-support"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			es := findEntitlements(t, ts, l.household, tt.query)
			if es.HouseholdID != l.household || es.Period != testPeriod || len(es.Entitlements) != 2 {
				t.Fatalf("entitlements = %+v", es)
			}
			for _, e := range es.Entitlements {
				want := map[int64]int64{l.rice: l.riceGranted, l.milk: l.milkGranted}[e.ProgramID]
				if e.Granted != want || e.Remaining != want || e.Redeemed != 0 {
					t.Errorf("%s: granted %d remaining %d redeemed %d, want %d granted", e.Program, e.Granted, e.Remaining, e.Redeemed, want)
				}
				if e.Explanation == "" {
					t.Errorf("%s: no explanation", e.Program)
				}
			}
		})
	}
	t.Run("ExplanationShowsValues", func(t *testing.T) {
		es := findEntitlements(t, ts, l.household, "")
		for _, e := range es.Entitlements {
			if e.ProgramID == l.rice && !strings.Contains(e.Explanation, "90000") {
				t.Errorf("rice explanation %q does not show the income", e.Explanation)
			}
		}
	})
	t.Run("OtherPeriodEmpty", func(t *testing.T) {
		r := ts.mustDo(t, http.StatusOK, request{method: "GET", path: "/api/v1/households/" + l.household + "/entitlements?period=2027-01", token: ts.admin})
		if !strings.Contains(string(r.body), `"entitlements":[]`) {
			t.Fatalf("entitlements = %s", r.body)
		}
	})
	t.Run("BadPeriod", func(t *testing.T) {
		r := ts.mustDo(t, http.StatusBadRequest, request{method: "GET", path: "/api/v1/households/" + l.household + "/entitlements?period=2026-13", token: ts.admin})
		if r.errorCode(t) != canasta.EINVALID {
			t.Fatalf("body = %s", r.body)
		}
	})
	t.Run("UnknownHousehold", func(t *testing.T) {
		ts.mustDo(t, http.StatusNotFound, request{method: "GET", path: "/api/v1/households/hh_nobody/entitlements", token: ts.admin})
	})
	t.Run("BadCyclePeriod", func(t *testing.T) {
		ts.mustDo(t, http.StatusBadRequest, request{method: "POST", path: "/api/v1/cycles", token: ts.admin, body: map[string]string{"period": "December"}})
	})
}

func TestCreateProgramRefused(t *testing.T) {
	ts := newTestServer(t)
	for _, tt := range []struct {
		name, eligibility, quantity, want string
	}{
		{"UndeclaredAttribute", "household.attributes.religion == 'x'", "1000", "religion"},
		{"SyntaxError", "household.size >", "1000", "eligibility"},
		{"QuantityNotInt", "true", "'lots'", "quantity"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := ts.mustDo(t, http.StatusBadRequest, request{method: "POST", path: "/api/v1/programs", token: ts.admin,
				body: map[string]any{"name": "Bad", "commodity": map[string]string{"code": "rice", "unit": "g"},
					"eligibility": tt.eligibility, "quantity": tt.quantity, "period": "monthly"}})
			if r.errorCode(t) != canasta.EINVALID || !strings.Contains(r.errorMessage(t), tt.want) {
				t.Fatalf("body = %s, want EINVALID mentioning %q", r.body, tt.want)
			}
		})
	}
	ts.mustDo(t, http.StatusNotFound, request{method: "GET", path: "/api/v1/programs/1"})
	ts.mustDo(t, http.StatusNotFound, request{method: "GET", path: "/api/v1/programs/rice"})
}

func TestRedeem(t *testing.T) {
	ts := newTestServer(t)
	l := newLedger(t, ts)
	runCycle(t, ts)
	operator := ts.token(t, canasta.RoleOperator)
	redeem := func(t *testing.T, want int, body map[string]any) response {
		t.Helper()
		return ts.mustDo(t, want, request{method: "POST", path: "/api/v1/redemptions", token: operator, body: body})
	}

	t.Run("OverRedemptionDebitsNothing", func(t *testing.T) {
		r := redeem(t, http.StatusConflict, l.redemption("over-1", [2]int64{l.rice, 1000}, [2]int64{l.milk, l.milkGranted + 1}))
		if r.errorCode(t) != canasta.ECONFLICT {
			t.Fatalf("body = %s", r.body)
		}
		es := findEntitlements(t, ts, l.household, "")
		if es.remaining(t, l.rice) != l.riceGranted || es.remaining(t, l.milk) != l.milkGranted {
			t.Fatalf("a refused redemption debited: %+v", es)
		}
		ts.mustDo(t, http.StatusNotFound, request{method: "GET", path: "/api/v1/redemptions/over-1", token: operator})
	})

	var first canasta.Redemption
	body := l.redemption("req-1", [2]int64{l.rice, 1500}, [2]int64{l.milk, 500})
	t.Run("Created", func(t *testing.T) {
		redeem(t, http.StatusCreated, body).decode(t, &first)
		if first.ID <= 0 || first.RequestID != "req-1" || first.HouseholdID != l.household || first.PointID != l.point ||
			first.Period != testPeriod || len(first.Items) != 2 || first.CreatedAt.IsZero() {
			t.Fatalf("receipt = %+v", first)
		}
		left := map[int64]int64{}
		for _, it := range first.Items {
			left[it.ProgramID] = it.Remaining
		}
		if left[l.rice] != l.riceGranted-1500 || left[l.milk] != l.milkGranted-500 {
			t.Fatalf("receipt remaining = %v", left)
		}
	})
	t.Run("ReplaySameReceipt", func(t *testing.T) {
		r := redeem(t, http.StatusOK, body)
		var again canasta.Redemption
		r.decode(t, &again)
		if !sameJSON(t, first, again) {
			t.Fatalf("replay receipt %s differs from %+v", r.body, first)
		}
		es := findEntitlements(t, ts, l.household, "")
		if es.remaining(t, l.rice) != l.riceGranted-1500 {
			t.Fatalf("replay debited again: %+v", es)
		}
	})
	t.Run("SameRequestIDDifferentBody", func(t *testing.T) {
		r := redeem(t, http.StatusConflict, l.redemption("req-1", [2]int64{l.rice, 1}))
		if r.errorCode(t) != canasta.ECONFLICT {
			t.Fatalf("body = %s", r.body)
		}
	})
	t.Run("FindReceipt", func(t *testing.T) {
		var got canasta.Redemption
		ts.mustDo(t, http.StatusOK, request{method: "GET", path: "/api/v1/redemptions/req-1", token: ts.token(t, canasta.RoleAuditor)}).decode(t, &got)
		if !sameJSON(t, first, got) {
			t.Fatalf("found receipt %+v, want %+v", got, first)
		}
		ts.mustDo(t, http.StatusNotFound, request{method: "GET", path: "/api/v1/redemptions/req-none", token: operator})
	})
	for _, tt := range []struct {
		name string
		body map[string]any
		want int
	}{
		{"UnknownHousehold", map[string]any{"request_id": "x-1", "point_id": l.point, "household_id": "hh_nobody",
			"items": []map[string]int64{{"program_id": l.rice, "quantity": 1}}}, http.StatusNotFound},
		{"UnknownPoint", map[string]any{"request_id": "x-2", "point_id": 999, "household_id": l.household,
			"items": []map[string]int64{{"program_id": l.rice, "quantity": 1}}}, http.StatusNotFound},
		{"NoItems", l.redemption("x-3"), http.StatusBadRequest},
		{"ZeroQuantity", l.redemption("x-4", [2]int64{l.rice, 0}), http.StatusBadRequest},
		{"RemainingIsNotInput", map[string]any{"request_id": "x-5", "point_id": l.point, "household_id": l.household,
			"items": []map[string]int64{{"program_id": l.rice, "quantity": 1, "remaining": 99}}}, http.StatusBadRequest},
	} {
		t.Run(tt.name, func(t *testing.T) {
			redeem(t, tt.want, tt.body)
		})
	}
}

// sameJSON compares two values by their JSON encoding, which is what a
// client sees.
func sameJSON(tb testing.TB, a, b any) bool {
	tb.Helper()
	ja, err := json.Marshal(a)
	if err != nil {
		tb.Fatal(err)
	}
	jb, err := json.Marshal(b)
	if err != nil {
		tb.Fatal(err)
	}
	return bytes.Equal(ja, jb)
}

func TestConcurrentRedemptions(t *testing.T) {
	ts := newTestServer(t)
	l := newLedger(t, ts)
	runCycle(t, ts)
	operator := ts.token(t, canasta.RoleOperator)

	// 50 requests of 300 g against 4000 g: 13 fit, 37 must be refused.
	const workers, each = 50, 300
	statuses := make([]int, workers)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			r := ts.do(t, request{method: "POST", path: "/api/v1/redemptions", token: operator,
				body: l.redemption(fmt.Sprintf("conc-%d", i), [2]int64{l.rice, each})})
			statuses[i] = r.status
		})
	}
	wg.Wait()

	var created int64
	for i, s := range statuses {
		switch s {
		case http.StatusCreated:
			created++
		case http.StatusConflict:
		default:
			t.Errorf("request %d: status %d", i, s)
		}
	}
	es := findEntitlements(t, ts, l.household, "")
	var rice struct{ granted, redeemed, remaining int64 }
	for _, e := range es.Entitlements {
		if e.ProgramID == l.rice {
			rice.granted, rice.redeemed, rice.remaining = e.Granted, e.Redeemed, e.Remaining
		}
	}
	if rice.remaining < 0 || rice.redeemed != created*each || rice.granted-rice.redeemed != rice.remaining {
		t.Fatalf("%d requests succeeded (%d g) but the ledger says granted %d redeemed %d remaining %d",
			created, created*each, rice.granted, rice.redeemed, rice.remaining)
	}
	if want := l.riceGranted / each; created != want {
		t.Fatalf("%d redemptions succeeded, want %d (all that fit)", created, want)
	}
}

// BenchmarkRedeemHTTP measures redemptions through the loopback API:
// decoding, authentication against the store, the ledger transaction with
// its durable commit, and the response.
func BenchmarkRedeemHTTP(b *testing.B) {
	ts := newTestServer(b)
	ts.Logger = slog.New(slog.DiscardHandler)
	// A grant large enough for any b.N.
	rice := createProgram(b, ts, "Rice", "rice", "g", "true", "1000000000000")
	l := ledger{household: createHousehold(b, ts, nil).ID, point: createPoint(b, ts), rice: rice}
	runCycle(b, ts)
	operator := ts.token(b, canasta.RoleOperator)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var seq atomic.Int64

	redeem := func(b *testing.B) {
		buf, err := json.Marshal(l.redemption(fmt.Sprintf("bench-%d", seq.Add(1)), [2]int64{rice, 1}))
		if err != nil {
			b.Fatal(err)
		}
		req, err := http.NewRequest("POST", ts.URL()+"/api/v1/redemptions", bytes.NewReader(buf))
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+operator)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	b.Run("Sequential", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			redeem(b)
		}
	})
	b.Run("Parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				redeem(b)
			}
		})
	})
}
