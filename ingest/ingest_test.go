package ingest_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/canasta/canasta"
	"github.com/canasta/canasta/ingest"
)

const header = "source_id,household_ref,relationship,given_name,family_name,birth_date,sex,national_id,address,locality,region,postcode,monthly_income,disability\n"

func schema() *canasta.Schema {
	return canasta.NewSchema([]*canasta.Attribute{
		{Name: "pregnant", Type: canasta.AttributeBool, AppliesTo: canasta.AppliesToPerson},
		{Name: "rooms", Type: canasta.AttributeInt, AppliesTo: canasta.AppliesToHousehold},
	})
}

func TestReadCSV(t *testing.T) {
	tests := []struct {
		name       string
		csv        string
		households int
		persons    int
		rejects    []string // reason substrings, in line order
	}{
		{"two households", header +
			"p1,h1,head,Ana,García,1980-02-03,F,123,Calle 1,Lima,Norte,15001,90000,false\n" +
			"p2,h1,child,Luis,García,2015,M,,Calle 1,Lima,Norte,15001,90000,true\n" +
			"p3,h2,head,Aung,,,,,,,Sur,,,\n", 2, 3, nil},
		{"household fields from head row", header +
			"p1,h1,child,Luis,García,2015,M,,,,Otra,,1,false\n" +
			"p2,h1,head,Ana,García,1980-02-03,F,123,Calle 1,Lima,Norte,15001,90000,false\n", 1, 2, nil},
		{"missing region rejects the whole household", header +
			"p1,h1,head,Ana,García,1980,F,,,,,,,\n" +
			"p2,h1,child,Luis,García,2015,M,,,,,,,\n" +
			"p3,h2,head,Eva,Ruiz,,,,,,Sur,,,\n", 1, 1, []string{"region is required", "region is required"}},
		{"bad fields", header +
			"p1,h1,head,,,1980,F,,,,Norte,,,\n" +
			"p2,h1,head,Ana,,1980-13,F,,,,Norte,,,\n" +
			"p3,h1,head,Ana,,1980,Q,,,,Norte,,,\n" +
			"p4,h1,head,Ana,,1980,F,,,,Norte,,12.5,\n" +
			"p5,h1,head,Ana,,1980,F,,,,Norte,,,yes\n" +
			",h1,head,Ana,,1980,F,,,,Norte,,,\n" +
			"p6,h1,head,Ana,,1980,F,,,,Norte,,,\n" +
			"p6,h1,head,Ana,,1980,F,,,,Norte,,,\n", 1, 1,
			[]string{"name part", "Birth date", "Sex", "monthly_income", "disability", "source_id is empty", "already appears on line 8"}},
		{"wrong field count", header + "p1,h1,head\n" + "p2,h2,head,Eva,,,,,,,Sur,,,\n", 1, 1, []string{"expected 14 fields"}},
		{"no household ref lives alone", header + "p1,,head,Eva,,,,,,,Sur,,,\n", 1, 1, nil},
		{"declared attributes", "source_id,household_ref,given_name,region,pregnant,rooms\n" +
			"p1,h1,Ana,Norte,true,3\n" + "p2,h1,Eva,Norte,maybe,3\n" + "p3,h2,Rosa,Sur,,x\n", 1, 1,
			[]string{"pregnant", "rooms"}},
		{"undeclared column with a value is rejected", "source_id,household_ref,given_name,region,religion\n" +
			"p1,h1,Ana,Norte,catholic\n" + "p2,h2,Eva,Sur,\n", 1, 1, []string{"not a declared attribute"}},
		{"any column order and BOM", "\ufeffregion,given_name,source_id\nNorte,Ana,p1\n", 1, 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := ingest.ReadCSV(strings.NewReader(tt.csv), schema())
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Households) != tt.households || res.Persons != tt.persons {
				t.Errorf("households=%d persons=%d, want %d %d", len(res.Households), res.Persons, tt.households, tt.persons)
			}
			if len(res.Rejects) != len(tt.rejects) {
				t.Fatalf("rejects = %+v, want %d", res.Rejects, len(tt.rejects))
			}
			for i, want := range tt.rejects {
				if !strings.Contains(res.Rejects[i].Reason, want) {
					t.Errorf("reject %d = %+v, want reason containing %q", i, res.Rejects[i], want)
				}
				if res.Rejects[i].Line < 2 {
					t.Errorf("reject %d line = %d", i, res.Rejects[i].Line)
				}
			}
			if res.Rows != res.Persons+len(res.Rejects) {
				t.Errorf("rows %d != persons %d + rejects %d", res.Rows, res.Persons, len(res.Rejects))
			}
		})
	}
}

func TestReadCSVHouseholdFields(t *testing.T) {
	res, err := ingest.ReadCSV(strings.NewReader("source_id,household_ref,relationship,given_name,region,monthly_income,rooms,pregnant\n"+
		"p1,h1,child,Luis,Sur,5,,\n"+"p2,h1,head,Ana,Norte,90000,3,true\n"), schema())
	if err != nil {
		t.Fatal(err)
	}
	h := res.Households[0]
	if h.SourceID != "h1" || h.Address.Region != "Norte" || h.MonthlyIncome != 90000 || h.Attributes["rooms"] != int64(3) {
		t.Errorf("household = %+v", h)
	}
	if h.Members[1].Attributes["pregnant"] != true || h.Members[0].Attributes != nil {
		t.Errorf("member attributes = %v, %v", h.Members[0].Attributes, h.Members[1].Attributes)
	}
	if len(h.Members) != 2 || h.Members[0].SourceID != "p1" {
		t.Errorf("members = %+v", h.Members)
	}
}

func TestReadCSVUnusableFile(t *testing.T) {
	for name, in := range map[string]string{
		"empty":         "",
		"no source_id":  "given_name,region\nAna,Norte\n",
		"dup column":    "source_id,region,region\n",
		"broken quotes": "source_id,region\n\"p1,Norte\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ingest.ReadCSV(strings.NewReader(in), schema()); canasta.ErrorCode(err) != canasta.EINVALID {
				t.Fatalf("err = %v, want EINVALID", err)
			}
		})
	}
}

func TestWriteRejects(t *testing.T) {
	var buf bytes.Buffer
	if err := ingest.WriteRejects(&buf, []ingest.Reject{{Line: 3, SourceID: "p1", Reason: "bad, really"}}); err != nil {
		t.Fatal(err)
	}
	if got, want := buf.String(), "line,source_id,reason\n3,p1,\"bad, really\"\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := ingest.RejectsPath("dir/people.csv"); got != "dir/people.rejects.csv" {
		t.Errorf("RejectsPath = %q", got)
	}
}
