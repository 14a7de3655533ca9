package synth

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"

	"github.com/canasta/canasta"
)

// CSVHeader is the exact column list of the import CSV format.
var CSVHeader = []string{"source_id", "household_ref", "relationship", "given_name", "family_name",
	"birth_date", "sex", "national_id", "address", "locality", "region", "postcode",
	"monthly_income", "disability"}

// WriteCSV writes the population cfg describes in the import CSV format:
// the header, then one row per person. A household's rows are consecutive,
// head first, and each repeats the household's address and income so any
// row can be read on its own; an unknown value is an empty field. It
// returns the number of person rows written, not counting the header.
func WriteCSV(w io.Writer, cfg Config) (int, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	cw := csv.NewWriter(bw)
	if err := cw.Write(CSVHeader); err != nil {
		return 0, fmt.Errorf("write csv header: %w", err)
	}
	g := New(cfg)
	rec := make([]string, len(CSVHeader))
	rows := 0
	for h := g.Next(); h != nil; h = g.Next() {
		income := ""
		if h.MonthlyIncome != canasta.UnknownIncome {
			income = strconv.FormatInt(h.MonthlyIncome, 10)
		}
		for _, p := range h.Members {
			if err := cw.Write(csvRecord(rec, h, income, p)); err != nil {
				return rows, fmt.Errorf("write csv household %s: %w", h.SourceID, err)
			}
			rows++
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return rows, fmt.Errorf("write csv: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return rows, fmt.Errorf("write csv: %w", err)
	}
	return rows, nil
}

// csvRecord fills rec, in CSVHeader order, with p's row of household h,
// whose income is already formatted.
func csvRecord(rec []string, h *canasta.Household, income string, p *canasta.Person) []string {
	rec[0] = p.SourceID
	rec[1] = h.SourceID
	rec[2] = p.Relationship
	rec[3] = p.GivenName
	rec[4] = p.FamilyName
	rec[5] = p.BirthDate
	rec[6] = string(p.Sex)
	rec[7] = p.NationalID
	rec[8] = h.Address.Line
	rec[9] = h.Address.Locality
	rec[10] = h.Address.Region
	rec[11] = h.Address.Postcode
	rec[12] = income
	rec[13] = strconv.FormatBool(p.Disability)
	return rec
}
