package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/canasta/canasta/sqlite"
	"github.com/canasta/canasta/storetest"
)

// openStore opens the database file at path as a storetest.Store, closing
// it when the test ends. Reopen opens the file again, as another process
// would.
func openStore(tb testing.TB, path string, env storetest.Env) *storetest.Store {
	tb.Helper()
	db := sqlite.NewDB(path)
	db.Now, db.Rules, db.Logger = env.Now, env.Rules, env.Logger
	db.Dedup = env.Dedup
	if err := db.Open(); err != nil {
		tb.Fatalf("open: %v", err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("close: %v", err)
		}
	})
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
		Users:        sqlite.NewUserService(db),
		Cards:        sqlite.NewCardStore(db),
		Rights:       sqlite.NewRightsService(db),
		DryRuns:      sqlite.NewDryRunService(db),
		Reports:      sqlite.NewReportService(db),
		Audit:        sqlite.NewAuditStore(db),
		Corrections:  sqlite.NewCorrectionService(db),
		Portal:       sqlite.NewPortalStore(db),
		Grievances:   sqlite.NewGrievanceService(db),
		Dedup:        storetest.DedupStores{Cases: sqlite.NewDedupService(db), Persons: sqlite.NewPersonRecordService(db)},
		Reopen:       func(tb testing.TB) *storetest.Store { return openStore(tb, path, env) },
	}
}

// TestStore runs the conformance suite, each test on a file of its own.
func TestStore(t *testing.T) {
	storetest.RunStoreTests(t, func(tb testing.TB, env storetest.Env) *storetest.Store {
		return openStore(tb, filepath.Join(tb.TempDir(), "canasta.db"), env)
	})
}
