package sqlite_test

import (
	"context"
	"testing"
	"time"

	"github.com/canasta/canasta"
	"github.com/canasta/canasta/sqlite"
)

func TestAccessLog(t *testing.T) {
	db, clock := MustOpenDB(t)
	h := mustCreateHousehold(t, db, newHousehold(1, 2))
	other := mustCreateHousehold(t, db, newHousehold(2, 1))
	hs := sqlite.NewHouseholdService(db)
	es := sqlite.NewEntitlementService(db)
	log := sqlite.NewAccessLogService(db)
	ctx := context.Background()

	// Internal reads carry no actor and are not logged.
	if _, err := hs.FindHouseholdByID(ctx, h.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := es.FindEntitlements(ctx, h.ID, testPeriod); err != nil {
		t.Fatal(err)
	}
	// A failed read logs nothing either.
	if _, err := hs.FindHouseholdByID(staff(canasta.PurposeAudit), "hh_none"); canasta.ErrorCode(err) != canasta.ENOTFOUND {
		t.Fatalf("err = %v, want ENOTFOUND", err)
	}

	if _, err := hs.FindHouseholdByID(staff(canasta.PurposeEnrollment), h.ID); err != nil {
		t.Fatal(err)
	}
	clock.Set(testNow.Add(time.Minute))
	if _, err := hs.FindHouseholdBySourceID(staff(canasta.PurposeGrievance), "P0000001-1"); err != nil {
		t.Fatal(err)
	}
	clock.Set(testNow.Add(2 * time.Minute))
	if _, err := es.FindEntitlements(staff(""), h.ID, testPeriod); err != nil {
		t.Fatal(err)
	}
	if _, err := hs.FindHouseholdByID(staff(canasta.PurposeAudit), other.ID); err != nil {
		t.Fatal(err)
	}

	events, err := log.FindAccessEvents(ctx, h.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		action  string
		purpose canasta.Purpose
		at      time.Time
	}{
		{"read-entitlements", "", testNow.Add(2 * time.Minute)},
		{"read-household", canasta.PurposeGrievance, testNow.Add(time.Minute)},
		{"read-household", canasta.PurposeEnrollment, testNow},
	}
	if len(events) != len(want) {
		t.Fatalf("%d events, want %d: %+v", len(events), len(want), events)
	}
	for i, w := range want {
		e := events[i]
		if e.Action != w.action || e.Purpose != w.purpose || !e.At.Equal(w.at) || e.HouseholdID != h.ID ||
			e.TokenID != 7 || e.ActorName != "clerk" || e.Role != canasta.RoleRegistrar {
			t.Errorf("event %d = %+v, want %s/%s at %v by token 7 clerk registrar", i, *e, w.action, w.purpose, w.at)
		}
	}

	t.Run("UnknownHousehold", func(t *testing.T) {
		_, err := log.FindAccessEvents(ctx, "hh_none")
		wantCode(t, err, canasta.ENOTFOUND)
	})
}
