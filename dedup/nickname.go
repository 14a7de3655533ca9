package dedup

// nicknames maps familiar forms of given names, in English and Spanish,
// to the name they stand for; the key and value are folded by Tokens.
// Ambiguous diminutives keep their most common reading.
var nicknames = map[string]string{
	// Spanish
	"pepe": "jose", "pepito": "jose", "chepe": "jose", "jose": "jose",
	"paco": "francisco", "pancho": "francisco", "curro": "francisco", "frank": "francisco",
	"nacho": "ignacio", "lalo": "eduardo", "lupe": "guadalupe", "lupita": "guadalupe",
	"chucho": "jesus", "chuy": "jesus", "memo": "guillermo", "guille": "guillermo",
	"beto": "roberto", "tito": "alberto", "tono": "anthony", "tony": "anthony", "antonio": "anthony",
	"quique": "enrique", "kike": "enrique", "rafa": "rafael", "fer": "fernando", "nando": "fernando",
	"chema": "jose maria", "manolo": "manuel", "manu": "manuel", "santi": "santiago",
	"alex": "alejandro", "ale": "alejandra", "sebas": "sebastian", "juanca": "juan carlos",
	"juancho": "juan", "juanito": "juan", "lucho": "luis", "pedrito": "pedro", "chava": "salvador",
	"moncho": "ramon", "richi": "ricardo", "javi": "javier", "dani": "daniel", "migue": "miguel",
	"tere": "teresa", "maite": "maria teresa", "marijo": "maria jose", "majo": "maria jose",
	"mari": "maria", "maru": "maria eugenia", "conchita": "concepcion", "concha": "concepcion",
	"charo": "rosario", "chayo": "rosario", "lola": "dolores", "loli": "dolores",
	"pili": "pilar", "meche": "mercedes", "vero": "veronica", "caro": "carolina",
	"pato": "patricia", "paty": "patricia", "naty": "natalia", "fabi": "fabiola", "vale": "valentina",
	"sofi": "sophia", "cami": "camila", "gaby": "gabriela", "gabi": "gabriela", "mony": "monica",
	"ceci": "cecilia", "marisol": "maria soledad", "chelo": "consuelo", "yoli": "yolanda",
	"cris": "cristina", "isa": "isabel", "isabella": "isabel", "ximena": "jimena",
	// English
	"bill": "william", "billy": "william", "will": "william", "willie": "william", "liam": "william",
	"bob": "robert", "bobby": "robert", "rob": "robert", "robbie": "robert", "bert": "robert",
	"dick": "richard", "rick": "richard", "ricky": "richard", "rich": "richard",
	"jim": "james", "jimmy": "james", "jamie": "james", "jack": "john", "johnny": "john", "jon": "john",
	"mike": "michael", "mikey": "michael", "mick": "michael", "dave": "david", "davy": "david",
	"dan": "daniel", "danny": "daniel", "joe": "joseph", "joey": "joseph", "tom": "thomas",
	"tommy": "thomas", "matt": "matthew", "chris": "christopher", "kit": "christopher",
	"ant": "anthony", "ed": "edward", "eddie": "edward", "ted": "edward",
	"ned": "edward", "harry": "henry", "hank": "henry", "chuck": "charles", "charlie": "charles",
	"steve": "stephen", "steven": "stephen", "ben": "benjamin", "benny": "benjamin",
	"sam": "samuel", "sammy": "samuel", "nick": "nicholas", "andy": "andrew", "drew": "andrew",
	"pat": "patrick", "paddy": "patrick", "sean": "john", "greg": "gregory", "jerry": "gerald",
	"larry": "lawrence", "ron": "ronald", "ronnie": "ronald", "don": "donald", "doug": "douglas",
	"ken": "kenneth", "kenny": "kenneth", "tim": "timothy", "jake": "jacob", "ty": "tyler",
	"kev": "kevin", "bri": "brian", "mo": "mohammed", "muhammad": "mohammed", "mohamed": "mohammed",
	"peggy": "margaret", "maggie": "margaret", "meg": "margaret", "megan": "margaret",
	"beth": "elizabeth", "liz": "elizabeth", "lizzie": "elizabeth", "betty": "elizabeth",
	"eliza": "elizabeth", "jen": "jennifer", "jenny": "jennifer", "jess": "jessica",
	"jessie": "jessica", "sally": "sarah", "sadie": "sarah", "kate": "katherine", "katie": "katherine",
	"kathy": "katherine", "cathy": "katherine", "catherine": "katherine", "kathryn": "katherine",
	"molly": "mary", "polly": "mary", "mamie": "mary", "sue": "susan", "susie": "susan",
	"annie": "anne", "ann": "anne", "ana": "anne", "nan": "anne", "nancy": "anne", "abby": "abigail",
	"em": "emily", "emmy": "emma", "ash": "ashley", "lindy": "linda", "livvy": "olivia",
	"liv": "olivia", "sophie": "sophia", "sofia": "sophia", "gracie": "grace", "lottie": "charlotte",
	"millie": "amelia", "amy": "amelia", "bree": "brianna", "hanna": "hannah",
	"shiv": "siobhan",
}

// Canonical returns the full given name a nickname stands for, or the
// word itself.
func Canonical(word string) string {
	if c, ok := nicknames[word]; ok {
		return c
	}
	return word
}
