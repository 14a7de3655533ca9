package dedup

import "strings"

// Phonetic returns a sound code for one name word, folded to lower-case
// ASCII by Tokens, that is equal for the usual spellings of the same
// sound in Spanish and in English: silent h, b/v, c/k/qu, soft c/s/z,
// soft g/j/x, ll/y, ph/f, th/t, kn/n, wr/r, and doubled letters. The first
// sound is kept whole, vowels after it are dropped. So "Vásquez",
// "Vázquez" and "Basques" share a code, as do "Jiménez", "Giménez" and
// "Ximénez", "Felipe" and "Philip", "Smith" and "Smyth".
func Phonetic(word string) string {
	s := []byte(word)
	n := len(s)
	at := func(i int) byte {
		if i >= 0 && i < n {
			return s[i]
		}
		return 0
	}
	front := func(c byte) bool { return c == 'e' || c == 'i' || c == 'y' }
	out := make([]byte, 0, n)
	emit := func(c byte) {
		if len(out) > 0 && out[len(out)-1] == c {
			return
		}
		out = append(out, c)
	}
	i := 0
	// Silent initial letters of English spellings.
	switch {
	case strings.HasPrefix(word, "kn"), strings.HasPrefix(word, "gn"), strings.HasPrefix(word, "pn"),
		strings.HasPrefix(word, "wr"), strings.HasPrefix(word, "ps"):
		i = 1
	case strings.HasPrefix(word, "x"):
		emit('j') // Ximena, Xavier: Spanish names, spelt today with J
		i = 1
	}
	for ; i < n; i++ {
		c := s[i]
		next := at(i + 1)
		switch c {
		case 'a', 'e', 'i', 'o', 'u':
			emit('a')
		case 'y':
			if isVowel(next) {
				emit('y') // consonant: Yolanda, Reyes
			} else {
				emit('a')
			}
		case 'h':
			// silent in Spanish and mostly in English; digraphs are handled
			// by the letter before
		case 'b', 'v':
			emit('b')
		case 'w':
			if next == 'h' {
				i++
			}
			emit('w')
		case 'c':
			switch {
			case next == 'h':
				emit('x') // ch: Chávez, Charles
				i++
			case next == 'k':
				emit('k')
				i++
			case front(next):
				emit('s')
			default:
				emit('k')
			}
		case 'k':
			emit('k')
		case 'q':
			emit('k')
			if next == 'u' {
				i++
			}
		case 'g':
			switch {
			case next == 'h':
				emit('g')
				i++
			case next == 'u' && front(at(i+2)):
				emit('g') // Guillermo, Miguel: the u is silent
				i++
			case front(next):
				emit('j')
			default:
				emit('g')
			}
		case 'j':
			emit('j')
		case 'x':
			emit('k')
			emit('s')
		case 'z', 's':
			if c == 's' && next == 'h' {
				emit('x')
				i++
			} else {
				emit('s')
			}
		case 'p':
			if next == 'h' {
				emit('f')
				i++
			} else {
				emit('p')
			}
		case 't':
			emit('t')
			if next == 'h' {
				i++
			}
		case 'l':
			if next == 'l' && i == 0 {
				emit('y') // Llanos and Yanos sound alike; inside a word ll is
				i++       // l in English and close to it in Spanish spelling
			} else if next == 'l' {
				emit('l')
				i++
			} else {
				emit('l')
			}
		case 'm':
			if next == 'b' || next == 'p' {
				emit('n') // Ambrosio and Anbrosio sound alike
			} else {
				emit('m')
			}
		default:
			emit(c)
		}
	}
	// Keep the first sound whole; drop later vowels.
	code := out[:0]
	for j, c := range out {
		if j > 0 && c == 'a' {
			continue
		}
		if len(code) > 0 && code[len(code)-1] == c {
			continue
		}
		code = append(code, c)
	}
	return string(code)
}

func isVowel(c byte) bool {
	return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u'
}

// Soundex returns the American Soundex code of an ASCII name, as the U.S.
// National Archives define it: the first letter, then three digits for
// the following consonant groups, with h and w not separating letters of
// the same code. It is used as a second opinion on English names.
func Soundex(word string) string {
	code := func(c byte) byte {
		switch c {
		case 'b', 'f', 'p', 'v':
			return '1'
		case 'c', 'g', 'j', 'k', 'q', 's', 'x', 'z':
			return '2'
		case 'd', 't':
			return '3'
		case 'l':
			return '4'
		case 'm', 'n':
			return '5'
		case 'r':
			return '6'
		}
		return 0
	}
	w := strings.ToLower(word)
	first := -1
	for i := 0; i < len(w); i++ {
		if w[i] >= 'a' && w[i] <= 'z' {
			first = i
			break
		}
	}
	if first < 0 {
		return ""
	}
	out := []byte{w[first] - 'a' + 'A'}
	last := code(w[first])
	for i := first + 1; i < len(w) && len(out) < 4; i++ {
		c := w[i]
		if c < 'a' || c > 'z' {
			continue
		}
		d := code(c)
		switch {
		case d != 0 && d != last:
			out = append(out, d)
			last = d
		case c == 'h' || c == 'w':
			// keep last: letters of the same code either side merge
		default:
			last = d
		}
	}
	for len(out) < 4 {
		out = append(out, '0')
	}
	return string(out)
}
