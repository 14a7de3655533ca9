package dedup

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Truth is the set of pairs of source ids that are truly the same person,
// each with the noise types that separate them, if known.
type Truth struct {
	pairs map[[2]string][]string
}

func orderedPair(a, b string) [2]string {
	if a > b {
		a, b = b, a
	}
	return [2]string{a, b}
}

// ReadTruth reads a truth file: CSV rows of two source ids and, optionally,
// a third column of noise types joined by "+". A first row naming the
// columns (starting "a_source_id") is skipped.
func ReadTruth(r io.Reader) (*Truth, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	t := &Truth{pairs: map[[2]string][]string{}}
	for line := 1; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return t, nil
		} else if err != nil {
			return nil, fmt.Errorf("read truth: %w", err)
		}
		if line == 1 && len(rec) > 0 && rec[0] == "a_source_id" {
			continue
		}
		if len(rec) < 2 || rec[0] == "" || rec[1] == "" {
			return nil, fmt.Errorf("read truth: line %d: want two source ids", line)
		}
		var noise []string
		if len(rec) > 2 && rec[2] != "" {
			noise = strings.Split(rec[2], "+")
		}
		t.pairs[orderedPair(rec[0], rec[1])] = noise
	}
}

// Len is how many true pairs there are.
func (t *Truth) Len() int { return len(t.pairs) }

// Accuracy is how well found pairs agree with the truth.
type Accuracy struct {
	Precision, Recall, F1 float64
	Found, True, Correct  int
	// ByNoise is the recall of the true pairs carrying each noise type.
	ByNoise []NoiseRecall
}

// NoiseRecall is the recall among true pairs with one noise type.
type NoiseRecall struct {
	Noise       string
	True, Found int
	Recall      float64
}

// Evaluate compares found pairs of source ids with the truth.
func (t *Truth) Evaluate(found [][2]string) Accuracy {
	a := Accuracy{Found: len(found), True: len(t.pairs)}
	hit := map[[2]string]bool{}
	for _, p := range found {
		k := orderedPair(p[0], p[1])
		if _, ok := t.pairs[k]; ok && !hit[k] {
			hit[k] = true
			a.Correct++
		}
	}
	if a.Found > 0 {
		a.Precision = float64(a.Correct) / float64(a.Found)
	}
	if a.True > 0 {
		a.Recall = float64(a.Correct) / float64(a.True)
	}
	if a.Precision+a.Recall > 0 {
		a.F1 = 2 * a.Precision * a.Recall / (a.Precision + a.Recall)
	}
	by := map[string]*NoiseRecall{}
	for k, noise := range t.pairs {
		for _, n := range noise {
			nr := by[n]
			if nr == nil {
				nr = &NoiseRecall{Noise: n}
				by[n] = nr
			}
			nr.True++
			if hit[k] {
				nr.Found++
			}
		}
	}
	for _, nr := range by {
		nr.Recall = float64(nr.Found) / float64(nr.True)
		a.ByNoise = append(a.ByNoise, *nr)
	}
	slices.SortFunc(a.ByNoise, func(x, y NoiseRecall) int { return strings.Compare(x.Noise, y.Noise) })
	return a
}

// Missed returns the true pairs not among found, for inspection.
func (t *Truth) Missed(found [][2]string) [][2]string {
	hit := map[[2]string]bool{}
	for _, p := range found {
		hit[orderedPair(p[0], p[1])] = true
	}
	var out [][2]string
	for k := range t.pairs {
		if !hit[k] {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, func(a, b [2]string) int { return strings.Compare(a[0]+a[1], b[0]+b[1]) })
	return out
}

// NewTruth returns an empty truth to Add to.
func NewTruth() *Truth { return &Truth{pairs: map[[2]string][]string{}} }

// Add records that a and b are the same person, separated by noise.
func (t *Truth) Add(a, b string, noise []string) { t.pairs[orderedPair(a, b)] = noise }

// Has reports whether a and b are a true pair.
func (t *Truth) Has(a, b string) bool {
	_, ok := t.pairs[orderedPair(a, b)]
	return ok
}
