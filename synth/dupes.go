package synth

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/canasta/canasta"
)

// Noise types: how a second registration of the same person differs
// from the first. A duplicate carries zero or more of them.
const (
	NoiseExact          = "exact" // registered again with no difference
	NoiseTypo           = "typo"  // a keyboard slip in a name
	NoiseOCR            = "ocr"   // a misread letter or digit on a scanned form
	NoiseSwappedNames   = "swapped-names"
	NoiseMissingName    = "missing-name-part" // a second given name or surname left out
	NoiseNickname       = "nickname"
	NoisePartialDate    = "partial-date" // only the year, or year and month
	NoiseTransposedDate = "transposed-date"
	NoiseDateError      = "date-error" // year off by one or one wrong digit
	NoiseMissingDate    = "missing-date"
	NoiseMoved          = "moved" // registered at another address
	NoiseIDError        = "id-digit-error"
	NoiseMissingID      = "missing-id"
)

// NoiseTypes lists every noise type, NoiseExact first.
var NoiseTypes = []string{NoiseExact, NoiseTypo, NoiseOCR, NoiseSwappedNames, NoiseMissingName, NoiseNickname,
	NoisePartialDate, NoiseTransposedDate, NoiseDateError, NoiseMissingDate, NoiseMoved, NoiseIDError, NoiseMissingID}

// personNoise are the noise types applied to a person's own fields, with
// their weights per thousand duplicates that carry one. Keyboard and OCR
// errors and left-out name parts are the most common faults in registry
// data; swapped names and transposed dates come from forms whose field
// order differs from the source document's.
var personNoise = []struct {
	name   string
	weight int
}{
	{NoiseTypo, 200}, {NoiseOCR, 90}, {NoiseSwappedNames, 50}, {NoiseMissingName, 110}, {NoiseNickname, 80},
	{NoisePartialDate, 90}, {NoiseTransposedDate, 50}, {NoiseDateError, 70}, {NoiseMissingDate, 40},
	{NoiseIDError, 70}, {NoiseMissingID, 70},
}

// noiseCount is how many person noise types a duplicate carries: most
// second registrations differ in one thing, some in none, few in three.
var noiseCount = frequencies(200, 500, 220, 80)

// Shares of duplication events, per mille. A whole household registered
// twice is common (a family registering in two offices); so is one person
// registered again in a household of their own.
const (
	householdDupMill   = 400
	movedHouseholdMill = 350 // a household registered again after moving
	movedPersonMill    = 600 // a person registered alone elsewhere
	lineTypoMill       = 150 // an unmoved duplicate's address line retyped with a slip
	dupDelayHouseholds = 2000
)

// TruthPair is two source ids of the same person, the original first,
// and the noise that separates them.
type TruthPair struct {
	A, B  string
	Noise []string
}

// DuplicateGenerator yields a population like Generator's in which some
// persons are registered a second time with realistic differences, and
// records which.
type DuplicateGenerator struct {
	g       *Generator
	r       *rand.Rand
	perHH   float64 // chance a household is registered twice
	perPers float64 // chance a member of another household is
	pending []pendingDup
	made    int
	truth   []TruthPair
	done    bool
}

type pendingDup struct {
	due int
	h   *canasta.Household
}

// NewWithDuplicates returns a generator of cfg's population plus
// duplicates making up about rate of all persons (0.05 for 5%). The
// original households are exactly those New(cfg) yields.
func NewWithDuplicates(cfg Config, rate float64) *DuplicateGenerator {
	rate = min(max(rate, 0), 0.5)
	q := rate / (1 - rate) // duplicates per original person
	seed := splitmix(uint64(cfg.Seed) ^ 0x6475706c69636174)
	d := &DuplicateGenerator{g: New(cfg), r: rand.New(rand.NewPCG(seed, splitmix(seed)))}
	hh := float64(householdDupMill) / 1000
	d.perHH = q * hh
	d.perPers = q * (1 - hh) / (1 - q*hh)
	return d
}

// Truth returns the duplicate pairs yielded so far.
func (d *DuplicateGenerator) Truth() []TruthPair { return d.truth }

// Next returns the next household, original or duplicate, or nil at the
// end. Duplicates come some households after their originals, as a
// second registration does.
func (d *DuplicateGenerator) Next() *canasta.Household {
	if i := slices.IndexFunc(d.pending, func(p pendingDup) bool { return p.due <= d.made || d.done }); i >= 0 {
		h := d.pending[i].h
		d.pending = slices.Delete(d.pending, i, i+1)
		return h
	}
	if d.done {
		return nil
	}
	h := d.g.Next()
	if h == nil {
		d.done = true
		return d.Next()
	}
	d.made++
	r := d.r
	if r.Float64() < d.perHH {
		d.queue(d.duplicateHousehold(h))
	} else {
		for i, m := range h.Members {
			if r.Float64() < d.perPers {
				d.queue(d.duplicatePerson(h, m, i))
			}
		}
	}
	return h
}

func (d *DuplicateGenerator) queue(h *canasta.Household) {
	d.pending = append(d.pending, pendingDup{due: d.made + 1 + d.r.IntN(dupDelayHouseholds), h: h})
}

// dupRef numbers duplicate households "D0000001" apart from originals.
func (d *DuplicateGenerator) dupRef() string {
	return "D" + string(appendPadded(nil, int64(len(d.truth)+1), 7))
}

func (d *DuplicateGenerator) duplicateHousehold(h *canasta.Household) *canasta.Household {
	r := d.r
	ref := d.dupRef()
	dup := &canasta.Household{SourceID: ref, Address: h.Address, MonthlyIncome: h.MonthlyIncome}
	moved := chance(r, movedHouseholdMill)
	if moved {
		dup.Address = d.newAddress()
	} else if chance(r, lineTypoMill) {
		dup.Address.Line = keyboardTypo(r, dup.Address.Line)
	}
	for i, m := range h.Members {
		p, noise := d.noisyCopy(m)
		p.SourceID = fmt.Sprintf("%s-%d", ref, i+1)
		if moved {
			noise = append(noise, NoiseMoved)
		}
		d.truth = append(d.truth, TruthPair{A: m.SourceID, B: p.SourceID, Noise: labels(noise)})
		dup.Members = append(dup.Members, p)
	}
	return dup
}

func (d *DuplicateGenerator) duplicatePerson(h *canasta.Household, m *canasta.Person, _ int) *canasta.Household {
	r := d.r
	ref := d.dupRef()
	dup := &canasta.Household{SourceID: ref, Address: h.Address, MonthlyIncome: canasta.UnknownIncome}
	p, noise := d.noisyCopy(m)
	p.SourceID = ref + "-1"
	p.Relationship = canasta.RelationshipHead
	if chance(r, movedPersonMill) {
		dup.Address = d.newAddress()
		noise = append(noise, NoiseMoved)
	} else if chance(r, lineTypoMill) {
		dup.Address.Line = keyboardTypo(r, dup.Address.Line)
	}
	d.truth = append(d.truth, TruthPair{A: m.SourceID, B: p.SourceID, Noise: labels(noise)})
	dup.Members = []*canasta.Person{p}
	return dup
}

func labels(noise []string) []string {
	if len(noise) == 0 {
		return []string{NoiseExact}
	}
	return noise
}

// newAddress draws an address elsewhere, in any region.
func (d *DuplicateGenerator) newAddress() canasta.Address {
	r := d.r
	region := &d.g.regions[d.g.pick.index(r)]
	loc := region.localities.index(r)
	return canasta.Address{
		Line:     string(appendAddressLine(nil, r, chance(r, region.hispanicMill))),
		Locality: region.localities.items[loc],
		Region:   region.name,
		Postcode: string(appendPostcode(nil, r, region.postcodes[loc])),
	}
}

// noisyCopy copies m with zero or more kinds of noise applied, and names
// the kinds that changed something.
func (d *DuplicateGenerator) noisyCopy(m *canasta.Person) (*canasta.Person, []string) {
	r := d.r
	p := *m
	p.Attributes = nil
	want := noiseCount.index(r)
	var applied []string
	for tries := 0; len(applied) < want && tries < 20; tries++ {
		total := 0
		for _, n := range personNoise {
			total += n.weight
		}
		k := r.IntN(total)
		var name string
		for _, n := range personNoise {
			if k < n.weight {
				name = n.name
				break
			}
			k -= n.weight
		}
		if slices.Contains(applied, name) {
			continue
		}
		if applyNoise(r, &p, name) {
			applied = append(applied, name)
		}
	}
	return &p, applied
}

// applyNoise changes p by one kind of noise and reports whether it could.
func applyNoise(r *rand.Rand, p *canasta.Person, noise string) bool {
	switch noise {
	case NoiseTypo, NoiseOCR:
		f := &p.GivenName
		if p.FamilyName != "" && r.IntN(2) == 0 {
			f = &p.FamilyName
		}
		var s string
		if noise == NoiseTypo {
			s = keyboardTypo(r, *f)
		} else {
			s = ocrError(r, *f)
		}
		if s == *f || strings.TrimSpace(s) == "" {
			return false
		}
		*f = s
	case NoiseSwappedNames:
		if p.FamilyName == "" || p.GivenName == p.FamilyName {
			return false
		}
		p.GivenName, p.FamilyName = p.FamilyName, p.GivenName
	case NoiseMissingName:
		return dropNamePart(r, p)
	case NoiseNickname:
		first, rest, _ := strings.Cut(p.GivenName, " ")
		nicks := nicknamesOf[first]
		if len(nicks) == 0 {
			return false
		}
		p.GivenName = nicks[r.IntN(len(nicks))]
		if rest != "" && r.IntN(2) == 0 {
			p.GivenName += " " + rest
		}
	case NoisePartialDate:
		if len(p.BirthDate) != 10 {
			return false
		}
		p.BirthDate = p.BirthDate[:4+3*r.IntN(2)]
	case NoiseTransposedDate:
		b := p.BirthDate
		if len(b) != 10 || b[5:7] == b[8:10] || b[8] > '1' || b[8:10] > "12" {
			return false
		}
		p.BirthDate = b[:5] + b[8:10] + "-" + b[5:7]
	case NoiseDateError:
		bd, err := canasta.ParseBirthDate(p.BirthDate)
		if err != nil || !bd.Known() {
			return false
		}
		if bd.Day == 0 || r.IntN(2) == 0 {
			bd.Year += 1 - 2*r.IntN(2)
			if bd.Month == 2 && bd.Day == 29 {
				bd.Day = 28 // not every year has the 29th
			}
		} else {
			bd.Day = (bd.Day+9)%28 + 1 // one wrong digit in most cases, always a valid day
		}
		p.BirthDate = formatBirthDate(bd)
	case NoiseMissingDate:
		if p.BirthDate == "" {
			return false
		}
		p.BirthDate = ""
	case NoiseIDError:
		if len(p.NationalID) < 2 {
			return false
		}
		b := []byte(p.NationalID)
		if i := r.IntN(len(b) - 1); r.IntN(2) == 0 && b[i] != b[i+1] {
			b[i], b[i+1] = b[i+1], b[i]
		} else {
			b[i] = '0' + (b[i]-'0'+1+byte(r.IntN(9)))%10
		}
		p.NationalID = string(b)
	case NoiseMissingID:
		if p.NationalID == "" {
			return false
		}
		p.NationalID = ""
	default:
		return false
	}
	return true
}

// dropNamePart leaves out one of two surnames, most often the second
// (the mother's, which many forms have no room for), or one of two given
// names, or, rarely, the surname altogether.
func dropNamePart(r *rand.Rand, p *canasta.Person) bool {
	first, second, two := splitSurnames(p.FamilyName)
	givens := strings.Fields(p.GivenName)
	switch {
	case two && (len(givens) != 2 || r.IntN(4) != 0):
		p.FamilyName = first
		if chance(r, 200) {
			p.FamilyName = second
		}
	case len(givens) == 2:
		p.GivenName = givens[0]
		if chance(r, 300) {
			p.GivenName = givens[1]
		}
	case p.FamilyName != "" && p.GivenName != "" && r.IntN(3) == 0:
		p.FamilyName = ""
	default:
		return false
	}
	return true
}

func formatBirthDate(b canasta.BirthDate) string {
	s := string(appendPadded(nil, int64(b.Year), 4))
	if b.Month != 0 {
		s += "-" + string(appendPadded(nil, int64(b.Month), 2))
	}
	if b.Day != 0 {
		s += "-" + string(appendPadded(nil, int64(b.Day), 2))
	}
	return s
}

// qwertyNeighbours are the keys next to each letter on a QWERTY keyboard,
// the layout of both English and Latin American keyboards for letters.
var qwertyNeighbours = map[rune]string{
	'q': "wa", 'w': "qes", 'e': "wrd", 'r': "etf", 't': "ryg", 'y': "tuh", 'u': "yij", 'i': "uok",
	'o': "ipl", 'p': "ol", 'a': "qsz", 's': "adwx", 'd': "sfec", 'f': "dgrv", 'g': "fhtb",
	'h': "gjyn", 'j': "hkum", 'k': "jli", 'l': "ko", 'z': "ax", 'x': "zcs", 'c': "xvd",
	'v': "cbf", 'b': "vng", 'n': "bmh", 'm': "nj",
}

// keyboardTypo makes one slip: a neighbouring key, a dropped or doubled
// letter, or two letters swapped.
func keyboardTypo(r *rand.Rand, s string) string {
	rs := []rune(s)
	var letters []int
	for i, c := range rs {
		if _, ok := qwertyNeighbours[toLowerASCII(c)]; ok {
			letters = append(letters, i)
		}
	}
	if len(letters) < 2 {
		return s
	}
	i := letters[r.IntN(len(letters))]
	switch k := r.IntN(20); {
	case k < 10:
		nb := qwertyNeighbours[toLowerASCII(rs[i])]
		c := rune(nb[r.IntN(len(nb))])
		if rs[i] >= 'A' && rs[i] <= 'Z' {
			c -= 'a' - 'A'
		}
		rs[i] = c
	case k < 14:
		rs = slices.Delete(rs, i, i+1)
	case k < 17:
		rs = slices.Insert(rs, i, rs[i])
	default:
		if i+1 < len(rs) && rs[i+1] != ' ' {
			rs[i], rs[i+1] = rs[i+1], rs[i]
		} else if i > 0 && rs[i-1] != ' ' {
			rs[i], rs[i-1] = rs[i-1], rs[i]
		}
	}
	return string(rs)
}

func toLowerASCII(c rune) rune {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// ocrConfusions are the letter shapes optical character recognition
// confuses on typed and hand-printed forms.
var ocrConfusions = [][2]string{
	{"m", "rn"}, {"rn", "m"}, {"d", "cl"}, {"cl", "d"}, {"h", "li"}, {"u", "v"}, {"v", "u"},
	{"e", "c"}, {"c", "e"}, {"a", "o"}, {"o", "a"}, {"i", "l"}, {"l", "i"}, {"n", "ri"},
	{"g", "q"}, {"b", "h"}, {"O", "0"}, {"I", "l"}, {"S", "5"}, {"B", "8"}, {"é", "e"}, {"ñ", "n"},
}

// ocrError misreads one shape of s.
func ocrError(r *rand.Rand, s string) string {
	type hit struct {
		at   int
		conf [2]string
	}
	var hits []hit
	for _, c := range ocrConfusions {
		for i := 0; i < len(s); {
			j := strings.Index(s[i:], c[0])
			if j < 0 {
				break
			}
			hits = append(hits, hit{i + j, c})
			_, n := utf8.DecodeRuneInString(s[i+j:])
			i += j + n
		}
	}
	if len(hits) == 0 {
		return s
	}
	h := hits[r.IntN(len(hits))]
	return s[:h.at] + h.conf[1] + s[h.at+len(h.conf[0]):]
}

// nicknamesOf gives familiar forms of the commoner given names.
var nicknamesOf = map[string][]string{
	"José": {"Pepe", "Chepe"}, "Francisco": {"Paco", "Pancho"}, "Guadalupe": {"Lupe", "Lupita"},
	"Jesús": {"Chucho", "Chuy"}, "Eduardo": {"Lalo"}, "Alejandro": {"Alex"}, "Rafael": {"Rafa"},
	"Fernando": {"Fer", "Nando"}, "Manuel": {"Manolo"}, "Antonio": {"Toño", "Tony"}, "Roberto": {"Beto"},
	"Santiago": {"Santi"}, "Sebastián": {"Sebas"}, "Javier": {"Javi"}, "Daniela": {"Dani"},
	"Gabriela": {"Gaby"}, "María": {"Mari"}, "Mónica": {"Mony"}, "Verónica": {"Vero"}, "Patricia": {"Paty"},
	"Natalia": {"Naty"}, "Valentina": {"Vale"}, "Sofía": {"Sofi"}, "Camila": {"Cami"}, "Dolores": {"Lola"},
	"Ricardo": {"Richi"}, "Luis": {"Lucho"}, "Juan": {"Juancho"}, "Salvador": {"Chava"},
	"William": {"Bill", "Will", "Billy"}, "Robert": {"Bob", "Rob", "Bobby"}, "James": {"Jim", "Jimmy"},
	"John": {"Johnny", "Jack"}, "Michael": {"Mike"}, "David": {"Dave"}, "Daniel": {"Dan", "Danny"},
	"Joseph": {"Joe"}, "Thomas": {"Tom", "Tommy"}, "Matthew": {"Matt"}, "Christopher": {"Chris"},
	"Anthony": {"Tony"}, "Elizabeth": {"Liz", "Beth"}, "Jennifer": {"Jen", "Jenny"}, "Jessica": {"Jess"},
	"Sarah": {"Sally"}, "Mary": {"Molly"}, "Olivia": {"Liv"}, "Patrick": {"Pat"}, "Kevin": {"Kev"},
	"Charlotte": {"Lottie"}, "Amelia": {"Millie"}, "Sophia": {"Sophie"}, "Hannah": {"Hanna"},
}

// DuplicateStats counts what WriteDuplicatesCSV wrote.
type DuplicateStats struct {
	Persons    int // rows, originals and duplicates
	Duplicates int // duplicate persons, one truth pair each
}

// TruthHeader is the header of the truth file.
var TruthHeader = []string{"a_source_id", "b_source_id", "noise"}

// WriteDuplicatesCSV writes cfg's population with duplicates at rate in
// the import CSV format to w, and the truth pairs to truth: a CSV file
// with TruthHeader, one row per duplicate, the noise types joined by "+".
func WriteDuplicatesCSV(w, truth io.Writer, cfg Config, rate float64) (DuplicateStats, error) {
	var st DuplicateStats
	bw := bufio.NewWriterSize(w, 64<<10)
	cw := csv.NewWriter(bw)
	if err := cw.Write(CSVHeader); err != nil {
		return st, fmt.Errorf("write csv header: %w", err)
	}
	d := NewWithDuplicates(cfg, rate)
	rec := make([]string, len(CSVHeader))
	for h := d.Next(); h != nil; h = d.Next() {
		income := ""
		if h.MonthlyIncome != canasta.UnknownIncome {
			income = strconv.FormatInt(h.MonthlyIncome, 10)
		}
		for _, p := range h.Members {
			if err := cw.Write(csvRecord(rec, h, income, p)); err != nil {
				return st, fmt.Errorf("write csv household %s: %w", h.SourceID, err)
			}
			st.Persons++
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return st, fmt.Errorf("write csv: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return st, fmt.Errorf("write csv: %w", err)
	}
	tw := csv.NewWriter(truth)
	if err := tw.Write(TruthHeader); err != nil {
		return st, fmt.Errorf("write truth: %w", err)
	}
	for _, t := range d.Truth() {
		if err := tw.Write([]string{t.A, t.B, strings.Join(t.Noise, "+")}); err != nil {
			return st, fmt.Errorf("write truth: %w", err)
		}
	}
	tw.Flush()
	st.Duplicates = len(d.Truth())
	return st, tw.Error()
}
