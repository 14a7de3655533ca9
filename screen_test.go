package canasta

import (
	"strings"
	"testing"
)

const neutralPurpose = "Sizes the monthly food ration to the household's needs."

// Category names as they appear in refusal messages.
const (
	catPolitical = "political opinion or activity"
	catVoting    = "voting"
	catReligion  = "religion or belief"
	catEthnicity = "ethnicity or race"
	catUnion     = "trade-union membership"
	catSexual    = "sexual life or orientation"
	catHealth    = "health diagnosis"
	catBiometric = "biometric or genetic data"
	catCriminal  = "criminal record"
	catSocial    = "social-media presence"
	catScoring   = "scoring or rating of people"
	catConduct   = "conduct or behaviour"
)

func TestScreenAttribute(t *testing.T) {
	tests := []struct {
		name     string
		attr     string
		purpose  string // neutralPurpose when empty
		category string // "" when the declaration is allowed
	}{
		// Political opinion, party or activity.
		{"political_affiliation", "political_affiliation", "", catPolitical},
		{"PoliticalParty_camel", "PoliticalParty", "", catPolitical},
		{"partido_politico", "partido_politico", "", catPolitical},
		{"PartidoPolítico_accent", "PartidoPolítico", "", catPolitical},
		{"pol_party", "pol_party", "", catPolitical},
		{"party_membership", "party_membership", "", catPolitical},
		{"ideologia", "ideologia", "", catPolitical},
		{"militante", "militante", "", catPolitical},
		{"activist", "is_activist", "", catPolitical},
		{"left_wing", "left_wing_sympathy", "", catPolitical},
		// Voting.
		{"votes", "votes", "", catVoting},
		{"voting_history", "voting_history", "", catVoting},
		{"voter", "registered_voter", "", catVoting},
		{"elector", "elector", "", catVoting},
		{"electoral_roll", "electoral_roll", "", catVoting},
		{"voto", "voto", "", catVoting},
		{"votante", "votante", "", catVoting},
		{"VOTACIÓN_upper_accent", "VOTACIÓN", "", catVoting},
		// Religion or belief.
		{"religion", "religion", "", catReligion},
		{"RELIGION_upper", "RELIGION", "", catReligion},
		{"Religión_accent", "Religión", "", catReligion},
		{"rel_igion_split", "rel_igion", "", catReligion},
		{"religious_affiliation", "religious_affiliation", "", catReligion},
		{"religion2_digit", "religion2", "", catReligion},
		{"iglesia", "iglesia", "", catReligion},
		{"church_attendance", "church_attendance", "", catReligion},
		{"protestant_not_protest", "protestant", "", catReligion},
		{"creencias", "creencias", "", catReligion},
		{"faith_based", "faith_based_group", "", catReligion},
		{"catolico", "católico", "", catReligion},
		// Ethnicity or race.
		{"ethnicity", "ethnicity", "", catEthnicity},
		{"etnia", "etnia", "", catEthnicity},
		{"raza", "raza", "", catEthnicity},
		{"race", "race", "", catEthnicity},
		{"caste", "caste", "", catEthnicity},
		{"casta", "casta", "", catEthnicity},
		{"indigena", "indígena", "", catEthnicity},
		{"skin_colour", "skin_colour", "", catEthnicity},
		{"EthnicGroup_camel", "EthnicGroup", "", catEthnicity},
		// Trade-union membership.
		{"sindicato", "sindicato", "", catUnion},
		{"afiliacion_sindical", "afiliacion_sindical", "", catUnion},
		{"union_member", "union_member", "", catUnion},
		{"trade_union", "trade-union", "", catUnion},
		// Sexual life or orientation.
		{"orientacion_sexual", "orientacion_sexual", "", catSexual},
		{"sexual_orientation", "sexual.orientation", "", catSexual},
		{"SexLife_camel", "SexLife", "", catSexual},
		{"lgbtq", "lgbtq", "", catSexual},
		// Health diagnosis.
		{"diagnosis", "diagnosis", "", catHealth},
		{"diagnostico", "diagnóstico", "", catHealth},
		{"hiv_status", "hiv_status", "", catHealth},
		{"HIVStatus_acronym", "HIVStatus", "", catHealth},
		{"vih", "vih", "", catHealth},
		{"historia_clinica", "historia_clinica", "", catHealth},
		// Biometric or genetic data.
		{"fingerprint", "fingerprint", "", catBiometric},
		{"huella_dactilar", "huella_dactilar", "", catBiometric},
		{"iris_scan", "iris_scan", "", catBiometric},
		{"face_template", "face/template", "", catBiometric},
		{"biometria", "biometría", "", catBiometric},
		{"dna_sample", "dna_sample", "", catBiometric},
		// Criminal record.
		{"criminal_record", "criminal_record", "", catCriminal},
		{"antecedentes_penales", "antecedentes_penales", "", catCriminal},
		{"convicted", "convicted", "", catCriminal},
		{"parent_in_prison", "parent_in_prison", "", catCriminal},
		// Social-media presence.
		{"redes_sociales", "redes_sociales", "", catSocial},
		{"social_media", "social_media", "", catSocial},
		{"SocialMediaHandle_camel", "SocialMediaHandle", "", catSocial},
		{"facebook", "facebook_followers", "", catSocial},
		// Scoring or rating of people.
		{"partial_score", "partial_score", "", catScoring},
		{"score", "score", "", catScoring},
		{"puntaje", "puntaje", "", catScoring},
		{"puntuacion", "puntuación", "", catScoring},
		{"lealtad", "lealtad", "", catScoring},
		{"loyalty", "loyalty_points", "", catScoring},
		{"credit_rating", "credit_rating", "", catScoring},
		{"social_credit", "social_credit", "", catScoring},
		{"trustworthiness", "trustworthiness", "", catScoring},
		{"reputation", "reputation", "", catScoring},
		{"ranking", "need_ranking", "", catScoring},
		// Conduct or behaviour.
		{"behaviour_rating", "behaviour_rating", "", catConduct},
		{"behavior", "behavior", "", catConduct},
		{"conducta", "conducta", "", catConduct},
		{"good_conduct", "good_conduct", "", catConduct},

		// Refused by purpose alone.
		{"purpose_religion", "group_code", "Records the household's religion for outreach.", catReligion},
		{"purpose_scoring", "group_code", "Not used for scoring.", catScoring},
		{"purpose_social_media_phrase", "group_code", "Counts social media accounts of members.", catSocial},
		{"purpose_redes_sociales_phrase", "grupo", "Registra las redes sociales del hogar.", catSocial},
		{"purpose_votes_spanish", "grupo", "Indica si el jefe de hogar votó en las elecciones.", catVoting},

		// Allowed: need-based names.
		{"household_size", "household_size", "", ""},
		{"disability", "disability", "", ""},
		{"pregnant", "pregnant", "", ""},
		{"embarazada", "embarazada", "", ""},
		{"lactating", "lactating", "", ""},
		{"school_enrolled", "school_enrolled", "", ""},
		{"chronic_condition", "chronic_condition", "", ""},
		{"chronic_illness_care_needs", "chronic_illness_care_needs", "", ""},
		{"water_access", "water_access", "", ""},
		{"has_refrigerator", "has_refrigerator", "", ""},
		{"has_stove", "has_stove", "", ""},
		{"tenure", "tenure", "", ""},
		{"rent_minor", "rent_minor", "", ""},
		{"orphan", "orphan", "", ""},
		{"widow", "widow", "", ""},
		{"region", "region", "", ""},
		{"income", "income", "", ""},
		{"population", "population_served", "", ""},
		{"policy", "policy_number", "", ""},
		{"core_members", "core_members", "", ""},
		{"corestaff", "corestaff", "", ""},
		{"ethanol_stove", "ethanol_stove", "", ""},
		{"hearing_aids", "hearing_aids", "", ""},
		{"indigent", "indigent", "", ""},
		{"retinol_supplement", "retinol_supplement", "", ""},
		{"congregate_meals", "congregate_meals", "", ""},
		{"tax_credit", "tax_credit", "", ""},
		{"disability_rating", "disability_rating", "", ""},
		{"crime_victim", "crime_victim", "", ""},
		{"hogar_con_victimas", "hogar_con_victimas", "", ""},
		{"credit_union_member", "credit_union_member", "", ""},
		{"face_to_face_visit", "face_to_face_visit", "", ""},
		{"electricity_access", "electricity_access", "", ""},
		{"partido_district", "partido", "", ""},
		{"parroquia", "parroquia", "", ""},
		{"union_libre", "union_libre", "", ""},
		{"sex", "sex", "", ""},
		{"CamelCaseAllowed", "HouseholdSize", "", ""},

		// Allowed: prose that must not spell a term across words.
		{"purpose_si_da", "embarazada", "Aumenta la leche si da a luz este mes.", ""},
		{"purpose_con_victimas", "apoyo", "Programas con víctimas de violencia reciben kits de higiene.", ""},
		{"purpose_good_faith", "self_declared", "Declared in good faith by the head of household.", ""},
		{"purpose_conduct_verb", "has_stove", "We conduct home visits to check the stove.", ""},
		{"purpose_apostrophe", "core_need", "Covers the households' core needs for cooking fuel.", ""},
		{"purpose_cast_a", "has_stove", "Outreach will cast a wide net across the region.", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			purpose := tt.purpose
			if purpose == "" {
				purpose = neutralPurpose
			}
			err := ScreenAttribute(tt.attr, purpose)
			if tt.category == "" {
				if err != nil {
					t.Fatalf("ScreenAttribute(%q, %q) = %v, want nil", tt.attr, purpose, err)
				}
				return
			}
			if got := ErrorCode(err); got != EINVALID {
				t.Fatalf("ScreenAttribute(%q, %q) code = %q, want EINVALID (err %v)", tt.attr, purpose, got, err)
			}
			msg := ErrorMessage(err)
			if !strings.Contains(msg, " names "+tt.category+",") {
				t.Errorf("message %q does not name category %q", msg, tt.category)
			}
			if !strings.Contains(msg, "need-based") {
				t.Errorf("message %q does not say why", msg)
			}
		})
	}
}

func TestScreenAttributeMessage(t *testing.T) {
	tests := []struct {
		name, attr, purpose, want string
	}{
		{"whole_name", "religion", neutralPurpose,
			`Attribute "religion" is refused: it names religion or belief, a special category Canasta never holds. Entitlement may depend only on need-based data.`},
		{"part_of_name", "religious_affiliation", neutralPurpose,
			`Attribute "religious_affiliation" is refused: "religious" names religion or belief, a special category Canasta never holds. Entitlement may depend only on need-based data.`},
		{"accented_name", "Religión", neutralPurpose,
			`Attribute "Religión" is refused: it names religion or belief, a special category Canasta never holds. Entitlement may depend only on need-based data.`},
		{"scoring", "partial_score", neutralPurpose,
			`Attribute "partial_score" is refused: "score" names scoring or rating of people, which Canasta never does. Entitlement may depend only on need-based data.`},
		{"purpose", "group_code", "Used to check voter registration.",
			`The purpose of attribute "group_code" is refused: "voter" names voting, a special category Canasta never holds. Entitlement may depend only on need-based data.`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ErrorMessage(ScreenAttribute(tt.attr, tt.purpose))
			if got != tt.want {
				t.Errorf("message\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

// TestScreenAttributeCombiningMarks checks decomposed accents (NFD), as
// some keyboards and files produce them, are stripped like precomposed ones.
func TestScreenAttributeCombiningMarks(t *testing.T) {
	for _, name := range []string{"Religio\u0301n", "diagno\u0301stico", "puntuacio\u0301n"} {
		t.Run(name, func(t *testing.T) {
			if ErrorCode(ScreenAttribute(name, neutralPurpose)) != EINVALID {
				t.Errorf("ScreenAttribute(%q) allowed a decomposed special-category name", name)
			}
		})
	}
}

// TestScreenTerms checks that every listed term, written as a name, is
// refused under its own category: no term is unreachable or shadowed by a
// longer term of another category.
func TestScreenTerms(t *testing.T) {
	for _, c := range specialCategories {
		var terms []string
		terms = append(terms, c.words...)
		terms = append(terms, c.stems...)
		for _, p := range c.phrases {
			terms = append(terms, strings.ReplaceAll(p, " ", "_"))
		}
		for _, term := range terms {
			t.Run(term, func(t *testing.T) {
				msg := ErrorMessage(ScreenAttribute(term, neutralPurpose))
				if !strings.Contains(msg, " names "+c.name+",") {
					t.Errorf("ScreenAttribute(%q) = %q, want category %q", term, msg, c.name)
				}
			})
		}
	}
}

func TestScreenTokens(t *testing.T) {
	tests := []struct {
		name, text, want string // want: tokens joined by " ", words by " | "
	}{
		{"snake", "rel_igion", "rel igion"},
		{"camel", "PoliticalParty", "political party"},
		{"acronym", "HIVStatus", "hiv status"},
		{"accents", "Afiliación_Sindical", "afiliacion sindical"},
		{"digits", "pol2party", "pol party"},
		{"separators", "a-b.c/d_e", "a b c d e"},
		{"apostrophe", "household's", "households"},
		{"words", "red social, y más", "red | social | y | mas"},
		{"combining", "Religio\u0301n", "religion"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			for i, tok := range screenTokens(tt.text) {
				if i > 0 {
					b.WriteString(" ")
					if tok.word != screenTokens(tt.text)[i-1].word {
						b.WriteString("| ")
					}
				}
				b.WriteString(tok.text)
			}
			if got := b.String(); got != tt.want {
				t.Errorf("screenTokens(%q) = %q, want %q", tt.text, got, tt.want)
			}
		})
	}
}

func BenchmarkScreenAttribute(b *testing.B) {
	purpose := strings.Repeat("Households with a pregnant or lactating member receive extra milk each month. ", 7)[:500]
	for b.Loop() {
		if err := ScreenAttribute("chronic_illness_care_needs", purpose); err != nil {
			b.Fatal(err)
		}
	}
}
