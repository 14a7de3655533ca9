package rules

import (
	"errors"
	"fmt"
	"reflect"
	"slices"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"

	"github.com/canasta/canasta"
)

// Names of the object types a rule sees. Declaring them as objects, rather
// than as maps, is what makes a misspelt or undeclared field a compile-time
// error instead of a failure on some household during a cycle.
const (
	householdTypeName           = "canasta.Household"
	memberTypeName              = "canasta.Member"
	householdAttributesTypeName = "canasta.HouseholdAttributes"
	personAttributesTypeName    = "canasta.PersonAttributes"
)

var (
	householdType           = types.NewObjectType(householdTypeName)
	memberType              = types.NewObjectType(memberTypeName)
	householdAttributesType = types.NewObjectType(householdAttributesTypeName)
	personAttributesType    = types.NewObjectType(personAttributesTypeName)
	memberListType          = types.NewListType(memberType)
)

// objectType describes one object type: its fields, each with a getter that
// reads straight from the Go value handed to the rule, so evaluation needs
// no per-household conversion into maps.
type objectType struct {
	typ    *types.Type
	names  []string
	fields map[string]*types.FieldType
}

func (o *objectType) add(name string, t *types.Type, isSet ref.FieldTester, get ref.FieldGetter) {
	o.names = append(o.names, name)
	o.fields[name] = &types.FieldType{Type: t, IsSet: isSet, GetFrom: get}
}

// schemaTypes is the type provider and adapter for one schema: the four
// object types above, with the attribute types built from the declared
// attributes, and CEL's standard types for everything else.
type schemaTypes struct {
	*types.Registry
	objects map[string]*objectType
}

func newSchemaTypes(s *canasta.Schema) (*schemaTypes, error) {
	reg, err := types.NewRegistry()
	if err != nil {
		return nil, fmt.Errorf("new type registry: %w", err)
	}
	var hhAttrs, personAttrs map[string]*canasta.Attribute
	if s != nil {
		hhAttrs, personAttrs = s.Household, s.Person
	}
	st := &schemaTypes{Registry: reg, objects: map[string]*objectType{
		householdTypeName:           householdObject,
		memberTypeName:              memberObject,
		householdAttributesTypeName: attributesObject(householdAttributesType, hhAttrs, "household.attributes", "this household"),
		personAttributesTypeName:    attributesObject(personAttributesType, personAttrs, "m.attributes", "a member"),
	}}
	return st, nil
}

func always(any) bool { return true }

// The household and member types are the same for every schema; only
// their attributes differ.
var (
	householdObject = newHouseholdObject()
	memberObject    = newMemberObject()
)

func newHouseholdObject() *objectType {
	o := &objectType{typ: householdType, fields: map[string]*types.FieldType{}}
	o.add("size", types.IntType, always, func(v any) (any, error) {
		f, err := asFacts(v)
		if err != nil {
			return nil, err
		}
		return types.Int(f.Size), nil
	})
	o.add("monthly_income", types.IntType, always, func(v any) (any, error) {
		f, err := asFacts(v)
		if err != nil {
			return nil, err
		}
		return types.Int(f.MonthlyIncome), nil
	})
	o.add("region", types.StringType, always, func(v any) (any, error) {
		f, err := asFacts(v)
		if err != nil {
			return nil, err
		}
		return types.String(f.Region), nil
	})
	o.add("attributes", householdAttributesType, always, func(v any) (any, error) {
		f, err := asFacts(v)
		if err != nil {
			return nil, err
		}
		return attributesVal{m: f.Attributes, t: householdAttributesType}, nil
	})
	o.add("members", memberListType, always, func(v any) (any, error) {
		f, err := asFacts(v)
		if err != nil {
			return nil, err
		}
		return &memberList{ms: f.Members}, nil
	})
	return o
}

func newMemberObject() *objectType {
	o := &objectType{typ: memberType, fields: map[string]*types.FieldType{}}
	o.add("age", types.IntType, always, func(v any) (any, error) {
		m, err := asMember(v)
		if err != nil {
			return nil, err
		}
		return types.Int(m.Age), nil
	})
	o.add("sex", types.StringType, always, func(v any) (any, error) {
		m, err := asMember(v)
		if err != nil {
			return nil, err
		}
		return types.String(m.Sex), nil
	})
	o.add("disability", types.BoolType, always, func(v any) (any, error) {
		m, err := asMember(v)
		if err != nil {
			return nil, err
		}
		return types.Bool(m.Disability), nil
	})
	o.add("attributes", personAttributesType, always, func(v any) (any, error) {
		m, err := asMember(v)
		if err != nil {
			return nil, err
		}
		return attributesVal{m: m.Attributes, t: personAttributesType}, nil
	})
	return o
}

// attributesObject declares one field per declared attribute. A declared
// attribute may still be absent from a household's record: has() tests for
// it, and selecting an absent one is an evaluation error, never a silent
// zero that would grant or refuse on data nobody recorded.
//
// path and whose say where the attribute lives, for the error message.
func attributesObject(t *types.Type, attrs map[string]*canasta.Attribute, path, whose string) *objectType {
	o := &objectType{typ: t, fields: map[string]*types.FieldType{}}
	names := make([]string, 0, len(attrs))
	for name := range attrs {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		a := attrs[name]
		isSet := func(v any) bool {
			_, ok := asAttributes(v)[name]
			return ok
		}
		o.add(name, attributeCELType(a.Type), isSet, attributeGetter(a, path, whose))
	}
	return o
}

func attributeCELType(t canasta.AttributeType) *types.Type {
	switch t {
	case canasta.AttributeBool:
		return types.BoolType
	case canasta.AttributeInt:
		return types.IntType
	default: // string and date: dates are "YYYY-MM-DD" strings in rules
		return types.StringType
	}
}

// attributeGetter reads one attribute. Values validated by the schema are
// already bool, int64 or string; anything else, as from a store that kept
// JSON numbers as float64, goes through the declaration's own normalisation.
func attributeGetter(a *canasta.Attribute, path, whose string) ref.FieldGetter {
	name := a.Name
	return func(v any) (any, error) {
		raw, ok := asAttributes(v)[name]
		if !ok {
			return nil, fmt.Errorf("attribute %s is not recorded for %s; test it with has(%s.%s) first", name, whose, path, name)
		}
		switch x := raw.(type) {
		case bool:
			if a.Type == canasta.AttributeBool {
				return types.Bool(x), nil
			}
		case int64:
			if a.Type == canasta.AttributeInt {
				return types.Int(x), nil
			}
		case string:
			if a.Type == canasta.AttributeString || a.Type == canasta.AttributeDate {
				return types.String(x), nil
			}
		}
		n, err := a.Normalize(raw)
		if err != nil {
			return nil, fmt.Errorf("attribute %s does not hold a %s", name, a.Type)
		}
		return types.DefaultTypeAdapter.NativeToValue(n), nil
	}
}

var errNotObject = errors.New("field selection on a value of the wrong type")

func asFacts(v any) (*canasta.Facts, error) {
	switch x := v.(type) {
	case *canasta.Facts:
		return x, nil
	case householdVal:
		return x.f, nil
	}
	return nil, errNotObject
}

func asMember(v any) (*canasta.MemberFacts, error) {
	switch x := v.(type) {
	case *canasta.MemberFacts:
		return x, nil
	case memberVal:
		return x.m, nil
	}
	return nil, errNotObject
}

func asAttributes(v any) map[string]any {
	switch x := v.(type) {
	case map[string]any:
		return x
	case attributesVal:
		return x.m
	}
	return nil
}

// FindIdent implements types.Provider, so the object types can be named
// in a rule, as in type(household) == canasta.Household.
func (st *schemaTypes) FindIdent(name string) (ref.Val, bool) {
	if o, ok := st.objects[name]; ok {
		return o.typ, true
	}
	return st.Registry.FindIdent(name)
}

// FindStructType implements types.Provider.
func (st *schemaTypes) FindStructType(name string) (*types.Type, bool) {
	if o, ok := st.objects[name]; ok {
		return types.NewTypeTypeWithParam(o.typ), true
	}
	return st.Registry.FindStructType(name)
}

// FindStructFieldNames implements types.Provider.
func (st *schemaTypes) FindStructFieldNames(name string) ([]string, bool) {
	if o, ok := st.objects[name]; ok {
		return slices.Clone(o.names), true
	}
	return st.Registry.FindStructFieldNames(name)
}

// FindStructFieldType implements types.Provider.
func (st *schemaTypes) FindStructFieldType(name, field string) (*types.FieldType, bool) {
	if o, ok := st.objects[name]; ok {
		ft, ok := o.fields[field]
		return ft, ok
	}
	return st.Registry.FindStructFieldType(name, field)
}

// NewValue implements types.Provider. Rules read households; they do not
// build them.
func (st *schemaTypes) NewValue(name string, fields map[string]ref.Val) ref.Val {
	if _, ok := st.objects[name]; ok {
		return types.NewErr("%s values cannot be created in a rule", name)
	}
	return st.Registry.NewValue(name, fields)
}

// NativeToValue implements types.Adapter for the Go values behind the
// object types, so they can flow through lists, comparisons and results.
func (st *schemaTypes) NativeToValue(v any) ref.Val {
	switch x := v.(type) {
	case *canasta.Facts:
		return householdVal{f: x}
	case *canasta.MemberFacts:
		return memberVal{m: x}
	}
	return st.Registry.NativeToValue(v)
}

// householdVal is the household as a CEL value. Its fields are read by the
// getters above; the value itself only needs identity.
type householdVal struct{ f *canasta.Facts }

func (v householdVal) ConvertToNative(t reflect.Type) (any, error) { return convertToNative(v.f, t) }
func (v householdVal) ConvertToType(t ref.Type) ref.Val            { return convertToType(v, t) }
func (v householdVal) Type() ref.Type                              { return householdType }
func (v householdVal) Value() any                                  { return v.f }
func (v householdVal) Equal(other ref.Val) ref.Val {
	o, ok := other.(householdVal)
	return types.Bool(ok && o.f == v.f)
}

// Get implements traits.Indexer, for a field read where the type is only
// known at run time, as in dyn(household).size.
func (v householdVal) Get(field ref.Val) ref.Val { return getField(householdObject, v.f, field) }

// memberVal is one member as a CEL value. It is a single pointer, so
// iterating over members allocates nothing per member.
type memberVal struct{ m *canasta.MemberFacts }

func (v memberVal) ConvertToNative(t reflect.Type) (any, error) { return convertToNative(v.m, t) }
func (v memberVal) ConvertToType(t ref.Type) ref.Val            { return convertToType(v, t) }
func (v memberVal) Type() ref.Type                              { return memberType }
func (v memberVal) Value() any                                  { return v.m }
func (v memberVal) Equal(other ref.Val) ref.Val {
	o, ok := other.(memberVal)
	if !ok {
		return types.False
	}
	a, b := v.m, o.m
	return types.Bool(a == b || (a.Age == b.Age && a.Sex == b.Sex && a.Disability == b.Disability &&
		reflect.DeepEqual(a.Attributes, b.Attributes)))
}

// Get implements traits.Indexer, as householdVal.Get does.
func (v memberVal) Get(field ref.Val) ref.Val { return getField(memberObject, v.m, field) }

func getField(o *objectType, v any, field ref.Val) ref.Val {
	name, ok := field.(types.String)
	if !ok {
		return types.MaybeNoSuchOverloadErr(field)
	}
	ft, ok := o.fields[string(name)]
	if !ok {
		return types.NewErr("no such field: %s", string(name))
	}
	got, err := ft.GetFrom(v)
	if err != nil {
		return types.WrapErr(err)
	}
	return got.(ref.Val)
}

// attributesVal is a household's or member's attributes as a CEL value.
type attributesVal struct {
	m map[string]any
	t *types.Type
}

func (v attributesVal) ConvertToNative(t reflect.Type) (any, error) { return convertToNative(v.m, t) }
func (v attributesVal) ConvertToType(t ref.Type) ref.Val            { return convertToType(v, t) }
func (v attributesVal) Type() ref.Type                              { return v.t }
func (v attributesVal) Value() any                                  { return v.m }
func (v attributesVal) Equal(other ref.Val) ref.Val {
	o, ok := other.(attributesVal)
	return types.Bool(ok && o.t == v.t && reflect.DeepEqual(o.m, v.m))
}

// Get implements traits.Indexer, for attributes read as dyn. The schema's
// typed getters are not at hand here, so values are adapted as stored.
func (v attributesVal) Get(key ref.Val) ref.Val {
	name, ok := key.(types.String)
	if !ok {
		return types.MaybeNoSuchOverloadErr(key)
	}
	raw, ok := v.m[string(name)]
	if !ok {
		return types.NewErr("attribute %s is not recorded", string(name))
	}
	return types.DefaultTypeAdapter.NativeToValue(raw)
}

// IsSet implements traits.FieldTester, so has() works on dyn attributes.
func (v attributesVal) IsSet(key ref.Val) ref.Val {
	name, ok := key.(types.String)
	if !ok {
		return types.MaybeNoSuchOverloadErr(key)
	}
	_, ok = v.m[string(name)]
	return types.Bool(ok)
}

func convertToNative(v any, t reflect.Type) (any, error) {
	if reflect.TypeOf(v).AssignableTo(t) {
		return v, nil
	}
	return nil, fmt.Errorf("type conversion error from %T to %v", v, t)
}

func convertToType(v ref.Val, t ref.Type) ref.Val {
	switch t {
	case v.Type():
		return v
	case types.TypeType:
		return v.Type().(ref.Val)
	}
	return types.NewErr("type conversion error from %s to %s", v.Type().TypeName(), t.TypeName())
}

// memberList is a household's members as a CEL list, read in place.
type memberList struct{ ms []canasta.MemberFacts }

var _ traits.Lister = (*memberList)(nil)
var _ traits.Foldable = (*memberList)(nil)

func (l *memberList) ConvertToNative(t reflect.Type) (any, error) { return convertToNative(l.ms, t) }
func (l *memberList) ConvertToType(t ref.Type) ref.Val            { return convertToType(l, t) }
func (l *memberList) Type() ref.Type                              { return types.ListType }
func (l *memberList) Value() any                                  { return l.ms }
func (l *memberList) Size() ref.Val                               { return types.Int(len(l.ms)) }

func (l *memberList) Get(index ref.Val) ref.Val {
	i, ok := index.(types.Int)
	if !ok {
		return types.ValOrErr(index, "unsupported index type '%s' in list", index.Type())
	}
	if i < 0 || int64(i) >= int64(len(l.ms)) {
		return types.NewErr("index '%d' out of range in list size '%d'", i, len(l.ms))
	}
	return memberVal{m: &l.ms[i]}
}

func (l *memberList) Contains(elem ref.Val) ref.Val {
	for i := range l.ms {
		if (memberVal{m: &l.ms[i]}).Equal(elem) == types.True {
			return types.True
		}
	}
	return types.False
}

func (l *memberList) Equal(other ref.Val) ref.Val {
	o, ok := other.(traits.Lister)
	if !ok || o.Size() != l.Size() {
		return types.False
	}
	for i := range l.ms {
		if (memberVal{m: &l.ms[i]}).Equal(o.Get(types.Int(i))) != types.True {
			return types.False
		}
	}
	return types.True
}

func (l *memberList) Add(other ref.Val) ref.Val {
	o, ok := other.(traits.Lister)
	if !ok {
		return types.MaybeNoSuchOverloadErr(other)
	}
	return l.values().Add(o)
}

func (l *memberList) values() traits.Lister {
	vals := make([]ref.Val, len(l.ms))
	for i := range l.ms {
		vals[i] = memberVal{m: &l.ms[i]}
	}
	return types.NewRefValList(types.DefaultTypeAdapter, vals)
}

func (l *memberList) Iterator() traits.Iterator { return l.values().Iterator() }

// Fold implements traits.Foldable: comprehensions over members take this
// path, which hands out pointers into the slice without copying.
func (l *memberList) Fold(f traits.Folder) {
	for i := range l.ms {
		if !f.FoldEntry(types.Int(i), memberVal{m: &l.ms[i]}) {
			return
		}
	}
}
