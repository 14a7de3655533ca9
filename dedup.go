package canasta

import (
	"context"
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
