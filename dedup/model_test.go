package dedup

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/canasta/canasta"
)

// TestFitSessionRecoversM draws comparison patterns from a known model
// and checks that EM, starting from the priors, finds its m again.
func TestFitSessionRecoversM(t *testing.T) {
	truth := DefaultModel()
	s := sessions[0]
	r := rand.New(rand.NewPCG(1, 2))
	draw := func(p []float64) uint8 {
		x := r.Float64()
		for l := 1; l < len(p); l++ {
			if x -= p[l]; x < 0 {
				return uint8(l)
			}
		}
		return uint8(len(p) - 1)
	}
	counts := make([]float64, numPatterns)
	for range 200_000 {
		var l Levels
		l[FieldBirth] = 1
		match := r.Float64() < 0.05
		for _, f := range s.fields {
			if match {
				l[f] = draw(truth.M[f])
			} else {
				l[f] = draw(truth.U[f])
			}
		}
		counts[l.pattern()]++
	}
	model := initialModel(truth.U, 1000, 1e6)
	priors := model.M
	fitSession(counts, s, model, priors, 500)
	for _, f := range s.fields {
		for l := 1; l < radix[f]; l++ {
			if d := math.Abs(model.M[f][l] - truth.M[f][l]); d > 0.03 {
				t.Errorf("%s level %q: m = %.3f, want %.3f", f, levelNames[f][l], model.M[f][l], truth.M[f][l])
			}
		}
	}
}

func TestCompareBirth(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want string
	}{
		{"1980-05-12", "1980-05-12", "exact"},
		{"1980-05-12", "1980-05", "same year and month"},
		{"1980-05-12", "1980", "same year"},
		{"1980", "1980", "same year"},
		{"1980-05-12", "1980-12-05", "day and month swapped"},
		{"1980-05-12", "1981-05-12", "year off by one"},
		{"1980-05-12", "1908-05-12", "year off by one"},
		{"1980-05-12", "1980-05-13", "another day"},
		{"1980-05-12", "1980-05-28", "another day"},
		{"1980-05-12", "1980-08-12", "another month or year"},
		{"1980-05-12", "1955-05-12", "another month or year"},
		{"1980-05", "1981-05", "another month or year"},
		{"1980-05-12", "1981-05", "another month or year"},
		{"1980-05-12", "1980-06-28", "different"},
		{"1980-05-12", "1975-03-01", "different"},
		{"1980-05-12", "1981", "different"},
		{"1980-05-12", "", "unknown"},
	} {
		t.Run(tt.a+"/"+tt.b, func(t *testing.T) {
			a, b := testRecord("Ana", "Ruiz", tt.a), testRecord("Ana", "Ruiz", tt.b)
			if got := levelNames[FieldBirth][Compare(&a, &b)[FieldBirth]]; got != tt.want {
				t.Errorf("level %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCompareNames(t *testing.T) {
	for _, tt := range []struct {
		name           string
		g1, f1, g2, f2 string
		given, family  string
	}{
		{"exact", "José Luis", "García López", "Jose Luis", "Garcia Lopez", "exact", "exact"},
		{"nickname", "Pepe", "García", "José", "García", "same or nickname", "exact"},
		{"typo", "Jaun Carlos", "Pérez", "Juan Carlos", "Peréz", "same or nickname", "exact"},
		{"second surname missing", "Ana", "García López", "Ana", "García", "exact", "typo, reordered or one left out"},
		{"first given name missing", "María José", "Ruiz", "José", "Ruiz", "one of two left out", "exact"},
		{"second given name missing", "Mary Ann", "Smith", "Mary", "Smith", "one of two left out", "exact"},
		{"initial", "J", "Smith", "John", "Smith", "initial", "exact"},
		{"surnames reordered", "Ana", "García López", "Ana", "López García", "exact", "typo, reordered or one left out"},
		{"first surname missing", "Ana", "García López", "Ana", "López", "exact", "typo, reordered or one left out"},
		{"other second surname", "Ana", "García López", "Ana", "García Pérez", "exact", "one of two shared"},
		{"swapped", "García", "José", "José", "García", "exact", "exact"},
		{"sounds alike", "Ana", "Vázquez", "Ana", "Basques", "exact", "sounds alike"},
		{"sounds alike, two words", "Ana", "Vázquez Ponce", "Ana", "Basques Pance", "exact", "sounds alike"},
		{"compound given names differ", "María José", "Ruiz", "María Fernanda", "Ruiz", "different", "exact"},
		{"different", "Mary", "Smith", "Ngozi", "Okafor", "different", "different"},
		{"missing", "Mary", "", "Mary", "Smith", "exact", "missing"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a, b := testRecord(tt.g1, tt.f1, ""), testRecord(tt.g2, tt.f2, "")
			l := Compare(&a, &b)
			if g := levelNames[FieldGiven][l[FieldGiven]]; g != tt.given {
				t.Errorf("given level %q, want %q", g, tt.given)
			}
			if f := levelNames[FieldFamily][l[FieldFamily]]; f != tt.family {
				t.Errorf("family level %q, want %q", f, tt.family)
			}
		})
	}
}

func TestMergeDistinct(t *testing.T) {
	for _, tt := range []struct {
		name string
		a, b []uint64
		want []uint64
	}{
		{"empty", nil, nil, []uint64{}},
		{"one side", []uint64{1, 3}, nil, []uint64{1, 3}},
		{"interleaved", []uint64{1, 4, 6}, []uint64{2, 4, 7}, []uint64{1, 2, 4, 6, 7}},
		{"same", []uint64{5, 9}, []uint64{5, 9}, []uint64{5, 9}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := mergeDistinct(tt.a, tt.b); !slices.Equal(got, tt.want) {
				t.Errorf("mergeDistinct(%v, %v) = %v, want %v", tt.a, tt.b, got, tt.want)
			}
			if got := mergeDistinct(tt.a, tt.b, tt.want); !slices.Equal(got, tt.want) {
				t.Errorf("mergeDistinct(%v, %v) = %v, want %v", tt.a, tt.b, got, tt.want)
			}
		})
	}
}

// TestCompareAddress checks that the house number singles out an
// address: neighbours on one street are not at the same address.
func TestCompareAddress(t *testing.T) {
	rec := func(line string) Record {
		p := canasta.PersonRecord{Person: canasta.Person{GivenName: "Ana", FamilyName: "Ruiz"},
			Address: canasta.Address{Line: line, Locality: "Centro", Postcode: "12345"}}
		return NewRecord(&p, 0)
	}
	for _, tt := range []struct {
		a, b, want string
	}{
		{"52 Main Close", "52 Main Close", "same"},
		{"52 Main Close", "52 Mian Close", "similar"},
		{"52 Main Close", "32 Main Close", "same postcode and locality"},
		{"Calle 61 #2-79", "Calle 61 #2-97", "same postcode and locality"},
	} {
		t.Run(tt.a+"/"+tt.b, func(t *testing.T) {
			a, b := rec(tt.a), rec(tt.b)
			if got := levelNames[FieldAddress][Compare(&a, &b)[FieldAddress]]; got != tt.want {
				t.Errorf("level %q, want %q", got, tt.want)
			}
		})
	}
}
