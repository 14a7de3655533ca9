package canasta

import (
	"context"
	"fmt"
	"time"
)

// Period is a calendar month, "YYYY-MM", in UTC.
type Period string

// ParsePeriod checks and returns a period.
func ParsePeriod(s string) (Period, error) {
	t, err := time.Parse("2006-01", s)
	if err != nil || t.Format("2006-01") != s {
		return "", Errorf(EINVALID, "Period %q must be YYYY-MM.", s)
	}
	return Period(s), nil
}

// PeriodOf returns the period containing t (in UTC).
func PeriodOf(t time.Time) Period { return Period(t.UTC().Format("2006-01")) }

// Start returns the first instant of the period; ages are computed there.
func (p Period) Start() time.Time {
	t, err := time.Parse("2006-01", string(p))
	if err != nil {
		panic(fmt.Sprintf("canasta: bad period %q", string(p)))
	}
	return t
}

// Entitlement is one household's grant from one program in one period.
// Invariant: Remaining = Granted - Redeemed >= 0.
type Entitlement struct {
	HouseholdID string `json:"-"`
	ProgramID   int64  `json:"program_id"`
	Program     string `json:"program"`
	Commodity   string `json:"commodity"`
	Unit        Unit   `json:"unit"`
	Period      Period `json:"period"`
	Granted     int64  `json:"granted"`
	Redeemed    int64  `json:"redeemed"`
	// Held is reserved for points to redeem offline: it cannot be redeemed
	// online meanwhile. Granted = Redeemed + Held + Remaining.
	Held        int64  `json:"held"`
	Remaining   int64  `json:"remaining"`
	Explanation string `json:"explanation"`
}

// CommodityTotal sums the grants of one commodity in a cycle.
type CommodityTotal struct {
	Commodity string `json:"commodity"`
	Unit      Unit   `json:"unit"`
	Granted   int64  `json:"granted"`
}

// CycleSummary reports what a cycle run did.
type CycleSummary struct {
	Period     Period `json:"period"`
	Households int    `json:"households"`
	// Entitlements counts the grants that exist for the period after the run;
	// Created those this run added.
	Entitlements int              `json:"entitlements"`
	Created      int              `json:"created"`
	Totals       []CommodityTotal `json:"totals"`
	Errors       int              `json:"errors"` // households a rule failed on
	StartedAt    time.Time        `json:"started_at"`
	FinishedAt   time.Time        `json:"finished_at"`
}

// CycleService computes entitlements.
type CycleService interface {
	// RunCycle evaluates every program's rule for every household for the
	// period and stores a grant for each eligible household that has none
	// yet; running it twice grants nothing twice. progress, if not nil, is
	// called with households done and total. Admins only. EINVALID.
	RunCycle(ctx context.Context, period Period, progress func(done, total int)) (*CycleSummary, error)
}

// EntitlementService reads grants and balances.
type EntitlementService interface {
	// FindEntitlements returns the household's entitlements in the period.
	// ENOTFOUND if the household does not exist.
	FindEntitlements(ctx context.Context, householdID string, period Period) ([]*Entitlement, error)
}
