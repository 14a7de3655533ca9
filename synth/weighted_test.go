package synth

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func TestWeighted(t *testing.T) {
	tests := []struct {
		name    string
		weights []int
	}{
		{"single", []int{5}},
		{"uniform", []int{1, 1, 1, 1}},
		{"steep", []int{150, 200, 200, 180, 120, 70, 40, 20, 10, 10}},
		{"one heavy", []int{1000, 1, 1}},
	}
	const draws = 200_000
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := frequencies(tt.weights...)
			r := rand.New(rand.NewPCG(1, 2))
			counts := make([]int, len(tt.weights))
			for range draws {
				counts[w.index(r)]++
			}
			total := 0
			for _, x := range tt.weights {
				total += x
			}
			for i, x := range tt.weights {
				p := float64(x) / float64(total)
				// Five standard deviations of a binomial count.
				tol := 5*math.Sqrt(draws*p*(1-p)) + 1
				if want := draws * p; math.Abs(float64(counts[i])-want) > tol {
					t.Errorf("item %d drawn %d times, want %.0f ± %.0f", i, counts[i], want, tol)
				}
			}
		})
	}
}

func TestChance(t *testing.T) {
	const draws = 200_000
	for _, perMille := range []int{0, 5, 60, 500, 1000} {
		t.Run(fmt.Sprint(perMille), func(t *testing.T) {
			r := rand.New(rand.NewPCG(3, 4))
			hits := 0
			for range draws {
				if chance(r, perMille) {
					hits++
				}
			}
			p := float64(perMille) / 1000
			tol := 5*math.Sqrt(draws*p*(1-p)) + 1
			if want := draws * p; math.Abs(float64(hits)-want) > tol {
				t.Errorf("chance(%d) hit %d of %d, want %.0f ± %.0f", perMille, hits, draws, want, tol)
			}
		})
	}
}
