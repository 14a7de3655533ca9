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
		CreatedAt: Now, Audit: first.Audit}
	if replay || first.ID == 0 || !reflect.DeepEqual(first, want) {
		t.Fatalf("receipt %+v (replay %v), want %+v", first, replay, want)
	}
	// The receipt names its audit entry, which was appended with it.
	if entries := auditLeaves(t, l.Store); first.Audit == nil || first.Audit.Index >= int64(len(entries)) ||
		entries[first.Audit.Index].Type != canasta.AuditRedemption || entries[first.Audit.Index].Objects["request_id"] != "r1" {
		t.Fatalf("receipt's audit reference %+v does not name its redemption entry", first.Audit)
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

// batcher returns the store's group-commit path; every store has one.
func batcher(tb testing.TB, s canasta.RedemptionService) canasta.RedemptionBatcher {
	tb.Helper()
	b, ok := s.(canasta.RedemptionBatcher)
	if !ok {
		tb.Fatalf("%T cannot commit redemptions in batches", s)
	}
	return b
}

// testRedeemBatch sends one batch in which each request is decided against
// what the requests before it left: the household has 2000 g of rice and
// 500 ml of oil.
func testRedeemBatch(t *testing.T, opener Opener) {
	l := newLedger(t, opener, ruleSizeTimes1000)
	s := batcher(t, l.Redemptions)
	ctx := context.Background()
	odd := "ünï \"cödé\" \\ \u2028\t€" // must survive however the store passes the batch's ids

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
			if len(r.Items) != len(st.left) {
				t.Fatalf("items %+v, want %d", r.Items, len(st.left))
			}
			for j, left := range st.left {
				if r.Items[j].Remaining != left || r.Items[j].Quantity != st.req.Items[j].Quantity || r.Items[j].ProgramID != st.req.Items[j].ProgramID {
					t.Fatalf("item %d is %+v, want %+v with %d left", j, r.Items[j], st.req.Items[j], left)
				}
			}
			if r.RequestID != st.req.RequestID || r.HouseholdID != l.household.ID || r.PointID != l.point.ID || r.Period != Period || !r.CreatedAt.Equal(Now) {
				t.Fatalf("receipt %+v", *r)
			}
			if !st.replay {
				if r.ID <= lastID {
					t.Fatalf("receipt id %d after %d: ids must follow the batch's order", r.ID, lastID)
				}
				lastID = r.ID
			}
			// L3: what the batch answered is what was committed.
			stored, err := l.Redemptions.FindRedemptionByRequestID(ctx, st.req.RequestID)
			if err != nil || !reflect.DeepEqual(stored, r) {
				t.Fatalf("stored %+v (%v), answered %+v", stored, err, *r)
			}
		})
	}
	if got := l.balances(t, l.Store); got[l.rice.ID] != 0 || got[l.oil.ID] != 0 {
		t.Fatalf("balances %v, want rice and oil used up exactly", got)
	}
	// Each accepted receipt names its own audit entry, appended in the
	// batch's transaction; refusals and replays append nothing.
	entries := auditLeaves(t, l.Store)
	redemptions := 0
	for _, e := range entries {
		if e.Type == canasta.AuditRedemption {
			redemptions++
		}
	}
	accepted := 0
	for i, st := range steps {
		if st.code != "" || st.replay {
			continue
		}
		accepted++
		a := results[i].Receipt.Audit
		if a == nil || a.Index >= int64(len(entries)) || entries[a.Index].Type != canasta.AuditRedemption ||
			entries[a.Index].Objects["request_id"] != st.req.RequestID {
			t.Fatalf("%s: receipt's audit reference %+v does not name its entry", st.name, a)
		}
	}
	if redemptions != accepted {
		t.Fatalf("%d redemption entries for %d accepted requests", redemptions, accepted)
	}
	for _, id := range []string{"b", "d", "f", "g", "h", "i"} {
		if _, err := l.Redemptions.FindRedemptionByRequestID(ctx, id); canasta.ErrorCode(err) != canasta.ENOTFOUND {
			t.Fatalf("refused request %s left a receipt (err %v)", id, err)
		}
	}

	t.Run("ReplayOfEarlierBatch", func(t *testing.T) {
		first, err := l.Redemptions.FindRedemptionByRequestID(ctx, "a")
		if err != nil {
			t.Fatal(err)
		}
		results, err := s.RedeemBatch(ctx, []*canasta.RedemptionRequest{
			l.request("a", item(l.rice, 1400)),
			l.request(odd, item(l.rice, 1)),
		})
		if err != nil {
			t.Fatal(err)
		}
		if !results[0].Replay || results[0].Err != nil || !reflect.DeepEqual(results[0].Receipt, first) {
			t.Fatalf("replay of a: %+v, want %+v", results[0], first)
		}
		wantCode(t, results[1].Err, canasta.ECONFLICT)
	})

	t.Run("AllRefused", func(t *testing.T) {
		results, err := s.RedeemBatch(ctx, []*canasta.RedemptionRequest{l.request("j", item(l.rice, 1))})
		if err != nil {
			t.Fatal(err)
		}
		wantCode(t, results[0].Err, canasta.ECONFLICT)
	})
}

// testRedeemBatchConcurrent races batches through two handles, as two
// servers would, against one grant, with single redemptions among them,
// and with every request id sent twice, by two different workers. L2: the
// balance never goes below zero; L4: each request id has at most one
// effect and one receipt; L1: the grant less the receipts is what remains.
func testRedeemBatchConcurrent(t *testing.T, opener Opener) {
	const (
		workers  = 8
		batches  = 6
		perBatch = 8
		quantity = 7
		grant    = 1000
	)
	l := newLedger(t, opener, fmt.Sprint(grant))
	services := []canasta.RedemptionService{l.Redemptions, l.Reopen(t).Redemptions}

	var (
		mu       sync.Mutex
		receipts = map[string]*canasta.Redemption{}
		refused  = map[string]bool{}
		wg       sync.WaitGroup
	)
	record := func(id string, r *canasta.Redemption, err error) {
		mu.Lock()
		defer mu.Unlock()
		switch canasta.ErrorCode(err) {
		case "":
			// The twin call, or this one, may be the replay: either way
			// both must carry the same receipt.
			if prev := receipts[id]; prev != nil && !reflect.DeepEqual(prev, r) {
				t.Errorf("request %s answered with two receipts: %+v and %+v", id, prev, r)
			}
			receipts[id] = r
		case canasta.ECONFLICT:
			refused[id] = true
		default:
			t.Errorf("redeem %s: %v", id, err)
		}
	}
	for w := range workers {
		wg.Go(func() {
			s := services[w%2]
			for n := range batches {
				// Workers w and w^1 send the same request ids, through the
				// two handles, in the opposite order.
				var reqs []*canasta.RedemptionRequest
				for i := range perBatch {
					j := i
					if w%2 == 1 {
						j = perBatch - 1 - i
					}
					reqs = append(reqs, l.request(fmt.Sprintf("p%d-b%d-r%d", w/2, n, j), item(l.rice, quantity)))
				}
				if n%3 == 2 {
					// A single redemption among the batches.
					for _, req := range reqs {
						r, _, err := s.Redeem(context.Background(), req)
						record(req.RequestID, r, err)
					}
					continue
				}
				results, err := batcher(t, s).RedeemBatch(context.Background(), reqs)
				if err != nil {
					t.Errorf("batch: %v", err)
					continue
				}
				for i, res := range results {
					record(reqs[i].RequestID, res.Receipt, res.Err)
				}
			}
		})
	}
	wg.Wait()

	var redeemed int64
	for id, r := range receipts {
		// Both calls carried the same body: once one took effect, the
		// other is its replay, never a refusal for want of balance.
		if refused[id] {
			t.Errorf("request %s was both accepted, as %+v, and refused", id, r)
		}
		stored, err := l.Redemptions.FindRedemptionByRequestID(context.Background(), id)
		if err != nil || !reflect.DeepEqual(stored, r) {
			t.Fatalf("request %s: stored %+v (%v), answered %+v", id, stored, err, r)
		}
		redeemed += r.Items[0].Quantity
	}
	if want := grant / quantity; len(receipts) != want {
		t.Errorf("%d request ids took effect, want %d", len(receipts), want)
	}
	if got := l.balances(t, l.Store)[l.rice.ID]; got != grant-redeemed || got < 0 || got >= quantity {
		t.Fatalf("remaining %d after receipts for %d of %d", got, redeemed, grant)
	}
}
