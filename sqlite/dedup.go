package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/canasta/canasta"
)

// PersonRecordService streams the registry to batch duplicate detection.
type PersonRecordService struct {
	db *DB
}

var _ canasta.PersonRecordService = (*PersonRecordService)(nil)

// NewPersonRecordService returns the person record service on db.
func NewPersonRecordService(db *DB) *PersonRecordService {
	return &PersonRecordService{db: db}
}

// personRecordBatch is how many households one read transaction covers:
// a long scan in short transactions never pins an old snapshot, which
// would stop the WAL from being checkpointed.
const personRecordBatch = 20000

// notMergedSQL leaves out persons merged away by an effective merge; the
// person table's alias is p and the one parameter is the current time.
const notMergedSQL = `NOT EXISTS (SELECT 1 FROM dedup_cases c WHERE c.household_hid = p.household_hid
	AND c.line = p.line AND c.status = 'confirmed' AND c.effective_at <= ?)`

// CountPersonRecords returns how many persons EachPersonRecord yields.
func (s *PersonRecordService) CountPersonRecords(ctx context.Context) (int, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM persons p WHERE `+notMergedSQL, formatTime(tx.now)).Scan(&n); err != nil {
		return 0, fmt.Errorf("count persons: %w", err)
	}
	return n, nil
}

// EachPersonRecord calls fn with every person not merged away, household
// by household in order of registration. It reads in batches of
// households, each in its own short transaction: a household registered
// during the scan may or may not be seen.
func (s *PersonRecordService) EachPersonRecord(ctx context.Context, fn func(*canasta.PersonRecord) error) error {
	var last int64
	for {
		next, err := s.eachPersonRecordBatch(ctx, last, fn)
		if err != nil {
			return err
		} else if next == last {
			return nil
		}
		last = next
	}
}

// eachPersonRecordBatch yields the persons of the households after row id
// last, and returns the last row id read.
func (s *PersonRecordService) eachPersonRecordBatch(ctx context.Context, last int64, fn func(*canasta.PersonRecord) error) (int64, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return last, err
	}
	defer tx.Rollback()
	var hi sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT MAX(hid) FROM (SELECT hid FROM households WHERE hid > ? ORDER BY hid LIMIT ?)`,
		last, personRecordBatch).Scan(&hi); err != nil {
		return last, fmt.Errorf("read persons: %w", err)
	}
	if !hi.Valid {
		return last, nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT h.id, h.line, h.locality, h.region, h.postcode,
	p.id, p.source_id, p.given_name, p.family_name, p.birth_date, p.sex, p.national_id, p.relationship
FROM households h JOIN persons p ON p.household_hid = h.hid
WHERE h.hid > ? AND h.hid <= ? AND `+notMergedSQL+`
ORDER BY h.hid, p.line`, last, hi.Int64, formatTime(tx.now))
	if err != nil {
		return last, fmt.Errorf("read persons: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			r                    canasta.PersonRecord
			sex                  string
			sourceID, nationalID sql.NullString
		)
		if err := rows.Scan(&r.HouseholdID, &r.Address.Line, &r.Address.Locality, &r.Address.Region, &r.Address.Postcode,
			&r.ID, &sourceID, &r.GivenName, &r.FamilyName, &r.BirthDate, &sex, &nationalID, &r.Relationship); err != nil {
			return last, fmt.Errorf("read persons: %w", err)
		}
		r.SourceID, r.NationalID, r.Sex = sourceID.String, nationalID.String, canasta.Sex(sex)
		if err := fn(&r); err != nil {
			return last, err
		}
	}
	if err := rows.Err(); err != nil {
		return last, fmt.Errorf("read persons: %w", err)
	}
	return hi.Int64, nil
}

// DedupService finds likely duplicates at enrollment through the index of
// blocking keys, and keeps their review cases.
type DedupService struct {
	db *DB
	// AnswerWindow is how long a household may contest a confirmed merge
	// before it takes effect; zero means canasta.DefaultAnswerWindow.
	AnswerWindow time.Duration

	mu        sync.Mutex
	persons   int // registry size for the match prior, counted now and then
	countedAt time.Time
}

var _ canasta.DedupService = (*DedupService)(nil)

// NewDedupService returns the duplicate service on db.
func NewDedupService(db *DB) *DedupService {
	return &DedupService{db: db}
}

// maxLookup bounds the registered persons one lookup scores: those
// sharing the most keys with the new person come first.
const maxLookup = 200

// maxPerKeySQL is how many persons one index key may contribute to a
// lookup.
const maxPerKeySQL = "64"

// insertDedupKeys indexes the person at (hid, line) under their keys.
func insertDedupKeys(ctx context.Context, tx *Tx, hid, line int64, p *canasta.Person, a canasta.Address) error {
	if tx.db.Dedup == nil {
		return nil
	}
	keys := tx.db.Dedup.IndexKeys(&canasta.PersonRecord{Person: *p, Address: a})
	if len(keys) == 0 {
		return nil
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	args := make([]any, 0, 3*len(keys))
	for _, k := range keys {
		args = append(args, k, hid, line)
	}
	q := `INSERT OR IGNORE INTO dedup_keys (key, household_hid, line) VALUES (?, ?, ?)` + strings.Repeat(`, (?, ?, ?)`, len(keys)-1)
	if _, err := tx.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("index person: %w", err)
	}
	return nil
}

// registryPersons is the number of registered persons, recounted every
// few minutes: the prior needs its size, not its exact count.
func (s *DedupService) registryPersons(ctx context.Context, tx *Tx) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.persons > 0 && tx.now.Sub(s.countedAt) < 5*time.Minute && tx.now.After(s.countedAt) {
		return s.persons, nil
	}
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM persons`).Scan(&s.persons); err != nil {
		return 0, fmt.Errorf("count persons: %w", err)
	}
	s.countedAt = tx.now
	return s.persons, nil
}

// rowKey names a person by their row key.
type rowKey struct{ hid, line int64 }

// anyHousehold is the bound of a lookup that may find any household.
const anyHousehold = math.MaxInt64

// lookupDuplicates scores the registered persons sharing index keys with
// p, in households whose row id is below before, other than household
// exclude, and returns those scoring at least minScore, best first, at
// most limit.
func (s *DedupService) lookupDuplicates(ctx context.Context, tx *Tx, p *canasta.PersonRecord, exclude, before int64, minScore float64, limit int) ([]*canasta.DuplicateCandidate, []rowKey, error) {
	m := s.db.Dedup
	if m == nil {
		return nil, nil, nil
	}
	keys := m.IndexKeys(p)
	if len(keys) == 0 {
		return nil, nil, nil
	}
	n, err := s.registryPersons(ctx, tx)
	if err != nil {
		return nil, nil, err
	}
	// A key shared by very many persons (a common name in a big town) says
	// little; each key contributes at most maxPerKey persons, so a lookup
	// costs the same whatever the registry's size.
	args := make([]any, 0, 3*len(keys)+2)
	var q strings.Builder
	for i, k := range keys {
		if i > 0 {
			q.WriteString(" UNION ALL ")
		}
		q.WriteString(`SELECT * FROM (SELECT household_hid, line FROM dedup_keys WHERE key = ? AND household_hid < ? AND household_hid != ? LIMIT ` + maxPerKeySQL + `)`)
		args = append(args, k, before, exclude)
	}
	args = append(args, formatTime(tx.now), maxLookup)
	rows, err := tx.QueryContext(ctx, `SELECT k.household_hid, k.line, COUNT(*) AS shared,
	h.id, h.line, h.locality, h.region, h.postcode,
	p.id, p.source_id, p.given_name, p.family_name, p.birth_date, p.sex, p.national_id
FROM (`+q.String()+`) k
JOIN persons p ON p.household_hid = k.household_hid AND p.line = k.line
JOIN households h ON h.hid = k.household_hid
WHERE `+notMergedSQL+`
GROUP BY k.household_hid, k.line ORDER BY shared DESC LIMIT ?`, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("look up duplicates: %w", err)
	}
	defer rows.Close()
	type scored struct {
		c   *canasta.DuplicateCandidate
		key rowKey
	}
	var found []scored
	for rows.Next() {
		var (
			r                    canasta.PersonRecord
			k                    rowKey
			shared               int
			sex                  string
			sourceID, nationalID sql.NullString
		)
		if err := rows.Scan(&k.hid, &k.line, &shared, &r.HouseholdID, &r.Address.Line, &r.Address.Locality, &r.Address.Region,
			&r.Address.Postcode, &r.ID, &sourceID, &r.GivenName, &r.FamilyName, &r.BirthDate, &sex, &nationalID); err != nil {
			return nil, nil, fmt.Errorf("look up duplicates: %w", err)
		}
		r.SourceID, r.NationalID, r.Sex = sourceID.String, nationalID.String, canasta.Sex(sex)
		if score := m.Probability(p, &r, n); score >= minScore {
			found = append(found, scored{&canasta.DuplicateCandidate{ForPersonID: p.ID, PersonID: r.ID,
				HouseholdID: r.HouseholdID, SourceID: r.SourceID, Score: score}, k})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("look up duplicates: %w", err)
	}
	slices.SortStableFunc(found, func(a, b scored) int { return cmp.Compare(b.c.Score, a.c.Score) })
	found = found[:min(len(found), limit)]
	cs, ks := make([]*canasta.DuplicateCandidate, len(found)), make([]rowKey, len(found))
	for i, f := range found {
		cs[i], ks[i] = f.c, f.key
	}
	return cs, ks, nil
}

// FindDuplicates looks up registered persons who may be p.
func (s *DedupService) FindDuplicates(ctx context.Context, p *canasta.PersonRecord, minScore float64, limit int) ([]*canasta.DuplicateCandidate, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	cs, _, err := s.lookupDuplicates(ctx, tx, p, 0, anyHousehold, minScore, limit)
	return cs, err
}

// ScreenHousehold looks up duplicates of each member of a household just
// created and opens review cases for the likely ones.
func (s *DedupService) ScreenHousehold(ctx context.Context, h *canasta.Household) ([]*canasta.DuplicateCandidate, error) {
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	hid, err := householdHID(ctx, tx, h.ID)
	if err != nil {
		return nil, err
	}
	lines := map[string]int64{}
	rows, err := tx.QueryContext(ctx, `SELECT id, line FROM persons WHERE household_hid = ?`, hid)
	if err != nil {
		return nil, fmt.Errorf("screen household: %w", err)
	}
	for rows.Next() {
		var id string
		var line int64
		if err := rows.Scan(&id, &line); err != nil {
			rows.Close()
			return nil, fmt.Errorf("screen household: %w", err)
		}
		lines[id] = line
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("screen household: %w", err)
	}
	all := []*canasta.DuplicateCandidate{}
	for _, m := range h.Members {
		line, ok := lines[m.ID]
		if !ok {
			continue // not stored by this household's creation
		}
		p := &canasta.PersonRecord{Person: *m, Address: h.Address}
		cs, ks, err := s.lookupDuplicates(ctx, tx, p, hid, anyHousehold, canasta.CandidateThreshold, canasta.MaxCandidates)
		if err != nil {
			return nil, err
		}
		for i, c := range cs {
			if c.Score < canasta.ReviewThreshold {
				continue
			}
			if c.CaseID, err = openDedupCase(ctx, tx, rowKey{hid, line}, ks[i], c.Score); err != nil {
				return nil, err
			}
		}
		all = append(all, cs...)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit screening: %w", err)
	}
	return all, nil
}

// openDedupCase opens a case, or returns the one already open for the pair.
func openDedupCase(ctx context.Context, tx *Tx, person, keep rowKey, score float64) (int64, error) {
	var id int64
	err := tx.QueryRowContext(ctx, `INSERT INTO dedup_cases (household_hid, line, keep_hid, keep_line, score, status, opened_at)
VALUES (?, ?, ?, ?, ?, 'open', ?)
ON CONFLICT (household_hid, line, keep_hid, keep_line) DO UPDATE SET score = excluded.score
RETURNING id`, person.hid, person.line, keep.hid, keep.line, score, formatTime(tx.now)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("open dedup case: %w", err)
	}
	return id, nil
}

const dedupCaseSQL = `SELECT c.id, c.household_hid, c.keep_hid, p.id, h.id, kp.id, kh.id, c.score, c.status, c.note,
	c.opened_at, c.decided_at, c.decided_by, c.effective_at, c.grievance_id
FROM dedup_cases c
JOIN persons p ON p.household_hid = c.household_hid AND p.line = c.line
JOIN households h ON h.hid = c.household_hid
JOIN persons kp ON kp.household_hid = c.keep_hid AND kp.line = c.keep_line
JOIN households kh ON kh.hid = c.keep_hid`

// dedupCaseRow is a case with the row ids of its two households.
type dedupCaseRow struct {
	c            *canasta.DedupCase
	hid, keepHID int64
}

func scanDedupCases(rows *sql.Rows) ([]dedupCaseRow, error) {
	defer rows.Close()
	var out []dedupCaseRow
	for rows.Next() {
		var (
			c                                        canasta.DedupCase
			r                                        dedupCaseRow
			status, openedAt                         string
			decidedAt, decidedBy, effectiveAt, grvID sql.NullString
		)
		if err := rows.Scan(&c.ID, &r.hid, &r.keepHID, &c.PersonID, &c.HouseholdID, &c.KeepPersonID, &c.KeepHouseholdID,
			&c.Score, &status, &c.Note, &openedAt, &decidedAt, &decidedBy, &effectiveAt, &grvID); err != nil {
			return nil, fmt.Errorf("scan dedup case: %w", err)
		}
		c.Status, c.DecidedBy, c.GrievanceID = canasta.DedupCaseStatus(status), decidedBy.String, grvID.String
		var err error
		if c.OpenedAt, err = parseTime(openedAt); err != nil {
			return nil, err
		}
		for _, t := range []struct {
			s   sql.NullString
			dst **time.Time
		}{{decidedAt, &c.DecidedAt}, {effectiveAt, &c.EffectiveAt}} {
			if t.s.Valid {
				v, err := parseTime(t.s.String)
				if err != nil {
					return nil, err
				}
				*t.dst = &v
			}
		}
		r.c = &c
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("scan dedup cases: %w", err)
	}
	return out, nil
}

// logCaseAccess records a read of a case in the access log of both
// households; a staff read must state its purpose.
func logCaseAccess(ctx context.Context, tx *Tx, r dedupCaseRow) error {
	if canasta.ActorFromContext(ctx) != nil && canasta.PurposeFromContext(ctx) == "" {
		_, err := canasta.ParsePurpose("")
		return err
	}
	for _, hid := range []int64{r.hid, r.keepHID} {
		if err := logAccess(ctx, tx, hid, "read-dedup-case"); err != nil {
			return err
		}
	}
	return nil
}

// FindDedupCases lists cases, newest first, and logs each read.
func (s *DedupService) FindDedupCases(ctx context.Context, filter canasta.DedupCaseFilter) ([]*canasta.DedupCase, error) {
	tx, err := s.db.beginRecordRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	limit := filter.Limit
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rows, err := tx.QueryContext(ctx, dedupCaseSQL+` WHERE (? = '' OR c.status = ?) ORDER BY c.id DESC LIMIT ? OFFSET ?`,
		string(filter.Status), string(filter.Status), limit, max(filter.Offset, 0))
	if err != nil {
		return nil, fmt.Errorf("find dedup cases: %w", err)
	}
	rs, err := scanDedupCases(rows)
	if err != nil {
		return nil, err
	}
	cases := make([]*canasta.DedupCase, 0, len(rs))
	for _, r := range rs {
		if err := logCaseAccess(ctx, tx, r); err != nil {
			return nil, err
		}
		cases = append(cases, r.c)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit dedup case read: %w", err)
	}
	return cases, nil
}

func findDedupCase(ctx context.Context, tx *Tx, id int64) (dedupCaseRow, error) {
	rows, err := tx.QueryContext(ctx, dedupCaseSQL+` WHERE c.id = ?`, id)
	if err != nil {
		return dedupCaseRow{}, fmt.Errorf("find dedup case: %w", err)
	}
	rs, err := scanDedupCases(rows)
	if err != nil {
		return dedupCaseRow{}, err
	} else if len(rs) == 0 {
		return dedupCaseRow{}, canasta.Errorf(canasta.ENOTFOUND, "Duplicate case %d not found.", id)
	}
	return rs[0], nil
}

// FindDedupCaseByID returns a case and logs the read.
func (s *DedupService) FindDedupCaseByID(ctx context.Context, id int64) (*canasta.DedupCase, error) {
	tx, err := s.db.beginRecordRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	r, err := findDedupCase(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	if err := logCaseAccess(ctx, tx, r); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit dedup case read: %w", err)
	}
	return r.c, nil
}

func (s *DedupService) answerWindow() time.Duration {
	if s.AnswerWindow > 0 {
		return s.AnswerWindow
	}
	return canasta.DefaultAnswerWindow
}

// decide moves a case from one of the allowed states to another in one
// transaction, recording who decided, and audits merges and their undoing.
func (s *DedupService) decide(ctx context.Context, id int64, from []canasta.DedupCaseStatus, to canasta.DedupCaseStatus,
	note, grievanceID string) (*canasta.DedupCase, error) {
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	r, err := findDedupCase(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	c := r.c
	if !slices.Contains(from, c.Status) {
		return nil, canasta.Errorf(canasta.ECONFLICT, "Duplicate case %d is %s; it cannot become %s.", id, c.Status, to)
	}
	if c.Status == canasta.DedupCaseConfirmed && to == canasta.DedupCaseContested && c.EffectiveAt != nil && !tx.now.Before(*c.EffectiveAt) {
		return nil, canasta.Errorf(canasta.ECONFLICT, "The answer window of duplicate case %d has closed.", id)
	}
	var effective any
	switch to {
	case canasta.DedupCaseConfirmed:
		effective = formatTime(tx.now.Add(s.answerWindow()))
	case canasta.DedupCaseContested:
		if c.EffectiveAt != nil {
			effective = formatTime(*c.EffectiveAt)
		}
	}
	by := ""
	if a := canasta.ActorFromContext(ctx); a != nil {
		by = a.Name
	}
	if to == canasta.DedupCaseContested {
		by = c.DecidedBy // the household contests; the decision stays the registrar's
	}
	if note == "" {
		note = c.Note
	}
	if grievanceID == "" {
		grievanceID = c.GrievanceID
	}
	if _, err := tx.ExecContext(ctx, `UPDATE dedup_cases SET status = ?, note = ?, decided_at = ?, decided_by = ?,
	effective_at = ?, grievance_id = ? WHERE id = ?`, string(to), note, formatTime(tx.now), nullString(by), effective,
		nullString(grievanceID), id); err != nil {
		return nil, fmt.Errorf("decide dedup case: %w", err)
	}
	switch {
	case to == canasta.DedupCaseConfirmed:
		err = auditDedup(ctx, tx, canasta.AuditDedupMerge, r)
	case to == canasta.DedupCaseUndone:
		err = auditDedup(ctx, tx, canasta.AuditDedupUndo, r)
	}
	if err != nil {
		return nil, err
	}
	r, err = findDedupCase(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit dedup decision: %w", err)
	}
	return r.c, nil
}

// auditDedup records a merge or its undoing in the audit log, as an entry
// about the merged person's household committing to the case.
func auditDedup(ctx context.Context, tx *Tx, t canasta.AuditType, r dedupCaseRow) error {
	e, err := householdEntry(ctx, tx, t, r.hid, r.c.HouseholdID, r.c)
	if err != nil {
		return err
	}
	return appendAudit(ctx, tx, e)
}

// ConfirmDedupCase merges the case's person, effective after the answer window.
func (s *DedupService) ConfirmDedupCase(ctx context.Context, id int64, note string) (*canasta.DedupCase, error) {
	return s.decide(ctx, id, []canasta.DedupCaseStatus{canasta.DedupCaseOpen, canasta.DedupCaseContested},
		canasta.DedupCaseConfirmed, note, "")
}

// DismissDedupCase closes an open case as not a duplicate.
func (s *DedupService) DismissDedupCase(ctx context.Context, id int64, note string) (*canasta.DedupCase, error) {
	return s.decide(ctx, id, []canasta.DedupCaseStatus{canasta.DedupCaseOpen}, canasta.DedupCaseDismissed, note, "")
}

// UndoDedupCase reverses a merge, or reopens a dismissed case.
func (s *DedupService) UndoDedupCase(ctx context.Context, id int64, note string) (*canasta.DedupCase, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	r, err := findDedupCase(ctx, tx, id)
	tx.Rollback()
	if err != nil {
		return nil, err
	}
	if r.c.Status == canasta.DedupCaseDismissed {
		return s.decide(ctx, id, []canasta.DedupCaseStatus{canasta.DedupCaseDismissed}, canasta.DedupCaseOpen, note, "")
	}
	return s.decide(ctx, id, []canasta.DedupCaseStatus{canasta.DedupCaseConfirmed, canasta.DedupCaseContested},
		canasta.DedupCaseUndone, note, "")
}

// ContestDedupCase records the household's grievance against a merge.
func (s *DedupService) ContestDedupCase(ctx context.Context, id int64, grievanceID string) (*canasta.DedupCase, error) {
	if strings.TrimSpace(grievanceID) == "" {
		return nil, canasta.Errorf(canasta.EINVALID, "Name the grievance that contests the merge.")
	}
	return s.decide(ctx, id, []canasta.DedupCaseStatus{canasta.DedupCaseConfirmed}, canasta.DedupCaseContested, "", grievanceID)
}

// FindDedupCasesForHousehold lists the cases that concern the household.
func (s *DedupService) FindDedupCasesForHousehold(ctx context.Context, householdID string) ([]*canasta.DedupCase, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	hid, err := householdHID(ctx, tx, householdID)
	if err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, dedupCaseSQL+` WHERE c.household_hid = ? OR c.keep_hid = ? ORDER BY c.id DESC`, hid, hid)
	if err != nil {
		return nil, fmt.Errorf("find dedup cases of household: %w", err)
	}
	rs, err := scanDedupCases(rows)
	if err != nil {
		return nil, err
	}
	out := make([]*canasta.DedupCase, len(rs))
	for i, r := range rs {
		out[i] = r.c
	}
	return canasta.OwnDedupCases(out, householdID), nil
}

// dedupKey is one row of dedup_keys.
type dedupKey struct{ key, hid, line int64 }

// appendDedupKeys appends the person's lookup keys to keys.
func appendDedupKeys(keys []dedupKey, db *DB, hid, line int64, p *canasta.Person, a canasta.Address) []dedupKey {
	if db.Dedup == nil {
		return keys
	}
	for _, k := range db.Dedup.IndexKeys(&canasta.PersonRecord{Person: *p, Address: a}) {
		keys = append(keys, dedupKey{k, hid, line})
	}
	return keys
}

// insertDedupKeyRows inserts an import batch's keys in key order: the
// keys are hashes, so in arrival order each insert would land on a random
// page of the index, and in order neighbours share pages.
func insertDedupKeyRows(ctx context.Context, tx *Tx, keys []dedupKey) error {
	if len(keys) == 0 {
		return nil
	}
	slices.SortFunc(keys, func(a, b dedupKey) int {
		return cmp.Or(cmp.Compare(a.key, b.key), cmp.Compare(a.hid, b.hid), cmp.Compare(a.line, b.line))
	})
	// Many rows per statement: an import inserts about eleven keys per
	// person, and one statement per row measured a third of its time.
	const rows = 256
	insert := func(n int) string {
		return `INSERT OR IGNORE INTO dedup_keys (key, household_hid, line) VALUES (?, ?, ?)` + strings.Repeat(`, (?, ?, ?)`, n-1)
	}
	var full *sql.Stmt
	if len(keys) >= rows {
		var err error
		if full, err = tx.PrepareContext(ctx, insert(rows)); err != nil {
			return fmt.Errorf("index persons: %w", err)
		}
		defer full.Close()
	}
	args := make([]any, 0, 3*rows)
	for len(keys) > 0 {
		chunk := keys[:min(rows, len(keys))]
		keys = keys[len(chunk):]
		args = args[:0]
		for _, k := range chunk {
			args = append(args, k.key, k.hid, k.line)
		}
		var err error
		if len(chunk) == rows {
			_, err = full.ExecContext(ctx, args...)
		} else {
			_, err = tx.ExecContext(ctx, insert(len(chunk)), args...)
		}
		if err != nil {
			return fmt.Errorf("index persons: %w", err)
		}
	}
	return nil
}

// importedHousehold is a household of an import batch with the members
// the import created.
type importedHousehold struct {
	hid     int64
	address canasta.Address
	members []*canasta.Person
	lines   map[string]int64 // every stored member's line, by person id
	// created is whether the batch created the household: all its
	// members are new.
	created bool
}

func (ih *importedHousehold) Row() int64                    { return ih.hid }
func (ih *importedHousehold) CreatedByBatch() bool          { return ih.created }
func (ih *importedHousehold) NewMembers() []*canasta.Person { return ih.members }

// ScreenImported looks up duplicates of the persons an import batch
// created and opens review cases for the likely ones.
func (s *DedupService) ScreenImported(ctx context.Context, hs []*canasta.Household) (canasta.ImportScreening, error) {
	var res canasta.ImportScreening
	if err := canasta.AuthorizeDedup(ctx); err != nil {
		return res, err
	}
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return res, err
	}
	defer tx.Rollback()
	households, err := importedHouseholds(ctx, tx, hs)
	if err != nil {
		return res, err
	}
	res, err = canasta.ScreenImport(households,
		func(ih *importedHousehold, m *canasta.Person, before int64, minScore float64, limit int) ([]*canasta.DuplicateCandidate, []rowKey, error) {
			p := &canasta.PersonRecord{Person: *m, Address: ih.address}
			return s.lookupDuplicates(ctx, tx, p, ih.hid, before, minScore, limit)
		},
		func(ih *importedHousehold, m *canasta.Person, keep rowKey, score float64) (int64, bool, error) {
			return openPairCase(ctx, tx, rowKey{ih.hid, ih.lines[m.ID]}, keep, score)
		})
	if err != nil {
		return res, err
	}
	if err := tx.Commit(); err != nil {
		return canasta.ImportScreening{}, fmt.Errorf("commit import screening: %w", err)
	}
	return res, nil
}

// importedHouseholds loads, in batch order, the households of hs with
// members the import created, each household once.
func importedHouseholds(ctx context.Context, tx *Tx, hs []*canasta.Household) ([]*importedHousehold, error) {
	var out []*importedHousehold
	for _, hm := range canasta.CreatedMembers(hs) {
		ih, err := loadImportedHousehold(ctx, tx, hm.Household)
		if err != nil {
			return nil, err
		}
		ih.members, ih.created = hm.Stored(func(id string) bool { _, ok := ih.lines[id]; return ok }, len(ih.lines))
		out = append(out, ih)
	}
	return out, nil
}

func loadImportedHousehold(ctx context.Context, tx *Tx, h *canasta.Household) (*importedHousehold, error) {
	hid, err := householdHID(ctx, tx, h.ID)
	if err != nil {
		return nil, err
	}
	ih := &importedHousehold{hid: hid, address: h.Address, lines: map[string]int64{}}
	rows, err := tx.QueryContext(ctx, `SELECT id, line FROM persons WHERE household_hid = ?`, hid)
	if err != nil {
		return nil, fmt.Errorf("screen import: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var line int64
		if err := rows.Scan(&id, &line); err != nil {
			return nil, fmt.Errorf("screen import: %w", err)
		}
		ih.lines[id] = line
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("screen import: %w", err)
	}
	return ih, nil
}

// openPairCase opens a case reviewing person against keep, unless the
// pair has a case already, either way round, and reports whether it
// opened one.
func openPairCase(ctx context.Context, tx *Tx, person, keep rowKey, score float64) (int64, bool, error) {
	var id int64
	err := tx.QueryRowContext(ctx, `SELECT id FROM dedup_cases WHERE household_hid = ? AND line = ? AND keep_hid = ? AND keep_line = ?
UNION ALL SELECT id FROM dedup_cases WHERE household_hid = ? AND line = ? AND keep_hid = ? AND keep_line = ?
LIMIT 1`, person.hid, person.line, keep.hid, keep.line, keep.hid, keep.line, person.hid, person.line).Scan(&id)
	switch {
	case err == nil:
		return id, false, nil
	case !errors.Is(err, sql.ErrNoRows):
		return 0, false, fmt.Errorf("open dedup case: %w", err)
	}
	if err := tx.QueryRowContext(ctx, `INSERT INTO dedup_cases (household_hid, line, keep_hid, keep_line, score, status, opened_at)
VALUES (?, ?, ?, ?, ?, 'open', ?) RETURNING id`, person.hid, person.line, keep.hid, keep.line, score, formatTime(tx.now)).Scan(&id); err != nil {
		return 0, false, fmt.Errorf("open dedup case: %w", err)
	}
	return id, true, nil
}

// OpenDedupCases opens a review case for each pair of the batch search.
func (s *DedupService) OpenDedupCases(ctx context.Context, pairs []canasta.DuplicatePair) (int, error) {
	if err := canasta.AuthorizeDedup(ctx); err != nil {
		return 0, err
	}
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	names := make([]string, 0, 2*len(pairs))
	for _, p := range pairs {
		names = append(names, p.A, p.B)
	}
	persons, err := personRowKeys(ctx, tx, names)
	if err != nil {
		return 0, err
	}
	opened := 0
	for _, p := range pairs {
		person, keep := persons[p.A], persons[p.B]
		if person == keep {
			continue
		}
		if cmp.Or(cmp.Compare(person.hid, keep.hid), cmp.Compare(person.line, keep.line)) < 0 {
			person, keep = keep, person
		}
		_, ok, err := openPairCase(ctx, tx, person, keep, p.Score)
		if err != nil {
			return 0, err
		} else if ok {
			opened++
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("commit dedup cases: %w", err)
	}
	return opened, nil
}

// personRowKeys finds the persons named by source id or, failing that,
// by person id. Person ids are not indexed: the few persons registered
// without a source id are found in one scan.
func personRowKeys(ctx context.Context, tx *Tx, names []string) (map[string]rowKey, error) {
	bySource, err := tx.PrepareContext(ctx, `SELECT household_hid, line FROM persons WHERE source_id = ?`)
	if err != nil {
		return nil, fmt.Errorf("find persons: %w", err)
	}
	defer bySource.Close()
	found := make(map[string]rowKey, len(names))
	var byID []any
	missing := map[string]bool{}
	for _, n := range names {
		if _, ok := found[n]; ok {
			continue
		}
		var k rowKey
		switch err := bySource.QueryRowContext(ctx, n).Scan(&k.hid, &k.line); {
		case err == nil:
			found[n] = k
		case errors.Is(err, sql.ErrNoRows):
			if !missing[n] {
				missing[n] = true
				byID = append(byID, n)
			}
		default:
			return nil, fmt.Errorf("find persons: %w", err)
		}
	}
	if len(byID) > 0 {
		rows, err := tx.QueryContext(ctx, `SELECT id, household_hid, line FROM persons WHERE id IN (?`+strings.Repeat(`, ?`, len(byID)-1)+`)`, byID...)
		if err != nil {
			return nil, fmt.Errorf("find persons: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			var k rowKey
			if err := rows.Scan(&id, &k.hid, &k.line); err != nil {
				return nil, fmt.Errorf("find persons: %w", err)
			}
			found[id] = k
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("find persons: %w", err)
		}
	}
	for _, n := range names {
		if _, ok := found[n]; !ok {
			return nil, canasta.Errorf(canasta.ENOTFOUND, "No person has the source id or id %q.", n)
		}
	}
	return found, nil
}
