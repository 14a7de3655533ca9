package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/canasta/canasta"
	"github.com/jackc/pgx/v5"
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

// personRecordBatch is how many households one read transaction covers,
// so that each stays well inside the statement timeout.
const personRecordBatch = 20000

// notMergedSQL leaves out persons merged away by an effective merge; the
// person table's alias is p and the time is parameter $1.
const notMergedSQL = `NOT EXISTS (SELECT 1 FROM dedup_cases c WHERE c.household_hid = p.household_hid
	AND c.line = p.line AND c.status = 'confirmed' AND c.effective_at <= $1)`

// CountPersonRecords returns how many persons EachPersonRecord yields.
func (s *PersonRecordService) CountPersonRecords(ctx context.Context) (n int, err error) {
	defer checkAvailable(&err)
	ctx, tx, err := s.db.beginRead(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.release()
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM persons p WHERE `+notMergedSQL, tx.now).Scan(&n); err != nil {
		return 0, fmt.Errorf("count persons: %w", err)
	}
	return n, nil
}

// EachPersonRecord calls fn with every person not merged away, household
// by household in order of registration, reading in batches of
// households, each in its own transaction: a household registered during
// the scan may or may not be seen.
func (s *PersonRecordService) EachPersonRecord(ctx context.Context, fn func(*canasta.PersonRecord) error) (err error) {
	defer checkAvailable(&err)
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

func (s *PersonRecordService) eachPersonRecordBatch(ctx context.Context, last int64, fn func(*canasta.PersonRecord) error) (int64, error) {
	ctx, tx, err := s.db.beginRead(ctx)
	if err != nil {
		return last, err
	}
	defer tx.release()
	var hi *int64
	if err := tx.QueryRow(ctx, `SELECT max(hid) FROM (SELECT hid FROM households WHERE hid > $1 ORDER BY hid LIMIT $2) b`,
		last, personRecordBatch).Scan(&hi); err != nil {
		return last, fmt.Errorf("read persons: %w", err)
	}
	if hi == nil {
		return last, nil
	}
	rows, err := tx.Query(ctx, `SELECT h.id, h.line, h.locality, h.region, h.postcode,
	p.id, coalesce(p.source_id, ''), p.given_name, p.family_name, p.birth_date, p.sex, coalesce(p.national_id, ''), p.relationship
FROM households h JOIN persons p ON p.household_hid = h.hid
WHERE h.hid > $2 AND h.hid <= $3 AND `+notMergedSQL+`
ORDER BY h.hid, p.line`, tx.now, last, *hi)
	if err != nil {
		return last, fmt.Errorf("read persons: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			r   canasta.PersonRecord
			sex string
		)
		if err := rows.Scan(&r.HouseholdID, &r.Address.Line, &r.Address.Locality, &r.Address.Region, &r.Address.Postcode,
			&r.ID, &r.SourceID, &r.GivenName, &r.FamilyName, &r.BirthDate, &sex, &r.NationalID, &r.Relationship); err != nil {
			return last, fmt.Errorf("read persons: %w", err)
		}
		r.Sex = canasta.Sex(sex)
		if err := fn(&r); err != nil {
			return last, err
		}
	}
	if err := rows.Err(); err != nil {
		return last, fmt.Errorf("read persons: %w", err)
	}
	return *hi, nil
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
// sharing the most keys with the new person come first. Each key
// contributes at most 64: a key shared by very many persons (a common
// name in a big town) says little, and the bound keeps a lookup's cost
// the same whatever the registry's size.
const maxLookup = 200

// dedupKeyRow is one row of dedup_keys.
type dedupKeyRow struct {
	key  int64
	hid  int64
	line int32
}

func appendDedupKeys(rows []dedupKeyRow, m canasta.DuplicateMatcher, hid int64, line int32, p *canasta.Person, a canasta.Address) []dedupKeyRow {
	keys := m.IndexKeys(&canasta.PersonRecord{Person: *p, Address: a})
	slices.Sort(keys)
	for _, k := range slices.Compact(keys) {
		rows = append(rows, dedupKeyRow{k, hid, line})
	}
	return rows
}

func copyDedupKeys(ctx context.Context, tx *Tx, rows []dedupKeyRow) error {
	if len(rows) == 0 {
		return nil
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"dedup_keys"}, []string{"key", "household_hid", "line"},
		pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
			return []any{rows[i].key, rows[i].hid, rows[i].line}, nil
		}))
	if err != nil {
		return fmt.Errorf("index persons: %w", err)
	}
	return nil
}

// indexHousehold indexes the members of a household just created, whose
// lines are their positions.
func indexHousehold(ctx context.Context, tx *Tx, m canasta.DuplicateMatcher, h *canasta.Household) error {
	if m == nil {
		return nil
	}
	var hid int64
	if err := tx.QueryRow(ctx, `SELECT hid FROM households WHERE id = $1`, h.ID).Scan(&hid); err != nil {
		return fmt.Errorf("index household: %w", err)
	}
	var rows []dedupKeyRow
	for i, p := range h.Members {
		rows = appendDedupKeys(rows, m, hid, int32(i+1), p, h.Address)
	}
	return copyDedupKeys(ctx, tx, rows)
}

// indexImported indexes the persons an import batch created, at the
// address of the household whose row brought them.
func indexImported(ctx context.Context, tx *Tx, m canasta.DuplicateMatcher, hs []*canasta.Household, persons []importPerson) error {
	if m == nil || len(persons) == 0 {
		return nil
	}
	address := make(map[*canasta.Person]canasta.Address, len(persons))
	for _, h := range hs {
		for _, p := range h.Members {
			address[p] = h.Address
		}
	}
	var rows []dedupKeyRow
	for _, p := range persons {
		rows = appendDedupKeys(rows, m, p.household.hid, p.line, p.m, address[p.m])
	}
	return copyDedupKeys(ctx, tx, rows)
}

// registryPersons is the number of registered persons, recounted every
// few minutes: the prior needs its size, not its exact count.
func (s *DedupService) registryPersons(ctx context.Context, tx *Tx) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.persons > 0 && tx.now.Sub(s.countedAt) < 5*time.Minute && tx.now.After(s.countedAt) {
		return s.persons, nil
	}
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM persons`).Scan(&s.persons); err != nil {
		return 0, fmt.Errorf("count persons: %w", err)
	}
	s.countedAt = tx.now
	return s.persons, nil
}

// rowKey names a person by their row key.
type rowKey struct {
	hid  int64
	line int32
}

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
	rows, err := tx.Query(ctx, `SELECT k.household_hid, k.line,
	h.id, h.line, h.locality, h.region, h.postcode,
	p.id, coalesce(p.source_id, ''), p.given_name, p.family_name, p.birth_date, p.sex, coalesce(p.national_id, '')
FROM (SELECT d.household_hid, d.line, count(*) AS shared FROM unnest($2::bigint[]) AS q(key)
	CROSS JOIN LATERAL (SELECT household_hid, line FROM dedup_keys WHERE key = q.key AND household_hid < $5 AND household_hid <> $3 LIMIT 64) d
	GROUP BY d.household_hid, d.line ORDER BY shared DESC LIMIT $4) k
JOIN persons p ON p.household_hid = k.household_hid AND p.line = k.line
JOIN households h ON h.hid = k.household_hid
WHERE `+notMergedSQL, tx.now, keys, exclude, maxLookup, before)
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
			r   canasta.PersonRecord
			k   rowKey
			sex string
		)
		if err := rows.Scan(&k.hid, &k.line, &r.HouseholdID, &r.Address.Line, &r.Address.Locality, &r.Address.Region,
			&r.Address.Postcode, &r.ID, &r.SourceID, &r.GivenName, &r.FamilyName, &r.BirthDate, &sex, &r.NationalID); err != nil {
			return nil, nil, fmt.Errorf("look up duplicates: %w", err)
		}
		r.Sex = canasta.Sex(sex)
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
func (s *DedupService) FindDuplicates(ctx context.Context, p *canasta.PersonRecord, minScore float64, limit int) (cs []*canasta.DuplicateCandidate, err error) {
	defer checkAvailable(&err)
	ctx, tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.release()
	cs, _, err = s.lookupDuplicates(ctx, tx, p, 0, anyHousehold, minScore, limit)
	return cs, err
}

// ScreenHousehold looks up duplicates of each member of a household just
// created and opens review cases for the likely ones.
func (s *DedupService) ScreenHousehold(ctx context.Context, h *canasta.Household) (all []*canasta.DuplicateCandidate, err error) {
	defer checkAvailable(&err)
	ctx, tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.release()
	var hid int64
	if err := tx.QueryRow(ctx, `SELECT hid FROM households WHERE id = $1`, h.ID).Scan(&hid); errors.Is(err, pgx.ErrNoRows) {
		return nil, canasta.Errorf(canasta.ENOTFOUND, "Household %q not found.", h.ID)
	} else if err != nil {
		return nil, fmt.Errorf("screen household: %w", err)
	}
	rows, err := tx.Query(ctx, `SELECT id, line FROM persons WHERE household_hid = $1`, hid)
	if err != nil {
		return nil, fmt.Errorf("screen household: %w", err)
	}
	lines := map[string]int32{}
	for rows.Next() {
		var id string
		var line int32
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
	all = []*canasta.DuplicateCandidate{}
	for _, m := range h.Members {
		line, ok := lines[m.ID]
		if !ok {
			continue
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
	if err := tx.commit("screening"); err != nil {
		return nil, err
	}
	return all, nil
}

// openDedupCase opens a case, or returns the one already open for the pair.
func openDedupCase(ctx context.Context, tx *Tx, person, keep rowKey, score float64) (int64, error) {
	var id int64
	err := tx.QueryRow(ctx, `INSERT INTO dedup_cases (household_hid, line, keep_hid, keep_line, score, status, opened_at)
VALUES ($1, $2, $3, $4, $5, 'open', $6)
ON CONFLICT (household_hid, line, keep_hid, keep_line) DO UPDATE SET score = excluded.score
RETURNING id`, person.hid, person.line, keep.hid, keep.line, score, tx.now).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("open dedup case: %w", err)
	}
	return id, nil
}

const dedupCaseSQL = `SELECT c.id, c.household_hid, c.keep_hid, p.id, h.id, kp.id, kh.id, c.score, c.status, c.note,
	c.opened_at, c.decided_at, coalesce(c.decided_by, ''), c.effective_at, coalesce(c.grievance_id, '')
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

func scanDedupCases(rows pgx.Rows) ([]dedupCaseRow, error) {
	defer rows.Close()
	var out []dedupCaseRow
	for rows.Next() {
		var (
			c      canasta.DedupCase
			r      dedupCaseRow
			status string
		)
		if err := rows.Scan(&c.ID, &r.hid, &r.keepHID, &c.PersonID, &c.HouseholdID, &c.KeepPersonID, &c.KeepHouseholdID,
			&c.Score, &status, &c.Note, &c.OpenedAt, &c.DecidedAt, &c.DecidedBy, &c.EffectiveAt, &c.GrievanceID); err != nil {
			return nil, fmt.Errorf("scan dedup case: %w", err)
		}
		c.Status = canasta.DedupCaseStatus(status)
		c.OpenedAt = c.OpenedAt.UTC()
		for _, t := range []*time.Time{c.DecidedAt, c.EffectiveAt} {
			if t != nil {
				*t = t.UTC()
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
func (s *DedupService) FindDedupCases(ctx context.Context, filter canasta.DedupCaseFilter) (cases []*canasta.DedupCase, err error) {
	defer checkAvailable(&err)
	ctx, tx, err := s.db.beginRecordRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.release()
	limit := filter.Limit
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rows, err := tx.Query(ctx, dedupCaseSQL+` WHERE ($1 = '' OR c.status = $1) ORDER BY c.id DESC LIMIT $2 OFFSET $3`,
		string(filter.Status), limit, max(filter.Offset, 0))
	if err != nil {
		return nil, fmt.Errorf("find dedup cases: %w", err)
	}
	rs, err := scanDedupCases(rows)
	if err != nil {
		return nil, err
	}
	cases = make([]*canasta.DedupCase, 0, len(rs))
	for _, r := range rs {
		if err := logCaseAccess(ctx, tx, r); err != nil {
			return nil, err
		}
		cases = append(cases, r.c)
	}
	if err := tx.commit("dedup case read"); err != nil {
		return nil, err
	}
	return cases, nil
}

func findDedupCase(ctx context.Context, tx *Tx, id int64) (dedupCaseRow, error) {
	rows, err := tx.Query(ctx, dedupCaseSQL+` WHERE c.id = $1`, id)
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
func (s *DedupService) FindDedupCaseByID(ctx context.Context, id int64) (c *canasta.DedupCase, err error) {
	defer checkAvailable(&err)
	ctx, tx, err := s.db.beginRecordRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.release()
	r, err := findDedupCase(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	if err := logCaseAccess(ctx, tx, r); err != nil {
		return nil, err
	}
	if err := tx.commit("dedup case read"); err != nil {
		return nil, err
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
	note, grievanceID string) (_ *canasta.DedupCase, err error) {
	defer checkAvailable(&err)
	ctx, tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.release()
	if _, err := tx.Exec(ctx, `SELECT 1 FROM dedup_cases WHERE id = $1 FOR UPDATE`, id); err != nil {
		return nil, fmt.Errorf("decide dedup case: %w", err)
	}
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
	var effective *time.Time
	switch to {
	case canasta.DedupCaseConfirmed:
		t := tx.now.Add(s.answerWindow())
		effective = &t
	case canasta.DedupCaseContested:
		effective = c.EffectiveAt
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
	if _, err := tx.Exec(ctx, `UPDATE dedup_cases SET status = $1, note = $2, decided_at = $3, decided_by = $4,
	effective_at = $5, grievance_id = $6 WHERE id = $7`, string(to), note, tx.now, nullString(by), effective,
		nullString(grievanceID), id); err != nil {
		return nil, fmt.Errorf("decide dedup case: %w", err)
	}
	switch to {
	case canasta.DedupCaseConfirmed:
		err = auditDedup(ctx, tx, canasta.AuditDedupMerge, r)
	case canasta.DedupCaseUndone:
		err = auditDedup(ctx, tx, canasta.AuditDedupUndo, r)
	}
	if err != nil {
		return nil, err
	}
	if r, err = findDedupCase(ctx, tx, id); err != nil {
		return nil, err
	}
	if err := tx.commit("dedup decision"); err != nil {
		return nil, err
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
	c, err := s.peekDedupCase(ctx, id)
	if err != nil {
		return nil, err
	}
	if c.Status == canasta.DedupCaseDismissed {
		return s.decide(ctx, id, []canasta.DedupCaseStatus{canasta.DedupCaseDismissed}, canasta.DedupCaseOpen, note, "")
	}
	return s.decide(ctx, id, []canasta.DedupCaseStatus{canasta.DedupCaseConfirmed, canasta.DedupCaseContested},
		canasta.DedupCaseUndone, note, "")
}

// peekDedupCase reads a case without logging, to choose what to do with it.
func (s *DedupService) peekDedupCase(ctx context.Context, id int64) (_ *canasta.DedupCase, err error) {
	defer checkAvailable(&err)
	ctx, tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.release()
	r, err := findDedupCase(ctx, tx, id)
	return r.c, err
}

// ContestDedupCase records the household's grievance against a merge.
func (s *DedupService) ContestDedupCase(ctx context.Context, id int64, grievanceID string) (*canasta.DedupCase, error) {
	if strings.TrimSpace(grievanceID) == "" {
		return nil, canasta.Errorf(canasta.EINVALID, "Name the grievance that contests the merge.")
	}
	return s.decide(ctx, id, []canasta.DedupCaseStatus{canasta.DedupCaseConfirmed}, canasta.DedupCaseContested, "", grievanceID)
}

// FindDedupCasesForHousehold lists the cases that concern the household.
func (s *DedupService) FindDedupCasesForHousehold(ctx context.Context, householdID string) (_ []*canasta.DedupCase, err error) {
	defer checkAvailable(&err)
	ctx, tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.release()
	hid, err := householdHID(ctx, tx, householdID)
	if err != nil {
		return nil, err
	}
	rows, err := tx.Query(ctx, dedupCaseSQL+` WHERE c.household_hid = $1 OR c.keep_hid = $1 ORDER BY c.id DESC`, hid)
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

// importedHousehold is a household of an import batch with the members
// the import created.
type importedHousehold struct {
	hid     int64
	address canasta.Address
	members []*canasta.Person
	lines   map[string]int32 // every stored member's line, by person id
	// created is whether the batch created the household: all its
	// members are new.
	created bool
}

func (ih *importedHousehold) Row() int64                    { return ih.hid }
func (ih *importedHousehold) CreatedByBatch() bool          { return ih.created }
func (ih *importedHousehold) NewMembers() []*canasta.Person { return ih.members }

// ScreenImported looks up duplicates of the persons an import batch
// created and opens review cases for the likely ones.
func (s *DedupService) ScreenImported(ctx context.Context, hs []*canasta.Household) (res canasta.ImportScreening, err error) {
	defer checkAvailable(&err)
	if err := canasta.AuthorizeDedup(ctx); err != nil {
		return res, err
	}
	ctx, tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return res, err
	}
	defer tx.release()
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
	if err := tx.commit("import screening"); err != nil {
		return canasta.ImportScreening{}, err
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
	ih := &importedHousehold{hid: hid, address: h.Address, lines: map[string]int32{}}
	rows, err := tx.Query(ctx, `SELECT id, line FROM persons WHERE household_hid = $1`, hid)
	if err != nil {
		return nil, fmt.Errorf("screen import: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var line int32
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
	err := tx.QueryRow(ctx, `SELECT id FROM dedup_cases WHERE household_hid = $1 AND line = $2 AND keep_hid = $3 AND keep_line = $4
UNION ALL SELECT id FROM dedup_cases WHERE household_hid = $3 AND line = $4 AND keep_hid = $1 AND keep_line = $2
LIMIT 1`, person.hid, person.line, keep.hid, keep.line).Scan(&id)
	switch {
	case err == nil:
		return id, false, nil
	case !errors.Is(err, pgx.ErrNoRows):
		return 0, false, fmt.Errorf("open dedup case: %w", err)
	}
	// A concurrent screening may open the same case meanwhile: then the
	// insert does nothing and the case is the other's.
	err = tx.QueryRow(ctx, `INSERT INTO dedup_cases (household_hid, line, keep_hid, keep_line, score, status, opened_at)
VALUES ($1, $2, $3, $4, $5, 'open', $6) ON CONFLICT (household_hid, line, keep_hid, keep_line) DO NOTHING RETURNING id`,
		person.hid, person.line, keep.hid, keep.line, score, tx.now).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return openPairCase(ctx, tx, person, keep, score)
	} else if err != nil {
		return 0, false, fmt.Errorf("open dedup case: %w", err)
	}
	return id, true, nil
}

// OpenDedupCases opens a review case for each pair of the batch search.
func (s *DedupService) OpenDedupCases(ctx context.Context, pairs []canasta.DuplicatePair) (opened int, err error) {
	defer checkAvailable(&err)
	if err := canasta.AuthorizeDedup(ctx); err != nil {
		return 0, err
	}
	ctx, tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.release()
	names := make([]string, 0, 2*len(pairs))
	for _, p := range pairs {
		names = append(names, p.A, p.B)
	}
	persons, err := personRowKeys(ctx, tx, names)
	if err != nil {
		return 0, err
	}
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
	if err := tx.commit("dedup cases"); err != nil {
		return 0, err
	}
	return opened, nil
}

// personRowKeys finds the persons named by source id or, failing that,
// by person id. Person ids are not indexed: the few persons registered
// without a source id are found in one scan.
func personRowKeys(ctx context.Context, tx *Tx, names []string) (map[string]rowKey, error) {
	found := make(map[string]rowKey, len(names))
	for _, by := range []string{"source_id", "id"} {
		var missing []string
		seen := map[string]bool{}
		for _, n := range names {
			if _, ok := found[n]; !ok && !seen[n] {
				seen[n] = true
				missing = append(missing, n)
			}
		}
		if len(missing) == 0 {
			break
		}
		rows, err := tx.Query(ctx, `SELECT `+by+`, household_hid, line FROM persons WHERE `+by+` = ANY($1::text[])`, missing)
		if err != nil {
			return nil, fmt.Errorf("find persons: %w", err)
		}
		for rows.Next() {
			var n string
			var k rowKey
			if err := rows.Scan(&n, &k.hid, &k.line); err != nil {
				rows.Close()
				return nil, fmt.Errorf("find persons: %w", err)
			}
			found[n] = k
		}
		rows.Close()
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
