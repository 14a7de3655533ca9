package synth

import (
	"math"
	"math/rand/v2"
	"strings"
)

// culture decides how a person's names are formed and drawn.
type culture int

const (
	hispanic culture = iota
	anglophone
)

// The name lists below are real names in rough order of frequency; each
// list's draws follow a Zipf-like curve over its ranks (see byZipf). Real
// registries hold thousands of distinct surnames: the listed ones are
// followed by names formed the way such surnames are formed (see
// surnames.go), which fill the long tail of rare names.
var (
	hispanicFemaleNames = []string{
		"María", "Guadalupe", "María José", "Juana", "Margarita", "Verónica", "Leticia", "Rosa",
		"María Fernanda", "Francisca", "Teresa", "Alicia", "Patricia", "Elizabeth", "Gabriela",
		"Ana María", "Ana", "Martha", "Alejandra", "Adriana", "Silvia", "Araceli", "Claudia",
		"María del Carmen", "Carmen", "Laura", "Gloria", "Mónica", "Yolanda", "Isabel", "Sandra",
		"Lucía", "Sofía", "Valentina", "Camila", "Ximena", "Daniela", "Mariana", "Andrea",
		"María Guadalupe", "Isabella", "Paola", "Natalia", "Valeria", "Renata", "Jimena",
		"Fernanda", "Regina", "Victoria", "Elena", "Beatriz", "Inés", "Raquel", "Susana", "Norma",
		"Irma", "Angélica", "Lorena", "Karla", "Diana", "Erika", "Jessica", "Brenda", "Liliana",
		"Carolina", "Cecilia", "Cristina", "Josefina", "Esperanza", "Dolores", "Consuelo",
		"Rocío", "Pilar", "Mercedes", "Concepción", "Rosario", "Luisa", "Eugenia", "Estela",
		"Graciela", "Olga", "Elvira", "Lourdes", "Marisol", "Maricela", "Miriam", "Nancy",
		"Paula", "Pamela", "Viviana", "Lilia", "Julia", "Antonia", "Josefa", "Catalina",
		"Amparo", "Ángela", "Estefanía", "Itzel", "Yesenia", "Noemí", "Belén", "Zoé", "Nayeli",
		"Xiomara", "Maricruz", "Yazmín", "Sara", "Emilia", "Martina", "Abril", "Aitana", "Romina",
		"Florencia", "Agustina", "Antonella", "Milagros", "Micaela", "Julieta", "Guillermina",
		"Rebeca", "Ruth", "Esther", "Débora", "Judith", "Magdalena", "Marta", "Irene", "Clara",
		"Nieves", "Soledad", "Remedios", "Trinidad", "Amalia", "Aurora", "Blanca", "Celia",
		"Delia", "Edith", "Elsa", "Emma", "Eva", "Flor", "Gladys", "Hilda", "Ivonne",
		"Jacqueline", "Karina", "Lidia", "Mabel", "Marina", "Mirta", "Nora", "Ofelia", "Perla",
		"Reyna", "Rosalía", "Selena", "Tania", "Úrsula", "Vanessa", "Wendy", "Yadira", "Zulema",
		"Anahí", "Citlali", "Xóchitl", "Dulce", "Alondra", "Fátima", "Jazmín", "Marisela",
		"Maribel", "Mayra", "Yuridia", "Areli", "Berenice", "Carla", "Dayana", "Evelyn",
		"Fabiola", "Gisela", "Hortensia", "Ingrid", "Janet", "Kenia", "Lizbeth", "Magali",
		"Nélida", "Olivia", "Rosalba", "Sonia", "Tatiana", "Violeta", "Yaneth", "Zaira",
		"Lucero", "Azucena", "Paloma", "Celeste", "Estrella", "Luz", "Gema", "Lorenza", "Petra",
		"Bertha", "Carlota", "Adela", "Ramona", "Eloísa", "Inmaculada", "Montserrat", "Nuria",
		"Ainhoa", "Maite", "Begoña", "Itziar", "Luz Marina", "Sofía Alejandra", "Alba",
		"Candelaria", "Dominga", "Encarnación", "Felisa", "Gertrudis", "Herminia", "Ignacia",
		"Jovita", "Leonor", "Manuela", "Natividad", "Otilia", "Prudencia", "Quetzalli",
		"Rufina", "Serafina", "Tomasa", "Virginia", "Zenaida", "Aída", "Brisa", "Cinthia",
		"Deyanira", "Elisa", "Frida", "Graciana", "Heidi", "Ileana", "Jennifer", "Katia",
		"Lluvia", "Marcela", "Nadia", "Oralia", "Priscila", "Ruby", "Samanta", "Tamara",
		"Vianey", "Yamile",
	}
	hispanicMaleNames = []string{
		"José", "Juan", "Juan Carlos", "José Luis", "Luis", "Carlos", "Jorge", "Miguel Ángel",
		"Francisco", "Javier", "Alejandro", "Miguel", "Pedro", "Antonio", "Manuel", "Jesús",
		"Fernando", "Ricardo", "Roberto", "Eduardo", "Rafael", "Daniel", "Diego", "Andrés",
		"Sebastián", "Mateo", "Santiago", "Matías", "Nicolás", "Emiliano", "Héctor", "Raúl",
		"Óscar", "Ramón", "Víctor", "Sergio", "Arturo", "Gustavo", "Joaquín", "Tomás", "Iván",
		"Rubén", "Julián", "Esteban", "Ángel", "Efraín", "Agustín", "Germán", "Leonel",
		"Maximiliano", "Juan Pablo", "José Manuel", "Wilmer", "Yeison", "Brayan", "Alberto",
		"Enrique", "Mario", "Martín", "Pablo", "Hugo", "Adrián", "Gerardo", "Guillermo",
		"Salvador", "Ignacio", "Alfonso", "Alfredo", "Armando", "Rodrigo", "Gabriel", "Ernesto",
		"Felipe", "Gilberto", "Gonzalo", "Humberto", "Jaime", "Leonardo", "Lorenzo", "Marcos",
		"Mauricio", "Octavio", "Orlando", "Pascual", "Patricio", "Ramiro", "Reynaldo", "Rogelio",
		"Rolando", "Samuel", "Saúl", "Silvio", "Teodoro", "Ulises", "Valentín", "Vicente",
		"Xavier", "Abel", "Adolfo", "Alonso", "Álvaro", "Amado", "Aníbal", "Arnoldo", "Bernardo",
		"Braulio", "Bruno", "Camilo", "César", "Cristian", "Cristóbal", "Damián", "Darío",
		"Domingo", "Edgar", "Elías", "Emilio", "Erick", "Ezequiel", "Fabián", "Federico",
		"Fidel", "Froilán", "Gael", "Gregorio", "Ismael", "Israel", "Jacinto", "Jonathan",
		"Josué", "Leandro", "Lucas", "Marco", "Mariano", "Moisés", "Nahuel", "Noé", "Omar",
		"Osvaldo", "Porfirio", "Renato", "Rigoberto", "Rosendo", "Santos", "Simón", "Teófilo",
		"Tobías", "Uriel", "Vladimir", "Wilson", "Yahir", "Zacarías", "Benito", "Cirilo",
		"Crisanto", "Eusebio", "Evaristo", "Faustino", "Florencio", "Isidro", "Lázaro",
		"Leopoldo", "Macario", "Nazario", "Norberto", "Pánfilo", "Remigio", "Sabino",
		"Tiburcio", "Wenceslao", "Aarón", "Axel", "Bautista", "Benjamín", "Thiago", "Dante",
		"Elián", "Facundo", "Franco", "Joel", "Kevin", "Luciano", "Rodolfo", "Anderson", "Jhon",
		"Edwin", "Deivid", "José Antonio", "Juan José", "Luis Fernando", "Carlos Alberto",
		"Jesús Manuel", "Abraham", "Adán", "Amílcar", "Anselmo", "Apolinar", "Aurelio",
		"Baltazar", "Bartolomé", "Bonifacio", "Calixto", "Casimiro", "Ciro", "Clemente",
		"Conrado", "Constantino", "Delfino", "Demetrio", "Desiderio", "Eleazar", "Eliseo",
		"Emeterio", "Eladio", "Epifanio", "Erasmo", "Eulogio", "Fausto", "Feliciano",
		"Fermín", "Filiberto", "Gaspar", "Genaro", "Gerónimo", "Hermenegildo", "Hilario",
		"Horacio", "Inocencio", "Jeremías", "Jerónimo", "Julio", "Justino", "Lauro", "Lisandro",
		"Marcelino", "Marcial", "Mateo", "Maximino", "Melquíades", "Nemesio", "Nicanor",
		"Onofre", "Pío", "Plutarco", "Primitivo", "Quirino", "Raimundo", "Reinaldo", "Romualdo",
		"Saturnino", "Severino", "Tadeo", "Timoteo", "Tranquilino", "Urbano", "Venancio",
		"Zenón",
	}
	anglophoneFemaleNames = []string{
		"Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica",
		"Sarah", "Karen", "Lisa", "Nancy", "Betty", "Sandra", "Margaret", "Ashley", "Kimberly",
		"Emily", "Donna", "Michelle", "Carol", "Amanda", "Melissa", "Deborah", "Stephanie",
		"Dorothy", "Rebecca", "Sharon", "Laura", "Cynthia", "Amy", "Kathleen", "Angela",
		"Shirley", "Brenda", "Emma", "Anna", "Pamela", "Nicole", "Samantha", "Katherine",
		"Christine", "Helen", "Debra", "Rachel", "Carolyn", "Janet", "Maria", "Catherine",
		"Heather", "Diane", "Olivia", "Julie", "Joyce", "Victoria", "Ruth", "Virginia", "Lauren",
		"Kelly", "Christina", "Joan", "Evelyn", "Judith", "Andrea", "Hannah", "Megan", "Cheryl",
		"Jacqueline", "Martha", "Madison", "Teresa", "Gloria", "Sara", "Janice", "Ann",
		"Kathryn", "Abigail", "Sophia", "Frances", "Jean", "Alice", "Judy", "Isabella", "Julia",
		"Grace", "Amber", "Denise", "Danielle", "Marilyn", "Beverly", "Charlotte", "Natalie",
		"Theresa", "Diana", "Brittany", "Doris", "Kayla", "Alexis", "Lori", "Marie", "Ava",
		"Chloe", "Amelia", "Mia", "Harper", "Ella", "Lily", "Zoe", "Aaliyah", "Priya", "Linh",
		"Fatima", "Renée", "Zoë", "Siobhán", "Mary-Jane", "Ngozi", "Mai", "Aoife", "Keisha",
		"Brianna", "Chloé", "Tiffany", "Crystal", "Erin", "Courtney", "Tracy", "Wendy", "Holly",
		"Jasmine", "Morgan", "Alyssa", "Sydney", "Leah", "Paige", "Katie", "Vanessa",
		"Gabrielle", "Caroline", "Eleanor", "Penelope", "Layla", "Nora", "Riley", "Scarlett",
		"Aria", "Hazel", "Violet", "Aurora", "Savannah", "Audrey", "Claire", "Lucy", "Stella",
		"Naomi", "Ruby", "Maya", "Caitlin", "Bridget", "Fiona", "Niamh", "Mairead", "Deirdre",
		"Sinead", "Shanice", "Latoya", "Ebony", "Tamika", "Imani", "Amara", "Chiamaka",
		"Adaeze", "Yetunde", "Abena", "Akosua", "Anjali", "Deepa", "Sunita", "Meera", "Ayesha",
		"Zainab", "Noor", "Huong", "Thao", "Ngoc", "Mei", "Yuki", "Agnieszka", "Katarzyna",
		"Ingrid", "Greta", "Rose", "Lillian", "Edith", "Mildred", "Florence", "Irene", "Gladys",
		"Agnes", "Bernice", "Phyllis", "Norma", "Lorraine", "Marjorie", "Eileen", "Maureen",
		"Colleen", "Bonnie", "Peggy", "Sheila", "Gail", "Tina", "Dawn", "Tammy", "Stacy",
		"Kristen", "Lindsay", "Kelsey", "Shannon", "Whitney", "Bethany", "Chelsea", "Molly",
		"Hayley", "Kirsty", "Gemma", "Rhiannon", "Bronwen", "Isla", "Freya", "Poppy", "Imogen",
		"Esme", "Matilda", "Georgia", "Phoebe", "Rosie", "Evie", "Willow", "Ivy", "Quinn",
	}
	anglophoneMaleNames = []string{
		"James", "Robert", "John", "Michael", "David", "William", "Richard", "Joseph", "Thomas",
		"Christopher", "Charles", "Daniel", "Matthew", "Anthony", "Mark", "Donald", "Steven",
		"Paul", "Andrew", "Joshua", "Kenneth", "Kevin", "Brian", "George", "Timothy", "Ronald",
		"Edward", "Jason", "Jeffrey", "Ryan", "Jacob", "Gary", "Nicholas", "Eric", "Jonathan",
		"Stephen", "Larry", "Justin", "Scott", "Brandon", "Benjamin", "Samuel", "Gregory",
		"Alexander", "Frank", "Patrick", "Raymond", "Jack", "Dennis", "Jerry", "Tyler", "Aaron",
		"Adam", "Nathan", "Henry", "Douglas", "Zachary", "Peter", "Kyle", "Ethan", "Walter",
		"Noah", "Jeremy", "Christian", "Keith", "Roger", "Terry", "Gerald", "Harold", "Sean",
		"Austin", "Carl", "Arthur", "Lawrence", "Dylan", "Jesse", "Jordan", "Bryan", "Billy",
		"Bruce", "Gabriel", "Logan", "Albert", "Alan", "Juan", "Wayne", "Elijah", "Randy", "Roy",
		"Vincent", "Ralph", "Eugene", "Russell", "Mason", "Philip", "Louis", "Liam", "Oliver",
		"Lucas", "Aiden", "Caleb", "Owen", "Luke", "Isaac", "Connor", "Hunter", "Evan", "Ian",
		"Colin", "Declan", "Cian", "Eoin", "Ciaran", "Fergus", "Hamish", "Angus", "Callum",
		"Rhys", "Gareth", "Dafydd", "Mohammed", "Ahmed", "Ali", "Omar", "Hassan", "Yusuf",
		"Ibrahim", "Minh", "Tuan", "Duc", "Huy", "Quang", "Jamal", "Darnell", "Tyrone", "DeShawn",
		"Malik", "Andre", "Marcus", "Raj", "Arjun", "Rohan", "Vikram", "Sanjay", "Chinedu",
		"Emeka", "Oluwaseun", "Tunde", "Kwame", "Kofi", "Kwabena", "Wei", "Jun", "Hiroshi",
		"Piotr", "Tomasz", "Lars", "Sven", "Dmitri", "Seán", "John Paul", "José", "Howard",
		"Fred", "Stanley", "Leonard", "Francis", "Herbert", "Clarence", "Ernest", "Earl",
		"Norman", "Glenn", "Gordon", "Dale", "Curtis", "Craig", "Todd", "Chad", "Derek", "Shane",
		"Brett", "Travis", "Cody", "Dustin", "Trevor", "Grant", "Spencer", "Mitchell", "Neil",
		"Graham", "Stuart", "Malcolm", "Duncan", "Alistair", "Barry", "Nigel", "Clive",
		"Desmond", "Rupert", "Hugh", "Rory", "Finn", "Oscar", "Archie", "Alfie", "Harrison",
		"Theodore", "Jasper", "Felix", "Leo", "Miles", "Wyatt", "Carter", "Jackson", "Levi",
		"Silas", "Ezra", "Elliot", "Tristan", "Damian", "Rowan", "Emmett", "Beau", "Reid",
	}

	hispanicSurnames = []string{
		"García", "Rodríguez", "Hernández", "Martínez", "López", "González", "Pérez",
		"Sánchez", "Ramírez", "Torres", "Flores", "Rivera", "Gómez", "Díaz", "Reyes", "Morales",
		"Cruz", "Ortiz", "Gutiérrez", "Chávez", "Ramos", "Ruiz", "Mendoza", "Álvarez",
		"Castillo", "Jiménez", "Vásquez", "Romero", "Herrera", "Medina", "Aguilar", "Vargas",
		"Castro", "Guzmán", "Muñoz", "Rojas", "Fernández", "Moreno", "de la Cruz", "Núñez",
		"Quispe", "Mamani", "Ibáñez", "Peña", "Salazar", "Cortés", "Domínguez", "Quintero",
		"Zúñiga", "Acuña", "Benítez", "Cárdenas", "de la Rosa", "Mejía", "Espinoza", "Cabrera",
		"Valencia", "del Río", "Ocampo", "de León", "Londoño", "Huamán", "Condori",
		"Montes de Oca", "Santa María", "Echeverría", "Juárez", "Luna", "Delgado", "Vega",
		"Silva", "Sandoval", "Contreras", "Figueroa", "Soto", "Campos", "Navarro", "Ríos",
		"Guerrero", "Estrada", "Ávila", "Fuentes", "Rosales", "Pacheco", "Salinas", "Carrillo",
		"Lara", "Ortega", "Molina", "Maldonado", "Velázquez", "Ponce", "Marín", "Santiago",
		"Miranda", "Ibarra", "Orozco", "Trejo", "Escobar", "Bautista", "Montes", "Córdova",
		"Solís", "Rosas", "Mora", "Arias", "Valdez", "Cervantes", "León", "Cisneros", "Padilla",
		"Villanueva", "Zamora", "Pineda", "Galván", "Cano", "Barrera", "Calderón", "Andrade",
		"Suárez", "Duarte", "Vera", "Osorio", "Méndez", "Serrano", "Gallegos", "Lozano",
		"Paredes", "Aguirre", "Robles", "Zapata", "Acosta", "Bravo", "Cuevas", "Beltrán",
		"Cordero", "Ochoa", "Hidalgo", "Olivares", "Villarreal", "Nava", "Camacho", "Ayala",
		"Sosa", "Galindo", "Pizarro", "Vidal", "Prieto", "Tapia", "Santana", "Parra", "Velasco",
		"Rubio", "Caballero", "Alvarado", "Bermúdez", "Blanco", "Carrasco", "Correa",
		"Esquivel", "Fajardo", "Franco", "Gallardo", "Gil", "Godoy", "Guerra", "Jaramillo",
		"Lugo", "Macías", "Mata", "Meza", "Montoya", "Nieto", "Olvera", "Palacios", "Quiroga",
		"Rangel", "Rentería", "Saavedra", "Sepúlveda", "Tovar", "Trujillo", "Urbina", "Valdés",
		"Varela", "Villegas", "Zavala", "Arroyo", "Bustamante", "Cabello", "Calvo", "Carmona",
		"Cerda", "Cifuentes", "Coronado", "Dávila", "Duque", "Espinosa", "Farías", "Ferrer",
		"Gallo", "Garrido", "Granados", "Lira", "Llanos", "Lucero", "Madrigal", "Manzano",
		"Marroquín", "Montero", "Muñiz", "Naranjo", "Narváez", "Obregón", "Olmos", "Orellana",
		"Pardo", "Pastor", "Peralta", "Quezada", "Quiroz", "Rincón", "Rivas", "Roldán", "Salas",
		"Salgado", "Sanabria", "Segura", "Sierra", "Solano", "Tamayo", "Téllez", "Toledo",
		"Ulloa", "Uribe", "Valle", "Vallejo", "Vázquez", "Velásquez", "Villalobos", "Yáñez",
		"Zambrano", "Zárate", "Alarcón", "Arellano", "Arenas", "Barrios", "Becerra",
		"Benavides", "Bernal", "Borja", "Buendía", "Cáceres", "Cadena", "Casillas", "Castañeda",
		"Cavazos", "Ceballos", "Chacón", "Collado", "Cornejo", "Corona", "Cuéllar", "Escalante",
		"Escamilla", "Espino", "Esparza", "Fierro", "Frías", "Gamboa", "Gaona", "Garza",
		"Gaytán", "Hurtado", "Iglesias", "Lemus", "Leyva", "Limón", "Lomelí", "Lozada", "Luján",
		"Magaña", "Maya", "Medrano", "Melgar", "Mercado", "Millán", "Moya", "Murillo",
		"Negrete", "Noriega", "Olivo", "Ordóñez", "Otero", "Palma", "Pantoja", "Pedraza",
		"Perea", "Piña", "Polanco", "Portillo", "Quintana", "Quiñones", "Rendón", "Reynoso",
		"Rico", "Rocha", "Romo", "Rueda", "Salcedo", "Santos", "Sotelo", "Tejeda", "Terán",
		"Tirado", "Treviño", "Valadez", "Valenzuela", "Vélez", "Ventura", "Viera", "Villa",
		"Villalba", "Yepes", "Zepeda", "Arce", "Ariza", "Baca", "Barragán", "Barreto", "Cuenca",
		"Burgos", "Soria", "Segovia", "Aragón", "Navarrete", "Sevilla", "Granada", "Córdoba",
		"Mesa", "Salamanca", "Oviedo", "Lorca", "Montenegro", "Alcántara", "Almonte",
		"Arévalo", "Ballesteros", "Cantú", "Carvajal", "Castellanos", "Cobos", "Crespo",
		"Cuadrado", "Escudero", "Hinojosa", "Lagos", "Laguna", "Mondragón", "Moncada", "Monroy",
		"Ocaña", "Oropeza", "Palomino", "Plascencia", "Quevedo", "Rosado", "Sarmiento",
		"Sotomayor", "Tello", "Vaca", "Zaldívar", "Choque", "Apaza", "Ccama", "Chambi",
		"Coaquira", "Yupanqui", "Ticona", "Huanca", "Layme", "Cusi", "Mayta", "Canul", "Chan",
		"Pech", "Uc", "Poot", "Cauich", "Ek", "Dzul", "Tzec", "Balam", "Cocom", "Chi", "Tun",
		"Xool", "Aké", "Góngora", "de la Torre", "de la Fuente", "de los Santos", "del Valle",
		"de la Garza", "de Jesús", "San Martín", "Puig", "Soler", "Pujol", "Serra", "Roca",
		"Font", "Vila", "Mas", "Casas", "Sala", "Rovira", "Bosch", "Riera", "Castells", "Costa",
		"Pons", "Camps", "Prat", "Valls", "Llorens", "Oliver", "Bonet", "Pazos", "Souto", "Lema",
		"Rey", "Seoane", "Carballo", "Couto", "Barreiro", "Piñeiro", "Outeiro", "Ferreiro",
		"Regueiro", "Vilar", "Loureiro", "Figueira", "Teixeira", "Pereira", "Rossi", "Bianchi",
		"Ferrari", "Russo", "Romano", "Colombo", "Bruno", "Ricci", "Marino", "Greco", "Conti",
		"Mancini", "Lombardi", "Moretti", "Barbieri", "Fontana", "Santoro", "Caruso",
		"Ferrara", "Martinelli", "Vitale", "Schmidt", "Müller", "Weber", "Fischer", "Wagner",
		"Haddad", "Khoury", "Saade", "Nasser", "Bitar", "Sabbagh", "Abdo", "Chang", "Wong",
		"Lau", "Chiang", "Fujimori", "Tanaka", "Higa", "Yamashiro",
	}
	anglophoneSurnames = []string{
		"Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Nguyen",
		"Anderson", "Taylor", "Thomas", "Moore", "Jackson", "Martin", "Lee", "Thompson",
		"White", "Harris", "O'Brien", "Clark", "Lewis", "Robinson", "Walker", "Patel", "Young",
		"Allen", "King", "Wright", "Scott", "O'Connor", "Hill", "Green", "Kim", "Adams", "Baker",
		"Nelson", "Tran", "Campbell", "Mitchell", "O'Neill", "McDonald", "Singh", "Chen",
		"MacLeod", "Okafor", "Khan", "Wong", "D'Angelo", "Pham", "Kowalski", "Müller",
		"Smith-Jones", "Adeyemi", "Mensah", "van der Berg", "Roberts", "Carter", "Phillips",
		"Evans", "Turner", "Parker", "Collins", "Edwards", "Stewart", "Morris", "Murphy",
		"Cook", "Rogers", "Morgan", "Cooper", "Peterson", "Reed", "Bailey", "Bell", "Kelly",
		"Howard", "Ward", "Cox", "Richardson", "Wood", "Watson", "Brooks", "Bennett", "Gray",
		"James", "Hughes", "Price", "Sanders", "Myers", "Long", "Ross", "Foster", "Powell",
		"Jenkins", "Perry", "Russell", "Sullivan", "Butler", "Barnes", "Fisher", "Henderson",
		"Coleman", "Simmons", "Patterson", "Jordan", "Reynolds", "Hamilton", "Graham",
		"Wallace", "West", "Cole", "Hayes", "Bryant", "Ellis", "Stevens", "Murray", "Ford",
		"Marshall", "Owens", "Harrison", "Kennedy", "Wells", "Alexander", "Tucker", "Porter",
		"Hunter", "Hicks", "Crawford", "Henry", "Boyd", "Mason", "Warren", "Dixon", "Burns",
		"Gordon", "Shaw", "Holmes", "Rice", "Robertson", "Hunt", "Black", "Daniels", "Palmer",
		"Mills", "Grant", "Knight", "Ferguson", "Stone", "Hawkins", "Dunn", "Perkins", "Hudson",
		"Spencer", "Stephens", "Pierce", "Hansen", "Wagner", "Snyder", "Carroll", "Duncan",
		"Armstrong", "Berry", "Andrews", "Johnston", "Ray", "Lane", "Riley", "Carpenter",
		"Weaver", "Greene", "Lawrence", "Elliott", "Chapman", "Fox", "Little", "Burke",
		"Hanson", "Day", "Cunningham", "Bradley", "Lynch", "Dean", "Gilbert", "Garrett",
		"Howell", "Harper", "Fuller", "Fleming", "Sutton", "Gibson", "Webb", "Payne", "Lambert",
		"Fletcher", "Lowe", "Barker", "Holland", "Bates", "Bishop", "Cross", "Dawson", "Fowler",
		"Gardner", "Hart", "Hopkins", "Hale", "Walsh", "Page", "Norris", "Newman", "O'Sullivan",
		"O'Reilly", "Doyle", "Quinn", "Byrne", "Ryan", "Brennan", "Gallagher", "Kavanagh",
		"Fitzgerald", "Macdonald", "Mackenzie", "McKay", "McLean", "Fraser", "Sinclair",
		"Munro", "Cameron", "Douglas", "Llewellyn", "Pritchard", "Vaughan", "Griffiths",
		"Owen", "Rees", "Le", "Hoang", "Vu", "Dang", "Bui", "Do", "Ngo", "Shah", "Kumar",
		"Sharma", "Gupta", "Mehta", "Desai", "Reddy", "Rao", "Ahmed", "Ali", "Hussain",
		"Rahman", "Malik", "Wang", "Li", "Zhang", "Liu", "Chan", "Lin", "Huang", "Wu", "Park",
		"Choi", "Lim", "Yoon", "Okonkwo", "Eze", "Nwosu", "Boateng", "Owusu", "Asante", "Mwangi",
		"Nowak", "Wiśniewski", "Schmidt", "Schneider", "Becker", "Weber", "Klein", "Hoffman",
		"Rossi", "Russo", "Esposito", "Romano", "Costa", "Cohen", "Levy", "Goldberg",
		"Friedman", "Katz", "Shapiro", "Kaplan", "Abbott", "Ashby", "Atkinson", "Bannister",
		"Baxter", "Blackburn", "Bolton", "Bond", "Booth", "Bowen", "Brady", "Briggs", "Bull",
		"Burton", "Carr", "Chambers", "Coates", "Conway", "Curtis", "Dalton", "Davies",
		"Dickson", "Dodd", "Doherty", "Drake", "Dyer", "Farrell", "Finch", "Flynn", "Frost",
		"Gates", "Gill", "Goodwin", "Gough", "Hammond", "Hardy", "Hargreaves", "Hewitt",
		"Hobbs", "Hodgson", "Holt", "Horton", "Humphreys", "Hutchinson", "Ingram", "Jarvis",
		"Kay", "Kent", "Knowles", "Lamb", "Law", "Lloyd", "Lucas", "Mann", "Marsh", "Metcalfe",
		"Miles", "Moss", "Nash", "Nicholls", "North", "Osborne", "Parsons", "Pearce", "Pearson",
		"Potter", "Read", "Reeves", "Rowe", "Sharp", "Slater", "Steele", "Stokes", "Swift",
		"Talbot", "Thornton", "Todd", "Townsend", "Tyler", "Wade", "Wall", "Walters", "Watts",
		"Whitehead", "Wilkinson", "Wolfe", "Woods", "Wyatt", "Yates",
	}
)

// Hispanic compound given names start with one of a few names; the rest
// of the name is any given name of the same sex, or a name traditionally
// joined to it.
var (
	hispanicFemaleFirst = []string{"María", "Ana", "Luz", "Rosa", "Martha", "Juana"}
	hispanicMaleFirst   = []string{"José", "Juan", "Luis", "Carlos", "Miguel", "Jesús", "Francisco", "Víctor"}
)

// Shares of persons, per mille, with a compound given name drawn from the
// parts above (listed compounds come on top), and of Hispanic persons
// with two surnames recorded.
const (
	hispanicCompoundMill   = 250
	anglophoneMiddleMill   = 120
	hispanicTwoSurnameMill = 880
)

// nameTables are the weighted lists names are drawn from, built once.
type nameTables struct {
	given              [2][2]weighted // culture, female
	compoundFirst      [2]weighted    // Hispanic compound names by female
	surnames           [2]weighted    // culture
	compoundSurnameSet map[string]bool
}

var names = newNameTables()

func newNameTables() *nameTables {
	t := &nameTables{compoundSurnameSet: map[string]bool{}}
	t.given[hispanic][1] = byZipf(hispanicFemaleNames, 3)
	t.given[hispanic][0] = byZipf(hispanicMaleNames, 3)
	t.given[anglophone][1] = byZipf(anglophoneFemaleNames, 3)
	t.given[anglophone][0] = byZipf(anglophoneMaleNames, 3)
	t.compoundFirst[1] = byZipf(hispanicFemaleFirst, 1)
	t.compoundFirst[0] = byZipf(hispanicMaleFirst, 1)
	hs := withFormed(hispanicSurnames, formedHispanicSurnames(), 0x68697370)
	es := withFormed(anglophoneSurnames, formedEnglishSurnames(), 0x656e676c)
	t.surnames[hispanic] = byZipf(hs, 4)
	t.surnames[anglophone] = byZipf(es, 4)
	for _, s := range append(hs, es...) {
		if strings.Contains(s, " ") {
			t.compoundSurnameSet[s] = true
		}
	}
	return t
}

// withFormed appends the formed names to the listed ones, leaving out
// repeats, in an order shuffled by seed so the rare tail mixes every way
// of forming a name.
func withFormed(listed, formed []string, seed uint64) []string {
	seen := make(map[string]bool, len(listed)+len(formed))
	out := make([]string, 0, len(listed)+len(formed))
	for _, s := range listed {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	var tail []string
	for _, s := range formed {
		if !seen[s] {
			seen[s] = true
			tail = append(tail, s)
		}
	}
	r := rand.New(rand.NewPCG(seed, splitmix(seed)))
	r.Shuffle(len(tail), func(i, j int) { tail[i], tail[j] = tail[j], tail[i] })
	return append(out, tail...)
}

// byZipf weights a list in order of frequency by 1/(rank+k): the shape of
// name frequency tables, whose commonest names are each a few per cent of
// people and whose tail is long. Repeats are dropped.
func byZipf(items []string, k int) weighted {
	seen := map[string]bool{}
	var kept []string
	for _, s := range items {
		if !seen[s] {
			seen[s] = true
			kept = append(kept, s)
		}
	}
	weights := make([]int, len(kept))
	for i := range kept {
		weights[i] = int(math.Round(1e7 / float64(i+1+k)))
	}
	return newWeighted(kept, weights)
}

// givenName draws a given name, compound for some.
func givenName(r *rand.Rand, c culture, female bool) string {
	list := names.given[c][b2i(female)]
	switch {
	case c == hispanic && chance(r, hispanicCompoundMill):
		first := names.compoundFirst[b2i(female)].pick(r)
		second := list.pick(r)
		for tries := 0; strings.Contains(second, " ") || second == first; tries++ {
			if tries == 5 {
				return first
			}
			second = list.pick(r)
		}
		return first + " " + second
	case c == anglophone && chance(r, anglophoneMiddleMill):
		first, second := list.pick(r), list.pick(r)
		if strings.Contains(first, " ") || strings.Contains(second, " ") || first == second {
			return first
		}
		return first + " " + second
	}
	return list.pick(r)
}

func surname(r *rand.Rand, c culture) string { return names.surnames[c].pick(r) }

// splitSurnames splits a recorded family name into its two surnames,
// knowing that some surnames are several words ("de la Cruz"), or
// reports false if it is one surname.
func splitSurnames(s string) (first, second string, ok bool) {
	for i := 0; i < len(s); i++ {
		if s[i] != ' ' {
			continue
		}
		a, b := s[:i], s[i+1:]
		if (names.compoundSurnameSet[a] || !strings.Contains(a, " ")) &&
			(names.compoundSurnameSet[b] || !strings.Contains(b, " ")) {
			return a, b, true
		}
	}
	return "", "", false
}
