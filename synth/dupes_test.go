package synth

import (
	"bytes"
	"encoding/csv"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/canasta/canasta"
)

func TestDuplicatesKeepOriginals(t *testing.T) {
	cfg := Config{Households: 3000, Seed: 5}
	plain := New(cfg)
	d := NewWithDuplicates(cfg, 0.05)
	persons := map[string]*canasta.Person{}
	originals, dups := 0, 0
	for h := d.Next(); h != nil; h = d.Next() {
		if err := h.Validate(); err != nil {
			t.Fatalf("household %s: %v", h.SourceID, err)
		}
		for _, m := range h.Members {
			if persons[m.SourceID] != nil {
				t.Fatalf("source id %s twice", m.SourceID)
			}
			persons[m.SourceID] = m
		}
		if strings.HasPrefix(h.SourceID, "D") {
			dups += len(h.Members)
			continue
		}
		originals += len(h.Members)
		want := plain.Next()
		if want.SourceID != h.SourceID || len(want.Members) != len(h.Members) || want.Members[0].GivenName != h.Members[0].GivenName || want.Members[0].BirthDate != h.Members[0].BirthDate {
			t.Fatalf("original %s differs from the population without duplicates", h.SourceID)
		}
	}
	if plain.Next() != nil {
		t.Error("fewer originals than the population without duplicates")
	}
	if share := float64(dups) / float64(originals+dups); math.Abs(share-0.05) > 0.01 {
		t.Errorf("duplicates are %.3f of persons, want about 0.05", share)
	}
	truth := d.Truth()
	if len(truth) != dups {
		t.Errorf("%d truth pairs for %d duplicates", len(truth), dups)
	}
	for _, p := range truth {
		a, b := persons[p.A], persons[p.B]
		if a == nil || b == nil || !strings.HasPrefix(p.A, "P") || !strings.HasPrefix(p.B, "D") {
			t.Fatalf("truth pair %+v names unknown persons", p)
		}
		if len(p.Noise) == 0 {
			t.Fatalf("truth pair %+v has no noise label", p)
		}
		for _, n := range p.Noise {
			if !slices.Contains(NoiseTypes, n) {
				t.Errorf("unknown noise %q", n)
			}
		}
		if slices.Equal(p.Noise, []string{NoiseExact}) && (a.GivenName != b.GivenName || a.FamilyName != b.FamilyName ||
			a.BirthDate != b.BirthDate || a.NationalID != b.NationalID) {
			t.Errorf("exact duplicate %s differs from %s", p.B, p.A)
		}
	}
}

func TestApplyNoise(t *testing.T) {
	base := canasta.Person{GivenName: "José", FamilyName: "García López", BirthDate: "1980-05-12", Sex: "M", NationalID: "1234567897"}
	for _, tt := range []struct {
		noise string
		check func(p canasta.Person) bool
	}{
		{NoiseSwappedNames, func(p canasta.Person) bool { return p.GivenName == "García López" && p.FamilyName == "José" }},
		{NoiseMissingName, func(p canasta.Person) bool { return p.FamilyName == "García" || p.FamilyName == "López" }},
		{NoiseNickname, func(p canasta.Person) bool { return p.GivenName == "Pepe" || p.GivenName == "Chepe" }},
		{NoisePartialDate, func(p canasta.Person) bool { return p.BirthDate == "1980" || p.BirthDate == "1980-05" }},
		{NoiseTransposedDate, func(p canasta.Person) bool { return p.BirthDate == "1980-12-05" }},
		{NoiseMissingDate, func(p canasta.Person) bool { return p.BirthDate == "" }},
		{NoiseMissingID, func(p canasta.Person) bool { return p.NationalID == "" }},
		{NoiseIDError, func(p canasta.Person) bool { return len(p.NationalID) == 10 && p.NationalID != base.NationalID }},
		{NoiseDateError, func(p canasta.Person) bool {
			_, err := canasta.ParseBirthDate(p.BirthDate)
			return err == nil && p.BirthDate != base.BirthDate
		}},
		{NoiseTypo, func(p canasta.Person) bool { return p.GivenName != base.GivenName || p.FamilyName != base.FamilyName }},
		{NoiseOCR, func(p canasta.Person) bool { return p.GivenName != base.GivenName || p.FamilyName != base.FamilyName }},
	} {
		t.Run(tt.noise, func(t *testing.T) {
			r := rand.New(rand.NewPCG(3, 4))
			for i := range 50 {
				p := base
				if !applyNoise(r, &p, tt.noise) {
					t.Fatalf("try %d: noise not applied", i)
				}
				if !tt.check(p) {
					t.Fatalf("try %d: %+v", i, p)
				}
			}
		})
	}
}

func TestWriteDuplicatesCSV(t *testing.T) {
	var reg, truth bytes.Buffer
	st, err := WriteDuplicatesCSV(&reg, &truth, Config{Households: 500, Seed: 2}, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&reg).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows)-1 != st.Persons || !slices.Equal(rows[0], CSVHeader) {
		t.Errorf("%d rows for %d persons", len(rows)-1, st.Persons)
	}
	pairs, err := csv.NewReader(&truth).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(pairs)-1 != st.Duplicates || st.Duplicates == 0 || !slices.Equal(pairs[0], TruthHeader) {
		t.Errorf("%d truth rows for %d duplicates", len(pairs)-1, st.Duplicates)
	}
}
