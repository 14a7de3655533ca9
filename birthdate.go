package canasta

import "time"

// BirthDate is a possibly partial date of birth. Many people registered
// by benefit programs know only their birth year, or nothing.
type BirthDate struct {
	Year, Month, Day int // zero where unknown
}

// Known reports whether at least the year is known.
func (b BirthDate) Known() bool { return b.Year != 0 }

// ParseBirthDate accepts "YYYY-MM-DD", "YYYY-MM", "YYYY" or "".
func ParseBirthDate(s string) (BirthDate, error) {
	var b BirthDate
	if s == "" {
		return b, nil
	}
	// The message is built only on failure: a cycle parses every
	// member's date.
	bad := func() error { return Errorf(EINVALID, "Birth date %q must be YYYY-MM-DD, YYYY-MM, YYYY or empty.", s) }
	if (len(s) != 4 && len(s) != 7 && len(s) != 10) || !digitsAt(s) {
		return BirthDate{}, bad()
	}
	b.Year = atoi(s[0:4])
	if len(s) >= 7 {
		b.Month = atoi(s[5:7])
	}
	if len(s) == 10 {
		b.Day = atoi(s[8:10])
	}
	if b.Year < 1850 || b.Year > 2200 || (len(s) >= 7 && (b.Month < 1 || b.Month > 12)) {
		return BirthDate{}, bad()
	}
	if len(s) == 10 {
		t := time.Date(b.Year, time.Month(b.Month), b.Day, 0, 0, 0, 0, time.UTC)
		if b.Day < 1 || t.Day() != b.Day {
			return BirthDate{}, Errorf(EINVALID, "Birth date %q is not a calendar date.", s)
		}
	}
	return b, nil
}

// atoi reads digits already checked by digitsAt.
func atoi(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// AgeOn returns the age in whole years on the given day, or UnknownAge.
// A missing month is taken as July and a missing day as the 15th: the middle
// of the range, so a partial date neither ages nor rejuvenates anyone by
// more than half the unknown span. A birth after the day gives 0.
func (b BirthDate) AgeOn(day time.Time) int {
	if !b.Known() {
		return UnknownAge
	}
	m, d := b.Month, b.Day
	if m == 0 {
		m = 7
	}
	if d == 0 {
		d = 15
	}
	age := day.Year() - b.Year
	if int(day.Month()) < m || (int(day.Month()) == m && day.Day() < d) {
		age--
	}
	if age < 0 {
		return 0
	}
	return age
}

// digitsAt checks that every character except the dashes at 4 and 7 is a digit.
func digitsAt(s string) bool {
	for i := 0; i < len(s); i++ {
		if i == 4 || i == 7 {
			if s[i] != '-' {
				return false
			}
			continue
		}
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
