package postgres_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/canasta/canasta"
	"github.com/canasta/canasta/postgres"
	"github.com/canasta/canasta/postgres/pgtest"
	"github.com/canasta/canasta/rules"
	"github.com/canasta/canasta/storetest"
	"github.com/jackc/pgx/v5"
)

// TestRedeemBatch_NoTableScans redeems batch after batch on a new
// database, whose receipts table was empty and never analyzed when the
// batch's statements were first planned, and checks that no batch read a
// whole table: each must cost the same at a billion receipts as at none.
func TestRedeemBatch_NoTableScans(t *testing.T) {
	ctx := context.Background()
	dbURL := pgtest.SchemaURL(t)
	open := func() *postgres.DB {
		db := postgres.NewDB(dbURL)
		db.Rules, db.Logger = rules.NewEngine(), slog.New(slog.DiscardHandler)
		if err := db.Open(); err != nil {
			t.Fatal(err)
		}
		return db
	}

	db := open()
	for _, a := range storetest.SyntheticAttributes() {
		if err := postgres.NewAttributeService(db).CreateAttribute(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	households := storetest.SyntheticHouseholds(0, 100)
	if _, err := postgres.NewHouseholdService(db).ImportHouseholds(ctx, households); err != nil {
		t.Fatal(err)
	}
	point := &canasta.Point{Name: "Corner shop", Kind: canasta.PointShop, Region: "North"}
	if err := postgres.NewPointService(db).CreatePoint(ctx, point); err != nil {
		t.Fatal(err)
	}
	rice := &canasta.Program{Name: "Rice", Commodity: canasta.Commodity{Code: "rice", Unit: canasta.UnitGram},
		Eligibility: "true", Quantity: "1000000", Period: canasta.PeriodMonthly}
	if err := postgres.NewProgramService(db).CreateProgram(ctx, rice); err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.NewCycleService(db).RunCycle(ctx, canasta.PeriodOf(time.Now()), nil); err != nil {
		t.Fatal(err)
	}
	db.Close()

	// A backend adds its counters to the statistics views when it exits,
	// so the counts are read after the store that made them has closed;
	// the grants' and then the receipts' insert counts show when they have
	// arrived.
	const (
		batches, perBatch = 40, 25
		statsSQL          = `SELECT COALESCE(SUM(seq_scan) FILTER (WHERE relname IN ('redemptions', 'redemption_items', 'households', 'entitlements', 'audit_keys')), 0)::int8,
	COALESCE(SUM(n_tup_ins) FILTER (WHERE relname = $1), 0)::int8
FROM pg_stat_user_tables WHERE schemaname = current_schema()`
	)
	stats := func(table string, wantInserted int) (scans int) {
		conn, err := pgx.Connect(ctx, dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var inserted int
		for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			if _, err := conn.Exec(ctx, `SELECT pg_stat_clear_snapshot()`); err != nil {
				t.Fatal(err)
			}
			if err := conn.QueryRow(ctx, statsSQL, table).Scan(&scans, &inserted); err != nil {
				t.Fatal(err)
			}
			if inserted >= wantInserted {
				return scans
			}
			if time.Now().After(deadline) {
				t.Fatalf("the statistics show %d rows inserted into %s, want %d", inserted, table, wantInserted)
			}
		}
	}
	before := stats("entitlements", len(households))

	// Enough batches for every pooled connection to reach the fifth run
	// of each statement, after which PostgreSQL may keep a generic plan.
	db = open()
	b := postgres.NewRedemptionService(db)
	for i := range batches {
		reqs := make([]*canasta.RedemptionRequest, perBatch)
		for j := range reqs {
			reqs[j] = &canasta.RedemptionRequest{RequestID: canasta.NewRequestID(time.Now()), PointID: point.ID,
				HouseholdID: households[(i*perBatch+j)%len(households)].ID,
				Items:       []canasta.RedemptionItem{{ProgramID: rice.ID, Quantity: 1}}}
		}
		results, err := b.RedeemBatch(ctx, reqs)
		if err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
		for j, r := range results {
			if r.Err != nil {
				t.Fatalf("batch %d request %d: %v", i, j, r.Err)
			}
		}
	}
	db.Close()

	if n := stats("redemptions", batches*perBatch) - before; n != 0 {
		t.Errorf("%d batches read whole tables %d times, want never", batches, n)
	}
}
