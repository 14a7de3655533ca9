package canasta_test

import (
	"strings"
	"testing"
	"time"

	"github.com/canasta/canasta"
)

func validHousehold() *canasta.Household {
	return &canasta.Household{
		Address:       canasta.Address{Line: "Calle 5 #12", Locality: "San José", Region: "Norte", Postcode: "1000"},
		MonthlyIncome: 250000,
		Members: []*canasta.Person{
			{GivenName: "Ana", FamilyName: "Pérez", BirthDate: "1985-06-02", Sex: "F", Relationship: canasta.RelationshipHead},
			{GivenName: "Luis", FamilyName: "Pérez", BirthDate: "2018", Sex: "M", Relationship: "child", Disability: true},
		},
	}
}

func TestHouseholdValidate(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(h *canasta.Household)
		wantErr string // substring of the message; "" for valid
	}{
		{"valid", func(h *canasta.Household) {}, ""},
		{"income_unknown", func(h *canasta.Household) { h.MonthlyIncome = canasta.UnknownIncome }, ""},
		{"income_zero", func(h *canasta.Household) { h.MonthlyIncome = 0 }, ""},
		{"income_below_unknown", func(h *canasta.Household) { h.MonthlyIncome = -2 }, "Monthly income"},
		{"region_missing", func(h *canasta.Household) { h.Address.Region = "" }, "region is required"},
		{"region_blank", func(h *canasta.Household) { h.Address.Region = " \t" }, "region is required"},
		{"region_invalid_utf8", func(h *canasta.Household) { h.Address.Region = "Nor\xffte" }, "region is not valid UTF-8"},
		{"line_invalid_utf8", func(h *canasta.Household) { h.Address.Line = "\xc3\x28" }, "address line is not valid UTF-8"},
		{"locality_too_long", func(h *canasta.Household) { h.Address.Locality = strings.Repeat("l", 501) }, "locality is longer than 500"},
		{"source_id_too_long", func(h *canasta.Household) { h.SourceID = strings.Repeat("s", 501) }, "source_id is longer"},
		{"no_members", func(h *canasta.Household) { h.Members = nil }, "at least one member"},
		{"nil_member", func(h *canasta.Household) { h.Members = append(h.Members, nil) }, "Member 3 is empty"},
		{"max_members", func(h *canasta.Household) { h.Members = members(canasta.MaxMembers) }, ""},
		{"too_many_members", func(h *canasta.Household) { h.Members = members(canasta.MaxMembers + 1) }, "at most 64 members"},
		{"member_error_numbered", func(h *canasta.Household) { h.Members[1].Sex = "Q" }, "Member 2: Sex must be"},
		{"member_bad_birth_date", func(h *canasta.Household) { h.Members[0].BirthDate = "2026-02-30" }, "Member 1: Birth date"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := validHousehold()
			tt.edit(h)
			checkInvalid(t, h.Validate(), tt.wantErr)
		})
	}
}

func members(n int) []*canasta.Person {
	ps := make([]*canasta.Person, n)
	for i := range ps {
		ps[i] = &canasta.Person{GivenName: "Member"}
	}
	return ps
}

func TestPersonValidate(t *testing.T) {
	tests := []struct {
		name    string
		p       canasta.Person
		wantErr string // substring of the message; "" for valid
	}{
		{"full", canasta.Person{GivenName: "Ana", FamilyName: "Pérez", BirthDate: "1985-06-02", Sex: "F"}, ""},
		{"mononym_given", canasta.Person{GivenName: "Sukarno"}, ""},
		{"mononym_family", canasta.Person{FamilyName: "Quispe"}, ""},
		{"no_name", canasta.Person{Sex: "F"}, "At least one name part"},
		{"blank_names", canasta.Person{GivenName: "  ", FamilyName: "\t"}, "At least one name part"},
		{"sex_x", canasta.Person{GivenName: "Alex", Sex: "X"}, ""},
		{"sex_undeclared", canasta.Person{GivenName: "Alex", Sex: ""}, ""},
		{"sex_lower", canasta.Person{GivenName: "Alex", Sex: "f"}, "Sex must be F, M, X or empty"},
		{"sex_word", canasta.Person{GivenName: "Alex", Sex: "female"}, "Sex must be F, M, X or empty"},
		{"given_invalid_utf8", canasta.Person{GivenName: "An\xffa"}, "given_name is not valid UTF-8"},
		{"family_invalid_utf8", canasta.Person{GivenName: "Ana", FamilyName: "\xed\xa0\x80"}, "family_name is not valid UTF-8"},
		{"given_200_bytes", canasta.Person{GivenName: strings.Repeat("a", 200)}, ""},
		{"given_201_bytes", canasta.Person{GivenName: strings.Repeat("a", 201)}, "given_name is longer than 200"},
		{"national_id_invalid_utf8", canasta.Person{GivenName: "Ana", NationalID: "12\xff"}, "national_id is not valid UTF-8"},
		{"relationship_too_long", canasta.Person{GivenName: "Ana", Relationship: strings.Repeat("r", 501)}, "relationship is longer"},
		{"bad_birth_date", canasta.Person{GivenName: "Ana", BirthDate: "26-01-01"}, "Birth date"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkInvalid(t, tt.p.Validate(), tt.wantErr)
		})
	}
}

// checkInvalid checks err is nil when wantErr is empty, and otherwise an
// EINVALID whose message contains wantErr.
func checkInvalid(t *testing.T, err error, wantErr string) {
	t.Helper()
	if wantErr == "" {
		if err != nil {
			t.Fatalf("err = %v, want nil", err)
		}
		return
	}
	if canasta.ErrorCode(err) != canasta.EINVALID {
		t.Fatalf("err = %v, want EINVALID", err)
	}
	if msg := canasta.ErrorMessage(err); !strings.Contains(msg, wantErr) {
		t.Errorf("message %q does not contain %q", msg, wantErr)
	}
}

func TestNewFacts(t *testing.T) {
	h := validHousehold()
	h.Attributes = map[string]any{"has_stove": true}
	h.Members[0].Attributes = map[string]any{"pregnant": true}
	h.Members = append(h.Members, &canasta.Person{GivenName: "Rosa", BirthDate: ""})
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

	f := canasta.NewFacts(h, day)

	if f.Size != 3 || f.MonthlyIncome != 250000 || f.Region != "Norte" {
		t.Errorf("household facts = size %d income %d region %q", f.Size, f.MonthlyIncome, f.Region)
	}
	if f.Attributes["has_stove"] != true {
		t.Errorf("household attributes = %v", f.Attributes)
	}
	tests := []struct {
		name       string
		want       canasta.MemberFacts
		wantAttr   string
		wantAttrOK bool
	}{
		{"head_full_date", canasta.MemberFacts{Age: 40, Sex: "F"}, "pregnant", true},
		{"child_year_only", canasta.MemberFacts{Age: 7, Sex: "M", Disability: true}, "", false},
		{"unknown_birth_date", canasta.MemberFacts{Age: canasta.UnknownAge}, "", false},
	}
	if len(f.Members) != len(tests) {
		t.Fatalf("len(Members) = %d, want %d", len(f.Members), len(tests))
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := f.Members[i]
			if m.Age != tt.want.Age || m.Sex != tt.want.Sex || m.Disability != tt.want.Disability {
				t.Errorf("member %d = age %d sex %q disability %v, want %+v", i, m.Age, m.Sex, m.Disability, tt.want)
			}
			if _, ok := m.Attributes[tt.wantAttr]; ok != tt.wantAttrOK {
				t.Errorf("member %d attributes = %v", i, m.Attributes)
			}
		})
	}
}

func TestNewFactsUnknownIncome(t *testing.T) {
	h := validHousehold()
	h.MonthlyIncome = canasta.UnknownIncome
	if got := canasta.NewFacts(h, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)).MonthlyIncome; got != canasta.UnknownIncome {
		t.Errorf("MonthlyIncome = %d, want UnknownIncome", got)
	}
}
