package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/canasta/canasta"
)

// PointService registers the places where households redeem.
type PointService struct {
	db *DB
}

var _ canasta.PointService = (*PointService)(nil)

// NewPointService returns the point service on db.
func NewPointService(db *DB) *PointService {
	return &PointService{db: db}
}

// CreatePoint validates and stores p, setting its id and creation time.
func (s *PointService) CreatePoint(ctx context.Context, p *canasta.Point) error {
	if err := p.Validate(); err != nil {
		return err
	}
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	r, err := tx.ExecContext(ctx, `INSERT INTO points (name, kind, region, created_at) VALUES (?, ?, ?, ?)`,
		p.Name, string(p.Kind), p.Region, formatTime(tx.now))
	if err != nil {
		return fmt.Errorf("insert point: %w", err)
	}
	id, err := r.LastInsertId()
	if err != nil {
		return fmt.Errorf("insert point: %w", err)
	}
	p.ID, p.CreatedAt = id, tx.now
	if err := auditPublic(ctx, tx, canasta.AuditPointCreate, map[string]string{"point": strconv.FormatInt(id, 10)}, p); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		p.ID, p.CreatedAt = 0, time.Time{}
		return fmt.Errorf("commit point: %w", err)
	}
	return nil
}

// FindPointByID returns a point. ENOTFOUND if none.
func (s *PointService) FindPointByID(ctx context.Context, id int64) (*canasta.Point, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return findPointByID(ctx, tx, id)
}

// FindPoints lists all points by id.
func (s *PointService) FindPoints(ctx context.Context) ([]*canasta.Point, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	rows, err := tx.QueryContext(ctx, `SELECT id, name, kind, region, created_at FROM points ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("find points: %w", err)
	}
	defer rows.Close()
	points := []*canasta.Point{}
	for rows.Next() {
		p, err := scanPoint(rows)
		if err != nil {
			return nil, err
		}
		points = append(points, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find points: %w", err)
	}
	return points, nil
}

func findPointByID(ctx context.Context, tx *Tx, id int64) (*canasta.Point, error) {
	p, err := scanPoint(tx.QueryRowContext(ctx, `SELECT id, name, kind, region, created_at FROM points WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, canasta.Errorf(canasta.ENOTFOUND, "Point %d not found.", id)
	}
	return p, err
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

func scanPoint(row scanner) (*canasta.Point, error) {
	var p canasta.Point
	var kind, createdAt string
	if err := row.Scan(&p.ID, &p.Name, &kind, &p.Region, &createdAt); errors.Is(err, sql.ErrNoRows) {
		return nil, err
	} else if err != nil {
		return nil, fmt.Errorf("scan point: %w", err)
	}
	p.Kind = canasta.PointKind(kind)
	var err error
	if p.CreatedAt, err = parseTime(createdAt); err != nil {
		return nil, err
	}
	return &p, nil
}
