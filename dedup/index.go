package dedup

import (
	"github.com/canasta/canasta"
)

// IndexKeys returns the keys under which a person is stored in the
// enrollment index, and looked up when a new person is enrolled: each is
// specific enough that a key names few persons even in a registry of
// millions, and together they tolerate the same errors batch blocking
// does. A key is a 64-bit hash, stored as a signed integer.
func IndexKeys(r *Record) []int64 {
	var keys []uint64
	if id := r.nationalID; id != "" {
		keys = append(keys, hash64("n", id))
		if n := len(id); n >= 8 {
			keys = append(keys, hash64("n1", id[:n-4]), hash64("n2", id[4:]), hash64("n3", id[:3], id[n-3:]))
		}
	}
	g, f := r.given.code, r.family.code
	if g > f {
		g, f = f, g
	}
	if g != "" && f != "" && r.birth.Year != 0 {
		keys = append(keys, hash64("iy", g, f, r.yearKey))
	}
	if !r.given.empty() && !r.family.empty() {
		x, y := r.given.join, r.family.join
		if x > y {
			x, y = y, x
		}
		keys = append(keys, hash64("in", x, y))
	}
	if d := fullBirth(r); d != "" {
		for _, c := range []string{r.given.code, r.family.code} {
			if c != "" {
				keys = append(keys, hash64("sb", c, d))
			}
		}
		gi, fi := initial(r.given.join), initial(r.family.join)
		if gi > fi {
			gi, fi = fi, gi
		}
		keys = append(keys, hash64("bi", d, gi, fi))
	}
	if r.addrLine != "" {
		keys = append(keys, hash64("ad", r.postcodeText, r.addrLine))
	}
	out := make([]int64, 0, len(keys))
	for _, k := range keys {
		out = append(out, int64(k))
	}
	return out
}

// DuplicateShare is the share of enrollments assumed to be of someone
// already registered, before any comparison: the prior of the match
// probability at enrollment.
const DuplicateShare = 0.05

// EnrollmentProbability is the match probability of a newly enrolled
// person and a registered one, in a registry of registered persons, under
// model m (DefaultModel if nil). Without household context or name
// frequencies, which need the whole registry, it is a little more
// cautious than the batch search.
func EnrollmentProbability(m *Model, enrolled, registered *Record, registryPersons int) float64 {
	if m == nil {
		m = defaultModel
	}
	l := Compare(enrolled, registered)
	mm := *m
	mm.Lambda = DuplicateShare / float64(max(registryPersons, 1))
	mm.M[FieldHousehold] = nil
	return mm.Probability(l)
}

// DefaultModel returns the model used at enrollment until one is fitted
// on the registry: m and u as estimated by this package's EM on a
// synthetic registry of 107,000 persons with 5% duplicates, rounded.
func DefaultModel() *Model {
	m := *defaultModel
	for f := range m.M {
		m.M[f] = append([]float64(nil), m.M[f]...)
		m.U[f] = append([]float64(nil), m.U[f]...)
	}
	return &m
}

var defaultModel = &Model{
	Lambda: 1.1e-6,
	M: [NumFields][]float64{
		FieldGiven:      {0, 0.70, 0.19, 0.03, 0.057, 0.001, 0.023},
		FieldFamily:     {0, 0.67, 0.28, 0.038, 0.005, 0.009},
		FieldBirth:      {0, 0.60, 0.107, 0.12, 0.032, 0.049, 0.064, 0.014, 0.018},
		FieldNationalID: {0, 0.865, 0.134, 0.001},
		FieldAddress:    {0, 0.43, 0.074, 0.0012, 0.012, 0.48},
		FieldSex:        {0, 0.999, 0.001},
		FieldHousehold:  {0, 0.36, 0.64},
	},
	U: [NumFields][]float64{
		FieldGiven:      {0, 0.0026, 0.0014, 0.0096, 0.0021, 0.000005, 0.984},
		FieldFamily:     {0, 0.00075, 0.0017, 0.0008, 0.010, 0.987},
		FieldBirth:      {0, 0.000058, 0.00013, 0.002, 0.000017, 0.00036, 0.001, 0.0088, 0.9876},
		FieldNationalID: {0, 0.00002, 0.00002, 0.99996},
		FieldAddress:    {0, 0.00006, 0.00003, 0.0002, 0.021, 0.979},
		FieldSex:        {0, 0.5, 0.5},
		FieldHousehold:  {0, 0.01, 0.99},
	},
}

// Matcher is the enrollment lookup's comparison, for stores: keys and
// probabilities under a model (DefaultModel if nil).
type Matcher struct {
	Model *Model
}

var _ canasta.DuplicateMatcher = (*Matcher)(nil)

// NewMatcher returns a matcher with the default model.
func NewMatcher() *Matcher { return &Matcher{Model: DefaultModel()} }

// IndexKeys returns the person's index keys.
func (m *Matcher) IndexKeys(p *canasta.PersonRecord) []int64 {
	r := NewRecord(p, 0)
	return IndexKeys(&r)
}

// Probability returns the match probability of two persons.
func (m *Matcher) Probability(enrolled, registered *canasta.PersonRecord, n int) float64 {
	a, b := NewRecord(enrolled, 0), NewRecord(registered, 1)
	return EnrollmentProbability(m.Model, &a, &b, n)
}
