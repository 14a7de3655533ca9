package card

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"

	"github.com/canasta/canasta"
	"github.com/go-pdf/fpdf"
)

// PrintCard is what the printed card shows. The household's name is
// printed for the holder's sake; the QR code itself carries no name.
type PrintCard struct {
	Title         string // the program or scheme, e.g. "Canasta — Buenos Aires"
	HouseholdName string
	CardID        string
	Code          string // the signed code from Issue
	IssuedAt      time.Time
	Expires       time.Time
}

// ID-1 card size (ISO/IEC 7810), the size of a bank card, in millimetres.
const (
	cardWidthMM  = 85.60
	cardHeightMM = 53.98
	marginMM     = 3.0
	qrSideMM     = 44.0
)

// PDF writes a one-page PDF of ID-1 size: title, household name, card id
// and dates on the left, the QR code on the right. Text uses a core font
// through the cp1252 code page, so accented Latin names print correctly.
func PDF(w io.Writer, c PrintCard) error {
	return writePDF(w, c, true)
}

func writePDF(w io.Writer, c PrintCard, compress bool) error {
	if c.Code == "" {
		return canasta.Errorf(canasta.EINVALID, "A printed card needs its code.")
	}
	qr, err := QRPNG(c.Code, 1024)
	if err != nil {
		return err
	}
	pdf := fpdf.NewCustom(&fpdf.InitType{
		OrientationStr: "L", // fpdf takes the size upright and turns it
		UnitStr:        "mm",
		Size:           fpdf.SizeType{Wd: cardHeightMM, Ht: cardWidthMM},
	})
	pdf.SetCompression(compress)
	pdf.SetCatalogSort(true)
	pdf.SetCreationDate(c.IssuedAt)
	pdf.SetModificationDate(c.IssuedAt)
	pdf.SetMargins(marginMM, marginMM, marginMM)
	pdf.SetAutoPageBreak(false, 0)
	cp := pdf.UnicodeTranslatorFromDescriptor("cp1252")
	tr := func(s string) string { return cp(printable(s)) }
	pdf.SetTitle(tr(c.Title), false)
	pdf.AddPage()

	pdf.RegisterImageOptionsReader("qr", fpdf.ImageOptions{ImageType: "PNG"}, bytes.NewReader(qr))
	qrX := cardWidthMM - marginMM - qrSideMM
	pdf.ImageOptions("qr", qrX, (cardHeightMM-qrSideMM)/2, qrSideMM, qrSideMM, false, fpdf.ImageOptions{ImageType: "PNG"}, 0, "")

	textW := qrX - 2*marginMM + 1
	pdf.SetXY(marginMM, marginMM+1)
	pdf.SetFont("Helvetica", "B", 9)
	lines(pdf, tr(c.Title), textW, 4, 3)
	pdf.Ln(2)
	pdf.SetFont("Helvetica", "B", 8)
	lines(pdf, tr(c.HouseholdName), textW, 3.6, 3)
	pdf.Ln(2)
	pdf.SetFont("Helvetica", "", 6.5)
	lines(pdf, tr("Card "+c.CardID), textW, 3, 2)
	pdf.SetXY(marginMM, cardHeightMM-marginMM-7)
	lines(pdf, "Issued "+c.IssuedAt.UTC().Format("2006-01-02"), textW, 3, 1)
	lines(pdf, "Expires "+c.Expires.UTC().Format("2006-01-02"), textW, 3, 1)

	if err := pdf.Output(w); err != nil {
		return fmt.Errorf("write card PDF: %w", err)
	}
	return nil
}

// lines prints text, already in the font's code page (one byte a
// character), wrapped to width, at most max lines, so a long name never runs
// into the QR code or off the card.
func lines(pdf *fpdf.Fpdf, text string, width, height float64, max int) {
	for _, l := range wrap(pdf, text, width, max) {
		pdf.SetX(marginMM)
		pdf.CellFormat(width, height, l, "", 1, "L", false, 0, "")
	}
}

// wrap breaks text at spaces, and inside words too long for a line.
// fpdf's SplitText reads UTF-8 and cannot take code-page text.
func wrap(pdf *fpdf.Fpdf, text string, width float64, max int) []string {
	fits := func(s string) bool { return pdf.GetStringWidth(s) <= width-1 }
	var out []string
	line := ""
	for _, word := range strings.FieldsFunc(text, func(r rune) bool { return r == ' ' }) {
		for word != "" && len(out) < max {
			cand := word
			if line != "" {
				cand = line + " " + word
			}
			if fits(cand) {
				line, word = cand, ""
				continue
			}
			if line != "" {
				out, line = append(out, line), ""
				continue
			}
			n := 1
			for n < len(word) && fits(word[:n+1]) {
				n++
			}
			out, word = append(out, word[:n]), word[n:]
		}
	}
	if line != "" && len(out) < max {
		out = append(out, line)
	}
	return out
}

// printable drops control characters, which a core font cannot show.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}
