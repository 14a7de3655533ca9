package dedup

import (
	"strconv"

	"github.com/canasta/canasta"
)

// Field is one aspect of two records that the model compares. Each field
// has graded levels of agreement, best first, plus level 0 for "cannot
// tell" (a value missing on either side), which carries no evidence.
type Field int

// The compared fields.
const (
	FieldGiven Field = iota
	FieldFamily
	FieldBirth
	FieldNationalID
	FieldAddress // the address line, locality and postcode together
	FieldSex
	// FieldHousehold is household context: whether other members of the
	// two records' households match each other.
	FieldHousehold
	NumFields
)

// fieldNames and levelNames label the model for reports.
var fieldNames = [NumFields]string{"given", "family", "birth", "national_id", "address", "sex", "household"}

var levelNames = [NumFields][]string{
	FieldGiven:      {"missing", "exact", "same or nickname", "sounds alike", "initial or part", "different"},
	FieldFamily:     {"missing", "exact", "typo or part missing", "sounds alike or one shared", "different"},
	FieldBirth:      {"unknown", "exact", "same year and month", "same year", "day and month swapped", "year off by one", "one digit of day or month", "different"},
	FieldNationalID: {"missing", "exact", "one edit", "different"},
	FieldAddress:    {"missing", "same", "similar", "same postcode and locality", "same postcode or locality", "different"},
	FieldSex:        {"missing", "same", "different"},
	FieldHousehold:  {"same household", "co-members match", "no co-member match"},
}

func (f Field) String() string { return fieldNames[f] }

// radix is the number of levels of each field including level 0.
var radix = func() (r [NumFields]int) {
	for f := range r {
		r[f] = len(levelNames[f])
	}
	return r
}()

// numPatterns is how many comparison vectors there are.
var numPatterns = func() int {
	n := 1
	for _, r := range radix {
		n *= r
	}
	return n
}()

// Levels is a comparison vector: one level per field.
type Levels [NumFields]uint8

// pattern encodes a comparison vector as one small integer, so vectors
// can be counted in an array.
func (l *Levels) pattern() uint32 {
	var p uint32
	for f := NumFields - 1; f >= 0; f-- {
		p = p*uint32(radix[f]) + uint32(l[f])
	}
	return p
}

func levelsOf(p uint32) Levels {
	var l Levels
	for f := Field(0); f < NumFields; f++ {
		l[f] = uint8(p % uint32(radix[f]))
		p /= uint32(radix[f])
	}
	return l
}

// Compare returns the levels of agreement of a and b on every field but
// household context, which needs the other pairs and is left at 0.
func Compare(a, b *Record) Levels {
	return compare(a, b, nil)
}

// nameCache remembers the levels of pairs of numbered names: the same
// common names meet again and again in the candidate pairs, and comparing
// names is most of the cost of comparing records. One per worker.
type nameCache struct {
	given, family map[uint64]uint8
}

const maxNameCache = 1 << 20

func newNameCache() *nameCache {
	return &nameCache{given: map[uint64]uint8{}, family: map[uint64]uint8{}}
}

func (c *nameCache) level(m map[uint64]uint8, a, b *namePart, cmp func(a, b *namePart) uint8) uint8 {
	if c == nil || a.id == 0 || b.id == 0 {
		return cmp(a, b)
	}
	x, y := a.id, b.id
	if x > y {
		x, y = y, x
	}
	k := uint64(x)<<32 | uint64(y)
	if l, ok := m[k]; ok {
		return l
	}
	l := cmp(a, b)
	if len(m) >= maxNameCache {
		clear(m)
	}
	m[k] = l
	return l
}

func compare(a, b *Record, c *nameCache) Levels {
	var l Levels
	l[FieldGiven], l[FieldFamily] = compareNames(a, b, c)
	l[FieldBirth] = compareBirth(a.birth, b.birth)
	l[FieldNationalID] = compareNationalID(a.nationalID, b.nationalID)
	l[FieldAddress] = compareAddress(a, b)
	l[FieldSex] = compareSex(a.sex, b.sex)
	return l
}

// compareNames compares given with given and family with family, and, if
// that agrees poorly, crosswise, since given and family names are often
// entered in each other's field.
func compareNames(a, b *Record, c *nameCache) (given, family uint8) {
	if c != nil {
		given, family = c.level(c.given, &a.given, &b.given, compareGiven), c.level(c.family, &a.family, &b.family, compareFamily)
	} else {
		given, family = compareGiven(&a.given, &b.given), compareFamily(&a.family, &b.family)
	}
	if given < 3 && given != 0 || a.given.empty() || b.family.empty() || a.family.empty() || b.given.empty() {
		return given, family
	}
	// Crosswise agreement is worth computing only if one of the crossed
	// pairs starts alike: most pairs differ in every name.
	if a.given.join[0] != b.family.join[0] && a.family.join[0] != b.given.join[0] {
		return given, family
	}
	g2 := compareGiven(&a.given, &b.family)
	if g2 == 5 {
		return given, family
	}
	f2 := compareFamily(&a.family, &b.given)
	if f2 < 4 && int(g2)+int(f2) < int(given)+int(family) {
		return g2, f2
	}
	return given, family
}

func compareGiven(a, b *namePart) uint8 {
	switch {
	case a.empty() || b.empty():
		return 0
	case a.join == b.join:
		return 1
	case len(a.canon) == len(b.canon) && wordsAlike(a.canon, b.canon, 0.9):
		return 2
	case a.code == b.code || JaroWinkler(a.join, b.join) >= 0.85:
		return 3
	case partOf(a.canon, b.canon) || initialOf(a.words, b.words):
		return 4
	}
	return 5
}

func compareFamily(a, b *namePart) uint8 {
	switch {
	case a.empty() || b.empty():
		return 0
	case a.join == b.join:
		return 1
	case len(a.words) <= len(b.words) && wordsAlike(a.words, b.words, 0.9),
		len(b.words) < len(a.words) && wordsAlike(b.words, a.words, 0.9):
		return 2
	case a.code == b.code || JaroWinkler(a.join, b.join) >= 0.85 || shareWord(a.words, b.words):
		return 3
	}
	return 4
}

// wordsAlike reports whether every word of short is close to a word of
// long, in order.
func wordsAlike(short, long []string, min float64) bool {
	j := 0
	for _, w := range short {
		for j < len(long) && JaroWinkler(w, long[j]) < min {
			j++
		}
		if j == len(long) {
			return false
		}
		j++
	}
	return true
}

// partOf reports whether one list of given names is a part of the other:
// "María" of "María José".
func partOf(a, b []string) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	return len(a) < len(b) && wordsAlike(a, b, 0.95)
}

func shareWord(a, b []string) bool {
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return true
			}
		}
	}
	return false
}

// initialOf reports whether one side writes the first given name as its
// initial.
func initialOf(a, b []string) bool {
	if len(a[0]) != 1 && len(b[0]) != 1 {
		return false
	}
	return a[0][0] == b[0][0]
}

func compareBirth(a, b canasta.BirthDate) uint8 {
	switch {
	case !a.Known() || !b.Known():
		return 0
	case a == b && a.Day != 0:
		return 1
	}
	full := a.Day != 0 && b.Day != 0
	if a.Year == b.Year && (a.Month == b.Month || a.Month == 0 || b.Month == 0) &&
		(a.Day == b.Day || a.Day == 0 || b.Day == 0) {
		// Not both full, or they would be equal. Agreeing on the year
		// alone says much less than on year and month.
		if a.Month != 0 && b.Month != 0 {
			return 2
		}
		return 3
	}
	if full && a.Year == b.Year && a.Month == b.Day && a.Day == b.Month {
		return 4
	}
	// One part differs, by a slip of one digit or a year.
	sameYear, sameMonth := a.Year == b.Year, a.Month == b.Month || a.Month == 0 || b.Month == 0
	sameDay := a.Day == b.Day || a.Day == 0 || b.Day == 0
	switch {
	case full && !sameYear && a.Month == b.Month && a.Day == b.Day && nearYear(a.Year, b.Year):
		return 5
	case sameYear && sameMonth && !sameDay && OneEdit(twoDigits(a.Day), twoDigits(b.Day)),
		sameYear && !sameMonth && sameDay && OneEdit(twoDigits(a.Month), twoDigits(b.Month)):
		return 6
	}
	return 7
}

func nearYear(a, b int) bool {
	d := a - b
	return d == 1 || d == -1 || OneEdit(strconv.Itoa(a), strconv.Itoa(b))
}

func twoDigits(n int) string {
	return string([]byte{byte('0' + n/10%10), byte('0' + n%10)})
}

func compareNationalID(a, b string) uint8 {
	switch {
	case a == "" || b == "":
		return 0
	case a == b:
		return 1
	case OneEdit(a, b):
		return 2
	}
	return 3
}

// compareAddress grades the address as one field: line, locality and
// postcode describe one place, so counting them as separate evidence
// would count a shared address three times.
func compareAddress(a, b *Record) uint8 {
	line, place := compareLine(a.addr, b.addr), comparePlace(a, b)
	switch {
	case line == 0 && place == 0:
		return 0
	case line == 1 && place != 3:
		return 1
	case line == 1 || line == 2 && (place == 1 || place == 2):
		return 2
	case place == 1:
		return 3
	case place == 2:
		return 4
	}
	return 5
}

// compareLine compares the sets of words of two address lines: 1 for the
// same words, 2 for half of them, 3 for fewer, 0 if either is missing.
func compareLine(a, b []uint32) uint8 {
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	common := 0
	for i, x := range a {
		dup := false
		for _, y := range a[:i] {
			dup = dup || x == y
		}
		if dup {
			continue
		}
		for _, y := range b {
			if x == y {
				common++
				break
			}
		}
	}
	union := len(a) + len(b) - common
	switch {
	case common == len(a) && common == len(b):
		return 1
	case 2*common >= union:
		return 2
	}
	return 3
}

func comparePlace(a, b *Record) uint8 {
	if a.locality == "" && a.postcode == "" || b.locality == "" && b.postcode == "" {
		return 0
	}
	loc := a.locality != "" && a.locality == b.locality
	pc := a.postcode != "" && a.postcode == b.postcode
	switch {
	case loc && pc:
		return 1
	case loc || pc:
		return 2
	}
	return 3
}

func compareSex(a, b canasta.Sex) uint8 {
	switch {
	case a == "" || b == "":
		return 0
	case a == b:
		return 1
	}
	return 2
}
