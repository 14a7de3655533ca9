package dedup

import (
	"cmp"
	"slices"
)

// blockingKey puts records that might be the same person in the same
// block; only records sharing a block on some key are compared. Each key
// tolerates errors the others do not, so a duplicate missed by one is
// caught by another: names by their sound, the birth date with one name,
// the national id by its halves (an id with one wrong digit keeps one half
// whole).
type blockingKey struct {
	name string
	// key appends the record's keys, if any, to keys.
	key func(r *Record, keys []uint64) []uint64
	// order sorts a block too large to compare whole, so that records
	// likely to match end up near each other.
	order func(a, b *Record) int
}

// maxBlock is the largest block compared pair by pair; a larger one is
// sorted and each record compared with the next window records only,
// which keeps the number of pairs linear in the number of records even
// for the commonest names.
const (
	maxBlock = 24
	window   = 6
)

func byBirth(a, b *Record) int {
	return cmp.Or(cmp.Compare(a.birth.Year, b.birth.Year), cmp.Compare(a.birth.Month, b.birth.Month),
		cmp.Compare(a.birth.Day, b.birth.Day), cmp.Compare(a.given.join, b.given.join))
}

func byGiven(a, b *Record) int {
	return cmp.Or(cmp.Compare(a.given.canonJoin, b.given.canonJoin), byBirth(a, b))
}

// fullBirth is the full birth date as a key, or "" unless it is full.
func fullBirth(r *Record) string { return r.birthKey }

func initial(s string) string { return s[:min(1, len(s))] }

// byNames sorts by the given names as written out in full, so nicknames
// sort next to the names they stand for.
func byNames(a, b *Record) int {
	return cmp.Or(cmp.Compare(a.given.canonJoin, b.given.canonJoin), cmp.Compare(a.family.join, b.family.join), byBirth(a, b))
}

func prefix(s string, n int) string { return s[:min(n, len(s))] }

// bothWays calls key for the given and family names in both orders, since
// either may have been entered in the other's field.
func bothWays(r *Record, keys []uint64, key func(x, y *namePart) (uint64, bool)) []uint64 {
	if k, ok := key(&r.given, &r.family); ok {
		keys = append(keys, k)
	}
	if k, ok := key(&r.family, &r.given); ok {
		keys = append(keys, k)
	}
	return keys
}

// eachSurname calls key for each word of the surnames: with two
// surnames, either may be the one left out on another registration.
func eachSurname(r *Record, keys []uint64, key func(w int) (uint64, bool)) []uint64 {
	for w := range r.family.words {
		if k, ok := key(w); ok {
			keys = append(keys, k)
		}
	}
	return keys
}

func one(keys []uint64, k uint64, ok bool) []uint64 {
	if ok {
		keys = append(keys, k)
	}
	return keys
}

var blockingKeys = []blockingKey{
	{"national_id", func(r *Record, keys []uint64) []uint64 {
		return one(keys, hash64("n", r.nationalID), r.nationalID != "")
	}, byGiven},
	// Three keys of six of the id's ten digits: one digit wrong, or two
	// next to each other swapped, leaves at least one of them whole.
	{"national_id_parts", func(r *Record, keys []uint64) []uint64 {
		id := r.nationalID
		if len(id) < 8 {
			return keys
		}
		n := len(id)
		return append(keys, hash64("n1", id[:n-4]), hash64("n2", id[4:]), hash64("n3", id[:3], id[n-3:]))
	}, byGiven},
	{"name_sounds", func(r *Record, keys []uint64) []uint64 {
		g, f := r.given.code, r.family.code
		if g > f {
			g, f = f, g // either order: given and family names get swapped
		}
		return one(keys, hash64("ns", g, f), g != "" && f != "")
	}, byNames},
	{"name_initial", func(r *Record, keys []uint64) []uint64 {
		keys = bothWays(r, keys, func(x, y *namePart) (uint64, bool) {
			return hash64("ni", x.join, initial(y.join)), x.join != ""
		})
		// The second of two surnames alone, for a registration with the
		// first left out; with the second left out the first key serves.
		if len(r.family.words) > 1 && !r.given.empty() {
			for _, w := range r.family.words[1:] {
				keys = append(keys, hash64("ni", w, initial(r.given.join)))
			}
		}
		return keys
	}, byNames},
	{"name_year", func(r *Record, keys []uint64) []uint64 {
		if r.birth.Year == 0 {
			return keys
		}
		y := r.yearKey
		if !r.given.empty() {
			keys = append(keys, hash64("ny", prefix(r.given.join, 4), y))
		}
		return eachSurname(r, keys, func(w int) (uint64, bool) {
			return hash64("ny", prefix(r.family.words[w], 4), y), true
		})
	}, byNames},
	{"sound_birth", func(r *Record, keys []uint64) []uint64 {
		d := fullBirth(r)
		if d == "" {
			return keys
		}
		if r.given.code != "" {
			keys = append(keys, hash64("sb", r.given.code, d))
		}
		return eachSurname(r, keys, func(w int) (uint64, bool) {
			c := r.family.wordCode(w)
			return hash64("sb", c, d), c != ""
		})
	}, byNames},
	// The full birth date with the initial of any one name: few people
	// share a birthday, so the blocks are small even with one initial.
	{"birth_initial", func(r *Record, keys []uint64) []uint64 {
		d := fullBirth(r)
		if d == "" {
			return keys
		}
		keys = one(keys, hash64("bi", d, initial(r.given.join)), !r.given.empty())
		return eachSurname(r, keys, func(w int) (uint64, bool) {
			return hash64("bi", d, initial(r.family.words[w])), initial(r.family.words[w]) != initial(r.given.join)
		})
	}, byNames},
	{"address", func(r *Record, keys []uint64) []uint64 {
		return one(keys, hash64("ad", r.postcodeText, r.addrLine), r.addrLine != "")
	}, byNames},
}

// keyed is one record's key on one blocking key.
type keyed struct {
	key uint64
	rec int32
}

// candidatePairs returns the pairs of records sharing a block on key k,
// each as a<<32|b with a < b.
func candidatePairs(recs []Record, k blockingKey, out []uint64) []uint64 {
	ks := make([]keyed, 0, 2*len(recs))
	var buf []uint64
	for i := range recs {
		buf = k.key(&recs[i], buf[:0])
		for _, h := range buf {
			ks = append(ks, keyed{h, int32(i)})
		}
	}
	slices.SortFunc(ks, func(a, b keyed) int { return cmp.Compare(a.key, b.key) })
	// Room for the most pairs the blocks can give, so out grows once.
	most := 0
	for i := 0; i < len(ks); {
		j := i + 1
		for j < len(ks) && ks[j].key == ks[i].key {
			j++
		}
		if n := j - i; n > maxBlock {
			most += n * window
		} else {
			most += n * (n - 1) / 2
		}
		i = j
	}
	out = slices.Grow(out, most)
	var block []int32
	for i := 0; i < len(ks); {
		j := i + 1
		for j < len(ks) && ks[j].key == ks[i].key {
			j++
		}
		if j-i > 1 {
			block = block[:0]
			for _, e := range ks[i:j] {
				block = append(block, e.rec)
			}
			out = appendBlockPairs(out, recs, block, k.order)
		}
		i = j
	}
	return out
}

func appendBlockPairs(out []uint64, recs []Record, block []int32, order func(a, b *Record) int) []uint64 {
	w := len(block)
	if len(block) > maxBlock {
		slices.SortFunc(block, func(a, b int32) int { return order(&recs[a], &recs[b]) })
		w = window + 1
	}
	for i, a := range block {
		for _, b := range block[i+1 : min(len(block), i+w)] {
			if recs[a].household == recs[b].household {
				continue // members of one household are different people
			}
			out = append(out, pairKey(a, b))
		}
	}
	return out
}

func pairKey(a, b int32) uint64 {
	if a > b {
		a, b = b, a
	}
	return uint64(a)<<32 | uint64(b)
}
