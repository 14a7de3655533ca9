package rules

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/interpreter"
	"cel.dev/cel-go/parser"
)

// Explanations are short enough to print on a receipt or show in a table.
const (
	maxExplanation         = 300
	maxEligibleExplanation = 200
	maxOperandText         = 60
	maxStringValue         = 40
)

// nodeKind is how one node of a rule is put into words.
type nodeKind int

const (
	kindLiteral nodeKind = iota // a constant: its text alone
	kindValue                   // anything read or computed: "text = value"
	kindCompare                 // "left op right → result"
	kindArith                   // "left op right = result"
	kindAnd
	kindOr
	kindNot
	kindNegate
	kindConditional
)

// explainNode is a rule's expression reduced, at compile time, to what an
// explanation shows: comparisons, arithmetic and logic down to the values
// they read. Loops and function calls are shown whole, with their result,
// since the values inside them differ per member.
type explainNode struct {
	id   int64
	slot int // index of the recorded value; -1 for literals
	kind nodeKind
	text string
	op   string
	args []*explainNode
}

var compareOps = map[string]string{
	operators.Equals: "==", operators.NotEquals: "!=",
	operators.Less: "<", operators.LessEquals: "<=",
	operators.Greater: ">", operators.GreaterEquals: ">=",
	operators.In: "in", operators.OldIn: "in",
}

var arithOps = map[string]string{
	operators.Add: "+", operators.Subtract: "-", operators.Multiply: "×",
	operators.Divide: "/", operators.Modulo: "%",
}

// newExplainPlan returns the plan of a checked expression and the number
// of values an evaluation records for it.
func newExplainPlan(a *ast.AST) (*explainNode, int) {
	root := planNode(a.Expr(), a.SourceInfo())
	slots := 0
	root.walk(func(n *explainNode) {
		n.slot = -1
		if n.kind != kindLiteral {
			n.slot = slots
			slots++
		}
	})
	return root, slots
}

func (n *explainNode) walk(fn func(*explainNode)) {
	fn(n)
	for _, a := range n.args {
		a.walk(fn)
	}
}

func planNode(e ast.Expr, info *ast.SourceInfo) *explainNode {
	n := &explainNode{id: e.ID()}
	if e.Kind() == ast.CallKind {
		call := e.AsCall()
		fn, args := call.FunctionName(), call.Args()
		if call.IsMemberFunction() {
			fn = ""
		}
		kind, op := kindLiteral, ""
		if o, ok := compareOps[fn]; ok && len(args) == 2 {
			kind, op = kindCompare, o
		} else if o, ok := arithOps[fn]; ok && len(args) == 2 {
			kind, op = kindArith, o
		} else if fn == operators.LogicalAnd {
			kind = kindAnd
		} else if fn == operators.LogicalOr {
			kind = kindOr
		} else if fn == operators.LogicalNot && len(args) == 1 {
			kind = kindNot
		} else if fn == operators.Negate && len(args) == 1 {
			kind = kindNegate
		} else if fn == operators.Conditional && len(args) == 3 {
			kind = kindConditional
		}
		if kind != kindLiteral {
			n.kind, n.op = kind, op
			for _, arg := range args {
				a := planNode(arg, info)
				if (kind == kindAnd || kind == kindOr) && a.kind == kind {
					// a && b && c parses as (a && b) && c; one list reads better.
					n.args = append(n.args, a.args...)
				} else {
					n.args = append(n.args, a)
				}
			}
			return n
		}
	}
	n.text = sourceText(e, info)
	if e.Kind() == ast.LiteralKind || !readsVariables(e) {
		n.kind = kindLiteral
	} else {
		n.kind = kindValue
	}
	return n
}

// sourceText renders e as CEL, with macros in the form they were written.
func sourceText(e ast.Expr, info *ast.SourceInfo) string {
	s, err := parser.Unparse(e, info)
	if err != nil {
		return "…"
	}
	return truncateMiddle(s, maxOperandText)
}

// truncateMiddle cuts s to at most n runes by dropping its middle, since
// both how an operand starts and how it ends (".size()") tell what it is.
func truncateMiddle(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	tail := n / 3
	return string(r[:n-tail-1]) + "…" + string(r[len(r)-tail:])
}

func readsVariables(e ast.Expr) bool {
	found := false
	ast.PostOrderVisit(e, ast.NewExprVisitor(func(e ast.Expr) {
		if e.Kind() == ast.IdentKind {
			found = true
		}
	}))
	return found
}

// explainer assembles an explanation within maxExplanation runes.
type explainer struct {
	b strings.Builder
}

// part appends prefix, the rendering of plan with the observed values, and
// suffix, cut to fit within limit runes of the whole explanation.
func (x *explainer) part(prefix string, plan *explainNode, rec *recorder, suffix string, limit int) {
	var b strings.Builder
	b.WriteString(prefix)
	render(&b, plan, rec, false)
	b.WriteString(suffix)
	room := min(limit, maxExplanation) - utf8.RuneCountInString(x.b.String())
	if room > 0 {
		x.b.WriteString(truncate(b.String(), room))
	}
}

func (x *explainer) String() string { return x.b.String() }

// render writes n with its value. nested operands of operators are
// parenthesised so the reading of "a - b × c" stays unambiguous.
func render(b *strings.Builder, n *explainNode, rec *recorder, nested bool) {
	v, seen := rec.value(n.slot)
	switch n.kind {
	case kindLiteral:
		b.WriteString(n.text)
	case kindValue:
		b.WriteString(n.text)
		if seen {
			b.WriteString(" = ")
			b.WriteString(formatValue(v))
		}
	case kindCompare, kindArith:
		open(b, nested)
		render(b, n.args[0], rec, true)
		b.WriteString(" " + n.op + " ")
		render(b, n.args[1], rec, true)
		if seen {
			if n.kind == kindCompare {
				b.WriteString(" → ")
			} else {
				b.WriteString(" = ")
			}
			b.WriteString(formatValue(v))
		}
		closeParen(b, nested)
	case kindAnd, kindOr:
		renderLogic(b, n, v, seen, rec, nested)
	case kindNot, kindNegate:
		if n.kind == kindNot {
			b.WriteString("!(")
		} else {
			b.WriteString("-(")
		}
		render(b, n.args[0], rec, false)
		b.WriteString(")")
		if seen {
			b.WriteString(" → ")
			b.WriteString(formatValue(v))
		}
	case kindConditional:
		open(b, nested)
		render(b, n.args[0], rec, true)
		b.WriteString(" ⇒ ")
		cond, _ := rec.value(n.args[0].slot)
		switch cond {
		case types.True:
			render(b, n.args[1], rec, true)
		case types.False:
			render(b, n.args[2], rec, true)
		default:
			b.WriteString("…")
		}
		closeParen(b, nested)
	}
}

// renderLogic shows only the operands that decided the outcome: for a
// false "and" the false ones, for a true "or" the true ones, otherwise all
// that were evaluated.
func renderLogic(b *strings.Builder, n *explainNode, v ref.Val, seen bool, rec *recorder, nested bool) {
	decisive := types.False
	word := " and "
	if n.kind == kindOr {
		decisive, word = types.True, " or "
	}
	var shown []*explainNode
	for _, arg := range n.args {
		if av, ok := rec.value(arg.slot); ok && (!seen || v != decisive || av == decisive) {
			shown = append(shown, arg)
		}
	}
	if len(shown) == 1 {
		render(b, shown[0], rec, nested)
		return
	}
	open(b, nested)
	for i, arg := range shown {
		if i > 0 {
			b.WriteString(word)
		}
		render(b, arg, rec, true)
	}
	closeParen(b, nested)
}

func open(b *strings.Builder, nested bool) {
	if nested {
		b.WriteString("(")
	}
}

func closeParen(b *strings.Builder, nested bool) {
	if nested {
		b.WriteString(")")
	}
}

func formatValue(v ref.Val) string {
	switch x := v.(type) {
	case types.Int:
		return strconv.FormatInt(int64(x), 10)
	case types.Bool:
		return strconv.FormatBool(bool(x))
	case types.String:
		return strconv.Quote(truncate(string(x), maxStringValue))
	case types.Double:
		return strconv.FormatFloat(float64(x), 'g', -1, 64)
	case types.Uint:
		return strconv.FormatUint(uint64(x), 10) + "u"
	case types.Null:
		return "null"
	case *types.Err:
		return "error"
	case *types.Unknown:
		return "unknown"
	case memberVal:
		return "a member"
	case householdVal:
		return "the household"
	case attributesVal:
		return "{attributes}"
	case *types.Type:
		return x.TypeName()
	case traits.Lister:
		return formatList(x)
	case traits.Mapper:
		return "{" + formatValue(x.Size()) + " entries}"
	}
	return v.Type().TypeName()
}

// formatList shows a short list of plain values whole, any other list by
// its length.
func formatList(l traits.Lister) string {
	n, _ := l.Size().(types.Int)
	if n > 0 && n <= 5 {
		parts := make([]string, 0, n)
		for i := types.Int(0); i < n; i++ {
			switch e := l.Get(i).(type) {
			case types.Int, types.Bool, types.String, types.Double, types.Uint:
				parts = append(parts, formatValue(e))
			}
		}
		if len(parts) == int(n) {
			return "[" + strings.Join(parts, ", ") + "]"
		}
	}
	if n == 1 {
		return "[1 item]"
	}
	return "[" + strconv.FormatInt(int64(n), 10) + " items]"
}

// truncate cuts s to at most n runes, marking the cut with an ellipsis.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	i, count := 0, 0
	for i = range s {
		if count == n-1 {
			break
		}
		count++
	}
	return s[:i] + "…"
}

// recorder holds the values one evaluation produced at the nodes of an
// explanation plan.
type recorder struct{ vals []ref.Val }

func newRecorder(slots int) *recorder { return &recorder{vals: make([]ref.Val, slots)} }

func (r *recorder) value(slot int) (ref.Val, bool) {
	if r == nil || slot < 0 {
		return nil, false
	}
	v := r.vals[slot]
	return v, v != nil
}

// recordDecorator wraps the interpretable of each recorded plan node so it
// stores its value in the evaluation's recorder. Unlike CEL's own state
// tracking, it records nothing inside loops and needs no map, so an
// explained evaluation costs little more than a plain one.
func recordDecorator(plan *explainNode) interpreter.InterpretableDecoratorV2 {
	slots := map[int64]int{}
	plan.walk(func(n *explainNode) {
		if n.slot >= 0 {
			slots[n.id] = n.slot
		}
	})
	return func(i interpreter.InterpretableV2) (interpreter.InterpretableV2, error) {
		if _, done := i.(*recordValue); done {
			return i, nil
		}
		if slot, ok := slots[i.ID()]; ok {
			return &recordValue{InterpretableV2: i, slot: slot}, nil
		}
		return i, nil
	}
}

type recordValue struct {
	interpreter.InterpretableV2
	slot int
}

func (r *recordValue) Exec(frame *interpreter.ExecutionFrame) ref.Val {
	v := r.InterpretableV2.Exec(frame)
	r.store(frame, v)
	return v
}

func (r *recordValue) Eval(act interpreter.Activation) ref.Val {
	v := r.InterpretableV2.Eval(act)
	r.store(act, v)
	return v
}

func (r *recordValue) store(act interpreter.Activation, v ref.Val) {
	if rec, ok := act.ResolveName(recorderName); ok {
		rec.(*recorder).vals[r.slot] = v
	}
}
