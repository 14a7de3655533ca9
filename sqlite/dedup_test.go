package sqlite_test

import (
	"context"
	"flag"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/canasta/canasta"
	"github.com/canasta/canasta/dedup"
	"github.com/canasta/canasta/sqlite"
	"github.com/canasta/canasta/storetest"
)

// dedupData names a data directory to measure the enrollment lookup on,
// such as one a million persons were imported into with canasta import:
//
//	go test ./sqlite -run '^$' -bench FindDuplicates -dedup.data DIR
//
// Without it the benchmark registers 20,000 households of its own.
var dedupData = flag.String("dedup.data", "", "data directory of a registry for BenchmarkFindDuplicates")

// BenchmarkFindDuplicates measures the enrollment lookup: one new person,
// a registered person's record with a typo in the given name, looked up
// through the index. It reports the 50th and 99th percentile latency.
func BenchmarkFindDuplicates(b *testing.B) {
	ctx := context.Background()
	var db *sqlite.DB
	if *dedupData != "" {
		db = sqlite.NewDB(filepath.Join(*dedupData, "canasta.db"))
		db.Rules = fakeEngine{}
		if err := db.Open(); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
	} else {
		db, _ = MustOpenDB(b)
		declareSyntheticAttributes(b, db)
	}
	db.Dedup = dedup.NewMatcher()
	if *dedupData == "" {
		hs := sqlite.NewHouseholdService(db)
		for i := 0; i < 20000; i += 5000 {
			if _, err := hs.ImportHouseholds(ctx, storetest.SyntheticHouseholds(i, 5000)); err != nil {
				b.Fatal(err)
			}
		}
	}
	persons := sqlite.NewPersonRecordService(db)
	var probes []*canasta.PersonRecord
	n := 0
	err := persons.EachPersonRecord(ctx, func(p *canasta.PersonRecord) error {
		if n++; n%97 == 0 && len(probes) < 2000 {
			q := *p
			if g := []byte(q.GivenName); len(g) > 2 {
				g[1], g[2] = g[2], g[1]
				q.GivenName = string(g)
			}
			probes = append(probes, &q)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	svc := sqlite.NewDedupService(db)
	var times []time.Duration
	found := 0
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		p := probes[i%len(probes)]
		start := time.Now()
		cs, err := svc.FindDuplicates(ctx, p, canasta.CandidateThreshold, canasta.MaxCandidates)
		times = append(times, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
		for _, c := range cs {
			if c.PersonID == p.ID {
				found++
				break
			}
		}
	}
	slices.Sort(times)
	b.ReportMetric(float64(n), "persons")
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(times[len(times)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(found)/float64(len(times)), "found")
}
