package http_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	canastahttp "github.com/canasta/canasta/http"
)

// updateCharts rewrites the golden charts under testdata/:
//
//	go test ./http -run TestChartGolden -update-charts
var updateCharts = flag.Bool("update-charts", false, "rewrite the golden SVG charts in testdata/")

var chartCases = []struct {
	name  string
	draw  func(canastahttp.Chart) []byte
	chart canastahttp.Chart
}{
	{"bar", canastahttp.BarChart, canastahttp.Chart{
		ID: "uptake", Title: "Uptake per program", Desc: "Households granted and households that redeemed, per program.",
		XLabel: "Program", YLabel: "Households",
		Labels: []string{"Rice", "Cooking oil", "Clinic visits for children under five"},
		Series: []canastahttp.ChartSeries{
			{Name: "Households granted", Values: []int64{1200, 950, 310}},
			{Name: "Households that redeemed", Values: []int64{1100, 400, 55}},
		},
	}},
	{"line", canastahttp.LineChart, canastahttp.Chart{
		ID: "per-day", Title: "rice redeemed per day, by region", Desc: "Grams of rice redeemed each day, one line per region.",
		XLabel: "Day", YLabel: "Quantity (g)",
		Labels: []string{"2026-12-01", "2026-12-02", "2026-12-03", "2026-12-04", "2026-12-05"},
		Series: []canastahttp.ChartSeries{
			{Name: "Norte", Values: []int64{250000, 1_750_000, 900000, 0, 1_200_000}},
			{Name: "Sur", Values: []int64{0, 500000, 450000, 300000}},
			{Name: "Capital", Values: []int64{2_100_000, 2_000_000, 1_900_000, 2_400_000, 2_250_000}},
		},
	}},
	{"negative", canastahttp.BarChart, canastahttp.Chart{
		Title: "Change in grants", Desc: "Gain and loss per commodity.", YLabel: "Change",
		Labels: []string{"rice", "oil"},
		Series: []canastahttp.ChartSeries{{Name: "Change", Values: []int64{-3500, 1200}}},
	}},
	{"empty", canastahttp.BarChart, canastahttp.Chart{ID: "unused", Title: "Quota left unused", Desc: "No grants in the period.", YLabel: "Unused (%)"}},
}

// TestChartGolden compares each chart with its golden file: the output
// is deterministic, byte for byte.
func TestChartGolden(t *testing.T) {
	for _, tt := range chartCases {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.draw(tt.chart)
			if again := tt.draw(tt.chart); !bytes.Equal(got, again) {
				t.Fatal("two draws of the same chart differ")
			}
			path := filepath.Join("testdata", "chart_"+tt.name+".svg")
			if *updateCharts {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update-charts to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("chart differs from %s (run with -update-charts if the change is meant):\n%s", path, got)
			}
		})
	}
}

// svgNode is an SVG parsed enough to check its structure.
type svgNode struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Text     string     `xml:",chardata"`
	Children []svgNode  `xml:",any"`
}

func (n *svgNode) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func (n *svgNode) walk(f func(*svgNode)) {
	f(n)
	for i := range n.Children {
		n.Children[i].walk(f)
	}
}

func parseSVG(t *testing.T, b []byte) *svgNode {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(b))
	var root svgNode
	if err := dec.Decode(&root); err != nil {
		t.Fatalf("not well-formed XML: %v\n%s", err, b)
	}
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if cd, ok := tok.(xml.CharData); err != nil || !ok || len(bytes.TrimSpace(cd)) != 0 {
			t.Fatalf("content after the svg element: %v %v", tok, err)
		}
	}
	return &root
}

// TestChartAccessible checks what assistive technology relies on: the
// svg is an image named by its title and described by its desc, axes are
// labelled, and every bar or point says its value.
func TestChartAccessible(t *testing.T) {
	for _, tt := range chartCases {
		t.Run(tt.name, func(t *testing.T) {
			root := parseSVG(t, tt.draw(tt.chart))
			id := tt.chart.ID
			if id == "" {
				id = "chart"
			}
			if root.XMLName.Local != "svg" || root.attr("role") != "img" || root.attr("aria-labelledby") != id+"-title "+id+"-desc" {
				t.Fatalf("root %s role=%q aria-labelledby=%q", root.XMLName.Local, root.attr("role"), root.attr("aria-labelledby"))
			}
			if len(root.Children) < 2 || root.Children[0].XMLName.Local != "title" || root.Children[0].Text != tt.chart.Title ||
				root.Children[1].XMLName.Local != "desc" || root.Children[1].Text != tt.chart.Desc {
				t.Fatalf("the svg does not start with its title and desc")
			}
			var texts []string
			marks := 0
			root.walk(func(n *svgNode) {
				switch n.XMLName.Local {
				case "text":
					texts = append(texts, n.Text)
				case "rect", "circle":
					if len(n.Children) == 1 && n.Children[0].XMLName.Local == "title" && n.Children[0].Text != "" {
						marks++
					}
				}
			})
			all := strings.Join(texts, "|")
			for _, want := range []string{tt.chart.XLabel, tt.chart.YLabel} {
				if want != "" && !strings.Contains(all, want) {
					t.Errorf("axis label %q missing from texts %q", want, all)
				}
			}
			if want := len(tt.chart.Labels) * len(tt.chart.Series); marks != want {
				t.Errorf("%d bars or points with a value title, want %d", marks, want)
			}
			if len(tt.chart.Labels) == 0 && !strings.Contains(all, "No data") {
				t.Errorf("an empty chart does not say so: %q", all)
			}
		})
	}
}

// TestChartEscapes draws text that would be markup, and checks it stays
// text.
func TestChartEscapes(t *testing.T) {
	c := canastahttp.Chart{
		Title: `<script>alert(1)</script>`, Desc: `"quoted" & <b>bold</b>`,
		Labels: []string{`Tienda "La <Esperanza>"`},
		Series: []canastahttp.ChartSeries{{Name: "A&B", Values: []int64{3}}, {Name: "<i>", Values: []int64{4}}},
	}
	for _, draw := range []func(canastahttp.Chart) []byte{canastahttp.BarChart, canastahttp.LineChart} {
		b := draw(c)
		root := parseSVG(t, b)
		if bytes.Contains(b, []byte("<script")) || bytes.Contains(b, []byte("<b>")) || bytes.Contains(b, []byte("<i>")) {
			t.Fatalf("markup leaked into the SVG:\n%s", b)
		}
		if root.Children[0].Text != c.Title {
			t.Fatalf("title %q, want %q", root.Children[0].Text, c.Title)
		}
	}
}

// TestChartScale checks the value axis: it starts at zero for positive
// data, reaches the largest value, and ticks in round steps.
func TestChartScale(t *testing.T) {
	for _, tt := range []struct {
		name   string
		values []int64
		ticks  []string
	}{
		{"Small", []int64{3, 7}, []string{"0", "2", "4", "6", "8"}},
		{"Zeros", []int64{0, 0}, []string{"0", "1"}},
		{"Thousands", []int64{1200, 950}, []string{"0", "500", "1000", "1500"}},
		{"Millions", []int64{2_400_000}, []string{"0", "500k", "1M", "1.5M", "2M", "2.5M"}},
		{"Negative", []int64{-3500, 1200}, []string{"-4000", "-3000", "-2000", "-1000", "0", "1000", "2000"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			labels := make([]string, len(tt.values))
			for i := range labels {
				labels[i] = string(rune('a' + i))
			}
			root := parseSVG(t, canastahttp.BarChart(canastahttp.Chart{Labels: labels, Series: []canastahttp.ChartSeries{{Name: "v", Values: tt.values}}}))
			var ticks []string
			root.walk(func(n *svgNode) {
				if n.XMLName.Local == "text" && n.attr("text-anchor") == "end" {
					ticks = append(ticks, n.Text)
				}
			})
			if strings.Join(ticks, " ") != strings.Join(tt.ticks, " ") {
				t.Fatalf("ticks %q, want %q", ticks, tt.ticks)
			}
		})
	}
}

// TestChartLongLine: a line over a year stays light: no point markers,
// and only some day labels.
func TestChartLongLine(t *testing.T) {
	c := canastahttp.Chart{Title: "A year", Series: []canastahttp.ChartSeries{{Name: "a"}, {Name: "b"}}}
	for d := range 366 {
		c.Labels = append(c.Labels, "2026-"+strings.Repeat("x", d%3))
		c.Series[0].Values = append(c.Series[0].Values, int64(d))
		c.Series[1].Values = append(c.Series[1].Values, int64(366-d))
	}
	b := canastahttp.LineChart(c)
	root := parseSVG(t, b)
	circles, labels := 0, 0
	root.walk(func(n *svgNode) {
		switch {
		case n.XMLName.Local == "circle":
			circles++
		case n.XMLName.Local == "text" && n.attr("text-anchor") == "middle":
			labels++
		}
	})
	if circles != 0 || labels > 20 || len(b) > 20000 {
		t.Fatalf("%d markers, %d labels, %d bytes; want no markers, few labels, under 20 kB", circles, labels, len(b))
	}
}
