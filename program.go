package canasta

import (
	"context"
	"strings"
	"time"
)

// Commodity is what a program grants, counted in a base unit.
type Commodity struct {
	Code string `json:"code"` // e.g. "rice"
	Unit Unit   `json:"unit"`
}

// Unit is the base unit of a commodity. Quantities are integers in it.
type Unit string

const (
	UnitGram       Unit = "g"
	UnitMillilitre Unit = "ml"
	UnitVisit      Unit = "visit"
	UnitMinor      Unit = "minor" // minor currency units, e.g. cents
)

// Valid reports whether u is a known base unit.
func (u Unit) Valid() bool {
	return u == UnitGram || u == UnitMillilitre || u == UnitVisit || u == UnitMinor
}

// PeriodMonthly is the only period kind today: one grant per calendar month.
const PeriodMonthly = "monthly"

// Program is a published, need-based benefit: who is eligible and how much
// each eligible household gets per period, both as CEL expressions over the
// household's declared data.
type Program struct {
	ID          int64     `json:"id"`
	Name        string    `json:"name"`
	Commodity   Commodity `json:"commodity"`
	Eligibility string    `json:"eligibility"` // CEL, bool
	Quantity    string    `json:"quantity"`    // CEL, int in the base unit
	Period      string    `json:"period"`
	CreatedAt   time.Time `json:"created_at"`
	// Replaces is the program this one supersedes: publishing a changed
	// rule is a new program that retires the old one, so every rule ever
	// applied stays published. Cycles grant only from active programs;
	// grants already made stay redeemable.
	Replaces   int64      `json:"replaces,omitempty"`
	ReplacedBy int64      `json:"replaced_by,omitempty"`
	RetiredAt  *time.Time `json:"retired_at,omitempty"`
}

// Active reports whether cycles grant from the program.
func (p *Program) Active() bool { return p.RetiredAt == nil }

// ActivePrograms returns the programs cycles grant from.
func ActivePrograms(ps []*Program) []*Program {
	var out []*Program
	for _, p := range ps {
		if p.Active() {
			out = append(out, p)
		}
	}
	return out
}

// Validate checks a program's fields other than its rules, which a
// RuleEngine checks against the schema.
func (p *Program) Validate() error {
	if strings.TrimSpace(p.Name) == "" || len(p.Name) > 200 {
		return Errorf(EINVALID, "Program name is required (at most 200 bytes).")
	}
	if !attributeNameRE.MatchString(p.Commodity.Code) {
		return Errorf(EINVALID, "Commodity code %q must be lower-case letters, digits and underscores.", p.Commodity.Code)
	}
	if !p.Commodity.Unit.Valid() {
		return Errorf(EINVALID, "Commodity unit must be g, ml, visit or minor, not %q.", string(p.Commodity.Unit))
	}
	if p.Period != PeriodMonthly {
		return Errorf(EINVALID, "Program period must be %q.", PeriodMonthly)
	}
	if strings.TrimSpace(p.Eligibility) == "" || strings.TrimSpace(p.Quantity) == "" {
		return Errorf(EINVALID, "Program eligibility and quantity expressions are required.")
	}
	if len(p.Eligibility) > 4000 || len(p.Quantity) > 4000 {
		return Errorf(EINVALID, "A rule expression may be at most 4000 bytes.")
	}
	return nil
}

// Facts are what a rule sees of a household: only need-based, declared
// data. Ages are computed at the first day of the period.
type Facts struct {
	Size          int64
	MonthlyIncome int64 // UnknownIncome when not declared
	Region        string
	Attributes    map[string]any
	Members       []MemberFacts
}

// MemberFacts are what a rule sees of one person.
type MemberFacts struct {
	Age        int64 // UnknownAge when the birth date is unknown
	Sex        string
	Disability bool
	Attributes map[string]any
}

// NewFacts derives the facts of h as of day (the period's first day).
func NewFacts(h *Household, day time.Time) *Facts {
	f := &Facts{
		Size:          int64(len(h.Members)),
		MonthlyIncome: h.MonthlyIncome,
		Region:        h.Address.Region,
		Attributes:    h.Attributes,
		Members:       make([]MemberFacts, len(h.Members)),
	}
	for i, m := range h.Members {
		bd, _ := ParseBirthDate(m.BirthDate)
		f.Members[i] = MemberFacts{Age: int64(bd.AgeOn(day)), Sex: string(m.Sex), Disability: m.Disability, Attributes: m.Attributes}
	}
	return f
}

// Grant is the outcome of a program's rule for one household.
type Grant struct {
	Eligible bool
	Quantity int64 // base units; 0 when not eligible
	// Explanation says in words which values produced the outcome.
	Explanation string
}

// RuleEngine compiles program rules against the declared schema.
type RuleEngine interface {
	// Compile type-checks the program's eligibility (bool) and quantity
	// (int) expressions against the schema and returns a rule ready to
	// evaluate. EINVALID, with a message pointing at the problem, when an
	// expression does not parse, names an undeclared field or attribute, or
	// has the wrong type.
	Compile(p *Program, s *Schema) (Rule, error)
}

// Rule is a compiled program rule. It is safe for concurrent use.
type Rule interface {
	// Evaluate returns the grant for one household. A negative quantity or
	// an evaluation error is an EINVALID error naming the program.
	Evaluate(f *Facts) (Grant, error)
}

// ProgramService publishes programs.
type ProgramService interface {
	// CreateProgram validates p, compiles its rules against the declared
	// schema and stores it. Admins only. EINVALID for a bad program or rule.
	CreateProgram(ctx context.Context, p *Program) error

	// FindProgramByID returns a program. Public. ENOTFOUND if none.
	FindProgramByID(ctx context.Context, id int64) (*Program, error)

	// FindPrograms lists all programs. Public.
	FindPrograms(ctx context.Context) ([]*Program, error)
}
