package dedup

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// foldRune maps the accented Latin letters of Spanish, Portuguese, French
// and Irish names to their base letter, so "Vásquez" and "Vasquez" and a
// keyboard without dead keys all give the same text.
func foldRune(r rune) rune {
	switch r {
	case 'á', 'à', 'â', 'ä', 'ã', 'å', 'Á', 'À', 'Â', 'Ä', 'Ã', 'Å':
		return 'a'
	case 'é', 'è', 'ê', 'ë', 'É', 'È', 'Ê', 'Ë':
		return 'e'
	case 'í', 'ì', 'î', 'ï', 'Í', 'Ì', 'Î', 'Ï':
		return 'i'
	case 'ó', 'ò', 'ô', 'ö', 'õ', 'Ó', 'Ò', 'Ô', 'Ö', 'Õ':
		return 'o'
	case 'ú', 'ù', 'û', 'ü', 'Ú', 'Ù', 'Û', 'Ü':
		return 'u'
	case 'ñ', 'Ñ':
		return 'n'
	case 'ç', 'Ç':
		return 'c'
	case 'ý', 'ÿ', 'Ý':
		return 'y'
	}
	return unicode.ToLower(r)
}

// particles are the connecting words of Spanish, Portuguese and Dutch
// surnames. Clerks write them inconsistently ("de la Cruz", "Cruz",
// "Delacruz"), so they carry no evidence and are dropped.
var particles = map[string]bool{
	"de": true, "del": true, "la": true, "las": true, "los": true, "y": true,
	"da": true, "das": true, "do": true, "dos": true, "van": true, "von": true, "der": true,
}

// Tokens returns the lower-case, accent-free words of a name or address,
// splitting on anything that is not a letter or digit and removing
// apostrophes inside words ("O'Brien" is "obrien"). If dropParticles,
// surname particles are left out unless nothing else remains.
func Tokens(s string, dropParticles bool) []string {
	var out []string
	var b strings.Builder
	flush := func() {
		if b.Len() > 0 {
			out = append(out, b.String())
			b.Reset()
		}
	}
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		switch {
		case r == '\'' || r == '’' || r == '`' || r == '´':
			// inside a word: skip
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(foldRune(r))
		default:
			flush()
		}
	}
	flush()
	if dropParticles && len(out) > 1 {
		kept := out[:0:0]
		for _, t := range out {
			if !particles[t] {
				kept = append(kept, t)
			}
		}
		if len(kept) > 0 {
			out = kept
		}
	}
	return out
}
