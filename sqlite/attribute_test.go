package sqlite_test

import (
	"context"
	"testing"

	"github.com/canasta/canasta"
	"github.com/canasta/canasta/sqlite"
)

func TestAttributeService(t *testing.T) {
	db, _ := MustOpenDB(t)
	s := sqlite.NewAttributeService(db)
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
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.a
			wantCode(t, s.CreateAttribute(ctx, &a), tt.code)
			if tt.code == "" && !a.CreatedAt.Equal(testNow) {
				t.Fatalf("CreatedAt = %v, want %v", a.CreatedAt, testNow)
			}
		})
	}

	attrs, err := s.FindAttributes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(attrs) != 2 || attrs[0].Name != "farmer" || attrs[1].Name != "school_grade" {
		t.Fatalf("attributes %+v, want farmer then school_grade", attrs)
	}
	if a := attrs[0]; a.Type != canasta.AttributeBool || a.AppliesTo != canasta.AppliesToHousehold || a.Purpose != purpose || !a.CreatedAt.Equal(testNow) {
		t.Fatalf("farmer stored as %+v", *a)
	}
}
