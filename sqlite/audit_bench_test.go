package sqlite_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/canasta/canasta"
	"github.com/canasta/canasta/sqlite"
	"github.com/canasta/canasta/storetest"
)

// BenchmarkRedeemAudit measures what appending every redemption to the
// audit log costs the group-commit path: the same batches with the log
// and without it (a switch only this benchmark can set). Compare the
// redemptions/s of the two in one run.
func BenchmarkRedeemAudit(b *testing.B) {
	for _, size := range []int{8, 64} {
		for _, audited := range []bool{true, false} {
			name := fmt.Sprintf("Batch%d/Audited", size)
			if !audited {
				name = fmt.Sprintf("Batch%d/Unaudited", size)
			}
			b.Run(name, func(b *testing.B) {
				db, _ := MustOpenDB(b)
				if !audited {
					sqlite.SetUnauditedRedemptions(db)
				}
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
						if (r.Receipt.Audit != nil) != audited {
							b.Fatalf("receipt audit reference %+v with the log %v", r.Receipt.Audit, audited)
						}
					}
				}
				b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "redemptions/s")
			})
		}
	}
}
