// Package rules compiles and evaluates program rules written in CEL.
//
// A rule sees one variable, household, typed against the registry's
// declared schema:
//
//	household.size            int
//	household.monthly_income  int, -1 when unknown
//	household.region          string
//	household.attributes.X    each declared household attribute
//	household.members         list of members:
//	    m.age                 int, -1 when unknown
//	    m.sex                 string: "F", "M", "X" or "" when not declared
//	    m.disability          bool
//	    m.attributes.X        each declared person attribute
//
// Declared attribute types map to bool, int and string; dates are
// "YYYY-MM-DD" strings, which compare correctly as strings. Because every
// field is declared, a rule naming an undeclared attribute or field is
// refused when the program is created, not discovered during a cycle.
//
// A declared attribute may be absent from a household's record. Test for
// it with has(household.attributes.x) before reading it:
//
//	has(household.attributes.displaced) && household.attributes.displaced
//
// Reading an absent attribute without has() is an evaluation error for
// that household (EINVALID), never a silent zero.
//
// Rule.Evaluate explains each outcome in one line, naming the values that
// produced it:
//
//	eligible: household.monthly_income = 90000 < 150000 → true; quantity: household.size = 4 × 2000 = 8000 g
//
// Rule.EvaluateFast gives the same outcome without the explanation, at
// about a third of the cost.
//
// Compile refuses a rule whose estimated cost for the largest household the
// registry accepts exceeds MaxCost, so a rule cannot stall a cycle; the few
// households beyond those limits are evaluated under a runtime cost limit.
package rules

import (
	"fmt"
	"math"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/cost"
	"cel.dev/cel-go/common/types"

	"github.com/canasta/canasta"
)

// Limits on what one rule may cost. A household has at most
// canasta.MaxMembers members, so the cost of a rule is bounded; these keep
// a pathological rule (nested loops over members, huge string builds) from
// stalling a monthly cycle over a million households.
const (
	// MaxCost bounds a rule's cost in CEL's cost units, both as estimated
	// for the largest household at compile time and as measured at run time.
	// Estimated at most: a comparison of two fields about 10, one loop over
	// 64 members up to about 1,000, a loop inside a loop about 40,000, and
	// three nested loops millions, which is refused.
	MaxCost = 100_000
	// maxExpressionSize is in code points, matching Program.Validate's bytes.
	maxExpressionSize = 4000
	// maxNesting bounds parser recursion: rules are flat, and deep nesting
	// is only a way to exhaust the stack.
	maxNesting = 64
	// maxStringSize is the longest string a household field can hold.
	maxStringSize = 500
	// maxObjectFields bounds the fields of a household, member or attribute
	// set as the cost estimate sees them.
	maxObjectFields = 64
)

// Engine compiles program rules. The zero value is ready to use.
type Engine struct{}

var _ canasta.RuleEngine = (*Engine)(nil)

// NewEngine returns an engine.
func NewEngine() *Engine { return &Engine{} }

// Compile type-checks the program's eligibility (bool) and quantity (int)
// expressions against the schema. EINVALID names the expression and
// carries CEL's description of the problem with its line and column.
func (e *Engine) Compile(p *canasta.Program, s *canasta.Schema) (canasta.Rule, error) {
	if p == nil {
		return nil, canasta.Errorf(canasta.EINVALID, "A program is required.")
	}
	env, err := newEnv(s)
	if err != nil {
		return nil, err
	}
	elig, err := compileExpr(env, "eligibility", p.Eligibility, types.BoolType)
	if err != nil {
		return nil, err
	}
	qty, err := compileExpr(env, "quantity", p.Quantity, types.IntType)
	if err != nil {
		return nil, err
	}
	r := &Rule{name: p.Name, unit: p.Commodity.Unit}
	if r.eligibility, err = newCompiled(env, "eligibility", elig); err != nil {
		return nil, err
	}
	if r.quantity, err = newCompiled(env, "quantity", qty); err != nil {
		return nil, err
	}
	return r, nil
}

// Check compiles one expression that must give want ("bool" or "int")
// against the schema, for a syntax check while a rule is being written.
// It returns nil or the EINVALID error Compile would give.
func (e *Engine) Check(expr string, want string, s *canasta.Schema) error {
	var t *types.Type
	var label string
	switch want {
	case "bool":
		t, label = types.BoolType, "eligibility"
	case "int":
		t, label = types.IntType, "quantity"
	default:
		return canasta.Errorf(canasta.EINVALID, "A rule must give a bool or an int, not %q.", want)
	}
	env, err := newEnv(s)
	if err != nil {
		return err
	}
	_, err = compileExpr(env, label, expr, t)
	return err
}

func newEnv(s *canasta.Schema) (*cel.Env, error) {
	st, err := newSchemaTypes(s)
	if err != nil {
		return nil, err
	}
	env, err := cel.NewEnv(
		cel.CustomTypeProvider(st),
		cel.CustomTypeAdapter(st),
		cel.Variable("household", cel.ObjectType(householdTypeName)),
		cel.EnableMacroCallTracking(),
		cel.ParserExpressionSizeLimit(maxExpressionSize),
		cel.ParserRecursionLimit(maxNesting),
	)
	if err != nil {
		return nil, fmt.Errorf("new rule environment: %w", err)
	}
	return env, nil
}

// compileExpr parses and checks one expression. label names it in errors
// and in CEL's locations ("eligibility:1:22").
func compileExpr(env *cel.Env, label, expr string, want *types.Type) (*cel.Ast, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, canasta.Errorf(canasta.EINVALID, "The %s rule is empty.", label)
	}
	ast, iss := env.CompileSource(common.NewStringSource(expr, label))
	if iss.Err() != nil {
		return nil, canasta.Errorf(canasta.EINVALID, "The %s rule is not valid: %s", label, iss.String())
	}
	if id, ok := findStructLiteral(ast.NativeRep().Expr()); ok {
		loc := ast.NativeRep().SourceInfo().GetStartLocation(id)
		return nil, canasta.Errorf(canasta.EINVALID, "The %s rule is not valid: %s:%d:%d: a rule reads the household's values; it cannot create objects.",
			label, label, loc.Line(), loc.Column()+1)
	}
	if got := ast.OutputType(); !got.IsExactType(want) {
		return nil, canasta.Errorf(canasta.EINVALID, "The %s rule must give %s, but gives %s.", label, describeType(want), describeType(got))
	}
	est, err := env.EstimateCost(ast, householdSizes{})
	if err != nil {
		return nil, fmt.Errorf("estimate %s cost: %w", label, err)
	}
	if est.Max == math.MaxUint64 {
		return nil, canasta.Errorf(canasta.EINVALID,
			"The %s rule's cost cannot be bounded; the limit is %d steps. Compare plain values (numbers, strings, booleans) rather than whole members or lists.",
			label, MaxCost)
	}
	if est.Max > MaxCost {
		return nil, canasta.Errorf(canasta.EINVALID,
			"The %s rule could cost up to %d steps for a large household; the limit is %d. Avoid loops inside loops over members.",
			label, est.Max, MaxCost)
	}
	return ast, nil
}

// findStructLiteral returns the id of an object creation in e, if any.
// The checker accepts canasta.Household{...}, but such a value could only
// fail at run time, so it is refused with the other compile errors.
func findStructLiteral(e celast.Expr) (int64, bool) {
	var id int64
	found := false
	celast.PostOrderVisit(e, celast.NewExprVisitor(func(e celast.Expr) {
		if e.Kind() == celast.StructKind && !found {
			id, found = e.ID(), true
		}
	}))
	return id, found
}

func describeType(t *types.Type) string {
	switch {
	case t.IsExactType(types.BoolType):
		return "a bool (true or false)"
	case t.IsExactType(types.IntType):
		return "an int (a whole number in the commodity's base unit)"
	case t.IsExactType(types.StringType):
		return "a string"
	case t.IsExactType(types.DoubleType):
		return "a double (a fractional number)"
	case t.IsExactType(types.DynType):
		return "a value whose type is only known when it runs (dyn)"
	}
	return t.String()
}

// householdSizes bounds the sizes the cost estimate assumes: at most
// canasta.MaxMembers members and strings of at most maxStringSize bytes.
type householdSizes struct{}

func (householdSizes) EstimateSize(n cost.AstNode) *cost.SizeEstimate {
	path := n.Path()
	if len(path) == 0 {
		return nil
	}
	switch t := n.Type(); {
	case path[len(path)-1] == "members":
		return &cost.SizeEstimate{Min: 0, Max: canasta.MaxMembers}
	case t.IsExactType(types.StringType):
		return &cost.SizeEstimate{Min: 0, Max: maxStringSize}
	case t.Kind() == types.StructKind:
		// Comparing whole objects costs about their number of fields.
		return &cost.SizeEstimate{Min: 0, Max: maxObjectFields}
	}
	return nil
}

func (householdSizes) EstimateCallCost(function, overloadID string, target *cost.AstNode, args []cost.AstNode) *cost.CallEstimate {
	return nil
}
