package canasta

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"
)

// Correction records one correction of a household's registered data: who
// made it, why, and which fields changed. The person sees every one in the
// portal.
type Correction struct {
	ID          int64     `json:"id"`
	HouseholdID string    `json:"household_id"`
	At          time.Time `json:"at"`
	Role        string    `json:"role"`
	Purpose     Purpose   `json:"purpose"`
	Reason      string    `json:"reason"`
	// Fields name what changed, e.g. "monthly_income" or
	// "members[per_…].birth_date"; never the values.
	Fields []string  `json:"fields"`
	Audit  *AuditRef `json:"audit,omitempty"`
}

// CorrectionService corrects registered data. Corrections are the only
// changes to a registered household: a registrar acting on a grievance or
// on the person's request, with the purpose data-correction.
type CorrectionService interface {
	// CorrectHousehold replaces the household's fields and its members'
	// fields with h's; members are matched by id, and none may be added or
	// removed (that is enrollment). It records the correction with its
	// reason and appends an audit entry in the same transaction.
	// Registrars and admins, with the purpose data-correction (EFORBIDDEN
	// otherwise). EINVALID for bad data, a missing reason or no change;
	// ENOTFOUND.
	CorrectHousehold(ctx context.Context, h *Household, reason string) (*Correction, error)

	// FindCorrections lists the household's corrections, newest first.
	// ENOTFOUND for an unknown household.
	FindCorrections(ctx context.Context, householdID string) ([]*Correction, error)
}

// CheckCorrection checks the caller may correct data and the reason is
// given, before any store work.
func CheckCorrection(ctx context.Context, reason string) (string, error) {
	if a := ActorFromContext(ctx); a == nil || (a.Role != RoleRegistrar && a.Role != RoleAdmin) {
		return "", Errorf(EFORBIDDEN, "Only registrars and admins correct registered data.")
	}
	if PurposeFromContext(ctx) != PurposeDataCorrection {
		return "", Errorf(EFORBIDDEN, "Correcting registered data needs the purpose data-correction.")
	}
	reason = strings.TrimSpace(reason)
	if reason == "" || len(reason) > 1000 {
		return "", Errorf(EINVALID, "Give the reason for the correction (at most 1000 bytes), e.g. the grievance it answers.")
	}
	return reason, nil
}

// CorrectedFields compares a stored household with its correction and
// names the fields that differ. EINVALID if a member is added, removed or
// unknown.
func CorrectedFields(old, h *Household) ([]string, error) {
	var fields []string
	diff := func(name string, a, b any) {
		if !reflect.DeepEqual(a, b) {
			fields = append(fields, name)
		}
	}
	diff("address", old.Address, h.Address)
	diff("monthly_income", old.MonthlyIncome, h.MonthlyIncome)
	diff("attributes", nonEmpty(old.Attributes), nonEmpty(h.Attributes))
	if len(h.Members) != len(old.Members) {
		return nil, Errorf(EINVALID, "A correction keeps the same members (%d); adding or removing members is done at enrollment.", len(old.Members))
	}
	byID := make(map[string]*Person, len(old.Members))
	for _, m := range old.Members {
		byID[m.ID] = m
	}
	seen := map[string]bool{}
	for i, m := range h.Members {
		o := byID[m.ID]
		if o == nil || seen[m.ID] {
			return nil, Errorf(EINVALID, "Member %d: give the id of one of the household's members (each once).", i+1)
		}
		seen[m.ID] = true
		p := fmt.Sprintf("members[%s].", m.ID)
		diff(p+"given_name", o.GivenName, m.GivenName)
		diff(p+"family_name", o.FamilyName, m.FamilyName)
		diff(p+"birth_date", o.BirthDate, m.BirthDate)
		diff(p+"sex", o.Sex, m.Sex)
		diff(p+"national_id", o.NationalID, m.NationalID)
		diff(p+"relationship", o.Relationship, m.Relationship)
		diff(p+"disability", o.Disability, m.Disability)
		diff(p+"attributes", nonEmpty(o.Attributes), nonEmpty(m.Attributes))
	}
	if len(fields) == 0 {
		return nil, Errorf(EINVALID, "The correction changes nothing.")
	}
	slices.Sort(fields)
	return fields, nil
}

func nonEmpty(m map[string]any) map[string]any {
	if len(m) == 0 {
		return nil
	}
	return maps.Clone(m)
}
