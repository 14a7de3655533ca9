package http

import (
	"bytes"
	"fmt"
	"html"
	"math"
	"strconv"
	"unicode/utf8"
)

// Chart is the data of one chart drawn on the server as SVG: labelled
// categories along the x axis and one or more series of values over them.
// Pages show the same data as a table beside it, so the chart never
// carries information a screen reader cannot reach.
type Chart struct {
	// ID prefixes the ids of the chart's elements; charts on one page
	// need different ones. "" means "chart".
	ID string
	// Title is the chart's accessible name; Desc says in a sentence what
	// it shows.
	Title, Desc    string
	XLabel, YLabel string
	Labels         []string
	Series         []ChartSeries
}

// ChartSeries is one named run of values, one for each of the chart's
// labels; missing values count as zero.
type ChartSeries struct {
	Name   string
	Values []int64
}

// Chart geometry, in SVG user units; the SVG scales to its container.
const (
	chartWidth     = 640
	chartHeight    = 320
	chartLeft      = 64
	chartRight     = 16
	chartTop       = 44
	chartBottom    = 56
	chartMaxText   = 14 // characters of a category label shown under the axis
	chartCharWidth = 7  // a character's width at the font size, about
	// chartMaxMarkers bounds the labels a line chart marks with a point
	// that tells its value; beyond it the points would crowd, and weigh
	// on the page, and the table beside the chart tells the values.
	chartMaxMarkers = 62
)

// Colours of series, from the Okabe-Ito palette, which stays apart under
// the common colour-vision deficiencies; each has at least 3:1 contrast
// on white. Lines also differ by dash pattern.
var (
	chartColours = []string{"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#000000", "#8C6D00"}
	chartDashes  = []string{"", "6 3", "2 3", "8 3 2 3", "1 2", "10 4"}
)

// BarChart draws c as grouped vertical bars, one group per label.
func BarChart(c Chart) []byte {
	return drawChartSVG(c, false)
}

// LineChart draws c as one line per series, with a marked point per label.
func LineChart(c Chart) []byte {
	return drawChartSVG(c, true)
}

// chartCanvas holds what both kinds of chart share: the scale and the
// plot area.
type chartCanvas struct {
	b              bytes.Buffer
	id             string
	lo, hi, step   int64
	plotW, plotH   float64
	n              int
	plotX0, plotY0 float64
}

func (cv *chartCanvas) y(v int64) float64 {
	return cv.plotY0 + cv.plotH - float64(v-cv.lo)/float64(cv.hi-cv.lo)*cv.plotH
}

func (cv *chartCanvas) band() float64 { return cv.plotW / float64(max(cv.n, 1)) }

func (cv *chartCanvas) printf(format string, args ...any) { fmt.Fprintf(&cv.b, format, args...) }

func drawChartSVG(c Chart, line bool) []byte {
	cv := &chartCanvas{id: c.ID, n: len(c.Labels)}
	if cv.id == "" {
		cv.id = "chart"
	}
	cv.plotX0, cv.plotY0 = chartLeft, chartTop
	cv.plotW, cv.plotH = chartWidth-chartLeft-chartRight, chartHeight-chartTop-chartBottom
	lo, hi := int64(0), int64(0)
	for _, s := range c.Series {
		for i := range cv.n {
			v := chartValue(s, i)
			lo, hi = min(lo, v), max(hi, v)
		}
	}
	cv.lo, cv.hi, cv.step = chartScale(lo, hi)

	cv.printf(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="100%%" role="img" aria-labelledby="%s-title %s-desc" font-family="system-ui, sans-serif" font-size="12">`+"\n",
		chartWidth, chartHeight, chartEsc(cv.id), chartEsc(cv.id))
	cv.printf("<title id=\"%s-title\">%s</title>\n<desc id=\"%s-desc\">%s</desc>\n", chartEsc(cv.id), chartEsc(c.Title), chartEsc(cv.id), chartEsc(c.Desc))
	cv.printf("<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", chartWidth, chartHeight)
	cv.legend(c.Series, line)
	cv.axes(c)
	switch {
	case cv.n == 0 || len(c.Series) == 0:
		cv.printf("<text x=\"%s\" y=\"%s\" text-anchor=\"middle\" fill=\"#333333\">No data</text>\n",
			chartNum(cv.plotX0+cv.plotW/2), chartNum(cv.plotY0+cv.plotH/2))
	case line:
		cv.lines(c)
	default:
		cv.bars(c)
	}
	cv.printf("</svg>\n")
	return cv.b.Bytes()
}

func chartValue(s ChartSeries, i int) int64 {
	if i < len(s.Values) {
		return s.Values[i]
	}
	return 0
}

// chartScale widens [lo, hi] to whole steps of 1, 2 or 5 times a power of
// ten, about five of them, always including zero.
func chartScale(lo, hi int64) (int64, int64, int64) {
	if hi == lo {
		hi = lo + 1
	}
	raw := float64(hi-lo) / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := int64(mag)
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			step = int64(m * mag)
			break
		}
	}
	step = max(step, 1)
	nlo := lo / step * step
	if nlo > lo {
		nlo -= step
	}
	nhi := (hi + step - 1) / step * step
	if hi < 0 {
		nhi = hi / step * step
	}
	return nlo, nhi, step
}

func (cv *chartCanvas) legend(series []ChartSeries, line bool) {
	if len(series) < 2 {
		return
	}
	x := cv.plotX0
	for i, s := range series {
		colour := chartColours[i%len(chartColours)]
		if line {
			cv.printf("<line x1=\"%s\" y1=\"16\" x2=\"%s\" y2=\"16\" stroke=\"%s\" stroke-width=\"2.5\"%s/>\n",
				chartNum(x), chartNum(x+18), colour, chartDash(i))
		} else {
			cv.printf("<rect x=\"%s\" y=\"10\" width=\"12\" height=\"12\" fill=\"%s\"/>\n", chartNum(x), colour)
		}
		name := chartTruncate(s.Name, 24)
		cv.printf("<text x=\"%s\" y=\"20\" fill=\"#222222\">%s</text>\n", chartNum(x+22), chartEsc(name))
		x += 22 + float64(utf8.RuneCountInString(name)*chartCharWidth) + 16
	}
}

func chartDash(i int) string {
	if d := chartDashes[i%len(chartDashes)]; d != "" {
		return ` stroke-dasharray="` + d + `"`
	}
	return ""
}

// axes draws the grid with the value ticks, the category labels (every
// k-th when there are too many to fit) and the axis titles.
func (cv *chartCanvas) axes(c Chart) {
	cv.printf("<g fill=\"#333333\">\n")
	for v := cv.lo; v <= cv.hi; v += cv.step {
		y := cv.y(v)
		stroke := "#dddddd"
		if v == 0 {
			stroke = "#666666"
		}
		cv.printf("<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"%s\"/>\n", chartNum(cv.plotX0), chartNum(y), chartNum(cv.plotX0+cv.plotW), chartNum(y), stroke)
		cv.printf("<text x=\"%s\" y=\"%s\" text-anchor=\"end\">%s</text>\n", chartNum(cv.plotX0-6), chartNum(y+4), chartEsc(chartTick(v)))
	}
	// Show every k-th label, k as small as lets the longest fit (up to
	// chartMaxText characters of about 7 units each); cut labels to the
	// room they get. The full label is in each mark's title.
	longest := 1
	for _, l := range c.Labels {
		longest = max(longest, min(utf8.RuneCountInString(l), chartMaxText))
	}
	every := max(1, int(math.Ceil(float64(longest*chartCharWidth+8)/cv.band())))
	room := max(3, (int(cv.band()*float64(every))-8)/chartCharWidth)
	for i, l := range c.Labels {
		if i%every != 0 {
			continue
		}
		x := cv.plotX0 + (float64(i)+0.5)*cv.band()
		cv.printf("<text x=\"%s\" y=\"%s\" text-anchor=\"middle\">%s</text>\n", chartNum(x), chartNum(cv.plotY0+cv.plotH+16), chartEsc(chartTruncate(l, min(room, chartMaxText))))
	}
	if c.XLabel != "" {
		cv.printf("<text x=\"%s\" y=\"%d\" text-anchor=\"middle\" font-weight=\"bold\">%s</text>\n", chartNum(cv.plotX0+cv.plotW/2), chartHeight-10, chartEsc(c.XLabel))
	}
	if c.YLabel != "" {
		y := cv.plotY0 + cv.plotH/2
		cv.printf("<text x=\"14\" y=\"%s\" text-anchor=\"middle\" font-weight=\"bold\" transform=\"rotate(-90 14 %s)\">%s</text>\n", chartNum(y), chartNum(y), chartEsc(c.YLabel))
	}
	cv.printf("</g>\n")
}

func (cv *chartCanvas) bars(c Chart) {
	group := cv.band() * 0.8
	w := group / float64(len(c.Series))
	zero := cv.y(0)
	for si, s := range c.Series {
		colour := chartColours[si%len(chartColours)]
		cv.printf("<g fill=\"%s\">\n", colour)
		for i, l := range c.Labels {
			v := chartValue(s, i)
			x := cv.plotX0 + float64(i)*cv.band() + (cv.band()-group)/2 + float64(si)*w
			top, bottom := min(cv.y(v), zero), max(cv.y(v), zero)
			cv.printf("<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\"><title>%s</title></rect>\n",
				chartNum(x), chartNum(top), chartNum(w), chartNum(bottom-top), chartEsc(chartPointTitle(l, s.Name, v, len(c.Series))))
		}
		cv.printf("</g>\n")
	}
}

func (cv *chartCanvas) lines(c Chart) {
	for si, s := range c.Series {
		colour := chartColours[si%len(chartColours)]
		var pts bytes.Buffer
		for i := range c.Labels {
			if i > 0 {
				pts.WriteByte(' ')
			}
			pts.WriteString(chartNum(cv.plotX0+(float64(i)+0.5)*cv.band()) + "," + chartNum(cv.y(chartValue(s, i))))
		}
		cv.printf("<polyline points=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"2.5\"%s/>\n", pts.String(), colour, chartDash(si))
		if cv.n > chartMaxMarkers {
			continue
		}
		cv.printf("<g fill=\"%s\">\n", colour)
		for i, l := range c.Labels {
			v := chartValue(s, i)
			cv.printf("<circle cx=\"%s\" cy=\"%s\" r=\"3\"><title>%s</title></circle>\n",
				chartNum(cv.plotX0+(float64(i)+0.5)*cv.band()), chartNum(cv.y(v)), chartEsc(chartPointTitle(l, s.Name, v, len(c.Series))))
		}
		cv.printf("</g>\n")
	}
}

// chartPointTitle is the tooltip of one bar or point.
func chartPointTitle(label, series string, v int64, nseries int) string {
	if nseries < 2 || series == "" {
		return label + ": " + strconv.FormatInt(v, 10)
	}
	return label + ", " + series + ": " + strconv.FormatInt(v, 10)
}

// chartTick writes large values short: 2500000 as 2.5M, 12000 as 12k.
func chartTick(v int64) string {
	a := v
	if a < 0 {
		a = -a
	}
	switch {
	case a >= 1_000_000 && v%100_000 == 0:
		return strconv.FormatFloat(float64(v)/1e6, 'f', -1, 64) + "M"
	case a >= 10_000 && v%1000 == 0:
		return strconv.FormatInt(v/1000, 10) + "k"
	}
	return strconv.FormatInt(v, 10)
}

func chartTruncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

func chartNum(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }

func chartEsc(s string) string { return html.EscapeString(s) }
