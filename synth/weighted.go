package synth

import "math/rand/v2"

// weighted draws items with fixed relative frequencies. Real name and
// place frequencies are steep, so a uniform draw would look artificial.
// Draws use Vose's alias method: one random number and no search, which
// matters because a population of millions makes hundreds of millions of
// draws.
type weighted struct {
	items []string
	// accept[i] is the chance, out of 1<<32, that a draw landing on
	// column i keeps i rather than taking alias[i].
	accept []uint64
	alias  []int
}

func newWeighted(items []string, weights []int) weighted {
	if len(items) != len(weights) {
		panic("synth: weighted list needs one weight per item")
	}
	w := frequencies(weights...)
	w.items = items
	return w
}

// frequencies draws indexes, not strings, with the given weights.
func frequencies(weights ...int) weighted {
	n := len(weights)
	if n == 0 {
		panic("synth: weighted draw needs at least one weight")
	}
	total := 0
	for _, x := range weights {
		if x <= 0 {
			panic("synth: weights must be positive")
		}
		total += x
	}
	w := weighted{accept: make([]uint64, n), alias: make([]int, n)}
	// Scaled so each column holds total; integers keep the split exact.
	scaled := make([]int, n)
	var small, large []int
	for i, x := range weights {
		scaled[i] = x * n
		if scaled[i] < total {
			small = append(small, i)
		} else {
			large = append(large, i)
		}
	}
	for len(small) > 0 && len(large) > 0 {
		s, l := small[len(small)-1], large[len(large)-1]
		small = small[:len(small)-1]
		w.accept[s] = uint64(scaled[s]) << 32 / uint64(total)
		w.alias[s] = l
		scaled[l] -= total - scaled[s]
		if scaled[l] < total {
			large = large[:len(large)-1]
			small = append(small, l)
		}
	}
	for _, i := range append(small, large...) {
		w.accept[i] = 1 << 32
		w.alias[i] = i
	}
	return w
}

// byRank weights a list given in order of frequency with a Zipf-like
// curve, the shape of name frequency tables.
func byRank(items []string) weighted {
	weights := make([]int, len(items))
	for i := range items {
		weights[i] = 10000 / (i + 4)
	}
	return newWeighted(items, weights)
}

func (w weighted) index(r *rand.Rand) int {
	x := r.Uint64()
	i := int((x >> 32) * uint64(len(w.accept)) >> 32)
	if x&(1<<32-1) < w.accept[i] {
		return i
	}
	return w.alias[i]
}

func (w weighted) pick(r *rand.Rand) string { return w.items[w.index(r)] }

// chance reports true with probability perMille/1000.
func chance(r *rand.Rand, perMille int) bool {
	return uint64(r.Uint32())*1000 < uint64(perMille)<<32
}

// between returns a uniform integer in [lo, hi].
func between(r *rand.Rand, lo, hi int) int {
	if hi <= lo {
		return lo
	}
	return lo + r.IntN(hi-lo+1)
}
