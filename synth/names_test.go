package synth

import (
	"math/rand/v2"
	"strings"
	"testing"
)

func TestNameLists(t *testing.T) {
	tests := []struct {
		name string
		list weighted
		min  int
	}{
		{"hispanic female", names.given[hispanic][1], 250},
		{"hispanic male", names.given[hispanic][0], 250},
		{"english female", names.given[anglophone][1], 200},
		{"english male", names.given[anglophone][0], 200},
		{"hispanic surnames", names.surnames[hispanic], 1000},
		{"english surnames", names.surnames[anglophone], 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n := len(tt.list.items); n < tt.min {
				t.Errorf("%d names, want at least %d", n, tt.min)
			}
			seen := map[string]bool{}
			for _, s := range tt.list.items {
				if seen[s] {
					t.Errorf("%q listed twice", s)
				}
				seen[s] = true
				if strings.TrimSpace(s) != s || s == "" {
					t.Errorf("name %q has stray spaces", s)
				}
			}
		})
	}
}

// TestSurnameFrequencies checks the long tail: the commonest surname is a
// few per cent of people, as in national registries, and a sample of
// people holds many hundreds of distinct surnames.
func TestSurnameFrequencies(t *testing.T) {
	for _, c := range []struct {
		name string
		c    culture
	}{{"hispanic", hispanic}, {"english", anglophone}} {
		t.Run(c.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			counts := map[string]int{}
			const draws = 100_000
			for range draws {
				counts[surname(r, c.c)]++
			}
			top := 0
			for _, n := range counts {
				top = max(top, n)
			}
			if share := float64(top) / draws; share < 0.01 || share > 0.06 {
				t.Errorf("commonest surname is %.3f of people, want 0.01 to 0.06", share)
			}
			if len(counts) < 900 {
				t.Errorf("%d distinct surnames in %d draws, want at least 900", len(counts), draws)
			}
		})
	}
}

func TestSplitSurnames(t *testing.T) {
	tests := []struct {
		in, first, second string
		ok                bool
	}{
		{"García López", "García", "López", true},
		{"García", "", "", false},
		{"Montes de Oca", "", "", false},
		{"de la Cruz Pérez", "de la Cruz", "Pérez", true},
		{"Pérez de la Cruz", "Pérez", "de la Cruz", true},
		{"Santa María Montes de Oca", "Santa María", "Montes de Oca", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			a, b, ok := splitSurnames(tt.in)
			if a != tt.first || b != tt.second || ok != tt.ok {
				t.Errorf("splitSurnames(%q) = %q, %q, %v; want %q, %q, %v", tt.in, a, b, ok, tt.first, tt.second, tt.ok)
			}
		})
	}
}

func TestCompoundNames(t *testing.T) {
	g := New(Config{Households: 3000, Seed: 5})
	var persons, twoSurnames, compoundGiven, hispanicPersons int
	for h := g.Next(); h != nil; h = g.Next() {
		for _, p := range h.Members {
			persons++
			if strings.Contains(p.GivenName, " ") {
				compoundGiven++
			}
			if _, _, ok := splitSurnames(p.FamilyName); ok {
				twoSurnames++
			}
			if strings.ContainsAny(p.FamilyName+p.GivenName, "áéíóúñ") {
				hispanicPersons++
			}
		}
	}
	if share := float64(twoSurnames) / float64(persons); share < 0.45 || share > 0.75 {
		t.Errorf("%.3f of persons carry two surnames, want 0.45 to 0.75 (most Hispanic persons)", share)
	}
	if share := float64(compoundGiven) / float64(persons); share < 0.1 || share > 0.4 {
		t.Errorf("%.3f of persons have a compound given name, want 0.1 to 0.4", share)
	}
}
