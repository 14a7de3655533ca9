package synth

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode"

	"github.com/canasta/canasta"
)

func generate(cfg Config) []*canasta.Household {
	g := New(cfg)
	var hs []*canasta.Household
	for h := g.Next(); h != nil; h = g.Next() {
		hs = append(hs, h)
	}
	return hs
}

// sample is one 20,000-household population shared by the distribution
// checks, generated once.
var sample = sync.OnceValue(func() []*canasta.Household {
	return generate(Config{Households: 20_000, Seed: 1})
})

func TestNextDeterminism(t *testing.T) {
	base := generate(Config{Households: 500, Seed: 42})
	tests := []struct {
		name  string
		cfg   Config
		n     int // households compared from the start
		equal bool
	}{
		{"same seed", Config{Households: 500, Seed: 42}, 500, true},
		{"different seed", Config{Households: 500, Seed: 43}, 500, false},
		{"longer population keeps prefix", Config{Households: 800, Seed: 42}, 500, true},
		{"other as-of day", Config{Households: 500, Seed: 42, AsOf: DefaultAsOf.AddDate(1, 0, 0)}, 500, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := generate(tt.cfg)[:tt.n]
			if eq := reflect.DeepEqual(got, base[:tt.n]); eq != tt.equal {
				t.Fatalf("populations equal = %v, want %v", eq, tt.equal)
			}
		})
	}
}

func TestNextCount(t *testing.T) {
	for _, n := range []int{0, 1, 7, -3} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			g := New(Config{Households: n, Seed: 1})
			got := 0
			for g.Next() != nil {
				got++
			}
			if want := max(n, 0); got != want {
				t.Fatalf("Next yielded %d households, want %d", got, want)
			}
			if g.Next() != nil {
				t.Fatal("Next yielded a household after the end")
			}
		})
	}
}

func TestNextValidates(t *testing.T) {
	for i, h := range sample() {
		if err := h.Validate(); err != nil {
			t.Fatalf("household %d (%s) does not validate: %v", i, h.SourceID, err)
		}
		if h.ID != "" {
			t.Fatalf("household %s has id %q; stores assign ids", h.SourceID, h.ID)
		}
	}
}

func TestNextRegions(t *testing.T) {
	tests := []struct {
		name    string
		regions []string
		want    []string
	}{
		{"default", nil, DefaultRegions()},
		{"custom", []string{"Alpha", "Beta", "Gamma"}, []string{"Alpha", "Beta", "Gamma"}},
		{"mixed known and new", []string{"Capital", "Isla"}, []string{"Capital", "Isla"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen := map[string]int{}
			for _, h := range generate(Config{Households: 3000, Seed: 5, Regions: tt.regions}) {
				if !slices.Contains(tt.want, h.Address.Region) {
					t.Fatalf("household %s in region %q, not one of %q", h.SourceID, h.Address.Region, tt.want)
				}
				if h.Address.Locality == "" {
					t.Fatalf("household %s has no locality", h.SourceID)
				}
				seen[h.Address.Region]++
			}
			if len(seen) != len(tt.want) {
				t.Fatalf("households fell in %d regions, want all %d: %v", len(seen), len(tt.want), seen)
			}
		})
	}
	if n := len(DefaultRegions()); n < 10 {
		t.Errorf("DefaultRegions has %d regions, want about a dozen", n)
	}
}

// stats are shares and counts over a population.
type stats struct {
	households, persons, adults                   int
	unknownDate, partialDate, mononym, disability int
	withNationalID, unknownIncome, lowIncome      int
	sexX, sexEmpty                                int
	accented, apostrophe, compoundFamily          bool
}

func measure(hs []*canasta.Household) stats {
	var s stats
	for _, h := range hs {
		s.households++
		switch {
		case h.MonthlyIncome == canasta.UnknownIncome:
			s.unknownIncome++
		case h.MonthlyIncome <= 200_000:
			s.lowIncome++
		}
		for _, p := range h.Members {
			s.persons++
			switch len(p.BirthDate) {
			case 0:
				s.unknownDate++
			case 4, 7:
				s.partialDate++
			}
			if bd, _ := canasta.ParseBirthDate(p.BirthDate); bd.Known() && bd.AgeOn(DefaultAsOf) >= 18 {
				s.adults++
				if p.NationalID != "" {
					s.withNationalID++
				}
			}
			if p.FamilyName == "" {
				s.mononym++
			}
			if p.Disability {
				s.disability++
			}
			switch p.Sex {
			case "X":
				s.sexX++
			case "":
				s.sexEmpty++
			}
			name := p.GivenName + p.FamilyName
			s.accented = s.accented || strings.IndexFunc(name, func(r rune) bool { return r > unicode.MaxASCII }) >= 0
			s.apostrophe = s.apostrophe || strings.Contains(name, "'")
			s.compoundFamily = s.compoundFamily || strings.Contains(p.FamilyName, " ")
		}
	}
	return s
}

func share(n, of int) float64 { return float64(n) / float64(of) }

func TestDistribution(t *testing.T) {
	s := measure(sample())
	between := func(name string, got, lo, hi float64) error {
		if got < lo || got > hi {
			return fmt.Errorf("%s = %.4f, want between %.4f and %.4f", name, got, lo, hi)
		}
		return nil
	}
	truth := func(name string, ok bool) error {
		if !ok {
			return fmt.Errorf("no %s", name)
		}
		return nil
	}
	tests := []struct {
		name  string
		check func() error
	}{
		{"mean size", func() error { return between("mean size", share(s.persons, s.households), 2.5, 4.5) }},
		{"unknown birth dates", func() error { return between("unknown share", share(s.unknownDate, s.persons), 0.03, 0.12) }},
		{"partial birth dates", func() error { return between("partial share", share(s.partialDate, s.persons), 0.04, 0.12) }},
		{"national ids of adults", func() error { return between("adults with id", share(s.withNationalID, s.adults), 0.75, 0.85) }},
		{"unknown income", func() error { return between("unknown share", share(s.unknownIncome, s.households), 0.03, 0.08) }},
		{"mostly low incomes", func() error { return between("income ≤ 200000", share(s.lowIncome, s.households), 0.5, 0.9) }},
		{"disability", func() error { return between("disability share", share(s.disability, s.persons), 0.045, 0.075) }},
		{"mononyms", func() error { return between("mononym share", share(s.mononym, s.persons), 0.002, 0.01) }},
		{"sex not recorded", func() error { return between("empty sex share", share(s.sexEmpty, s.persons), 0.002, 0.02) }},
		{"sex X", func() error { return truth("sex X", s.sexX > 0) }},
		{"accented names", func() error { return truth("accented name", s.accented) }},
		{"apostrophe names", func() error { return truth("name with an apostrophe", s.apostrophe) }},
		{"compound family names", func() error { return truth("compound family name", s.compoundFamily) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.check(); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestHouseholdSizes(t *testing.T) {
	counts := map[int]int{}
	for _, h := range sample() {
		counts[len(h.Members)]++
	}
	n := len(sample())
	tests := []struct {
		size   int
		lo, hi float64
	}{
		{1, 0.12, 0.18}, {2, 0.17, 0.23}, {3, 0.17, 0.23}, {4, 0.15, 0.21}, {5, 0.09, 0.15}, {10, 0.003, 0.02},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.size), func(t *testing.T) {
			if got := share(counts[tt.size], n); got < tt.lo || got > tt.hi {
				t.Errorf("share of size %d = %.3f, want between %.3f and %.3f", tt.size, got, tt.lo, tt.hi)
			}
		})
	}
	for size := range counts {
		if size < 1 || size > 10 {
			t.Errorf("%d households of size %d, want sizes 1 to 10", counts[size], size)
		}
	}
}

func TestUniqueIDs(t *testing.T) {
	sources := map[string]bool{}
	nationals := map[string]bool{}
	for _, h := range sample() {
		if sources[h.SourceID] {
			t.Fatalf("source id %s repeats", h.SourceID)
		}
		sources[h.SourceID] = true
		for i, p := range h.Members {
			want := "P" + h.SourceID[1:] + "-" + fmt.Sprint(i+1)
			if p.SourceID != want {
				t.Fatalf("member %d of %s has source id %q, want %q", i+1, h.SourceID, p.SourceID, want)
			}
			if sources[p.SourceID] {
				t.Fatalf("source id %s repeats", p.SourceID)
			}
			sources[p.SourceID] = true
			if p.NationalID == "" {
				continue
			}
			if !ValidNationalID(p.NationalID) {
				t.Fatalf("national id %q of %s fails its check digit", p.NationalID, p.SourceID)
			}
			if nationals[p.NationalID] {
				t.Fatalf("national id %q repeats", p.NationalID)
			}
			nationals[p.NationalID] = true
		}
	}
	if got := sample()[0].SourceID; got != "H0000001" {
		t.Errorf("first household source id = %q, want H0000001", got)
	}
}

func TestRolesAndAges(t *testing.T) {
	age := func(p *canasta.Person) (int, bool) {
		if len(p.BirthDate) != 10 {
			return 0, false
		}
		bd, err := canasta.ParseBirthDate(p.BirthDate)
		if err != nil {
			t.Fatalf("%s: %v", p.SourceID, err)
		}
		return bd.AgeOn(DefaultAsOf), true
	}
	roles := map[string]int{}
	for _, h := range sample() {
		head := h.Members[0]
		if head.Relationship != canasta.RelationshipHead {
			t.Fatalf("%s: first member is %q, want the head", h.SourceID, head.Relationship)
		}
		headAge, headKnown := age(head)
		if headKnown && (headAge < 18 || headAge > 90) {
			t.Fatalf("%s: head aged %d, want 18 to 90", h.SourceID, headAge)
		}
		for _, p := range h.Members[1:] {
			roles[p.Relationship]++
			a, known := age(p)
			switch p.Relationship {
			case RelationshipChild:
				if known && headKnown && a > headAge-16 {
					t.Fatalf("%s: child aged %d with head aged %d", p.SourceID, a, headAge)
				}
			case RelationshipParent:
				if known && headKnown && a < headAge+18 {
					t.Fatalf("%s: parent aged %d with head aged %d", p.SourceID, a, headAge)
				}
			case RelationshipSpouse:
				if known && a < 18 {
					t.Fatalf("%s: spouse aged %d", p.SourceID, a)
				}
			case RelationshipOther:
			default:
				t.Fatalf("%s: relationship %q", p.SourceID, p.Relationship)
			}
		}
	}
	for _, r := range []string{RelationshipSpouse, RelationshipChild, RelationshipParent, RelationshipOther} {
		if roles[r] == 0 {
			t.Errorf("no member is a %s", r)
		}
	}
	if roles[RelationshipChild] < roles[RelationshipOther] || roles[RelationshipSpouse] < roles[RelationshipParent] {
		t.Errorf("implausible mix of relationships: %v", roles)
	}
}

func TestAddresses(t *testing.T) {
	hispanic, english := 0, 0
	for _, h := range sample() {
		a := h.Address
		if len(a.Postcode) != 5 || strings.Trim(a.Postcode, "0123456789") != "" {
			t.Fatalf("%s: postcode %q, want five digits", h.SourceID, a.Postcode)
		}
		if strings.Contains(a.Line, " #") {
			hispanic++
		}
		if strings.HasSuffix(a.Line, " Street") {
			english++
		}
	}
	if hispanic == 0 || english == 0 {
		t.Errorf("address lines: %d like \"Calle 12 #34-56\", %d like \"14 Elm Street\"; want both styles", hispanic, english)
	}
}

func TestValidNationalID(t *testing.T) {
	tests := []struct {
		name string
		id   string
		want bool
	}{
		{"good check digit", "1234567897", true},
		{"wrong check digit", "1234567890", false},
		{"too short", "123456789", false},
		{"too long", "12345678970", false},
		{"letters", "12345a7897", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ValidNationalID(tt.id); got != tt.want {
				t.Errorf("ValidNationalID(%q) = %v, want %v", tt.id, got, tt.want)
			}
		})
	}
}

func TestNationalIDsNeverRepeat(t *testing.T) {
	// Near the end of the nine-digit space cycle-walking does most of the
	// work; ids issued there must still be distinct and well formed.
	ids := newNationalIDs(7)
	ids.next = idBodySpace - 5000
	seen := map[string]bool{}
	for {
		b, ok := ids.appendNext(nil)
		if !ok {
			break
		}
		id := string(b)
		if !ValidNationalID(id) || seen[id] {
			t.Fatalf("id %q: valid %v, repeated %v", id, ValidNationalID(id), seen[id])
		}
		seen[id] = true
	}
	if len(seen) != 5000 {
		t.Fatalf("issued %d ids before the space ran out, want 5000", len(seen))
	}
}

func BenchmarkNext(b *testing.B) {
	g := New(Config{Households: math.MaxInt, Seed: 1})
	b.ReportAllocs()
	for b.Loop() {
		g.Next()
	}
}
