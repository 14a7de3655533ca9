package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/canasta/canasta"
	"github.com/jackc/pgx/v5"
)

// ProgramService publishes need-based programs.
type ProgramService struct {
	db *DB
}

var _ canasta.ProgramService = (*ProgramService)(nil)

// NewProgramService returns the program service on db.
func NewProgramService(db *DB) *ProgramService {
	return &ProgramService{db: db}
}

const programColumns = `id, name, commodity_code, unit, eligibility, quantity, period, created_at`

// CreateProgram validates p, compiles its rules against the schema
// declared at this moment, and stores it.
func (s *ProgramService) CreateProgram(ctx context.Context, p *canasta.Program) (err error) {
	defer checkAvailable(&err)
	if err := p.Validate(); err != nil {
		return err
	}
	if s.db.Rules == nil {
		return fmt.Errorf("create program: no rule engine configured")
	}
	ctx, tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.release()

	// The attributes a rule names must stay declared while the program is
	// stored; attributes are never removed, so reading them suffices.
	schema, err := findSchema(ctx, tx)
	if err != nil {
		return err
	}
	if _, err := s.db.Rules.Compile(p, schema); err != nil {
		return err
	}
	var id int64
	if err := tx.QueryRow(ctx, `INSERT INTO programs (name, commodity_code, unit, eligibility, quantity, period, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		p.Name, p.Commodity.Code, string(p.Commodity.Unit), p.Eligibility, p.Quantity, p.Period, tx.now).Scan(&id); err != nil {
		return fmt.Errorf("insert program: %w", err)
	}
	if err := tx.commit("program"); err != nil {
		return err
	}
	p.ID, p.CreatedAt = id, tx.now
	return nil
}

// FindProgramByID returns a program. ENOTFOUND if none.
func (s *ProgramService) FindProgramByID(ctx context.Context, id int64) (_ *canasta.Program, err error) {
	defer checkAvailable(&err)
	ctx, cancel := s.db.withTimeout(ctx)
	defer cancel()

	rows, err := s.db.pool.Query(ctx, `SELECT `+programColumns+` FROM programs WHERE id = $1`, id)
	if err != nil {
		return nil, fmt.Errorf("find program %d: %w", id, err)
	}
	p, err := pgx.CollectExactlyOneRow(rows, scanProgram)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, canasta.Errorf(canasta.ENOTFOUND, "Program %d not found.", id)
	} else if err != nil {
		return nil, fmt.Errorf("find program %d: %w", id, err)
	}
	return p, nil
}

// FindPrograms lists all programs by id.
func (s *ProgramService) FindPrograms(ctx context.Context) (_ []*canasta.Program, err error) {
	defer checkAvailable(&err)
	ctx, cancel := s.db.withTimeout(ctx)
	defer cancel()
	return findPrograms(ctx, s.db.pool)
}

func findPrograms(ctx context.Context, q querier) ([]*canasta.Program, error) {
	rows, err := q.Query(ctx, `SELECT `+programColumns+` FROM programs ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("find programs: %w", err)
	}
	programs, err := pgx.CollectRows(rows, scanProgram)
	if err != nil {
		return nil, fmt.Errorf("find programs: %w", err)
	}
	if programs == nil {
		programs = []*canasta.Program{}
	}
	return programs, nil
}

func scanProgram(row pgx.CollectableRow) (*canasta.Program, error) {
	var p canasta.Program
	err := row.Scan(&p.ID, &p.Name, &p.Commodity.Code, &p.Commodity.Unit, &p.Eligibility, &p.Quantity, &p.Period, &p.CreatedAt)
	return &p, err
}
