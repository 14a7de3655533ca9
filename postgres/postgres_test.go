package postgres_test

import (
	"context"
	"errors"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canasta/canasta"
	"github.com/canasta/canasta/postgres"
	"github.com/canasta/canasta/postgres/pgtest"
	"github.com/canasta/canasta/storetest"
	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// openStore opens the database at dbURL as a storetest.Store, closing it
// when the test ends.
func openStore(tb testing.TB, dbURL string, env storetest.Env) *storetest.Store {
	tb.Helper()
	db := postgres.NewDB(dbURL)
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
		Households:   postgres.NewHouseholdService(db),
		Attributes:   postgres.NewAttributeService(db),
		Programs:     postgres.NewProgramService(db),
		Points:       postgres.NewPointService(db),
		Cycles:       postgres.NewCycleService(db),
		Entitlements: postgres.NewEntitlementService(db),
		Redemptions:  postgres.NewRedemptionService(db),
		Tokens:       postgres.NewTokenService(db),
		AccessLog:    postgres.NewAccessLogService(db),
		Users:        postgres.NewUserService(db),
		Cards:        postgres.NewCardStore(db),
		Rights:       postgres.NewRightsService(db),
		DryRuns:      postgres.NewDryRunService(db),
		Reports:      postgres.NewReportService(db),
		Audit:        postgres.NewAuditStore(db),
		Corrections:  postgres.NewCorrectionService(db),
		Portal:       postgres.NewPortalStore(db),
		Grievances:   postgres.NewGrievanceService(db),
		Dedup:        storetest.DedupStores{Cases: postgres.NewDedupService(db), Persons: postgres.NewPersonRecordService(db)},
		Reopen:       func(tb testing.TB) *storetest.Store { return openStore(tb, dbURL, env) },
	}
}

// TestStore runs the conformance suite, each test on a schema of its own.
func TestStore(t *testing.T) {
	storetest.RunStoreTests(t, func(tb testing.TB, env storetest.Env) *storetest.Store {
		return openStore(tb, pgtest.SchemaURL(tb), env)
	})
}

// TestStore_ExecMode runs the suite with statements that are not
// prepared by name, as through PgBouncer in transaction pooling mode
// (default_query_exec_mode=exec; see the README).
func TestStore_ExecMode(t *testing.T) {
	storetest.RunStoreTests(t, func(tb testing.TB, env storetest.Env) *storetest.Store {
		return openStore(tb, withParam(tb, pgtest.SchemaURL(tb), "default_query_exec_mode", "exec"), env)
	})
}

func TestDB_Open(t *testing.T) {
	t.Run("MigrationsOnceOnReopen", func(t *testing.T) {
		dbURL := pgtest.SchemaURL(t)
		for i := range 3 {
			db := postgres.NewDB(dbURL)
			if err := db.Open(); err != nil {
				t.Fatalf("open %d: %v", i, err)
			}
			if i == 0 {
				for _, a := range storetest.SyntheticAttributes() {
					if err := postgres.NewAttributeService(db).CreateAttribute(context.Background(), a); err != nil {
						t.Fatal(err)
					}
				}
			}
			attrs, err := postgres.NewAttributeService(db).FindAttributes(context.Background())
			if err != nil {
				t.Fatal(err)
			} else if len(attrs) != 2 {
				t.Fatalf("open %d: %d attributes, want the 2 declared before", i, len(attrs))
			}
			db.Close()
		}
		if n := queryInt(t, dbURL, `SELECT count(*) FROM migrations WHERE name = 'migration/001_init.sql'`); n != 1 {
			t.Fatalf("001_init recorded %d times, want 1", n)
		}
	})

	t.Run("ConcurrentFirstOpen", func(t *testing.T) {
		// Servers starting together on a new database: the advisory lock
		// lets one migrate while the others wait, then find it done.
		dbURL := pgtest.SchemaURL(t)
		var wg sync.WaitGroup
		dbs := make([]*postgres.DB, 4)
		errs := make([]error, len(dbs))
		for i := range dbs {
			wg.Go(func() {
				dbs[i] = postgres.NewDB(dbURL)
				errs[i] = dbs[i].Open()
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("open %d: %v", i, err)
			} else {
				dbs[i].Close()
			}
		}
		files, err := fs.Glob(os.DirFS("migration"), "*.sql")
		if err != nil {
			t.Fatal(err)
		}
		if n := queryInt(t, dbURL, `SELECT count(*) FROM migrations`); n != len(files) || n == 0 {
			t.Fatalf("%d migrations recorded, want each of the %d once", n, len(files))
		}
	})

	t.Run("TimesAreUTC", func(t *testing.T) {
		// The server's time zone must not show: times come back in UTC,
		// equal to those stored.
		dbURL := withParam(t, pgtest.SchemaURL(t), "timezone", "America/Lima")
		db := postgres.NewDB(dbURL)
		db.Now = func() time.Time { return time.Date(2025, 3, 15, 10, 0, 0, 123456789, time.FixedZone("X", 3600)) }
		if err := db.Open(); err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		p := &canasta.Point{Name: "Shop", Kind: canasta.PointShop, Region: "North"}
		if err := postgres.NewPointService(db).CreatePoint(context.Background(), p); err != nil {
			t.Fatal(err)
		}
		got, err := postgres.NewPointService(db).FindPointByID(context.Background(), p.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := time.Date(2025, 3, 15, 9, 0, 0, 123456000, time.UTC)
		if got.CreatedAt != want || p.CreatedAt != want {
			t.Fatalf("created at %v, found %v; want %v in UTC", p.CreatedAt, got.CreatedAt, want)
		}
	})

	for _, tt := range []struct {
		name, dbURL, want string
	}{
		{"Unreachable", "postgres://canasta:s3cret@127.0.0.1:1/canasta?connect_timeout=2", "127.0.0.1:1"},
		{"NotAURL", "postgres://canasta:s3cret@[::1/canasta", "cannot parse"},
		{"NoSuchSchema", "", "no schema"},
	} {
		t.Run("Fails"+tt.name, func(t *testing.T) {
			dbURL := tt.dbURL
			if dbURL == "" {
				dbURL = withParam(t, pgtest.ServerURL(t), "search_path", "nothing_here")
			}
			db := postgres.NewDB(dbURL)
			db.ConnectTimeout = 2 * time.Second
			start := time.Now()
			err := db.Open()
			if err == nil {
				db.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("error %q: want it to say %q and not show the password", err, tt.want)
			}
			if tt.name == "Unreachable" && !errors.Is(err, canasta.ErrUnavailable) {
				t.Fatalf("error %q does not wrap ErrUnavailable", err)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Fatalf("Open took %v to fail", d)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"postgres://u:p@h:5432/db?sslmode=require", "postgres://u:xxxxx@h:5432/db?sslmode=require"},
		{"postgres://u@h/db", "postgres://u@h/db"},
		{"postgresql://h/db", "postgresql://h/db"},
	} {
		t.Run(tt.in, func(t *testing.T) {
			if got := postgres.Redact(tt.in); got != tt.want {
				t.Fatalf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestDB_Outage takes the database away under an open store and brings
// it back: calls fail as unavailable meanwhile, and succeed again after,
// on the same DB, without reopening it.
func TestDB_Outage(t *testing.T) {
	cluster := pgtest.NewTestCluster(t)
	dbURL := pgtest.NewSchema(t, cluster.URL)
	db := postgres.NewDB(dbURL)
	db.Timeout = 3 * time.Second
	db.ConnectTimeout = time.Second
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tokens := postgres.NewTokenService(db)
	ctx := context.Background()
	_, secret, err := tokens.CreateToken(ctx, canasta.RoleAdmin, "ops")
	if err != nil {
		t.Fatal(err)
	}

	if err := cluster.Stop(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = tokens.Authenticate(ctx, secret)
	if !errors.Is(err, canasta.ErrUnavailable) || canasta.ErrorCode(err) != canasta.EINTERNAL {
		t.Fatalf("Authenticate with the database down: %v; want EINTERNAL wrapping ErrUnavailable", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("the failure took %v; want it within the timeouts", d)
	}
	_, _, err = postgres.NewRedemptionService(db).Redeem(ctx, &canasta.RedemptionRequest{RequestID: "r", PointID: 1, HouseholdID: "hh_x",
		Items: []canasta.RedemptionItem{{ProgramID: 1, Quantity: 1}}})
	if !errors.Is(err, canasta.ErrUnavailable) {
		t.Fatalf("Redeem with the database down: %v; want ErrUnavailable", err)
	}

	if err := cluster.Start(); err != nil {
		t.Fatal(err)
	}
	// The first call after the restart may meet a connection the server
	// dropped; within a few calls the pool has fresh ones.
	deadline := time.Now().Add(10 * time.Second)
	for {
		tok, err := tokens.Authenticate(ctx, secret)
		if err == nil {
			if tok.Role != canasta.RoleAdmin {
				t.Fatalf("token %+v", tok)
			}
			break
		}
		if !errors.Is(err, canasta.ErrUnavailable) || time.Now().After(deadline) {
			t.Fatalf("after the database came back: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// withParam sets a query parameter of a database URL.
func withParam(tb testing.TB, rawURL, key, value string) string {
	tb.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		tb.Fatal(err)
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

func queryInt(tb testing.TB, dbURL, sql string) int {
	tb.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, sql).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}
