package dedup

import (
	"strings"

	"github.com/canasta/canasta"
)

// Record is a person prepared for comparison: names split into folded
// words with their sound codes and full forms of nicknames, the birth date
// parsed, the address cut into words. Preparing once makes each of the
// millions of pair comparisons cheap.
type Record struct {
	SourceID    string
	PersonID    string
	HouseholdID string
	household   int32 // dense household number, for household context

	given, family      namePart
	birth              canasta.BirthDate
	birthKey, yearKey  string // the full date and the year as keys, or ""
	sex                canasta.Sex
	nationalID         string // digits and letters only
	addr               []uint32
	addrNumber         uint32 // hash of the line's words with digits, or 0
	addrLine           string // folded words of the address line
	postcodeText       string
	locality, postcode uint32 // hashes of the folded words, or 0 if none
}

// NewRecord prepares p for comparison. household numbers the person's
// household densely; persons of one household share it.
func NewRecord(p *canasta.PersonRecord, household int32) Record {
	r := Record{SourceID: p.SourceID, PersonID: p.ID, HouseholdID: p.HouseholdID, household: household, sex: p.Sex}
	r.given = newNamePart(Tokens(p.GivenName, false), true)
	r.family = newNamePart(Tokens(p.FamilyName, true), false)
	r.birth, _ = canasta.ParseBirthDate(p.BirthDate)
	if r.birth.Known() {
		r.yearKey = p.BirthDate[:4]
	}
	if r.birth.Day != 0 {
		r.birthKey = p.BirthDate
	}
	r.nationalID = strings.Join(Tokens(p.NationalID, false), "")
	line := Tokens(p.Address.Line, false)
	r.addrLine = strings.Join(line, " ")
	number := ""
	for _, t := range line {
		r.addr = append(r.addr, hash32(t))
		if strings.ContainsAny(t, "0123456789") {
			number += t + " "
		}
	}
	if number != "" {
		r.addrNumber = hash32(number)
	}
	if loc := strings.Join(Tokens(p.Address.Locality, false), " "); loc != "" {
		r.locality = hash32(loc) | 1
	}
	r.postcodeText = strings.Join(Tokens(p.Address.Postcode, false), "")
	if r.postcodeText != "" {
		r.postcode = hash32(r.postcodeText) | 1
	}
	return r
}

// hash32 is FNV-1a: address words are compared as sets of small integers.
func hash32(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

// hash64 is FNV-1a over several strings with a separator, for blocking keys.
func hash64(parts ...string) uint64 {
	h := uint64(14695981039346656037)
	for _, s := range parts {
		for i := 0; i < len(s); i++ {
			h ^= uint64(s[i])
			h *= 1099511628211
		}
		h ^= 0xff
		h *= 1099511628211
	}
	return h
}

// namePart is the given names or the surnames of a person.
type namePart struct {
	id      uint32   // the same for equal names within one Link; 0 if unnumbered
	words   []string // folded
	wordIDs []uint32 // the words numbered within one Link, or nil
	join    string   // words joined by spaces
	canon   []string // words with nicknames written out in full (given names only)
	codes   []string // sound codes of the canonical words
	// canonJoin is canon joined by spaces.
	canonJoin string
	code      string // codes[0], or ""
}

func newNamePart(words []string, given bool) namePart {
	n := namePart{words: words, join: strings.Join(words, " "), canon: words}
	if given {
		var canon []string
		for _, w := range words {
			canon = append(canon, strings.Fields(Canonical(w))...)
		}
		n.canon = canon
	}
	n.canonJoin = strings.Join(n.canon, " ")
	for _, w := range n.canon {
		n.codes = append(n.codes, Phonetic(w))
	}
	if len(n.codes) > 0 {
		n.code = n.codes[0]
	}
	return n
}

func (n *namePart) empty() bool { return len(n.words) == 0 }

// wordCode is the sound code of word i, or "" if the words and their
// canonical forms do not line up (a nickname written out in two words).
func (n *namePart) wordCode(i int) string {
	if len(n.codes) != len(n.words) {
		return ""
	}
	return n.codes[i]
}
