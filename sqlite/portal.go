package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/canasta/canasta"
)

// PortalStore keeps person portal sessions and PIN failures, and serves
// the portal's reads of a household's own records.
type PortalStore struct {
	db *DB
}

var (
	_ canasta.PortalStore      = (*PortalStore)(nil)
	_ canasta.HouseholdRecords = (*PortalStore)(nil)
)

// NewPortalStore returns the portal store on db.
func NewPortalStore(db *DB) *PortalStore { return &PortalStore{db: db} }

// CardLockedUntil returns when the card's lock ends, or the zero time.
func (s *PortalStore) CardLockedUntil(ctx context.Context, cardID string) (time.Time, error) {
	var until sql.NullString
	err := s.db.reader.QueryRowContext(ctx, `SELECT locked_until FROM pin_failures WHERE card_id = ?`, cardID).Scan(&until)
	if errors.Is(err, sql.ErrNoRows) || err == nil && !until.Valid {
		return time.Time{}, nil
	} else if err != nil {
		return time.Time{}, fmt.Errorf("card lock: %w", err)
	}
	return parseTime(until.String)
}

// RecordPINFailure counts a wrong PIN and locks the card at the max-th.
func (s *PortalStore) RecordPINFailure(ctx context.Context, cardID string, max int, lockFor time.Duration) (bool, error) {
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	var failures int
	if err := tx.QueryRowContext(ctx, `INSERT INTO pin_failures (card_id, failures) VALUES (?, 1)
ON CONFLICT (card_id) DO UPDATE SET failures = failures + 1 RETURNING failures`, cardID).Scan(&failures); err != nil {
		return false, fmt.Errorf("record PIN failure: %w", err)
	}
	locked := failures >= max
	if locked {
		until := tx.now.Add(lockFor)
		if _, err := tx.ExecContext(ctx, `UPDATE pin_failures SET failures = 0, locked_until = ? WHERE card_id = ?`, formatTime(until), cardID); err != nil {
			return false, fmt.Errorf("lock card: %w", err)
		}
		if err := auditPublic(ctx, tx, canasta.AuditCardLock, map[string]string{"card": cardID, "until": until.Format(time.RFC3339)}, nil); err != nil {
			return false, err
		}
	}
	return locked, tx.Commit()
}

// ClearPINFailures resets the count after a right PIN.
func (s *PortalStore) ClearPINFailures(ctx context.Context, cardID string) error {
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `UPDATE pin_failures SET failures = 0 WHERE card_id = ? AND failures > 0`, cardID); err != nil {
		return fmt.Errorf("clear PIN failures: %w", err)
	}
	return tx.Commit()
}

// CreatePortalSession stores a session.
func (s *PortalStore) CreatePortalSession(ctx context.Context, ps *canasta.PortalSession, secretHash []byte) error {
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	hid, err := householdHID(ctx, tx, ps.HouseholdID)
	if err != nil {
		return err
	}
	// Expired sessions go as new ones come, so the table stays small.
	if _, err := tx.ExecContext(ctx, `DELETE FROM portal_sessions WHERE expires_at < ?`, formatTime(tx.now)); err != nil {
		return fmt.Errorf("expire portal sessions: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO portal_sessions (hash, household_hid, card_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
		secretHash, hid, ps.CardID, formatTime(ps.CreatedAt), formatTime(ps.ExpiresAt)); err != nil {
		return fmt.Errorf("create portal session: %w", err)
	}
	return tx.Commit()
}

// FindPortalSession returns the session stored under a secret hash.
func (s *PortalStore) FindPortalSession(ctx context.Context, secretHash []byte) (*canasta.PortalSession, error) {
	var ps canasta.PortalSession
	var created, expires string
	err := s.db.reader.QueryRowContext(ctx, `SELECT h.id, s.card_id, s.created_at, s.expires_at
FROM portal_sessions s JOIN households h ON h.hid = s.household_hid WHERE s.hash = ?`, secretHash).Scan(&ps.HouseholdID, &ps.CardID, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, canasta.Errorf(canasta.ENOTFOUND, "No such portal session.")
	} else if err != nil {
		return nil, fmt.Errorf("find portal session: %w", err)
	}
	if ps.CreatedAt, err = parseTime(created); err != nil {
		return nil, err
	}
	if ps.ExpiresAt, err = parseTime(expires); err != nil {
		return nil, err
	}
	if !s.db.now().Before(ps.ExpiresAt) {
		return nil, canasta.Errorf(canasta.ENOTFOUND, "No such portal session.")
	}
	return &ps, nil
}

// DeletePortalSession ends a session.
func (s *PortalStore) DeletePortalSession(ctx context.Context, secretHash []byte) error {
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM portal_sessions WHERE hash = ?`, secretHash); err != nil {
		return fmt.Errorf("end portal session: %w", err)
	}
	return tx.Commit()
}

// FindRedemptionsByHousehold lists the household's receipts, newest first.
func (s *PortalStore) FindRedemptionsByHousehold(ctx context.Context, householdID string) ([]*canasta.Redemption, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	hid, err := householdHID(ctx, tx, householdID)
	if err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT request_id FROM redemptions WHERE household_hid = ? ORDER BY id DESC`, hid)
	if err != nil {
		return nil, fmt.Errorf("find redemptions of household: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("find redemptions of household: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find redemptions of household: %w", err)
	}
	out := make([]*canasta.Redemption, 0, len(ids))
	for _, id := range ids {
		r, _, err := findRedemption(ctx, tx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}
