// Package synth generates synthetic but realistic populations of
// households for demos, tests and benchmarks. The same configuration and
// seed always give the same population, so a demo, a failing test or a
// benchmark can be reproduced exactly; nothing in it describes a real
// person.
package synth

import (
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/canasta/canasta"
)

// Config describes a population.
type Config struct {
	Households int   // how many households Next yields
	Seed       int64 // the same seed gives the same population
	// Regions names the regions households live in; empty means
	// DefaultRegions. Known default names keep their towns and weights;
	// other names get generic towns and equal weights.
	Regions []string
	// AsOf is the day ages are reckoned on; zero means DefaultAsOf, so the
	// population does not change with the day it is generated.
	AsOf time.Time
}

// DefaultAsOf is the day ages are reckoned on when Config.AsOf is zero.
var DefaultAsOf = time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC)

// Relationships of members to the head of their household.
const (
	RelationshipSpouse = "spouse"
	RelationshipChild  = "child"
	RelationshipParent = "parent"
	RelationshipOther  = "other"
)

// Generator yields the households of one population in order. It is not
// safe for concurrent use; give each goroutine its own.
type Generator struct {
	cfg     Config
	r       *rand.Rand
	regions []regionProfile
	pick    weighted // region index, by population
	ids     nationalIDs
	made    int
	asOf    time.Time
	text    householdText
	refEnd  int // the household's source id is text.buf[:refEnd]
}

// householdText gathers the generated strings of one household in one
// buffer that becomes a single string, so a household costs one string
// allocation rather than one per field.
type householdText struct {
	buf   []byte
	spans []span
}

type span struct {
	dst        *string
	start, end int
}

func (t *householdText) reset() { t.buf, t.spans = t.buf[:0], t.spans[:0] }

// mark records that the bytes from start to the end of the buffer are dst's.
func (t *householdText) mark(dst *string, start int) {
	t.spans = append(t.spans, span{dst, start, len(t.buf)})
}

// fill sets every marked string.
func (t *householdText) fill() {
	s := string(t.buf)
	for _, sp := range t.spans {
		*sp.dst = s[sp.start:sp.end]
	}
}

// householdSizes follows the shape of census household-size tables: most
// households have two to four people, a long tail has more.
// Index i is a size of i+1.
var householdSizes = frequencies(150, 200, 200, 180, 120, 70, 40, 20, 10, 10)

// New returns a generator for cfg.
func New(cfg Config) *Generator {
	seed := uint64(cfg.Seed)
	g := &Generator{
		cfg:     cfg,
		r:       rand.New(rand.NewPCG(seed, splitmix(seed))),
		regions: newRegionProfiles(cfg.Regions),
		ids:     newNationalIDs(splitmix(seed ^ 0x6e6174696f6e616c)),
		asOf:    cfg.AsOf,
	}
	if g.asOf.IsZero() {
		g.asOf = DefaultAsOf
	}
	weights := make([]int, len(g.regions))
	for i, p := range g.regions {
		weights[i] = p.weight
	}
	g.pick = frequencies(weights...)
	return g
}

// member is a person before their record is written: the true age and sex
// from which the possibly incomplete recorded values are derived.
type member struct {
	p      canasta.Person
	age    int
	female bool
	c      culture
	// family holds up to two surnames; Hispanic people usually carry both.
	family [2]string
}

// Next returns the next household with its members, or nil once
// cfg.Households have been returned. Ids are left for the store to assign;
// source ids are set, "H0000001" for a household and "P0000001-1" for its
// first member. The head is the first member.
func (g *Generator) Next() *canasta.Household {
	if g.made >= g.cfg.Households {
		return nil
	}
	g.made++
	r := g.r
	region := &g.regions[g.pick.index(r)]
	c := anglophone
	if chance(r, region.hispanicMill) {
		c = hispanic
	}
	members := g.compose(c, householdSizes.index(r)+1)

	h := &canasta.Household{Members: make([]*canasta.Person, len(members))}
	t := &g.text
	t.reset()
	t.buf = append(t.buf, 'H')
	t.buf = appendPadded(t.buf, int64(g.made), 7)
	g.refEnd = len(t.buf)
	t.mark(&h.SourceID, 0)
	for i := range members {
		m := &members[i]
		g.record(m, i+1)
		h.Members[i] = &m.p
	}

	loc := region.localities.index(r)
	h.Address.Region = region.name
	h.Address.Locality = region.localities.items[loc]
	start := len(t.buf)
	t.buf = appendAddressLine(t.buf, r, c == hispanic)
	t.mark(&h.Address.Line, start)
	start = len(t.buf)
	t.buf = appendPostcode(t.buf, r, region.postcodes[loc])
	t.mark(&h.Address.Postcode, start)
	t.fill()
	h.MonthlyIncome = g.income(members)
	return h
}

// compose draws the members of a household of size n: their roles, true
// ages, sexes and names, consistent with each other.
func (g *Generator) compose(c culture, n int) []member {
	r := g.r
	ms := make([]member, n)
	head := &ms[0]
	head.p.Relationship = canasta.RelationshipHead
	head.c = c
	head.female = chance(r, 500)

	rest := n - 1
	spouse := rest >= 1 && chance(r, 600+150*min(rest-1, 1))
	parents := 0
	if rest-b2i(spouse) >= 1 && chance(r, 100) {
		parents = 1 + b2i(rest-b2i(spouse) >= 2 && chance(r, 300))
	}
	head.age = headAge(r, rest-b2i(spouse)-parents > 0)
	if head.age > 70 {
		parents = 0 // a head this old has no living parents; the slots go to children
	}
	g.name(head, c)

	i := 1
	youngest, oldest := head.age, head.age
	if spouse {
		s := &ms[i]
		i++
		s.p.Relationship = RelationshipSpouse
		s.c = c
		if chance(r, 80) {
			s.c = 1 - c
		}
		s.female = !head.female
		if chance(r, 30) {
			s.female = head.female
		}
		s.age = max(18, min(95, head.age+int(math.Round(r.NormFloat64()*5))))
		youngest, oldest = min(youngest, s.age), max(oldest, s.age)
		g.name(s, s.c)
		if c == anglophone && s.c == anglophone && chance(r, 700) {
			s.family = head.family
		}
	}
	var mother, father *member
	if head.female {
		mother = head
	} else {
		father = head
	}
	if spouse && ms[1].female != head.female {
		if ms[1].female {
			mother = &ms[1]
		} else {
			father = &ms[1]
		}
	}
	for k := 0; k < parents; k++ {
		p := &ms[i]
		i++
		p.p.Relationship = RelationshipParent
		p.c = c
		p.female = k == 0 && chance(r, 600) || k == 1 && !ms[i-2].female
		p.age = min(100, head.age+between(r, 18, 40))
		g.name(p, c)
		if c == hispanic {
			if inherited := head.family[b2i(p.female)]; inherited != "" {
				p.family[0] = inherited
			}
		} else if !p.female || chance(r, 600) {
			p.family = [2]string{head.family[0]}
		}
	}
	for ; i < n; i++ {
		m := &ms[i]
		m.c = c
		m.female = chance(r, 490)
		if chance(r, 100+100*b2i(n >= 7)) {
			m.p.Relationship = RelationshipOther
			m.age = between(r, 0, 85)
			g.name(m, c)
			continue
		}
		m.p.Relationship = RelationshipChild
		m.age = childAge(r, youngest, oldest)
		g.name(m, c)
		m.family = childFamily(head, father, mother)
	}
	return ms
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Head ages are drawn by band: band i is [headAgeBands[i], headAgeBands[i+1]).
var (
	headAgeBands    = []int{18, 25, 35, 45, 55, 65, 75, 91}
	headAgeAlone    = frequencies(12, 18, 16, 15, 15, 14, 10)
	headAgeWithKids = frequencies(5, 28, 33, 22, 9, 2, 1)
)

// How a birth date is recorded: indexes into recordedDateForm, whose
// weights are per mille.
const (
	dateFull = iota
	dateYear
	dateMonth
	dateUnknown
)

var recordedDateForm = frequencies(850, 50, 30, 70)

// sexUnrecordedMill is how many per mille have sex recorded as X or not at all.
const sexUnrecordedMill = 10

// headAge draws the head's age from census-like bands; heads with
// children are mostly of child-rearing age.
func headAge(r *rand.Rand, withChildren bool) int {
	bands := headAgeAlone
	if withChildren {
		bands = headAgeWithKids
	}
	i := bands.index(r)
	return between(r, headAgeBands[i], headAgeBands[i+1]-1)
}

// childAge keeps a child at least 16 years younger than the youngest
// parent and no more than 45 younger than the oldest; young children are
// the most common.
func childAge(r *rand.Rand, youngestParent, oldestParent int) int {
	hi := youngestParent - 16
	lo := max(0, oldestParent-45)
	if lo > hi {
		lo = hi
	}
	// The smaller of two uniforms favours the young end of the range.
	u := min(r.Float64(), r.Float64())
	return lo + int(float64(hi-lo+1)*u)
}

// childFamily gives a child the father's first surname then the mother's
// in Hispanic families, and the head's surname otherwise.
func childFamily(head, father, mother *member) [2]string {
	if head.c != hispanic {
		return [2]string{head.family[0]}
	}
	switch {
	case father != nil && mother != nil:
		return [2]string{father.family[0], mother.family[0]}
	case head.family[1] != "":
		return [2]string{head.family[0], head.family[1]}
	default:
		return [2]string{head.family[0]}
	}
}

// name draws a given name and surnames for m: Hispanic people mostly
// carry two, the father's first surname and the mother's first.
func (g *Generator) name(m *member, c culture) {
	r := g.r
	m.p.GivenName = givenName(r, c, m.female)
	m.family[0] = surname(r, c)
	if c == hispanic && chance(r, hispanicTwoSurnameMill) {
		m.family[1] = surname(r, c)
	}
}

// record writes the person's recorded fields from their true ones, with
// the gaps real registries have. Generated strings go to g.text; the
// household's source id is at the start of it.
func (g *Generator) record(m *member, index int) {
	r := g.r
	p := &m.p
	t := &g.text
	start := len(t.buf)
	t.buf = append(t.buf, 'P')
	t.buf = append(t.buf, t.buf[1:g.refEnd]...)
	t.buf = append(t.buf, '-')
	t.buf = strconv.AppendInt(t.buf, int64(index), 10)
	t.mark(&p.SourceID, start)

	switch {
	case chance(r, 5):
		p.FamilyName = ""
	case m.family[1] != "":
		start = len(t.buf)
		t.buf = append(t.buf, m.family[0]...)
		t.buf = append(t.buf, ' ')
		t.buf = append(t.buf, m.family[1]...)
		t.mark(&p.FamilyName, start)
	default:
		p.FamilyName = m.family[0]
	}
	start = len(t.buf)
	t.buf = g.appendBirthDate(t.buf, m.age)
	t.mark(&p.BirthDate, start)
	p.Sex = "M"
	if m.female {
		p.Sex = "F"
	}
	if chance(r, sexUnrecordedMill) {
		p.Sex = ""
		if chance(r, 300) {
			p.Sex = "X"
		}
	}
	if m.age >= 18 && chance(r, 800) {
		start = len(t.buf)
		t.buf, _ = g.ids.appendNext(t.buf)
		t.mark(&p.NationalID, start)
	}
	p.Disability = chance(r, 60)
}

// appendBirthDate draws a birth date giving the age on the AsOf day and
// records it in full, in part or not at all.
func (g *Generator) appendBirthDate(b []byte, age int) []byte {
	r := g.r
	y, mo, d := g.asOf.Date()
	born := time.Date(y-age, mo, d-r.IntN(365), 0, 0, 0, 0, time.UTC)
	form := recordedDateForm.index(r)
	if form == dateUnknown {
		return b
	}
	by, bm, bd := born.Date()
	b = appendPadded(b, int64(by), 4)
	if form == dateYear {
		return b
	}
	b = append(b, '-')
	b = appendPadded(b, int64(bm), 2)
	if form == dateMonth {
		return b
	}
	b = append(b, '-')
	return appendPadded(b, int64(bd), 2)
}

// income draws a monthly household income in minor units: log-normal, so
// most households are poor and a few are not, with some declaring nothing
// and some not declaring at all.
func (g *Generator) income(ms []member) int64 {
	r := g.r
	switch {
	case chance(r, 50):
		return canasta.UnknownIncome
	case chance(r, 70):
		return 0
	}
	adults := 0
	for i := range ms {
		if ms[i].age >= 18 {
			adults++
		}
	}
	median := 110_000 * (1 + 0.3*float64(adults-1))
	v := median * math.Exp(r.NormFloat64()*0.85)
	v = min(v, 5_000_000)
	round := 100.0
	if chance(r, 600) {
		round = 1000
	}
	return int64(math.Round(v/round) * round)
}
