package storetest

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/canasta/canasta"
)

// RightsStore is what a store offers offline points.
type RightsStore interface {
	canasta.DeviceService
	canasta.RightsService
	canasta.HomePointService
}

// testDevice is an enrolled device with its key and journal head.
type testDevice struct {
	*canasta.Device
	key  ed25519.PrivateKey
	seq  int64
	prev []byte
}

func enrollTestDevice(tb testing.TB, rs RightsStore, pointID int64) *testDevice {
	tb.Helper()
	ctx := context.Background()
	created, token, err := rs.CreateDevice(ctx, pointID, "till 1")
	if err != nil {
		tb.Fatal(err)
	}
	pub, key, _ := ed25519.GenerateKey(nil)
	d, err := rs.EnrollDevice(ctx, token, pub)
	if err != nil {
		tb.Fatal(err)
	}
	if d.ID != created.ID || d.PointID != pointID {
		tb.Fatalf("enrolled %+v, created %+v", d, created)
	}
	return &testDevice{Device: d, key: key, prev: canasta.GenesisHash()}
}

// receipt appends a signed receipt drawing q on each right to the
// device's journal.
func (d *testDevice) receipt(householdID string, rights ...*canasta.Right) *canasta.OfflineReceipt {
	return d.receiptQ(householdID, 0, rights...)
}

func (d *testDevice) receiptQ(householdID string, q int64, rights ...*canasta.Right) *canasta.OfflineReceipt {
	d.seq++
	rc := &canasta.OfflineReceipt{DeviceID: d.ID, Seq: d.seq, Prev: d.prev, RequestID: fmt.Sprintf("r%d", d.seq),
		HouseholdID: householdID, At: Now}
	for _, r := range rights {
		n := q
		if n == 0 {
			n = 100
		}
		rc.Items = append(rc.Items, canasta.OfflineItem{RightID: r.ID, ProgramID: r.ProgramID, Quantity: n})
	}
	rc.Sign(d.key)
	d.prev = rc.Hash()
	return rc
}

// checkO1 fails unless every grant of the household keeps O1 and O3, and
// returns the balances by program.
func checkO1(tb testing.TB, rs RightsStore, householdID string) map[int64]canasta.GrantBalance {
	tb.Helper()
	bs, err := rs.FindGrantBalances(context.Background(), householdID, Period)
	if err != nil {
		tb.Fatal(err)
	}
	m := map[int64]canasta.GrantBalance{}
	for _, b := range bs {
		if b.Granted != b.Available+b.Held+b.Redeemed || b.Available < 0 || b.Held < 0 || b.Redeemed < 0 {
			tb.Fatalf("O1/O3 broken: %+v", *b)
		}
		m[b.ProgramID] = *b
	}
	return m
}

// testRights runs the offline points' tests.
func testRights(t *testing.T, opener Opener) {
	for _, tt := range []struct {
		name string
		test func(t *testing.T, opener Opener)
	}{
		{"Devices", testDevices},
		{"Reserve", testReserve},
		{"Sync", testSync},
		{"SyncOrder", testSyncOrder},
		{"HomePoint", testHomePoint},
		{"Concurrent", testRightsConcurrent},
	} {
		t.Run(tt.name, func(t *testing.T) { tt.test(t, opener) })
	}
}

func rightsLedger(t *testing.T, opener Opener) (*ledger, RightsStore) {
	l := newLedger(t, opener, ruleSizeTimes1000)
	if l.Rights == nil {
		t.Fatal("the store under test offers no RightsStore")
	}
	return l, l.Rights
}

func testDevices(t *testing.T, opener Opener) {
	l, rs := rightsLedger(t, opener)
	ctx := context.Background()
	if _, _, err := rs.CreateDevice(ctx, 999, "till"); canasta.ErrorCode(err) != canasta.ENOTFOUND {
		t.Fatalf("device for unknown point: %v", err)
	}
	if _, _, err := rs.CreateDevice(ctx, l.point.ID, " "); canasta.ErrorCode(err) != canasta.EINVALID {
		t.Fatalf("device without a name: %v", err)
	}
	d, token, err := rs.CreateDevice(ctx, l.point.ID, "till")
	if err != nil {
		t.Fatal(err)
	}
	if d.Live() || d.PointID != l.point.ID {
		t.Fatalf("new device %+v", d)
	}
	pub, _, _ := ed25519.GenerateKey(nil)
	for _, tt := range []struct {
		name  string
		token string
		key   []byte
		code  string
	}{
		{"ShortKey", token, pub[:10], canasta.EINVALID},
		{"UnknownToken", canasta.EnrollmentTokenPrefix + "nope", pub, canasta.EUNAUTHORIZED},
		{"StaffToken", canasta.NewTokenSecret(), pub, canasta.EUNAUTHORIZED},
		{"Enroll", token, pub, ""},
		{"TokenSpent", token, pub, canasta.EUNAUTHORIZED},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := rs.EnrollDevice(ctx, tt.token, tt.key)
			wantCode(t, err, tt.code)
			if err == nil && (!got.Live() || !reflect.DeepEqual([]byte(got.PublicKey), []byte(pub))) {
				t.Fatalf("enrolled %+v", got)
			}
		})
	}
	ds, err := rs.FindDevices(ctx, l.point.ID)
	if err != nil || len(ds) != 1 || ds[0].ID != d.ID {
		t.Fatalf("FindDevices = %v, %v", ds, err)
	}
	wantCode(t, rs.RevokeDevice(ctx, d.ID), "")
	wantCode(t, rs.RevokeDevice(ctx, d.ID), canasta.ECONFLICT)
	wantCode(t, rs.RevokeDevice(ctx, 999), canasta.ENOTFOUND)
	_, err = rs.ReserveRights(ctx, d.ID, []canasta.RightRequest{{HouseholdID: l.household.ID, ProgramID: l.rice.ID, Quantity: 1}})
	wantCode(t, err, canasta.EFORBIDDEN)
	_, err = rs.Sync(ctx, d.ID, &canasta.SyncBatch{})
	wantCode(t, err, canasta.EFORBIDDEN)
}

// testReserve checks that a reserved slice cannot be redeemed online and
// comes back when the right expires.
func testReserve(t *testing.T, opener Opener) {
	l, rs := rightsLedger(t, opener)
	ctx := context.Background()
	d := enrollTestDevice(t, rs, l.point.ID)

	got, err := rs.ReserveRights(ctx, d.ID, []canasta.RightRequest{{HouseholdID: l.household.ID, ProgramID: l.rice.ID, Quantity: 1500}})
	if err != nil {
		t.Fatal(err)
	}
	if r := got[0]; r.Quantity != 1500 || r.Held != 1500 || r.DeviceID != d.ID || r.PointID != l.point.ID || !r.ExpiresAt.After(Now) {
		t.Fatalf("right %+v", *r)
	}
	if b := checkO1(t, rs, l.household.ID)[l.rice.ID]; b.Available != 500 || b.Held != 1500 || b.Redeemed != 0 {
		t.Fatalf("after reserving: %+v", b)
	}
	// The household, the portal and a point's card check see the slice as
	// held, not as redeemed.
	ents, err := l.Entitlements.FindEntitlements(ctx, l.household.ID, Period)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.ProgramID == l.rice.ID && (e.Held != 1500 || e.Redeemed != 0 || e.Remaining != 500 || e.Granted != e.Redeemed+e.Held+e.Remaining) {
			t.Fatalf("rice entitlement after reserving: %+v", *e)
		}
	}
	_, _, err = l.Redemptions.Redeem(ctx, l.request("online-1", item(l.rice, 600)))
	wantCode(t, err, canasta.ECONFLICT)
	if _, _, err := l.Redemptions.Redeem(ctx, l.request("online-2", item(l.rice, 500))); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		reqs []canasta.RightRequest
		code string
	}{
		{"MoreThanAvailable", []canasta.RightRequest{{HouseholdID: l.household.ID, ProgramID: l.rice.ID, Quantity: 1}}, canasta.ECONFLICT},
		{"AllOrNone", []canasta.RightRequest{{HouseholdID: l.household.ID, ProgramID: l.oil.ID, Quantity: 100}, {HouseholdID: l.household.ID, ProgramID: l.rice.ID, Quantity: 1}}, canasta.ECONFLICT},
		{"NoGrant", []canasta.RightRequest{{HouseholdID: l.household.ID, ProgramID: l.other.ID, Quantity: 1}}, canasta.ENOTFOUND},
		{"UnknownHousehold", []canasta.RightRequest{{HouseholdID: "hh_nobody", ProgramID: l.rice.ID, Quantity: 1}}, canasta.ENOTFOUND},
		{"Zero", []canasta.RightRequest{{HouseholdID: l.household.ID, ProgramID: l.rice.ID}}, canasta.EINVALID},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := rs.ReserveRights(ctx, d.ID, tt.reqs)
			wantCode(t, err, tt.code)
		})
	}
	if b := checkO1(t, rs, l.household.ID)[l.oil.ID]; b.Available != 500 {
		t.Fatalf("a refused request reserved oil: %+v", b)
	}

	// Expiry returns the unused slice.
	l.clock.Set(Now.Add(canasta.DefaultRightTTL + time.Minute))
	if n, err := rs.ExpireRights(ctx); err != nil || n != 1 {
		t.Fatalf("ExpireRights = %d, %v", n, err)
	}
	if b := checkO1(t, rs, l.household.ID)[l.rice.ID]; b.Available != 1500 || b.Held != 0 || b.Redeemed != 500 {
		t.Fatalf("after expiry: %+v", b)
	}
}

// testSync checks posting: escrow first, duplicates, forks, foreign
// rights, losses, late receipts after expiry and revocation.
func testSync(t *testing.T, opener Opener) {
	l, rs := rightsLedger(t, opener)
	ctx := context.Background()
	if err := rs.SetHomePoint(ctx, l.household.ID, l.point.ID); err != nil {
		t.Fatal(err)
	}
	wantCode(t, rs.SetHomePoint(ctx, l.household.ID, 999), canasta.ENOTFOUND)
	d := enrollTestDevice(t, rs, l.point.ID)
	other := enrollTestDevice(t, rs, mustCreatePoint(t, l.Store).ID)

	res, err := rs.Sync(ctx, d.ID, &canasta.SyncBatch{})
	if err != nil {
		t.Fatal(err)
	}
	// The home point's device holds the household's whole month.
	if len(res.Rights) != 2 {
		t.Fatalf("home rights %+v", res.Rights)
	}
	rice, oil := res.Rights[0], res.Rights[1]
	if rice.ProgramID != l.rice.ID {
		rice, oil = oil, rice
	}
	if rice.Held != 2000 || oil.Held != 500 {
		t.Fatalf("home rights rice %+v oil %+v", *rice, *oil)
	}
	if b := checkO1(t, rs, l.household.ID)[l.rice.ID]; b.Available != 0 {
		t.Fatalf("home reservation left %+v", b)
	}

	r1 := d.receipt(l.household.ID, rice, oil)
	r2 := d.receiptQ(l.household.ID, 1950, rice) // 50 beyond the right
	forged := *r2
	forged.Items = []canasta.OfflineItem{{RightID: rice.ID, ProgramID: rice.ProgramID, Quantity: 1}}
	forged.Sign(d.key)
	badSig := *d.receipt(l.household.ID, oil)
	badSig.Signature = append([]byte(nil), badSig.Signature...)
	badSig.Signature[0] ^= 1
	d.seq-- // the bad receipt never made it into the journal
	d.prev = r2.Hash()
	theirs := other.receipt(l.household.ID, rice)
	stolen := d.receipt(l.household.ID, rice)
	stolen.Sign(other.key)

	res, err = rs.Sync(ctx, d.ID, &canasta.SyncBatch{Receipts: []*canasta.OfflineReceipt{r2, r1, r1, &forged, &badSig, theirs, stolen}})
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		status       string
		posted, lost int64
	}{
		{canasta.ReceiptPosted, 1950, 0},
		{canasta.ReceiptPosted, 50 + 100, 50},
		{canasta.ReceiptDuplicate, 150, 50},
		{canasta.ReceiptRejected, 0, 0}, // fork of r2
		{canasta.ReceiptRejected, 0, 0}, // bad signature
		{canasta.ReceiptRejected, 0, 0}, // another device's receipt
		{canasta.ReceiptRejected, 0, 0}, // signed with another key
	}
	for i, w := range want {
		got := res.Receipts[i]
		if got.Status != w.status || got.Posted != w.posted || got.Lost != w.lost {
			t.Errorf("receipt %d: %+v, want %+v", i, got, w)
		}
	}
	if b := checkO1(t, rs, l.household.ID)[l.rice.ID]; b.Redeemed != 2000 || b.Held != 0 || b.Available != 0 {
		t.Fatalf("rice after sync: %+v", b)
	}
	losses, err := rs.FindLosses(ctx, l.point.ID)
	if err != nil || len(losses) != 1 || losses[0].Quantity != 50 || losses[0].HouseholdID != l.household.ID {
		t.Fatalf("losses %v, %v", losses, err)
	}

	// A right drawn by a foreign device's receipt is refused even with
	// its own key.
	if rr, err := rs.PostReceipts(ctx, other.ID, []*canasta.OfflineReceipt{other.receipt(l.household.ID, oil)}); err != nil || rr[0].Status != canasta.ReceiptRejected {
		t.Fatalf("foreign right: %+v, %v", rr, err)
	}

	// Revocation releases the oil still held (400); a receipt arriving
	// afterwards posts only against what the household still has.
	if _, _, err := l.Redemptions.Redeem(ctx, l.request("after-release", item(l.oil, 1))); canasta.ErrorCode(err) != canasta.ECONFLICT {
		t.Fatalf("oil redeemed online while held: %v", err)
	}
	wantCode(t, rs.RevokeDevice(ctx, d.ID), "")
	if b := checkO1(t, rs, l.household.ID)[l.oil.ID]; b.Available != 400 || b.Held != 0 {
		t.Fatalf("oil after revocation: %+v", b)
	}
	if _, _, err := l.Redemptions.Redeem(ctx, l.request("after-revoke", item(l.oil, 350))); err != nil {
		t.Fatal(err)
	}
	late := d.receiptQ(l.household.ID, 200, oil)
	rr, err := rs.PostReceipts(ctx, d.ID, []*canasta.OfflineReceipt{late})
	if err != nil || rr[0].Status != canasta.ReceiptPosted || rr[0].Posted != 50 || rr[0].Lost != 150 {
		t.Fatalf("late receipt: %+v, %v", rr, err)
	}
	if b := checkO1(t, rs, l.household.ID)[l.oil.ID]; b.Available != 0 || b.Redeemed != 500 {
		t.Fatalf("oil after late receipt: %+v", b)
	}
	// Replaying everything changes nothing.
	before := checkO1(t, rs, l.household.ID)
	if _, err := rs.PostReceipts(ctx, d.ID, []*canasta.OfflineReceipt{late, r1, r2}); err != nil {
		t.Fatal(err)
	}
	if after := checkO1(t, rs, l.household.ID); !reflect.DeepEqual(before, after) {
		t.Fatalf("replay changed balances: %v -> %v", before, after)
	}
}

// testSyncOrder posts the same journal in two orders to two stores and
// checks they end alike (O4).
func testSyncOrder(t *testing.T, opener Opener) {
	end := make([]map[int64]canasta.GrantBalance, 2)
	for run, order := range [][]int{{0, 1, 2, 3}, {3, 1, 0, 2, 2, 1}} {
		l, rs := rightsLedger(t, opener)
		ctx := context.Background()
		d := enrollTestDevice(t, rs, l.point.ID)
		got, err := rs.ReserveRights(ctx, d.ID, []canasta.RightRequest{{HouseholdID: l.household.ID, ProgramID: l.rice.ID, Quantity: 1000}})
		if err != nil {
			t.Fatal(err)
		}
		var journal []*canasta.OfflineReceipt
		for range 4 {
			journal = append(journal, d.receiptQ(l.household.ID, 250, got[0]))
		}
		var batch []*canasta.OfflineReceipt
		for _, i := range order {
			batch = append(batch, journal[i])
		}
		res, err := rs.Sync(ctx, d.ID, &canasta.SyncBatch{Receipts: batch})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res.Receipts {
			if r.Status == canasta.ReceiptRejected || r.Lost != 0 {
				t.Fatalf("run %d: %+v", run, r)
			}
		}
		end[run] = checkO1(t, rs, l.household.ID)
		for k, b := range end[run] {
			b.HouseholdID = ""
			end[run][k] = b
		}
	}
	if !reflect.DeepEqual(end[0], end[1]) {
		t.Fatalf("order changed the outcome: %v vs %v", end[0], end[1])
	}
}

// testHomePoint checks that a household keeps the home point it was
// registered with, and that it can be changed.
func testHomePoint(t *testing.T, opener Opener) {
	l, rs := rightsLedger(t, opener)
	ctx := staff(canasta.PurposeEnrollment)
	second := mustCreatePoint(t, l.Store)
	h := NewHousehold(2, 1)
	h.HomePointID = l.point.ID
	mustCreateHousehold(t, l.Store, h)
	got, err := l.Households.FindHouseholdByID(ctx, h.ID)
	if err != nil || got.HomePointID != l.point.ID {
		t.Fatalf("home point read back %+v, %v", got, err)
	}
	wantCode(t, rs.SetHomePoint(context.Background(), h.ID, second.ID), "")
	wantCode(t, rs.SetHomePoint(context.Background(), "hh_nobody", second.ID), canasta.ENOTFOUND)
	if got, err = l.Households.FindHouseholdByID(ctx, h.ID); err != nil || got.HomePointID != second.ID {
		t.Fatalf("home point after change %+v, %v", got, err)
	}
	bad := NewHousehold(3, 1)
	bad.HomePointID = 999
	wantCode(t, l.Households.CreateHousehold(context.Background(), bad), canasta.EINVALID)
	if got, err := l.Households.FindHouseholdByID(ctx, l.household.ID); err != nil || got.HomePointID != 0 {
		t.Fatalf("household without a home point: %+v, %v", got, err)
	}
}

// testRightsConcurrent runs online redemptions, reservations, syncs and
// expiries at once, and checks that the accounts still balance: O1 for
// every grant, and redeemed equals what online redemptions and posted
// receipts took.
func testRightsConcurrent(t *testing.T, opener Opener) {
	l, rs := rightsLedger(t, opener)
	ctx := context.Background()
	devices := []*testDevice{enrollTestDevice(t, rs, l.point.ID), enrollTestDevice(t, rs, l.point.ID)}
	var (
		mu              sync.Mutex
		online, posted  int64
		handedOut, lost int64
		wg              sync.WaitGroup
	)
	for g := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 15 {
				r, _, err := l.Redemptions.Redeem(ctx, l.request(fmt.Sprintf("online-%d-%d", g, i), item(l.rice, 40)))
				if err == nil {
					mu.Lock()
					online += r.Items[0].Quantity
					mu.Unlock()
				} else if canasta.ErrorCode(err) != canasta.ECONFLICT {
					t.Error(err)
					return
				}
			}
		}()
	}
	for _, d := range devices {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 15 {
				got, err := rs.ReserveRights(ctx, d.ID, []canasta.RightRequest{{HouseholdID: l.household.ID, ProgramID: l.rice.ID, Quantity: 40}})
				if canasta.ErrorCode(err) == canasta.ECONFLICT {
					continue
				} else if err != nil {
					t.Error(err)
					return
				}
				rc := d.receiptQ(l.household.ID, 30, got[0])
				res, err := rs.Sync(ctx, d.ID, &canasta.SyncBatch{Receipts: []*canasta.OfflineReceipt{rc}})
				if err != nil {
					t.Error(err)
					return
				}
				r := res.Receipts[0]
				if r.Status != canasta.ReceiptPosted || r.Posted+r.Lost != 30 {
					t.Errorf("receipt %+v", r)
					return
				}
				mu.Lock()
				handedOut += 30
				posted += r.Posted
				lost += r.Lost
				mu.Unlock()
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 15 {
			l.clock.Set(Now.Add(time.Duration(i*6) * time.Hour))
			if _, err := rs.ExpireRights(ctx); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	wg.Wait()
	b := checkO1(t, rs, l.household.ID)[l.rice.ID]
	if b.Redeemed != online+posted {
		t.Fatalf("rice %+v: redeemed should be online %d + posted %d", b, online, posted)
	}
	if posted+lost != handedOut || posted == 0 {
		t.Fatalf("posted %d + lost %d != handed out %d (online %d)", posted, lost, handedOut, online)
	}
}
