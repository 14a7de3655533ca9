package point_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/canasta/canasta"
	"github.com/canasta/canasta/point"
)

// The red team: a device that inflates its own rights, replays old
// batches, clones another device's key, sets its clock back, or syncs
// after its rights expired. Each attack goes through the real API and
// store; none may take a household past its grant.

func TestRedTeam_InflatedRights(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	home := w.device(t, w.points[0])
	res, err := home.Sync(ctx, &canasta.SyncBatch{})
	if err != nil {
		t.Fatal(err)
	}
	oil := rightFor(t, res.Rights, w.oil) // the whole 500 ml, as home point
	j := newJournal(home)
	for _, tt := range []struct {
		name         string
		receipt      *canasta.OfflineReceipt
		status       string
		posted, lost int64
	}{
		// The device claims more than its right holds.
		{"BeyondRight", j.next(w.household, canasta.OfflineItem{RightID: oil.ID, ProgramID: w.oil, Quantity: 900}), canasta.ReceiptPosted, 500, 400},
		// It draws on a right it was never given.
		{"UnknownRight", j.next(w.household, canasta.OfflineItem{RightID: oil.ID + 1000, ProgramID: w.oil, Quantity: 1}), canasta.ReceiptRejected, 0, 0},
		// It relabels its oil right as rice.
		{"RelabelledRight", j.next(w.household, canasta.OfflineItem{RightID: oil.ID, ProgramID: w.rice, Quantity: 1}), canasta.ReceiptRejected, 0, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, err := home.Sync(ctx, &canasta.SyncBatch{Receipts: []*canasta.OfflineReceipt{tt.receipt}})
			if err != nil {
				t.Fatal(err)
			}
			got := res.Receipts[0]
			if got.Status != tt.status || got.Posted != tt.posted || got.Lost != tt.lost {
				t.Fatalf("got %+v, want %s posted %d lost %d", got, tt.status, tt.posted, tt.lost)
			}
		})
	}
	if b := w.balance(t, w.oil); b.Redeemed != 500 {
		t.Fatalf("oil %+v: the household was charged beyond its grant or the device's right", b)
	}
	// Asking the server for more than remains is refused whole.
	if _, err := home.Reserve(ctx, []canasta.RightRequest{{HouseholdID: w.household, ProgramID: w.rice, Quantity: 1}}); canasta.ErrorCode(err) != canasta.ECONFLICT {
		t.Fatalf("reserve beyond the grant: %v", err)
	}
	// A device of another point cannot post against this device's right.
	other := w.device(t, w.points[1])
	oj := newJournal(other)
	res, err = other.Sync(ctx, &canasta.SyncBatch{Receipts: []*canasta.OfflineReceipt{oj.next(w.household, canasta.OfflineItem{RightID: oil.ID, ProgramID: w.oil, Quantity: 1})}})
	if err != nil || res.Receipts[0].Status != canasta.ReceiptRejected {
		t.Fatalf("foreign right: %+v, %v", res, err)
	}
}

func TestRedTeam_ReplayedBatches(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	home := w.device(t, w.points[0])
	res, err := home.Sync(ctx, &canasta.SyncBatch{})
	if err != nil {
		t.Fatal(err)
	}
	rice := rightFor(t, res.Rights, w.rice)
	j := newJournal(home)
	batch := &canasta.SyncBatch{Receipts: []*canasta.OfflineReceipt{
		j.next(w.household, canasta.OfflineItem{RightID: rice.ID, ProgramID: w.rice, Quantity: 300}),
		j.next(w.household, canasta.OfflineItem{RightID: rice.ID, ProgramID: w.rice, Quantity: 200}),
	}}
	body, _ := json.Marshal(batch)
	req, _ := http.NewRequest("POST", w.srv.URL()+"/api/v1/device/sync", bytes.NewReader(body))
	point.SignRequest(req, home.DeviceID, home.Key, w.clock.Now(), body)
	send := func() int {
		r := req.Clone(ctx)
		r.Body = io.NopCloser(bytes.NewReader(body))
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := send(); got != http.StatusOK {
		t.Fatalf("first send: %d", got)
	}
	after := w.balance(t, w.rice)
	if after.Redeemed != 500 {
		t.Fatalf("rice after sync %+v", after)
	}
	t.Run("SameSignedRequest", func(t *testing.T) {
		if got := send(); got != http.StatusUnauthorized {
			t.Fatalf("captured request replayed: %d, want 401", got)
		}
	})
	t.Run("SameReceiptsFreshSignature", func(t *testing.T) {
		res, err := home.Sync(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res.Receipts {
			if r.Status != canasta.ReceiptDuplicate {
				t.Fatalf("replayed receipt %+v", r)
			}
		}
	})
	t.Run("Reordered", func(t *testing.T) {
		rs := batch.Receipts
		if _, err := home.Sync(ctx, &canasta.SyncBatch{Receipts: []*canasta.OfflineReceipt{rs[1], rs[0], rs[1]}}); err != nil {
			t.Fatal(err)
		}
	})
	if b := w.balance(t, w.rice); b != after {
		t.Fatalf("replays changed the ledger: %+v -> %+v", after, b)
	}
}

func TestRedTeam_ClonedKey(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	home := w.device(t, w.points[0])
	res, err := home.Sync(ctx, &canasta.SyncBatch{})
	if err != nil {
		t.Fatal(err)
	}
	rice := rightFor(t, res.Rights, w.rice)

	t.Run("OwnIdentityStolenKey", func(t *testing.T) {
		// Another enrolled device signs with the stolen key but its own id.
		thief := w.device(t, w.points[1])
		thief.Key = home.Key
		if _, err := thief.Sync(ctx, &canasta.SyncBatch{}); canasta.ErrorCode(err) != canasta.EUNAUTHORIZED {
			t.Fatalf("sync with another device's key: %v", err)
		}
	})
	t.Run("FullClone", func(t *testing.T) {
		// A copy of the device, id and key, writes its own journal: the
		// two journals fork at seq 1, and only the first to arrive posts.
		clone := &point.Client{URL: home.URL, DeviceID: home.DeviceID, Key: home.Key, Now: home.Now}
		mine, theirs := newJournal(home), newJournal(clone)
		a := mine.next(w.household, canasta.OfflineItem{RightID: rice.ID, ProgramID: w.rice, Quantity: 1500})
		b := theirs.next(w.household, canasta.OfflineItem{RightID: rice.ID, ProgramID: w.rice, Quantity: 1400})
		b2 := theirs.next(w.household, canasta.OfflineItem{RightID: rice.ID, ProgramID: w.rice, Quantity: 600})
		if res, err := home.Sync(ctx, &canasta.SyncBatch{Receipts: []*canasta.OfflineReceipt{a}}); err != nil || res.Receipts[0].Status != canasta.ReceiptPosted {
			t.Fatalf("original: %+v, %v", res, err)
		}
		res, err := clone.Sync(ctx, &canasta.SyncBatch{Receipts: []*canasta.OfflineReceipt{b, b2}})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res.Receipts {
			if r.Status != canasta.ReceiptRejected {
				t.Fatalf("forked receipt %+v accepted", r)
			}
		}
		// O5: the two copies together never spend more than the right.
		if b := w.balance(t, w.rice); b.Redeemed != 1500 || b.Redeemed > rice.Quantity {
			t.Fatalf("rice %+v", b)
		}
	})
}

func TestRedTeam_ClockSetBack(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	home := w.device(t, w.points[0])
	for _, tt := range []struct {
		name   string
		offset time.Duration
	}{
		{"OnTime", 0},
		{"SlightlySlow", -2 * time.Minute},
		{"SetBackAnHour", -time.Hour},
		{"SetBackADay", -24 * time.Hour},
		{"AheadAnHour", time.Hour},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// A request signed at the device's wrong time is refused...
			body, _ := json.Marshal(canasta.SyncBatch{})
			req, _ := http.NewRequest("POST", w.srv.URL()+"/api/v1/device/sync", bytes.NewReader(body))
			point.SignRequest(req, home.DeviceID, home.Key, w.clock.Now().Add(tt.offset), body)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			want := http.StatusOK
			if tt.offset > canasta.MaxDeviceClockSkew || tt.offset < -canasta.MaxDeviceClockSkew {
				want = http.StatusUnauthorized
			}
			if resp.StatusCode != want {
				t.Fatalf("signed at the device's time: %d, want %d", resp.StatusCode, want)
			}
			// ...and the client then signs on the server's time, so a
			// device with a wrong clock can still sync.
			c := &point.Client{URL: home.URL, DeviceID: home.DeviceID, Key: home.Key,
				Now: func() time.Time { return w.clock.Now().Add(tt.offset) }}
			if _, err := c.Sync(ctx, &canasta.SyncBatch{}); err != nil {
				t.Fatalf("sync after learning the server's clock: %v", err)
			}
		})
	}
	// Offline, a device whose clock goes back keeps its rights past
	// their expiry by its own reckoning; the server released them on
	// time, so its late receipts post only against what the household
	// still has.
	st, err := point.OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var skew time.Duration
	st.Now = func() time.Time { return w.clock.Now().Add(skew) }
	if err := st.SetIdentity(ctx, &point.Identity{DeviceID: home.DeviceID, PointID: w.points[0], Key: home.Key}); err != nil {
		t.Fatal(err)
	}
	res, err := home.Sync(ctx, &canasta.SyncBatch{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.ApplySync(ctx, res); err != nil {
		t.Fatal(err)
	}
	w.clock.add(canasta.DefaultRightTTL + time.Hour)
	skew = -(canasta.DefaultRightTTL + 2*time.Hour)
	if _, err := w.rights.ExpireRights(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := sqliteRedeem(w, "online-1", w.oil, 450); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.Redeem(ctx, &canasta.RedemptionRequest{RequestID: "late-1", PointID: w.points[0], HouseholdID: w.household,
		Items: []canasta.RedemptionItem{{ProgramID: w.oil, Quantity: 200}}}); err != nil {
		t.Fatalf("offline redemption on a clock set back: %v", err)
	}
	pending, _ := st.Pending(ctx, 10)
	res, err = home.Sync(ctx, &canasta.SyncBatch{Receipts: pending})
	if err != nil {
		t.Fatal(err)
	}
	if r := res.Receipts[0]; r.Posted != 50 || r.Lost != 150 {
		t.Fatalf("late receipt %+v, want 50 posted and 150 lost", r)
	}
	if b := w.balance(t, w.oil); b.Redeemed != 500 {
		t.Fatalf("oil %+v", b)
	}
}

func TestRedTeam_SyncAfterExpiry(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	home := w.device(t, w.points[0])
	res, err := home.Sync(ctx, &canasta.SyncBatch{})
	if err != nil {
		t.Fatal(err)
	}
	rice := rightFor(t, res.Rights, w.rice)
	j := newJournal(home)
	r1 := j.next(w.household, canasta.OfflineItem{RightID: rice.ID, ProgramID: w.rice, Quantity: 1200})

	// The device stays away past expiry; the right goes back to the
	// household, which redeems part of it elsewhere.
	w.clock.add(canasta.DefaultRightTTL + time.Minute)
	if n, err := w.rights.ExpireRights(ctx); err != nil || n != 2 {
		t.Fatalf("expire: %d, %v", n, err)
	}
	if b := w.balance(t, w.rice); b.Available != 2000 || b.Held != 0 {
		t.Fatalf("after expiry %+v", b)
	}
	if _, _, err := sqliteRedeem(w, "elsewhere", w.rice, 1000); err != nil {
		t.Fatal(err)
	}
	res, err = home.Sync(ctx, &canasta.SyncBatch{Receipts: []*canasta.OfflineReceipt{r1}})
	if err != nil {
		t.Fatal(err)
	}
	if r := res.Receipts[0]; r.Status != canasta.ReceiptPosted || r.Posted != 1000 || r.Lost != 200 {
		t.Fatalf("receipt after expiry %+v", r)
	}
	if b := w.balance(t, w.rice); b.Redeemed != 2000 || b.Available != 0 {
		t.Fatalf("rice %+v", b)
	}
	losses, err := w.rights.FindLosses(ctx, w.points[0])
	if err != nil || len(losses) != 1 || losses[0].Quantity != 200 {
		t.Fatalf("losses %v, %v", losses, err)
	}
}

func TestRedTeam_RevokedDevice(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	home := w.device(t, w.points[0])
	res, err := home.Sync(ctx, &canasta.SyncBatch{})
	if err != nil {
		t.Fatal(err)
	}
	oil := rightFor(t, res.Rights, w.oil)
	j := newJournal(home)
	rc := j.next(w.household, canasta.OfflineItem{RightID: oil.ID, ProgramID: w.oil, Quantity: 300})
	if err := w.rights.RevokeDevice(ctx, home.DeviceID); err != nil {
		t.Fatal(err)
	}
	if _, err := home.Sync(ctx, &canasta.SyncBatch{Receipts: []*canasta.OfflineReceipt{rc}}); canasta.ErrorCode(err) != canasta.EUNAUTHORIZED {
		t.Fatalf("revoked device synced: %v", err)
	}
	if b := w.balance(t, w.oil); b.Available != 500 || b.Held != 0 {
		t.Fatalf("revocation did not release: %+v", b)
	}
	if _, _, err := sqliteRedeem(w, "after-revoke", w.oil, 400); err != nil {
		t.Fatal(err)
	}
	// Staff hand in the recovered journal.
	got, err := w.rights.PostReceipts(ctx, home.DeviceID, []*canasta.OfflineReceipt{rc})
	if err != nil || got[0].Posted != 100 || got[0].Lost != 200 {
		t.Fatalf("recovered journal: %+v, %v", got, err)
	}
	if b := w.balance(t, w.oil); b.Redeemed != 500 {
		t.Fatalf("oil %+v", b)
	}
}

func sqliteRedeem(w *world, id string, program, q int64) (*canasta.Redemption, bool, error) {
	return w.srv.RedemptionService.Redeem(context.Background(), &canasta.RedemptionRequest{RequestID: id, PointID: w.points[1],
		HouseholdID: w.household, Items: []canasta.RedemptionItem{{ProgramID: program, Quantity: q}}})
}
