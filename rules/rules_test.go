package rules_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"cel.dev/cel-go/cel"

	"github.com/canasta/canasta"
	"github.com/canasta/canasta/rules"
)

// testSchema declares one attribute of each type for households and for
// persons.
func testSchema() *canasta.Schema {
	attr := func(name string, t canasta.AttributeType, where canasta.AppliesTo) *canasta.Attribute {
		return &canasta.Attribute{Name: name, Type: t, AppliesTo: where, Purpose: "Targets need-based support."}
	}
	return canasta.NewSchema([]*canasta.Attribute{
		attr("displaced", canasta.AttributeBool, canasta.AppliesToHousehold),
		attr("plot_m2", canasta.AttributeInt, canasta.AppliesToHousehold),
		attr("village", canasta.AttributeString, canasta.AppliesToHousehold),
		attr("registered_on", canasta.AttributeDate, canasta.AppliesToHousehold),
		attr("pregnant", canasta.AttributeBool, canasta.AppliesToPerson),
		attr("school_grade", canasta.AttributeInt, canasta.AppliesToPerson),
		attr("school", canasta.AttributeString, canasta.AppliesToPerson),
		attr("diagnosed_on", canasta.AttributeDate, canasta.AppliesToPerson),
	})
}

// family is a household of four: two adults, a child of 3 and a member
// whose birth date is unknown.
func family() *canasta.Facts {
	return &canasta.Facts{
		Size:          4,
		MonthlyIncome: 90000,
		Region:        "north",
		Attributes:    map[string]any{"displaced": true, "plot_m2": int64(400), "village": "Alto", "registered_on": "2023-05-01"},
		Members: []canasta.MemberFacts{
			{Age: 34, Sex: "F", Attributes: map[string]any{"pregnant": true, "diagnosed_on": "2024-02-10"}},
			{Age: 36, Sex: "M", Disability: true},
			{Age: 3, Sex: "F", Attributes: map[string]any{"school_grade": int64(0)}},
			{Age: canasta.UnknownAge, Sex: "", Attributes: map[string]any{"school_grade": int64(5), "school": "Escuela 12"}},
		},
	}
}

// with returns family() changed by fn.
func with(fn func(f *canasta.Facts)) *canasta.Facts {
	f := family()
	fn(f)
	return f
}

func compile(t testing.TB, elig, qty string) canasta.Rule {
	t.Helper()
	p := &canasta.Program{Name: "Rice", Commodity: canasta.Commodity{Code: "rice", Unit: canasta.UnitGram},
		Eligibility: elig, Quantity: qty, Period: canasta.PeriodMonthly}
	r, err := rules.NewEngine().Compile(p, testSchema())
	if err != nil {
		t.Fatalf("compile %q / %q: %v", elig, qty, err)
	}
	return r
}

func TestCompileRefuses(t *testing.T) {
	tests := []struct {
		name        string
		eligibility string
		quantity    string
		want        []string // all must appear in the message
	}{
		{"UndeclaredHouseholdAttribute", `household.attributes.religion == "x"`, "1",
			[]string{"eligibility", "undefined field 'religion'", "eligibility:1:21"}},
		{"UndeclaredPersonAttribute", `household.members.exists(m, m.attributes.ethnicity == "x")`, "1",
			[]string{"eligibility", "undefined field 'ethnicity'"}},
		{"PersonAttributeOnHousehold", `household.attributes.pregnant`, "1",
			[]string{"undefined field 'pregnant'"}},
		{"HouseholdAttributeOnPerson", `household.members.exists(m, m.attributes.displaced)`, "1",
			[]string{"undefined field 'displaced'"}},
		{"UndeclaredAttributeInQuantity", "true", "household.attributes.caste_rank * 10",
			[]string{"quantity", "undefined field 'caste_rank'", "quantity:1:"}},
		{"UndeclaredHouseholdField", `household.name == "Garcia"`, "1",
			[]string{"eligibility", "undefined field 'name'"}},
		{"UndeclaredMemberField", `household.members.exists(m, m.national_id == "1")`, "1",
			[]string{"undefined field 'national_id'"}},
		{"EligibilityNotBool", "household.size", "1",
			[]string{"eligibility", "must give a bool", "gives an int"}},
		{"QuantityDouble", "true", "1.5",
			[]string{"quantity", "must give an int", "double"}},
		{"QuantityDoubleArithmetic", "true", "household.size * 1.5",
			[]string{"quantity", "no matching overload for '_*_' applied to '(int, double)'"}},
		{"QuantityString", "true", `"10 kg"`,
			[]string{"quantity", "must give an int", "a string"}},
		{"QuantityBool", "true", "household.size > 2",
			[]string{"quantity", "must give an int", "a bool"}},
		{"EligibilitySyntax", "household.size >", "1",
			[]string{"eligibility", "Syntax error", "eligibility:1:"}},
		{"QuantitySyntax", "true", "household.size * * 2",
			[]string{"quantity", "Syntax error"}},
		{"UnknownVariable", "income < 100", "1",
			[]string{"eligibility", "undeclared reference to 'income'"}},
		{"UnknownFunction", "bogus(household.size)", "1",
			[]string{"eligibility", "undeclared reference to 'bogus'"}},
		{"TypeMismatch", `household.region > 3`, "1",
			[]string{"eligibility", "no matching overload"}},
		{"EmptyEligibility", "  ", "1",
			[]string{"eligibility rule is empty"}},
		{"EmptyQuantity", "true", "",
			[]string{"quantity rule is empty"}},
		{"NestedLoopsTooCostly", "household.members.all(a, household.members.all(b, household.members.all(c, a.age <= b.age + c.age)))", "1",
			[]string{"eligibility", "could cost up to", "limit is"}},
		{"ObjectCreation", "canasta.Household{size: 3}.size > 1", "1",
			[]string{"eligibility", "cannot create objects"}},
		{"TooLong", "household.size > 0" + strings.Repeat(" && household.size > 0", 200), "1",
			[]string{"eligibility", "expression code point size exceeds limit"}},
		{"TooDeep", strings.Repeat("(", 100) + "true" + strings.Repeat(")", 100), "1",
			[]string{"eligibility", "recursion limit exceeded"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &canasta.Program{Name: "Rice", Commodity: canasta.Commodity{Code: "rice", Unit: canasta.UnitGram},
				Eligibility: tt.eligibility, Quantity: tt.quantity, Period: canasta.PeriodMonthly}
			r, err := rules.NewEngine().Compile(p, testSchema())
			if err == nil {
				t.Fatalf("compiled, want EINVALID (rule %v)", r)
			}
			if code := canasta.ErrorCode(err); code != canasta.EINVALID {
				t.Fatalf("code %s, want EINVALID: %v", code, err)
			}
			msg := canasta.ErrorMessage(err)
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q lacks %q", msg, w)
				}
			}
		})
	}
}

func TestCompileNilSchemaAndProgram(t *testing.T) {
	var e rules.Engine // the zero value is usable
	if _, err := e.Compile(nil, testSchema()); canasta.ErrorCode(err) != canasta.EINVALID {
		t.Errorf("nil program: %v, want EINVALID", err)
	}
	p := &canasta.Program{Name: "P", Eligibility: "household.size > 1", Quantity: "2", Commodity: canasta.Commodity{Unit: canasta.UnitVisit}}
	r, err := e.Compile(p, nil)
	if err != nil {
		t.Fatalf("nil schema: %v", err)
	}
	if g, err := r.Evaluate(family()); err != nil || !g.Eligible || g.Quantity != 2 {
		t.Errorf("got %+v, %v", g, err)
	}
	p.Eligibility = "household.attributes.displaced"
	if _, err := e.Compile(p, nil); canasta.ErrorCode(err) != canasta.EINVALID {
		t.Errorf("attribute with nil schema: %v, want EINVALID", err)
	}
}

func TestEvaluate(t *testing.T) {
	tests := []struct {
		name        string
		eligibility string
		quantity    string
		facts       *canasta.Facts
		eligible    bool
		qty         int64
		explain     []string // all must appear in the explanation
	}{
		{"SizeBased", "true", "household.size * 2000", family(), true, 8000,
			[]string{"eligible: true", "quantity: household.size = 4 × 2000 = 8000 g"}},
		{"IncomeBelowThreshold", "household.monthly_income >= 0 && household.monthly_income < 150000", "10000", family(), true, 10000,
			[]string{"household.monthly_income = 90000 >= 0 → true", "household.monthly_income = 90000 < 150000 → true", "quantity: 10000 g"}},
		{"IncomeAboveThreshold", "household.monthly_income >= 0 && household.monthly_income < 150000", "10000",
			with(func(f *canasta.Facts) { f.MonthlyIncome = 200000 }), false, 0,
			[]string{"eligible: household.monthly_income = 200000 < 150000 → false"}},
		{"IncomeUnknownRefused", "household.monthly_income >= 0 && household.monthly_income < 150000", "10000",
			with(func(f *canasta.Facts) { f.MonthlyIncome = canasta.UnknownIncome }), false, 0,
			[]string{"household.monthly_income = -1 >= 0 → false"}},
		{"IncomeUnknownAdmitted", "household.monthly_income == -1 || household.monthly_income < 150000", "5000",
			with(func(f *canasta.Facts) { f.MonthlyIncome = canasta.UnknownIncome }), true, 5000,
			[]string{"household.monthly_income = -1 == -1 → true"}},
		{"UnderFivesSkipUnknownAge", "household.members.exists(m, m.age >= 0 && m.age < 5)",
			"household.members.filter(m, m.age >= 0 && m.age < 5).size() * 500", family(), true, 500,
			[]string{"household.members.exists(m, m.age >= 0 && m.age < 5) = true", "household.members.filter(m, m.age >= 0 && m.age < 5).size() = 1 × 500 = 500 g"}},
		{"UnknownAgeCounted", "household.members.exists(m, m.age == -1)", "household.members.filter(m, m.age < 0).size()", family(), true, 1,
			[]string{"= 1 g"}},
		{"NoElderly", "household.members.exists(m, m.age >= 65)", "1", family(), false, 0,
			[]string{"household.members.exists(m, m.age >= 65) = false"}},
		{"AllAdultsKnownAge", "household.members.all(m, m.age >= 18)", "1",
			with(func(f *canasta.Facts) { f.Members = f.Members[:2] }), true, 1, nil},
		{"SexAndDisability", `household.members.exists(m, m.disability) && household.members.filter(m, m.sex == "F").size() >= 2`, "3", family(), true, 3,
			[]string{`household.members.filter(m, m.sex == "F").size() = 2 >= 2 → true`}},
		{"RegionIn", `household.region in ["north", "east"]`, "1", family(), true, 1,
			[]string{`household.region = "north" in ["north", "east"] → true`}},
		{"RegionOut", `household.region in ["south"]`, "1", with(func(f *canasta.Facts) { f.Region = "west" }), false, 0,
			[]string{`household.region = "west"`, "→ false"}},
		{"HouseholdBoolAttribute", "has(household.attributes.displaced) && household.attributes.displaced", "20000", family(), true, 20000,
			[]string{"has(household.attributes.displaced) = true", "household.attributes.displaced = true"}},
		{"HouseholdBoolAttributeAbsent", "has(household.attributes.displaced) && household.attributes.displaced", "20000",
			with(func(f *canasta.Facts) { delete(f.Attributes, "displaced") }), false, 0,
			[]string{"eligible: has(household.attributes.displaced) = false"}},
		{"HouseholdIntAttribute", "household.attributes.plot_m2 < 1000", "household.attributes.plot_m2 * 2", family(), true, 800,
			[]string{"household.attributes.plot_m2 = 400 < 1000 → true", "household.attributes.plot_m2 = 400 × 2 = 800 g"}},
		{"HouseholdIntAttributeFromJSON", "household.attributes.plot_m2 < 1000", "household.attributes.plot_m2",
			with(func(f *canasta.Facts) { f.Attributes["plot_m2"] = float64(250) }), true, 250, nil},
		{"HouseholdStringAttribute", `household.attributes.village == "Alto"`, "1", family(), true, 1,
			[]string{`household.attributes.village = "Alto" == "Alto" → true`}},
		{"HouseholdDateAttribute", `household.attributes.registered_on < "2024-01-01"`, "1", family(), true, 1,
			[]string{`household.attributes.registered_on = "2023-05-01" < "2024-01-01" → true`}},
		{"PersonBoolAttribute", "household.members.exists(m, has(m.attributes.pregnant) && m.attributes.pregnant)", "6000", family(), true, 6000, nil},
		{"PersonIntAttribute", "true", "household.members.filter(m, has(m.attributes.school_grade) && m.attributes.school_grade <= 6).size() * 1000",
			family(), true, 2000, []string{"household.members.filter(m, has(", "…", ".size() = 2 × 1000 = 2000 g"}},
		{"PersonStringAttribute", `household.members.exists(m, has(m.attributes.school) && m.attributes.school.startsWith("Escuela"))`, "1",
			family(), true, 1, nil},
		{"PersonDateAttribute", `household.members.exists(m, has(m.attributes.diagnosed_on) && m.attributes.diagnosed_on >= "2024-01-01")`, "1",
			family(), true, 1, nil},
		{"FirstMember", "household.members[0].age >= 18", "household.members[2].age", family(), true, 3,
			[]string{"household.members[0].age = 34 >= 18 → true", "household.members[2].age = 3 g"}},
		{"Conditional", "true", "household.size > 3 ? 3000 : household.size * 500", family(), true, 3000,
			[]string{"(household.size = 4 > 3 → true) ⇒ 3000 g"}},
		{"ConditionalOtherBranch", "true", "household.size > 3 ? 3000 : household.size * 500",
			with(func(f *canasta.Facts) { f.Size = 2 }), true, 1000,
			[]string{"(household.size = 2 > 3 → false) ⇒ (household.size = 2 × 500 = 1000) g"}},
		{"NestedArithmetic", "true", "(household.size - 1) * 1000 + 500", family(), true, 3500,
			[]string{"((household.size = 4 - 1 = 3) × 1000 = 3000) + 500 = 3500 g"}},
		{"Negation", "!household.members.exists(m, m.age >= 65)", "1", family(), true, 1,
			[]string{"!(household.members.exists(m, m.age >= 65) = false) → true"}},
		{"OrShowsDecidingOperand", "household.size > 10 || household.monthly_income < 100000", "1", family(), true, 1,
			[]string{"eligible: household.monthly_income = 90000 < 100000 → true;"}},
		{"ZeroQuantity", "true", "0", family(), true, 0, []string{"quantity: 0 g"}},
		{"QuantityNotEvaluatedWhenIneligible", "false", "household.attributes.plot_m2 / 0",
			family(), false, 0, []string{"eligible: false"}},
		{"DynamicField", "dyn(household).size > 1", "1", family(), true, 1, nil},
		{"EmptyHousehold", "household.members.all(m, m.age >= 18)", "household.size",
			&canasta.Facts{MonthlyIncome: canasta.UnknownIncome}, true, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := compile(t, tt.eligibility, tt.quantity)
			g, err := r.Evaluate(tt.facts)
			if err != nil {
				t.Fatalf("evaluate: %v", err)
			}
			if g.Eligible != tt.eligible || g.Quantity != tt.qty {
				t.Errorf("got eligible=%v quantity=%d, want %v %d (%s)", g.Eligible, g.Quantity, tt.eligible, tt.qty, g.Explanation)
			}
			for _, w := range tt.explain {
				if !strings.Contains(g.Explanation, w) {
					t.Errorf("explanation %q lacks %q", g.Explanation, w)
				}
			}
			if !g.Eligible && strings.Contains(g.Explanation, "quantity:") {
				t.Errorf("ineligible explanation %q speaks of a quantity", g.Explanation)
			}
			fast, err := r.(*rules.Rule).EvaluateFast(tt.facts)
			if err != nil {
				t.Fatalf("evaluate fast: %v", err)
			}
			if fast.Eligible != g.Eligible || fast.Quantity != g.Quantity || fast.Explanation != "" {
				t.Errorf("fast %+v differs from %+v", fast, g)
			}
		})
	}
}

func TestEvaluateErrors(t *testing.T) {
	tests := []struct {
		name        string
		eligibility string
		quantity    string
		facts       *canasta.Facts
		want        []string
	}{
		{"NegativeQuantity", "true", "household.size - 10", family(),
			[]string{`Program "Rice"`, "quantity", "-6", "cannot be negative"}},
		{"AbsentHouseholdAttribute", "household.attributes.displaced", "1",
			with(func(f *canasta.Facts) { delete(f.Attributes, "displaced") }),
			[]string{`Program "Rice"`, "eligibility", "has(household.attributes.displaced)"}},
		{"AbsentPersonAttribute", "household.members.exists(m, m.attributes.pregnant)", "1",
			with(func(f *canasta.Facts) { f.Members[0].Attributes = nil }),
			[]string{"eligibility", "has(m.attributes.pregnant)"}},
		{"AttributeOfWrongStoredType", "household.attributes.plot_m2 > 0", "1",
			with(func(f *canasta.Facts) { f.Attributes["plot_m2"] = "big" }),
			[]string{"eligibility", "plot_m2 does not hold a int"}},
		{"DivisionByZero", "true", "1000 / (household.size - 4)", family(),
			[]string{"quantity", "division by zero"}},
		{"Overflow", "true", "9223372036854775807 + household.size", family(),
			[]string{"quantity", "overflow"}},
		{"IndexOutOfRange", "household.members[7].age > 3", "1", family(),
			[]string{"eligibility", "index out of bounds"}},
		{"NoFacts", "true", "1", nil,
			[]string{`Program "Rice"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := compile(t, tt.eligibility, tt.quantity).(*rules.Rule)
			for _, eval := range []func(*canasta.Facts) (canasta.Grant, error){r.Evaluate, r.EvaluateFast} {
				g, err := eval(tt.facts)
				if err == nil {
					t.Fatalf("got %+v, want an error", g)
				}
				if code := canasta.ErrorCode(err); code != canasta.EINVALID {
					t.Fatalf("code %s, want EINVALID: %v", code, err)
				}
				for _, w := range tt.want {
					if msg := canasta.ErrorMessage(err); !strings.Contains(msg, w) {
						t.Errorf("message %q lacks %q", msg, w)
					}
				}
			}
		})
	}
}

// TestOversizedHouseholdIsMetered feeds households beyond the registry's
// limits, which Compile's cost bound does not cover: they run under the
// runtime cost limit instead.
func TestOversizedHouseholdIsMetered(t *testing.T) {
	crowd := func(n int) *canasta.Facts {
		f := family()
		f.Members = make([]canasta.MemberFacts, n)
		for i := range f.Members {
			f.Members[i] = canasta.MemberFacts{Age: int64(i % 90)}
		}
		f.Size = int64(n)
		return f
	}
	tests := []struct {
		name        string
		eligibility string
		facts       *canasta.Facts
		wantErr     string
	}{
		{"PairLoopWithinLimits", "household.members.all(a, household.members.all(b, a.age <= b.age + 100))", crowd(canasta.MaxMembers), ""},
		{"PairLoopOverLimits", "household.members.all(a, household.members.all(b, a.age <= b.age + 100))", crowd(2000), "cost limit exceeded"},
		{"SimpleRuleOverLimits", "household.members.exists(m, m.age >= 65)", crowd(2000), ""},
		{"LongRegion", `household.region != ""`, with(func(f *canasta.Facts) { f.Region = strings.Repeat("n", 1000) }), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := compile(t, tt.eligibility, "household.size").(*rules.Rule)
			for _, eval := range []func(*canasta.Facts) (canasta.Grant, error){r.Evaluate, r.EvaluateFast} {
				g, err := eval(tt.facts)
				if tt.wantErr == "" {
					if err != nil || !g.Eligible || g.Quantity != tt.facts.Size {
						t.Fatalf("got %+v, %v; want eligible with %d", g, err, tt.facts.Size)
					}
					continue
				}
				if canasta.ErrorCode(err) != canasta.EINVALID || !strings.Contains(canasta.ErrorMessage(err), tt.wantErr) {
					t.Fatalf("got %+v, %v; want EINVALID with %q", g, err, tt.wantErr)
				}
			}
		})
	}
}

func TestExplanationShortAndDeterministic(t *testing.T) {
	var conds []string
	for i := range 40 {
		conds = append(conds, fmt.Sprintf("household.monthly_income < %d", 100000+i))
	}
	r := compile(t, strings.Join(conds, " && "), strings.Join(conds[:1], "")+" ? household.size * 1000 : 0")
	g, err := r.Evaluate(family())
	if err != nil {
		t.Fatal(err)
	}
	if n := utf8.RuneCountInString(g.Explanation); n > 300 {
		t.Errorf("explanation has %d runes, want at most 300: %q", n, g.Explanation)
	}
	if !strings.Contains(g.Explanation, "quantity: ") || !strings.HasSuffix(g.Explanation, "…") {
		t.Errorf("explanation %q should keep room for the quantity and mark the cut", g.Explanation)
	}
	for range 5 {
		again, _ := r.Evaluate(family())
		if again.Explanation != g.Explanation {
			t.Fatalf("explanation changed: %q then %q", g.Explanation, again.Explanation)
		}
	}
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name string
		expr string
		want string
		ok   bool
		msg  string
	}{
		{"Bool", "household.monthly_income < 150000", "bool", true, ""},
		{"Int", "household.members.filter(m, m.age < 5).size() * 500", "int", true, ""},
		{"WrongResult", "household.size", "bool", false, "must give a bool"},
		{"UndeclaredAttribute", "household.attributes.religion", "bool", false, "undefined field 'religion'"},
		{"Syntax", "household.size *", "int", false, "Syntax error"},
		{"BadWant", "true", "string", false, "bool or an int"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := rules.NewEngine().Check(tt.expr, tt.want, testSchema())
			if tt.ok {
				if err != nil {
					t.Fatalf("check: %v", err)
				}
				return
			}
			if canasta.ErrorCode(err) != canasta.EINVALID || !strings.Contains(canasta.ErrorMessage(err), tt.msg) {
				t.Fatalf("got %v, want EINVALID with %q", err, tt.msg)
			}
		})
	}
}

// TestConcurrentEvaluate shares one rule between goroutines; run with -race.
func TestConcurrentEvaluate(t *testing.T) {
	r := compile(t, "household.monthly_income >= 0 && household.monthly_income < 150000",
		"household.members.filter(m, m.age >= 0 && m.age < 5).size() * 500 + household.size * 1000")
	households := make([]*canasta.Facts, 50)
	want := make([]canasta.Grant, len(households))
	for i := range households {
		households[i] = with(func(f *canasta.Facts) {
			f.MonthlyIncome = int64(i) * 5000
			f.Members[2].Age = int64(i % 8)
		})
		g, err := r.Evaluate(households[i])
		if err != nil {
			t.Fatal(err)
		}
		want[i] = g
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range 200 {
				i := (n + w) % len(households)
				g, err := r.Evaluate(households[i])
				if err == nil && g != want[i] {
					err = fmt.Errorf("household %d: got %+v, want %+v", i, g, want[i])
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

const (
	benchEligibility = "household.monthly_income >= 0 && household.monthly_income < 150000"
	benchQuantity    = "household.size * 2000 + household.members.filter(m, m.age >= 0 && m.age < 5).size() * 500"
)

// BenchmarkEvaluate is the cycle's path: a typical rule on a household of
// four, without explanation.
func BenchmarkEvaluate(b *testing.B) {
	r := compile(b, benchEligibility, benchQuantity).(*rules.Rule)
	f := family()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.EvaluateFast(f); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEvaluateExplain is the same rule with its explanation.
func BenchmarkEvaluateExplain(b *testing.B) {
	r := compile(b, benchEligibility, benchQuantity)
	f := family()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Evaluate(f); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompile(b *testing.B) {
	p := &canasta.Program{Name: "Rice", Commodity: canasta.Commodity{Code: "rice", Unit: canasta.UnitGram},
		Eligibility: benchEligibility, Quantity: benchQuantity, Period: canasta.PeriodMonthly}
	s := testSchema()
	e := rules.NewEngine()
	for b.Loop() {
		if _, err := e.Compile(p, s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEvaluateMapInput measures the alternative this package does not
// take: the household declared as a map and converted to maps for every
// evaluation. It loses compile-time field checks and, as measured against
// BenchmarkEvaluate, is slower.
func BenchmarkEvaluateMapInput(b *testing.B) {
	env, err := cel.NewEnv(cel.Variable("household", cel.MapType(cel.StringType, cel.DynType)))
	if err != nil {
		b.Fatal(err)
	}
	var prgs []cel.Program
	for _, expr := range []string{benchEligibility, benchQuantity} {
		ast, iss := env.Compile(expr)
		if iss.Err() != nil {
			b.Fatal(iss.Err())
		}
		prg, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize))
		if err != nil {
			b.Fatal(err)
		}
		prgs = append(prgs, prg)
	}
	f := family()
	b.ReportAllocs()
	for b.Loop() {
		members := make([]any, len(f.Members))
		for i, m := range f.Members {
			members[i] = map[string]any{"age": m.Age, "sex": m.Sex, "disability": m.Disability, "attributes": m.Attributes}
		}
		vars := map[string]any{"household": map[string]any{"size": f.Size, "monthly_income": f.MonthlyIncome,
			"region": f.Region, "attributes": f.Attributes, "members": members}}
		for _, prg := range prgs {
			if _, _, err := prg.Eval(vars); err != nil {
				b.Fatal(err)
			}
		}
	}
}
