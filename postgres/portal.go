package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/canasta/canasta"
	"github.com/jackc/pgx/v5"
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
func (s *PortalStore) CardLockedUntil(ctx context.Context, cardID string) (_ time.Time, err error) {
	defer checkAvailable(&err)
	ctx, cancel := s.db.withTimeout(ctx)
	defer cancel()
	var until *time.Time
	err = s.db.pool.QueryRow(ctx, `SELECT locked_until FROM pin_failures WHERE card_id = $1`, cardID).Scan(&until)
	if errors.Is(err, pgx.ErrNoRows) || err == nil && until == nil {
		return time.Time{}, nil
	} else if err != nil {
		return time.Time{}, fmt.Errorf("card lock: %w", err)
	}
	return *until, nil
}

// RecordPINFailure counts a wrong PIN and locks the card at the max-th.
func (s *PortalStore) RecordPINFailure(ctx context.Context, cardID string, max int, lockFor time.Duration) (_ bool, err error) {
	defer checkAvailable(&err)
	ctx, tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return false, err
	}
	defer tx.release()
	var failures int
	if err := tx.QueryRow(ctx, `INSERT INTO pin_failures (card_id, failures) VALUES ($1, 1)
ON CONFLICT (card_id) DO UPDATE SET failures = pin_failures.failures + 1 RETURNING failures`, cardID).Scan(&failures); err != nil {
		return false, fmt.Errorf("record PIN failure: %w", err)
	}
	locked := failures >= max
	if locked {
		until := tx.now.Add(lockFor)
		if _, err := tx.Exec(ctx, `UPDATE pin_failures SET failures = 0, locked_until = $1 WHERE card_id = $2`, until, cardID); err != nil {
			return false, fmt.Errorf("lock card: %w", err)
		}
		if err := auditPublic(ctx, tx, canasta.AuditCardLock, map[string]string{"card": cardID, "until": until.Format(time.RFC3339)}, nil); err != nil {
			return false, err
		}
	}
	return locked, tx.commit("PIN failure")
}

// ClearPINFailures resets the count after a right PIN.
func (s *PortalStore) ClearPINFailures(ctx context.Context, cardID string) (err error) {
	defer checkAvailable(&err)
	ctx, cancel := s.db.withTimeout(ctx)
	defer cancel()
	if _, err := s.db.pool.Exec(ctx, `UPDATE pin_failures SET failures = 0 WHERE card_id = $1 AND failures > 0`, cardID); err != nil {
		return fmt.Errorf("clear PIN failures: %w", err)
	}
	return nil
}

// CreatePortalSession stores a session.
func (s *PortalStore) CreatePortalSession(ctx context.Context, ps *canasta.PortalSession, secretHash []byte) (err error) {
	defer checkAvailable(&err)
	ctx, tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.release()
	hid, err := householdHID(ctx, tx, ps.HouseholdID)
	if err != nil {
		return err
	}
	// Expired sessions go as new ones come, so the table stays small.
	if _, err := tx.Exec(ctx, `DELETE FROM portal_sessions WHERE expires_at < $1`, tx.now); err != nil {
		return fmt.Errorf("expire portal sessions: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO portal_sessions (hash, household_hid, card_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		secretHash, hid, ps.CardID, ps.CreatedAt, ps.ExpiresAt); err != nil {
		return fmt.Errorf("create portal session: %w", err)
	}
	return tx.commit("portal session")
}

// FindPortalSession returns the session stored under a secret hash.
func (s *PortalStore) FindPortalSession(ctx context.Context, secretHash []byte) (_ *canasta.PortalSession, err error) {
	defer checkAvailable(&err)
	ctx, cancel := s.db.withTimeout(ctx)
	defer cancel()
	var ps canasta.PortalSession
	err = s.db.pool.QueryRow(ctx, `SELECT h.id, s.card_id, s.created_at, s.expires_at
FROM portal_sessions s JOIN households h ON h.hid = s.household_hid WHERE s.hash = $1`, secretHash).Scan(&ps.HouseholdID, &ps.CardID, &ps.CreatedAt, &ps.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, canasta.Errorf(canasta.ENOTFOUND, "No such portal session.")
	} else if err != nil {
		return nil, fmt.Errorf("find portal session: %w", err)
	}
	ps.CreatedAt, ps.ExpiresAt = ps.CreatedAt.UTC(), ps.ExpiresAt.UTC()
	if !s.db.now().Before(ps.ExpiresAt) {
		return nil, canasta.Errorf(canasta.ENOTFOUND, "No such portal session.")
	}
	return &ps, nil
}

// DeletePortalSession ends a session.
func (s *PortalStore) DeletePortalSession(ctx context.Context, secretHash []byte) (err error) {
	defer checkAvailable(&err)
	ctx, cancel := s.db.withTimeout(ctx)
	defer cancel()
	if _, err := s.db.pool.Exec(ctx, `DELETE FROM portal_sessions WHERE hash = $1`, secretHash); err != nil {
		return fmt.Errorf("end portal session: %w", err)
	}
	return nil
}

// FindRedemptionsByHousehold lists the household's receipts, newest first.
func (s *PortalStore) FindRedemptionsByHousehold(ctx context.Context, householdID string) (_ []*canasta.Redemption, err error) {
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
	rows, err := tx.Query(ctx, `SELECT request_id FROM redemptions WHERE household_hid = $1 ORDER BY id DESC`, hid)
	if err != nil {
		return nil, fmt.Errorf("find redemptions of household: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
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
