package storetest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/canasta/canasta"
)

func testAttributes(t *testing.T, opener Opener) {
	st := open(t, opener)
	ctx := context.Background()
	const purpose = "Needed to target the school meal program."

	for _, tt := range []struct {
		name string
		a    canasta.Attribute
		code string
	}{
		{"OK", canasta.Attribute{Name: "school_grade", Type: canasta.AttributeInt, AppliesTo: canasta.AppliesToPerson, Purpose: purpose}, ""},
		{"OKSecond", canasta.Attribute{Name: "farmer", Type: canasta.AttributeBool, AppliesTo: canasta.AppliesToHousehold, Purpose: purpose}, ""},
		{"Duplicate", canasta.Attribute{Name: "farmer", Type: canasta.AttributeString, AppliesTo: canasta.AppliesToPerson, Purpose: purpose}, canasta.ECONFLICT},
		{"BadName", canasta.Attribute{Name: "Farmer", Type: canasta.AttributeBool, AppliesTo: canasta.AppliesToHousehold, Purpose: purpose}, canasta.EINVALID},
		{"BadType", canasta.Attribute{Name: "x", Type: "float", AppliesTo: canasta.AppliesToHousehold, Purpose: purpose}, canasta.EINVALID},
		{"NoPurpose", canasta.Attribute{Name: "y", Type: canasta.AttributeBool, AppliesTo: canasta.AppliesToHousehold}, canasta.EINVALID},
		{"SpecialCategory", canasta.Attribute{Name: "religion", Type: canasta.AttributeString, AppliesTo: canasta.AppliesToPerson, Purpose: purpose}, canasta.EINVALID},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.a
			wantCode(t, st.Attributes.CreateAttribute(ctx, &a), tt.code)
			if tt.code == "" && !a.CreatedAt.Equal(Now) {
				t.Fatalf("CreatedAt = %v, want %v", a.CreatedAt, Now)
			}
		})
	}

	attrs, err := st.Attributes.FindAttributes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(attrs) != 2 || attrs[0].Name != "farmer" || attrs[1].Name != "school_grade" {
		t.Fatalf("attributes %+v, want farmer then school_grade", attrs)
	}
	want := canasta.Attribute{Name: "farmer", Type: canasta.AttributeBool, AppliesTo: canasta.AppliesToHousehold, Purpose: purpose, CreatedAt: Now}
	if !reflect.DeepEqual(*attrs[0], want) {
		t.Fatalf("farmer stored as %+v, want %+v", *attrs[0], want)
	}

	t.Run("EmptyListIsNotNil", func(t *testing.T) {
		got, err := open(t, opener).Attributes.FindAttributes(ctx)
		if err != nil {
			t.Fatal(err)
		} else if got == nil || len(got) != 0 {
			t.Fatalf("FindAttributes on an empty store = %#v, want an empty list", got)
		}
	})
}

func testCreateHousehold(t *testing.T, opener Opener) {
	st := open(t, opener)
	declareSyntheticAttributes(t, st.Store)
	ctx := context.Background()
	mustCreateHousehold(t, st.Store, NewHousehold(1, 2)) // takes H0000001, P0000001-0 and -1

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
			before, err := st.Households.CountHouseholds(ctx)
			if err != nil {
				t.Fatal(err)
			}
			h := NewHousehold(100+len(tt.name), 3)
			tt.modify(h)
			err = st.Households.CreateHousehold(ctx, h)
			wantCode(t, err, tt.code)
			after, err := st.Households.CountHouseholds(ctx)
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
			if !h.CreatedAt.Equal(Now) || !h.UpdatedAt.Equal(Now) {
				t.Fatalf("times %v, %v; want %v", h.CreatedAt, h.UpdatedAt, Now)
			}
			for _, m := range h.Members {
				if m.ID[:2] != canasta.PersonIDPrefix || m.HouseholdID != h.ID {
					t.Fatalf("member id %q household %q; want prefix %q and %q", m.ID, m.HouseholdID, canasta.PersonIDPrefix, h.ID)
				}
			}
			got, err := st.Households.FindHouseholdByID(ctx, h.ID)
			if err != nil {
				t.Fatal(err)
			} else if !reflect.DeepEqual(got, h) {
				t.Fatalf("found\n%s\nwant\n%s", dump(got), dump(h))
			}
		})
	}
}

func testFindHousehold(t *testing.T, opener Opener) {
	st := open(t, opener)
	declareSyntheticAttributes(t, st.Store)
	ctx := context.Background()

	want := NewHousehold(1, 4)
	want.MonthlyIncome = canasta.UnknownIncome
	want.Attributes = map[string]any{"farmer": true}
	want.Members[2].Attributes = map[string]any{"school_grade": float64(5)}
	want.Members[1].NationalID = "NID-1"
	want.Members[3].Disability = true
	want.Members[3].BirthDate = "1987"
	want.Members[0].GivenName = "José Ñandú"
	mustCreateHousehold(t, st.Store, want)
	mustCreateHousehold(t, st.Store, NewHousehold(2, 1))

	for _, tt := range []struct {
		name string
		find func() (*canasta.Household, error)
		code string
	}{
		{"ByID", func() (*canasta.Household, error) { return st.Households.FindHouseholdByID(ctx, want.ID) }, ""},
		{"ByHouseholdSourceID", func() (*canasta.Household, error) { return st.Households.FindHouseholdBySourceID(ctx, "H0000001") }, ""},
		{"ByMemberSourceID", func() (*canasta.Household, error) { return st.Households.FindHouseholdBySourceID(ctx, "P0000001-3") }, ""},
		{"UnknownID", func() (*canasta.Household, error) { return st.Households.FindHouseholdByID(ctx, "hh_nothing") }, canasta.ENOTFOUND},
		{"UnknownSourceID", func() (*canasta.Household, error) { return st.Households.FindHouseholdBySourceID(ctx, "H9") }, canasta.ENOTFOUND},
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

	t.Run("Count", func(t *testing.T) {
		if n, err := st.Households.CountHouseholds(ctx); err != nil || n != 2 {
			t.Fatalf("CountHouseholds = %d, %v; want 2", n, err)
		}
	})
}

func testImportHouseholds(t *testing.T, opener Opener) {
	ctx := context.Background()

	t.Run("TwiceChangesNothing", func(t *testing.T) {
		st := open(t, opener)
		declareSyntheticAttributes(t, st.Store)
		persons := 0
		for _, h := range SyntheticHouseholds(0, 300) {
			persons += len(h.Members)
		}
		first := SyntheticHouseholds(0, 300)
		if res, want := mustImport(t, st.Store, first), (canasta.ImportResult{HouseholdsCreated: 300, PersonsCreated: persons}); res != want {
			t.Fatalf("first import %+v, want %+v", res, want)
		}
		for _, h := range first {
			if h.ID == "" || !h.CreatedAt.Equal(Now) || h.Members[0].ID == "" || h.Members[0].HouseholdID != h.ID {
				t.Fatalf("imported household did not learn its ids and times: %s", dump(h))
			}
		}
		again := SyntheticHouseholds(0, 300)
		if res, want := mustImport(t, st.Store, again), (canasta.ImportResult{PersonsUnchanged: persons}); res != want {
			t.Fatalf("second import %+v, want %+v", res, want)
		}
		if n, _ := st.Households.CountHouseholds(ctx); n != 300 {
			t.Fatalf("%d households after two imports, want 300", n)
		}
		// The re-imported records learn the ids they already have.
		for _, i := range []int{0, 7, 299} {
			h, err := st.Households.FindHouseholdBySourceID(ctx, again[i].SourceID)
			if err != nil {
				t.Fatal(err)
			} else if h.ID != again[i].ID || h.ID != first[i].ID {
				t.Fatalf("re-imported household id %q, stored %q, first import %q", again[i].ID, h.ID, first[i].ID)
			}
			// What is stored is what was imported, attributes and all.
			if !reflect.DeepEqual(h, first[i]) {
				t.Fatalf("found\n%s\nwant\n%s", dump(h), dump(first[i]))
			}
		}
	})

	t.Run("NewMemberOfExistingHousehold", func(t *testing.T) {
		st := open(t, opener)
		mustImport(t, st.Store, []*canasta.Household{NewHousehold(1, 2)})
		st.clock.Set(Now.Add(time.Hour))
		h := NewHousehold(1, 3) // same source ids, and one more member
		if res, want := mustImport(t, st.Store, []*canasta.Household{h}), (canasta.ImportResult{PersonsCreated: 1, PersonsUnchanged: 2}); res != want {
			t.Fatalf("import %+v, want %+v", res, want)
		}
		got, err := st.Households.FindHouseholdBySourceID(ctx, h.SourceID)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Members) != 3 || got.Members[2].SourceID != "P0000001-2" || got.Members[2].ID != h.Members[2].ID || h.ID != got.ID {
			t.Fatalf("members after import: %s", dump(got))
		}
		if !got.UpdatedAt.Equal(Now.Add(time.Hour)) || !got.CreatedAt.Equal(Now) {
			t.Fatalf("created %v updated %v; want %v and an hour later", got.CreatedAt, got.UpdatedAt, Now)
		}
	})

	t.Run("DuplicateWithinBatch", func(t *testing.T) {
		st := open(t, opener)
		hs := []*canasta.Household{NewHousehold(1, 2), NewHousehold(1, 2)}
		if res, want := mustImport(t, st.Store, hs), (canasta.ImportResult{HouseholdsCreated: 1, PersonsCreated: 2, PersonsUnchanged: 2}); res != want {
			t.Fatalf("import %+v, want %+v", res, want)
		}
		if hs[0].ID == "" || hs[1].ID != hs[0].ID {
			t.Fatalf("the two entries learned ids %q and %q, want one id", hs[0].ID, hs[1].ID)
		}
		got, err := st.Households.FindHouseholdByID(ctx, hs[0].ID)
		if err != nil {
			t.Fatal(err)
		} else if len(got.Members) != 2 {
			t.Fatalf("household has %d members, want 2", len(got.Members))
		}
	})

	t.Run("MemberMovedWithinBatch", func(t *testing.T) {
		// The second household lists the first's member again, and one of
		// its own: the member stays where it was first registered.
		st := open(t, opener)
		a, b := NewHousehold(1, 2), NewHousehold(2, 2)
		b.Members[0].SourceID = a.Members[1].SourceID
		if res, want := mustImport(t, st.Store, []*canasta.Household{a, b}), (canasta.ImportResult{HouseholdsCreated: 2, PersonsCreated: 3, PersonsUnchanged: 1}); res != want {
			t.Fatalf("import %+v, want %+v", res, want)
		}
		got, err := st.Households.FindHouseholdBySourceID(ctx, a.Members[1].SourceID)
		if err != nil {
			t.Fatal(err)
		} else if got.ID != a.ID {
			t.Fatalf("member found in household %s, want %s", got.ID, a.ID)
		}
		if b.Members[0].ID != "" {
			t.Fatalf("the member left out learned id %q", b.Members[0].ID)
		}
	})

	t.Run("MembersAllRegisteredElsewhere", func(t *testing.T) {
		st := open(t, opener)
		mustImport(t, st.Store, []*canasta.Household{NewHousehold(1, 2)})
		moved := NewHousehold(1, 2)
		moved.SourceID = "H-new"
		if res, want := mustImport(t, st.Store, []*canasta.Household{moved}), (canasta.ImportResult{PersonsUnchanged: 2}); res != want {
			t.Fatalf("import %+v, want %+v", res, want)
		}
		if moved.ID != "" {
			t.Fatalf("a household of nobody learned id %q", moved.ID)
		}
		if _, err := st.Households.FindHouseholdBySourceID(ctx, "H-new"); canasta.ErrorCode(err) != canasta.ENOTFOUND {
			t.Fatalf("a household of nobody was stored (err %v)", err)
		}
		if n, _ := st.Households.CountHouseholds(ctx); n != 1 {
			t.Fatalf("%d households, want 1", n)
		}
	})

	t.Run("AfterCreateHousehold", func(t *testing.T) {
		// A household registered by hand is matched by source id too.
		st := open(t, opener)
		created := mustCreateHousehold(t, st.Store, NewHousehold(1, 2))
		h := NewHousehold(1, 2)
		if res, want := mustImport(t, st.Store, []*canasta.Household{h}), (canasta.ImportResult{PersonsUnchanged: 2}); res != want {
			t.Fatalf("import %+v, want %+v", res, want)
		}
		if h.ID != created.ID {
			t.Fatalf("import matched id %q, want %q", h.ID, created.ID)
		}
	})

	for _, tt := range []struct {
		name   string
		modify func(hs []*canasta.Household)
	}{
		{"NoHouseholdSourceID", func(hs []*canasta.Household) { hs[1].SourceID = "" }},
		{"NoPersonSourceID", func(hs []*canasta.Household) { hs[1].Members[0].SourceID = "" }},
		{"UndeclaredAttribute", func(hs []*canasta.Household) { hs[1].Attributes = map[string]any{"caste": "x"} }},
		{"NilHousehold", func(hs []*canasta.Household) { hs[1] = nil }},
	} {
		t.Run("Rejects"+tt.name, func(t *testing.T) {
			st := open(t, opener)
			hs := []*canasta.Household{NewHousehold(1, 2), NewHousehold(2, 2)}
			tt.modify(hs)
			_, err := st.Households.ImportHouseholds(ctx, hs)
			wantCode(t, err, canasta.EINVALID)
			if n, _ := st.Households.CountHouseholds(ctx); n != 0 {
				t.Fatalf("a rejected batch stored %d households, want 0", n)
			}
			if hs[0].ID != "" {
				t.Fatalf("a household of a rejected batch learned id %q", hs[0].ID)
			}
		})
	}
}
