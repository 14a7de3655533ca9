package storetest

import (
	"context"
	"slices"
	"testing"

	"github.com/canasta/canasta"
)

// testCorrections checks a correction changes exactly the data given,
// records which fields changed and why, appends one audit entry, and is
// refused without the data-correction purpose or with a member added.
func testCorrections(t *testing.T, opener Opener) {
	st := open(t, opener)
	declareSyntheticAttributes(t, st.Store)
	h := mustCreateHousehold(t, st.Store, NewHousehold(1, 2))
	correcting := staff(canasta.PurposeDataCorrection)

	fix := func() *canasta.Household {
		got, err := st.Households.FindHouseholdByID(context.Background(), h.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}

	t.Run("NeedsPurpose", func(t *testing.T) {
		c := fix()
		c.MonthlyIncome++
		_, err := st.Corrections.CorrectHousehold(staff(canasta.PurposeEnrollment), c, "typo")
		wantCode(t, err, canasta.EFORBIDDEN)
		_, err = st.Corrections.CorrectHousehold(context.Background(), c, "typo")
		wantCode(t, err, canasta.EFORBIDDEN)
	})
	t.Run("NeedsReasonAndChange", func(t *testing.T) {
		c := fix()
		c.MonthlyIncome++
		_, err := st.Corrections.CorrectHousehold(correcting, c, "  ")
		wantCode(t, err, canasta.EINVALID)
		_, err = st.Corrections.CorrectHousehold(correcting, fix(), "nothing")
		wantCode(t, err, canasta.EINVALID)
	})
	t.Run("MembersStayTheSame", func(t *testing.T) {
		c := fix()
		c.Members = append(c.Members, &canasta.Person{GivenName: "New", Relationship: "child"})
		_, err := st.Corrections.CorrectHousehold(correcting, c, "add")
		wantCode(t, err, canasta.EINVALID)
	})

	before := len(auditLeaves(t, st.Store))
	c := fix()
	c.MonthlyIncome = 12345
	c.Members[1].BirthDate = "2001-02-03"
	got, err := st.Corrections.CorrectHousehold(correcting, c, "Grievance 7: income and birth date")
	if err != nil {
		t.Fatal(err)
	}
	wantFields := []string{"members[" + c.Members[1].ID + "].birth_date", "monthly_income"}
	if !slices.Equal(got.Fields, wantFields) || got.Purpose != canasta.PurposeDataCorrection || got.Audit == nil {
		t.Fatalf("correction %+v, want fields %v", got, wantFields)
	}
	after := fix()
	if after.MonthlyIncome != 12345 || after.Members[1].BirthDate != "2001-02-03" || after.Members[0].BirthDate != h.Members[0].BirthDate {
		t.Fatalf("after correction %s", dump(after))
	}
	entries := auditLeaves(t, st.Store)
	if len(entries) != before+1 || entries[before].Type != canasta.AuditHouseholdUpdate || entries[before].Index != got.Audit.Index ||
		entries[before].Objects["household"] != h.ID {
		t.Fatalf("audit after correction: %d entries (was %d), last %+v", len(entries), before, entries[len(entries)-1])
	}
	list, err := st.Corrections.FindCorrections(context.Background(), h.ID)
	if err != nil || len(list) != 1 || list[0].Reason != got.Reason || !slices.Equal(list[0].Fields, wantFields) {
		t.Fatalf("corrections %+v %v", list, err)
	}
	_, err = st.Corrections.FindCorrections(context.Background(), "hh_nobody")
	wantCode(t, err, canasta.ENOTFOUND)
}
