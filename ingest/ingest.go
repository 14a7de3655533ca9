// Package ingest reads registry files into households. It checks every row
// on its own: a valid row is kept, an invalid one is set aside with its line
// number and the reason, so one bad row never keeps a family out and never
// stops an import.
package ingest

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/canasta/canasta"
)

// Columns are the standard columns of a registry CSV file. A file may hold
// them in any order and may leave out any but source_id; other columns must
// be declared attributes.
var Columns = []string{"source_id", "household_ref", "relationship", "given_name", "family_name",
	"birth_date", "sex", "national_id", "address", "locality", "region", "postcode",
	"monthly_income", "disability"}

// RejectHeader is the header of a rejects file.
var RejectHeader = []string{"line", "source_id", "reason"}

// Reject is a row that was not imported, and why.
type Reject struct {
	Line     int
	SourceID string
	Reason   string
}

// Result is what a file holds once read.
type Result struct {
	Households []*canasta.Household // in order of first appearance
	Rows       int                  // data rows read
	Persons    int                  // rows kept
	Rejects    []Reject
}

// row is one accepted line, before its household is assembled.
type row struct {
	line   int
	person *canasta.Person
	ref    string
	// household fields, used from the head row (else the first row)
	address canasta.Address
	income  int64
	hattrs  map[string]any
}

// ReadCSV reads a registry CSV file. The header is required. The schema
// gives the declared attributes allowed as extra columns. A returned error
// means the file as a whole is unusable (no header, no source_id column,
// broken CSV); row problems are Rejects.
func ReadCSV(r io.Reader, schema *canasta.Schema) (*Result, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, canasta.Errorf(canasta.EINVALID, "The file is empty: a header line is required.")
	} else if err != nil {
		return nil, canasta.Errorf(canasta.EINVALID, "Cannot read the header: %v", err)
	}
	cols, err := newLayout(header, schema)
	if err != nil {
		return nil, err
	}
	cr.FieldsPerRecord = len(header)

	res := &Result{}
	groups := map[string][]*row{}
	var order []string
	seen := map[string]int{} // source id → line
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) && errors.Is(pe.Err, csv.ErrFieldCount) {
				line, _ := cr.FieldPos(0)
				res.Rows++
				res.Rejects = append(res.Rejects, Reject{Line: line, Reason: fmt.Sprintf("expected %d fields, got %d", len(header), len(rec))})
				continue
			}
			return nil, canasta.Errorf(canasta.EINVALID, "The file is not valid CSV: %v", err)
		}
		line, _ := cr.FieldPos(0)
		res.Rows++
		rw, err := cols.parse(rec)
		sid := cols.get(rec, "source_id")
		if err == nil {
			if prev, dup := seen[sid]; dup {
				err = fmt.Errorf("source_id %q already appears on line %d", sid, prev)
			}
		}
		if err != nil {
			res.Rejects = append(res.Rejects, Reject{Line: line, SourceID: sid, Reason: err.Error()})
			continue
		}
		rw.line = line
		seen[sid] = line
		if _, ok := groups[rw.ref]; !ok {
			order = append(order, rw.ref)
		}
		groups[rw.ref] = append(groups[rw.ref], rw)
	}
	for _, ref := range order {
		h, rejects := assemble(ref, groups[ref])
		res.Rejects = append(res.Rejects, rejects...)
		if h != nil {
			res.Households = append(res.Households, h)
			res.Persons += len(h.Members)
		}
	}
	sort.SliceStable(res.Rejects, func(i, j int) bool { return res.Rejects[i].Line < res.Rejects[j].Line })
	return res, nil
}

// assemble builds one household from its rows, taking household fields
// from the head row. A household-level fault rejects all its rows.
func assemble(ref string, rows []*row) (*canasta.Household, []Reject) {
	first := rows[0]
	for _, r := range rows {
		if r.person.Relationship == canasta.RelationshipHead {
			first = r
			break
		}
	}
	h := &canasta.Household{SourceID: ref, Address: first.address, MonthlyIncome: first.income, Attributes: first.hattrs}
	for _, r := range rows {
		h.Members = append(h.Members, r.person)
	}
	if err := h.Validate(); err != nil {
		reason := fmt.Sprintf("household %q: %s", ref, canasta.ErrorMessage(err))
		rejects := make([]Reject, len(rows))
		for i, r := range rows {
			rejects[i] = Reject{Line: r.line, SourceID: r.person.SourceID, Reason: reason}
		}
		return nil, rejects
	}
	return h, nil
}

// layout maps a file's header to column positions.
type layout struct {
	index map[string]int
	// attrs are the extra columns that name declared attributes.
	attrs map[int]*canasta.Attribute
	// undeclared are extra columns that do not; a value in one rejects its row.
	undeclared map[int]string
}

func newLayout(header []string, schema *canasta.Schema) (*layout, error) {
	l := &layout{index: map[string]int{}, attrs: map[int]*canasta.Attribute{}, undeclared: map[int]string{}}
	standard := map[string]bool{}
	for _, c := range Columns {
		standard[c] = true
	}
	for i, name := range header {
		name = strings.TrimSpace(strings.TrimPrefix(name, "\ufeff"))
		if _, dup := l.index[name]; dup {
			return nil, canasta.Errorf(canasta.EINVALID, "Column %q appears twice in the header.", name)
		}
		l.index[name] = i
		if standard[name] {
			continue
		}
		if a := schema.Household[name]; a != nil {
			l.attrs[i] = a
		} else if a := schema.Person[name]; a != nil {
			l.attrs[i] = a
		} else {
			l.undeclared[i] = name
		}
	}
	if _, ok := l.index["source_id"]; !ok {
		return nil, canasta.Errorf(canasta.EINVALID, "The header has no source_id column; rows are keyed by it.")
	}
	return l, nil
}

func (l *layout) get(rec []string, col string) string {
	if i, ok := l.index[col]; ok {
		return strings.TrimSpace(rec[i])
	}
	return ""
}

// parse checks one record and turns it into a row.
func (l *layout) parse(rec []string) (*row, error) {
	for _, v := range rec {
		if !utf8.ValidString(v) {
			return nil, errors.New("the row is not valid UTF-8")
		}
	}
	sid := l.get(rec, "source_id")
	if sid == "" {
		return nil, errors.New("source_id is empty")
	}
	ref := l.get(rec, "household_ref")
	if ref == "" {
		ref = sid // a person with no household reference lives alone
	}
	p := &canasta.Person{
		SourceID:     sid,
		GivenName:    l.get(rec, "given_name"),
		FamilyName:   l.get(rec, "family_name"),
		BirthDate:    l.get(rec, "birth_date"),
		Sex:          canasta.Sex(strings.ToUpper(l.get(rec, "sex"))),
		NationalID:   l.get(rec, "national_id"),
		Relationship: strings.ToLower(l.get(rec, "relationship")),
	}
	switch d := strings.ToLower(l.get(rec, "disability")); d {
	case "true":
		p.Disability = true
	case "false", "":
	default:
		return nil, fmt.Errorf("disability must be true or false, not %q", d)
	}
	if err := p.Validate(); err != nil {
		return nil, errors.New(canasta.ErrorMessage(err))
	}
	income := canasta.UnknownIncome
	if s := l.get(rec, "monthly_income"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("monthly_income must be a whole number of minor currency units, not %q", s)
		}
		income = n
	}
	rw := &row{person: p, ref: ref, income: income, address: canasta.Address{
		Line: l.get(rec, "address"), Locality: l.get(rec, "locality"),
		Region: l.get(rec, "region"), Postcode: l.get(rec, "postcode"),
	}}
	for i, name := range l.undeclared {
		if strings.TrimSpace(rec[i]) != "" {
			return nil, fmt.Errorf("column %q is not a declared attribute; only declared attributes may be recorded", name)
		}
	}
	for i, a := range l.attrs {
		s := strings.TrimSpace(rec[i])
		if s == "" {
			continue
		}
		v, err := parseValue(a, s)
		if err != nil {
			return nil, err
		}
		if a.AppliesTo == canasta.AppliesToHousehold {
			if rw.hattrs == nil {
				rw.hattrs = map[string]any{}
			}
			rw.hattrs[a.Name] = v
		} else {
			if p.Attributes == nil {
				p.Attributes = map[string]any{}
			}
			p.Attributes[a.Name] = v
		}
	}
	return rw, nil
}

// parseValue reads a CSV cell as the attribute's type.
func parseValue(a *canasta.Attribute, s string) (any, error) {
	var v any = s
	switch a.Type {
	case canasta.AttributeBool:
		b, err := strconv.ParseBool(strings.ToLower(s))
		if err != nil {
			return nil, fmt.Errorf("attribute %q must be true or false, not %q", a.Name, s)
		}
		v = b
	case canasta.AttributeInt:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("attribute %q must be a whole number, not %q", a.Name, s)
		}
		v = n
	}
	nv, err := a.Normalize(v)
	if err != nil {
		return nil, errors.New(canasta.ErrorMessage(err))
	}
	return nv, nil
}

// WriteRejects writes rejects as CSV with RejectHeader.
func WriteRejects(w io.Writer, rejects []Reject) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(RejectHeader); err != nil {
		return err
	}
	for _, r := range rejects {
		if err := cw.Write([]string{strconv.Itoa(r.Line), r.SourceID, r.Reason}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// RejectsPath returns where the rejects of path go: people.csv → people.rejects.csv.
func RejectsPath(path string) string {
	if strings.HasSuffix(strings.ToLower(path), ".csv") {
		return path[:len(path)-4] + ".rejects.csv"
	}
	return path + ".rejects.csv"
}
