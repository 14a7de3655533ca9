package canasta

import (
	"context"
	"math"
	"regexp"
	"time"
)

// AttributeType is the value type of a declared attribute.
type AttributeType string

const (
	AttributeBool   AttributeType = "bool"
	AttributeInt    AttributeType = "int"
	AttributeString AttributeType = "string"
	AttributeDate   AttributeType = "date" // "YYYY-MM-DD", a string in rules
)

// AppliesTo says whether an attribute belongs to a household or a person.
type AppliesTo string

const (
	AppliesToHousehold AppliesTo = "household"
	AppliesToPerson    AppliesTo = "person"
)

// Attribute is a declared, need-based extra field. The registry's schema is
// closed: only declared attributes may be stored or used in rules, and the
// special categories can never be declared (see ScreenAttribute).
type Attribute struct {
	Name      string        `json:"name"`
	Type      AttributeType `json:"type"`
	AppliesTo AppliesTo     `json:"applies_to"`
	Purpose   string        `json:"purpose"`
	CreatedAt time.Time     `json:"created_at"`
}

var attributeNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// Validate checks the declaration's form and screens it against the
// special categories.
func (a *Attribute) Validate() error {
	if !attributeNameRE.MatchString(a.Name) {
		return Errorf(EINVALID, "Attribute name %q must be lower-case letters, digits and underscores, starting with a letter (at most 63).", a.Name)
	}
	switch a.Type {
	case AttributeBool, AttributeInt, AttributeString, AttributeDate:
	default:
		return Errorf(EINVALID, "Attribute type must be bool, int, string or date, not %q.", string(a.Type))
	}
	switch a.AppliesTo {
	case AppliesToHousehold, AppliesToPerson:
	default:
		return Errorf(EINVALID, "applies_to must be household or person, not %q.", string(a.AppliesTo))
	}
	if len(a.Purpose) < 10 || len(a.Purpose) > 500 {
		return Errorf(EINVALID, "State the attribute's need-based purpose in 10 to 500 characters.")
	}
	return ScreenAttribute(a.Name, a.Purpose)
}

// Schema is the set of declared attributes, by where they apply and name.
type Schema struct {
	Household map[string]*Attribute
	Person    map[string]*Attribute
}

// NewSchema indexes a list of declarations.
func NewSchema(attrs []*Attribute) *Schema {
	s := &Schema{Household: map[string]*Attribute{}, Person: map[string]*Attribute{}}
	for _, a := range attrs {
		if a.AppliesTo == AppliesToHousehold {
			s.Household[a.Name] = a
		} else {
			s.Person[a.Name] = a
		}
	}
	return s
}

// ValidateHousehold checks that every attribute of h and its members is
// declared for where it appears and has the declared type. JSON numbers
// arrive as float64 or json.Number; they are normalised to int64 in place.
func (s *Schema) ValidateHousehold(h *Household) error {
	if err := checkAttributes(s.Household, AppliesToHousehold, h.Attributes); err != nil {
		return err
	}
	for i, m := range h.Members {
		if err := checkAttributes(s.Person, AppliesToPerson, m.Attributes); err != nil {
			return Errorf(EINVALID, "Member %d: %s", i+1, ErrorMessage(err))
		}
	}
	return nil
}

func checkAttributes(declared map[string]*Attribute, where AppliesTo, values map[string]any) error {
	for name, v := range values {
		a, ok := declared[name]
		if !ok {
			return Errorf(EINVALID, "Attribute %q is not declared for a %s; only declared attributes may be recorded.", name, where)
		}
		nv, err := a.Normalize(v)
		if err != nil {
			return err
		}
		values[name] = nv
	}
	return nil
}

// Normalize converts a decoded value to the attribute's Go type (bool,
// int64 or string), or returns EINVALID.
func (a *Attribute) Normalize(v any) (any, error) {
	bad := Errorf(EINVALID, "Attribute %q must be of type %s.", a.Name, a.Type)
	switch a.Type {
	case AttributeBool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case AttributeInt:
		switch n := v.(type) {
		case int64:
			return n, nil
		case int:
			return int64(n), nil
		case float64:
			return floatToInt(n, bad)
		case interface {
			Int64() (int64, error)
			Float64() (float64, error)
		}:
			if i, err := n.Int64(); err == nil {
				return i, nil
			}
			if f, err := n.Float64(); err == nil {
				return floatToInt(f, bad)
			}
		}
	case AttributeString:
		if s, ok := v.(string); ok && len(s) <= maxFieldLen {
			return s, nil
		}
	case AttributeDate:
		if s, ok := v.(string); ok {
			if _, err := time.Parse("2006-01-02", s); err == nil {
				return s, nil
			}
		}
	}
	return nil, bad
}

// AttributeService declares and lists attributes.
type AttributeService interface {
	// CreateAttribute declares a new attribute. Admins only. EINVALID for a
	// bad or special-category declaration; ECONFLICT if the name exists.
	CreateAttribute(ctx context.Context, a *Attribute) error

	// FindAttributes lists every declared attribute. Public.
	FindAttributes(ctx context.Context) ([]*Attribute, error)
}

// floatToInt accepts a float that is a whole number inside the int64 range
// whose conversion is exact on every platform.
func floatToInt(f float64, bad error) (any, error) {
	const limit = 1 << 53 // beyond this, floats skip integers
	if f != math.Trunc(f) || f < -limit || f > limit {
		return nil, bad
	}
	return int64(f), nil
}
