package storetest

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/canasta/canasta"
)

// ImportBatch is the batch the CSV importer sends per call.
const ImportBatch = 5000

// BenchmarkImport imports batches of new households into a growing
// registry and reports persons per second.
func BenchmarkImport(b *testing.B, opener Opener) {
	st := open(b, opener)
	declareSyntheticAttributes(b, st.Store)
	ctx := context.Background()

	persons := 0
	var elapsed time.Duration
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		hs := SyntheticHouseholds(i*ImportBatch, ImportBatch)
		b.StartTimer()
		start := time.Now()
		res, err := st.Households.ImportHouseholds(ctx, hs)
		elapsed += time.Since(start)
		if err != nil {
			b.Fatal(err)
		}
		persons += res.PersonsCreated
	}
	b.ReportMetric(float64(persons)/elapsed.Seconds(), "persons/s")
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(persons), "ns/person")
}

// BenchmarkRunCycle runs a full cycle over a registry of the given number
// of households and four programs with CEL rules, each iteration for a new
// period so every iteration grants everything.
func BenchmarkRunCycle(b *testing.B, opener Opener, households int) {
	st := open(b, opener)
	declareSyntheticAttributes(b, st.Store)
	ctx := context.Background()
	importStart := time.Now()
	for first := 0; first < households; first += ImportBatch {
		if _, err := st.Households.ImportHouseholds(ctx, SyntheticHouseholds(first, min(ImportBatch, households-first))); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("imported %d households in %v", households, time.Since(importStart).Round(time.Millisecond))
	mustCreateProgram(b, st.Store, "Rice", "rice", canasta.UnitGram, "true", ruleSizeTimes1000)
	mustCreateProgram(b, st.Store, "Oil", "oil", canasta.UnitMillilitre, "true", "household.size * 250")
	mustCreateProgram(b, st.Store, "Seeds", "seeds", canasta.UnitGram, ruleFarmer, "2500")
	mustCreateProgram(b, st.Store, "Cash", "cash", canasta.UnitMinor, "household.monthly_income >= 0 && household.monthly_income < 100000", "5000")

	var done, created int
	month := 0
	for b.Loop() {
		period := canasta.Period(fmt.Sprintf("%04d-%02d", 2030+month/12, 1+month%12))
		month++
		start := time.Now()
		sum, err := st.Cycles.RunCycle(ctx, period, nil)
		if err != nil {
			b.Fatal(err)
		}
		if sum.Households != households || sum.Created == 0 {
			b.Fatalf("cycle %+v", *sum)
		}
		done += sum.Households
		created += sum.Created
		b.Logf("%s: %d households, %d grants in %v", period, sum.Households, sum.Created, time.Since(start).Round(time.Millisecond))
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(done), "ns/household")
	b.ReportMetric(float64(created)/b.Elapsed().Seconds(), "grants/s")
}

// BenchmarkRedeem measures committed redemptions of 1 g each: one at a
// time against one grant, and from many goroutines at once, each
// goroutine's against the grant of a household of its own, as at many
// points at once.
func BenchmarkRedeem(b *testing.B, opener Opener) {
	b.Run("Sequential", func(b *testing.B) {
		l := newLedger(b, opener, "1000000000000")
		ctx := context.Background()
		n := 0
		for b.Loop() {
			n++
			if _, _, err := l.Redemptions.Redeem(ctx, l.request(fmt.Sprintf("seq-%d", n), item(l.rice, 1))); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Parallel", func(b *testing.B) {
		l := newLedger(b, opener, "1000000000000")
		ctx := context.Background()
		const parallelism = 8
		households := make([]string, parallelism*runtime.GOMAXPROCS(0))
		for i := range households {
			households[i] = mustCreateHousehold(b, l.Store, NewHousehold(100+i, 2)).ID
		}
		if _, err := l.Cycles.RunCycle(ctx, Period, nil); err != nil {
			b.Fatal(err)
		}
		var n, goroutines atomic.Int64
		b.SetParallelism(parallelism)
		b.RunParallel(func(pb *testing.PB) {
			req := l.request("", item(l.rice, 1))
			req.HouseholdID = households[int(goroutines.Add(1)-1)%len(households)]
			for pb.Next() {
				req.RequestID = fmt.Sprintf("par-%d", n.Add(1))
				if _, _, err := l.Redemptions.Redeem(ctx, req); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
