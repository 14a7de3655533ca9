package dedup_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/canasta/canasta/dedup"
)

// BenchmarkLink measures the batch search on synthetic registries with 5%
// duplicates, from about ten thousand to about a million persons; run one
// size with -bench 'Link/persons=1M'. Metrics: candidate pairs compared
// per person, the reduction ratio, and accuracy at threshold 0.5; with -v
// also the fitted model and the recall per noise type.
func BenchmarkLink(b *testing.B) {
	for _, size := range []struct {
		name       string
		households int
	}{{"10k", 2900}, {"100k", 29000}, {"300k", 87000}, {"1M", 290000}} {
		b.Run("persons="+size.name, func(b *testing.B) {
			recs, truth, _ := population(b, size.households, 0.05, 1)
			b.ResetTimer()
			var res *dedup.Result
			for b.Loop() {
				var err error
				if res, err = dedup.Link(context.Background(), recs, dedup.Options{}); err != nil {
					b.Fatal(err)
				}
			}
			acc := truth.Evaluate(foundPairs(recs, res.Pairs))
			b.ReportMetric(float64(len(recs)), "persons")
			b.ReportMetric(float64(res.Compared)/float64(len(recs)), "pairs/person")
			b.ReportMetric(res.ReductionRatio(), "reduction")
			b.ReportMetric(acc.F1, "f1")
			b.Logf("%s: precision=%.4f recall=%.4f f1=%.4f\n%s", size.name, acc.Precision, acc.Recall, acc.F1, res.Model)
			for _, n := range acc.ByNoise {
				b.Logf("recall %-18s %.4f (%d of %d)", n.Noise, n.Recall, n.Found, n.True)
			}
			for _, s := range res.Stages {
				b.ReportMetric(s.Time.Seconds(), fmt.Sprintf("%s-s", s.Name))
			}
		})
	}
}
