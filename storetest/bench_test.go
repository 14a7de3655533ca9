package storetest_test

import (
	"flag"
	"path/filepath"
	"testing"

	"github.com/canasta/canasta/postgres"
	"github.com/canasta/canasta/postgres/pgtest"
	"github.com/canasta/canasta/sqlite"
	"github.com/canasta/canasta/storetest"
)

// The benchmarks run each store side by side, as sub-benchmarks named
// after it:
//
//	go test ./storetest -run '^$' -bench . -benchtime 3x
//
// PostgreSQL runs on a throwaway cluster that, for benchmarks, commits
// durably, as SQLite does with synchronous=FULL.
var cycleHouseholds = flag.Int("cycle.households", 20000, "households registered for BenchmarkRunCycle")

func TestMain(m *testing.M) { pgtest.Main(m) }

var stores = []struct {
	name string
	open storetest.Opener
}{
	{"sqlite", openSQLite},
	{"postgres", openPostgres},
}

func BenchmarkImport(b *testing.B) {
	for _, s := range stores {
		b.Run(s.name, func(b *testing.B) { storetest.BenchmarkImport(b, s.open) })
	}
}

func BenchmarkRunCycle(b *testing.B) {
	for _, s := range stores {
		b.Run(s.name, func(b *testing.B) { storetest.BenchmarkRunCycle(b, s.open, *cycleHouseholds) })
	}
}

func BenchmarkRedeem(b *testing.B) {
	for _, s := range stores {
		b.Run(s.name, func(b *testing.B) { storetest.BenchmarkRedeem(b, s.open) })
	}
}

// TestOpeners checks that both stores open here, so a broken opener
// fails in go test, not only under -bench.
func TestOpeners(t *testing.T) {
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) {
			st := s.open(t, storetest.Env{})
			if _, err := st.Households.CountHouseholds(t.Context()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func openSQLite(tb testing.TB, env storetest.Env) *storetest.Store {
	tb.Helper()
	db := sqlite.NewDB(filepath.Join(tb.TempDir(), "canasta.db"))
	db.Now, db.Rules, db.Logger = env.Now, env.Rules, env.Logger
	if err := db.Open(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return &storetest.Store{
		Households:   sqlite.NewHouseholdService(db),
		Attributes:   sqlite.NewAttributeService(db),
		Programs:     sqlite.NewProgramService(db),
		Points:       sqlite.NewPointService(db),
		Cycles:       sqlite.NewCycleService(db),
		Entitlements: sqlite.NewEntitlementService(db),
		Redemptions:  sqlite.NewRedemptionService(db),
		Tokens:       sqlite.NewTokenService(db),
		AccessLog:    sqlite.NewAccessLogService(db),
		Cards:        sqlite.NewCardStore(db),
		DryRuns:      sqlite.NewDryRunService(db),
		Reports:      sqlite.NewReportService(db),
		Audit:        sqlite.NewAuditStore(db),
		Corrections:  sqlite.NewCorrectionService(db),
		Portal:       sqlite.NewPortalStore(db),
		Grievances:   sqlite.NewGrievanceService(db),
	}
}

func openPostgres(tb testing.TB, env storetest.Env) *storetest.Store {
	tb.Helper()
	db := postgres.NewDB(pgtest.SchemaURL(tb))
	db.Now, db.Rules, db.Logger = env.Now, env.Rules, env.Logger
	if err := db.Open(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return &storetest.Store{
		Households:   postgres.NewHouseholdService(db),
		Attributes:   postgres.NewAttributeService(db),
		Programs:     postgres.NewProgramService(db),
		Points:       postgres.NewPointService(db),
		Cycles:       postgres.NewCycleService(db),
		Entitlements: postgres.NewEntitlementService(db),
		Redemptions:  postgres.NewRedemptionService(db),
		Tokens:       postgres.NewTokenService(db),
		AccessLog:    postgres.NewAccessLogService(db),
		Cards:        postgres.NewCardStore(db),
		DryRuns:      postgres.NewDryRunService(db),
		Reports:      postgres.NewReportService(db),
		Audit:        postgres.NewAuditStore(db),
		Corrections:  postgres.NewCorrectionService(db),
		Portal:       postgres.NewPortalStore(db),
		Grievances:   postgres.NewGrievanceService(db),
	}
}
