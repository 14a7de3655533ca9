package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/canasta/canasta"
	"github.com/jackc/pgx/v5"
)

// AttributeService declares the registry's extra fields.
type AttributeService struct {
	db *DB
}

var _ canasta.AttributeService = (*AttributeService)(nil)

// NewAttributeService returns the attribute service on db.
func NewAttributeService(db *DB) *AttributeService {
	return &AttributeService{db: db}
}

// CreateAttribute declares a. Two servers declaring the same name at once
// meet at the primary key: one wins, the other gets ECONFLICT.
func (s *AttributeService) CreateAttribute(ctx context.Context, a *canasta.Attribute) (err error) {
	defer checkAvailable(&err)
	if err := a.Validate(); err != nil {
		return err
	}
	ctx, tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.release()

	tag, err := tx.Exec(ctx, `INSERT INTO attributes (name, type, applies_to, purpose, created_at) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (name) DO NOTHING`, a.Name, string(a.Type), string(a.AppliesTo), a.Purpose, tx.now)
	if err != nil {
		return fmt.Errorf("insert attribute %s: %w", a.Name, err)
	} else if tag.RowsAffected() == 0 {
		return canasta.Errorf(canasta.ECONFLICT, "Attribute %q is already declared.", a.Name)
	}
	a.CreatedAt = tx.now
	if err := auditPublic(ctx, tx, canasta.AuditAttributeCreate, map[string]string{"attribute": a.Name}, a); err != nil {
		return err
	}
	if err := tx.commit("attribute"); err != nil {
		a.CreatedAt = time.Time{}
		return err
	}
	return nil
}

// FindAttributes lists the declarations by name.
func (s *AttributeService) FindAttributes(ctx context.Context) (_ []*canasta.Attribute, err error) {
	defer checkAvailable(&err)
	ctx, cancel := s.db.withTimeout(ctx)
	defer cancel()
	return findAttributes(ctx, s.db.pool)
}

func findAttributes(ctx context.Context, q querier) ([]*canasta.Attribute, error) {
	rows, err := q.Query(ctx, `SELECT name, type, applies_to, purpose, created_at FROM attributes ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("find attributes: %w", err)
	}
	attrs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*canasta.Attribute, error) {
		var a canasta.Attribute
		err := row.Scan(&a.Name, &a.Type, &a.AppliesTo, &a.Purpose, &a.CreatedAt)
		return &a, err
	})
	if err != nil {
		return nil, fmt.Errorf("find attributes: %w", err)
	}
	if attrs == nil {
		attrs = []*canasta.Attribute{}
	}
	return attrs, nil
}

// findSchema loads the declared attributes in the caller's transaction, so
// a record is checked against the schema it is stored under.
func findSchema(ctx context.Context, q querier) (*canasta.Schema, error) {
	attrs, err := findAttributes(ctx, q)
	if err != nil {
		return nil, err
	}
	return canasta.NewSchema(attrs), nil
}
