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
