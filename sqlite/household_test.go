package sqlite_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/canasta/canasta"
	"github.com/canasta/canasta/sqlite"
)

func TestHouseholdService_CreateHousehold(t *testing.T) {
	db, _ := MustOpenDB(t)
	declareSyntheticAttributes(t, db)
	s := sqlite.NewHouseholdService(db)
	ctx := context.Background()
	mustCreateHousehold(t, db, newHousehold(1, 2)) // takes H0000001, P0000001-0 and -1

	for _, tt := range []struct {
		name   string
		modify func(h *canasta.Household)
		code   string
	}{
		{"OK", func(h *canasta.Household) {}, ""},
		{"OKWithoutSourceIDs", func(h *canasta.Household) {
			h.SourceID = ""
			for _, m := range h.Members {
				m.SourceID = ""
			}
		}, ""},
		{"OKWithAttributes", func(h *canasta.Household) {
			h.Attributes = map[string]any{"farmer": true}
			h.Members[0].Attributes = map[string]any{"school_grade": float64(3)}
		}, ""},
		{"NoRegion", func(h *canasta.Household) { h.Address.Region = "" }, canasta.EINVALID},
		{"NoMembers", func(h *canasta.Household) { h.Members = nil }, canasta.EINVALID},
		{"BadBirthDate", func(h *canasta.Household) { h.Members[0].BirthDate = "1990-02-30" }, canasta.EINVALID},
		{"UndeclaredAttribute", func(h *canasta.Household) { h.Attributes = map[string]any{"religion": "x"} }, canasta.EINVALID},
		{"AttributeOnWrongLevel", func(h *canasta.Household) { h.Attributes = map[string]any{"school_grade": int64(1)} }, canasta.EINVALID},
		{"AttributeWrongType", func(h *canasta.Household) { h.Members[0].Attributes = map[string]any{"school_grade": "third"} }, canasta.EINVALID},
		{"TakenHouseholdSourceID", func(h *canasta.Household) { h.SourceID = "H0000001" }, canasta.ECONFLICT},
		{"TakenPersonSourceID", func(h *canasta.Household) { h.Members[1].SourceID = "P0000001-1" }, canasta.ECONFLICT},
		{"MembersShareSourceID", func(h *canasta.Household) { h.Members[1].SourceID = h.Members[0].SourceID }, canasta.EINVALID},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before, err := s.CountHouseholds(ctx)
			if err != nil {
				t.Fatal(err)
			}
			h := newHousehold(100+len(tt.name), 3)
			tt.modify(h)
			err = s.CreateHousehold(ctx, h)
			wantCode(t, err, tt.code)
			after, err := s.CountHouseholds(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if tt.code != "" {
				if after != before {
					t.Fatalf("failed create changed the count from %d to %d", before, after)
				}
				return
			}
			if after != before+1 {
				t.Fatalf("count went from %d to %d, want +1", before, after)
			}
			if len(h.ID) < 5 || h.ID[:3] != canasta.HouseholdIDPrefix {
				t.Fatalf("household id %q lacks prefix %q", h.ID, canasta.HouseholdIDPrefix)
			}
			if !h.CreatedAt.Equal(testNow) || !h.UpdatedAt.Equal(testNow) {
				t.Fatalf("times %v, %v; want %v", h.CreatedAt, h.UpdatedAt, testNow)
			}
			for _, m := range h.Members {
				if m.ID[:2] != canasta.PersonIDPrefix || m.HouseholdID != h.ID {
					t.Fatalf("member id %q household %q; want prefix %q and %q", m.ID, m.HouseholdID, canasta.PersonIDPrefix, h.ID)
				}
			}
		})
	}
}

func TestHouseholdService_FindHousehold(t *testing.T) {
	db, _ := MustOpenDB(t)
	declareSyntheticAttributes(t, db)
	s := sqlite.NewHouseholdService(db)
	ctx := context.Background()

	want := newHousehold(1, 4)
	want.MonthlyIncome = canasta.UnknownIncome
	want.Attributes = map[string]any{"farmer": true}
	want.Members[2].Attributes = map[string]any{"school_grade": float64(5)}
	want.Members[1].NationalID = "NID-1"
	want.Members[3].Disability = true
	mustCreateHousehold(t, db, want)
	mustCreateHousehold(t, db, newHousehold(2, 1))

	for _, tt := range []struct {
		name string
		find func() (*canasta.Household, error)
		code string
	}{
		{"ByID", func() (*canasta.Household, error) { return s.FindHouseholdByID(ctx, want.ID) }, ""},
		{"ByHouseholdSourceID", func() (*canasta.Household, error) { return s.FindHouseholdBySourceID(ctx, "H0000001") }, ""},
		{"ByMemberSourceID", func() (*canasta.Household, error) { return s.FindHouseholdBySourceID(ctx, "P0000001-3") }, ""},
		{"UnknownID", func() (*canasta.Household, error) { return s.FindHouseholdByID(ctx, "hh_nothing") }, canasta.ENOTFOUND},
		{"UnknownSourceID", func() (*canasta.Household, error) { return s.FindHouseholdBySourceID(ctx, "H9") }, canasta.ENOTFOUND},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.find()
			wantCode(t, err, tt.code)
			if tt.code != "" {
				return
			}
			// Stored attributes come back normalised: ints as int64.
			if v, ok := got.Members[2].Attributes["school_grade"].(int64); !ok || v != 5 {
				t.Fatalf("school_grade = %#v, want int64(5)", got.Members[2].Attributes["school_grade"])
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("found\n%s\nwant\n%s", dump(got), dump(want))
			}
		})
	}
}

func dump(h *canasta.Household) string {
	s := fmt.Sprintf("%+v", *h)
	for _, m := range h.Members {
		s += fmt.Sprintf("\n  %+v", *m)
	}
	return s
}

func TestHouseholdService_ImportHouseholds(t *testing.T) {
	ctx := context.Background()

	t.Run("TwiceChangesNothing", func(t *testing.T) {
		db, _ := MustOpenDB(t)
		declareSyntheticAttributes(t, db)
		s := sqlite.NewHouseholdService(db)
		persons := 0
		for _, h := range syntheticHouseholds(0, 300) {
			persons += len(h.Members)
		}
		res, err := s.ImportHouseholds(ctx, syntheticHouseholds(0, 300))
		if err != nil {
			t.Fatal(err)
		}
		if want := (canasta.ImportResult{HouseholdsCreated: 300, PersonsCreated: persons}); res != want {
			t.Fatalf("first import %+v, want %+v", res, want)
		}
		again := syntheticHouseholds(0, 300)
		res, err = s.ImportHouseholds(ctx, again)
		if err != nil {
			t.Fatal(err)
		}
		if want := (canasta.ImportResult{PersonsUnchanged: persons}); res != want {
			t.Fatalf("second import %+v, want %+v", res, want)
		}
		if n, _ := s.CountHouseholds(ctx); n != 300 {
			t.Fatalf("%d households after two imports, want 300", n)
		}
		// The re-imported records learn the ids they already have.
		h, err := s.FindHouseholdBySourceID(ctx, again[7].SourceID)
		if err != nil {
			t.Fatal(err)
		} else if h.ID != again[7].ID {
			t.Fatalf("re-imported household id %q, stored %q", again[7].ID, h.ID)
		}
	})

	t.Run("NewMemberOfExistingHousehold", func(t *testing.T) {
		db, clock := MustOpenDB(t)
		s := sqlite.NewHouseholdService(db)
		if _, err := s.ImportHouseholds(ctx, []*canasta.Household{newHousehold(1, 2)}); err != nil {
			t.Fatal(err)
		}
		clock.Set(testNow.Add(time.Hour))
		h := newHousehold(1, 3) // same source ids, and one more member
		res, err := s.ImportHouseholds(ctx, []*canasta.Household{h})
		if err != nil {
			t.Fatal(err)
		}
		if want := (canasta.ImportResult{PersonsCreated: 1, PersonsUnchanged: 2}); res != want {
			t.Fatalf("import %+v, want %+v", res, want)
		}
		got, err := s.FindHouseholdBySourceID(ctx, h.SourceID)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Members) != 3 || got.Members[2].SourceID != "P0000001-2" || got.Members[2].ID != h.Members[2].ID {
			t.Fatalf("members after import: %s", dump(got))
		}
		if !got.UpdatedAt.Equal(testNow.Add(time.Hour)) || !got.CreatedAt.Equal(testNow) {
			t.Fatalf("created %v updated %v; want %v and an hour later", got.CreatedAt, got.UpdatedAt, testNow)
		}
	})

	t.Run("DuplicateWithinBatch", func(t *testing.T) {
		db, _ := MustOpenDB(t)
		s := sqlite.NewHouseholdService(db)
		res, err := s.ImportHouseholds(ctx, []*canasta.Household{newHousehold(1, 2), newHousehold(1, 2)})
		if err != nil {
			t.Fatal(err)
		}
		if want := (canasta.ImportResult{HouseholdsCreated: 1, PersonsCreated: 2, PersonsUnchanged: 2}); res != want {
			t.Fatalf("import %+v, want %+v", res, want)
		}
	})

	t.Run("MembersAllRegisteredElsewhere", func(t *testing.T) {
		db, _ := MustOpenDB(t)
		s := sqlite.NewHouseholdService(db)
		if _, err := s.ImportHouseholds(ctx, []*canasta.Household{newHousehold(1, 2)}); err != nil {
			t.Fatal(err)
		}
		moved := newHousehold(1, 2)
		moved.SourceID = "H-new"
		res, err := s.ImportHouseholds(ctx, []*canasta.Household{moved})
		if err != nil {
			t.Fatal(err)
		}
		if want := (canasta.ImportResult{PersonsUnchanged: 2}); res != want {
			t.Fatalf("import %+v, want %+v", res, want)
		}
		if _, err := s.FindHouseholdBySourceID(ctx, "H-new"); canasta.ErrorCode(err) != canasta.ENOTFOUND {
			t.Fatalf("a household of nobody was stored (err %v)", err)
		}
	})

	for _, tt := range []struct {
		name   string
		modify func(hs []*canasta.Household)
	}{
		{"NoHouseholdSourceID", func(hs []*canasta.Household) { hs[1].SourceID = "" }},
		{"NoPersonSourceID", func(hs []*canasta.Household) { hs[1].Members[0].SourceID = "" }},
		{"UndeclaredAttribute", func(hs []*canasta.Household) { hs[1].Attributes = map[string]any{"caste": "x"} }},
	} {
		t.Run("Rejects"+tt.name, func(t *testing.T) {
			db, _ := MustOpenDB(t)
			s := sqlite.NewHouseholdService(db)
			hs := []*canasta.Household{newHousehold(1, 2), newHousehold(2, 2)}
			tt.modify(hs)
			_, err := s.ImportHouseholds(ctx, hs)
			wantCode(t, err, canasta.EINVALID)
			if n, _ := s.CountHouseholds(ctx); n != 0 {
				t.Fatalf("a rejected batch stored %d households, want 0", n)
			}
		})
	}
}
