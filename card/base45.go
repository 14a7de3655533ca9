package card

import (
	"errors"
	"fmt"
	"strings"
)

// base45Alphabet is RFC 9285's: the 45 characters of QR alphanumeric mode,
// so a Base45 text fills a QR code at 5.5 bits per character.
const base45Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

var base45Value = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for i := 0; i < len(base45Alphabet); i++ {
		t[base45Alphabet[i]] = int8(i)
	}
	return t
}()

// Base45Encode returns the RFC 9285 Base45 text of b.
func Base45Encode(b []byte) string {
	var sb strings.Builder
	sb.Grow((len(b)/2)*3 + (len(b)%2)*2)
	for i := 0; i+1 < len(b); i += 2 {
		n := int(b[i])<<8 | int(b[i+1])
		sb.WriteByte(base45Alphabet[n%45])
		n /= 45
		sb.WriteByte(base45Alphabet[n%45])
		sb.WriteByte(base45Alphabet[n/45])
	}
	if len(b)%2 == 1 {
		n := int(b[len(b)-1])
		sb.WriteByte(base45Alphabet[n%45])
		sb.WriteByte(base45Alphabet[n/45])
	}
	return sb.String()
}

var errBase45Length = errors.New("base45: length leaves a single character")

// Base45Decode returns the bytes of an RFC 9285 Base45 text. It refuses
// characters outside the alphabet (lower case included), a dangling single
// character, and groups whose value does not fit their bytes, so every byte
// string has exactly one accepted text.
func Base45Decode(s string) ([]byte, error) {
	if len(s)%3 == 1 {
		return nil, errBase45Length
	}
	out := make([]byte, 0, len(s)/3*2+1)
	for i := 0; i < len(s); i += 3 {
		n := 0
		w := 1
		end := min(i+3, len(s))
		for j := i; j < end; j++ {
			v := base45Value[s[j]]
			if v < 0 {
				return nil, fmt.Errorf("base45: invalid character %q at %d", s[j], j)
			}
			n += int(v) * w
			w *= 45
		}
		if end-i == 3 {
			if n > 0xFFFF {
				return nil, fmt.Errorf("base45: group at %d is %d, above 65535", i, n)
			}
			out = append(out, byte(n>>8), byte(n))
		} else {
			if n > 0xFF {
				return nil, fmt.Errorf("base45: final pair at %d is %d, above 255", i, n)
			}
			out = append(out, byte(n))
		}
	}
	return out, nil
}
