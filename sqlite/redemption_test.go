package sqlite_test

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"

	"github.com/canasta/canasta"
	"github.com/canasta/canasta/sqlite"
	"github.com/canasta/canasta/storetest"
)

// remaining returns the household's remaining quantities by program id,
// failing unless remaining = granted - redeemed >= 0 (L2).
func remaining(tb testing.TB, db *sqlite.DB, householdID string) map[int64]int64 {
	tb.Helper()
	ents, err := sqlite.NewEntitlementService(db).FindEntitlements(context.Background(), householdID, testPeriod)
	if err != nil {
		tb.Fatal(err)
	}
	m := map[int64]int64{}
	for _, e := range ents {
		if e.Remaining != e.Granted-e.Redeemed || e.Remaining < 0 {
			tb.Fatalf("entitlement %+v breaks remaining = granted - redeemed >= 0", *e)
		}
		m[e.ProgramID] = e.Remaining
	}
	return m
}

// TestRedemptionService_RedeemBatch sends one batch in which each request
// is decided against what the requests before it left: the household has
// 2000 g of rice and 500 ml of oil.
func TestRedemptionService_RedeemBatch(t *testing.T) {
	l := newLedger(t, "size*1000")
	s := sqlite.NewRedemptionService(l.db)
	ctx := context.Background()
	odd := "ünï \"cödé\" \\ \u2028\x00\t€" // must survive the JSON array the batch looks ids up with

	unknownHousehold := l.request("f", item(l.rice, 1))
	unknownHousehold.HouseholdID = "hh_none"
	unknownPoint := l.request("g", item(l.rice, 1))
	unknownPoint.PointID = 999
	steps := []struct {
		name   string
		req    *canasta.RedemptionRequest
		code   string
		replay bool
		left   []int64 // remaining of each item, when accepted
	}{
		{"Accepted", l.request("a", item(l.rice, 1400)), "", false, []int64{600}},
		{"OddRequestID", l.request(odd, item(l.rice, 100)), "", false, []int64{500}},
		{"OverWhatEarlierLeft", l.request("b", item(l.rice, 501)), canasta.ECONFLICT, false, nil},
		{"ReplayInBatch", l.request("a", item(l.rice, 1400)), "", true, []int64{600}},
		{"ReusedForOtherBody", l.request("a", item(l.rice, 1)), canasta.ECONFLICT, false, nil},
		{"TwoItems", l.request("c", item(l.oil, 200), item(l.rice, 500)), "", false, []int64{300, 0}},
		{"AllOrNone", l.request("d", item(l.oil, 100), item(l.rice, 1)), canasta.ECONFLICT, false, nil},
		{"OilUntouchedByRefusal", l.request("e", item(l.oil, 300)), "", false, []int64{0}},
		{"UnknownHousehold", unknownHousehold, canasta.ENOTFOUND, false, nil},
		{"UnknownPoint", unknownPoint, canasta.ENOTFOUND, false, nil},
		{"NoGrant", l.request("h", item(l.other, 1)), canasta.ENOTFOUND, false, nil},
		{"Malformed", l.request("i", item(l.rice, 0)), canasta.EINVALID, false, nil},
		{"RefusedIDDecidedAfresh", l.request("b", item(l.rice, 501)), canasta.ECONFLICT, false, nil},
	}
	reqs := make([]*canasta.RedemptionRequest, len(steps))
	for i, st := range steps {
		reqs[i] = st.req
	}
	results, err := s.RedeemBatch(ctx, reqs)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != len(steps) {
		t.Fatalf("%d results for %d requests", len(results), len(steps))
	}
	var lastID int64
	for i, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			res := results[i]
			if code := canasta.ErrorCode(res.Err); code != st.code || res.Replay != st.replay {
				t.Fatalf("code %q replay %v (err %v), want %q replay %v", code, res.Replay, res.Err, st.code, st.replay)
			}
			if st.code != "" {
				if res.Receipt != nil {
					t.Fatalf("a refused request has a receipt %+v", *res.Receipt)
				}
				return
			}
			r := res.Receipt
			for j, left := range st.left {
				if r.Items[j].Remaining != left || r.Items[j].Quantity != st.req.Items[j].Quantity || r.Items[j].ProgramID != st.req.Items[j].ProgramID {
					t.Fatalf("item %d is %+v, want %+v with %d left", j, r.Items[j], st.req.Items[j], left)
				}
			}
			if r.RequestID != st.req.RequestID || r.Period != testPeriod || !r.CreatedAt.Equal(testNow) {
				t.Fatalf("receipt %+v", *r)
			}
			if !st.replay {
				if r.ID <= lastID {
					t.Fatalf("receipt id %d after %d: ids must follow the batch's order", r.ID, lastID)
				}
				lastID = r.ID
			}
			// L3: what the batch answered is what was committed.
			stored, err := s.FindRedemptionByRequestID(ctx, st.req.RequestID)
			if err != nil || !reflect.DeepEqual(stored, r) {
				t.Fatalf("stored %+v (%v), answered %+v", stored, err, *r)
			}
		})
	}
	if got := remaining(t, l.db, l.household.ID); got[l.rice.ID] != 0 || got[l.oil.ID] != 0 {
		t.Fatalf("balances %v, want rice and oil used up exactly", got)
	}
	for _, id := range []string{"b", "d", "f", "g", "h", "i"} {
		if _, err := s.FindRedemptionByRequestID(ctx, id); canasta.ErrorCode(err) != canasta.ENOTFOUND {
			t.Fatalf("refused request %s left a receipt (err %v)", id, err)
		}
	}

	t.Run("ReplayOfEarlierBatch", func(t *testing.T) {
		results, err := s.RedeemBatch(ctx, []*canasta.RedemptionRequest{
			l.request("a", item(l.rice, 1400)),
			l.request(odd, item(l.rice, 1)),
		})
		if err != nil {
			t.Fatal(err)
		}
		if !results[0].Replay || results[0].Err != nil || !reflect.DeepEqual(results[0].Receipt, firstReceipt(t, s, "a")) {
			t.Fatalf("replay of a: %+v", results[0])
		}
		if canasta.ErrorCode(results[1].Err) != canasta.ECONFLICT {
			t.Fatalf("odd id reused for another body: %+v", results[1])
		}
	})
}

func firstReceipt(t *testing.T, s *sqlite.RedemptionService, id string) *canasta.Redemption {
	t.Helper()
	r, err := s.FindRedemptionByRequestID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestRedemptionService_RedeemBatch_Large commits one batch of 512
// requests of three items each over 100 households and checks every
// receipt against the store and L1 against the grants.
func TestRedemptionService_RedeemBatch_Large(t *testing.T) {
	db, _ := MustOpenDB(t)
	ctx := context.Background()
	var households []*canasta.Household
	for i := range 100 {
		households = append(households, mustCreateHousehold(t, db, storetest.NewHousehold(i, 1)))
	}
	var programs []*canasta.Program
	for i := range 3 {
		programs = append(programs, mustCreateProgram(t, db, fmt.Sprintf("P%d", i), fmt.Sprintf("c%d", i), canasta.UnitGram, "true", "100"))
	}
	point := mustCreatePoint(t, db)
	if _, err := sqlite.NewCycleService(db).RunCycle(ctx, testPeriod, nil); err != nil {
		t.Fatal(err)
	}
	s := sqlite.NewRedemptionService(db)

	var reqs []*canasta.RedemptionRequest
	for i := range 512 {
		req := &canasta.RedemptionRequest{RequestID: fmt.Sprintf("large-%d", i), PointID: point.ID, HouseholdID: households[i%len(households)].ID}
		for j, p := range programs {
			req.Items = append(req.Items, canasta.RedemptionItem{ProgramID: p.ID, Quantity: int64(1 + (i+j)%30)})
		}
		reqs = append(reqs, req)
	}
	results, err := s.RedeemBatch(ctx, reqs)
	if err != nil {
		t.Fatal(err)
	}
	debited := map[string]map[int64]int64{}
	accepted, refused := 0, 0
	for i, res := range results {
		switch canasta.ErrorCode(res.Err) {
		case "":
			accepted++
			stored := firstReceipt(t, s, reqs[i].RequestID)
			if !reflect.DeepEqual(stored, res.Receipt) {
				t.Fatalf("request %d stored as %+v, answered %+v", i, *stored, *res.Receipt)
			}
			if debited[reqs[i].HouseholdID] == nil {
				debited[reqs[i].HouseholdID] = map[int64]int64{}
			}
			for _, it := range res.Receipt.Items {
				debited[reqs[i].HouseholdID][it.ProgramID] += it.Quantity
				if it.Remaining != 100-debited[reqs[i].HouseholdID][it.ProgramID] {
					t.Fatalf("request %d item %+v: receipts before it leave %d", i, it, 100-debited[reqs[i].HouseholdID][it.ProgramID])
				}
			}
		case canasta.ECONFLICT:
			refused++
		default:
			t.Fatalf("request %d: %v", i, res.Err)
		}
	}
	if accepted == 0 || refused == 0 {
		t.Fatalf("%d accepted, %d refused: the batch should run some grants out", accepted, refused)
	}
	for _, h := range households {
		for p, left := range remaining(t, db, h.ID) {
			if left != 100-debited[h.ID][p] {
				t.Fatalf("L1: %s program %d has %d left, receipts debit %d of 100", h.ID, p, left, debited[h.ID][p])
			}
		}
	}
}

// TestRedemptionService_RedeemBatch_TwoProcesses commits batches through
// two handles on one file, as two processes would, against one grant:
// the IMMEDIATE transactions serialise them, so the grant is used up
// exactly and never overdrawn (L2).
func TestRedemptionService_RedeemBatch_TwoProcesses(t *testing.T) {
	const (
		grant    = 1000
		quantity = 7
	)
	l := newLedger(t, fmt.Sprint(grant))
	second := mustOpenPath(t, l.db.Path, l.clock)
	services := []*sqlite.RedemptionService{sqlite.NewRedemptionService(l.db), sqlite.NewRedemptionService(second)}

	var (
		mu       sync.Mutex
		accepted int
		wg       sync.WaitGroup
	)
	for w := range 4 {
		wg.Go(func() {
			for b := range 10 {
				var reqs []*canasta.RedemptionRequest
				for i := range 8 {
					reqs = append(reqs, l.request(fmt.Sprintf("w%d-b%d-%d", w, b, i), item(l.rice, quantity)))
				}
				results, err := services[w%2].RedeemBatch(context.Background(), reqs)
				if err != nil {
					t.Error(err)
					return
				}
				for _, r := range results {
					switch canasta.ErrorCode(r.Err) {
					case "":
						mu.Lock()
						accepted++
						mu.Unlock()
					case canasta.ECONFLICT:
					default:
						t.Errorf("redeem: %v", r.Err)
					}
				}
			}
		})
	}
	wg.Wait()
	if want := grant / quantity; accepted != want {
		t.Fatalf("%d accepted, want %d", accepted, want)
	}
	if got := remaining(t, l.db, l.household.ID)[l.rice.ID]; got != int64(grant-accepted*quantity) {
		t.Fatalf("remaining %d after %d redemptions of %d from %d", got, accepted, quantity, grant)
	}
}
