// Package storetest is the conformance suite every Canasta store passes:
// one set of tests of every service method, run against each store
// (SQLite, PostgreSQL) through the root package's interfaces only, so the
// stores behave alike and nothing particular to one reaches the domain.
//
// A store's test package calls RunStoreTests with an Opener that opens a
// fresh, empty database wired to the Env it is given. Rules are the real
// CEL engine of package rules, and time is a Clock the tests set.
package storetest

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/canasta/canasta"
	"github.com/canasta/canasta/dedup"
	"github.com/canasta/canasta/rules"
)

// Store is every service of one opened store, and a way to open another
// handle on the same database.
type Store struct {
	Households   canasta.HouseholdService
	Attributes   canasta.AttributeService
	Programs     canasta.ProgramService
	Points       canasta.PointService
	Cycles       canasta.CycleService
	Entitlements canasta.EntitlementService
	Redemptions  canasta.RedemptionService
	Tokens       canasta.TokenService
	AccessLog    canasta.AccessLogService
	Cards        canasta.CardStore
	Audit        canasta.AuditStore
	Corrections  canasta.CorrectionService
	Portal       PortalStores
	Users        canasta.UserService
	DryRuns      canasta.DryRunService
	Reports      canasta.ReportService
	Rights       RightsStore
	Grievances   canasta.GrievanceService
	Dedup        DedupStores

	// Reopen opens a second handle on the same database, with the same
	// Env, as another server or a CLI command would; it is closed when the
	// test ends.
	Reopen func(tb testing.TB) *Store
}

// Env is what a store under test is opened with.
type Env struct {
	Now    func() time.Time
	Rules  canasta.RuleEngine
	Dedup  canasta.DuplicateMatcher
	Logger *slog.Logger
}

// Opener opens a fresh, empty database wired to env, and closes it when
// the test ends.
type Opener func(tb testing.TB, env Env) *Store

// Now is where every test's clock starts: mid-March 2025, so the current
// period is Period.
var Now = time.Date(2025, 3, 15, 10, 0, 0, 0, time.UTC)

// Period is the period current at Now.
const Period = canasta.Period("2025-03")

// Clock is a settable clock shared by the handles of one database.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock set to Now.
func NewClock() *Clock { return &Clock{now: Now} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// fixture is a store under test with its clock.
type fixture struct {
	*Store
	clock *Clock
}

// open opens a fresh store on a clock set to Now, with the real rule
// engine and a silent logger.
func open(tb testing.TB, opener Opener) *fixture {
	tb.Helper()
	clock := NewClock()
	st := opener(tb, Env{Now: clock.Now, Rules: rules.NewEngine(), Dedup: dedup.NewMatcher(), Logger: slog.New(slog.DiscardHandler)})
	return &fixture{Store: st, clock: clock}
}

// RunStoreTests runs the suite. Each test opens its own store, and the
// tests run in parallel.
func RunStoreTests(t *testing.T, opener Opener) {
	for _, tt := range []struct {
		name string
		test func(t *testing.T, opener Opener)
	}{
		{"Attributes", testAttributes},
		{"AuditLog", testAuditLog},
		{"AuditCheckpoints", testAuditCheckpoints},
		{"Corrections", testCorrections},
		{"PortalStore", testPortalStore},
		{"HouseholdRedemptions", testHouseholdRedemptions},
		{"CreateHousehold", testCreateHousehold},
		{"FindHousehold", testFindHousehold},
		{"ImportHouseholds", testImportHouseholds},
		{"Programs", testPrograms},
		{"Points", testPoints},
		{"ProgramReplacement", testProgramReplacement},
		{"RunCycle", testRunCycle},
		{"RunCycleRuleErrors", testRunCycleRuleErrors},
		{"RunCycleManyBatches", testRunCycleManyBatches},
		{"RunCycleEdges", testRunCycleEdges},
		{"RunCycleConcurrent", testRunCycleConcurrent},
		{"DryRun", testDryRun},
		{"DryRunGrants", testDryRunGrants},
		{"DryRunManyBatches", testDryRunManyBatches},
		{"Reports", testReports},
		{"Redeem", testRedeem},
		{"RedeemConcurrent", testRedeemConcurrent},
		{"RedeemConcurrentSameRequestID", testRedeemConcurrentSameRequestID},
		{"RedeemConcurrentItemOrder", testRedeemConcurrentItemOrder},
		{"RedeemBatch", testRedeemBatch},
		{"RedeemBatchConcurrent", testRedeemBatchConcurrent},
		{"Tokens", testTokens},
		{"Users", testUsers},
		{"AccessLog", testAccessLog},
		{"Grievances", testGrievances},
		{"GrievanceStatuses", testGrievanceStatuses},
		{"SecondHandle", testSecondHandle},
		{"SigningKeys", testSigningKeys},
		{"CardVersions", testCardVersions},
		{"CardsConcurrentReissue", testCardsConcurrentReissue},
		{"Rights", testRights},
		{"Dedup", testDedup},
		{"DedupImport", testDedupImport},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.test(t, opener)
		})
	}
}

// staff is a context with an actor and purpose, as the HTTP layer sets it.
func staff(purpose canasta.Purpose) context.Context {
	ctx := canasta.NewContextWithActor(context.Background(), &canasta.Actor{TokenID: 7, Name: "clerk", Role: canasta.RoleRegistrar})
	if purpose != "" {
		ctx = canasta.NewContextWithPurpose(ctx, purpose)
	}
	return ctx
}

// wantCode fails the test unless err carries the application error code
// (or is nil when code is "").
func wantCode(tb testing.TB, err error, code string) {
	tb.Helper()
	if got := canasta.ErrorCode(err); got != code {
		tb.Fatalf("error code = %q, want %q (err: %v)", got, code, err)
	}
}

// NewHousehold returns a valid household of size members, tagged n so
// source ids are unique: household H%07d, members P%07d-%d, income
// (n%5)*10000.
func NewHousehold(n, size int) *canasta.Household {
	h := &canasta.Household{
		SourceID:      fmt.Sprintf("H%07d", n),
		Address:       canasta.Address{Line: "1 Main St", Locality: "Town", Region: "North", Postcode: "1000"},
		MonthlyIncome: int64(n%5) * 10000,
	}
	for i := range size {
		h.Members = append(h.Members, &canasta.Person{
			SourceID:     fmt.Sprintf("P%07d-%d", n, i),
			GivenName:    fmt.Sprintf("Given%d", i),
			FamilyName:   fmt.Sprintf("Family%d", n),
			BirthDate:    fmt.Sprintf("%04d-%02d-%02d", 1950+i*10, 1+i%12, 1+i%28),
			Sex:          canasta.Sex([]string{"F", "M", "X", ""}[i%4]),
			Relationship: map[bool]string{true: canasta.RelationshipHead, false: "member"}[i == 0],
		})
	}
	return h
}

// SyntheticHouseholds returns count households of 1 to 7 members (about 4
// on average) numbered from first, with the attributes of
// SyntheticAttributes on some.
func SyntheticHouseholds(first, count int) []*canasta.Household {
	rng := rand.New(rand.NewPCG(uint64(first), 42))
	hs := make([]*canasta.Household, count)
	for i := range hs {
		n := first + i
		h := NewHousehold(n, 1+rng.IntN(7))
		h.MonthlyIncome = rng.Int64N(200000)
		if n%3 == 0 {
			h.Attributes = map[string]any{"farmer": true}
		}
		for j, m := range h.Members {
			m.NationalID = fmt.Sprintf("NID%08d%d", n, j)
			if j%2 == 1 {
				m.Attributes = map[string]any{"school_grade": int64(j)}
			}
		}
		hs[i] = h
	}
	return hs
}

// SyntheticAttributes are the attributes SyntheticHouseholds uses.
func SyntheticAttributes() []*canasta.Attribute {
	return []*canasta.Attribute{
		{Name: "farmer", Type: canasta.AttributeBool, AppliesTo: canasta.AppliesToHousehold, Purpose: "Agricultural input support eligibility."},
		{Name: "school_grade", Type: canasta.AttributeInt, AppliesTo: canasta.AppliesToPerson, Purpose: "School meal program eligibility by grade."},
	}
}

// CEL rules the tests publish.
const (
	ruleSizeTimes1000 = "household.size * 1000"
	ruleLowIncome     = "household.monthly_income >= 0 && household.monthly_income < 15000"
	ruleFarmer        = "has(household.attributes.farmer) && household.attributes.farmer"
)

func declareSyntheticAttributes(tb testing.TB, st *Store) {
	tb.Helper()
	for _, a := range SyntheticAttributes() {
		if err := st.Attributes.CreateAttribute(context.Background(), a); err != nil {
			tb.Fatal(err)
		}
	}
}

func mustCreateProgram(tb testing.TB, st *Store, name, code string, unit canasta.Unit, eligibility, quantity string) *canasta.Program {
	tb.Helper()
	p := &canasta.Program{Name: name, Commodity: canasta.Commodity{Code: code, Unit: unit},
		Eligibility: eligibility, Quantity: quantity, Period: canasta.PeriodMonthly}
	if err := st.Programs.CreateProgram(context.Background(), p); err != nil {
		tb.Fatalf("create program %s: %v", name, err)
	}
	return p
}

func mustCreatePoint(tb testing.TB, st *Store) *canasta.Point {
	tb.Helper()
	p := &canasta.Point{Name: "Corner shop", Kind: canasta.PointShop, Region: "North"}
	if err := st.Points.CreatePoint(context.Background(), p); err != nil {
		tb.Fatal(err)
	}
	return p
}

func mustCreateHousehold(tb testing.TB, st *Store, h *canasta.Household) *canasta.Household {
	tb.Helper()
	if err := st.Households.CreateHousehold(context.Background(), h); err != nil {
		tb.Fatalf("create household: %v", err)
	}
	return h
}

func mustImport(tb testing.TB, st *Store, hs []*canasta.Household) canasta.ImportResult {
	tb.Helper()
	res, err := st.Households.ImportHouseholds(context.Background(), hs)
	if err != nil {
		tb.Fatalf("import: %v", err)
	}
	return res
}

// dump formats a household and its members for failure messages.
func dump(h *canasta.Household) string {
	s := fmt.Sprintf("%+v", *h)
	for _, m := range h.Members {
		s += fmt.Sprintf("\n  %+v", *m)
	}
	return s
}
