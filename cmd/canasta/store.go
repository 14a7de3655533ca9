package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/canasta/canasta"
	"github.com/canasta/canasta/dedup"
	"github.com/canasta/canasta/ledger"
	"github.com/canasta/canasta/postgres"
	"github.com/canasta/canasta/rules"
	"github.com/canasta/canasta/sqlite"
)

// store is every service of one opened store.
type store struct {
	close        func() error
	households   canasta.HouseholdService
	attributes   canasta.AttributeService
	programs     canasta.ProgramService
	points       canasta.PointService
	cycles       canasta.CycleService
	entitlements canasta.EntitlementService
	redemptions  canasta.RedemptionService
	tokens       canasta.TokenService
	accessLog    canasta.AccessLogService
	persons      canasta.PersonRecordService // the batch duplicate search reads these
	grievances   canasta.GrievanceService
	cards        canasta.CardStore
	dryRuns      canasta.DryRunService
	reports      canasta.ReportService
	users        canasta.UserService
	audit        canasta.AuditStore
	corrections  canasta.CorrectionService
	dedup        canasta.DedupService
	portal       interface {
		canasta.PortalStore
		canasta.HouseholdRecords
	}
	// rights serves offline points: devices, rights and sync.
	rights interface {
		canasta.DeviceService
		canasta.RightsService
		canasta.HomePointService
	}
	// redemptionStore is the store's own redemption path under the
	// group-commit engine that serves redemptions; nil if it cannot batch.
	redemptionStore ledger.Store
}

// Environment variables that stand in for the store flags.
const (
	envData = "CANASTA_DATA"
	envDB   = "CANASTA_DB"
)

// storeFlags registers the flags that choose a store: --data DIR for the
// embedded SQLite store, or --db URL for PostgreSQL.
type storeFlags struct {
	fs       *flag.FlagSet
	data, db string
}

func (f *storeFlags) register(fs *flag.FlagSet) {
	f.fs = fs
	fs.StringVar(&f.data, "data", "", "data directory of the embedded SQLite store (env "+envData+")")
	fs.StringVar(&f.db, "db", "", "PostgreSQL database URL, postgres://user:password@host:5432/dbname (env "+envDB+")")
}

// open opens the one store chosen. A flag on the command line wins over
// the environment; without one, exactly one of the two variables must be
// set.
func (f *storeFlags) open() (*store, error) {
	data, db := f.data, f.db
	given := false
	f.fs.Visit(func(fl *flag.Flag) { given = given || fl.Name == "data" || fl.Name == "db" })
	if !given {
		data, db = os.Getenv(envData), os.Getenv(envDB)
	}
	switch {
	case data != "" && db != "":
		if given {
			return nil, fmt.Errorf("pass either --data DIR (SQLite) or --db URL (PostgreSQL), not both")
		}
		return nil, fmt.Errorf("both %s and %s are set: unset one, or choose with --data or --db", envData, envDB)
	case db != "":
		return openPostgres(db)
	case data != "":
		return openSQLite(data)
	}
	return nil, fmt.Errorf("no store given: pass --data DIR (SQLite) or --db postgres://… (PostgreSQL), or set %s or %s", envData, envDB)
}

// openSQLite opens (creating and migrating if needed) DIR/canasta.db.
func openSQLite(dir string) (*store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	db := sqlite.NewDB(filepath.Join(dir, "canasta.db"))
	db.Rules = rules.NewEngine()
	db.Dedup = dedup.NewMatcher()
	if err := db.Open(); err != nil {
		return nil, fmt.Errorf("open %s: %w", db.Path, err)
	}
	redemptions := sqlite.NewRedemptionService(db)
	engine := ledger.NewEngine(redemptions, ledger.Config{})
	return &store{
		close:        func() error { engine.Close(); return db.Close() },
		households:   sqlite.NewHouseholdService(db),
		attributes:   sqlite.NewAttributeService(db),
		programs:     sqlite.NewProgramService(db),
		points:       sqlite.NewPointService(db),
		cycles:       sqlite.NewCycleService(db),
		entitlements: sqlite.NewEntitlementService(db),
		redemptions:  engine,
		tokens:       sqlite.NewTokenService(db),
		accessLog:    sqlite.NewAccessLogService(db),
		persons:      sqlite.NewPersonRecordService(db),
		grievances:   sqlite.NewGrievanceService(db),
		cards:        sqlite.NewCardStore(db),
		dryRuns:      sqlite.NewDryRunService(db),
		reports:      sqlite.NewReportService(db),
		users:        sqlite.NewUserService(db),
		audit:        sqlite.NewAuditStore(db),
		corrections:  sqlite.NewCorrectionService(db),
		dedup:        sqlite.NewDedupService(db),
		portal:       sqlite.NewPortalStore(db),
		rights:       sqlite.NewRightsService(db),

		redemptionStore: redemptions,
	}, nil
}

// openPostgres connects to the database at url and migrates it if needed.
// An unreachable database is an error at once, naming where it was
// looked for, never the password.
func openPostgres(url string) (*store, error) {
	if !strings.HasPrefix(url, "postgres://") && !strings.HasPrefix(url, "postgresql://") {
		return nil, fmt.Errorf("--db must be a postgres:// or postgresql:// URL, not %q; use --data DIR for the embedded store", postgres.Redact(url))
	}
	db := postgres.NewDB(url)
	db.Rules = rules.NewEngine()
	db.Dedup = dedup.NewMatcher()
	if err := db.Open(); err != nil {
		return nil, err
	}
	redemptions := postgres.NewRedemptionService(db)
	engine := ledger.NewEngine(redemptions, ledger.Config{})
	return &store{
		close:        func() error { engine.Close(); return db.Close() },
		households:   postgres.NewHouseholdService(db),
		attributes:   postgres.NewAttributeService(db),
		programs:     postgres.NewProgramService(db),
		points:       postgres.NewPointService(db),
		cycles:       postgres.NewCycleService(db),
		entitlements: postgres.NewEntitlementService(db),
		redemptions:  engine,
		tokens:       postgres.NewTokenService(db),
		accessLog:    postgres.NewAccessLogService(db),
		persons:      postgres.NewPersonRecordService(db),
		grievances:   postgres.NewGrievanceService(db),
		cards:        postgres.NewCardStore(db),
		dryRuns:      postgres.NewDryRunService(db),
		reports:      postgres.NewReportService(db),
		users:        postgres.NewUserService(db),
		audit:        postgres.NewAuditStore(db),
		corrections:  postgres.NewCorrectionService(db),
		dedup:        postgres.NewDedupService(db),
		portal:       postgres.NewPortalStore(db),
		rights:       postgres.NewRightsService(db),

		redemptionStore: redemptions,
	}, nil
}
