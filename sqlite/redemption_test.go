package sqlite_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canasta/canasta"
	"github.com/canasta/canasta/sqlite"
)

// ledger is a household with current grants of rice (size*1000 g, so
// 2000 g for two members) and oil (500 ml), and a point to redeem at.
type ledger struct {
	db        *sqlite.DB
	clock     *testClock
	household *canasta.Household
	point     *canasta.Point
	rice, oil *canasta.Program
	other     *canasta.Program // granted to nobody
}

func newLedger(tb testing.TB, riceQuantity string) *ledger {
	tb.Helper()
	db, clock := MustOpenDB(tb)
	l := &ledger{db: db, clock: clock}
	l.household = mustCreateHousehold(tb, db, newHousehold(1, 2))
	l.point = mustCreatePoint(tb, db)
	l.rice = mustCreateProgram(tb, db, "Rice", "rice", canasta.UnitGram, "true", riceQuantity)
	l.oil = mustCreateProgram(tb, db, "Oil", "oil", canasta.UnitMillilitre, "true", "500")
	l.other = mustCreateProgram(tb, db, "Nobody", "salt", canasta.UnitGram, "false", "1")
	if _, err := sqlite.NewCycleService(db).RunCycle(context.Background(), testPeriod, nil); err != nil {
		tb.Fatal(err)
	}
	return l
}

func (l *ledger) request(id string, items ...canasta.RedemptionItem) *canasta.RedemptionRequest {
	return &canasta.RedemptionRequest{RequestID: id, PointID: l.point.ID, HouseholdID: l.household.ID, Items: items}
}

// balances returns remaining quantities by program id.
func (l *ledger) balances(tb testing.TB) map[int64]int64 {
	tb.Helper()
	ents, err := sqlite.NewEntitlementService(l.db).FindEntitlements(context.Background(), l.household.ID, testPeriod)
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

func item(p *canasta.Program, q int64) canasta.RedemptionItem {
	return canasta.RedemptionItem{ProgramID: p.ID, Quantity: q}
}

func TestRedemptionService_Redeem(t *testing.T) {
	l := newLedger(t, "size*1000")
	s := sqlite.NewRedemptionService(l.db)
	ctx := context.Background()

	first, replay, err := s.Redeem(ctx, l.request("r1", item(l.rice, 1500), item(l.oil, 200)))
	if err != nil {
		t.Fatal(err)
	}
	want := &canasta.Redemption{ID: first.ID, RequestID: "r1", HouseholdID: l.household.ID, PointID: l.point.ID, Period: testPeriod,
		Items:     []canasta.RedemptionItem{{ProgramID: l.rice.ID, Quantity: 1500, Remaining: 500}, {ProgramID: l.oil.ID, Quantity: 200, Remaining: 300}},
		CreatedAt: testNow}
	if replay || !reflect.DeepEqual(first, want) {
		t.Fatalf("receipt %+v (replay %v), want %+v", first, replay, want)
	}
	if got := l.balances(t); got[l.rice.ID] != 500 || got[l.oil.ID] != 300 {
		t.Fatalf("balances %v after redeeming, want rice 500 and oil 300", got)
	}

	t.Run("ReplayReturnsSameReceipt", func(t *testing.T) {
		l.clock.Set(testNow.Add(time.Minute))
		defer l.clock.Set(testNow)
		again, replay, err := s.Redeem(ctx, l.request("r1", item(l.rice, 1500), item(l.oil, 200)))
		if err != nil {
			t.Fatal(err)
		}
		if !replay || !reflect.DeepEqual(again, first) {
			t.Fatalf("replay %+v (replay %v), want the first receipt %+v", again, replay, first)
		}
		if got := l.balances(t); got[l.rice.ID] != 500 || got[l.oil.ID] != 300 {
			t.Fatalf("replay debited again: balances %v", got)
		}
	})

	t.Run("FindByRequestID", func(t *testing.T) {
		got, err := s.FindRedemptionByRequestID(ctx, "r1")
		if err != nil {
			t.Fatal(err)
		} else if !reflect.DeepEqual(got, first) {
			t.Fatalf("found %+v, want %+v", got, first)
		}
		_, err = s.FindRedemptionByRequestID(ctx, "nope")
		wantCode(t, err, canasta.ENOTFOUND)
	})

	for _, tt := range []struct {
		name string
		req  *canasta.RedemptionRequest
		code string
		msg  string
	}{
		{"SameRequestIDDifferentBody", l.request("r1", item(l.rice, 1)), canasta.ECONFLICT, "already used"},
		{"OverQuotaDebitsNothing", l.request("r2", item(l.oil, 100), item(l.rice, 501)), canasta.ECONFLICT, "Only 500 g of rice remain"},
		{"NoGrant", l.request("r3", item(l.rice, 1), item(l.other, 1)), canasta.ENOTFOUND, "no grant"},
		{"UnknownProgram", l.request("r4", canasta.RedemptionItem{ProgramID: 999, Quantity: 1}), canasta.ENOTFOUND, "no grant"},
		{"UnknownHousehold", func() *canasta.RedemptionRequest {
			r := l.request("r5", item(l.rice, 1))
			r.HouseholdID = "hh_none"
			return r
		}(), canasta.ENOTFOUND, "Household"},
		{"UnknownPoint", func() *canasta.RedemptionRequest { r := l.request("r6", item(l.rice, 1)); r.PointID = 999; return r }(), canasta.ENOTFOUND, "Point"},
		{"NoItems", l.request("r7"), canasta.EINVALID, ""},
		{"ZeroQuantity", l.request("r8", item(l.rice, 0)), canasta.EINVALID, ""},
		{"ProgramTwice", l.request("r9", item(l.rice, 1), item(l.rice, 1)), canasta.EINVALID, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := l.balances(t)
			_, _, err := s.Redeem(ctx, tt.req)
			wantCode(t, err, tt.code)
			if !strings.Contains(canasta.ErrorMessage(err), tt.msg) {
				t.Fatalf("message %q does not mention %q", canasta.ErrorMessage(err), tt.msg)
			}
			if after := l.balances(t); !reflect.DeepEqual(after, before) {
				t.Fatalf("a refused redemption changed balances from %v to %v", before, after)
			}
			if _, err := s.FindRedemptionByRequestID(ctx, tt.req.RequestID); tt.req.RequestID != "r1" && canasta.ErrorCode(err) != canasta.ENOTFOUND {
				t.Fatalf("a refused redemption left a receipt (err %v)", err)
			}
		})
	}

	t.Run("RefusedRequestIDCanBeRetried", func(t *testing.T) {
		// r2 was refused and had no effect, so it is not yet spent.
		r, replay, err := s.Redeem(ctx, l.request("r2", item(l.rice, 500)))
		if err != nil || replay || r.Items[0].Remaining != 0 {
			t.Fatalf("retry: %+v, replay %v, err %v; want rice down to 0", r, replay, err)
		}
	})

	t.Run("NextMonthHasNoGrantYet", func(t *testing.T) {
		l.clock.Set(time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC))
		defer l.clock.Set(testNow)
		_, _, err := s.Redeem(ctx, l.request("r10", item(l.oil, 1)))
		wantCode(t, err, canasta.ENOTFOUND)
	})
}

// TestRedemptionService_Redeem_Concurrent races 16 goroutines of 20
// requests each against one grant, half of them through a second handle on
// the file as another process would. The balance must never go below zero
// and must equal the grant less the sum of the receipts. Run with -race.
func TestRedemptionService_Redeem_Concurrent(t *testing.T) {
	const (
		workers  = 16
		requests = 20
		quantity = 7
		grant    = 1000
	)
	l := newLedger(t, fmt.Sprint(grant))
	second := mustOpenPath(t, l.db.Path, l.clock)
	services := []*sqlite.RedemptionService{sqlite.NewRedemptionService(l.db), sqlite.NewRedemptionService(second)}

	var (
		mu        sync.Mutex
		redeemed  int64
		succeeded int
		wg        sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			s := services[w%2]
			for r := range requests {
				req := l.request(fmt.Sprintf("w%d-r%d", w, r), item(l.rice, quantity))
				receipt, _, err := s.Redeem(context.Background(), req)
				switch canasta.ErrorCode(err) {
				case "":
					mu.Lock()
					redeemed += receipt.Items[0].Quantity
					succeeded++
					mu.Unlock()
				case canasta.ECONFLICT:
				default:
					t.Errorf("redeem %s: %v", req.RequestID, err)
				}
			}
		})
	}
	wg.Wait()

	if want := grant / quantity; succeeded != want {
		t.Errorf("%d redemptions succeeded, want %d", succeeded, want)
	}
	if got := l.balances(t)[l.rice.ID]; got != grant-redeemed || got < 0 || got >= quantity {
		t.Fatalf("remaining %d after redeeming %d of %d", got, redeemed, grant)
	}
}
