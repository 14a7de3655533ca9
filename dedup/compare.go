package dedup

import (
	"math/bits"
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
	FieldGiven:  {"missing", "exact", "same or nickname", "one of two left out", "sounds alike", "initial", "different"},
	FieldFamily: {"missing", "exact", "typo, reordered or one left out", "sounds alike", "one of two shared", "different"},
	FieldBirth: {"unknown", "exact", "same year and month", "same year", "day and month swapped", "year off by one",
		"another day", "another month or year", "different"},
	FieldNationalID: {"missing", "exact", "one edit", "different"},
	FieldAddress:    {"missing", "same", "similar", "same postcode and locality", "same postcode or locality", "different"},
	FieldSex:        {"missing", "same", "different"},
	FieldHousehold:  {"same household", "co-members match", "no co-member match"},
}

func (f Field) String() string { return fieldNames[f] }

// Levels of the name fields, named because the comparison of swapped
// names and the scorer test them.
const (
	givenExact     = 1
	givenAlike     = 2 // the same names but for a typo or a nickname
	givenPart      = 3 // one of two given names left out
	givenSounds    = 4
	givenInitial   = 5
	givenDifferent = 6

	familyExact     = 1
	familyAlike     = 2 // typo, reordered, or one of two surnames left out
	familySounds    = 3 // each surname sounds like or nearly is one of the other's
	familyShared    = 4 // one surname shared, another not
	familyDifferent = 5
)

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
// names meet again and again in the candidate pairs, and comparing names
// is most of the cost of comparing records. It is direct-mapped, a slot
// per hash of the pair, so it needs no clearing and costs one probe. One
// per worker.
type nameCache struct {
	// slots hold a key shifted left by 3 and its level in the low bits,
	// so a probe touches one cache line.
	slots []uint64
	shift uint // 64 less the bits of a slot's index
}

// maxNameCacheBits bounds the cache: 4M slots, 32 MB.
const maxNameCacheBits = 22

// Kinds of name comparison, kept apart in the cache.
const (
	cacheGiven = iota
	cacheFamily
	cacheGivenFamily // a's given names as b's surnames, for swapped names
	cacheFamilyGiven
	cacheWords // two words of names: see wordRelation
)

// newNameCache returns a cache sized for a registry of n records: the
// distinct pairs of names grow with it.
func newNameCache(n int) *nameCache {
	size := min(max(bits.Len(uint(n))+2, 12), maxNameCacheBits)
	return &nameCache{slots: make([]uint64, 1<<size), shift: uint(64 - size)}
}

func (c *nameCache) level(kind uint64, a, b *namePart, cmp func(a, b *namePart, c *nameCache) uint8) uint8 {
	if c == nil || a.id == 0 || b.id == 0 {
		return cmp(a, b, c)
	}
	return c.get(kind, a.id, b.id, kind <= cacheFamily, func() uint8 { return cmp(a, b, c) })
}

// get returns the cached value, below 8, of kind for ids x and y,
// computing it on a miss. Ids are below 1<<29: numbers of distinct names
// and words.
func (c *nameCache) get(kind uint64, x, y uint32, symmetric bool, compute func() uint8) uint8 {
	if x > y && symmetric {
		x, y = y, x
	}
	k := (kind<<58 | uint64(x)<<29 | uint64(y)) << 3
	i := (k * 0x9e3779b97f4a7c15) >> c.shift
	if v := c.slots[i]; v&^7 == k {
		return uint8(v & 7)
	}
	l := compute()
	c.slots[i] = k | uint64(l)
	return l
}

// Bits of the relation of two words of names.
const (
	wordsEqual = 1 << iota
	wordsTypo  // Jaro–Winkler at least 0.9
	wordsNear  // Jaro–Winkler at least 0.85
)

// wordRelation relates word i of a to word j of b. Surnames are compared
// word by word, and each word is one of a few thousand, so the relations
// of words are cached rather than those of whole surnames, which are
// nearly as many as the households.
func wordRelation(a, b *namePart, i, j int, c *nameCache) uint8 {
	x, y := a.words[i], b.words[j]
	compute := func() uint8 {
		switch {
		case x == y:
			return wordsEqual | wordsTypo | wordsNear
		case !JaroWinklerAtLeast(x, y, 0.85):
			return 0
		case JaroWinkler(x, y) >= 0.9:
			return wordsTypo | wordsNear
		}
		return wordsNear
	}
	if c == nil || i >= len(a.wordIDs) || j >= len(b.wordIDs) {
		return compute()
	}
	return c.get(cacheWords, a.wordIDs[i], b.wordIDs[j], true, compute)
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
	given, family = c.level(cacheGiven, &a.given, &b.given, compareGiven), c.level(cacheFamily, &a.family, &b.family, compareFamily)
	if given <= givenAlike && given != 0 || a.given.empty() || b.family.empty() || a.family.empty() || b.given.empty() {
		return given, family
	}
	// Crosswise agreement is worth computing only if one of the crossed
	// pairs starts alike: most pairs differ in every name.
	if a.given.join[0] != b.family.join[0] && a.family.join[0] != b.given.join[0] {
		return given, family
	}
	g2 := c.level(cacheGivenFamily, &a.given, &b.family, compareGiven)
	if g2 == givenDifferent {
		return given, family
	}
	f2 := c.level(cacheFamilyGiven, &a.family, &b.given, compareFamily)
	if f2 < familyDifferent && int(g2)+int(f2) < int(given)+int(family) {
		return g2, f2
	}
	return given, family
}

func compareGiven(a, b *namePart, _ *nameCache) uint8 {
	switch {
	case a.empty() || b.empty():
		return 0
	case a.join == b.join:
		return givenExact
	case len(a.canon) == len(b.canon) && wordsAlike(a.canon, b.canon, 0.9):
		return givenAlike
	case partOf(a.canon, b.canon):
		return givenPart
	case soundsAlike(a, b) || len(a.words) == 1 && len(b.words) == 1 && JaroWinklerAtLeast(a.join, b.join, 0.85):
		return givenSounds
	case initialOf(a.words, b.words):
		return givenInitial
	}
	return givenDifferent
}

// compareFamily compares surnames as sets of words: people with two
// surnames often have one left out, or the two written in the other
// order, on another registration.
func compareFamily(a, b *namePart, c *nameCache) uint8 {
	switch {
	case a.empty() || b.empty():
		return 0
	case a.join == b.join:
		return familyExact
	}
	if len(a.words) > len(b.words) {
		a, b = b, a
	}
	// Each word of the shorter surname close to a different word of the
	// longer: a typo, another order, or a surname left out.
	var usedTypo, usedNear uint64
	subset, sounds, shared := true, true, false
	for i := range a.words {
		typo, near := false, false
		for j := range b.words {
			rel := wordRelation(a, b, i, j, c)
			shared = shared || rel&wordsEqual != 0
			if !typo && j < 64 && usedTypo&(1<<j) == 0 && rel&wordsTypo != 0 {
				usedTypo |= 1 << j
				typo = true
			}
			code := a.wordCode(i)
			if !near && j < 64 && usedNear&(1<<j) == 0 && (rel&wordsNear != 0 || code != "" && code == b.wordCode(j)) {
				usedNear |= 1 << j
				near = true
			}
		}
		subset = subset && typo
		sounds = sounds && near
	}
	switch {
	case subset:
		return familyAlike
	case sounds:
		return familySounds
	case shared:
		return familyShared
	}
	return familyDifferent
}

// soundsAlike reports whether two given names have as many words, each
// sounding like the other's or nearly the same, in order.
func soundsAlike(a, b *namePart) bool {
	if len(a.canon) != len(b.canon) {
		return false
	}
	for i := range a.canon {
		if a.codes[i] != b.codes[i] && !JaroWinklerAtLeast(a.canon[i], b.canon[i], 0.85) {
			return false
		}
	}
	return true
}

// wordsAlike reports whether every word of short is close to a word of
// long, in order.
func wordsAlike(short, long []string, min float64) bool {
	j := 0
	for _, w := range short {
		for j < len(long) && !JaroWinklerAtLeast(w, long[j], min) {
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
	return len(a) < len(b) && wordsAlike(a, b, 0.9)
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
	if full && a.Year != b.Year && a.Month == b.Month && a.Day == b.Day && nearYear(a.Year, b.Year) {
		return 5
	}
	// One part differs, the others agree: a slip in writing one part. A
	// day differs far more often between two people born the same month
	// than a month or a year between two born on the same day, so the
	// two are told apart.
	if a.Month != 0 && b.Month != 0 {
		sameYear, sameMonth := a.Year == b.Year, a.Month == b.Month
		switch {
		case full && sameYear && sameMonth:
			return 6
		case b2i(!sameYear)+b2i(!sameMonth) == 1 && (!full || a.Day == b.Day):
			return 7
		}
	}
	return 8
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func nearYear(a, b int) bool {
	d := a - b
	return d == 1 || d == -1 || OneEdit(strconv.Itoa(a), strconv.Itoa(b))
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
	line, place := compareLine(a.addr, b.addr, a.addrNumber, b.addrNumber), comparePlace(a, b)
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
// same words, 2 for half of them, 3 for fewer or for another house
// number, 0 if either is missing. Streets are shared by many households;
// the number is what singles one out.
func compareLine(a, b []uint32, an, bn uint32) uint8 {
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	if an != 0 && bn != 0 && an != bn {
		return 3
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
	if a.locality == 0 && a.postcode == 0 || b.locality == 0 && b.postcode == 0 {
		return 0
	}
	loc := a.locality != 0 && a.locality == b.locality
	pc := a.postcode != 0 && a.postcode == b.postcode
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
