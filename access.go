package canasta

import (
	"context"
	"time"
)

// Purpose is why a staff member reads a person's or household's record.
// A read without one of these is refused, and every read is logged.
type Purpose string

const (
	PurposeEnrollment        Purpose = "enrollment"
	PurposeEligibilityReview Purpose = "eligibility-review"
	PurposeRedemptionSupport Purpose = "redemption-support"
	PurposeGrievance         Purpose = "grievance"
	PurposeAudit             Purpose = "audit"
	PurposeDataCorrection    Purpose = "data-correction"
)

// Purposes lists every accepted purpose.
var Purposes = []Purpose{PurposeEnrollment, PurposeEligibilityReview, PurposeRedemptionSupport,
	PurposeGrievance, PurposeAudit, PurposeDataCorrection}

// ParsePurpose returns the purpose named s, or EINVALID.
func ParsePurpose(s string) (Purpose, error) {
	for _, p := range Purposes {
		if string(p) == s {
			return p, nil
		}
	}
	if s == "" {
		return "", Errorf(EINVALID, "State a purpose for reading this record (purpose parameter or Canasta-Purpose header): enrollment, eligibility-review, redemption-support, grievance, audit or data-correction.")
	}
	return "", Errorf(EINVALID, "Unknown purpose %q: use enrollment, eligibility-review, redemption-support, grievance, audit or data-correction.", s)
}

// AccessEvent records one read of a household's record by staff. The person
// concerned can see every one.
type AccessEvent struct {
	ID          int64     `json:"id"`
	HouseholdID string    `json:"household_id"`
	TokenID     int64     `json:"token_id"`
	ActorName   string    `json:"actor_name"`
	Role        Role      `json:"role"`
	Purpose     Purpose   `json:"purpose"`
	Action      string    `json:"action"` // e.g. "read-household", "read-entitlements"
	At          time.Time `json:"at"`
}

// AccessLogService reads the access log. Stores write it as part of the
// reads they serve.
type AccessLogService interface {
	// FindAccessEvents lists reads of the household's record, newest first.
	FindAccessEvents(ctx context.Context, householdID string) ([]*AccessEvent, error)
}
