package rules

import (
	"errors"
	"fmt"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"

	"github.com/canasta/canasta"
)

// Rule is a compiled program rule. It is safe for concurrent use.
//
// Evaluate explains its outcome; EvaluateFast does not and is about three
// times cheaper, for a caller such as a cycle that needs explanations only
// for some households.
type Rule struct {
	name        string
	unit        canasta.Unit
	eligibility *compiled
	quantity    *compiled
}

var _ canasta.Rule = (*Rule)(nil)

// compiled is one expression planned three ways. Compile has bounded the
// rule's cost for any household within the registry's limits, so such
// households run without metering, which costs more than the rule itself;
// any other household runs metered, so it cannot stall a cycle either.
type compiled struct {
	fast      cel.Program // unmetered
	explained cel.Program // unmetered, recording what the explanation shows
	metered   cel.Program // recording, with the runtime cost limit
	plan      *explainNode
	slots     int
}

// Planning fails only on rules that check but cannot run, such as a
// malformed constant regular expression, so its errors are the rule's.
func newCompiled(env *cel.Env, label string, ast *cel.Ast) (*compiled, error) {
	c := &compiled{}
	c.plan, c.slots = newExplainPlan(ast.NativeRep())
	record := cel.CustomDecoratorV2(recordDecorator(c.plan))
	var err error
	if c.fast, err = env.Program(ast, cel.EvalOptions(cel.OptOptimize)); err == nil {
		if c.explained, err = env.Program(ast, record); err == nil {
			c.metered, err = env.Program(ast, record, cel.CostLimit(MaxCost))
		}
	}
	if err != nil {
		return nil, canasta.Errorf(canasta.EINVALID, "The %s rule cannot run: %v", label, err)
	}
	return c, nil
}

// Evaluate returns the grant for one household with an explanation of the
// values that produced it. A negative quantity or an evaluation error is
// EINVALID naming the program.
func (r *Rule) Evaluate(f *canasta.Facts) (canasta.Grant, error) {
	return r.evaluate(f, true)
}

// EvaluateFast is Evaluate without the explanation.
func (r *Rule) EvaluateFast(f *canasta.Facts) (canasta.Grant, error) {
	return r.evaluate(f, false)
}

func (r *Rule) evaluate(f *canasta.Facts, explain bool) (canasta.Grant, error) {
	if f == nil {
		return canasta.Grant{}, canasta.Errorf(canasta.EINVALID, "Program %q: no household to evaluate.", r.name)
	}
	bounded := withinLimits(f)
	var erec, qrec *recorder
	if explain {
		erec, qrec = newRecorder(r.eligibility.slots), newRecorder(r.quantity.slots)
	}
	ev, err := r.eligibility.eval(f, bounded, erec)
	if err != nil {
		return canasta.Grant{}, r.evalError("eligibility", err)
	}
	eligible, ok := ev.(types.Bool)
	if !ok {
		return canasta.Grant{}, r.evalError("eligibility", fmt.Errorf("gave %s, not a bool", ev.Type().TypeName()))
	}
	var g canasta.Grant
	var ex explainer
	if explain {
		ex.part("eligible: ", r.eligibility.plan, erec, "", maxEligibleExplanation)
	}
	if !eligible {
		g.Explanation = ex.String()
		return g, nil
	}
	qv, err := r.quantity.eval(f, bounded, qrec)
	if err != nil {
		return canasta.Grant{}, r.evalError("quantity", err)
	}
	q, ok := qv.(types.Int)
	if !ok {
		return canasta.Grant{}, r.evalError("quantity", fmt.Errorf("gave %s, not an int", qv.Type().TypeName()))
	}
	if q < 0 {
		return canasta.Grant{}, canasta.Errorf(canasta.EINVALID, "Program %q: the quantity rule gave %d for this household; a quantity cannot be negative.", r.name, int64(q))
	}
	g.Eligible, g.Quantity = true, int64(q)
	if explain {
		ex.part("; quantity: ", r.quantity.plan, qrec, " "+string(r.unit), maxExplanation)
		g.Explanation = ex.String()
	}
	return g, nil
}

func (r *Rule) evalError(label string, err error) error {
	return canasta.Errorf(canasta.EINVALID, "Program %q: the %s rule failed for this household: %s.", r.name, label, strings.TrimSuffix(err.Error(), "."))
}

// withinLimits reports whether f is within the sizes Compile's cost bound
// assumed. Validated households always are; the check is what lets the
// unmetered programs be trusted.
func withinLimits(f *canasta.Facts) bool {
	return len(f.Members) <= canasta.MaxMembers && len(f.Region) <= maxStringSize
}

// eval runs the program that fits: unmetered when the household is within
// the limits, recording values when rec is not nil.
func (c *compiled) eval(f *canasta.Facts, bounded bool, rec *recorder) (ref.Val, error) {
	var v ref.Val
	var err error
	switch {
	case !bounded:
		v, _, err = c.metered.Eval(recordingActivation{f: f, rec: rec})
	case rec != nil:
		v, _, err = c.explained.Eval(recordingActivation{f: f, rec: rec})
	default:
		v, _, err = c.fast.Eval(activation{f: f})
	}
	if err != nil {
		return nil, err
	}
	if types.IsError(v) {
		if e, ok := v.Value().(error); ok {
			return nil, e
		}
		return nil, errors.New("evaluation error")
	}
	return v, nil
}

// activation hands the household to the program. It is a single pointer,
// so passing it as an interface allocates nothing.
type activation struct{ f *canasta.Facts }

func (a activation) ResolveName(name string) (any, bool) {
	if name == "household" {
		return a.f, true
	}
	return nil, false
}

func (a activation) Parent() interpreter.Activation { return nil }

// recorderName is how recording nodes find this evaluation's recorder.
// It cannot be written in CEL, so no rule can read it.
const recorderName = "@explain"

// recordingActivation also carries the recorder, which may be nil.
type recordingActivation struct {
	f   *canasta.Facts
	rec *recorder
}

func (a recordingActivation) ResolveName(name string) (any, bool) {
	switch name {
	case "household":
		return a.f, true
	case recorderName:
		return a.rec, a.rec != nil
	}
	return nil, false
}

func (a recordingActivation) Parent() interpreter.Activation { return nil }
