package dedup_test

import (
	"context"
	"testing"

	"github.com/canasta/canasta"
	"github.com/canasta/canasta/dedup"
	"github.com/canasta/canasta/synth"
)

// population returns the records of a synthetic registry with duplicates
// at rate, and its truth.
func population(tb testing.TB, households int, rate float64, seed int64) ([]dedup.Record, *dedup.Truth, []synth.TruthPair) {
	tb.Helper()
	g := synth.NewWithDuplicates(synth.Config{Households: households, Seed: seed}, rate)
	var recs []dedup.Record
	hh := int32(0)
	for h := g.Next(); h != nil; h = g.Next() {
		for _, m := range h.Members {
			pr := canasta.PersonRecord{Person: *m, Address: h.Address}
			pr.HouseholdID = h.SourceID
			recs = append(recs, dedup.NewRecord(&pr, hh))
		}
		hh++
	}
	truth := dedup.NewTruth()
	for _, t := range g.Truth() {
		truth.Add(t.A, t.B, t.Noise)
	}
	return recs, truth, g.Truth()
}

func foundPairs(recs []dedup.Record, pairs []dedup.Pair) [][2]string {
	out := make([][2]string, len(pairs))
	for i, p := range pairs {
		out[i] = [2]string{recs[p.A].SourceID, recs[p.B].SourceID}
	}
	return out
}

// TestAccuracy runs the batch search on small synthetic registries with
// 5% duplicates. The floors are a little below what these registries
// give (0.975 and 0.98 F1); they catch a model or blocking change that
// loses accuracy.
func TestAccuracy(t *testing.T) {
	for _, tt := range []struct {
		name       string
		seed       int64
		households int
	}{{"seed=1", 1, 4000}, {"seed=2", 2, 4000}} {
		t.Run(tt.name, func(t *testing.T) {
			recs, truth, _ := population(t, tt.households, 0.05, tt.seed)
			res, err := dedup.Link(context.Background(), recs, dedup.Options{})
			if err != nil {
				t.Fatal(err)
			}
			acc := truth.Evaluate(foundPairs(recs, res.Pairs))
			t.Logf("%d persons, %s: precision=%.4f recall=%.4f f1=%.4f", len(recs), res, acc.Precision, acc.Recall, acc.F1)
			if acc.Precision < 0.95 || acc.Recall < 0.93 || acc.F1 < 0.95 {
				t.Errorf("precision=%.4f recall=%.4f f1=%.4f, want at least 0.95, 0.93, 0.95", acc.Precision, acc.Recall, acc.F1)
			}
			if res.ReductionRatio() < 0.99 {
				t.Errorf("reduction ratio %.4f, want at least 0.99", res.ReductionRatio())
			}
			for _, n := range acc.ByNoise {
				if n.Noise == synth.NoiseExact && n.Recall < 0.99 {
					t.Errorf("exact duplicates: recall %.4f", n.Recall)
				}
			}
		})
	}
}
