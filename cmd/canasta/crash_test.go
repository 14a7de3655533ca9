package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canasta/canasta"
	"github.com/canasta/canasta/audit"
	"github.com/canasta/canasta/rules"
	"github.com/canasta/canasta/sqlite"
)

// The crash test runs the real binary, drives concurrent redemptions
// through its HTTP API with request ids the clients choose, kills it with
// SIGKILL at random moments, restarts it, and checks the ledger
// invariants against what every client was told:
//
//	acknowledged (200/201): present after any number of crashes, identical;
//	refused (4xx) every time it was sent: absent;
//	unknown (no answer, 5xx): at most once, however often it was retried.
//
// go test runs a few kill cycles; scripts/crash.sh runs many:
//
//	CANASTA_CRASH_CYCLES=100 go test ./cmd/canasta -run TestCrash -v
var (
	crashCyclesFlag = flag.Int("crash.cycles", 0, "kill cycles of TestCrash (default env CANASTA_CRASH_CYCLES, else 3)")
	crashSeedFlag   = flag.Uint64("crash.seed", 0, "seed of TestCrash's clients and kill times (default: from the clock)")
)

func crashCycles(t *testing.T) int {
	if *crashCyclesFlag > 0 {
		return *crashCyclesFlag
	}
	if s := os.Getenv("CANASTA_CRASH_CYCLES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("CANASTA_CRASH_CYCLES=%q is not a positive number", s)
		}
		return n
	}
	return 3
}

// crashWorld is what the test set up before the first start: households
// with a small grant that runs out and a large one that does not.
type crashWorld struct {
	dbPath     string
	token      string
	households []string
	programs   []int64
	point      int64
}

// crashAttempt is one send of a request and what the client learnt.
type crashAttempt struct {
	outcome string // "acked", "refused", "unknown"
	status  int
	receipt *canasta.Redemption
}

// crashHistory is every request the clients sent, by request id. Each id
// always carries the same body; the simulation in package ledger covers
// ids reused for another body.
type crashHistory struct {
	mu       sync.Mutex
	ids      []string
	bodies   map[string]*canasta.RedemptionRequest
	attempts map[string][]crashAttempt
	acked    map[string]*canasta.Redemption
	created  map[string]int // 201 answers per request id
	unknown  []string
	errs     []string
	// newlyAcked are the ids first acknowledged since the last crash.
	newlyAcked []string
	// unknownApplied counts requests first acknowledged as a replay: an
	// earlier attempt took effect but its answer was lost.
	unknownApplied int
}

func (h *crashHistory) failf(format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.errs) < 20 {
		h.errs = append(h.errs, fmt.Sprintf(format, args...))
	}
}

func TestCrash(t *testing.T) {
	cycles := crashCycles(t)
	seed := *crashSeedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("%d kill cycles, seed %d (replay the schedule with -crash.seed %d)", cycles, seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	bin := filepath.Join(t.TempDir(), "canasta")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir := t.TempDir()
	w := setupCrashWorld(t, dir)
	h := &crashHistory{bodies: map[string]*canasta.RedemptionRequest{}, attempts: map[string][]crashAttempt{},
		acked: map[string]*canasta.Redemption{}, created: map[string]int{}}

	var lastAcked []string
	for cycle := range cycles {
		srv := startCrashServer(t, bin, dir)
		// L3 across the crash just before: what was acknowledged is served
		// as it was acknowledged.
		h.checkServed(t, srv.url, w.token, lastAcked)

		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for c := range 8 {
			crng := rand.New(rand.NewPCG(seed, uint64(cycle*100+c+1)))
			wg.Go(func() { h.client(ctx, crng, srv.url, w, fmt.Sprintf("k%d-c%d", cycle, c)) })
		}
		time.Sleep(time.Duration(100+rng.IntN(600)) * time.Millisecond)
		srv.kill()
		cancel()
		wg.Wait()
		if len(h.errs) > 0 {
			t.Fatalf("cycle %d:\n%s", cycle, strings.Join(h.errs, "\n"))
		}
		h.mu.Lock()
		lastAcked, h.newlyAcked = h.newlyAcked, nil
		t.Logf("cycle %d: %d acknowledged in it; %d ids sent so far, %d acknowledged, %d never answered",
			cycle, len(lastAcked), len(h.ids), len(h.acked), len(h.unknown))
		h.mu.Unlock()
	}

	// A last incarnation: every request whose outcome is unknown is sent
	// once more and must take effect at most once in all.
	srv := startCrashServer(t, bin, dir)
	h.checkServed(t, srv.url, w.token, lastAcked)
	client := &http.Client{Timeout: 30 * time.Second}
	for _, id := range h.unknownIDs() {
		h.send(context.Background(), client, srv.url, w.token, h.bodies[id])
	}
	srv.stop(t)
	if len(h.errs) > 0 {
		t.Fatalf("retrying unknown requests:\n%s", strings.Join(h.errs, "\n"))
	}
	h.verifyStore(t, w)
}

// setupCrashWorld registers the households, programs, point and token
// with the store package directly, before any server runs.
func setupCrashWorld(t *testing.T, dir string) *crashWorld {
	t.Helper()
	w := &crashWorld{dbPath: filepath.Join(dir, "canasta.db")}
	db := sqlite.NewDB(w.dbPath)
	db.Rules = rules.NewEngine()
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	for i := range 4 {
		hh := &canasta.Household{Address: canasta.Address{Region: "North"}, MonthlyIncome: canasta.UnknownIncome,
			Members: []*canasta.Person{{GivenName: fmt.Sprintf("Head %d", i), Relationship: canasta.RelationshipHead}}}
		if err := sqlite.NewHouseholdService(db).CreateHousehold(ctx, hh); err != nil {
			t.Fatal(err)
		}
		w.households = append(w.households, hh.ID)
	}
	for _, p := range []canasta.Program{
		{Name: "Oil", Commodity: canasta.Commodity{Code: "oil", Unit: canasta.UnitMillilitre}, Eligibility: "true", Quantity: "400"},
		{Name: "Rice", Commodity: canasta.Commodity{Code: "rice", Unit: canasta.UnitGram}, Eligibility: "true", Quantity: "100000000"},
	} {
		p.Period = canasta.PeriodMonthly
		if err := sqlite.NewProgramService(db).CreateProgram(ctx, &p); err != nil {
			t.Fatal(err)
		}
		w.programs = append(w.programs, p.ID)
	}
	pt := &canasta.Point{Name: "Shop", Kind: canasta.PointShop, Region: "North"}
	if err := sqlite.NewPointService(db).CreatePoint(ctx, pt); err != nil {
		t.Fatal(err)
	}
	w.point = pt.ID
	if _, err := sqlite.NewCycleService(db).RunCycle(ctx, canasta.PeriodOf(time.Now()), nil); err != nil {
		t.Fatal(err)
	}
	_, secret, err := sqlite.NewTokenService(db).CreateToken(ctx, canasta.RoleOperator, "crash test")
	if err != nil {
		t.Fatal(err)
	}
	w.token = secret
	return w
}

// crashServer is one incarnation of `canasta serve`.
type crashServer struct {
	url string
	cmd *exec.Cmd
}

func startCrashServer(t *testing.T, bin, dir string) *crashServer {
	t.Helper()
	s := &crashServer{cmd: exec.Command(bin, "serve", "--data", dir, "--addr", "127.0.0.1:0")}
	s.cmd.Env = append(os.Environ(), envData+"=", envDB+"=")
	s.cmd.Stderr = io.Discard
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.kill)
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "Canasta is serving on "); ok {
				found <- u
			}
		}
		close(found)
	}()
	select {
	case u, ok := <-found:
		if !ok {
			t.Fatal("canasta serve exited before serving")
		}
		s.url = u
	case <-time.After(30 * time.Second):
		t.Fatal("canasta serve did not start in 30s")
	}
	return s
}

// kill sends SIGKILL: no shutdown code runs, as in a crash.
func (s *crashServer) kill() {
	if s.cmd.ProcessState == nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
	}
}

func (s *crashServer) stop(t *testing.T) {
	s.cmd.Process.Signal(os.Interrupt)
	if err := s.cmd.Wait(); err != nil {
		t.Fatalf("canasta serve stopped with %v", err)
	}
}

// client sends redemptions until ctx ends: mostly new ones, some retries
// of requests whose outcome it does not know, and some repeats of
// acknowledged ones, which must be replays of the same receipt.
func (h *crashHistory) client(ctx context.Context, rng *rand.Rand, url string, w *crashWorld, prefix string) {
	client := &http.Client{Timeout: 10 * time.Second}
	for n := 0; ctx.Err() == nil; n++ {
		var req *canasta.RedemptionRequest
		switch r := rng.IntN(10); {
		case r < 2:
			if ids := h.unknownIDs(); len(ids) > 0 {
				req = h.bodies[ids[rng.IntN(len(ids))]]
			}
		case r < 3:
			h.mu.Lock()
			for id := range h.acked {
				req = h.bodies[id]
				break
			}
			h.mu.Unlock()
		}
		if req == nil {
			req = &canasta.RedemptionRequest{RequestID: fmt.Sprintf("%s-%d", prefix, n), PointID: w.point,
				HouseholdID: w.households[rng.IntN(len(w.households))]}
			for _, i := range rng.Perm(len(w.programs))[:1+rng.IntN(len(w.programs))] {
				req.Items = append(req.Items, canasta.RedemptionItem{ProgramID: w.programs[i], Quantity: 1 + rng.Int64N(20)})
			}
		}
		h.send(ctx, client, url, w.token, req)
	}
}

// send posts one request and records what the client learnt.
func (h *crashHistory) send(ctx context.Context, client *http.Client, url, token string, req *canasta.RedemptionRequest) {
	h.mu.Lock()
	if _, ok := h.bodies[req.RequestID]; !ok {
		h.bodies[req.RequestID] = req
		h.ids = append(h.ids, req.RequestID)
	}
	h.mu.Unlock()

	body := map[string]any{"request_id": req.RequestID, "point_id": req.PointID, "household_id": req.HouseholdID}
	var items []map[string]int64
	for _, it := range req.Items {
		items = append(items, map[string]int64{"program_id": it.ProgramID, "quantity": it.Quantity})
	}
	body["items"] = items
	b, _ := json.Marshal(body)
	hr, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+"/api/v1/redemptions", bytes.NewReader(b))
	hr.Header.Set("Authorization", "Bearer "+token)
	a := crashAttempt{outcome: "unknown"}
	if resp, err := client.Do(hr); err == nil {
		a.status = resp.StatusCode
		raw, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case err != nil:
		case resp.StatusCode == http.StatusCreated || resp.StatusCode == http.StatusOK:
			var r canasta.Redemption
			if err := json.Unmarshal(raw, &r); err != nil {
				h.failf("%s: undecodable receipt %s", req.RequestID, raw)
				return
			}
			a.outcome, a.receipt = "acked", &r
		case resp.StatusCode >= 400 && resp.StatusCode < 500:
			a.outcome = "refused"
		}
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	prev := h.attempts[req.RequestID]
	h.attempts[req.RequestID] = append(prev, a)
	switch a.outcome {
	case "acked":
		// L4: one request id has at most one effect, answered 201 once,
		// and every answer is the same receipt. Two clients may send one
		// id at once, and their answers may arrive in either order, so
		// the 201 need not be the first answer recorded.
		if a.status == http.StatusCreated {
			h.created[req.RequestID]++
			if h.created[req.RequestID] > 1 {
				h.errs = append(h.errs, fmt.Sprintf("L4: %s answered 201 %d times", req.RequestID, h.created[req.RequestID]))
			}
		}
		if first, ok := h.acked[req.RequestID]; ok {
			if !sameReceipt(first, a.receipt) {
				h.errs = append(h.errs, fmt.Sprintf("L4: %s answered %d %+v after being acknowledged as %+v", req.RequestID, a.status, *a.receipt, *first))
			}
			return
		}
		if a.status == http.StatusOK {
			h.unknownApplied++ // a replay of an attempt whose answer was lost
		}
		h.acked[req.RequestID] = a.receipt
		h.newlyAcked = append(h.newlyAcked, req.RequestID)
		if err := receiptRecords(a.receipt, req); err != nil {
			h.errs = append(h.errs, "L5: "+err.Error())
		}
	case "unknown":
		if _, ok := h.acked[req.RequestID]; !ok && len(prev) == 0 {
			h.unknown = append(h.unknown, req.RequestID)
		}
	}
}

// unknownIDs returns the requests never acknowledged whose outcome the
// clients do not know.
func (h *crashHistory) unknownIDs() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var ids []string
	for _, id := range h.unknown {
		if _, ok := h.acked[id]; !ok {
			ids = append(ids, id)
		}
	}
	return ids
}

// checkServed fetches acknowledged receipts from a fresh incarnation.
func (h *crashHistory) checkServed(t *testing.T, url, token string, ids []string) {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	for _, id := range ids {
		hr, _ := http.NewRequest(http.MethodGet, url+"/api/v1/redemptions/"+id, nil)
		hr.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		var r canasta.Redemption
		err = json.NewDecoder(resp.Body).Decode(&r)
		resp.Body.Close()
		h.mu.Lock()
		want := h.acked[id]
		h.mu.Unlock()
		if resp.StatusCode != http.StatusOK || err != nil || !sameReceipt(&r, want) {
			t.Fatalf("L3: %s was acknowledged as %+v; after the crash the server answers %d %+v (%v)", id, *want, resp.StatusCode, r, err)
		}
	}
}

func sameReceipt(a, b *canasta.Redemption) bool {
	if a == nil || b == nil || a.ID != b.ID || a.RequestID != b.RequestID || a.HouseholdID != b.HouseholdID ||
		a.PointID != b.PointID || a.Period != b.Period || !a.CreatedAt.Equal(b.CreatedAt) || len(a.Items) != len(b.Items) ||
		(a.Audit == nil) != (b.Audit == nil) || a.Audit != nil && *a.Audit != *b.Audit {
		return false
	}
	for i := range a.Items {
		if a.Items[i] != b.Items[i] {
			return false
		}
	}
	return true
}

// receiptRecords reports whether r records what req asked for.
func receiptRecords(r *canasta.Redemption, req *canasta.RedemptionRequest) error {
	if r.RequestID != req.RequestID || r.HouseholdID != req.HouseholdID || r.PointID != req.PointID || len(r.Items) != len(req.Items) {
		return fmt.Errorf("receipt %+v does not record request %+v", *r, *req)
	}
	for i, it := range req.Items {
		if r.Items[i].ProgramID != it.ProgramID || r.Items[i].Quantity != it.Quantity {
			return fmt.Errorf("receipt %s item %d is %+v, the request asked for %+v", r.RequestID, i, r.Items[i], it)
		}
	}
	return nil
}

// verifyStore reads the database file the server left and checks L1–L5
// against the history.
func (h *crashHistory) verifyStore(t *testing.T, w *crashWorld) {
	db, err := sql.Open("sqlite", w.dbPath+"?_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	type grantKey struct {
		household string
		program   int64
	}
	granted, redeemed := map[grantKey]int64{}, map[grantKey]int64{}
	rows, err := db.Query(`SELECT h.id, e.program_id, e.granted, e.redeemed FROM entitlements e JOIN households h ON h.hid = e.household_hid`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k grantKey
		var g, r int64
		if err := rows.Scan(&k.household, &k.program, &g, &r); err != nil {
			t.Fatal(err)
		}
		granted[k], redeemed[k] = g, r
	}
	rows.Close()

	stored := map[string]*canasta.Redemption{}
	sums := map[grantKey]int64{}
	rows, err = db.Query(`SELECT r.id, r.request_id, r.fingerprint, h.id, r.point_id, r.period, ri.program_id, ri.quantity, ri.remaining
FROM redemptions r JOIN households h ON h.hid = r.household_hid JOIN redemption_items ri ON ri.redemption_id = r.id
ORDER BY r.id, ri.line`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var r canasta.Redemption
		var it canasta.RedemptionItem
		var fingerprint []byte
		if err := rows.Scan(&r.ID, &r.RequestID, &fingerprint, &r.HouseholdID, &r.PointID, &r.Period, &it.ProgramID, &it.Quantity, &it.Remaining); err != nil {
			t.Fatal(err)
		}
		if prev, ok := stored[r.RequestID]; ok {
			if prev.ID != r.ID {
				t.Fatalf("L4: request %s has two receipts, %d and %d", r.RequestID, prev.ID, r.ID)
			}
		} else {
			stored[r.RequestID] = &r
			// L5: every receipt is of a request a client sent, with that body.
			body, ok := h.bodies[r.RequestID]
			if !ok {
				t.Fatalf("L5: receipt %s was never sent by a client", r.RequestID)
			}
			if !bytes.Equal(body.Fingerprint(), fingerprint) {
				t.Fatalf("L5: receipt %s has the fingerprint of another body", r.RequestID)
			}
		}
		rec := stored[r.RequestID]
		rec.Items = append(rec.Items, it)
		// L1: each receipt's remaining is the grant less every receipt up
		// to it.
		k := grantKey{r.HouseholdID, it.ProgramID}
		sums[k] += it.Quantity
		if want := granted[k] - sums[k]; it.Remaining != want {
			t.Fatalf("L1: receipt %s says %d remain of program %d, the receipts up to it leave %d", r.RequestID, it.Remaining, it.ProgramID, want)
		}
	}
	rows.Close()
	for k, g := range granted {
		if redeemed[k] != sums[k] {
			t.Fatalf("L1: %s program %d: redeemed %d, receipts sum to %d", k.household, k.program, redeemed[k], sums[k])
		}
		if g-redeemed[k] < 0 {
			t.Fatalf("L2: %s program %d has %d remaining", k.household, k.program, g-redeemed[k])
		}
	}

	h.verifyAudit(t, db, stored)

	var acked, refused, unknown, unknownApplied int
	for _, id := range h.ids {
		r, inStore := stored[id]
		if want, ok := h.acked[id]; ok {
			acked++
			// L3: acknowledged, so present and identical.
			if !inStore || r.ID != want.ID || len(r.Items) != len(want.Items) {
				t.Fatalf("L3: %s acknowledged as %+v, stored as %+v", id, *want, r)
			}
			for i := range r.Items {
				if r.Items[i] != want.Items[i] {
					t.Fatalf("L3: %s acknowledged as %+v, stored as %+v", id, *want, *r)
				}
			}
			if err := receiptRecords(r, h.bodies[id]); err != nil {
				t.Fatalf("L5: %v", err)
			}
			continue
		}
		allRefused := true
		for _, a := range h.attempts[id] {
			allRefused = allRefused && a.outcome == "refused"
		}
		if allRefused {
			refused++
			if inStore {
				t.Fatalf("L4: %s was refused every time it was sent, yet has a receipt", id)
			}
			continue
		}
		unknown++
		if inStore {
			unknownApplied++
		}
	}
	t.Logf("%d requests: %d acknowledged (%d first as a replay of an attempt whose answer was lost), %d refused, %d never answered (%d of them took effect, once); %d receipts stored",
		len(h.ids), acked, h.unknownApplied, refused, unknown, unknownApplied, len(stored))
	if acked == 0 || refused == 0 {
		t.Fatalf("the run acknowledged %d and refused %d requests: too little happened to test anything", acked, refused)
	}
}

// verifyAudit checks that a crash between a change and its audit entry
// cannot be observed: every stored receipt has exactly one redemption
// entry in the log, the one its row names, every redemption entry has its
// receipt, and each acknowledged receipt named that same entry.
func (h *crashHistory) verifyAudit(t *testing.T, db *sql.DB, stored map[string]*canasta.Redemption) {
	t.Helper()
	entryOf := map[string]int64{}
	rows, err := db.Query(`SELECT idx, data FROM audit_leaves ORDER BY idx`)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for rows.Next() {
		var idx int64
		var leaf []byte
		if err := rows.Scan(&idx, &leaf); err != nil {
			t.Fatal(err)
		}
		if idx != n {
			t.Fatalf("audit log has a gap: entry %d follows %d", idx, n-1)
		}
		n++
		e, err := audit.ParseLeaf(leaf)
		if err != nil {
			t.Fatal(err)
		}
		if e.Type != canasta.AuditRedemption {
			continue
		}
		id := e.Objects["request_id"]
		if _, dup := entryOf[id]; dup {
			t.Fatalf("L4: request %s has two audit entries", id)
		}
		if _, ok := stored[id]; !ok {
			t.Fatalf("audit entry %d names request %s, which has no receipt", idx, id)
		}
		entryOf[id] = idx
	}
	rows.Close()
	rows, err = db.Query(`SELECT request_id, audit_index FROM redemptions`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var idx sql.NullInt64
		if err := rows.Scan(&id, &idx); err != nil {
			t.Fatal(err)
		}
		if got, ok := entryOf[id]; !ok || !idx.Valid || idx.Int64 != got {
			t.Fatalf("receipt %s names audit entry %v, the log has it at %d (%v)", id, idx, got, ok)
		}
		if want, ok := h.acked[id]; ok && (want.Audit == nil || want.Audit.Index != idx.Int64) {
			t.Fatalf("L3: %s was acknowledged with audit reference %+v, stored with %d", id, want.Audit, idx.Int64)
		}
	}
}
