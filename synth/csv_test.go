package synth

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"slices"
	"strconv"
	"testing"

	"github.com/canasta/canasta"
)

func TestWriteCSV(t *testing.T) {
	cfg := Config{Households: 2000, Seed: 9}
	var buf bytes.Buffer
	n, err := WriteCSV(&buf, cfg)
	if err != nil {
		t.Fatal(err)
	}
	cr := csv.NewReader(&buf)
	cr.FieldsPerRecord = len(CSVHeader)
	records, err := cr.ReadAll()
	if err != nil {
		t.Fatalf("output does not parse back: %v", err)
	}
	households := generate(cfg)
	persons := 0
	for _, h := range households {
		persons += len(h.Members)
	}

	t.Run("header", func(t *testing.T) {
		if !slices.Equal(records[0], CSVHeader) {
			t.Fatalf("header = %q, want %q", records[0], CSVHeader)
		}
	})
	t.Run("row count", func(t *testing.T) {
		if n != persons || len(records)-1 != persons {
			t.Fatalf("WriteCSV returned %d and wrote %d rows, want %d persons", n, len(records)-1, persons)
		}
	})
	t.Run("rows match households", func(t *testing.T) {
		col := map[string]int{}
		for i, name := range CSVHeader {
			col[name] = i
		}
		row := 1
		for _, h := range households {
			income := ""
			if h.MonthlyIncome != canasta.UnknownIncome {
				income = strconv.FormatInt(h.MonthlyIncome, 10)
			}
			for i, p := range h.Members {
				rec := records[row]
				row++
				want := map[string]string{
					"source_id": p.SourceID, "household_ref": h.SourceID, "relationship": p.Relationship,
					"given_name": p.GivenName, "family_name": p.FamilyName, "birth_date": p.BirthDate,
					"sex": string(p.Sex), "national_id": p.NationalID, "address": h.Address.Line,
					"locality": h.Address.Locality, "region": h.Address.Region, "postcode": h.Address.Postcode,
					"monthly_income": income, "disability": strconv.FormatBool(p.Disability),
				}
				for name, v := range want {
					if got := rec[col[name]]; got != v {
						t.Fatalf("line %d %s = %q, want %q", row, name, got, v)
					}
				}
				if i == 0 && rec[col["relationship"]] != canasta.RelationshipHead {
					t.Fatalf("line %d: first row of %s is not the head", row, h.SourceID)
				}
			}
		}
	})
	t.Run("unknowns are empty", func(t *testing.T) {
		var emptyIncome, emptyDate, badDisability int
		for _, rec := range records[1:] {
			if rec[12] == "" {
				emptyIncome++
			}
			if rec[5] == "" {
				emptyDate++
			}
			if rec[13] != "true" && rec[13] != "false" {
				badDisability++
			}
		}
		if emptyIncome == 0 || emptyDate == 0 || badDisability != 0 {
			t.Fatalf("empty incomes %d, empty birth dates %d (want some of each); disability not true/false on %d rows",
				emptyIncome, emptyDate, badDisability)
		}
	})
}

func TestWriteCSVDeterminism(t *testing.T) {
	write := func(seed int64) []byte {
		var buf bytes.Buffer
		if _, err := WriteCSV(&buf, Config{Households: 300, Seed: seed}); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	a := write(3)
	tests := []struct {
		name  string
		seed  int64
		equal bool
	}{
		{"same seed", 3, true},
		{"different seed", 4, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if eq := bytes.Equal(a, write(tt.seed)); eq != tt.equal {
				t.Fatalf("outputs equal = %v, want %v", eq, tt.equal)
			}
		})
	}
}

type failingWriter struct{ after int }

var errDiskFull = errors.New("disk full")

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.after -= len(p); w.after < 0 {
		return 0, errDiskFull
	}
	return len(p), nil
}

func TestWriteCSVWriterError(t *testing.T) {
	tests := []struct {
		name  string
		after int // bytes accepted before failing
	}{
		{"at once", 0},
		{"mid stream", 100 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := WriteCSV(&failingWriter{after: tt.after}, Config{Households: 5000, Seed: 1})
			if !errors.Is(err, errDiskFull) {
				t.Fatalf("err = %v, want the writer's error", err)
			}
		})
	}
}

func BenchmarkWriteCSV(b *testing.B) {
	const households = 10_000
	b.ReportAllocs()
	for b.Loop() {
		if _, err := WriteCSV(io.Discard, Config{Households: households, Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*households), "ns/household")
}
