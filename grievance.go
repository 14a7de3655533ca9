package canasta

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"
)

// GrievanceIDPrefix starts every grievance id.
const GrievanceIDPrefix = "gr_"

// GrievanceCategory is what a grievance is about.
type GrievanceCategory string

// The categories a person may file under.
const (
	GrievanceWrongData          GrievanceCategory = "wrong-data"
	GrievanceMissingEntitlement GrievanceCategory = "missing-entitlement"
	GrievanceRefusedAtPoint     GrievanceCategory = "refused-at-point"
	GrievanceAccessConcern      GrievanceCategory = "access-concern"
	GrievanceOther              GrievanceCategory = "other"
)

// GrievanceCategories lists every category, in the order shown to people.
var GrievanceCategories = []GrievanceCategory{GrievanceWrongData, GrievanceMissingEntitlement,
	GrievanceRefusedAtPoint, GrievanceAccessConcern, GrievanceOther}

// ParseGrievanceCategory returns the category named s, or EINVALID.
func ParseGrievanceCategory(s string) (GrievanceCategory, error) {
	for _, c := range GrievanceCategories {
		if string(c) == s {
			return c, nil
		}
	}
	return "", Errorf(EINVALID, "Unknown grievance category %q: use wrong-data, missing-entitlement, refused-at-point, access-concern or other.", s)
}

// GrievanceStatus is where a grievance stands. It moves open → assigned →
// answered → closed; an answer may be given again, and a grievance may be
// closed from any state but closed, which is final.
type GrievanceStatus string

const (
	GrievanceOpen     GrievanceStatus = "open"
	GrievanceAssigned GrievanceStatus = "assigned"
	GrievanceAnswered GrievanceStatus = "answered"
	GrievanceClosed   GrievanceStatus = "closed"
)

// GrievanceStatuses lists every status in the order a grievance moves.
var GrievanceStatuses = []GrievanceStatus{GrievanceOpen, GrievanceAssigned, GrievanceAnswered, GrievanceClosed}

// ParseGrievanceStatus returns the status named s, or EINVALID.
func ParseGrievanceStatus(s string) (GrievanceStatus, error) {
	for _, st := range GrievanceStatuses {
		if string(st) == s {
			return st, nil
		}
	}
	return "", Errorf(EINVALID, "Unknown grievance status %q: use open, assigned, answered or closed.", s)
}

// GrievanceStep names a change to a grievance; each is one audit entry of
// type AuditGrievance with objects {household, grievance, step}.
type GrievanceStep string

const (
	GrievanceStepFiled    GrievanceStep = "filed"
	GrievanceStepAssigned GrievanceStep = "assigned"
	GrievanceStepAnswered GrievanceStep = "answered"
	GrievanceStepClosed   GrievanceStep = "closed"
)

// GrievanceFromHousehold is the sender of what the person wrote, and the
// actor role of a filing made through the portal.
const GrievanceFromHousehold = "household"

// Limits on a grievance's free text, counted in characters after trimming.
const (
	MaxGrievanceTextLen = 4000
	maxAssigneeLen      = 200
	maxCaseLen          = 200
)

// Grievance is a complaint a household filed about its record, its
// entitlements, a refusal at a point or who read its data. Text is the
// person's own words: staff read it only for a stated purpose, and the
// read is logged for the household to see.
type Grievance struct {
	ID          string            `json:"id"`
	HouseholdID string            `json:"household_id"`
	Category    GrievanceCategory `json:"category"`
	// Text is empty in staff lists, which never carry personal text.
	Text   string          `json:"text"`
	Status GrievanceStatus `json:"status"`
	// Assignee is the staff member or desk handling it, "" until assigned.
	Assignee string `json:"assignee"`
	// Case is an optional reference the person filed against, such as a
	// dedup case id.
	Case string `json:"case"`
	// Messages are the answers and the closing note, oldest first; nil in
	// staff lists.
	Messages  []*GrievanceMessage `json:"messages"`
	CreatedAt time.Time           `json:"created_at"`
	UpdatedAt time.Time           `json:"updated_at"`
	ClosedAt  *time.Time          `json:"closed_at"`
}

// GrievanceMessage is one answer or closing note on a grievance.
type GrievanceMessage struct {
	At time.Time `json:"at"`
	// From is the role of the staff member who wrote it, e.g. "registrar",
	// never their name.
	From string `json:"from"`
	Text string `json:"text"`
}

// GrievanceFilter selects grievances in staff lists. Empty fields match
// anything; a Limit of 0 means a store-chosen default.
type GrievanceFilter struct {
	Status   GrievanceStatus
	Category GrievanceCategory
	Offset   int
	Limit    int
}

// CleanGrievanceText trims s and checks it is 1 to MaxGrievanceTextLen
// characters of valid UTF-8. what names the text in messages ("text",
// "answer").
func CleanGrievanceText(what, s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", Errorf(EINVALID, "The %s is not valid UTF-8.", what)
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return "", Errorf(EINVALID, "The %s is required.", what)
	}
	if n := utf8.RuneCountInString(s); n > MaxGrievanceTextLen {
		return "", Errorf(EINVALID, "The %s is %d characters long; at most %d are accepted.", what, n, MaxGrievanceTextLen)
	}
	return s, nil
}

// CleanGrievanceAssignee trims and checks an assignee.
func CleanGrievanceAssignee(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", Errorf(EINVALID, "Name an assignee.")
	}
	if err := checkText("assignee", s, maxAssigneeLen); err != nil {
		return "", err
	}
	return s, nil
}

// CleanGrievanceCase trims and checks an optional case reference.
func CleanGrievanceCase(s string) (string, error) {
	s = strings.TrimSpace(s)
	if err := checkText("case reference", s, maxCaseLen); err != nil {
		return "", err
	}
	return s, nil
}

// GrievanceService keeps grievances and the steps taken on them. Every
// step (filed, assigned, answered, closed) appends one audit entry in the
// transaction that takes it; the entry holds ids and the step, and commits
// to the text under the household's audit key, never holding it in the
// clear.
type GrievanceService interface {
	// FileGrievance records a grievance of the household, as the person
	// files it through the portal with the household id of their session.
	// caseRef may be "". EINVALID for a bad category or text; ENOTFOUND if
	// the household does not exist.
	FileGrievance(ctx context.Context, householdID string, category GrievanceCategory, text, caseRef string) (*Grievance, error)

	// FindGrievancesByHousehold returns the household's grievances with
	// their text and messages, newest first, for the person's portal. The
	// read is not a staff read and is not logged. ENOTFOUND if the
	// household does not exist.
	FindGrievancesByHousehold(ctx context.Context, householdID string) ([]*Grievance, error)

	// FindGrievanceForHousehold returns one of the household's grievances
	// for the portal. ENOTFOUND if there is none with that id or it is
	// another household's: the portal never reveals that one exists.
	FindGrievanceForHousehold(ctx context.Context, householdID, id string) (*Grievance, error)

	// FindGrievances lists grievances for staff, newest first, without text
	// or messages: ids, category, status, assignee, case and times only.
	// Registrars, admins and auditors.
	FindGrievances(ctx context.Context, filter GrievanceFilter) ([]*Grievance, error)

	// FindGrievanceByID returns one grievance with its text and messages
	// and, when the context carries a staff actor, logs the read in the
	// household's access log (action "read-grievance", with the context's
	// purpose) in the transaction that serves it. Registrars, admins and
	// auditors, with a stated purpose. ENOTFOUND.
	FindGrievanceByID(ctx context.Context, id string) (*Grievance, error)

	// AssignGrievance hands the grievance to assignee. An open grievance
	// becomes assigned; an assigned or answered one keeps its status and
	// changes hands. Registrars and admins. The result carries no text or
	// messages. EINVALID for an empty assignee; ENOTFOUND; ECONFLICT if
	// closed.
	AssignGrievance(ctx context.Context, id, assignee string) (*Grievance, error)

	// AnswerGrievance adds an answer the person will see and marks the
	// grievance answered; it may be answered again. Registrars and admins.
	// The result carries no text or messages. EINVALID for a bad text;
	// ENOTFOUND; ECONFLICT if closed.
	AnswerGrievance(ctx context.Context, id, text string) (*Grievance, error)

	// CloseGrievance closes the grievance, adding text as a closing note
	// unless it is empty. Closed is final. Registrars and admins. The
	// result carries no text or messages. EINVALID for a text too long;
	// ENOTFOUND; ECONFLICT if already closed.
	CloseGrievance(ctx context.Context, id, text string) (*Grievance, error)
}

// GrievanceSender is who a message written in ctx is from: the staff
// actor's role, or "system" for commands run on the server.
func GrievanceSender(ctx context.Context) string {
	if a := ActorFromContext(ctx); a != nil {
		return string(a.Role)
	}
	return "system"
}
