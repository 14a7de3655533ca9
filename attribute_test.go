package canasta_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/canasta/canasta"
)

const validPurpose = "Sizes the monthly food ration to the household's needs."

func TestAttributeValidate(t *testing.T) {
	valid := canasta.Attribute{Name: "has_stove", Type: canasta.AttributeBool, AppliesTo: canasta.AppliesToHousehold, Purpose: validPurpose}
	tests := []struct {
		name    string
		edit    func(a *canasta.Attribute)
		wantErr string // substring of the message; "" for valid
	}{
		{"valid", func(a *canasta.Attribute) {}, ""},
		{"name_digits_underscore", func(a *canasta.Attribute) { a.Name = "rooms_2" }, ""},
		{"name_63_chars", func(a *canasta.Attribute) { a.Name = "a" + strings.Repeat("b", 62) }, ""},
		{"name_64_chars", func(a *canasta.Attribute) { a.Name = "a" + strings.Repeat("b", 63) }, "Attribute name"},
		{"name_empty", func(a *canasta.Attribute) { a.Name = "" }, "Attribute name"},
		{"name_upper", func(a *canasta.Attribute) { a.Name = "HasStove" }, "Attribute name"},
		{"name_leading_digit", func(a *canasta.Attribute) { a.Name = "2_rooms" }, "Attribute name"},
		{"name_leading_underscore", func(a *canasta.Attribute) { a.Name = "_rooms" }, "Attribute name"},
		{"name_hyphen", func(a *canasta.Attribute) { a.Name = "has-stove" }, "Attribute name"},
		{"name_accent", func(a *canasta.Attribute) { a.Name = "niño" }, "Attribute name"},
		{"type_int", func(a *canasta.Attribute) { a.Type = canasta.AttributeInt }, ""},
		{"type_string", func(a *canasta.Attribute) { a.Type = canasta.AttributeString }, ""},
		{"type_date", func(a *canasta.Attribute) { a.Type = canasta.AttributeDate }, ""},
		{"type_float", func(a *canasta.Attribute) { a.Type = "float" }, "Attribute type"},
		{"type_empty", func(a *canasta.Attribute) { a.Type = "" }, "Attribute type"},
		{"applies_to_person", func(a *canasta.Attribute) { a.AppliesTo = canasta.AppliesToPerson }, ""},
		{"applies_to_program", func(a *canasta.Attribute) { a.AppliesTo = "program" }, "applies_to"},
		{"applies_to_empty", func(a *canasta.Attribute) { a.AppliesTo = "" }, "applies_to"},
		{"purpose_10", func(a *canasta.Attribute) { a.Purpose = strings.Repeat("x", 10) }, ""},
		{"purpose_9", func(a *canasta.Attribute) { a.Purpose = strings.Repeat("x", 9) }, "purpose"},
		{"purpose_empty", func(a *canasta.Attribute) { a.Purpose = "" }, "purpose"},
		{"purpose_500", func(a *canasta.Attribute) { a.Purpose = strings.Repeat("x", 500) }, ""},
		{"purpose_501", func(a *canasta.Attribute) { a.Purpose = strings.Repeat("x", 501) }, "purpose"},
		{"screen_name", func(a *canasta.Attribute) { a.Name = "religion" }, "religion or belief"},
		{"screen_name_spanish", func(a *canasta.Attribute) { a.Name = "partido_politico" }, "political opinion"},
		{"screen_purpose", func(a *canasta.Attribute) { a.Purpose = "Used to rank households by loyalty." }, "scoring or rating"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := valid
			tt.edit(&a)
			err := a.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if canasta.ErrorCode(err) != canasta.EINVALID {
				t.Fatalf("Validate() = %v, want EINVALID", err)
			}
			if msg := canasta.ErrorMessage(err); !strings.Contains(msg, tt.wantErr) {
				t.Errorf("message %q does not contain %q", msg, tt.wantErr)
			}
		})
	}
}

func testSchema() *canasta.Schema {
	return canasta.NewSchema([]*canasta.Attribute{
		{Name: "has_stove", Type: canasta.AttributeBool, AppliesTo: canasta.AppliesToHousehold, Purpose: validPurpose},
		{Name: "rooms", Type: canasta.AttributeInt, AppliesTo: canasta.AppliesToHousehold, Purpose: validPurpose},
		{Name: "water_source", Type: canasta.AttributeString, AppliesTo: canasta.AppliesToHousehold, Purpose: validPurpose},
		{Name: "moved_in", Type: canasta.AttributeDate, AppliesTo: canasta.AppliesToHousehold, Purpose: validPurpose},
		{Name: "pregnant", Type: canasta.AttributeBool, AppliesTo: canasta.AppliesToPerson, Purpose: validPurpose},
		{Name: "school_grade", Type: canasta.AttributeInt, AppliesTo: canasta.AppliesToPerson, Purpose: validPurpose},
	})
}

func TestSchemaValidateHousehold(t *testing.T) {
	tests := []struct {
		name    string
		hh      map[string]any   // household attributes
		members []map[string]any // member attributes
		wantErr string           // substring of the message; "" for valid
	}{
		{"none", nil, nil, ""},
		{"all_types", map[string]any{"has_stove": true, "rooms": int64(3), "water_source": "well", "moved_in": "2020-02-29"},
			[]map[string]any{{"pregnant": false, "school_grade": int64(4)}}, ""},
		{"undeclared_household", map[string]any{"religion": "x"}, nil, `Attribute "religion" is not declared for a household`},
		{"person_attribute_on_household", map[string]any{"pregnant": true}, nil, `Attribute "pregnant" is not declared for a household`},
		{"household_attribute_on_member", nil, []map[string]any{{}, {"rooms": int64(2)}}, `Member 2: Attribute "rooms" is not declared for a person`},
		{"bool_as_string", map[string]any{"has_stove": "yes"}, nil, `"has_stove" must be of type bool`},
		{"bool_as_number", map[string]any{"has_stove": float64(1)}, nil, `"has_stove" must be of type bool`},
		{"int_as_string", map[string]any{"rooms": "3"}, nil, `"rooms" must be of type int`},
		{"int_as_bool", map[string]any{"rooms": true}, nil, `"rooms" must be of type int`},
		{"int_fraction", map[string]any{"rooms": 2.5}, nil, `"rooms" must be of type int`},
		{"int_member_fraction", nil, []map[string]any{{"school_grade": 3.25}}, `Member 1: Attribute "school_grade" must be of type int`},
		{"string_as_number", map[string]any{"water_source": float64(3)}, nil, `"water_source" must be of type string`},
		{"string_too_long", map[string]any{"water_source": strings.Repeat("w", 501)}, nil, `"water_source" must be of type string`},
		{"string_500", map[string]any{"water_source": strings.Repeat("w", 500)}, nil, ""},
		{"date_not_calendar", map[string]any{"moved_in": "2021-02-29"}, nil, `"moved_in" must be of type date`},
		{"date_partial", map[string]any{"moved_in": "2021-02"}, nil, `"moved_in" must be of type date`},
		{"date_slashes", map[string]any{"moved_in": "2021/02/01"}, nil, `"moved_in" must be of type date`},
		{"date_as_number", map[string]any{"moved_in": float64(20210201)}, nil, `"moved_in" must be of type date`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &canasta.Household{Attributes: tt.hh}
			for _, m := range tt.members {
				h.Members = append(h.Members, &canasta.Person{GivenName: "Ana", Attributes: m})
			}
			if len(h.Members) == 0 {
				h.Members = []*canasta.Person{{GivenName: "Ana"}}
			}
			err := testSchema().ValidateHousehold(h)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ValidateHousehold() = %v, want nil", err)
				}
				return
			}
			if canasta.ErrorCode(err) != canasta.EINVALID {
				t.Fatalf("ValidateHousehold() = %v, want EINVALID", err)
			}
			if msg := canasta.ErrorMessage(err); !strings.Contains(msg, tt.wantErr) {
				t.Errorf("message %q does not contain %q", msg, tt.wantErr)
			}
		})
	}
}

// TestSchemaValidateHouseholdNormalises decodes real JSON, whose numbers
// arrive as float64 or json.Number, and checks ints are stored as int64.
func TestSchemaValidateHouseholdNormalises(t *testing.T) {
	const body = `{"address":{"region":"Norte"},"monthly_income":-1,
		"attributes":{"rooms":3,"has_stove":true,"moved_in":"2019-06-01"},
		"members":[{"given_name":"Ana","attributes":{"school_grade":4,"pregnant":false}}]}`
	tests := []struct {
		name      string
		useNumber bool
	}{
		{"float64", false},
		{"json_number", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dec := json.NewDecoder(bytes.NewReader([]byte(body)))
			if tt.useNumber {
				dec.UseNumber()
			}
			var h canasta.Household
			if err := dec.Decode(&h); err != nil {
				t.Fatal(err)
			}
			if err := testSchema().ValidateHousehold(&h); err != nil {
				t.Fatalf("ValidateHousehold() = %v", err)
			}
			if got, ok := h.Attributes["rooms"].(int64); !ok || got != 3 {
				t.Errorf("rooms = %#v, want int64(3)", h.Attributes["rooms"])
			}
			if got, ok := h.Members[0].Attributes["school_grade"].(int64); !ok || got != 4 {
				t.Errorf("school_grade = %#v, want int64(4)", h.Members[0].Attributes["school_grade"])
			}
			if got, ok := h.Attributes["moved_in"].(string); !ok || got != "2019-06-01" {
				t.Errorf("moved_in = %#v, want the date string", h.Attributes["moved_in"])
			}
		})
	}
}

func TestAttributeNormalize(t *testing.T) {
	tests := []struct {
		name string
		typ  canasta.AttributeType
		in   any
		want any // nil when refused
	}{
		{"int_from_int", canasta.AttributeInt, 7, int64(7)},
		{"int_from_int64", canasta.AttributeInt, int64(-2), int64(-2)},
		{"int_from_whole_float", canasta.AttributeInt, float64(12), int64(12)},
		{"int_from_json_number", canasta.AttributeInt, json.Number("42"), int64(42)},
		{"int_from_fraction_json_number", canasta.AttributeInt, json.Number("4.5"), nil},
		{"int_from_fraction", canasta.AttributeInt, 0.5, nil},
		{"int_from_nil", canasta.AttributeInt, nil, nil},
		{"bool", canasta.AttributeBool, true, true},
		{"bool_from_nil", canasta.AttributeBool, nil, nil},
		{"string", canasta.AttributeString, "well", "well"},
		{"date", canasta.AttributeDate, "2024-02-29", "2024-02-29"},
		{"date_bad_month", canasta.AttributeDate, "2024-13-01", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &canasta.Attribute{Name: "x", Type: tt.typ}
			got, err := a.Normalize(tt.in)
			if tt.want == nil {
				if canasta.ErrorCode(err) != canasta.EINVALID {
					t.Errorf("Normalize(%#v) = %#v, %v; want EINVALID", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("Normalize(%#v) = %#v, %v; want %#v", tt.in, got, err, tt.want)
			}
		})
	}
}
