package sqlite_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/canasta/canasta"
	"github.com/canasta/canasta/sqlite"
)

func TestProgramService(t *testing.T) {
	db, _ := MustOpenDB(t)
	s := sqlite.NewProgramService(db)
	ctx := context.Background()
	program := func(eligibility, quantity string) *canasta.Program {
		return &canasta.Program{Name: "Rice", Commodity: canasta.Commodity{Code: "rice", Unit: canasta.UnitGram},
			Eligibility: eligibility, Quantity: quantity, Period: canasta.PeriodMonthly}
	}

	for _, tt := range []struct {
		name   string
		p      *canasta.Program
		before func()
		code   string
	}{
		{"OK", program("true", "size*1000"), nil, ""},
		{"BadUnit", func() *canasta.Program { p := program("true", "1"); p.Commodity.Unit = "kg"; return p }(), nil, canasta.EINVALID},
		{"BadPeriod", func() *canasta.Program { p := program("true", "1"); p.Period = "weekly"; return p }(), nil, canasta.EINVALID},
		{"RuleDoesNotParse", program("maybe", "1"), nil, canasta.EINVALID},
		{"RuleNamesUndeclaredAttribute", program("has:farmer", "1"), nil, canasta.EINVALID},
		{"RuleNamesDeclaredAttribute", program("has:farmer", "1"), func() { declareSyntheticAttributes(t, db) }, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.before != nil {
				tt.before()
			}
			err := s.CreateProgram(ctx, tt.p)
			wantCode(t, err, tt.code)
			if tt.code != "" {
				return
			}
			got, err := s.FindProgramByID(ctx, tt.p.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.p) || !got.CreatedAt.Equal(testNow) {
				t.Fatalf("found %+v, want %+v", got, tt.p)
			}
		})
	}

	t.Run("FindPrograms", func(t *testing.T) {
		ps, err := s.FindPrograms(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ps) != 2 || ps[0].ID >= ps[1].ID || ps[1].Eligibility != "has:farmer" {
			t.Fatalf("programs %+v, want the two created, by id", ps)
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		_, err := s.FindProgramByID(ctx, 999)
		wantCode(t, err, canasta.ENOTFOUND)
	})
}

func TestPointService(t *testing.T) {
	db, _ := MustOpenDB(t)
	s := sqlite.NewPointService(db)
	ctx := context.Background()

	for _, tt := range []struct {
		name string
		p    canasta.Point
		code string
	}{
		{"OK", canasta.Point{Name: "Clinic A", Kind: canasta.PointClinic, Region: "South"}, ""},
		{"OKShop", canasta.Point{Name: "Shop B", Kind: canasta.PointShop, Region: "North"}, ""},
		{"NoName", canasta.Point{Kind: canasta.PointShop, Region: "North"}, canasta.EINVALID},
		{"BadKind", canasta.Point{Name: "X", Kind: "bank", Region: "North"}, canasta.EINVALID},
		{"NoRegion", canasta.Point{Name: "X", Kind: canasta.PointFuel}, canasta.EINVALID},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.p
			wantCode(t, s.CreatePoint(ctx, &p), tt.code)
			if tt.code != "" {
				return
			}
			got, err := s.FindPointByID(ctx, p.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, p) || !got.CreatedAt.Equal(testNow) {
				t.Fatalf("found %+v, want %+v", *got, p)
			}
		})
	}

	ps, err := s.FindPoints(ctx)
	if err != nil {
		t.Fatal(err)
	} else if len(ps) != 2 || ps[0].Name != "Clinic A" || ps[1].Name != "Shop B" {
		t.Fatalf("points %+v, want Clinic A and Shop B", ps)
	}
	_, err = s.FindPointByID(ctx, 999)
	wantCode(t, err, canasta.ENOTFOUND)
}
