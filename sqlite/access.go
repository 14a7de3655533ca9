package sqlite

import (
	"context"
	"fmt"

	"github.com/canasta/canasta"
)

// AccessLogService reads the log of staff reads of household records.
type AccessLogService struct {
	db *DB
}

var _ canasta.AccessLogService = (*AccessLogService)(nil)

// NewAccessLogService returns the access log service on db.
func NewAccessLogService(db *DB) *AccessLogService {
	return &AccessLogService{db: db}
}

// FindAccessEvents lists reads of the household's record, newest first.
// ENOTFOUND if the household does not exist.
func (s *AccessLogService) FindAccessEvents(ctx context.Context, householdID string) ([]*canasta.AccessEvent, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	hid, err := householdHID(ctx, tx, householdID)
	if err != nil {
		return nil, err
	}
	// Row ids follow commit order under the single writer, which is what
	// "newest" means even if two processes' clocks disagree.
	rows, err := tx.QueryContext(ctx, `SELECT id, token_id, actor_name, role, purpose, action, at
FROM access_log WHERE household_hid = ? ORDER BY id DESC`, hid)
	if err != nil {
		return nil, fmt.Errorf("find access events: %w", err)
	}
	defer rows.Close()
	events := []*canasta.AccessEvent{}
	for rows.Next() {
		e := canasta.AccessEvent{HouseholdID: householdID}
		var role, purpose, at string
		if err := rows.Scan(&e.ID, &e.TokenID, &e.ActorName, &role, &purpose, &e.Action, &at); err != nil {
			return nil, fmt.Errorf("scan access event: %w", err)
		}
		e.Role, e.Purpose = canasta.Role(role), canasta.Purpose(purpose)
		if e.At, err = parseTime(at); err != nil {
			return nil, err
		}
		events = append(events, &e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find access events: %w", err)
	}
	return events, nil
}

// logAccess records a staff read of a household's record in tx, which
// must be a write transaction when the context carries an actor (see
// beginRecordRead). Without an actor the read is internal and not logged.
func logAccess(ctx context.Context, tx *Tx, hid int64, action string) error {
	a := canasta.ActorFromContext(ctx)
	if a == nil {
		return nil
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO access_log (household_hid, token_id, actor_name, role, purpose, action, at)
VALUES (?, ?, ?, ?, ?, ?, ?)`, hid, a.TokenID, a.Name, string(a.Role), string(canasta.PurposeFromContext(ctx)), action, formatTime(tx.now))
	if err != nil {
		return fmt.Errorf("log %s: %w", action, err)
	}
	return nil
}
