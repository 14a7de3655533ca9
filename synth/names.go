package synth

// culture decides how a person's names are formed and drawn.
type culture int

const (
	hispanic culture = iota
	anglophone
)

// Name lists are in rough order of frequency; byRank weights them.
var (
	hispanicFemale = byRank([]string{
		"María José", "Guadalupe", "María Fernanda", "Sofía", "Valentina", "Camila", "Ximena",
		"Ana María", "Lucía", "Daniela", "María", "Mariana", "Gabriela", "María Guadalupe",
		"Andrea", "Isabella", "Paola", "Carmen", "Rosa", "Juana", "Leticia", "Verónica",
		"Adriana", "Alejandra", "Patricia", "Claudia", "María del Carmen", "Marisol",
		"Beatriz", "Inés", "Raquel", "Yolanda", "Martha", "Silvia", "Natalia", "Valeria",
		"Renata", "Jimena", "Fernanda", "Luz Marina", "Ángela", "Mónica", "Estefanía",
		"Itzel", "Yesenia", "Dolores", "Consuelo", "Araceli", "Noemí", "Belén", "Zoé",
		"Rocío", "Nayeli", "Xiomara", "Maricruz", "Sofía Alejandra", "Yazmín",
	})
	hispanicMale = byRank([]string{
		"Juan Carlos", "José Luis", "Juan", "José", "Luis", "Carlos", "Jorge", "Miguel Ángel",
		"Francisco", "Javier", "Alejandro", "Diego", "Andrés", "Sebastián", "Mateo",
		"Santiago", "Matías", "Nicolás", "Emiliano", "Rafael", "Fernando", "Ricardo",
		"Eduardo", "Roberto", "Manuel", "Pedro", "Antonio", "Héctor", "Raúl", "Óscar",
		"Jesús", "Ramón", "Víctor", "Sergio", "Arturo", "Gustavo", "Joaquín", "Tomás",
		"Iván", "Rubén", "Julián", "Esteban", "Ángel", "Efraín", "Agustín", "Germán",
		"Leonel", "Maximiliano", "Juan Pablo", "José Manuel", "Wilmer", "Yeison", "Brayan",
	})
	hispanicFamily = byRank([]string{
		"García", "Rodríguez", "Hernández", "Martínez", "López", "González", "Pérez",
		"Sánchez", "Ramírez", "Torres", "Flores", "Rivera", "Gómez", "Díaz", "Reyes",
		"Morales", "Cruz", "Ortiz", "Gutiérrez", "Chávez", "Ramos", "Ruiz", "Mendoza",
		"Álvarez", "Castillo", "Jiménez", "Vásquez", "Romero", "Herrera", "Medina",
		"Aguilar", "Vargas", "Castro", "Guzmán", "Muñoz", "Rojas", "Fernández", "Moreno",
		"de la Cruz", "Núñez", "Quispe", "Mamani", "Ibáñez", "Peña", "Salazar", "Cortés",
		"Domínguez", "Quintero", "Zúñiga", "Acuña", "Benítez", "Cárdenas", "de la Rosa",
		"Mejía", "Espinoza", "Cabrera", "Valencia", "del Río", "Ocampo", "de León",
		"Londoño", "Huamán", "Condori", "Montes de Oca", "Santa María", "Echeverría",
	})
	anglophoneFemale = byRank([]string{
		"Mary", "Jennifer", "Sarah", "Emily", "Jessica", "Olivia", "Emma", "Linda", "Ashley",
		"Ava", "Sophia", "Grace", "Hannah", "Megan", "Chloe", "Elizabeth", "Charlotte",
		"Amelia", "Aaliyah", "Priya", "Linh", "Fatima", "Renée", "Zoë", "Siobhán",
		"Mary-Jane", "Ngozi", "Mai", "Aoife", "Keisha", "Brianna", "Chloé",
	})
	anglophoneMale = byRank([]string{
		"James", "John", "Michael", "Robert", "William", "David", "Daniel", "Joseph",
		"Thomas", "Matthew", "Christopher", "Anthony", "Ryan", "Liam", "Noah", "Ethan",
		"Jacob", "Tyler", "Kevin", "Brian", "Sean", "Patrick", "Mohammed", "Minh",
		"Jamal", "Raj", "Dylan", "Seán", "Chinedu", "Tuan", "Kofi", "John Paul", "José",
	})
	anglophoneFamily = byRank([]string{
		"Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson",
		"Nguyen", "Anderson", "Taylor", "Thomas", "Moore", "Jackson", "Martin", "Lee",
		"Thompson", "White", "Harris", "O'Brien", "Clark", "Lewis", "Robinson", "Walker",
		"Patel", "Young", "Allen", "King", "Wright", "Scott", "O'Connor", "Hill", "Green",
		"Kim", "Adams", "Baker", "Nelson", "Tran", "Campbell", "Mitchell", "O'Neill",
		"McDonald", "Singh", "Chen", "MacLeod", "Okafor", "Khan", "Wong", "D'Angelo",
		"Pham", "Kowalski", "Müller", "Smith-Jones", "Adeyemi", "Mensah", "van der Berg",
	})
)

func givenNames(c culture, female bool) weighted {
	switch {
	case c == hispanic && female:
		return hispanicFemale
	case c == hispanic:
		return hispanicMale
	case female:
		return anglophoneFemale
	default:
		return anglophoneMale
	}
}
