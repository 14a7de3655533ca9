package postgres

import (
	"context"
	"fmt"

	"github.com/canasta/canasta"
	"github.com/jackc/pgx/v5"
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
func (s *AccessLogService) FindAccessEvents(ctx context.Context, householdID string) (_ []*canasta.AccessEvent, err error) {
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
	// Ids come from one sequence; with several servers they follow the
	// order reads began, which is what "newest" means even if the servers'
	// clocks disagree.
	rows, err := tx.Query(ctx, `SELECT id, token_id, actor_name, role, purpose, action, at
FROM access_log WHERE household_hid = $1 ORDER BY id DESC`, hid)
	if err != nil {
		return nil, fmt.Errorf("find access events: %w", err)
	}
	events, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*canasta.AccessEvent, error) {
		e := canasta.AccessEvent{HouseholdID: householdID}
		err := row.Scan(&e.ID, &e.TokenID, &e.ActorName, &e.Role, &e.Purpose, &e.Action, &e.At)
		return &e, err
	})
	if err != nil {
		return nil, fmt.Errorf("find access events: %w", err)
	}
	if events == nil {
		events = []*canasta.AccessEvent{}
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
	_, err := tx.Exec(ctx, `INSERT INTO access_log (household_hid, token_id, actor_name, role, purpose, action, at)
VALUES ($1, $2, $3, $4, $5, $6, $7)`, hid, a.TokenID, a.Name, string(a.Role), string(canasta.PurposeFromContext(ctx)), action, tx.now)
	if err != nil {
		return fmt.Errorf("log %s: %w", action, err)
	}
	return nil
}
