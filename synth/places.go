package synth

import (
	"math/rand/v2"
	"strconv"
)

// regionProfile is what a region looks like: its towns, its street
// naming and how many of its households carry Hispanic names.
type regionProfile struct {
	name         string
	weight       int // relative population
	localities   weighted
	postcodes    []int // first three postcode digits, per locality
	hispanicMill int   // per mille of households with Hispanic names
}

type defaultRegion struct {
	name         string
	weight       int
	hispanicMill int
	localities   []string
}

// defaultRegions are weighted so that about 70% of households carry
// Hispanic names and 30% English-speaking ones.
var defaultRegions = []defaultRegion{
	{"Capital", 22, 820, []string{"Centro", "San Cristóbal", "La Candelaria", "Los Mártires", "Ciudad Jardín", "Villa Olímpica"}},
	{"Norte", 10, 820, []string{"Santa Rosa", "San Isidro", "Villa Nueva", "El Carmen", "Los Álamos", "Piedras Blancas"}},
	{"Costa", 10, 820, []string{"Puerto Viejo", "Playa Blanca", "Bahía Solano", "San Juan de la Costa", "La Ensenada"}},
	{"Sur", 9, 820, []string{"San Martín", "Puerto Esperanza", "La Unión", "Villa del Sur", "Río Claro", "Santa Lucía"}},
	{"Valle", 9, 820, []string{"Valle Verde", "San Pedro del Valle", "Los Naranjos", "El Cerrito", "La Vega"}},
	{"Sierra", 7, 820, []string{"San Miguel de la Sierra", "Pueblo Alto", "Las Cumbres", "Tres Cruces", "El Mirador"}},
	{"Oriente", 6, 820, []string{"Puerto Nuevo", "San Fernando", "Santa Ana", "El Porvenir", "Nueva Esperanza"}},
	{"Altiplano", 5, 820, []string{"Pampa Alta", "Santiago de Huari", "Laguna Seca", "Cerro Azul", "Chiquián"}},
	{"Northside", 7, 250, []string{"Millbrook", "Ashford", "Fairview", "Oakridge", "Cedar Falls"}},
	{"Riverside", 6, 250, []string{"Riverton", "Bridgewater", "Mill Creek", "Kingsford", "Willow Bend"}},
	{"Lakeshore", 5, 250, []string{"Lakeview", "Harbor Point", "Clearwater", "Port Henley", "Sandy Bay"}},
	{"Highlands", 4, 250, []string{"Glenmore", "Highfield", "Stonehaven", "Pine Ridge", "Cairnbrook"}},
}

// DefaultRegions returns the region names used when Config.Regions is empty.
func DefaultRegions() []string {
	names := make([]string, len(defaultRegions))
	for i, d := range defaultRegions {
		names[i] = d.name
	}
	return names
}

// genericLocalities serve regions the caller names; each region gets its
// own slice of them so towns still differ between regions.
var genericLocalities = []string{
	"San José", "Santa María", "La Esperanza", "El Progreso", "San Antonio", "Villa Hermosa",
	"Los Pinos", "Santa Cruz", "San Rafael", "La Paz", "Buenavista", "El Rosario", "San Lucas",
	"Las Flores", "Monte Alto", "Nueva Granada", "Greenfield", "Springvale", "Brookside",
	"Elmwood", "Maplewood", "Fox Hollow", "Westbury", "Northgate",
}

func newRegionProfiles(names []string) []regionProfile {
	if len(names) == 0 {
		names = DefaultRegions()
	}
	known := map[string]defaultRegion{}
	for _, d := range defaultRegions {
		known[d.name] = d
	}
	profiles := make([]regionProfile, len(names))
	for i, name := range names {
		d, ok := known[name]
		if !ok {
			d = defaultRegion{name: name, weight: 8, hispanicMill: 700}
			for j := 0; j < 5; j++ {
				d.localities = append(d.localities, genericLocalities[(i*5+j)%len(genericLocalities)])
			}
		}
		p := regionProfile{name: name, weight: d.weight, localities: byRank(d.localities), hispanicMill: d.hispanicMill}
		prefix := 10 + (i*7)%90
		for j := range d.localities {
			p.postcodes = append(p.postcodes, prefix*10+j%10)
		}
		profiles[i] = p
	}
	return profiles
}

var (
	calleKinds     = []string{"Calle ", "Carrera ", "Avenida ", "Diagonal ", "Transversal "}
	calleWeights   = []int{45, 35, 10, 6, 4}
	namedCalles    = byRank([]string{"Avenida Bolívar", "Calle Hidalgo", "Avenida Juárez", "Calle Morelos", "Pasaje Los Olivos", "Avenida San Martín", "Calle Sucre", "Camino Real", "Calle de la Paz"})
	englishStreets = byRank([]string{"Main", "Elm", "Oak", "Maple", "Church", "High", "Park", "Pine", "Cedar", "Mill", "River", "Station", "Victoria", "Lincoln", "Washington", "Willow", "Lake", "Hill", "King", "Queen"})
	englishKinds   = newWeighted([]string{" Street", " Road", " Avenue", " Lane", " Drive", " Close", " Way", " Crescent"}, []int{40, 25, 12, 8, 6, 4, 3, 2})
	calleKindPick  = newWeighted(calleKinds, calleWeights)
)

// appendAddressLine writes a street address in the style of the
// household's region: "Calle 12 #34-56" or "14 Elm Street".
func appendAddressLine(b []byte, r *rand.Rand, hispanicStyle bool) []byte {
	if !hispanicStyle {
		b = strconv.AppendInt(b, int64(between(r, 1, 40)+r.IntN(2)*r.IntN(400)), 10)
		b = append(b, ' ')
		b = append(b, englishStreets.pick(r)...)
		return append(b, englishKinds.pick(r)...)
	}
	if chance(r, 250) {
		b = append(b, namedCalles.pick(r)...)
		b = append(b, ' ')
		return strconv.AppendInt(b, int64(between(r, 1, 2500)), 10)
	}
	b = append(b, calleKindPick.pick(r)...)
	b = strconv.AppendInt(b, int64(between(r, 1, 120)), 10)
	if chance(r, 80) {
		b = append(b, 'A'+byte(r.IntN(3)))
	}
	b = append(b, " #"...)
	b = strconv.AppendInt(b, int64(between(r, 1, 150)), 10)
	b = append(b, '-')
	return strconv.AppendInt(b, int64(between(r, 1, 99)), 10)
}

// appendPostcode writes the five-digit postcode of a locality.
func appendPostcode(b []byte, r *rand.Rand, prefix int) []byte {
	return appendPadded(b, int64(prefix*100+r.IntN(100)), 5)
}

// appendPadded writes n in decimal, left-padded with zeros to width.
func appendPadded(b []byte, n int64, width int) []byte {
	var d [20]byte
	i := len(d)
	for n >= 10 {
		i--
		d[i] = byte('0' + n%10)
		n /= 10
	}
	i--
	d[i] = byte('0' + n)
	for pad := width - (len(d) - i); pad > 0; pad-- {
		b = append(b, '0')
	}
	return append(b, d[i:]...)
}
