package sqlite

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/canasta/canasta"
)

// CorrectionService corrects registered households.
type CorrectionService struct {
	db *DB
}

var _ canasta.CorrectionService = (*CorrectionService)(nil)

// NewCorrectionService returns the correction service on db.
func NewCorrectionService(db *DB) *CorrectionService { return &CorrectionService{db: db} }

// CorrectHousehold corrects h in one transaction with its record and audit
// entry.
func (s *CorrectionService) CorrectHousehold(ctx context.Context, h *canasta.Household, reason string) (*canasta.Correction, error) {
	reason, err := canasta.CheckCorrection(ctx, reason)
	if err != nil {
		return nil, err
	}
	if err := h.Validate(); err != nil {
		return nil, err
	}
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	hid, err := householdHID(ctx, tx, h.ID)
	if err != nil {
		return nil, err
	}
	old, err := findHouseholdByHID(ctx, tx, hid)
	if err != nil {
		return nil, err
	}
	schema, err := findSchema(ctx, tx)
	if err != nil {
		return nil, err
	}
	if err := schema.ValidateHousehold(h); err != nil {
		return nil, err
	}
	if err := schema.ValidateHousehold(old); err != nil {
		return nil, fmt.Errorf("stored household %s: %w", h.ID, err)
	}
	fields, err := canasta.CorrectedFields(old, h)
	if err != nil {
		return nil, err
	}
	attrs, err := encodeAttributes(h.Attributes)
	if err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE households SET line = ?, locality = ?, region = ?, postcode = ?, monthly_income = ?, attributes = ?, updated_at = ?
WHERE hid = ?`, h.Address.Line, h.Address.Locality, h.Address.Region, h.Address.Postcode, h.MonthlyIncome, attrs, formatTime(tx.now), hid); err != nil {
		return nil, fmt.Errorf("correct household: %w", err)
	}
	for _, m := range h.Members {
		attrs, err := encodeAttributes(m.Attributes)
		if err != nil {
			return nil, err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE persons SET given_name = ?, family_name = ?, birth_date = ?, sex = ?, national_id = ?,
relationship = ?, disability = ?, attributes = ? WHERE household_hid = ? AND id = ?`, m.GivenName, m.FamilyName, m.BirthDate,
			string(m.Sex), nullString(m.NationalID), m.Relationship, m.Disability, attrs, hid, m.ID); isUniqueViolation(err) {
			return nil, canasta.Errorf(canasta.ECONFLICT, "Another person is registered with national id %q.", m.NationalID)
		} else if err != nil {
			return nil, fmt.Errorf("correct member: %w", err)
		}
	}
	c := &canasta.Correction{HouseholdID: h.ID, At: tx.now, Role: string(canasta.ActorFromContext(ctx).Role),
		Purpose: canasta.PurposeFromContext(ctx), Reason: reason, Fields: fields}
	e, err := householdEntry(ctx, tx, canasta.AuditHouseholdUpdate, hid, h.ID, struct {
		Reason string             `json:"reason"`
		Before *canasta.Household `json:"before"`
		After  *canasta.Household `json:"after"`
	}{reason, old, h})
	if err != nil {
		return nil, err
	}
	e.Objects["purpose"] = string(c.Purpose)
	if err := appendAudit(ctx, tx, e); err != nil {
		return nil, err
	}
	c.Audit = &canasta.AuditRef{Index: e.Index}
	fj, _ := json.Marshal(fields)
	r, err := tx.ExecContext(ctx, `INSERT INTO household_corrections (household_hid, at, role, purpose, reason, fields, audit_index)
VALUES (?, ?, ?, ?, ?, ?, ?)`, hid, formatTime(tx.now), c.Role, string(c.Purpose), reason, string(fj), e.Index)
	if err != nil {
		return nil, fmt.Errorf("record correction: %w", err)
	}
	if c.ID, err = r.LastInsertId(); err != nil {
		return nil, fmt.Errorf("record correction: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit correction: %w", err)
	}
	return c, nil
}

// FindCorrections lists the household's corrections, newest first.
func (s *CorrectionService) FindCorrections(ctx context.Context, householdID string) ([]*canasta.Correction, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	hid, err := householdHID(ctx, tx, householdID)
	if err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, at, role, purpose, reason, fields, audit_index FROM household_corrections
WHERE household_hid = ? ORDER BY id DESC`, hid)
	if err != nil {
		return nil, fmt.Errorf("find corrections: %w", err)
	}
	defer rows.Close()
	out := []*canasta.Correction{}
	for rows.Next() {
		c := &canasta.Correction{HouseholdID: householdID, Audit: &canasta.AuditRef{}}
		var at, purpose, fields string
		if err := rows.Scan(&c.ID, &at, &c.Role, &purpose, &c.Reason, &fields, &c.Audit.Index); err != nil {
			return nil, fmt.Errorf("scan correction: %w", err)
		}
		c.Purpose = canasta.Purpose(purpose)
		if c.At, err = parseTime(at); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(fields), &c.Fields); err != nil {
			return nil, fmt.Errorf("correction fields: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
