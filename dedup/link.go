package dedup

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Options tune a batch search for duplicates.
type Options struct {
	// Threshold is the least match probability of a returned pair;
	// 0 means 0.5.
	Threshold float64
	// Workers compare pairs in parallel; 0 means GOMAXPROCS.
	Workers int
	// MaxIterations bounds each EM fit; 0 means 200.
	MaxIterations int
	// Progress, if set, is called now and then with the stage ("blocking",
	// "comparing", "scoring") and how far it has come, never by two
	// goroutines at once.
	Progress func(stage string, done, total int64)
}

// Pair is two records, by index, and their match probability.
type Pair struct {
	A, B  int32
	Score float64
}

// Result is the outcome of a batch search.
type Result struct {
	// Pairs are the pairs at or above the threshold, ordered by A then B.
	Pairs []Pair
	// Compared is how many distinct pairs blocking produced and the model
	// compared; Possible is how many pairs all records make, n(n-1)/2.
	Compared int64
	Possible float64
	// PairsByKey is how many pairs each blocking key produced, before
	// pairs found by several keys were counted once.
	PairsByKey map[string]int64
	Model      *Model
	// Stages is how long each stage took: blocking, comparing, fitting
	// (the model and household context) and scoring.
	Stages []Stage
}

// Stage is one stage of Link and its wall-clock time.
type Stage struct {
	Name string
	Time time.Duration
}

// ReductionRatio is the share of all possible pairs that blocking spared
// from comparison.
func (r *Result) ReductionRatio() float64 {
	if r.Possible == 0 {
		return 0
	}
	return 1 - float64(r.Compared)/r.Possible
}

// Link finds the likely duplicates among recs: it blocks them on several
// keys, compares each candidate pair on every field, fits the model to
// the registry by EM, adds household context (whether other members of
// the two households match), then scores every pair. It numbers the
// records' names, for a cache of name comparisons.
func Link(ctx context.Context, recs []Record, opt Options) (*Result, error) {
	if opt.Threshold == 0 {
		opt.Threshold = 0.5
	}
	if opt.Workers <= 0 {
		opt.Workers = runtime.GOMAXPROCS(0)
	}
	if opt.MaxIterations <= 0 {
		opt.MaxIterations = 200
	}
	progress := func(string, int64, int64) {}
	if opt.Progress != nil {
		var mu sync.Mutex // workers report concurrently; the caller need not lock
		progress = func(stage string, done, total int64) {
			mu.Lock()
			defer mu.Unlock()
			opt.Progress(stage, done, total)
		}
	}
	n := len(recs)
	res := &Result{Possible: float64(n) * float64(n-1) / 2, PairsByKey: map[string]int64{}}

	start := time.Now()
	stage := func(name string) {
		now := time.Now()
		res.Stages = append(res.Stages, Stage{name, now.Sub(start)})
		start = now
	}
	numberNames(recs)
	pairs, err := blockPairs(ctx, recs, opt.Workers, res.PairsByKey, progress)
	if err != nil {
		return nil, err
	}
	res.Compared = int64(len(pairs))
	stage("blocking")

	caches := make([]*nameCache, opt.Workers)
	for i := range caches {
		caches[i] = newNameCache(len(recs))
	}
	patterns := make([]uint32, len(pairs))
	if err := compareAll(ctx, recs, pairs, patterns, caches, progress); err != nil {
		return nil, err
	}
	stage("comparing")
	progress("scoring", 0, 3)
	sc := newScorer(recs)
	model, err := fitModel(ctx, recs, pairs, patterns, res.Possible, sc, caches, opt)
	if err != nil {
		return nil, err
	}
	res.Model = model
	progress("scoring", 2, 3)
	stage("fitting")

	for _, p := range scoreAbove(pairs, patterns, sc, model.weights(), opt.Threshold, opt.Workers) {
		res.Pairs = append(res.Pairs, p.Pair)
	}
	res.Pairs = oneToOne(recs, res.Pairs)
	progress("scoring", 3, 3)
	stage("scoring")
	return res, nil
}

// blockPairs returns the distinct candidate pairs of all blocking keys,
// sorted.
func blockPairs(ctx context.Context, recs []Record, workers int, byKey map[string]int64, progress func(string, int64, int64)) ([]uint64, error) {
	parts := make([][]uint64, len(blockingKeys))
	var next, done atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, len(blockingKeys)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := int(next.Add(1) - 1); k < len(blockingKeys) && ctx.Err() == nil; k = int(next.Add(1) - 1) {
				parts[k] = candidatePairs(recs, blockingKeys[k], nil)
				slices.Sort(parts[k])
				parts[k] = slices.Compact(parts[k])
				progress("blocking", done.Add(1), int64(len(blockingKeys)))
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for k, p := range parts {
		byKey[blockingKeys[k].name] = int64(len(p))
	}
	return mergeDistinct(parts...), nil
}

// mergeDistinct merges sorted lists, each without repeats, into one
// sorted list without repeats, in one pass and one allocation: the lists
// of a million records' pairs are hundreds of megabytes.
func mergeDistinct(lists ...[]uint64) []uint64 {
	total := 0
	for _, l := range lists {
		total += len(l)
	}
	out := make([]uint64, 0, total)
	heads := make([]int, len(lists))
	for {
		best, from := uint64(0), -1
		for k, l := range lists {
			if h := heads[k]; h < len(l) && (from < 0 || l[h] < best) {
				best, from = l[h], k
			}
		}
		if from < 0 {
			return out
		}
		out = append(out, best)
		for k, l := range lists {
			if h := heads[k]; h < len(l) && l[h] == best {
				heads[k]++
			}
		}
	}
}

// compareAll fills patterns[i] with the comparison pattern of pairs[i],
// with a worker per cache.
func compareAll(ctx context.Context, recs []Record, pairs []uint64, patterns []uint32, caches []*nameCache, progress func(string, int64, int64)) error {
	const chunk = 1 << 14
	var next, done atomic.Int64
	var wg sync.WaitGroup
	total := int64(len(pairs))
	for _, cache := range caches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				start := next.Add(chunk) - chunk
				if start >= total || ctx.Err() != nil {
					return
				}
				end := min(start+chunk, total)
				for i := start; i < end; i++ {
					a, b := int32(pairs[i]>>32), int32(uint32(pairs[i]))
					l := compare(&recs[a], &recs[b], cache)
					patterns[i] = l.pattern()
				}
				progress("comparing", done.Add(end-start), total)
			}
		}()
	}
	wg.Wait()
	return ctx.Err()
}

// fitModel estimates the model: u from random pairs; m of the fields
// that describe the person in EM sessions (see session); Lambda by EM
// with those fixed; then the m of household context from the pairs
// weighted by their match probability without it.
func fitModel(ctx context.Context, recs []Record, pairs []uint64, patterns []uint32, possible float64, sc *scorer,
	caches []*nameCache, opt Options) (*Model, error) {
	noProgress := func(string, int64, int64) {}
	u, err := randomPairLevels(ctx, recs, caches)
	if err != nil {
		return nil, err
	}
	model := initialModel(u, len(recs), possible)
	priors := model.M
	model.M[FieldHousehold] = nil
	for i, s := range sessions {
		tp := sessionPairs(recs, s.key, maxSessionPairs, uint64(i+1))
		tl := make([]uint32, len(tp))
		if err := compareAll(ctx, recs, tp, tl, caches, noProgress); err != nil {
			return nil, err
		}
		fitSession(countPatterns(tl), s, model, priors, opt.MaxIterations)
	}
	counts := countPatterns(patterns)
	fitLambda(counts, possible, model, opt.MaxIterations)

	without := model.weights()
	sc.uGiven, sc.uFamily = model.U[FieldGiven][1], model.U[FieldFamily][1]
	addHouseholdContext(recs, pairs, patterns, sc, without, opt.Threshold, opt.Workers)
	counts = countPatterns(patterns)
	model.M[FieldHousehold] = mStep(counts, without, FieldHousehold, priors[FieldHousehold])
	fitLambda(counts, possible, model, opt.MaxIterations)
	return model, nil
}

// maxSessionPairs bounds the pairs of one EM session: plenty to estimate
// a few dozen probabilities.
const maxSessionPairs = 500_000

// sessionPairs returns pairs of records in different households with the
// same non-empty key: every pair of a small group, a random sample of a
// large one, and at most max in all, chosen at random.
func sessionPairs(recs []Record, key func(*Record) string, max int, seed uint64) []uint64 {
	ks := make([]keyed, 0, len(recs))
	for i := range recs {
		if k := key(&recs[i]); k != "" {
			ks = append(ks, keyed{hash64(k), int32(i)})
		}
	}
	slices.SortFunc(ks, func(a, b keyed) int { return cmp.Compare(a.key, b.key) })
	r := rand.New(rand.NewPCG(seed, 7))
	var out []uint64
	add := func(a, b int32) {
		if a != b && recs[a].household != recs[b].household {
			out = append(out, pairKey(a, b))
		}
	}
	for i := 0; i < len(ks); {
		j := i + 1
		for j < len(ks) && ks[j].key == ks[i].key {
			j++
		}
		block := ks[i:j]
		if n := len(block); n <= 2*maxBlock {
			for x := range block {
				for y := x + 1; y < n; y++ {
					add(block[x].rec, block[y].rec)
				}
			}
		} else {
			for range n * maxBlock {
				add(block[r.IntN(n)].rec, block[r.IntN(n)].rec)
			}
		}
		i = j
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > max {
		r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
		out = out[:max]
	}
	return out
}

// mStep estimates m of field f from pattern counts weighted by the match
// probability under w, which must not use f.
func mStep(counts []float64, w *weights, f Field, prior []float64) []float64 {
	sum := make([]float64, radix[f])
	for p, c := range counts {
		if c == 0 {
			continue
		}
		l := levelsOf(uint32(p))
		if l[f] != 0 {
			sum[l[f]] += c / (1 + math.Exp(-w.logOdds(&l)))
		}
	}
	m := make([]float64, radix[f])
	for l := 1; l < radix[f]; l++ {
		m[l] = 1 / float64(radix[f]) // so update measures no change from zero
	}
	p := make([]float64, radix[f])
	for l := 1; l < radix[f]; l++ {
		p[l] = priorStrength * prior[l]
	}
	update(m, sum, p)
	return m
}

// numberNames gives equal given names, and equal surnames, one number,
// for the name cache.
func numberNames(recs []Record) {
	given, family, words := map[string]uint32{}, map[string]uint32{}, map[string]uint32{}
	number := func(m map[string]uint32, n *namePart) {
		if n.empty() {
			return
		}
		id, ok := m[n.join]
		if !ok {
			id = uint32(len(m) + 1)
			m[n.join] = id
		}
		n.id = id
		n.wordIDs = make([]uint32, len(n.words))
		for i, w := range n.words {
			id, ok := words[w]
			if !ok {
				id = uint32(len(words) + 1)
				words[w] = id
			}
			n.wordIDs[i] = id
		}
	}
	for i := range recs {
		number(given, &recs[i].given)
		number(family, &recs[i].family)
	}
}

func countPatterns(patterns []uint32) []float64 {
	counts := make([]float64, numPatterns)
	for _, p := range patterns {
		counts[p]++
	}
	return counts
}

// randomPairSample is how many random pairs measure u: enough for the
// rarer levels to be seen a few hundred times.
const randomPairSample = 200_000

// randomPairLevels estimates u from random pairs, which are almost all
// non-matches, with one pair's worth of smoothing so no level is zero.
func randomPairLevels(ctx context.Context, recs []Record, caches []*nameCache) ([NumFields][]float64, error) {
	var u [NumFields][]float64
	for f := range u {
		u[f] = make([]float64, radix[f])
		for l := 1; l < radix[f]; l++ {
			u[f][l] = 1
		}
	}
	if len(recs) >= 2 {
		r := rand.New(rand.NewPCG(1, 2))
		pairs := make([]uint64, 0, randomPairSample)
		for range randomPairSample {
			a, b := r.IntN(len(recs)), r.IntN(len(recs))
			if a != b {
				pairs = append(pairs, pairKey(int32(a), int32(b)))
			}
		}
		patterns := make([]uint32, len(pairs))
		if err := compareAll(ctx, recs, pairs, patterns, caches, func(string, int64, int64) {}); err != nil {
			return u, err
		}
		for _, p := range patterns {
			l := levelsOf(p)
			for f := Field(0); f < FieldHousehold; f++ {
				u[f][l[f]]++
			}
		}
	}
	u[FieldHousehold][1], u[FieldHousehold][2] = 1, 99
	for f := range u {
		normalize(u[f])
	}
	return u, nil
}

// addHouseholdContext sets each pair's household level: whether some
// other pair between the same two households scored at least threshold
// under the model without household context. Members of a household
// registered twice match each other, so one clear match lends weight to
// its co-members' noisier ones.
func addHouseholdContext(recs []Record, pairs []uint64, patterns []uint32, sc *scorer, w *weights, threshold float64, workers int) {
	type households struct{ a, b int32 }
	strong := map[households]int{}
	key := func(i int) households {
		a, b := recs[pairs[i]>>32].household, recs[uint32(pairs[i])].household
		if a > b {
			a, b = b, a
		}
		return households{a, b}
	}
	above := make([]bool, len(pairs))
	for _, p := range scoreAbove(pairs, patterns, sc, w, threshold, workers) {
		above[p.index] = true
		strong[key(int(p.index))]++
	}
	// Most pairs join households with no strong pair at all: a bit per
	// household spares them the lookup.
	var hasStrong []uint64
	for k := range strong {
		for _, h := range []int32{k.a, k.b} {
			for int(h/64) >= len(hasStrong) {
				hasStrong = append(hasStrong, 0)
			}
			hasStrong[h/64] |= 1 << (h % 64)
		}
	}
	marked := func(h int32) bool { return int(h/64) < len(hasStrong) && hasStrong[h/64]&(1<<(h%64)) != 0 }
	stride := uint32(1)
	for f := Field(0); f < FieldHousehold; f++ {
		stride *= uint32(radix[f])
	}
	for i, pk := range pairs {
		ha, hb := recs[pk>>32].household, recs[uint32(pk)].household
		if ha == hb {
			continue // level 0: same household
		}
		level := uint32(2)
		if marked(ha) && marked(hb) {
			others := strong[key(i)]
			if above[i] {
				others--
			}
			if others > 0 {
				level = 1
			}
		}
		patterns[i] += level * stride
	}
}

func (r *Result) String() string {
	return fmt.Sprintf("compared=%d possible=%.0f reduction=%.6f pairs=%d", r.Compared, r.Possible, r.ReductionRatio(), len(r.Pairs))
}

// scoredPair is a pair scoring at least a threshold and its index among
// the candidate pairs.
type scoredPair struct {
	Pair
	index int32
}

// scoreAbove returns the pairs scoring at least threshold under w, in
// order, scoring parts of the pairs in parallel.
func scoreAbove(pairs []uint64, patterns []uint32, sc *scorer, w *weights, threshold float64, workers int) []scoredPair {
	parts := make([][]scoredPair, max(workers, 1))
	size := (len(pairs) + len(parts) - 1) / len(parts)
	var wg sync.WaitGroup
	for k := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := k * size; i < min(len(pairs), (k+1)*size); i++ {
				a, b := int32(pairs[i]>>32), int32(uint32(pairs[i]))
				l := levelsOf(patterns[i])
				if p := sc.probability(w, &l, a, b); p >= threshold {
					parts[k] = append(parts[k], scoredPair{Pair{A: a, B: b, Score: p}, int32(i)})
				}
			}
		}()
	}
	wg.Wait()
	return slices.Concat(parts...)
}
