package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/canasta/canasta"
	"github.com/jackc/pgx/v5"
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

const pointColumns = `id, name, kind, region, created_at`

// CreatePoint validates and stores p, setting its id and creation time.
func (s *PointService) CreatePoint(ctx context.Context, p *canasta.Point) (err error) {
	defer checkAvailable(&err)
	if err := p.Validate(); err != nil {
		return err
	}
	ctx, tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.release()

	var id int64
	if err := tx.QueryRow(ctx, `INSERT INTO points (name, kind, region, created_at) VALUES ($1, $2, $3, $4) RETURNING id`,
		p.Name, string(p.Kind), p.Region, tx.now).Scan(&id); err != nil {
		return fmt.Errorf("insert point: %w", err)
	}
	p.ID, p.CreatedAt = id, tx.now
	if err := auditPublic(ctx, tx, canasta.AuditPointCreate, map[string]string{"point": strconv.FormatInt(id, 10)}, p); err != nil {
		return err
	}
	if err := tx.commit("point"); err != nil {
		p.ID, p.CreatedAt = 0, time.Time{}
		return err
	}
	return nil
}

// FindPointByID returns a point. ENOTFOUND if none.
func (s *PointService) FindPointByID(ctx context.Context, id int64) (_ *canasta.Point, err error) {
	defer checkAvailable(&err)
	ctx, cancel := s.db.withTimeout(ctx)
	defer cancel()
	return findPointByID(ctx, s.db.pool, id)
}

// FindPoints lists all points by id.
func (s *PointService) FindPoints(ctx context.Context) (_ []*canasta.Point, err error) {
	defer checkAvailable(&err)
	ctx, cancel := s.db.withTimeout(ctx)
	defer cancel()

	rows, err := s.db.pool.Query(ctx, `SELECT `+pointColumns+` FROM points ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("find points: %w", err)
	}
	points, err := pgx.CollectRows(rows, scanPoint)
	if err != nil {
		return nil, fmt.Errorf("find points: %w", err)
	}
	if points == nil {
		points = []*canasta.Point{}
	}
	return points, nil
}

func findPointByID(ctx context.Context, q querier, id int64) (*canasta.Point, error) {
	rows, err := q.Query(ctx, `SELECT `+pointColumns+` FROM points WHERE id = $1`, id)
	if err != nil {
		return nil, fmt.Errorf("find point %d: %w", id, err)
	}
	p, err := pgx.CollectExactlyOneRow(rows, scanPoint)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, canasta.Errorf(canasta.ENOTFOUND, "Point %d not found.", id)
	} else if err != nil {
		return nil, fmt.Errorf("find point %d: %w", id, err)
	}
	return p, nil
}

func scanPoint(row pgx.CollectableRow) (*canasta.Point, error) {
	var p canasta.Point
	err := row.Scan(&p.ID, &p.Name, &p.Kind, &p.Region, &p.CreatedAt)
	return &p, err
}
