package point_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/canasta/canasta"
	"github.com/canasta/canasta/point"
)

// network stands between a point and the server; cut, it drops every
// connection, as a dead uplink does.
type network struct {
	*httptest.Server
	cut atomic.Bool
}

func newNetwork(t *testing.T, to http.Handler) *network {
	n := &network{}
	n.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.cut.Load() {
			panic(http.ErrAbortHandler)
		}
		to.ServeHTTP(w, r)
	}))
	t.Cleanup(n.Close)
	return n
}

// till is a running agent with its operator server.
type till struct {
	agent *point.Agent
	srv   *point.Server
}

func newTill(t *testing.T, w *world, net *network, pointID int64) *till {
	t.Helper()
	ctx := context.Background()
	st, err := point.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	st.Now = w.clock.Now
	_, token, err := w.rights.CreateDevice(ctx, pointID, "till")
	if err != nil {
		t.Fatal(err)
	}
	if err := point.Enroll(ctx, st, net.URL, token); err != nil {
		t.Fatal(err)
	}
	a, err := point.NewAgent(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	srv := &point.Server{Agent: a, Addr: "127.0.0.1:0"}
	if err := srv.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return &till{agent: a, srv: srv}
}

// redeem posts a redemption to the till's operator API.
func (tl *till) redeem(t *testing.T, requestID, code string, program, q int64) (int, map[string]any) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"request_id": requestID, "card": code,
		"items": []map[string]int64{{"program_id": program, "quantity": q}}})
	return tl.call(t, "POST", "/api/v1/redemptions", body)
}

func (tl *till) call(t *testing.T, method, path string, body []byte) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, tl.srv.URL()+path, bytes.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	} else {
		m = map[string]any{"html": string(b)}
	}
	return resp.StatusCode, m
}

func (tl *till) status(t *testing.T) point.Status {
	t.Helper()
	st, err := tl.agent.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return *st
}

func remaining(m map[string]any) int64 {
	items, _ := m["items"].([]any)
	if len(items) == 0 {
		return -1
	}
	v, _ := items[0].(map[string]any)["remaining"].(float64)
	return int64(v)
}

func TestAgent_OnlineOffline(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	net := newNetwork(t, w.srv.Handler())
	away := newTill(t, w, net, w.points[1]) // not the household's home point
	home := newTill(t, w, net, w.points[0])

	// Online at a point that holds nothing for the household, the agent
	// reserves what it needs first: the operator sees a plain receipt.
	if err := away.agent.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if status, body := away.redeem(t, "away-1", w.code, w.rice, 300); status != http.StatusCreated || remaining(body) != 0 {
		t.Fatalf("online redemption away from home: %d %v", status, body)
	}
	if err := away.agent.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if b := w.balance(t, w.rice); b.Redeemed != 300 {
		t.Fatalf("rice after the away point synced: %+v", b)
	}

	// The home point takes the rest of the month.
	if err := home.agent.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if st := home.status(t); !st.Online || st.RightsHeld != 1700+500 || st.LastSync == nil {
		t.Fatalf("home status after sync %+v", st)
	}
	if status, body := home.redeem(t, "home-1", w.code, w.rice, 700); status != http.StatusCreated || remaining(body) != 1000 {
		t.Fatalf("online redemption at home: %d %v", status, body)
	}
	if status, _ := home.redeem(t, "home-1", w.code, w.rice, 700); status != http.StatusOK {
		t.Fatalf("retry of a redemption: %d, want 200", status)
	}

	// The network goes down.
	net.cut.Store(true)
	if err := home.agent.SyncOnce(ctx); err == nil {
		t.Fatal("sync over a cut network succeeded")
	}
	for _, tt := range []struct {
		name      string
		id        string
		program   int64
		q         int64
		status    int
		remaining int64
	}{
		{"WithinRights", "off-1", w.rice, 600, http.StatusCreated, 400},
		{"BeyondRights", "off-2", w.rice, 401, http.StatusConflict, -1},
		{"Oil", "off-3", w.oil, 500, http.StatusCreated, 0},
		{"NoOilLeft", "off-4", w.oil, 1, http.StatusConflict, -1},
		{"ForgedCard", "off-5", w.rice, 1, http.StatusBadRequest, -1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code := w.code
			if tt.name == "ForgedCard" {
				code = w.code[:len(w.code)-4] + "AAAA"
			}
			status, body := home.redeem(t, tt.id, code, tt.program, tt.q)
			if status != tt.status || (tt.remaining >= 0 && remaining(body) != tt.remaining) {
				t.Fatalf("got %d %v", status, body)
			}
			if status == http.StatusConflict && body["error"].(map[string]any)["code"] != canasta.ECONFLICT {
				t.Fatalf("409 without ECONFLICT: %v", body)
			}
		})
	}
	status, check := home.call(t, "GET", "/api/v1/cards/check?code="+url.QueryEscape(w.code), nil)
	if status != http.StatusOK || check["valid"] != true {
		t.Fatalf("offline card check: %d %v", status, check)
	}
	if st := home.status(t); st.Online || st.Waiting != 3 || st.RightsHeld != 400 {
		t.Fatalf("offline status %+v", st)
	}
	if status, page := home.call(t, "GET", "/", nil); status != http.StatusOK || !strings.Contains(page["html"].(string), "Offline") {
		t.Fatalf("operator page: %d %v", status, page)
	}
	// Nothing reached the server meanwhile.
	if b := w.balance(t, w.rice); b.Redeemed != 300 || b.Held != 1700 {
		t.Fatalf("rice while offline %+v", b)
	}

	// The network returns.
	net.cut.Store(false)
	if err := home.agent.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if st := home.status(t); !st.Online || st.Waiting != 0 {
		t.Fatalf("status after the network returned %+v", st)
	}
	if b := w.balance(t, w.rice); b.Redeemed != 300+700+600 || b.Held != 400 {
		t.Fatalf("rice after sync %+v", b)
	}
	if b := w.balance(t, w.oil); b.Redeemed != 500 {
		t.Fatalf("oil after sync %+v", b)
	}
}
