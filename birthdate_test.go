package canasta_test

import (
	"testing"
	"time"

	"github.com/canasta/canasta"
)

func TestParseBirthDate(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    canasta.BirthDate
		wantErr bool
	}{
		{"full", "1987-04-23", canasta.BirthDate{Year: 1987, Month: 4, Day: 23}, false},
		{"leap_day", "2024-02-29", canasta.BirthDate{Year: 2024, Month: 2, Day: 29}, false},
		{"year_month", "2010-11", canasta.BirthDate{Year: 2010, Month: 11}, false},
		{"year", "1950", canasta.BirthDate{Year: 1950}, false},
		{"empty", "", canasta.BirthDate{}, false},
		{"oldest_year", "1850", canasta.BirthDate{Year: 1850}, false},
		{"before_1850", "1849", canasta.BirthDate{}, true},
		{"month_13", "2026-13", canasta.BirthDate{}, true},
		{"month_00", "2026-00", canasta.BirthDate{}, true},
		{"feb_30", "2026-02-30", canasta.BirthDate{}, true},
		{"not_leap_feb_29", "2023-02-29", canasta.BirthDate{}, true},
		{"day_00", "2026-01-00", canasta.BirthDate{}, true},
		{"day_32", "2026-01-32", canasta.BirthDate{}, true},
		{"two_digit_year", "26-01-01", canasta.BirthDate{}, true},
		{"letters", "abcd", canasta.BirthDate{}, true},
		{"one_digit_month", "2026-1", canasta.BirthDate{}, true},
		{"leading_space", " 2026", canasta.BirthDate{}, true},
		{"trailing_space", "2026 ", canasta.BirthDate{}, true},
		{"slashes", "2026/01/01", canasta.BirthDate{}, true},
		{"sign", "+202", canasta.BirthDate{}, true},
		{"day_month_year", "01-01-2026", canasta.BirthDate{}, true},
		{"trailing_letter", "2026-01-0x", canasta.BirthDate{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := canasta.ParseBirthDate(tt.in)
			if tt.wantErr {
				if canasta.ErrorCode(err) != canasta.EINVALID {
					t.Fatalf("ParseBirthDate(%q) = %+v, %v; want EINVALID", tt.in, got, err)
				}
				if got != (canasta.BirthDate{}) {
					t.Errorf("ParseBirthDate(%q) returned %+v with an error, want zero", tt.in, got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("ParseBirthDate(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
			if got.Known() != (tt.in != "") {
				t.Errorf("ParseBirthDate(%q).Known() = %v", tt.in, got.Known())
			}
		})
	}
}

func TestBirthDateAgeOn(t *testing.T) {
	day := func(s string) time.Time {
		d, err := time.Parse("2006-01-02", s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	tests := []struct {
		name  string
		birth string
		on    string
		want  int
	}{
		{"day_before_birthday", "2000-03-15", "2026-03-14", 25},
		{"on_birthday", "2000-03-15", "2026-03-15", 26},
		{"month_before_birthday", "2000-03-15", "2026-02-28", 25},
		{"month_after_birthday", "2000-03-15", "2026-04-01", 26},
		{"leap_day_birth_before", "2004-02-29", "2026-02-28", 21},
		{"leap_day_birth_after", "2004-02-29", "2026-03-01", 22},
		{"born_that_day", "2026-01-01", "2026-01-01", 0},
		{"first_birthday", "2025-01-01", "2026-01-01", 1},
		{"year_only_before_july_15", "2000", "2026-07-14", 25},
		{"year_only_on_july_15", "2000", "2026-07-15", 26},
		{"year_month_uses_15th_before", "2000-03", "2026-03-14", 25},
		{"year_month_uses_15th_on", "2000-03", "2026-03-15", 26},
		{"unknown", "", "2026-01-01", canasta.UnknownAge},
		{"future_full", "2027-05-01", "2026-01-01", 0},
		{"future_year", "2030", "2026-01-01", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := canasta.ParseBirthDate(tt.birth)
			if err != nil {
				t.Fatal(err)
			}
			if got := b.AgeOn(day(tt.on)); got != tt.want {
				t.Errorf("ParseBirthDate(%q).AgeOn(%s) = %d, want %d", tt.birth, tt.on, got, tt.want)
			}
		})
	}
}
