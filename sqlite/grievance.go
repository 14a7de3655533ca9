package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/canasta/canasta"
)

// GrievanceService keeps grievances and the steps taken on them.
type GrievanceService struct {
	db *DB
}

var _ canasta.GrievanceService = (*GrievanceService)(nil)

// NewGrievanceService returns the grievance service on db.
func NewGrievanceService(db *DB) *GrievanceService {
	return &GrievanceService{db: db}
}

// Staff lists are paged: a default page, and a bound on any page.
const (
	defaultGrievanceLimit = 100
	maxGrievanceLimit     = 1000
)

const grievanceColumns = `g.gid, g.household_hid, g.id, h.id, g.category, g.text, g.status, g.assignee, g.case_ref, g.created_at, g.updated_at, g.closed_at`

// grievanceRow is a grievance as stored, with the row ids its steps need.
type grievanceRow struct {
	gid, hid int64
	g        *canasta.Grievance
}

// FileGrievance records a grievance of the household.
func (s *GrievanceService) FileGrievance(ctx context.Context, householdID string, category canasta.GrievanceCategory, text, caseRef string) (*canasta.Grievance, error) {
	category, text, caseRef, err := checkFiling(category, text, caseRef)
	if err != nil {
		return nil, err
	}
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	hid, err := householdHID(ctx, tx, householdID)
	if err != nil {
		return nil, err
	}
	g := &canasta.Grievance{
		ID: canasta.NewID(canasta.GrievanceIDPrefix), HouseholdID: householdID, Category: category, Text: text,
		Status: canasta.GrievanceOpen, Case: caseRef, Messages: []*canasta.GrievanceMessage{},
		CreatedAt: tx.now, UpdatedAt: tx.now,
	}
	r, err := tx.ExecContext(ctx, `INSERT INTO grievances (id, household_hid, category, text, status, assignee, case_ref, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, '', ?, ?, ?)`, g.ID, hid, string(g.Category), g.Text, string(g.Status), g.Case, formatTime(tx.now), formatTime(tx.now))
	if err != nil {
		return nil, fmt.Errorf("insert grievance: %w", err)
	}
	gid, err := r.LastInsertId()
	if err != nil {
		return nil, fmt.Errorf("insert grievance: %w", err)
	}
	row := &grievanceRow{gid: gid, hid: hid, g: g}
	if err := auditGrievance(ctx, tx, row, canasta.GrievanceStepFiled, filingDetails(g)); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit grievance: %w", err)
	}
	return g, nil
}

// checkFiling validates what a person files.
func checkFiling(category canasta.GrievanceCategory, text, caseRef string) (canasta.GrievanceCategory, string, string, error) {
	category, err := canasta.ParseGrievanceCategory(string(category))
	if err != nil {
		return "", "", "", err
	}
	if text, err = canasta.CleanGrievanceText("text", text); err != nil {
		return "", "", "", err
	}
	if caseRef, err = canasta.CleanGrievanceCase(caseRef); err != nil {
		return "", "", "", err
	}
	return category, text, caseRef, nil
}

// filingDetails is what a filing's audit entry commits to.
func filingDetails(g *canasta.Grievance) any {
	return map[string]string{"grievance": g.ID, "category": string(g.Category), "text": g.Text, "case": g.Case}
}

// FindGrievancesByHousehold returns the household's grievances in full.
func (s *GrievanceService) FindGrievancesByHousehold(ctx context.Context, householdID string) ([]*canasta.Grievance, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	hid, err := householdHID(ctx, tx, householdID)
	if err != nil {
		return nil, err
	}
	rows, err := queryGrievances(ctx, tx, `WHERE g.household_hid = ? ORDER BY g.gid DESC`, hid)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		if r.g.Messages, err = grievanceMessages(ctx, tx, r.gid); err != nil {
			return nil, err
		}
	}
	return grievancesOf(rows), nil
}

// FindGrievanceForHousehold returns one of the household's grievances.
func (s *GrievanceService) FindGrievanceForHousehold(ctx context.Context, householdID, id string) (*canasta.Grievance, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	rows, err := queryGrievances(ctx, tx, `WHERE g.id = ? AND h.id = ?`, id, householdID)
	if err != nil {
		return nil, err
	} else if len(rows) == 0 {
		return nil, grievanceNotFound(id)
	}
	if rows[0].g.Messages, err = grievanceMessages(ctx, tx, rows[0].gid); err != nil {
		return nil, err
	}
	return rows[0].g, nil
}

// FindGrievances lists grievances without their text.
func (s *GrievanceService) FindGrievances(ctx context.Context, filter canasta.GrievanceFilter) ([]*canasta.Grievance, error) {
	var where []string
	var args []any
	if filter.Status != "" {
		where, args = append(where, `g.status = ?`), append(args, string(filter.Status))
	}
	if filter.Category != "" {
		where, args = append(where, `g.category = ?`), append(args, string(filter.Category))
	}
	q := ""
	if len(where) > 0 {
		q = `WHERE ` + strings.Join(where, ` AND `)
	}
	limit, offset := grievancePage(filter)
	q += ` ORDER BY g.gid DESC LIMIT ? OFFSET ?`
	args = append(args, limit, offset)

	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	rows, err := queryGrievances(ctx, tx, q, args...)
	if err != nil {
		return nil, err
	}
	gs := grievancesOf(rows)
	for _, g := range gs {
		g.Text = ""
	}
	return gs, nil
}

// grievancePage bounds a list's page.
func grievancePage(f canasta.GrievanceFilter) (limit, offset int) {
	limit = f.Limit
	if limit <= 0 {
		limit = defaultGrievanceLimit
	}
	return min(limit, maxGrievanceLimit), max(f.Offset, 0)
}

// FindGrievanceByID returns one grievance in full and logs the read.
func (s *GrievanceService) FindGrievanceByID(ctx context.Context, id string) (*canasta.Grievance, error) {
	tx, err := s.db.beginRecordRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	row, err := findGrievance(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	if row.g.Messages, err = grievanceMessages(ctx, tx, row.gid); err != nil {
		return nil, err
	}
	if err := logAccess(ctx, tx, row.hid, "read-grievance"); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit grievance read: %w", err)
	}
	return row.g, nil
}

// AssignGrievance hands the grievance to assignee.
func (s *GrievanceService) AssignGrievance(ctx context.Context, id, assignee string) (*canasta.Grievance, error) {
	assignee, err := canasta.CleanGrievanceAssignee(assignee)
	if err != nil {
		return nil, err
	}
	return s.step(ctx, id, canasta.GrievanceStepAssigned, func(tx *Tx, row *grievanceRow) (any, error) {
		if row.g.Status == canasta.GrievanceOpen {
			row.g.Status = canasta.GrievanceAssigned
		}
		row.g.Assignee = assignee
		_, err := tx.ExecContext(ctx, `UPDATE grievances SET status = ?, assignee = ?, updated_at = ? WHERE gid = ?`,
			string(row.g.Status), assignee, formatTime(tx.now), row.gid)
		if err != nil {
			return nil, fmt.Errorf("assign grievance: %w", err)
		}
		return map[string]string{"assignee": assignee}, nil
	})
}

// AnswerGrievance adds an answer and marks the grievance answered.
func (s *GrievanceService) AnswerGrievance(ctx context.Context, id, text string) (*canasta.Grievance, error) {
	text, err := canasta.CleanGrievanceText("answer", text)
	if err != nil {
		return nil, err
	}
	return s.step(ctx, id, canasta.GrievanceStepAnswered, func(tx *Tx, row *grievanceRow) (any, error) {
		row.g.Status = canasta.GrievanceAnswered
		if _, err := tx.ExecContext(ctx, `UPDATE grievances SET status = ?, updated_at = ? WHERE gid = ?`,
			string(row.g.Status), formatTime(tx.now), row.gid); err != nil {
			return nil, fmt.Errorf("answer grievance: %w", err)
		}
		return addGrievanceMessage(ctx, tx, row.gid, text)
	})
}

// CloseGrievance closes the grievance with an optional note.
func (s *GrievanceService) CloseGrievance(ctx context.Context, id, text string) (*canasta.Grievance, error) {
	if strings.TrimSpace(text) != "" {
		var err error
		if text, err = canasta.CleanGrievanceText("closing note", text); err != nil {
			return nil, err
		}
	} else {
		text = ""
	}
	return s.step(ctx, id, canasta.GrievanceStepClosed, func(tx *Tx, row *grievanceRow) (any, error) {
		row.g.Status = canasta.GrievanceClosed
		closed := tx.now
		row.g.ClosedAt = &closed
		if _, err := tx.ExecContext(ctx, `UPDATE grievances SET status = ?, updated_at = ?, closed_at = ? WHERE gid = ?`,
			string(row.g.Status), formatTime(tx.now), formatTime(tx.now), row.gid); err != nil {
			return nil, fmt.Errorf("close grievance: %w", err)
		}
		if text == "" {
			return map[string]string{}, nil
		}
		return addGrievanceMessage(ctx, tx, row.gid, text)
	})
}

// step runs one staff step on a grievance in a write transaction: it
// refuses a closed grievance, applies change, which returns the personal
// details the audit entry commits to, and appends that entry last.
func (s *GrievanceService) step(ctx context.Context, id string, step canasta.GrievanceStep,
	change func(tx *Tx, row *grievanceRow) (any, error)) (*canasta.Grievance, error) {
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	row, err := findGrievance(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	if row.g.Status == canasta.GrievanceClosed {
		return nil, canasta.Errorf(canasta.ECONFLICT, "Grievance %q is closed; it takes no further steps.", id)
	}
	details, err := change(tx, row)
	if err != nil {
		return nil, err
	}
	row.g.UpdatedAt = tx.now
	if err := auditGrievance(ctx, tx, row, step, details); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit grievance %s: %w", step, err)
	}
	row.g.Text = ""
	return row.g, nil
}

// addGrievanceMessage appends a message from the context's actor and
// returns it as the details its audit entry commits to.
func addGrievanceMessage(ctx context.Context, tx *Tx, gid int64, text string) (any, error) {
	m := &canasta.GrievanceMessage{At: tx.now, From: canasta.GrievanceSender(ctx), Text: text}
	if _, err := tx.ExecContext(ctx, `INSERT INTO grievance_messages (grievance_gid, seq, at, sender, text)
VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM grievance_messages WHERE grievance_gid = ?), ?, ?, ?)`,
		gid, gid, formatTime(m.At), m.From, m.Text); err != nil {
		return nil, fmt.Errorf("add grievance message: %w", err)
	}
	return m, nil
}

// auditGrievance appends the step's audit entry: ids and the step in the
// clear, the details only as a commitment under the household's key.
func auditGrievance(ctx context.Context, tx *Tx, row *grievanceRow, step canasta.GrievanceStep, details any) error {
	e, err := householdEntry(ctx, tx, canasta.AuditGrievance, row.hid, row.g.HouseholdID,
		map[string]any{"grievance": row.g.ID, "step": step, "details": details})
	if err != nil {
		return err
	}
	e.Objects["grievance"] = row.g.ID
	e.Objects["step"] = string(step)
	if canasta.ActorFromContext(ctx) == nil && step == canasta.GrievanceStepFiled {
		e.ActorRole = canasta.GrievanceFromHousehold
	}
	return appendAudit(ctx, tx, e)
}

// findGrievance loads one grievance without its messages. ENOTFOUND.
func findGrievance(ctx context.Context, tx *Tx, id string) (*grievanceRow, error) {
	rows, err := queryGrievances(ctx, tx, `WHERE g.id = ?`, id)
	if err != nil {
		return nil, err
	} else if len(rows) == 0 {
		return nil, grievanceNotFound(id)
	}
	return rows[0], nil
}

func grievanceNotFound(id string) error {
	return canasta.Errorf(canasta.ENOTFOUND, "Grievance %q not found.", id)
}

// queryGrievances loads the grievances a clause selects.
func queryGrievances(ctx context.Context, tx *Tx, clause string, args ...any) ([]*grievanceRow, error) {
	rows, err := tx.QueryContext(ctx, `SELECT `+grievanceColumns+` FROM grievances g JOIN households h ON h.hid = g.household_hid `+clause, args...)
	if err != nil {
		return nil, fmt.Errorf("find grievances: %w", err)
	}
	defer rows.Close()
	var out []*grievanceRow
	for rows.Next() {
		var (
			g                    canasta.Grievance
			row                  = grievanceRow{g: &g}
			category, status     string
			createdAt, updatedAt string
			closedAt             sql.NullString
		)
		if err := rows.Scan(&row.gid, &row.hid, &g.ID, &g.HouseholdID, &category, &g.Text, &status, &g.Assignee, &g.Case,
			&createdAt, &updatedAt, &closedAt); err != nil {
			return nil, fmt.Errorf("scan grievance: %w", err)
		}
		g.Category, g.Status = canasta.GrievanceCategory(category), canasta.GrievanceStatus(status)
		if g.CreatedAt, err = parseTime(createdAt); err != nil {
			return nil, err
		}
		if g.UpdatedAt, err = parseTime(updatedAt); err != nil {
			return nil, err
		}
		if closedAt.Valid {
			t, err := parseTime(closedAt.String)
			if err != nil {
				return nil, err
			}
			g.ClosedAt = &t
		}
		out = append(out, &row)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find grievances: %w", err)
	}
	return out, nil
}

// grievanceMessages returns a grievance's messages, oldest first.
func grievanceMessages(ctx context.Context, tx *Tx, gid int64) ([]*canasta.GrievanceMessage, error) {
	rows, err := tx.QueryContext(ctx, `SELECT at, sender, text FROM grievance_messages WHERE grievance_gid = ? ORDER BY seq`, gid)
	if err != nil {
		return nil, fmt.Errorf("find grievance messages: %w", err)
	}
	defer rows.Close()
	out := []*canasta.GrievanceMessage{}
	for rows.Next() {
		var m canasta.GrievanceMessage
		var at string
		if err := rows.Scan(&at, &m.From, &m.Text); err != nil {
			return nil, fmt.Errorf("scan grievance message: %w", err)
		}
		if m.At, err = parseTime(at); err != nil {
			return nil, err
		}
		out = append(out, &m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find grievance messages: %w", err)
	}
	return out, nil
}

func grievancesOf(rows []*grievanceRow) []*canasta.Grievance {
	out := make([]*canasta.Grievance, len(rows))
	for i, r := range rows {
		out[i] = r.g
	}
	return out
}
