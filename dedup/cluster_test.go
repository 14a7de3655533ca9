package dedup

import (
	"fmt"
	"strings"
	"testing"

	"github.com/canasta/canasta"
)

func testRecord(given, family, birth string) Record {
	p := &canasta.PersonRecord{Person: canasta.Person{GivenName: given, FamilyName: family, BirthDate: birth, Sex: "F"},
		Address: canasta.Address{Line: "Calle 1 #2-3", Locality: "Centro", Region: "Capital", Postcode: "10001"}}
	return NewRecord(p, 0)
}

func TestClusters(t *testing.T) {
	for _, tt := range []struct {
		name  string
		n     int
		pairs [][2]int32
		want  string
	}{
		{"none", 3, nil, ""},
		{"one pair", 3, [][2]int32{{0, 2}}, "[0 2]"},
		{"transitive", 6, [][2]int32{{4, 5}, {1, 4}, {0, 3}}, "[0 3] [1 4 5]"},
		{"cycle", 4, [][2]int32{{0, 1}, {1, 2}, {2, 0}}, "[0 1 2]"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var ps []Pair
			for _, p := range tt.pairs {
				ps = append(ps, Pair{A: p[0], B: p[1], Score: 0.9})
			}
			var got []string
			for _, g := range Clusters(tt.n, ps) {
				got = append(got, fmt.Sprint(g))
			}
			if s := strings.Join(got, " "); s != tt.want {
				t.Errorf("Clusters = %q, want %q", s, tt.want)
			}
		})
	}
}

func TestTruthEvaluate(t *testing.T) {
	truth, err := ReadTruth(strings.NewReader("a_source_id,b_source_id,noise\nP1,D1,typo\nP2,D2,typo+moved\nP3,D3,\n"))
	if err != nil {
		t.Fatal(err)
	}
	acc := truth.Evaluate([][2]string{{"D1", "P1"}, {"P2", "D2"}, {"P4", "P5"}})
	if acc.Correct != 2 || acc.Found != 3 || acc.True != 3 || fmt.Sprintf("%.4f %.4f %.4f", acc.Precision, acc.Recall, acc.F1) != "0.6667 0.6667 0.6667" {
		t.Errorf("accuracy = %+v", acc)
	}
	want := map[string]string{"typo": "2/2", "moved": "1/1"}
	for _, n := range acc.ByNoise {
		if got := fmt.Sprintf("%d/%d", n.Found, n.True); got != want[n.Noise] {
			t.Errorf("%s: %s, want %s", n.Noise, got, want[n.Noise])
		}
	}
	if _, err := ReadTruth(strings.NewReader("P1\n")); err == nil {
		t.Error("a row with one id was accepted")
	}
}

func TestIndexKeys(t *testing.T) {
	a := testRecord("Juan Carlos", "García López", "1980-05-12")
	for _, tt := range []struct {
		name  string
		b     Record
		share bool
	}{
		{"same", testRecord("Juan Carlos", "García López", "1980-05-12"), true},
		{"swapped names", testRecord("García López", "Juan Carlos", "1980-05-12"), true},
		{"typo and no date", testRecord("Jaun Carlos", "García López", ""), true},
		{"stranger elsewhere", func() Record {
			p := &canasta.PersonRecord{Person: canasta.Person{GivenName: "Mary", FamilyName: "Smith", BirthDate: "1975-01-30"},
				Address: canasta.Address{Line: "14 Elm Street", Postcode: "66001"}}
			return NewRecord(p, 1)
		}(), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			shared := false
			for _, x := range IndexKeys(&a) {
				for _, y := range IndexKeys(&tt.b) {
					shared = shared || x == y
				}
			}
			if shared != tt.share {
				t.Errorf("share a key = %v, want %v", shared, tt.share)
			}
		})
	}
}
