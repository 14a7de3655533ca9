package canasta

import (
	"context"
	"math"
	"slices"
	"time"
)

// PersonRecord is a registered person with the address of their
// household: what duplicate detection compares.
type PersonRecord struct {
	Person
	Address Address `json:"address"`
}

// PersonRecordService streams the registry to batch duplicate detection.
type PersonRecordService interface {
	// CountPersonRecords returns how many persons EachPersonRecord would
	// yield, for progress reports.
	CountPersonRecords(ctx context.Context) (int, error)

	// EachPersonRecord calls fn with every registered person, except
	// persons merged away by an effective merge, a household's members
	// together and in order, and stops at the first error fn returns. It
	// reads in batches of households, so as not to hold one snapshot for
	// the whole scan: a household registered meanwhile may or may not be
	// seen. fn may keep the record. It is for the batch duplicate search
	// run by administrators on the server, and writes no access event: it
	// serves no one person's record.
	EachPersonRecord(ctx context.Context, fn func(*PersonRecord) error) error
}

// Thresholds of the match probability at enrollment.
const (
	// ReviewThreshold opens a review case.
	ReviewThreshold = 0.5
	// CandidateThreshold lists a candidate in the enrollment response.
	CandidateThreshold = 0.1
	// MaxCandidates bounds the candidates listed per new person.
	MaxCandidates = 5
)

// Audit entry types of duplicate review.
const (
	AuditDedupMerge AuditType = "dedup.merge"
	AuditDedupUndo  AuditType = "dedup.undo"
)

// DefaultAnswerWindow is how long a household may contest a confirmed
// merge before it changes their entitlements.
const DefaultAnswerWindow = 10 * 24 * time.Hour

// DuplicateCandidate is a registered person who may be the same person
// as a newly enrolled one.
type DuplicateCandidate struct {
	// ForPersonID is the new person the candidate may duplicate.
	ForPersonID string  `json:"for_person_id"`
	PersonID    string  `json:"person_id"`
	HouseholdID string  `json:"household_id"`
	SourceID    string  `json:"source_id,omitempty"`
	Score       float64 `json:"score"` // match probability, 0 to 1
	// CaseID is the review case opened for the pair, if the score reached
	// the review threshold.
	CaseID int64 `json:"case_id,omitempty"`
}

// ImportScreening is what screening an import batch found.
type ImportScreening struct {
	PersonsScreened int `json:"persons_screened"`
	// DuplicateCandidates counts the candidates scoring at least
	// CandidateThreshold, at most MaxCandidates per person.
	DuplicateCandidates int `json:"duplicate_candidates"`
	// DedupCasesOpened counts the review cases newly opened; a pair's
	// existing case is not counted again.
	DedupCasesOpened int                   `json:"dedup_cases_opened"`
	Candidates       []*DuplicateCandidate `json:"candidates,omitempty"`
}

// Add adds the counts and candidates of o to s.
func (s *ImportScreening) Add(o ImportScreening) {
	s.PersonsScreened += o.PersonsScreened
	s.DuplicateCandidates += o.DuplicateCandidates
	s.DedupCasesOpened += o.DedupCasesOpened
	s.Candidates = append(s.Candidates, o.Candidates...)
}

// ImportedHousehold is a household an import batch added members to, as
// a store reads it back to screen them.
type ImportedHousehold interface {
	// Row orders households by registration: a larger row was
	// registered later.
	Row() int64
	// CreatedByBatch reports whether the batch created the household,
	// so that all its members are new.
	CreatedByBatch() bool
	// NewMembers are the members the batch created.
	NewMembers() []*Person
}

// ScreenImport is import screening's rule, over the households an import
// batch added members to, in batch order. A household the batch created
// was registered after every household that existed before it, so its
// members are compared with the households registered before their own
// (and a pair inside one batch is found once); a new member of an older
// household is compared with everyone registered before the batch. lookup
// finds a member's candidates, outside its household and among households
// registered before the row given, with the store's keys for them; open
// opens the review case for a candidate at ReviewThreshold or above.
func ScreenImport[H ImportedHousehold, K any](households []H,
	lookup func(h H, m *Person, before int64, minScore float64, limit int) ([]*DuplicateCandidate, []K, error),
	open func(h H, m *Person, keep K, score float64) (caseID int64, opened bool, err error),
) (ImportScreening, error) {
	var res ImportScreening
	first := int64(math.MaxInt64)
	for _, h := range households {
		if h.CreatedByBatch() {
			first = min(first, h.Row())
		}
	}
	for _, h := range households {
		before := first
		if h.CreatedByBatch() {
			before = h.Row()
		}
		for _, m := range h.NewMembers() {
			cs, ks, err := lookup(h, m, before, CandidateThreshold, MaxCandidates)
			if err != nil {
				return ImportScreening{}, err
			}
			for i, c := range cs {
				if c.Score < ReviewThreshold {
					continue
				}
				var opened bool
				if c.CaseID, opened, err = open(h, m, ks[i], c.Score); err != nil {
					return ImportScreening{}, err
				} else if opened {
					res.DedupCasesOpened++
				}
			}
			res.PersonsScreened++
			res.DuplicateCandidates += len(cs)
			res.Candidates = append(res.Candidates, cs...)
		}
	}
	return res, nil
}

// HouseholdMembers is a household with some of its members.
type HouseholdMembers struct {
	Household *Household
	Members   []*Person
}

// CreatedMembers groups the members an import batch created by household,
// in batch order, each household and member once: ImportHouseholds gives
// ids to the members it creates and to no others, so these are what
// ScreenImported screens.
func CreatedMembers(hs []*Household) []*HouseholdMembers {
	byID := map[string]*HouseholdMembers{}
	var out []*HouseholdMembers
	for _, h := range hs {
		if h == nil || h.ID == "" {
			continue
		}
		for _, m := range h.Members {
			if m == nil || m.ID == "" {
				continue
			}
			hm := byID[h.ID]
			if hm == nil {
				hm = &HouseholdMembers{Household: h}
				byID[h.ID] = hm
				out = append(out, hm)
			}
			if !slices.Contains(hm.Members, m) {
				hm.Members = append(hm.Members, m)
			}
		}
	}
	return out
}

// Stored keeps the members a store holds, as held reports for each id,
// and reports whether they are all of the household's stored members,
// which is how a store knows the batch created the household: stored is
// how many members the store holds for it.
func (hm *HouseholdMembers) Stored(held func(personID string) bool, stored int) (members []*Person, created bool) {
	for _, m := range hm.Members {
		if held(m.ID) {
			members = append(members, m)
		}
	}
	return members, len(members) == stored
}

// DuplicatePair is two persons the batch search found alike. Each is
// named by source id, or, for a person registered without one, by person
// id, as the batch search writes them.
type DuplicatePair struct {
	A, B  string
	Score float64 // match probability, 0 to 1
}

// AuthorizeDedup returns EFORBIDDEN unless the context's actor is a
// registrar or an admin. A call with no actor is the server's own, such
// as a command run by whoever administers the installation, and passes.
func AuthorizeDedup(ctx context.Context) error {
	if a := ActorFromContext(ctx); a != nil && a.Role != RoleRegistrar && a.Role != RoleAdmin {
		return Errorf(EFORBIDDEN, "Only registrars and admins may screen or review duplicates.")
	}
	return nil
}

// DedupCaseStatus is where a review case stands.
type DedupCaseStatus string

// A case opens, then a registrar confirms or dismisses it. A confirmed
// merge waits out the answer window; the household may contest it in that
// time, and a registrar may undo it at any time.
const (
	DedupCaseOpen      DedupCaseStatus = "open"
	DedupCaseConfirmed DedupCaseStatus = "confirmed"
	DedupCaseDismissed DedupCaseStatus = "dismissed"
	DedupCaseContested DedupCaseStatus = "contested"
	DedupCaseUndone    DedupCaseStatus = "undone"
)

// DedupCase is the review of one likely duplicate: PersonID may be the
// same person as KeepPersonID, who was registered first. Confirming it
// merges PersonID into KeepPersonID: the merged person stays in the
// registry, with their household's history, but no longer counts for
// entitlements once the merge is effective.
type DedupCase struct {
	ID              int64           `json:"id"`
	PersonID        string          `json:"person_id"`
	HouseholdID     string          `json:"household_id"`
	KeepPersonID    string          `json:"keep_person_id"`
	KeepHouseholdID string          `json:"keep_household_id"`
	Score           float64         `json:"score"`
	Status          DedupCaseStatus `json:"status"`
	Note            string          `json:"note,omitempty"`
	OpenedAt        time.Time       `json:"opened_at"`
	DecidedAt       *time.Time      `json:"decided_at,omitempty"`
	DecidedBy       string          `json:"decided_by,omitempty"`
	// EffectiveAt is when a confirmed merge starts to change entitlements:
	// the decision plus the answer window.
	EffectiveAt *time.Time `json:"effective_at,omitempty"`
	// GrievanceID names the grievance that contested the merge.
	GrievanceID string `json:"grievance_id,omitempty"`
}

// DedupCaseFilter selects cases. Empty fields match anything.
type DedupCaseFilter struct {
	Status DedupCaseStatus
	Offset int
	Limit  int
}

// DedupService finds likely duplicates at enrollment and keeps their
// review cases. Nothing is merged without a registrar's decision, and a
// merge changes entitlements only after the answer window.
type DedupService interface {
	// ScreenHousehold looks up likely duplicates of each member of a
	// household just created, through the stored blocking keys, not a scan;
	// other members of the same household are never candidates. It opens a
	// review case for each candidate whose score reaches ReviewThreshold,
	// and returns the candidates scoring at least CandidateThreshold, best
	// first per member. Registrars and admins only.
	ScreenHousehold(ctx context.Context, h *Household) ([]*DuplicateCandidate, error)

	// ScreenImported looks up likely duplicates of the persons an import
	// batch just created, as ScreenHousehold does for one household, in
	// one transaction. hs is the batch as ImportHouseholds left it: its
	// members carry ids only when that import created them, and only they
	// are screened. A person's candidates are the persons registered
	// before them, in other households: the members of households
	// registered earlier, and, for a new member of a household that
	// existed before the batch, anyone registered before the batch. So a
	// pair inside one batch is found once, and the person registered
	// first is the one kept. It opens a review case for each candidate
	// whose score reaches ReviewThreshold, unless the pair has one already,
	// either way round, whatever its state: screening the same batch again
	// opens nothing. It returns the counts and the candidates scoring at
	// least CandidateThreshold, best first per person. Registrars and
	// admins only (EFORBIDDEN), or the server itself with no actor in the
	// context, as the command line.
	ScreenImported(ctx context.Context, hs []*Household) (ImportScreening, error)

	// OpenDedupCases opens a review case for each pair the batch search
	// found, in one transaction: callers send a few hundred pairs at a
	// time. The person registered later (in the household registered
	// later, or further down the same household) is reviewed and the
	// earlier one kept. A pair that has a case already, either way round and whatever
	// its state, is left as it is, so it returns how many cases it newly
	// opened. ENOTFOUND for an id naming no person. Registrars and admins
	// only (EFORBIDDEN), or the server itself with no actor in the context.
	OpenDedupCases(ctx context.Context, pairs []DuplicatePair) (int, error)

	// FindDuplicates looks up, through the stored blocking keys, registered
	// persons who may be p, best first, at most limit of them with a score
	// of at least minScore. It reads no record for a person, so writes no
	// access event. Registrars and admins only.
	FindDuplicates(ctx context.Context, p *PersonRecord, minScore float64, limit int) ([]*DuplicateCandidate, error)

	// FindDedupCases lists cases, newest first. Registrars and admins only;
	// each case listed is a read recorded in the access log of the
	// households concerned with the context's purpose (EINVALID without one).
	FindDedupCases(ctx context.Context, filter DedupCaseFilter) ([]*DedupCase, error)

	// FindDedupCaseByID returns a case and records the read like
	// FindDedupCases. ENOTFOUND if there is none.
	FindDedupCaseByID(ctx context.Context, id int64) (*DedupCase, error)

	// ConfirmDedupCase merges the case's person into the kept one, effective
	// after the answer window, and records the merge in the audit log. A
	// contested case may be confirmed again once its grievance is resolved;
	// the answer window starts afresh. ECONFLICT unless the case is open or
	// contested. ENOTFOUND if there is none.
	ConfirmDedupCase(ctx context.Context, id int64, note string) (*DedupCase, error)

	// DismissDedupCase closes an open case as not a duplicate.
	// ECONFLICT unless the case is open.
	DismissDedupCase(ctx context.Context, id int64, note string) (*DedupCase, error)

	// UndoDedupCase reverses a confirmed or contested merge, or reopens a
	// dismissed case, so the person counts again at once.
	// ECONFLICT for an open or already undone case.
	UndoDedupCase(ctx context.Context, id int64, note string) (*DedupCase, error)

	// ContestDedupCase records that the household contests a confirmed
	// merge through grievanceID: the merge stays without effect until a
	// registrar undoes it or confirms it again by dismissing the grievance
	// (ConfirmDedupCase on the contested case). ECONFLICT unless the case is
	// confirmed and not yet effective.
	ContestDedupCase(ctx context.Context, id int64, grievanceID string) (*DedupCase, error)

	// FindDedupCasesForHousehold lists the cases that concern the
	// household, newest first, for its notices in the person portal: the
	// household's own view, not a staff read, so it is not logged. The
	// other household's ids are left out. ENOTFOUND for an unknown
	// household.
	FindDedupCasesForHousehold(ctx context.Context, householdID string) ([]*DedupCase, error)
}

// DuplicateMatcher compares persons for a store's enrollment lookup. The
// store keeps each person's index keys next to the person, written in the
// transaction that registers them; package dedup implements it.
type DuplicateMatcher interface {
	// IndexKeys returns the keys a person is stored and looked up under.
	IndexKeys(p *PersonRecord) []int64
	// Probability returns the match probability of a newly enrolled person
	// and a registered one, in a registry of n persons.
	Probability(enrolled, registered *PersonRecord, n int) float64
}

// OwnDedupCases blanks, in each case, the ids of the household other than
// householdID: a household sees what concerns its own members only.
func OwnDedupCases(cases []*DedupCase, householdID string) []*DedupCase {
	for _, c := range cases {
		if c.HouseholdID != householdID {
			c.PersonID, c.HouseholdID = "", ""
		}
		if c.KeepHouseholdID != householdID {
			c.KeepPersonID, c.KeepHouseholdID = "", ""
		}
	}
	return cases
}
