package http

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/canasta/canasta"
)

// htmlFS holds the web application: page templates, shared partials, the
// message catalogs and static assets. Nothing is fetched at run time.
//
//go:embed html/layout.html html/pages/*.html html/messages/*.json html/static
var htmlFS embed.FS

// Languages the web application speaks, the first being the default.
var Languages = []string{"en", "es"}

// catalog is one language's messages by key.
type catalog map[string]string

// pageSet is every page's template in every language, parsed and checked
// once at start-up: a template that does not parse, or a message key
// missing from a catalog, stops the server from starting rather than
// failing on a user's request.
type pageSet struct {
	pages    map[string]map[string]*template.Template // language, page
	catalogs map[string]catalog
	// assetVersion is a digest of each static file, so asset URLs change
	// when their content does and can be cached for long.
	assetVersion map[string]string
}

// messageKeyRE finds message keys used in templates: {{t "key"}} and
// {{tf "key" ...}}.
var messageKeyRE = regexp.MustCompile(`\{\{-?\s*tf?\s+"([a-z0-9_.]+)"`)

// loadPages parses every page with the layout, once per language.
func loadPages() (*pageSet, error) {
	ps := &pageSet{pages: map[string]map[string]*template.Template{}, catalogs: map[string]catalog{}, assetVersion: map[string]string{}}
	for _, lang := range Languages {
		b, err := htmlFS.ReadFile("html/messages/" + lang + ".json")
		if err != nil {
			return nil, fmt.Errorf("read %s catalog: %w", lang, err)
		}
		var c catalog
		if err := json.Unmarshal(b, &c); err != nil {
			return nil, fmt.Errorf("parse %s catalog: %w", lang, err)
		}
		ps.catalogs[lang] = c
	}
	if err := ps.checkCatalogs(); err != nil {
		return nil, err
	}
	err := fs.WalkDir(htmlFS, "html/static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := htmlFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ps.assetVersion[strings.TrimPrefix(p, "html/static/")] = hex.EncodeToString(sum[:6])
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read static assets: %w", err)
	}

	layout, err := htmlFS.ReadFile("html/layout.html")
	if err != nil {
		return nil, fmt.Errorf("read layout: %w", err)
	}
	files, err := fs.Glob(htmlFS, "html/pages/*.html")
	if err != nil {
		return nil, err
	}
	used := map[string]bool{}
	for _, m := range messageKeyRE.FindAllSubmatch(layout, -1) {
		used[string(m[1])] = true
	}
	for _, lang := range Languages {
		ps.pages[lang] = map[string]*template.Template{}
	}
	for _, f := range files {
		body, err := htmlFS.ReadFile(f)
		if err != nil {
			return nil, err
		}
		for _, m := range messageKeyRE.FindAllSubmatch(body, -1) {
			used[string(m[1])] = true
		}
		name := strings.TrimSuffix(path.Base(f), ".html")
		base, err := template.New("layout").Funcs(ps.funcs("en")).Parse(string(layout))
		if err != nil {
			return nil, fmt.Errorf("parse layout: %w", err)
		}
		if _, err := base.New(name).Parse(string(body)); err != nil {
			return nil, fmt.Errorf("parse page %s: %w", name, err)
		}
		for _, lang := range Languages {
			t, err := base.Clone()
			if err != nil {
				return nil, fmt.Errorf("clone page %s: %w", name, err)
			}
			ps.pages[lang][name] = t.Funcs(ps.funcs(lang))
		}
	}
	for key := range used {
		for _, lang := range Languages {
			if _, ok := ps.catalogs[lang][key]; !ok {
				return nil, fmt.Errorf("message %q is used in a template but missing from the %s catalog", key, lang)
			}
		}
	}
	return ps, nil
}

// checkCatalogs requires every catalog to hold the same keys, so no text
// falls back to another language unnoticed.
func (ps *pageSet) checkCatalogs() error {
	ref := ps.catalogs[Languages[0]]
	for _, lang := range Languages[1:] {
		c := ps.catalogs[lang]
		for k := range ref {
			if _, ok := c[k]; !ok {
				return fmt.Errorf("message %q is missing from the %s catalog", k, lang)
			}
		}
		for k := range c {
			if _, ok := ref[k]; !ok {
				return fmt.Errorf("message %q of the %s catalog is missing from the %s catalog", k, lang, Languages[0])
			}
		}
	}
	return nil
}

// execute renders a page in a language into a buffer, so a failure half
// way never sends half a page.
func (ps *pageSet) execute(lang, page string, data any) ([]byte, error) {
	t, ok := ps.pages[lang][page]
	if !ok {
		return nil, fmt.Errorf("no page %q", page)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		return nil, fmt.Errorf("render page %s: %w", page, err)
	}
	return buf.Bytes(), nil
}

// message returns the catalog text for key in lang, formatted with args.
func (ps *pageSet) message(lang, key string, args ...any) string {
	s, ok := ps.catalogs[lang][key]
	if !ok {
		return key
	}
	if len(args) == 0 {
		return s
	}
	return fmt.Sprintf(s, args...)
}

// funcs are the template functions bound to one language.
func (ps *pageSet) funcs(lang string) template.FuncMap {
	return template.FuncMap{
		"t":  func(key string) string { return ps.message(lang, key) },
		"tf": func(key string, args ...any) string { return ps.message(lang, key, args...) },
		"static": func(name string) string {
			return "/static/" + name + "?v=" + ps.assetVersion[name]
		},
		"qty":  func(q int64, u canasta.Unit) string { return formatQuantity(lang, q, u) },
		"date": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
		"add":  func(a, b int) int { return a + b },
		"seq": func(n int) []int {
			s := make([]int, n)
			for i := range s {
				s[i] = i
			}
			return s
		},
		"list":    func(xs ...string) []string { return xs },
		"percent": func(f float64) string { return strconv.Itoa(int(f*100+0.5)) + "%" },
		"deref":   func(p *int64) int64 { return *p },
		"attrField": func(a *canasta.Attribute, field, value string) attrField {
			return attrField{Attr: a, Field: field, Value: value}
		},
	}
}

// formatQuantity shows a quantity in base units the way people count it:
// grams as kilograms from 1000 g, millilitres as litres, minor currency
// units with two decimals. Spanish uses a decimal comma.
func formatQuantity(lang string, q int64, u canasta.Unit) string {
	var s string
	switch u {
	case canasta.UnitGram:
		s = scaled(q, 1000, "kg", "g")
	case canasta.UnitMillilitre:
		s = scaled(q, 1000, "L", "ml")
	case canasta.UnitMinor:
		s = decimal(q, 100, 2)
	case canasta.UnitVisit:
		s = strconv.FormatInt(q, 10) + " ×"
	default:
		s = strconv.FormatInt(q, 10) + " " + string(u)
	}
	if lang == "es" {
		s = strings.ReplaceAll(s, ".", ",")
	}
	return s
}

func scaled(q, factor int64, big, small string) string {
	if q >= factor || q <= -factor {
		return decimal(q, factor, 3) + " " + big
	}
	return strconv.FormatInt(q, 10) + " " + small
}

// decimal writes q/factor with up to digits decimals, trailing zeros
// dropped, using integers only.
func decimal(q, factor int64, digits int) string {
	sign := ""
	if q < 0 {
		sign, q = "-", -q
	}
	whole, frac := q/factor, q%factor
	if frac == 0 && digits != 2 {
		return sign + strconv.FormatInt(whole, 10)
	}
	f := fmt.Sprintf("%0*d", digits, frac)
	if digits != 2 {
		f = strings.TrimRight(f, "0")
	}
	return sign + strconv.FormatInt(whole, 10) + "." + f
}

// attrField is one declared attribute's input on a form.
type attrField struct {
	Attr  *canasta.Attribute
	Field string
	Value string
}
