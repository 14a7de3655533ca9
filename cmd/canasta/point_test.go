package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/canasta/canasta"
	"github.com/canasta/canasta/card"
	"github.com/canasta/canasta/point"
	"github.com/canasta/canasta/rules"
	"github.com/canasta/canasta/sqlite"
)

// process is a canasta command running on its own.
type process struct {
	cmd  *exec.Cmd
	url  string
	mu   sync.Mutex
	logs bytes.Buffer
}

func (p *process) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.Write(b)
}

func (p *process) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// startProcess runs bin with args and waits for the line that says where
// it serves.
func startProcess(t *testing.T, bin, serving string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(bin, args...)}
	p.cmd.Env = append(os.Environ(), envData+"=", envDB+"=")
	p.cmd.Stderr = p
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.stop(t) })
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if _, u, ok := strings.Cut(sc.Text(), serving); ok {
				found <- u
			}
		}
		close(found)
	}()
	select {
	case u, ok := <-found:
		if !ok {
			t.Fatalf("%s exited before serving:\n%s", args[0], p.log())
		}
		p.url = u
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not start:\n%s", args[0], p.log())
	}
	return p
}

func (p *process) stop(t *testing.T) {
	if p.cmd.ProcessState != nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("%s exited with %v:\n%s", p.cmd.Args[1], err, p.log())
		}
	case <-time.After(20 * time.Second):
		p.cmd.Process.Kill()
		<-done
		t.Errorf("%s did not stop on SIGTERM:\n%s", p.cmd.Args[1], p.log())
	}
}

// pointWorld is a store with a household whose home point is point, a
// card for it, and an admin token.
type pointWorld struct {
	household, code, admin string
	rice, point            int64
}

func setupPointWorld(t *testing.T, dir string) *pointWorld {
	t.Helper()
	ctx := context.Background()
	db := sqlite.NewDB(filepath.Join(dir, "canasta.db"))
	db.Rules = rules.NewEngine()
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	w := &pointWorld{}
	p := &canasta.Program{Name: "Rice", Commodity: canasta.Commodity{Code: "rice", Unit: canasta.UnitGram},
		Eligibility: "true", Quantity: "1000", Period: canasta.PeriodMonthly}
	if err := sqlite.NewProgramService(db).CreateProgram(ctx, p); err != nil {
		t.Fatal(err)
	}
	w.rice = p.ID
	pt := &canasta.Point{Name: "Village shop", Kind: canasta.PointShop, Region: "North"}
	if err := sqlite.NewPointService(db).CreatePoint(ctx, pt); err != nil {
		t.Fatal(err)
	}
	w.point = pt.ID
	h := &canasta.Household{Address: canasta.Address{Region: "North"}, MonthlyIncome: canasta.UnknownIncome, HomePointID: pt.ID,
		Members: []*canasta.Person{{GivenName: "Ana", Relationship: canasta.RelationshipHead}}}
	if err := sqlite.NewHouseholdService(db).CreateHousehold(ctx, h); err != nil {
		t.Fatal(err)
	}
	w.household = h.ID
	if _, err := sqlite.NewCycleService(db).RunCycle(ctx, canasta.PeriodOf(time.Now()), nil); err != nil {
		t.Fatal(err)
	}
	cards := card.NewService(sqlite.NewCardStore(db), cardIssuer)
	cards.PINParams = &argon2id.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	ic, err := cards.IssueCard(ctx, h.ID)
	if err != nil {
		t.Fatal(err)
	}
	w.code = ic.Code
	if _, w.admin, err = sqlite.NewTokenService(db).CreateToken(ctx, canasta.RoleAdmin, "point test"); err != nil {
		t.Fatal(err)
	}
	return w
}

func jsonCall(t *testing.T, method, url, token string, body, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %d %s", method, url, resp.StatusCode, b)
		}
	}
	return resp.StatusCode
}

// waitStatus polls the point's status until ok accepts it.
func waitStatus(t *testing.T, pt *process, what string, ok func(point.Status) bool) point.Status {
	t.Helper()
	var st point.Status
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		st = point.Status{}
		if jsonCall(t, "GET", pt.url+"/api/v1/status", "", nil, &st) == http.StatusOK && ok(st) {
			return st
		}
	}
	t.Fatalf("point never became %s; last status %+v\n%s", what, st, pt.log())
	return st
}

// TestPointEndToEnd runs the real server and a real point agent, cuts the
// point's network by stopping the server, redeems offline, and restores
// it.
func TestPointEndToEnd(t *testing.T) {
	bin := canastaBinary(t) // built once per test run, in a temporary directory
	dir := t.TempDir()
	w := setupPointWorld(t, dir)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String() // the server comes back on the same address
	ln.Close()

	server := startProcess(t, bin, "Canasta is serving on ", "serve", "--data", dir, "--addr", addr)
	var enrollment struct {
		Token string `json:"enrollment_token"`
	}
	if got := jsonCall(t, "POST", fmt.Sprintf("%s/api/v1/points/%d/devices", server.url, w.point), w.admin,
		map[string]string{"name": "till 1"}, &enrollment); got != http.StatusCreated {
		t.Fatalf("create device: %d", got)
	}
	pt := startProcess(t, bin, " is serving on ", "point", "--server", server.url, "--data", t.TempDir(),
		"--enroll", enrollment.Token, "--addr", "127.0.0.1:0", "--sync-interval", "200ms", "--max-backoff", "500ms")

	st := waitStatus(t, pt, "stocked with the home rights", func(s point.Status) bool { return s.Online && s.RightsHeld == 1000 })
	redeem := func(id string, q int64) (int, map[string]any) {
		var body map[string]any
		status := jsonCall(t, "POST", pt.url+"/api/v1/redemptions", "", map[string]any{"request_id": id, "card": w.code,
			"items": []map[string]int64{{"program_id": w.rice, "quantity": q}}}, &body)
		return status, body
	}
	if got, body := redeem("online-1", 300); got != http.StatusCreated {
		t.Fatalf("online redemption: %d %v", got, body)
	}

	server.stop(t)
	waitStatus(t, pt, "offline", func(s point.Status) bool { return !s.Online })
	if got, body := redeem("offline-1", 500); got != http.StatusCreated {
		t.Fatalf("offline redemption: %d %v", got, body)
	}
	if got, body := redeem("offline-2", 201); got != http.StatusConflict || body["error"].(map[string]any)["code"] != canasta.ECONFLICT {
		t.Fatalf("offline redemption beyond the rights: %d %v", got, body)
	}
	if st := waitStatus(t, pt, "holding its receipts", func(point.Status) bool { return true }); st.Waiting == 0 || st.RightsHeld != 200 {
		t.Fatalf("offline status %+v", st)
	}

	server = startProcess(t, bin, "Canasta is serving on ", "serve", "--data", dir, "--addr", addr)
	waitStatus(t, pt, "synced", func(s point.Status) bool { return s.Online && s.Waiting == 0 })
	for seq, want := range map[int]int64{1: 300, 2: 500} {
		var r canasta.Redemption
		path := fmt.Sprintf("%s/api/v1/redemptions/%s", server.url, sqlite.OfflineRequestID(st.DeviceID, int64(seq)))
		if got := jsonCall(t, "GET", path, w.admin, nil, &r); got != http.StatusOK || len(r.Items) != 1 || r.Items[0].Quantity != want || r.HouseholdID != w.household {
			t.Fatalf("receipt %d on the server: %d %+v", seq, got, r)
		}
	}
	pt.stop(t)
	server.stop(t)
}
