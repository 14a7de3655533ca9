package synth

import "strings"

// A national registry holds thousands of distinct surnames, most of them
// rare. Listing them all is neither possible nor needed: the rare ones are
// formed here the way real surnames are formed, from places and
// landmarks, so the synthetic tail looks like a real one and namesakes are
// as rare as in a real registry.

// Basque surnames name the family's house or land from a landmark and a
// place word: Echeverría (new house), Iturralde (by the spring),
// Arrieta (stony place), Mendizábal (wide mountain).
var (
	basqueLandmarks = []string{"Arri", "Itur", "Zubi", "Mendi", "Ola", "Eche", "Goi", "Larra", "Ibar",
		"Zabal", "Ugal", "Urqui", "Aran", "Goros", "Lasa", "Elor", "Zuri", "Beri", "Amez", "Uri",
		"Garai", "Aiz", "Azpi", "Olaz", "Erre", "Sagas", "Arte", "Gaste", "Bidas", "Lecu"}
	basquePlaces = []string{"aga", "eta", "ola", "alde", "gui", "buru", "zábal", "goitia", "ondo",
		"garay", "mendi", "bide", "rena", "ain", "egui", "zar", "txe", "arte"}
)

// Castilian place surnames join a place word and an adjective:
// Villanueva, Fuentealba, Torreblanca, Castroverde, Campofrío.
var (
	castilianPlacesF = []string{"Villa", "Fuente", "Torre", "Peña", "Vega", "Casa", "Sierra", "Cuesta"}
	castilianPlacesM = []string{"Monte", "Castro", "Campo", "Valle", "Río", "Cerro"}
	castilianAdjF    = []string{"nueva", "real", "verde", "mayor", "alta", "blanca", "rubia", "fría",
		"alba", "seca", "grande", "larga", "hermosa", "llana", "roja", "negra", "dorada"}
	castilianAdjM = []string{"nuevo", "real", "verde", "mayor", "alto", "blanco", "rubio", "frío",
		"seco", "grande", "largo", "hermoso", "llano", "rojo", "negro", "dorado"}
)

// Patronymic surnames in -ez and -es name the father: Martín, Martínez.
var patronymicRoots = []string{"Aldon", "Alvar", "Antún", "Báez", "Bermúd", "Blásqu", "Estév",
	"Enríqu", "Férr", "Galíndez", "Garcés", "Gonzálv", "Llór", "Lop", "Márqu", "Ménd", "Muñ",
	"Nuñ", "Ordóñ", "Peláez", "Rodrigu", "Sáenz", "Sanch", "Suár", "Tell", "Valdiv", "Velázqu",
	"Vélez", "Ximén", "Yáñ"}

// Andean surnames are often Quechua or Aymara words; many join two.
var (
	andeanFirst  = []string{"Huaman", "Quispe", "Condor", "Inca", "Yupan", "Puma", "Titu", "Cusi", "Ccori", "Challco", "Illa", "Mayta"}
	andeanSecond = []string{"ccori", "huaman", "cusi", "nina", "pampa", "rimachi", "chahua", "quispe", "huanca", "lla", "puma", "yauri"}
)

func formedHispanicSurnames() []string {
	var out []string
	for _, l := range basqueLandmarks {
		for _, p := range basquePlaces {
			out = append(out, joinBasque(l, p))
		}
	}
	for _, p := range castilianPlacesF {
		for _, a := range castilianAdjF {
			out = append(out, p+a)
		}
	}
	for _, p := range castilianPlacesM {
		for _, a := range castilianAdjM {
			out = append(out, p+a)
		}
	}
	for _, r := range patronymicRoots {
		if strings.HasSuffix(r, "z") {
			out = append(out, r)
			continue
		}
		out = append(out, r+"ez")
	}
	for _, a := range andeanFirst {
		for _, b := range andeanSecond {
			if !strings.EqualFold(a[:3], b[:3]) {
				out = append(out, a+b)
			}
		}
	}
	return out
}

// joinBasque joins a landmark and a place word the way the language
// does: a consonant meeting a vowel takes a linking -r-, -i- or -e-.
func joinBasque(landmark, place string) string {
	lv := strings.ContainsRune("aeiou", rune(landmark[len(landmark)-1]))
	pv := strings.ContainsRune("aeiouá", rune(place[0]))
	switch {
	case lv && pv && landmark[len(landmark)-1] == place[0]:
		return landmark + place[1:]
	case !lv && !pv:
		return landmark + "e" + place
	case !lv && pv && strings.HasSuffix(landmark, "r"):
		return landmark + "ri" + place
	}
	return landmark + place
}

// English place surnames join a landscape word and a settlement word:
// Ashford, Bradley, Thornton, Whitfield, Caldwell.
var (
	englishLandscape = []string{"Ash", "Black", "Brad", "Brook", "Cald", "Chat", "Craw", "Fair",
		"Hat", "Hay", "Hol", "Lang", "Lind", "Mars", "Mid", "North", "Old", "Red", "Rad", "Ross",
		"Rush", "Sand", "Stan", "Thorn", "Wake", "Wal", "Wes", "Whit", "Wood", "Ald", "Brom",
		"Hart", "Kings", "Oak", "Shel", "Brain", "Cliff", "Elm", "Har", "Stock", "Thurs", "Win"}
	englishSettlement = []string{"ley", "ton", "ford", "field", "wood", "well", "by", "ham",
		"worth", "stone", "bury", "more", "dale", "wick", "hurst", "combe", "shaw", "ridge",
		"croft", "brook", "den", "thorpe"}
)

// English patronymic surnames name the father: Davidson, Fitzgerald,
// McArthur.
var englishFathers = []string{"David", "Richard", "Robert", "Peter", "Gib", "Dick", "Harri",
	"Jack", "Wat", "Will", "Hob", "Ander", "Nichol", "Steven", "Hud", "Tom", "Ed", "Mat"}

var gaelicFathers = []string{"Arthur", "Donald", "Gregor", "Intosh", "Kenzie", "Lean", "Millan",
	"Pherson", "Kay", "Allister", "Cormack", "Dougall", "Ewan", "Farlane", "Gill", "Kinnon",
	"Laren", "Naughton", "Neil", "Quarrie", "Rae", "Tavish"}

func formedEnglishSurnames() []string {
	var out []string
	for _, l := range englishLandscape {
		for _, s := range englishSettlement {
			if strings.HasSuffix(l, s[:1]) && len(s) > 1 && s[1] == s[0] {
				continue
			}
			out = append(out, l+s)
		}
	}
	for _, f := range englishFathers {
		out = append(out, f+"son", f+"s")
	}
	for _, f := range gaelicFathers {
		out = append(out, "Mac"+f, "Mc"+f)
	}
	return out
}
