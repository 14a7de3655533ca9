package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/canasta/canasta"
	"github.com/jackc/pgx/v5"
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
func (s *CorrectionService) CorrectHousehold(ctx context.Context, h *canasta.Household, reason string) (_ *canasta.Correction, err error) {
	defer checkAvailable(&err)
	reason, err = canasta.CheckCorrection(ctx, reason)
	if err != nil {
		return nil, err
	}
	if err := h.Validate(); err != nil {
		return nil, err
	}
	ctx, tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.release()

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
	if _, err := tx.Exec(ctx, `UPDATE households SET line = $1, locality = $2, region = $3, postcode = $4, monthly_income = $5, attributes = $6, updated_at = $7
WHERE hid = $8`, h.Address.Line, h.Address.Locality, h.Address.Region, h.Address.Postcode, h.MonthlyIncome, attrs, tx.now, hid); err != nil {
		return nil, fmt.Errorf("correct household: %w", err)
	}
	for _, m := range h.Members {
		attrs, err := encodeAttributes(m.Attributes)
		if err != nil {
			return nil, err
		}
		if _, err := tx.Exec(ctx, `UPDATE persons SET given_name = $1, family_name = $2, birth_date = $3, sex = $4, national_id = $5,
relationship = $6, disability = $7, attributes = $8 WHERE household_hid = $9 AND id = $10`, m.GivenName, m.FamilyName, m.BirthDate,
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
	if err := tx.QueryRow(ctx, `INSERT INTO household_corrections (household_hid, at, role, purpose, reason, fields, audit_index)
VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`, hid, tx.now, c.Role, string(c.Purpose), reason, string(fj), e.Index).Scan(&c.ID); err != nil {
		return nil, fmt.Errorf("record correction: %w", err)
	}
	if err := tx.commit("correction"); err != nil {
		return nil, err
	}
	return c, nil
}

// FindCorrections lists the household's corrections, newest first.
func (s *CorrectionService) FindCorrections(ctx context.Context, householdID string) (_ []*canasta.Correction, err error) {
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
	rows, err := tx.Query(ctx, `SELECT id, at, role, purpose, reason, fields, audit_index FROM household_corrections
WHERE household_hid = $1 ORDER BY id DESC`, hid)
	if err != nil {
		return nil, fmt.Errorf("find corrections: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*canasta.Correction, error) {
		c := &canasta.Correction{HouseholdID: householdID, Audit: &canasta.AuditRef{}}
		var purpose, fields string
		if err := row.Scan(&c.ID, &c.At, &c.Role, &purpose, &c.Reason, &fields, &c.Audit.Index); err != nil {
			return nil, err
		}
		c.At, c.Purpose = c.At.UTC(), canasta.Purpose(purpose)
		return c, json.Unmarshal([]byte(fields), &c.Fields)
	})
	if err != nil {
		return nil, fmt.Errorf("find corrections: %w", err)
	}
	if out == nil {
		out = []*canasta.Correction{}
	}
	return out, nil
}
