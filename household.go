package canasta

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"
)

// UnknownIncome is Household.MonthlyIncome when the household declared none.
// Rules see it as -1 and must treat it explicitly.
const UnknownIncome int64 = -1

// UnknownAge is a member's age in rules when the birth date is unknown.
const UnknownAge = -1

// Address is where a household lives. Region is required: programs and
// points are organised by region.
type Address struct {
	Line     string `json:"line"`
	Locality string `json:"locality"`
	Region   string `json:"region"`
	Postcode string `json:"postcode"`
}

// Household is a group of people registered together; entitlements are
// granted to households.
type Household struct {
	ID       string  `json:"id"`
	SourceID string  `json:"source_id,omitempty"`
	Address  Address `json:"address"`
	// MonthlyIncome is in minor currency units; UnknownIncome if not declared.
	MonthlyIncome int64          `json:"monthly_income"`
	Attributes    map[string]any `json:"attributes,omitempty"`
	Members       []*Person      `json:"members"`
	// HomePointID is the point that holds the household's monthly quota
	// for offline redemption by default; 0 when none.
	HomePointID int64     `json:"home_point_id,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Person is a member of a household.
type Person struct {
	ID          string `json:"id"`
	HouseholdID string `json:"household_id"`
	SourceID    string `json:"source_id,omitempty"`
	GivenName   string `json:"given_name"`
	FamilyName  string `json:"family_name"`
	// BirthDate is "YYYY-MM-DD", "YYYY-MM", "YYYY" or "" when unknown.
	BirthDate    string         `json:"birth_date"`
	Sex          Sex            `json:"sex"`
	NationalID   string         `json:"national_id,omitempty"`
	Relationship string         `json:"relationship"`
	Disability   bool           `json:"disability"`
	Attributes   map[string]any `json:"attributes,omitempty"`
}

// Sex is as declared: F, M, X, or "" when not declared.
type Sex string

// Valid reports whether s is one of the accepted values.
func (s Sex) Valid() bool { return s == "" || s == "F" || s == "M" || s == "X" }

// RelationshipHead marks the member whose row carries household fields.
const RelationshipHead = "head"

// Limits on free text, so one record cannot bloat the registry.
const (
	maxNameLen  = 200
	maxFieldLen = 500
	// MaxMembers bounds a household's size; larger groups are institutions.
	MaxMembers = 64
)

// Validate checks a household and its members without the attribute
// schema; ValidateAttributes checks the declared attributes.
func (h *Household) Validate() error {
	if strings.TrimSpace(h.Address.Region) == "" {
		return Errorf(EINVALID, "Household region is required.")
	}
	for name, v := range map[string]string{"address line": h.Address.Line, "locality": h.Address.Locality,
		"region": h.Address.Region, "postcode": h.Address.Postcode, "source_id": h.SourceID} {
		if err := checkText(name, v, maxFieldLen); err != nil {
			return err
		}
	}
	if h.MonthlyIncome < UnknownIncome {
		return Errorf(EINVALID, "Monthly income must be zero or more (or -1 when unknown).")
	}
	if len(h.Members) == 0 {
		return Errorf(EINVALID, "A household needs at least one member.")
	}
	if len(h.Members) > MaxMembers {
		return Errorf(EINVALID, "A household may have at most %d members.", MaxMembers)
	}
	for i, m := range h.Members {
		if m == nil {
			return Errorf(EINVALID, "Member %d is empty.", i+1)
		}
		if err := m.Validate(); err != nil {
			return Errorf(EINVALID, "Member %d: %s", i+1, ErrorMessage(err))
		}
	}
	return nil
}

// Validate checks one person's fields.
func (p *Person) Validate() error {
	if strings.TrimSpace(p.GivenName) == "" && strings.TrimSpace(p.FamilyName) == "" {
		return Errorf(EINVALID, "At least one name part is required.")
	}
	for name, v := range map[string]string{"given_name": p.GivenName, "family_name": p.FamilyName} {
		if err := checkText(name, v, maxNameLen); err != nil {
			return err
		}
	}
	for name, v := range map[string]string{"national_id": p.NationalID, "relationship": p.Relationship, "source_id": p.SourceID} {
		if err := checkText(name, v, maxFieldLen); err != nil {
			return err
		}
	}
	if _, err := ParseBirthDate(p.BirthDate); err != nil {
		return err
	}
	if !p.Sex.Valid() {
		return Errorf(EINVALID, "Sex must be F, M, X or empty, not %q.", string(p.Sex))
	}
	return nil
}

func checkText(name, v string, max int) error {
	if !utf8.ValidString(v) {
		return Errorf(EINVALID, "The %s is not valid UTF-8.", name)
	}
	if len(v) > max {
		return Errorf(EINVALID, "The %s is longer than %d bytes.", name, max)
	}
	return nil
}

// HouseholdFilter selects households. Empty fields match anything.
type HouseholdFilter struct {
	ID       string
	SourceID string // the household's or any member's source id
	Region   string
	Offset   int
	Limit    int
}

// ImportResult counts what an import did.
type ImportResult struct {
	HouseholdsCreated int `json:"households_created"`
	PersonsCreated    int `json:"persons_created"`
	// PersonsUnchanged were already present by source id and left as they were.
	PersonsUnchanged int `json:"persons_unchanged"`
}

// HouseholdService is the registry of households and their members.
type HouseholdService interface {
	// CreateHousehold validates h against the declared schema, assigns ids
	// to it and its members and stores it. Registrars and admins only.
	// EINVALID for bad input; ECONFLICT when a source id is already taken.
	CreateHousehold(ctx context.Context, h *Household) error

	// FindHouseholdByID returns a household with its members, and records the
	// read in the access log with the context's actor and purpose.
	// ENOTFOUND if there is none.
	FindHouseholdByID(ctx context.Context, id string) (*Household, error)

	// FindHouseholdBySourceID returns the household whose own source id, or
	// one of whose members' source id, is sourceID, and records the read.
	// ENOTFOUND if there is none.
	FindHouseholdBySourceID(ctx context.Context, sourceID string) (*Household, error)

	// ImportHouseholds stores a batch keyed by source id: a household or
	// person whose source id exists is left unchanged, so importing the same
	// data twice changes nothing. Households must have been validated.
	ImportHouseholds(ctx context.Context, hs []*Household) (ImportResult, error)

	// CountHouseholds returns how many households are registered.
	CountHouseholds(ctx context.Context) (int, error)
}
