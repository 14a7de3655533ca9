package card

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/canasta/canasta"
)

func testPrintCard(t *testing.T) PrintCard {
	return PrintCard{
		Title:         "Canasta — Programa Alimentario",
		HouseholdName: "José Núñez Peña",
		CardID:        "card_7f3k2q",
		Code:          mustIssue(t, goldenKey(t), testClaims()),
		IssuedAt:      issuedAt,
		Expires:       expiresAt,
	}
}

func TestPDF(t *testing.T) {
	var buf bytes.Buffer
	if err := PDF(&buf, testPrintCard(t)); err != nil {
		t.Fatal(err)
	}
	out := buf.Bytes()
	if !bytes.HasPrefix(out, []byte("%PDF-")) {
		t.Fatalf("output starts %q", out[:min(8, len(out))])
	}
	// ID-1 is 85.60 × 53.98 mm: 242.65 × 153.01 points.
	m := regexp.MustCompile(`/MediaBox \[0 0 ([0-9.]+) ([0-9.]+)\]`).FindSubmatch(out)
	if m == nil || string(m[1]) != "242.65" || string(m[2]) != "153.01" {
		t.Errorf("MediaBox %q, want ID-1 (242.65 × 153.01 pt)", m)
	}
	if n := bytes.Count(out, []byte("/Type /Page\n")); n != 1 {
		t.Errorf("%d pages, want 1", n)
	}
	var again bytes.Buffer
	PDF(&again, testPrintCard(t))
	if !bytes.Equal(out, again.Bytes()) {
		t.Error("the same card printed twice gives different PDFs")
	}
}

// TestPDFText reads the uncompressed page: accented names are written in
// cp1252, so the core font shows them instead of mojibake.
func TestPDFText(t *testing.T) {
	var buf bytes.Buffer
	if err := writePDF(&buf, testPrintCard(t), false); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"Jos\xe9 N\xfa\xf1ez Pe\xf1a", // José Núñez Peña in cp1252
		"Canasta \x97 Programa",       // the em dash is 0x97 in cp1252
		"Card card_7f3k2q",
		"Issued 2026-03-01",
		"Expires 2027-03-01",
		"/Subtype /Image",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("PDF lacks %q", want)
		}
	}
	if strings.Contains(out, "Jos\xc3\xa9") {
		t.Error("name written as UTF-8 bytes")
	}
}

func TestPDFAwkwardText(t *testing.T) {
	tests := []struct{ name, household string }{
		{"VeryLong", strings.Repeat("Maria-Fernanda de los Ángeles ", 20)},
		{"OneLongWord", strings.Repeat("Ñ", 300)},
		{"OutsideCodePage", "Łukasz 王小明 Ἀλέξανδρος"},
		{"ControlCharacters", "Ana\x00\tRosa\n"},
		{"Empty", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testPrintCard(t)
			c.HouseholdName = tt.household
			var buf bytes.Buffer
			if err := PDF(&buf, c); err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(buf.Bytes(), []byte("%PDF-")) {
				t.Fatal("not a PDF")
			}
		})
	}
	t.Run("NoCode", func(t *testing.T) {
		c := testPrintCard(t)
		c.Code = ""
		if err := PDF(&bytes.Buffer{}, c); canasta.ErrorCode(err) != canasta.EINVALID {
			t.Fatalf("%v, want EINVALID", err)
		}
	})
}
