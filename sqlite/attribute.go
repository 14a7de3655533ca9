package sqlite

import (
	"context"
	"fmt"

	"github.com/canasta/canasta"
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

// CreateAttribute declares a.
func (s *AttributeService) CreateAttribute(ctx context.Context, a *canasta.Attribute) error {
	if err := a.Validate(); err != nil {
		return err
	}
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	if err := createAttribute(ctx, tx, a); err != nil {
		return err
	}
	return tx.Commit()
}

// FindAttributes lists the declarations by name.
func (s *AttributeService) FindAttributes(ctx context.Context) ([]*canasta.Attribute, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return findAttributes(ctx, tx)
}

func createAttribute(ctx context.Context, tx *Tx, a *canasta.Attribute) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM attributes WHERE name = ?`, a.Name).Scan(&n); err != nil {
		return fmt.Errorf("check attribute %s: %w", a.Name, err)
	} else if n > 0 {
		return canasta.Errorf(canasta.ECONFLICT, "Attribute %q is already declared.", a.Name)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO attributes (name, type, applies_to, purpose, created_at) VALUES (?, ?, ?, ?, ?)`,
		a.Name, string(a.Type), string(a.AppliesTo), a.Purpose, formatTime(tx.now))
	if isUniqueViolation(err) {
		return canasta.Errorf(canasta.ECONFLICT, "Attribute %q is already declared.", a.Name)
	} else if err != nil {
		return fmt.Errorf("insert attribute %s: %w", a.Name, err)
	}
	a.CreatedAt = tx.now
	return auditPublic(ctx, tx, canasta.AuditAttributeCreate, map[string]string{"attribute": a.Name}, a)
}

func findAttributes(ctx context.Context, tx *Tx) ([]*canasta.Attribute, error) {
	rows, err := tx.QueryContext(ctx, `SELECT name, type, applies_to, purpose, created_at FROM attributes ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("find attributes: %w", err)
	}
	defer rows.Close()
	attrs := []*canasta.Attribute{}
	for rows.Next() {
		var a canasta.Attribute
		var typ, appliesTo, createdAt string
		if err := rows.Scan(&a.Name, &typ, &appliesTo, &a.Purpose, &createdAt); err != nil {
			return nil, fmt.Errorf("scan attribute: %w", err)
		}
		a.Type, a.AppliesTo = canasta.AttributeType(typ), canasta.AppliesTo(appliesTo)
		if a.CreatedAt, err = parseTime(createdAt); err != nil {
			return nil, err
		}
		attrs = append(attrs, &a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find attributes: %w", err)
	}
	return attrs, nil
}

// findSchema loads the declared attributes in the caller's transaction, so
// a record is checked against the schema it is stored under.
func findSchema(ctx context.Context, tx *Tx) (*canasta.Schema, error) {
	attrs, err := findAttributes(ctx, tx)
	if err != nil {
		return nil, err
	}
	return canasta.NewSchema(attrs), nil
}
