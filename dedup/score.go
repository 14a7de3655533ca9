package dedup

import (
	"cmp"
	"math"
	"slices"
)

// scorer turns comparison levels into match probabilities, adjusting
// exact agreement on a name for how common the name is: two records
// sharing a rare surname are more likely one person than two sharing the
// commonest. The model's u for exact agreement is an average over all
// names; the adjusted one is the name's own frequency.
type scorer struct {
	givenFreq, familyFreq []float32 // per record, the share of records with its name
	uGiven, uFamily       float64   // the model's u for exact agreement
}

// maxNameAdjust bounds the adjustment, in natural log units, so that one
// rare or very common name cannot outweigh the other fields.
const maxNameAdjust = 4.0

func newScorer(recs []Record) *scorer {
	sc := &scorer{givenFreq: make([]float32, len(recs)), familyFreq: make([]float32, len(recs))}
	given, family := map[string]int32{}, map[string]int32{}
	for i := range recs {
		given[recs[i].given.join]++
		family[recs[i].family.join]++
	}
	n := float32(max(len(recs), 1))
	for i := range recs {
		sc.givenFreq[i] = float32(given[recs[i].given.join]) / n
		sc.familyFreq[i] = float32(family[recs[i].family.join]) / n
	}
	return sc
}

// adjust is the term-frequency adjustment of a pair's log odds.
func (sc *scorer) adjust(l *Levels, a, b int32) float64 {
	adj := 0.0
	if l[FieldGiven] == 1 && sc.uGiven > 0 && a < int32(len(sc.givenFreq)) {
		f := float64(max(sc.givenFreq[a], sc.givenFreq[b]))
		adj += math.Log(sc.uGiven / f)
	}
	if l[FieldFamily] == 1 && sc.uFamily > 0 && a < int32(len(sc.familyFreq)) {
		f := float64(max(sc.familyFreq[a], sc.familyFreq[b]))
		adj += math.Log(sc.uFamily / f)
	}
	return min(max(adj, -maxNameAdjust), maxNameAdjust)
}

func (sc *scorer) probability(w *weights, l *Levels, a, b int32) float64 {
	return 1 / (1 + math.Exp(-(w.logOdds(l) + sc.adjust(l, a, b))))
}

// oneToOne keeps, between two households, at most one pair per record,
// best first: a person is a member of a household once, so each member of
// one household matches at most one member of the other.
func oneToOne(recs []Record, pairs []Pair) []Pair {
	type member struct {
		a, b int32 // the two households
		rec  int32
	}
	order := slices.Clone(pairs)
	slices.SortStableFunc(order, func(x, y Pair) int { return cmp.Compare(y.Score, x.Score) })
	used := map[member]bool{}
	keep := map[[2]int32]bool{}
	for _, p := range order {
		ha, hb := recs[p.A].household, recs[p.B].household
		if ha > hb {
			ha, hb = hb, ha
		}
		ma, mb := member{ha, hb, p.A}, member{ha, hb, p.B}
		if used[ma] || used[mb] {
			continue
		}
		used[ma], used[mb] = true, true
		keep[[2]int32{p.A, p.B}] = true
	}
	out := pairs[:0]
	for _, p := range pairs {
		if keep[[2]int32{p.A, p.B}] {
			out = append(out, p)
		}
	}
	return out
}
