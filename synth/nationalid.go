package synth

// nationalIDs issues unique ten-digit identifiers: nine digits that look
// random, then a Luhn check digit, the way many civil registries shape
// them. Uniqueness comes from a keyed permutation of a counter, so no set
// of issued ids has to be kept, even for millions of people.
type nationalIDs struct {
	keys [4]uint32
	next uint32
}

const (
	idBodyBase  = 100_000_000 // bodies never start with a zero
	idBodySpace = 900_000_000
	idDomain    = 1 << 30 // the permutation's domain, just above idBodySpace
	halfBits    = 15
	halfMask    = 1<<halfBits - 1
)

func newNationalIDs(seed uint64) nationalIDs {
	var n nationalIDs
	for i := range n.keys {
		seed = splitmix(seed)
		n.keys[i] = uint32(seed)
	}
	return n
}

// appendNext writes the next identifier, or reports false once the
// nine-digit space is spent.
func (n *nationalIDs) appendNext(b []byte) ([]byte, bool) {
	if n.next >= idBodySpace {
		return b, false
	}
	v := n.permute(n.next)
	// Cycle-walking: the permutation covers 2^30 values; stepping again
	// from any value past the body space stays a bijection on it.
	for v >= idBodySpace {
		v = n.permute(v)
	}
	n.next++
	body := int64(idBodyBase + v)
	start := len(b)
	b = appendPadded(b, body, 9)
	return append(b, luhnDigit(b[start:])), true
}

// permute is a four-round Feistel network over 30 bits.
func (n *nationalIDs) permute(x uint32) uint32 {
	l, r := x>>halfBits, x&halfMask
	for _, k := range n.keys {
		l, r = r, l^(mix(r^k)&halfMask)
	}
	return l<<halfBits | r
}

func mix(x uint32) uint32 {
	x ^= x >> 16
	x *= 0x7feb352d
	x ^= x >> 15
	x *= 0x846ca68b
	x ^= x >> 16
	return x
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// luhnDigit returns the check digit that makes digits followed by it pass
// the Luhn test.
func luhnDigit(digits []byte) byte {
	sum := 0
	double := true // the rightmost body digit is doubled once a check digit follows
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return byte('0' + (10-sum%10)%10)
}

// ValidNationalID reports whether s has the shape of a generated national
// id: ten digits whose last is the Luhn check digit of the first nine.
func ValidNationalID(s string) bool {
	if len(s) != 10 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return luhnDigit([]byte(s[:9])) == s[9]
}
