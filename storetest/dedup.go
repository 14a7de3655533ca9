package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/canasta/canasta"
)

// DedupStores are a store's duplicate services.
type DedupStores struct {
	Cases   canasta.DedupService
	Persons canasta.PersonRecordService
}

func dedupHousehold(given, family, birth, nid, line string, more ...*canasta.Person) *canasta.Household {
	h := &canasta.Household{
		Address:       canasta.Address{Line: line, Locality: "Santa Rosa", Region: "Norte", Postcode: "17044"},
		MonthlyIncome: 50000,
		Members: []*canasta.Person{{GivenName: given, FamilyName: family, BirthDate: birth, Sex: "M",
			NationalID: nid, Relationship: canasta.RelationshipHead}},
	}
	h.Members = append(h.Members, more...)
	return h
}

func testDedup(t *testing.T, opener Opener) {
	f := open(t, opener)
	st := f.Dedup
	if st.Cases == nil || st.Persons == nil {
		t.Fatal("the store under test has no duplicate services")
	}
	ctx := staff(canasta.PurposeEnrollment)
	first := mustCreateHousehold(t, f.Store, dedupHousehold("Juan Carlos", "García López", "1980-05-12", "1234567897", "Calle 12 #34-56",
		&canasta.Person{GivenName: "Ana", FamilyName: "Pérez", BirthDate: "2010-02-03", Sex: "F", Relationship: "child"}))
	other := mustCreateHousehold(t, f.Store, dedupHousehold("Mary", "Smith", "1975-01-30", "9876543217", "14 Elm Street"))

	// Registered again with a typo, at the same address.
	second := mustCreateHousehold(t, f.Store, dedupHousehold("Jaun Carlos", "García López", "1980-05-12", "1234567897", "Calle 12 #34-56"))
	cands, err := st.Cases.ScreenHousehold(ctx, second)
	if err != nil {
		t.Fatal(err)
	}
	if len(cands) != 1 || cands[0].PersonID != first.Members[0].ID || cands[0].ForPersonID != second.Members[0].ID ||
		cands[0].Score < canasta.ReviewThreshold || cands[0].CaseID == 0 || cands[0].HouseholdID != first.ID {
		t.Fatalf("candidates = %+v, want the first household's head with a case", cands)
	}
	caseID := cands[0].CaseID

	t.Run("NoSelfOrStrangers", func(t *testing.T) {
		cs, err := st.Cases.ScreenHousehold(ctx, other)
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) != 0 {
			t.Errorf("screening an unrelated household found %+v", cs)
		}
		again, err := st.Cases.ScreenHousehold(ctx, second)
		if err != nil {
			t.Fatal(err)
		}
		if len(again) != 1 || again[0].CaseID != caseID {
			t.Errorf("screening again = %+v, want the same case %d", again, caseID)
		}
	})

	t.Run("ImportIsIndexed", func(t *testing.T) {
		h := dedupHousehold("Juan Carlos", "Garcia Lopez", "1980-12-05", "1234567897", "Carrera 7 #1-2")
		h.SourceID, h.Members[0].SourceID = "H-import", "P-import-1"
		mustImport(t, f.Store, []*canasta.Household{h})
		probe := &canasta.PersonRecord{Person: *first.Members[0], Address: first.Address}
		cs, err := st.Cases.FindDuplicates(context.Background(), probe, canasta.CandidateThreshold, 10)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, c := range cs {
			seen[c.SourceID] = true
			if c.PersonID == probe.ID {
				seen["self"] = true
			}
		}
		if !seen["P-import-1"] || !seen["self"] {
			t.Errorf("FindDuplicates = %+v, want the imported duplicate and the person itself", cs)
		}
	})

	t.Run("CaseReadsArePurposeStated", func(t *testing.T) {
		if _, err := st.Cases.FindDedupCaseByID(staff(""), caseID); canasta.ErrorCode(err) != canasta.EINVALID {
			t.Fatalf("read without purpose: err = %v, want EINVALID", err)
		}
		cases, err := st.Cases.FindDedupCases(staff(canasta.PurposeDataCorrection), canasta.DedupCaseFilter{Status: canasta.DedupCaseOpen})
		if err != nil {
			t.Fatal(err)
		}
		if len(cases) != 1 || cases[0].ID != caseID || cases[0].KeepPersonID != first.Members[0].ID ||
			cases[0].PersonID != second.Members[0].ID || cases[0].Status != canasta.DedupCaseOpen {
			t.Fatalf("open cases = %+v", cases)
		}
		for _, hid := range []string{first.ID, second.ID} {
			events, err := f.AccessLog.FindAccessEvents(context.Background(), hid)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, e := range events {
				found = found || e.Action == "read-dedup-case" && e.Purpose == canasta.PurposeDataCorrection
			}
			if !found {
				t.Errorf("household %s: no purpose-stated case read in %+v", hid, events)
			}
		}
	})

	t.Run("MergeWindowContestUndo", func(t *testing.T) {
		before := countPersonRecords(t, st.Persons)
		c, err := st.Cases.ConfirmDedupCase(ctx, caseID, "same national id")
		if err != nil {
			t.Fatal(err)
		}
		if c.Status != canasta.DedupCaseConfirmed || c.EffectiveAt == nil || !c.EffectiveAt.Equal(f.clock.Now().Add(canasta.DefaultAnswerWindow)) ||
			c.DecidedBy != "clerk" || c.Note != "same national id" {
			t.Fatalf("confirmed case = %+v", c)
		}
		if _, err := st.Cases.ConfirmDedupCase(ctx, caseID, ""); canasta.ErrorCode(err) != canasta.ECONFLICT {
			t.Errorf("confirm twice: err = %v, want ECONFLICT", err)
		}
		if n := countPersonRecords(t, st.Persons); n != before {
			t.Errorf("inside the answer window: %d persons, want %d", n, before)
		}
		if c, err = st.Cases.ContestDedupCase(context.Background(), caseID, "grv_1"); err != nil || c.Status != canasta.DedupCaseContested || c.GrievanceID != "grv_1" {
			t.Fatalf("contest = %+v, %v", c, err)
		}
		f.clock.Set(f.clock.Now().Add(canasta.DefaultAnswerWindow + time.Hour))
		if n := countPersonRecords(t, st.Persons); n != before {
			t.Errorf("contested merge took effect: %d persons, want %d", n, before)
		}
		if c, err = st.Cases.ConfirmDedupCase(ctx, caseID, "grievance rejected"); err != nil || c.Status != canasta.DedupCaseConfirmed {
			t.Fatalf("confirm again = %+v, %v", c, err)
		}
		f.clock.Set(f.clock.Now().Add(canasta.DefaultAnswerWindow + time.Hour))
		if n := countPersonRecords(t, st.Persons); n != before-1 {
			t.Errorf("after the answer window: %d persons, want %d", n, before-1)
		}
		if err := st.Persons.EachPersonRecord(context.Background(), func(p *canasta.PersonRecord) error {
			if p.ID == second.Members[0].ID {
				t.Errorf("merged person %s still listed", p.ID)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Cases.ContestDedupCase(context.Background(), caseID, "grv_2"); canasta.ErrorCode(err) != canasta.ECONFLICT {
			t.Errorf("contest after the window: err = %v, want ECONFLICT", err)
		}
		if c, err = st.Cases.UndoDedupCase(ctx, caseID, "mistaken"); err != nil || c.Status != canasta.DedupCaseUndone {
			t.Fatalf("undo = %+v, %v", c, err)
		}
		if n := countPersonRecords(t, st.Persons); n != before {
			t.Errorf("after undo: %d persons, want %d", n, before)
		}
		if _, err := st.Cases.UndoDedupCase(ctx, caseID, ""); canasta.ErrorCode(err) != canasta.ECONFLICT {
			t.Errorf("undo twice: err = %v, want ECONFLICT", err)
		}
		if _, err := st.Cases.FindDedupCaseByID(ctx, 999999); canasta.ErrorCode(err) != canasta.ENOTFOUND {
			t.Errorf("missing case: err = %v, want ENOTFOUND", err)
		}
	})

	t.Run("CycleLeavesOutMerged", func(t *testing.T) {
		rice := mustCreateProgram(t, f.Store, "Rice", "rice", canasta.UnitGram, "true", ruleSizeTimes1000)
		dup := mustCreateHousehold(t, f.Store, dedupHousehold("Wilmer", "Quintero Núñez", "1990-07-01", "5556667778", "Carrera 9 #9-9",
			&canasta.Person{GivenName: "Rosa", FamilyName: "Peña", BirthDate: "1992-03-04", Sex: "F", Relationship: "spouse"}))
		mustCreateHousehold(t, f.Store, dedupHousehold("Wilmer", "Quintero Nuñez", "1990-07-01", "5556667778", "Calle 3 #4-5"))
		cs, err := st.Cases.ScreenHousehold(ctx, dup)
		if err != nil || len(cs) == 0 || cs[0].CaseID == 0 {
			t.Fatalf("screen = %+v, %v", cs, err)
		}
		if _, err := st.Cases.ConfirmDedupCase(ctx, cs[0].CaseID, ""); err != nil {
			t.Fatal(err)
		}
		granted := func() int64 {
			period := canasta.Period(f.clock.Now().Format("2006-01"))
			if _, err := f.Cycles.RunCycle(context.Background(), period, nil); err != nil {
				t.Fatal(err)
			}
			ents, err := f.Entitlements.FindEntitlements(context.Background(), dup.ID, period)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range ents {
				if e.ProgramID == rice.ID {
					return e.Granted
				}
			}
			return 0
		}
		if g := granted(); g != 2000 {
			t.Errorf("inside the answer window: granted %d, want 2000 for two members", g)
		}
		f.clock.Set(f.clock.Now().AddDate(0, 1, 0))
		if g := granted(); g != 1000 {
			t.Errorf("after the merge took effect: granted %d, want 1000", g)
		}
	})

	t.Run("DismissAndReopen", func(t *testing.T) {
		h := mustCreateHousehold(t, f.Store, dedupHousehold("Mary", "Smith", "1975-01-30", "9876543217", "14 Elm Street"))
		cs, err := st.Cases.ScreenHousehold(ctx, h)
		if err != nil || len(cs) != 1 || cs[0].CaseID == 0 {
			t.Fatalf("screen = %+v, %v", cs, err)
		}
		c, err := st.Cases.DismissDedupCase(ctx, cs[0].CaseID, "twins")
		if err != nil || c.Status != canasta.DedupCaseDismissed {
			t.Fatalf("dismiss = %+v, %v", c, err)
		}
		if _, err := st.Cases.ContestDedupCase(context.Background(), c.ID, "grv_3"); canasta.ErrorCode(err) != canasta.ECONFLICT {
			t.Errorf("contest a dismissed case: err = %v, want ECONFLICT", err)
		}
		if c, err = st.Cases.UndoDedupCase(ctx, c.ID, ""); err != nil || c.Status != canasta.DedupCaseOpen {
			t.Fatalf("reopen = %+v, %v", c, err)
		}
	})
}

func countPersonRecords(tb testing.TB, svc canasta.PersonRecordService) int {
	tb.Helper()
	n, err := svc.CountPersonRecords(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	m := 0
	if err := svc.EachPersonRecord(context.Background(), func(*canasta.PersonRecord) error { m++; return nil }); err != nil {
		tb.Fatal(err)
	}
	if m != n {
		tb.Errorf("EachPersonRecord yielded %d persons, CountPersonRecords says %d", m, n)
	}
	return n
}

// importedHousehold is a household to import, one member, with source ids
// taken from its name.
func importedHousehold(name, given, family, birth, nid, line string) *canasta.Household {
	h := dedupHousehold(given, family, birth, nid, line)
	h.SourceID, h.Members[0].SourceID = "H-"+name, "P-"+name
	return h
}

// dedupImportBatches are two import batches: a duplicate inside the first
// (rosa2 of rosa), and in the second one of the first batch's person
// (juan2 of juan) and one between a new household and a new member of a
// household of the first batch (wilmer2 of wilmer, who joins mary's
// household).
func dedupImportBatches() (first, second []*canasta.Household) {
	first = []*canasta.Household{
		importedHousehold("juan", "Juan Carlos", "García López", "1980-05-12", "1234567897", "Calle 12 #34-56"),
		importedHousehold("mary", "Mary", "Smith", "1975-01-30", "9876543217", "14 Elm Street"),
		importedHousehold("rosa", "Rosa Elena", "Peña Ortiz", "1992-03-04", "4445556661", "Carrera 9 #9-9"),
		importedHousehold("rosa2", "Rosa Elena", "Pena Ortiz", "1992-03-04", "4445556661", "Calle 80 #1-10"),
	}
	grown := importedHousehold("mary", "Mary", "Smith", "1975-01-30", "9876543217", "14 Elm Street")
	grown.Members = append(grown.Members, &canasta.Person{SourceID: "P-wilmer", GivenName: "Wilmer", FamilyName: "Quintero Núñez",
		BirthDate: "1990-07-01", Sex: "M", NationalID: "5556667778", Relationship: "spouse"})
	second = []*canasta.Household{
		importedHousehold("juan2", "Jaun Carlos", "García López", "1980-05-12", "1234567897", "Avenida 5 #6-7"),
		grown,
		importedHousehold("wilmer2", "Wilmer", "Quintero Nuñez", "1990-07-01", "5556667778", "Calle 3 #4-5"),
		importedHousehold("ana", "Ana María", "Restrepo", "2001-11-23", "7778889990", "Transversal 2 #3-4"),
	}
	return first, second
}

func testDedupImport(t *testing.T, opener Opener) {
	f := open(t, opener)
	st := f.Dedup
	ctx := staff(canasta.PurposeEnrollment)
	first, second := dedupImportBatches()
	mustImport(t, f.Store, first)
	got, err := st.Cases.ScreenImported(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	if got.PersonsScreened != 4 || got.DedupCasesOpened != 1 || got.DuplicateCandidates != len(got.Candidates) || got.DuplicateCandidates < 1 {
		t.Fatalf("first batch screening = %+v", got)
	}
	mustImport(t, f.Store, second)
	got, err = st.Cases.ScreenImported(ctx, second)
	if err != nil {
		t.Fatal(err)
	}
	if got.PersonsScreened != 4 || got.DedupCasesOpened != 2 {
		t.Fatalf("second batch screening = %+v, want 4 persons screened (not mary, there before) and 2 cases", got)
	}
	for _, c := range got.Candidates {
		if c.ForPersonID == "" || c.PersonID == "" || c.Score < canasta.CandidateThreshold {
			t.Errorf("candidate %+v", c)
		}
	}

	// person names each imported person by the name in their source id.
	person := map[string]string{}
	for _, h := range append(first, second...) {
		for _, m := range h.Members {
			if m.ID != "" {
				person[m.ID] = m.SourceID[len("P-"):]
			}
		}
	}
	cases := func() map[string]*canasta.DedupCase {
		t.Helper()
		cs, err := st.Cases.FindDedupCases(staff(canasta.PurposeDataCorrection), canasta.DedupCaseFilter{})
		if err != nil {
			t.Fatal(err)
		}
		byPair := map[string]*canasta.DedupCase{}
		for _, c := range cs {
			byPair[person[c.PersonID]+" keeps "+person[c.KeepPersonID]] = c
		}
		return byPair
	}
	t.Run("OneCasePerPairEarlierKept", func(t *testing.T) {
		got := cases()
		if len(got) != 3 || got["rosa2 keeps rosa"] == nil || got["juan2 keeps juan"] == nil || got["wilmer2 keeps wilmer"] == nil {
			t.Fatalf("cases = %v, want rosa2 keeps rosa, juan2 keeps juan, wilmer2 keeps wilmer", got)
		}
		if c := got["juan2 keeps juan"]; c.Status != canasta.DedupCaseOpen || c.Score < canasta.ReviewThreshold {
			t.Errorf("case %+v", c)
		}
	})

	t.Run("ScreenAgainOpensNothing", func(t *testing.T) {
		again, err := st.Cases.ScreenImported(ctx, second)
		if err != nil || again.DedupCasesOpened != 0 {
			t.Fatalf("screening the batch again = %+v, %v", again, err)
		}
		for _, c := range again.Candidates {
			if c.Score >= canasta.ReviewThreshold && c.CaseID == 0 {
				t.Errorf("likely candidate %+v without its case", c)
			}
		}
		first, second := dedupImportBatches()
		for _, batch := range [][]*canasta.Household{first, second} {
			if res := mustImport(t, f.Store, batch); res.PersonsCreated != 0 {
				t.Fatalf("re-import created %+v", res)
			}
			got, err := st.Cases.ScreenImported(ctx, batch)
			if err != nil || got.PersonsScreened != 0 || got.DedupCasesOpened != 0 {
				t.Fatalf("re-import screening = %+v, %v", got, err)
			}
		}
		if n := len(cases()); n != 3 {
			t.Errorf("%d cases after re-import, want 3", n)
		}
	})

	t.Run("OpenDedupCases", func(t *testing.T) {
		tests := []struct {
			name  string
			pairs []canasta.DuplicatePair
			want  int
		}{
			{"Existing", []canasta.DuplicatePair{{A: "P-juan", B: "P-juan2", Score: 0.9}, {A: "P-rosa", B: "P-rosa2", Score: 0.9}}, 0},
			{"ExistingReversed", []canasta.DuplicatePair{{A: "P-juan2", B: "P-juan", Score: 0.9}}, 0},
			{"New", []canasta.DuplicatePair{{A: "P-ana", B: "P-mary", Score: 0.7}, {A: "P-juan", B: "P-ana", Score: 0.6}}, 2},
			{"NewAgain", []canasta.DuplicatePair{{A: "P-mary", B: "P-ana", Score: 0.7}}, 0},
			{"SamePerson", []canasta.DuplicatePair{{A: "P-ana", B: "P-ana", Score: 1}}, 0},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				n, err := st.Cases.OpenDedupCases(context.Background(), tt.pairs)
				if err != nil || n != tt.want {
					t.Fatalf("opened %d, %v; want %d", n, err, tt.want)
				}
			})
		}
		got := cases()
		if len(got) != 5 || got["ana keeps mary"] == nil || got["ana keeps juan"] == nil || got["ana keeps mary"].Score != 0.7 {
			t.Errorf("cases = %v, want ana reviewed against mary and juan, registered earlier", got)
		}
		_, err := st.Cases.OpenDedupCases(context.Background(), []canasta.DuplicatePair{{A: "P-juan", B: "P-nobody", Score: 0.9}})
		wantCode(t, err, canasta.ENOTFOUND)
	})

	t.Run("PersonIDWithoutSourceID", func(t *testing.T) {
		h := mustCreateHousehold(t, f.Store, dedupHousehold("Mary", "Smyth", "1975-01-30", "9876543217", "14 Elm St"))
		n, err := st.Cases.OpenDedupCases(ctx, []canasta.DuplicatePair{{A: h.Members[0].ID, B: "P-mary", Score: 0.8}})
		if err != nil || n != 1 {
			t.Fatalf("opened %d, %v; want 1", n, err)
		}
	})

	t.Run("RegistrarsOnly", func(t *testing.T) {
		for _, role := range []canasta.Role{canasta.RoleOperator, canasta.RoleAuditor} {
			ctx := canasta.NewContextWithActor(context.Background(), &canasta.Actor{TokenID: 9, Name: "till", Role: role})
			_, err := st.Cases.ScreenImported(ctx, second)
			wantCode(t, err, canasta.EFORBIDDEN)
			_, err = st.Cases.OpenDedupCases(ctx, []canasta.DuplicatePair{{A: "P-juan", B: "P-mary", Score: 0.9}})
			wantCode(t, err, canasta.EFORBIDDEN)
		}
		admin := canasta.NewContextWithActor(context.Background(), &canasta.Actor{TokenID: 1, Name: "ops", Role: canasta.RoleAdmin})
		if _, err := st.Cases.ScreenImported(admin, second); err != nil {
			t.Errorf("admin: %v", err)
		}
	})
}
