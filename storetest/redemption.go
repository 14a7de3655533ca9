package storetest

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canasta/canasta"
)

// ledger is a household with current grants of rice (size*1000 g, so
// 2000 g for two members, unless riceQuantity says otherwise) and oil
// (500 ml), and a point to redeem at.
type ledger struct {
	*fixture
	household *canasta.Household
	point     *canasta.Point
	rice, oil *canasta.Program
	other     *canasta.Program // granted to nobody
}

func newLedger(tb testing.TB, opener Opener, riceQuantity string) *ledger {
	tb.Helper()
	l := &ledger{fixture: open(tb, opener)}
	l.household = mustCreateHousehold(tb, l.Store, NewHousehold(1, 2))
	l.point = mustCreatePoint(tb, l.Store)
	l.rice = mustCreateProgram(tb, l.Store, "Rice", "rice", canasta.UnitGram, "true", riceQuantity)
	l.oil = mustCreateProgram(tb, l.Store, "Oil", "oil", canasta.UnitMillilitre, "true", "500")
	l.other = mustCreateProgram(tb, l.Store, "Nobody", "salt", canasta.UnitGram, "false", "1")
	if _, err := l.Cycles.RunCycle(context.Background(), Period, nil); err != nil {
		tb.Fatal(err)
	}
	return l
}

func (l *ledger) request(id string, items ...canasta.RedemptionItem) *canasta.RedemptionRequest {
	return &canasta.RedemptionRequest{RequestID: id, PointID: l.point.ID, HouseholdID: l.household.ID, Items: items}
}

// balances returns remaining quantities by program id, read through st.
func (l *ledger) balances(tb testing.TB, st *Store) map[int64]int64 {
	tb.Helper()
	ents, err := st.Entitlements.FindEntitlements(context.Background(), l.household.ID, Period)
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

func testRedeem(t *testing.T, opener Opener) {
	l := newLedger(t, opener, ruleSizeTimes1000)
	s := l.Redemptions
	ctx := context.Background()

	first, replay, err := s.Redeem(ctx, l.request("r1", item(l.rice, 1500), item(l.oil, 200)))
	if err != nil {
		t.Fatal(err)
	}
	want := &canasta.Redemption{ID: first.ID, RequestID: "r1", HouseholdID: l.household.ID, PointID: l.point.ID, Period: Period,
		Items:     []canasta.RedemptionItem{{ProgramID: l.rice.ID, Quantity: 1500, Remaining: 500}, {ProgramID: l.oil.ID, Quantity: 200, Remaining: 300}},
		CreatedAt: Now}
	if replay || first.ID == 0 || !reflect.DeepEqual(first, want) {
		t.Fatalf("receipt %+v (replay %v), want %+v", first, replay, want)
	}
	if got := l.balances(t, l.Store); got[l.rice.ID] != 500 || got[l.oil.ID] != 300 {
		t.Fatalf("balances %v after redeeming, want rice 500 and oil 300", got)
	}

	t.Run("ItemsKeepRequestOrder", func(t *testing.T) {
		r, _, err := s.Redeem(ctx, l.request("r0", item(l.oil, 1), item(l.rice, 1)))
		if err != nil {
			t.Fatal(err)
		}
		wantItems := []canasta.RedemptionItem{{ProgramID: l.oil.ID, Quantity: 1, Remaining: 299}, {ProgramID: l.rice.ID, Quantity: 1, Remaining: 499}}
		if !reflect.DeepEqual(r.Items, wantItems) {
			t.Fatalf("items %+v, want %+v", r.Items, wantItems)
		}
		found, err := s.FindRedemptionByRequestID(ctx, "r0")
		if err != nil || !reflect.DeepEqual(found, r) {
			t.Fatalf("found %+v (%v), want %+v", found, err, r)
		}
	})

	t.Run("ReplayReturnsSameReceipt", func(t *testing.T) {
		l.clock.Set(Now.Add(time.Minute))
		defer l.clock.Set(Now)
		before := l.balances(t, l.Store)
		again, replay, err := s.Redeem(ctx, l.request("r1", item(l.rice, 1500), item(l.oil, 200)))
		if err != nil {
			t.Fatal(err)
		}
		if !replay || !reflect.DeepEqual(again, first) {
			t.Fatalf("replay %+v (replay %v), want the first receipt %+v", again, replay, first)
		}
		if after := l.balances(t, l.Store); !reflect.DeepEqual(after, before) {
			t.Fatalf("replay debited again: balances %v, before %v", after, before)
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
		{"SameRequestIDOtherHousehold", func() *canasta.RedemptionRequest {
			r := l.request("r1", item(l.rice, 1500), item(l.oil, 200))
			r.HouseholdID = "hh_none"
			return r
		}(), canasta.ECONFLICT, "already used"},
		{"OverQuotaDebitsNothing", l.request("r2", item(l.oil, 100), item(l.rice, 500)), canasta.ECONFLICT, "Only 499 g of rice remain"},
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
		{"NoRequestID", l.request("", item(l.rice, 1)), canasta.EINVALID, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := l.balances(t, l.Store)
			_, _, err := s.Redeem(ctx, tt.req)
			wantCode(t, err, tt.code)
			if !strings.Contains(canasta.ErrorMessage(err), tt.msg) {
				t.Fatalf("message %q does not mention %q", canasta.ErrorMessage(err), tt.msg)
			}
			if after := l.balances(t, l.Store); !reflect.DeepEqual(after, before) {
				t.Fatalf("a refused redemption changed balances from %v to %v", before, after)
			}
			if _, err := s.FindRedemptionByRequestID(ctx, tt.req.RequestID); tt.req.RequestID != "r1" && canasta.ErrorCode(err) != canasta.ENOTFOUND {
				t.Fatalf("a refused redemption left a receipt (err %v)", err)
			}
		})
	}

	t.Run("RefusedRequestIDCanBeRetried", func(t *testing.T) {
		// r2 was refused and had no effect, so it is not yet spent.
		r, replay, err := s.Redeem(ctx, l.request("r2", item(l.rice, 499)))
		if err != nil || replay || r.Items[0].Remaining != 0 {
			t.Fatalf("retry: %+v, replay %v, err %v; want rice down to 0", r, replay, err)
		}
		_, _, err = s.Redeem(ctx, l.request("r11", item(l.rice, 1)))
		wantCode(t, err, canasta.ECONFLICT)
	})

	t.Run("NextMonthHasNoGrantYet", func(t *testing.T) {
		l.clock.Set(time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC))
		defer l.clock.Set(Now)
		_, _, err := s.Redeem(ctx, l.request("r10", item(l.oil, 1)))
		wantCode(t, err, canasta.ENOTFOUND)
	})
}

// testRedeemConcurrent races 16 goroutines of 20 requests each against one
// grant, half of them through a second handle on the database as another
// server would. The balance must never go below zero and must equal the
// grant less the sum of the receipts.
func testRedeemConcurrent(t *testing.T, opener Opener) {
	const (
		workers  = 16
		requests = 20
		quantity = 7
		grant    = 1000
	)
	l := newLedger(t, opener, fmt.Sprint(grant))
	services := []canasta.RedemptionService{l.Redemptions, l.Reopen(t).Redemptions}

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
				receipt, replay, err := s.Redeem(context.Background(), req)
				switch canasta.ErrorCode(err) {
				case "":
					if replay {
						t.Errorf("redeem %s: a first request was answered as a replay", req.RequestID)
					}
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
	if got := l.balances(t, l.Store)[l.rice.ID]; got != grant-redeemed || got < 0 || got >= quantity {
		t.Fatalf("remaining %d after redeeming %d of %d", got, redeemed, grant)
	}
}

// testRedeemConcurrentSameRequestID sends one request id from many
// goroutines through two handles at once, half with one body and half
// with another: it has exactly one effect, every call with the winning
// body gets the same receipt, and every call with the other gets
// ECONFLICT.
func testRedeemConcurrentSameRequestID(t *testing.T, opener Opener) {
	l := newLedger(t, opener, "100000")
	services := []canasta.RedemptionService{l.Redemptions, l.Reopen(t).Redemptions}
	const calls = 8

	for round := range 10 {
		id := fmt.Sprintf("dup-%d", round)
		before := l.balances(t, l.Store)[l.rice.ID]
		bodies := []int64{10, 20}
		receipts := make([]*canasta.Redemption, calls)
		replays := make([]bool, calls)
		errs := make([]error, calls)
		var wg sync.WaitGroup
		for c := range calls {
			wg.Go(func() {
				receipts[c], replays[c], errs[c] = services[c%2].Redeem(context.Background(), l.request(id, item(l.rice, bodies[c/2%2])))
			})
		}
		wg.Wait()

		var winner *canasta.Redemption
		for c := range calls {
			if errs[c] == nil && !replays[c] {
				if winner != nil {
					t.Fatalf("round %d: request id %s took effect twice: %+v and %+v", round, id, winner, receipts[c])
				}
				winner = receipts[c]
			}
		}
		if winner == nil {
			t.Fatalf("round %d: no call took effect: %v", round, errs)
		}
		for c := range calls {
			switch q := bodies[c/2%2]; {
			case q == winner.Items[0].Quantity:
				if errs[c] != nil || !reflect.DeepEqual(receipts[c], winner) {
					t.Fatalf("round %d call %d with the winning body: %+v, %v; want the receipt %+v", round, c, receipts[c], errs[c], winner)
				}
			default:
				wantCode(t, errs[c], canasta.ECONFLICT)
			}
		}
		if after := l.balances(t, l.Store)[l.rice.ID]; after != before-winner.Items[0].Quantity {
			t.Fatalf("round %d: rice went from %d to %d; want one debit of %d", round, before, after, winner.Items[0].Quantity)
		}
	}
}

// testRedeemConcurrentItemOrder redeems two programs at once from many
// goroutines, half naming them in one order and half in the other. No
// redemption may fail: two of them locking the same balances in opposite
// orders must not deadlock.
func testRedeemConcurrentItemOrder(t *testing.T, opener Opener) {
	l := newLedger(t, opener, ruleSizeTimes1000)
	services := []canasta.RedemptionService{l.Redemptions, l.Reopen(t).Redemptions}
	const workers, requests = 8, 25

	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for r := range requests {
				items := []canasta.RedemptionItem{item(l.rice, 1), item(l.oil, 1)}
				if (w+r)%2 == 1 {
					items[0], items[1] = items[1], items[0]
				}
				req := l.request(fmt.Sprintf("w%d-r%d", w, r), items...)
				if _, _, err := services[w%2].Redeem(context.Background(), req); err != nil {
					t.Errorf("redeem %s: %v", req.RequestID, err)
				}
			}
		})
	}
	wg.Wait()
	if got := l.balances(t, l.Store); got[l.rice.ID] != 2000-workers*requests || got[l.oil.ID] != 500-workers*requests {
		t.Fatalf("balances %v, want rice %d and oil %d", got, 2000-workers*requests, 500-workers*requests)
	}
}
