package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/canasta/canasta"
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
}

// storeFlags registers the flags that choose a store.
type storeFlags struct {
	data string
}

func (f *storeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.data, "data", os.Getenv("CANASTA_DATA"), "data directory of the embedded store (env CANASTA_DATA)")
}

func (f *storeFlags) open() (*store, error) {
	if f.data == "" {
		return nil, fmt.Errorf("no store given: pass --data DIR")
	}
	return openSQLite(f.data)
}

// openSQLite opens (creating and migrating if needed) DIR/canasta.db.
func openSQLite(dir string) (*store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	db := sqlite.NewDB(filepath.Join(dir, "canasta.db"))
	db.Rules = rules.NewEngine()
	if err := db.Open(); err != nil {
		return nil, fmt.Errorf("open %s: %w", db.Path, err)
	}
	return &store{
		close:        db.Close,
		households:   sqlite.NewHouseholdService(db),
		attributes:   sqlite.NewAttributeService(db),
		programs:     sqlite.NewProgramService(db),
		points:       sqlite.NewPointService(db),
		cycles:       sqlite.NewCycleService(db),
		entitlements: sqlite.NewEntitlementService(db),
		redemptions:  sqlite.NewRedemptionService(db),
		tokens:       sqlite.NewTokenService(db),
		accessLog:    sqlite.NewAccessLogService(db),
	}, nil
}
