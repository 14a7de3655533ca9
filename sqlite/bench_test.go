package sqlite_test

import (
	"context"
	"flag"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/canasta/canasta"
	"github.com/canasta/canasta/sqlite"
	"github.com/canasta/canasta/storetest"
)

// cycleHouseholds sizes BenchmarkRunCycle's registry. The default keeps a
// plain -bench run short; the one-off figure for the brief's target is
//
//	go test ./sqlite -run '^$' -bench RunCycle -benchtime 1x -cycle.households 1000000
var cycleHouseholds = flag.Int("cycle.households", 20000, "households registered for BenchmarkRunCycle")

// importBatch is the batch the CSV importer sends per call.
const importBatch = 5000

// BenchmarkImport imports batches of new households into a growing
// registry and reports persons per second.
func BenchmarkImport(b *testing.B) {
	db, _ := MustOpenDB(b)
	declareSyntheticAttributes(b, db)
	s := sqlite.NewHouseholdService(db)
	ctx := context.Background()

	persons := 0
	var elapsed time.Duration
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		hs := storetest.SyntheticHouseholds(i*importBatch, importBatch)
		b.StartTimer()
		start := time.Now()
		res, err := s.ImportHouseholds(ctx, hs)
		elapsed += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		persons += res.PersonsCreated
	}
	b.ReportMetric(float64(persons)/elapsed.Seconds(), "persons/s")
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(persons), "ns/person")
}

// BenchmarkRunCycle runs a full cycle over -cycle.households households
// and four programs (with the fake rule engine), each iteration for a new
// period so every iteration grants everything.
func BenchmarkRunCycle(b *testing.B) {
	db, _ := MustOpenDB(b)
	declareSyntheticAttributes(b, db)
	ctx := context.Background()
	importStart := time.Now()
	hs := sqlite.NewHouseholdService(db)
	for first := 0; first < *cycleHouseholds; first += importBatch {
		if _, err := hs.ImportHouseholds(ctx, storetest.SyntheticHouseholds(first, min(importBatch, *cycleHouseholds-first))); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("imported %d households in %v", *cycleHouseholds, time.Since(importStart).Round(time.Millisecond))
	mustCreateProgram(b, db, "Rice", "rice", canasta.UnitGram, "true", "size*1000")
	mustCreateProgram(b, db, "Oil", "oil", canasta.UnitMillilitre, "true", "size*250")
	mustCreateProgram(b, db, "Seeds", "seeds", canasta.UnitGram, "has:farmer", "2500")
	mustCreateProgram(b, db, "Cash", "cash", canasta.UnitMinor, "income<100000", "5000")
	cycles := sqlite.NewCycleService(db)

	var households, created int
	month := 0
	for b.Loop() {
		period := canasta.Period(fmt.Sprintf("%04d-%02d", 2030+month/12, 1+month%12))
		month++
		start := time.Now()
		sum, err := cycles.RunCycle(ctx, period, nil)
		took := time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		if sum.Households != *cycleHouseholds || sum.Created == 0 {
			b.Fatalf("cycle %+v", *sum)
		}
		households += sum.Households
		created += sum.Created
		b.Logf("%s: %d households, %d grants in %v", period, sum.Households, sum.Created, took.Round(time.Millisecond))
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(households), "ns/household")
	b.ReportMetric(float64(created)/b.Elapsed().Seconds(), "grants/s")
}

// BenchmarkRedeem measures committed, fsynced redemptions of 1 g each
// against one large grant.
func BenchmarkRedeem(b *testing.B) {
	b.Run("Sequential", func(b *testing.B) {
		l := newLedger(b, "1000000000000")
		s := sqlite.NewRedemptionService(l.db)
		ctx := context.Background()
		n := 0
		for b.Loop() {
			n++
			if _, _, err := s.Redeem(ctx, l.request(fmt.Sprintf("seq-%d", n), item(l.rice, 1))); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Parallel", func(b *testing.B) {
		l := newLedger(b, "1000000000000")
		s := sqlite.NewRedemptionService(l.db)
		ctx := context.Background()
		var n atomic.Int64
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, _, err := s.Redeem(ctx, l.request(fmt.Sprintf("par-%d", n.Add(1)), item(l.rice, 1))); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// BenchmarkRedeemBatch commits batches of redemptions of 1 g each, spread
// over 10,000 households, and reports the cost of one redemption: the
// store's share of the group-commit path.
func BenchmarkRedeemBatch(b *testing.B) {
	for _, size := range []int{1, 8, 64, 512} {
		b.Run(fmt.Sprintf("Batch%d", size), func(b *testing.B) {
			db, _ := MustOpenDB(b)
			declareSyntheticAttributes(b, db)
			hs := storetest.SyntheticHouseholds(0, 10000)
			if _, err := sqlite.NewHouseholdService(db).ImportHouseholds(context.Background(), hs); err != nil {
				b.Fatal(err)
			}
			rice := mustCreateProgram(b, db, "Rice", "rice", canasta.UnitGram, "true", "1000000000")
			point := mustCreatePoint(b, db)
			if _, err := sqlite.NewCycleService(db).RunCycle(context.Background(), testPeriod, nil); err != nil {
				b.Fatal(err)
			}
			s := sqlite.NewRedemptionService(db)
			ctx := context.Background()
			n := 0
			reqs := make([]*canasta.RedemptionRequest, size)
			for b.Loop() {
				for i := range reqs {
					n++
					reqs[i] = &canasta.RedemptionRequest{RequestID: fmt.Sprintf("b-%d", n), PointID: point.ID,
						HouseholdID: hs[(n*7919)%len(hs)].ID, Items: []canasta.RedemptionItem{item(rice, 1)}}
				}
				results, err := s.RedeemBatch(ctx, reqs)
				if err != nil {
					b.Fatal(err)
				}
				for _, r := range results {
					if r.Err != nil {
						b.Fatal(r.Err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/redemption")
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "redemptions/s")
		})
	}
}
