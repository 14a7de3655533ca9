package main

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canasta/canasta"
	chttp "github.com/canasta/canasta/http"
	"github.com/canasta/canasta/postgres/pgtest"
)

// createAdminToken runs `canasta token create` against the database and
// returns the secret, the last line of its output.
func createAdminToken(tb testing.TB, dbURL string) string {
	tb.Helper()
	out, err := command(tb, "token", "create", "--db", dbURL, "--role", "admin", "--name", "ops").Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		tb.Fatalf("token create: %v\n%s", err, stderr)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1]
}

// TestServe_SeveralServersOneDatabase runs two `canasta serve` processes
// on one PostgreSQL database and sends every redemption to both at once,
// so each request id reaches both servers concurrently, until the grants
// run out. No request id takes effect twice, no balance goes below zero
// or disagrees with the receipts, and the two servers report the same
// balances.
func TestServe_SeveralServersOneDatabase(t *testing.T) {
	dbURL := pgtest.SchemaURL(t)
	secret := createAdminToken(t, dbURL)
	servers := []*serverProcess{startServer(t, "--db", dbURL), startServer(t, "--db", dbURL)}
	a, b := newAPIClient(servers[0].URL, secret), newAPIClient(servers[1].URL, secret)

	// The registry goes in through one server, the cycle through the other.
	const households, grant, quantity = 4, 1000, 7
	var program canasta.Program
	a.must(t, http.StatusCreated, "POST", "/api/v1/programs", map[string]any{"name": "Rice",
		"commodity": map[string]string{"code": "rice", "unit": "g"}, "eligibility": "true", "quantity": fmt.Sprint(grant), "period": "monthly"}, &program)
	var point canasta.Point
	a.must(t, http.StatusCreated, "POST", "/api/v1/points", map[string]any{"name": "Shop", "kind": "shop", "region": "Norte"}, &point)
	ids := make([]string, households)
	for i := range ids {
		var h canasta.Household
		a.must(t, http.StatusCreated, "POST", "/api/v1/households", map[string]any{
			"source_id": fmt.Sprintf("H%d", i), "address": map[string]string{"region": "Norte"}, "monthly_income": 0,
			"members": []map[string]any{{"given_name": "Ana", "family_name": fmt.Sprint("Family", i), "relationship": "head"}},
		}, &h)
		ids[i] = h.ID
	}
	period := canasta.PeriodOf(time.Now())
	var sum canasta.CycleSummary
	b.must(t, http.StatusOK, "POST", "/api/v1/cycles", map[string]string{"period": string(period)}, &sum)
	if sum.Created != households {
		t.Fatalf("cycle %+v, want %d grants", sum, households)
	}

	// Each request goes to both servers at the same moment.
	const perHousehold = grant/quantity + 8 // more than the grants allow
	type outcome struct {
		status  int
		receipt canasta.Redemption
	}
	results := make(map[string][2]outcome)
	var mu sync.Mutex
	work := make(chan canasta.RedemptionRequest)
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			for req := range work {
				body := map[string]any{"request_id": req.RequestID, "point_id": req.PointID, "household_id": req.HouseholdID,
					"items": []map[string]any{{"program_id": program.ID, "quantity": quantity}}}
				var pair [2]outcome
				var both sync.WaitGroup
				for i, c := range []*apiClient{a, b} {
					both.Go(func() {
						status, err := c.do(context.Background(), "POST", "/api/v1/redemptions", body, &pair[i].receipt)
						if err != nil {
							t.Errorf("redeem %s on server %d: %v", req.RequestID, i, err)
						}
						pair[i].status = status
					})
				}
				both.Wait()
				mu.Lock()
				results[req.RequestID] = pair
				mu.Unlock()
			}
		})
	}
	for n := range perHousehold {
		for h, id := range ids {
			work <- canasta.RedemptionRequest{RequestID: fmt.Sprintf("h%d-r%d", h, n), PointID: point.ID, HouseholdID: id}
		}
	}
	close(work)
	wg.Wait()

	redeemed := make(map[string]int64)
	for reqID, pair := range results {
		s0, s1 := pair[0].status, pair[1].status
		switch {
		case s0 == http.StatusCreated && s1 == http.StatusCreated:
			t.Fatalf("request %s took effect on both servers: receipts %d and %d", reqID, pair[0].receipt.ID, pair[1].receipt.ID)
		case s0 == http.StatusCreated || s1 == http.StatusCreated:
			if (s0 != http.StatusOK && s1 != http.StatusOK) || !reflect.DeepEqual(pair[0].receipt, pair[1].receipt) {
				t.Fatalf("request %s: statuses %d and %d, receipts %+v and %+v; want one 201 and a 200 replay of the same receipt",
					reqID, s0, s1, pair[0].receipt, pair[1].receipt)
			}
			redeemed[pair[0].receipt.HouseholdID] += quantity
		case s0 == http.StatusConflict && s1 == http.StatusConflict:
			// The grant had run out.
		default:
			t.Fatalf("request %s: statuses %d and %d", reqID, s0, s1)
		}
	}

	for _, id := range ids {
		var got [2]chttp.EntitlementsResponse
		a.must(t, http.StatusOK, "GET", "/api/v1/households/"+id+"/entitlements", nil, &got[0])
		b.must(t, http.StatusOK, "GET", "/api/v1/households/"+id+"/entitlements", nil, &got[1])
		if !reflect.DeepEqual(got[0], got[1]) {
			t.Fatalf("the servers disagree on household %s: %+v and %+v", id, got[0], got[1])
		}
		e := got[0].Entitlements[0]
		if e.Remaining < 0 || e.Redeemed != redeemed[id] || e.Remaining != grant-redeemed[id] || e.Remaining >= quantity {
			t.Fatalf("household %s: %+v; receipts add up to %d of %d, and less than %d should remain", id, e, redeemed[id], grant, quantity)
		}
	}
}

// TestServe_DatabaseUnreachable checks that `canasta serve` on a database
// that does not answer exits at once with a non-zero status and says why,
// without showing the password.
func TestServe_DatabaseUnreachable(t *testing.T) {
	cmd := command(t, "serve", "--addr", "127.0.0.1:0", "--db", "postgres://canasta:s3cret@127.0.0.1:1/canasta")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() == 0 {
		t.Fatalf("canasta serve: %v, want a non-zero exit; output:\n%s", err, out)
	}
	for _, want := range []string{"cannot reach the database", "127.0.0.1:1"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output does not say %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "s3cret") || strings.Contains(string(out), "serving on") {
		t.Errorf("output shows the password or claims to serve:\n%s", out)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("took %v to give up", d)
	}
}

// TestServe_DatabaseOutage stops the database under a running server:
// requests get 503 with EINTERNAL while it is down, and succeed again once
// it is back, without restarting the server.
func TestServe_DatabaseOutage(t *testing.T) {
	cluster := pgtest.NewTestCluster(t)
	dbURL := pgtest.NewSchema(t, cluster.URL)
	secret := createAdminToken(t, dbURL)
	srv := startServer(t, "--db", dbURL)
	c := newAPIClient(srv.URL, secret)
	c.must(t, http.StatusOK, "GET", "/api/v1/points", nil, nil)

	if err := cluster.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/api/v1/points", "/api/v1/programs"} {
		var body chttp.ErrorResponse
		status, err := c.do(context.Background(), "GET", path, nil, &body)
		if err != nil {
			t.Fatal(err)
		}
		if status != http.StatusServiceUnavailable || body.Error.Code != canasta.EINTERNAL {
			t.Fatalf("GET %s with the database down: %d %+v, want 503 EINTERNAL", path, status, body)
		}
	}

	if err := cluster.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		status, err := c.do(context.Background(), "GET", "/api/v1/points", nil, nil)
		if err == nil && status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) || (err == nil && status != http.StatusServiceUnavailable) {
			t.Fatalf("after the database came back: status %d, %v\n%s", status, err, srv.logs())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if logs := srv.logs(); !strings.Contains(logs, "temporarily unavailable") {
		t.Errorf("the outage left no trace in the server's log:\n%s", logs)
	}
}

// TestStoreFlags checks how --data, --db and the environment choose a
// store.
func TestStoreFlags(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
	}{
		{"Data", []string{"--data", dir}, nil, ""},
		{"DataEnv", nil, map[string]string{envData: dir}, ""},
		{"DataFlagOverEnvDB", []string{"--data", dir}, map[string]string{envDB: "postgres://127.0.0.1:1/x"}, ""},
		{"Neither", nil, nil, "no store given"},
		{"BothFlags", []string{"--data", dir, "--db", "postgres://127.0.0.1:1/x"}, nil, "not both"},
		{"BothEnv", nil, map[string]string{envData: dir, envDB: "postgres://127.0.0.1:1/x"}, "both"},
		{"NotPostgresURL", []string{"--db", "mysql://u:pw@h/db"}, nil, "must be a postgres:// or postgresql:// URL"},
		{"Unreachable", []string{"--db", "postgres://u:pw@127.0.0.1:1/db?connect_timeout=2"}, nil, "cannot reach the database"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(envData, "")
			t.Setenv(envDB, "")
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			fs := newFlagSet("test", &strings.Builder{})
			var sf storeFlags
			sf.register(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			st, err := sf.open()
			if err == nil {
				st.close()
			}
			if tt.wantErr == "" && err != nil {
				t.Fatalf("open: %v", err)
			} else if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("open: %v, want an error saying %q", err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "pw@") {
				t.Fatalf("the error shows the password: %v", err)
			}
		})
	}
}
