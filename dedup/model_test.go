package dedup

import (
	"math"
	"math/rand/v2"
	"testing"
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
		{"1980-05-12", "1980-05-13", "one digit of day or month"},
		{"1980-05-12", "1980-08-12", "one digit of day or month"},
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
		{"second surname missing", "Ana", "García López", "Ana", "García", "exact", "typo or part missing"},
		{"first given name missing", "María José", "Ruiz", "José", "Ruiz", "initial or part", "exact"},
		{"initial", "J", "Smith", "John", "Smith", "initial or part", "exact"},
		{"swapped", "García", "José", "José", "García", "exact", "exact"},
		{"sounds alike", "Ana", "Vázquez", "Ana", "Basques", "exact", "sounds alike or one shared"},
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
