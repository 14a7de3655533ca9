package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canasta/canasta"
	"github.com/canasta/canasta/sqlite"
	"github.com/canasta/canasta/storetest"
)

// testNow is the fake clock's start: mid-March 2025, so the current period
// is 2025-03.
var testNow = time.Date(2025, 3, 15, 10, 0, 0, 0, time.UTC)

const testPeriod = canasta.Period("2025-03")

// testClock is a settable clock shared by handles on one file.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// MustOpenDB opens a database in a temporary directory with a fake clock
// and the fake rule engine, and closes it when the test ends.
func MustOpenDB(tb testing.TB) (*sqlite.DB, *testClock) {
	tb.Helper()
	clock := &testClock{now: testNow}
	db := mustOpenPath(tb, filepath.Join(tb.TempDir(), "canasta.db"), clock)
	return db, clock
}

// mustOpenPath opens another handle, as another process would.
func mustOpenPath(tb testing.TB, path string, clock *testClock) *sqlite.DB {
	tb.Helper()
	db := sqlite.NewDB(path)
	db.Now = clock.Now
	db.Rules = fakeEngine{}
	db.Logger = slog.New(slog.DiscardHandler)
	if err := db.Open(); err != nil {
		tb.Fatalf("open: %v", err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("close: %v", err)
		}
	})
	return db
}

// fakeEngine stands in for package rules, which this package must not
// import. It understands:
//
//	eligibility: "true", "false", "income<N" (declared income below N),
//	             "size>=N", "has:NAME" (a declared household bool attribute)
//	quantity:    "N", "size*N", "fail" (always an error),
//	             "fail-size:N" (an error for households of N members, else 1000)
type fakeEngine struct{}

type fakeRule struct {
	eligible func(*canasta.Facts) bool
	quantity func(*canasta.Facts) (int64, error)
}

func (fakeEngine) Compile(p *canasta.Program, s *canasta.Schema) (canasta.Rule, error) {
	var r fakeRule
	e := p.Eligibility
	switch {
	case e == "true":
		r.eligible = func(*canasta.Facts) bool { return true }
	case e == "false":
		r.eligible = func(*canasta.Facts) bool { return false }
	case strings.HasPrefix(e, "income<"):
		n, err := strconv.ParseInt(strings.TrimPrefix(e, "income<"), 10, 64)
		if err != nil {
			return nil, canasta.Errorf(canasta.EINVALID, "bad income bound")
		}
		r.eligible = func(f *canasta.Facts) bool { return f.MonthlyIncome >= 0 && f.MonthlyIncome < n }
	case strings.HasPrefix(e, "size>="):
		n, err := strconv.ParseInt(strings.TrimPrefix(e, "size>="), 10, 64)
		if err != nil {
			return nil, canasta.Errorf(canasta.EINVALID, "bad size bound")
		}
		r.eligible = func(f *canasta.Facts) bool { return f.Size >= n }
	case strings.HasPrefix(e, "has:"):
		name := strings.TrimPrefix(e, "has:")
		if a, ok := s.Household[name]; !ok || a.Type != canasta.AttributeBool {
			return nil, canasta.Errorf(canasta.EINVALID, "Undeclared household bool attribute %q.", name)
		}
		r.eligible = func(f *canasta.Facts) bool { v, _ := f.Attributes[name].(bool); return v }
	default:
		return nil, canasta.Errorf(canasta.EINVALID, "Cannot parse eligibility %q.", e)
	}

	q := p.Quantity
	switch {
	case q == "fail":
		r.quantity = func(*canasta.Facts) (int64, error) {
			return 0, canasta.Errorf(canasta.EINVALID, "Program %q failed.", p.Name)
		}
	case strings.HasPrefix(q, "fail-size:"):
		n, err := strconv.ParseInt(strings.TrimPrefix(q, "fail-size:"), 10, 64)
		if err != nil {
			return nil, canasta.Errorf(canasta.EINVALID, "bad size")
		}
		r.quantity = func(f *canasta.Facts) (int64, error) {
			if f.Size == n {
				return 0, canasta.Errorf(canasta.EINVALID, "Program %q failed.", p.Name)
			}
			return 1000, nil
		}
	case strings.HasPrefix(q, "size*"):
		n, err := strconv.ParseInt(strings.TrimPrefix(q, "size*"), 10, 64)
		if err != nil {
			return nil, canasta.Errorf(canasta.EINVALID, "bad factor")
		}
		r.quantity = func(f *canasta.Facts) (int64, error) { return f.Size * n, nil }
	default:
		n, err := strconv.ParseInt(q, 10, 64)
		if err != nil {
			return nil, canasta.Errorf(canasta.EINVALID, "Cannot parse quantity %q.", q)
		}
		r.quantity = func(*canasta.Facts) (int64, error) { return n, nil }
	}
	return r, nil
}

func (r fakeRule) Evaluate(f *canasta.Facts) (canasta.Grant, error) {
	if !r.eligible(f) {
		return canasta.Grant{Explanation: "not eligible"}, nil
	}
	q, err := r.quantity(f)
	if err != nil {
		return canasta.Grant{}, err
	}
	return canasta.Grant{Eligible: true, Quantity: q, Explanation: fmt.Sprintf("size %d gives %d", f.Size, q)}, nil
}

// declareSyntheticAttributes declares the attributes storetest.SyntheticHouseholds uses.
func declareSyntheticAttributes(tb testing.TB, db *sqlite.DB) {
	tb.Helper()
	as := sqlite.NewAttributeService(db)
	for _, a := range []*canasta.Attribute{
		{Name: "farmer", Type: canasta.AttributeBool, AppliesTo: canasta.AppliesToHousehold, Purpose: "Agricultural input support eligibility."},
		{Name: "school_grade", Type: canasta.AttributeInt, AppliesTo: canasta.AppliesToPerson, Purpose: "School meal program eligibility by grade."},
	} {
		if err := as.CreateAttribute(context.Background(), a); err != nil {
			tb.Fatal(err)
		}
	}
}

func mustCreateProgram(tb testing.TB, db *sqlite.DB, name, code string, unit canasta.Unit, eligibility, quantity string) *canasta.Program {
	tb.Helper()
	p := &canasta.Program{Name: name, Commodity: canasta.Commodity{Code: code, Unit: unit},
		Eligibility: eligibility, Quantity: quantity, Period: canasta.PeriodMonthly}
	if err := sqlite.NewProgramService(db).CreateProgram(context.Background(), p); err != nil {
		tb.Fatalf("create program %s: %v", name, err)
	}
	return p
}

func mustCreatePoint(tb testing.TB, db *sqlite.DB) *canasta.Point {
	tb.Helper()
	p := &canasta.Point{Name: "Corner shop", Kind: canasta.PointShop, Region: "North"}
	if err := sqlite.NewPointService(db).CreatePoint(context.Background(), p); err != nil {
		tb.Fatal(err)
	}
	return p
}

func mustCreateHousehold(tb testing.TB, db *sqlite.DB, h *canasta.Household) *canasta.Household {
	tb.Helper()
	if err := sqlite.NewHouseholdService(db).CreateHousehold(context.Background(), h); err != nil {
		tb.Fatalf("create household: %v", err)
	}
	return h
}

func TestDB_Open(t *testing.T) {
	t.Run("MigrationsOnceOnReopen", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "canasta.db")
		clock := &testClock{now: testNow}
		for i := range 3 {
			db := sqlite.NewDB(path)
			db.Now = clock.Now
			if err := db.Open(); err != nil {
				t.Fatalf("open %d: %v", i, err)
			}
			if i == 0 {
				declareSyntheticAttributes(t, db)
			}
			attrs, err := sqlite.NewAttributeService(db).FindAttributes(context.Background())
			if err != nil {
				t.Fatal(err)
			} else if len(attrs) != 2 {
				t.Fatalf("open %d: %d attributes, want the 2 declared before", i, len(attrs))
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
		}
		raw, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		var n int
		if err := raw.QueryRow(`SELECT COUNT(*) FROM migrations WHERE name = 'migration/001_init.sql'`).Scan(&n); err != nil {
			t.Fatal(err)
		} else if n != 1 {
			t.Fatalf("001_init recorded %d times, want 1", n)
		}
		var mode string
		if err := raw.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil {
			t.Fatal(err)
		} else if mode != "wal" {
			t.Fatalf("journal_mode = %q, want wal", mode)
		}
	})

	t.Run("ConcurrentFirstOpen", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "canasta.db")
		var wg sync.WaitGroup
		errs := make([]error, 4)
		dbs := make([]*sqlite.DB, 4)
		for i := range dbs {
			wg.Go(func() {
				dbs[i] = sqlite.NewDB(path)
				errs[i] = dbs[i].Open()
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("open %d: %v", i, err)
			}
			dbs[i].Close()
		}
	})

	for _, tt := range []struct {
		name, path string
	}{
		{"EmptyPath", ""},
		{"Memory", ":memory:"},
		{"QuestionMark", filepath.Join(t.TempDir(), "a?b.db")},
	} {
		t.Run("Rejects"+tt.name, func(t *testing.T) {
			db := sqlite.NewDB(tt.path)
			if err := db.Open(); err == nil {
				db.Close()
				t.Fatalf("Open(%q) succeeded, want an error", tt.path)
			}
		})
	}
}

// ledger is a household with current grants of rice (size*1000 g, so
// 2000 g for two members) and oil (500 ml), and a point to redeem at.
type ledger struct {
	db        *sqlite.DB
	clock     *testClock
	household *canasta.Household
	point     *canasta.Point
	rice, oil *canasta.Program
	other     *canasta.Program // granted to nobody
}

func newLedger(tb testing.TB, riceQuantity string) *ledger {
	tb.Helper()
	db, clock := MustOpenDB(tb)
	l := &ledger{db: db, clock: clock}
	l.household = mustCreateHousehold(tb, db, storetest.NewHousehold(1, 2))
	l.point = mustCreatePoint(tb, db)
	l.rice = mustCreateProgram(tb, db, "Rice", "rice", canasta.UnitGram, "true", riceQuantity)
	l.oil = mustCreateProgram(tb, db, "Oil", "oil", canasta.UnitMillilitre, "true", "500")
	l.other = mustCreateProgram(tb, db, "Nobody", "salt", canasta.UnitGram, "false", "1")
	if _, err := sqlite.NewCycleService(db).RunCycle(context.Background(), testPeriod, nil); err != nil {
		tb.Fatal(err)
	}
	return l
}

func (l *ledger) request(id string, items ...canasta.RedemptionItem) *canasta.RedemptionRequest {
	return &canasta.RedemptionRequest{RequestID: id, PointID: l.point.ID, HouseholdID: l.household.ID, Items: items}
}

func item(p *canasta.Program, q int64) canasta.RedemptionItem {
	return canasta.RedemptionItem{ProgramID: p.ID, Quantity: q}
}
