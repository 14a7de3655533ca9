package dedup

import (
	"math"
	"testing"
)

// Published values: Winkler (1990) and the examples repeated in most
// references on the measure.
func TestJaroWinkler(t *testing.T) {
	for _, tt := range []struct {
		a, b     string
		jaro, jw float64
	}{
		{"MARTHA", "MARHTA", 0.944, 0.961},
		{"DWAYNE", "DUANE", 0.822, 0.840},
		{"DIXON", "DICKSONX", 0.767, 0.813},
		{"JELLYFISH", "SMELLYFISH", 0.896, 0.896},
		{"same", "same", 1, 1},
		{"abc", "xyz", 0, 0},
		{"", "abc", 0, 0},
	} {
		t.Run(tt.a+"/"+tt.b, func(t *testing.T) {
			if j := Jaro(tt.a, tt.b); math.Abs(j-tt.jaro) > 0.0005 {
				t.Errorf("Jaro = %.4f, want %.3f", j, tt.jaro)
			}
			if jw := JaroWinkler(tt.a, tt.b); math.Abs(jw-tt.jw) > 0.0005 {
				t.Errorf("JaroWinkler = %.4f, want %.3f", jw, tt.jw)
			}
			if JaroWinkler(tt.a, tt.b) != JaroWinkler(tt.b, tt.a) {
				t.Error("not symmetric")
			}
		})
	}
}

// The U.S. National Archives' examples of American Soundex.
func TestSoundex(t *testing.T) {
	for name, want := range map[string]string{
		"Robert": "R163", "Rupert": "R163", "Rubin": "R150", "Ashcraft": "A261", "Ashcroft": "A261",
		"Tymczak": "T522", "Pfister": "P236", "Honeyman": "H555", "Lee": "L000", "Gutierrez": "G362",
		"Jackson": "J250", "Washington": "W252", "": "",
	} {
		t.Run(name, func(t *testing.T) {
			if got := Soundex(name); got != want {
				t.Errorf("Soundex(%q) = %q, want %q", name, got, want)
			}
		})
	}
}

func TestPhonetic(t *testing.T) {
	alike := [][]string{
		{"vasquez", "vazquez", "basques"},
		{"jimenez", "gimenez", "ximenez"},
		{"gonzalez", "gonsales"},
		{"hernandez", "ernandez"},
		{"felipe", "philip"},
		{"smith", "smyth"},
		{"catherine", "katherine", "kathryn"},
		{"llanos", "yanos"},
		{"ceballos", "zeballos", "seballos"},
		{"quinones", "kinones"},
		{"yolanda", "yolanda"},
		{"knight", "night"},
		{"ambrosio", "anbrosio"},
		{"chavez", "chaves"},
	}
	for _, group := range alike {
		t.Run(group[0], func(t *testing.T) {
			want := Phonetic(group[0])
			if want == "" {
				t.Fatal("empty code")
			}
			for _, w := range group[1:] {
				if got := Phonetic(w); got != want {
					t.Errorf("Phonetic(%q) = %q, Phonetic(%q) = %q; want equal", w, got, group[0], want)
				}
			}
		})
	}
	for _, pair := range [][2]string{{"garcia", "gomez"}, {"maria", "marta"}, {"lopez", "perez"}, {"john", "james"}} {
		t.Run(pair[0]+"/"+pair[1], func(t *testing.T) {
			if Phonetic(pair[0]) == Phonetic(pair[1]) {
				t.Errorf("Phonetic(%q) = Phonetic(%q) = %q", pair[0], pair[1], Phonetic(pair[0]))
			}
		})
	}
}

func TestOneEdit(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want bool
	}{
		{"1234567897", "1234567897", false},
		{"1234567897", "1234567807", true},  // substitution
		{"1234567897", "1234576897", true},  // transposition
		{"1234567897", "123456789", true},   // deletion
		{"123456789", "1234567897", true},   // insertion
		{"1234567897", "1243567807", false}, // two errors
		{"1234567897", "2134567879", false},
	} {
		t.Run(tt.a+"/"+tt.b, func(t *testing.T) {
			if got := OneEdit(tt.a, tt.b); got != tt.want {
				t.Errorf("OneEdit = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestTokens(t *testing.T) {
	for _, tt := range []struct {
		in   string
		drop bool
		want string
	}{
		{"María José", false, "maria|jose"},
		{"O'Brien", false, "obrien"},
		{"de la Cruz", true, "cruz"},
		{"de la Rosa Núñez", true, "rosa|nunez"},
		{"Del", true, "del"},
		{"Smith-Jones", false, "smith|jones"},
		{"Calle 12 #34-56", false, "calle|12|34|56"},
	} {
		t.Run(tt.in, func(t *testing.T) {
			got := ""
			for i, w := range Tokens(tt.in, tt.drop) {
				if i > 0 {
					got += "|"
				}
				got += w
			}
			if got != tt.want {
				t.Errorf("Tokens = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCanonical(t *testing.T) {
	for nick, full := range map[string]string{"pepe": "jose", "paco": "francisco", "bill": "william", "lupe": "guadalupe",
		"tony": "anthony", "antonio": "anthony", "garcia": "garcia"} {
		if got := Canonical(nick); got != full {
			t.Errorf("Canonical(%q) = %q, want %q", nick, got, full)
		}
	}
}

// TestJaroWinklerAtLeast checks the quick test against the similarity
// itself on every pair of a list of names, near and far.
func TestJaroWinklerAtLeast(t *testing.T) {
	words := []string{"martha", "marhta", "dwayne", "duane", "dixon", "dicksonx", "garcia", "garzia",
		"gonzalez", "gonzales", "rodriguez", "rodrigues", "lopez", "lopes", "maria", "mario", "jose",
		"josue", "juan", "juana", "smith", "smyth", "schmidt", "li", "le", "lee", "ana", "anna", "a",
		"ab", "ba", "quispe", "quispi", "hernandez", "fernandez", "nguyen", "ngyuen", "x1", "1x"}
	for _, min := range []float64{0.85, 0.9, 0.95} {
		for _, a := range words {
			for _, b := range words {
				if got, want := JaroWinklerAtLeast(a, b, min), JaroWinkler(a, b) >= min; got != want {
					t.Errorf("JaroWinklerAtLeast(%q, %q, %g) = %v, want %v", a, b, min, got, want)
				}
			}
		}
	}
}
