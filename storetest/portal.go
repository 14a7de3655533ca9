package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/canasta/canasta"
)

// PortalStores is what the person portal needs of a store.
type PortalStores interface {
	canasta.PortalStore
	canasta.HouseholdRecords
}

// testPortalStore checks PIN failure counting and locks, sessions and
// their expiry, and that a household's receipts are its own.
func testPortalStore(t *testing.T, opener Opener) {
	st := open(t, opener)
	ctx := context.Background()
	p := st.Portal

	t.Run("LockAtTheMaxthFailure", func(t *testing.T) {
		before := len(auditLeaves(t, st.Store))
		for i := 1; i <= 3; i++ {
			locked, err := p.RecordPINFailure(ctx, "crd_x", 3, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if locked != (i == 3) {
				t.Fatalf("failure %d: locked %v", i, locked)
			}
		}
		until, err := p.CardLockedUntil(ctx, "crd_x")
		if err != nil || !until.Equal(Now.Add(time.Hour)) {
			t.Fatalf("locked until %v (%v), want %v", until, err, Now.Add(time.Hour))
		}
		entries := auditLeaves(t, st.Store)
		if len(entries) != before+1 || entries[before].Type != canasta.AuditCardLock || entries[before].Objects["card"] != "crd_x" {
			t.Fatalf("lock not in the audit log: %d entries, was %d", len(entries), before)
		}
		// The count restarts after the lock and after a right PIN.
		if locked, _ := p.RecordPINFailure(ctx, "crd_x", 3, time.Hour); locked {
			t.Fatal("first failure after a lock locked again")
		}
		if err := p.ClearPINFailures(ctx, "crd_x"); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if locked, _ := p.RecordPINFailure(ctx, "crd_x", 3, time.Hour); locked {
				t.Fatal("locked before the third failure in a row")
			}
		}
		if until, _ := p.CardLockedUntil(ctx, "crd_unknown"); !until.IsZero() {
			t.Fatalf("an unknown card is locked until %v", until)
		}
	})

	t.Run("Sessions", func(t *testing.T) {
		h := mustCreateHousehold(t, st.Store, NewHousehold(1, 1))
		s := &canasta.PortalSession{HouseholdID: h.ID, CardID: "crd_a", CreatedAt: Now, ExpiresAt: Now.Add(time.Minute)}
		if err := p.CreatePortalSession(ctx, s, []byte("hash-a")); err != nil {
			t.Fatal(err)
		}
		got, err := p.FindPortalSession(ctx, []byte("hash-a"))
		if err != nil || got.HouseholdID != h.ID || got.CardID != "crd_a" || !got.ExpiresAt.Equal(s.ExpiresAt) {
			t.Fatalf("session %+v (%v)", got, err)
		}
		_, err = p.FindPortalSession(ctx, []byte("hash-b"))
		wantCode(t, err, canasta.ENOTFOUND)
		st.clock.Set(Now.Add(2 * time.Minute))
		_, err = p.FindPortalSession(ctx, []byte("hash-a"))
		wantCode(t, err, canasta.ENOTFOUND)
		st.clock.Set(Now)
		if err := p.DeletePortalSession(ctx, []byte("hash-a")); err != nil {
			t.Fatal(err)
		}
		_, err = p.FindPortalSession(ctx, []byte("hash-a"))
		wantCode(t, err, canasta.ENOTFOUND)
		err = p.CreatePortalSession(ctx, &canasta.PortalSession{HouseholdID: "hh_nobody", CardID: "c", CreatedAt: Now, ExpiresAt: Now.Add(time.Minute)}, []byte("h"))
		wantCode(t, err, canasta.ENOTFOUND)
	})
}

// testHouseholdRedemptions checks a household sees its receipts, newest
// first, with their audit entries, and none of another household's.
func testHouseholdRedemptions(t *testing.T, opener Opener) {
	l := newLedger(t, opener, ruleSizeTimes1000)
	ctx := context.Background()
	other := mustCreateHousehold(t, l.Store, NewHousehold(9, 1))
	for _, id := range []string{"a1", "a2"} {
		if _, _, err := l.Redemptions.Redeem(ctx, l.request(id, item(l.rice, 10))); err != nil {
			t.Fatal(err)
		}
	}
	rs, err := l.Portal.FindRedemptionsByHousehold(ctx, l.household.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[0].RequestID != "a2" || rs[1].RequestID != "a1" || rs[0].Audit == nil || rs[0].HouseholdID != l.household.ID {
		t.Fatalf("household receipts %+v", rs)
	}
	none, err := l.Portal.FindRedemptionsByHousehold(ctx, other.ID)
	if err != nil || len(none) != 0 {
		t.Fatalf("other household's receipts %+v (%v)", none, err)
	}
	_, err = l.Portal.FindRedemptionsByHousehold(ctx, "hh_nobody")
	wantCode(t, err, canasta.ENOTFOUND)
}
