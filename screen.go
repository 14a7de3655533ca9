package canasta

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
)

// The special-category screen.
//
// Canasta never holds political, religious, ethnic, trade-union, sexual,
// diagnostic, biometric, criminal, social-media, voting or behavioural data,
// and never scores people: entitlement may depend only on need. An attribute
// declaration is the only way a new kind of data enters the registry, so its
// name and its stated purpose are screened against the terms below, in
// English and Spanish.
//
// Text is normalised before matching: camelCase is split, letters are
// lower-cased and stripped of accents, and "_", "-", ".", "/" and digits
// separate tokens within a word (apostrophes join). Whitespace and other
// punctuation separate words. A term matches
//   - a whole token, or tokens of one word joined ("rel_igion" is "religion");
//   - as a stem, the start of such a token or joined run ("religi" refuses
//     "religious_affiliation"), never a substring in the middle of a token,
//     so "core_members" is not "score" and "ethanol_stove" is not "ethni";
//   - as a phrase, consecutive tokens across words too ("social media",
//     "redes sociales", "union member").
//
// Single words and stems never join across whitespace, so ordinary prose in
// a purpose cannot spell a term by accident ("si da a luz" is not "sida",
// "con víctimas" is not "convict"). When several terms match at one place
// the longest wins, so "protestant" names religion, not political activity.
//
// Deliberately not refused, because need-based programs use them:
// "disability", "pregnant"/"embarazada", "lactating", "chronic_illness",
// "hearing_aids" (hence no bare "aids"), "indigent" (hence "indigenous",
// not a stem "indigen"), "retinol" (hence "retina", not "retin"),
// "congregate_meals", "tax_credit" (hence no bare "credit"),
// "disability_rating" (hence no bare "rating"), "crime_victim" and
// "víctima de delito" (hence no bare "crime" or "delito"; "criminal" is
// refused), "cardiac_arrest" (hence "arrested", not "arrest"),
// "face_to_face" (hence "face" only in biometric phrases), "partido" (a
// district in Argentina; "partido_politico" is refused by "politico"),
// "union_libre" and "credit union" (hence "union" only with trade-union
// words), "parroquia" and "parish" (administrative areas), "halal" and
// "kosher" (dietary needs a food basket must meet), and "sex", a field
// every person already has. "Good faith" and "bad faith" are idioms,
// not religion.

// specialCategory is one kind of data Canasta never holds, with the terms
// that name it. Words match a whole token or joined run of one word; stems
// match its start; phrases (written with spaces) match consecutive tokens
// anywhere.
type specialCategory struct {
	name    string // as shown to users
	why     string
	words   []string
	stems   []string
	phrases []string
}

const neverHeld = "a special category Canasta never holds"

var specialCategories = []specialCategory{
	{
		name: "political opinion or activity",
		why:  neverHeld,
		words: []string{
			"simpatizante", "simpatizantes",
		},
		stems: []string{
			"politi", "ideolog", "partisan", "partidis", "partidari", "militan",
			"activis", "protest", "communis", "comunis", "fascis", "anarchis", "anarquis",
		},
		phrases: []string{
			"party affiliation", "party member", "party members", "party membership",
			"party id", "party identification", "party preference", "party support",
			"party supporter", "pol party", "left wing", "right wing", "far left", "far right",
		},
	},
	{
		name: "voting",
		why:  neverHeld,
		words: []string{
			"vote", "votes", "voted", "voter", "voters", "voting", "ballot", "ballots",
			"election", "elections", "turnout",
			"voto", "votos", "votar", "votante", "votantes", "votacion", "votaciones",
			"sufragio", "sufragios", "eleccion", "elecciones",
		},
		stems: []string{"elector"},
	},
	{
		name: "religion or belief",
		why:  neverHeld,
		words: []string{
			"belief", "beliefs", "creed", "creeds", "faith", "faiths", "faithbased",
			"tithe", "tithes", "tithing", "clergy", "sect", "sects", "devout",
			"congregation", "congregations", "jewish", "sikh", "sikhs",
			"creencia", "creencias", "credo", "diezmo", "diezmos", "clero", "secta", "sectas",
			"congregacion", "judio", "judia", "judios", "judias", "ateo", "atea", "ateos", "ateas",
		},
		stems: []string{
			"religi", "church", "iglesia", "worship", "mosque", "mezquit", "synagog", "sinagog",
			"catholi", "catoli", "protestant", "evangeli", "muslim", "musulman", "islam",
			"judais", "christian", "cristian", "hindu", "buddhis", "budis", "atheis", "ateis",
			"agnosti", "mormon", "spiritu", "espiritu", "baptis", "bautis", "bautiz",
			"catechis", "catequ",
		},
	},
	{
		name: "ethnicity or race",
		why:  neverHeld,
		words: []string{
			"race", "races", "caste", "castes", "tribe", "tribes", "tribal", "indigenous",
			"ancestry", "romani",
			"raza", "razas", "casta", "castas", "tribu", "tribus", "indigena", "indigenas",
			"mestizo", "mestiza", "mestizos", "mestizas", "mulato", "mulata", "mulatos", "mulatas",
			"gitano", "gitana", "gitanos", "gitanas", "ascendencia",
		},
		stems: []string{"ethni", "etni", "racial", "aborigin", "afrodesc", "afroameric"},
		phrases: []string{
			"skin color", "skin colour", "color de piel", "color piel", "native american",
			"pueblo originario", "pueblos originarios",
		},
	},
	{
		name: "trade-union membership",
		why:  neverHeld,
		words: []string{
			"unionized", "unionised", "unionization", "unionisation", "unionist", "unionists",
			"gremio", "gremios", "gremial", "gremiales",
		},
		stems: []string{"sindica"},
		phrases: []string{
			"trade union", "trade unions", "labor union", "labour union", "union member",
			"union members", "union membership", "union affiliation", "union dues",
		},
	},
	{
		name:  "sexual life or orientation",
		why:   neverHeld,
		words: []string{"gay", "gays", "lesbian", "lesbians", "lesbiana", "lesbianas", "queer"},
		stems: []string{"sexual", "homosex", "heterosex", "bisex", "lgbt", "lgtb", "prostitu"},
		phrases: []string{
			"sex life", "sex partner", "sex partners", "sex work", "sex worker", "sex workers",
		},
	},
	{
		name:  "health diagnosis",
		why:   neverHeld,
		words: []string{"hiv", "vih", "sida", "icd"},
		stems: []string{"diagnos", "seropositiv", "psychiatr", "psiquiatr", "patholog", "patolog"},
		phrases: []string{
			"medical history", "medical record", "medical records", "health record",
			"health records", "historia clinica", "historia medica", "historial medico",
			"historial clinico", "expediente medico",
		},
	},
	{
		name: "biometric or genetic data",
		why:  neverHeld,
		words: []string{
			"iris", "retina", "retinas", "facial", "gait", "dna", "adn", "rostro", "rostros",
		},
		stems: []string{"biometr", "fingerprint", "dactil", "genetic", "genom"},
		phrases: []string{
			"face print", "face id", "face scan", "face template", "face image",
			"face recognition", "face embedding", "voice print", "palm print", "iris scan",
			"retina scan", "huella digital", "huellas digitales",
		},
	},
	{
		name: "criminal record",
		why:  neverHeld,
		words: []string{
			"jail", "jailed", "felon", "felons", "felony", "felonies", "offender", "offenders",
			"parole", "parolee", "penal", "penales", "arrested", "arrests",
			"arresto", "arrestos", "arrestado", "arrestada", "recluso", "reclusa", "reclusos",
			"condena", "condenas", "condenado", "condenada", "expresidiario", "expresidiaria",
			"detenido", "detenida", "detenidos", "detained",
		},
		stems: []string{"crimin", "convict", "prison", "prision", "carcel", "incarcerat", "encarcel", "delincu"},
		phrases: []string{
			"ex convict", "police record", "arrest record", "record policial",
			"antecedentes policiales", "antecedentes judiciales", "libertad condicional",
		},
	},
	{
		name: "social-media presence",
		why:  neverHeld,
		words: []string{
			"facebook", "twitter", "instagram", "tiktok", "youtube", "linkedin", "snapchat",
			"followers", "seguidores", "influencer", "influencers", "hashtag", "hashtags",
		},
		phrases: []string{
			"social media", "social network", "social networks", "social networking",
			"redes sociales", "red social", "online presence", "social profile",
		},
	},
	{
		name: "scoring or rating of people",
		why:  "which Canasta never does",
		words: []string{
			"score", "scores", "scored", "scoring", "scorecard", "scorecards",
			"rank", "ranks", "ranked", "ranking", "rankings", "watchlist", "leal", "leales",
			"puntaje", "puntajes", "puntuacion", "puntuaciones", "lealtad",
			"moroso", "morosa", "morosos", "morosidad",
		},
		stems: []string{"loyal", "reputa", "trustworth", "confiabil", "creditworth", "crediti", "blacklist"},
		phrases: []string{
			"credit rating", "credit ratings", "credit history", "social credit", "citizen rating",
			"social rating", "lista negra", "watch list", "credit bureau", "buro de credito",
			"buro credito", "central de riesgo", "central de riesgos",
		},
	},
	{
		name:  "conduct or behaviour",
		why:   "which Canasta never records or rates",
		words: []string{"conducta", "conductas"},
		stems: []string{"behavio", "comportam"},
		phrases: []string{
			"conduct rating", "conduct score", "conduct record", "good conduct", "bad conduct",
		},
	},
}

// screenExemptions are idioms whose tokens are not read as terms: "good
// faith" is honesty, a credit union is a cooperative bank, and Spanish
// "con víctimas" is "with victims", not "convict".
var screenExemptions = []string{"good faith", "bad faith", "credit union", "con victima", "con victimas"}

type screenTerm struct {
	key      string // normalised, without spaces
	category *specialCategory
	stem     bool
	phrase   bool
}

// screenIndex is the compiled form of specialCategories.
type screenIndex struct {
	exact    map[string]screenTerm // words and phrases
	stems    map[string]screenTerm
	stemLens []int // distinct stem lengths, so a run is checked by a few look-ups
	exempt   map[string]bool
	longest  int
}

var categoryScreen = newScreenIndex()

func newScreenIndex() *screenIndex {
	x := &screenIndex{exact: map[string]screenTerm{}, stems: map[string]screenTerm{}, exempt: map[string]bool{}}
	add := func(t screenTerm) {
		m := x.exact
		if t.stem {
			m = x.stems
			if !slices.Contains(x.stemLens, len(t.key)) {
				x.stemLens = append(x.stemLens, len(t.key))
			}
		}
		if prev, ok := m[t.key]; ok && prev.category != t.category {
			panic(fmt.Sprintf("canasta: screen term %q is in two categories", t.key))
		}
		m[t.key] = t
		x.longest = max(x.longest, len(t.key))
	}
	for i := range specialCategories {
		c := &specialCategories[i]
		for _, w := range c.words {
			add(screenTerm{key: w, category: c})
		}
		for _, s := range c.stems {
			add(screenTerm{key: s, category: c, stem: true})
		}
		for _, p := range c.phrases {
			add(screenTerm{key: strings.ReplaceAll(p, " ", ""), category: c, phrase: true})
		}
	}
	for _, e := range screenExemptions {
		k := strings.ReplaceAll(e, " ", "")
		x.exempt[k] = true
		x.longest = max(x.longest, len(k))
	}
	return x
}

// ScreenAttribute refuses an attribute declaration whose name or purpose
// names a special category of data. It returns EINVALID saying which
// category and why, or nil.
func ScreenAttribute(name, purpose string) error {
	if t, run, ok := categoryScreen.find(name); ok {
		what := "it"
		if run != normalisedName(name) {
			what = fmt.Sprintf("%q", run)
		}
		return Errorf(EINVALID, "Attribute %q is refused: %s names %s, %s. Entitlement may depend only on need-based data.",
			name, what, t.category.name, t.category.why)
	}
	if t, run, ok := categoryScreen.find(purpose); ok {
		return Errorf(EINVALID, "The purpose of attribute %q is refused: %q names %s, %s. Entitlement may depend only on need-based data.",
			name, run, t.category.name, t.category.why)
	}
	return nil
}

// screenToken is a normalised token and the word it belongs to.
type screenToken struct {
	text string
	word int
}

// find returns the first term the text names, with the normalised run of
// tokens that named it.
func (x *screenIndex) find(text string) (screenTerm, string, bool) {
	toks := screenTokens(text)
	exempt := x.exemptTokens(toks)
	for i := range toks {
		best, bestRun, found := screenTerm{}, "", false
		var run strings.Builder
		for j := i; j < len(toks) && !exempt[j]; j++ {
			run.WriteString(toks[j].text)
			s := run.String()
			sameWord := toks[j].word == toks[i].word
			if t, ok := x.exact[s]; ok && (t.phrase || sameWord) && (!found || len(t.key) > len(best.key)) {
				best, bestRun, found = t, s, true
			}
			if sameWord {
				for _, n := range x.stemLens {
					if t, ok := x.stems[s[:min(n, len(s))]]; ok && (!found || len(t.key) > len(best.key)) {
						best, bestRun, found = t, s, true
					}
				}
			}
			if len(s) >= x.longest {
				break
			}
		}
		if found {
			return best, bestRun, true
		}
	}
	return screenTerm{}, "", false
}

// exemptTokens marks the tokens that form an exempted idiom.
func (x *screenIndex) exemptTokens(toks []screenToken) []bool {
	exempt := make([]bool, len(toks))
	for i := range toks {
		s := ""
		for j := i; j < len(toks) && len(s) < x.longest; j++ {
			s += toks[j].text
			if x.exempt[s] {
				for k := i; k <= j; k++ {
					exempt[k] = true
				}
			}
		}
	}
	return exempt
}

// normalisedName is the name as the screen reads it, tokens joined.
func normalisedName(name string) string {
	var b strings.Builder
	for _, t := range screenTokens(name) {
		b.WriteString(t.text)
	}
	return b.String()
}

// screenTokens splits text into lower-case, unaccented tokens, each tagged
// with the whitespace- or punctuation-delimited word it came from.
func screenTokens(text string) []screenToken {
	var toks []screenToken
	var cur strings.Builder
	word := 0
	endToken := func() {
		if cur.Len() > 0 {
			toks = append(toks, screenToken{text: cur.String(), word: word})
			cur.Reset()
		}
	}
	endWord := func() {
		endToken()
		word++
	}
	rs := []rune(text)
	for i, r := range rs {
		switch {
		case r == '\'' || r == '’' || r == 'ʼ' || unicode.Is(unicode.Mn, r):
			// Apostrophes join ("household's"); combining accents are dropped.
		case unicode.IsLetter(r):
			if unicode.IsUpper(r) && i > 0 && camelBoundary(rs, i) {
				endToken()
			}
			cur.WriteString(foldLetter(unicode.ToLower(r)))
		case r == '_' || r == '-' || r == '.' || r == '/' || unicode.IsDigit(r):
			endToken()
		default:
			endWord()
		}
	}
	endToken()
	return toks
}

// camelBoundary reports whether the upper-case letter at i starts a new
// token: after a lower-case letter ("politicalParty"), or as the last
// capital of an acronym followed by lower case ("HIVStatus").
func camelBoundary(rs []rune, i int) bool {
	prev := rs[i-1]
	if unicode.IsLower(prev) {
		return true
	}
	return unicode.IsUpper(prev) && i+1 < len(rs) && unicode.IsLower(rs[i+1])
}

// latinFold maps accented lower-case Latin letters to their plain form.
var latinFold = func() map[rune]string {
	m := map[rune]string{'ß': "ss", 'æ': "ae", 'œ': "oe", 'þ': "th", 'ı': "i"}
	for plain, accented := range map[string]string{
		"a": "àáâãäåāăą",
		"c": "çćĉċč",
		"d": "ďđð",
		"e": "èéêëēĕėęě",
		"g": "ĝğġģ",
		"h": "ĥħ",
		"i": "ìíîïĩīĭį",
		"j": "ĵ",
		"k": "ķ",
		"l": "ĺļľŀł",
		"n": "ñńņňŉ",
		"o": "òóôõöøōŏő",
		"r": "ŕŗř",
		"s": "śŝşšș",
		"t": "ţťŧț",
		"u": "ùúûüũūŭůűų",
		"w": "ŵ",
		"y": "ýÿŷ",
		"z": "źżž",
	} {
		for _, r := range accented {
			m[r] = plain
		}
	}
	return m
}()

func foldLetter(r rune) string {
	if s, ok := latinFold[r]; ok {
		return s
	}
	return string(r)
}
