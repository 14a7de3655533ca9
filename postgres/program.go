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

// ProgramService publishes need-based programs.
type ProgramService struct {
	db *DB
}

var _ canasta.ProgramService = (*ProgramService)(nil)

// NewProgramService returns the program service on db.
func NewProgramService(db *DB) *ProgramService {
	return &ProgramService{db: db}
}

const programColumns = `id, name, commodity_code, unit, eligibility, quantity, period, created_at, replaces, replaced_by, retired_at`

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
	var replaces *int64
	if p.Replaces != 0 {
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM programs WHERE id = $1 AND retired_at IS NULL`, p.Replaces).Scan(&n); err != nil {
			return fmt.Errorf("find program %d: %w", p.Replaces, err)
		} else if n == 0 {
			return errNotReplaceable(p.Replaces)
		}
		replaces = &p.Replaces
	}
	var id int64
	if err := tx.QueryRow(ctx, `INSERT INTO programs (name, commodity_code, unit, eligibility, quantity, period, created_at, replaces)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
		p.Name, p.Commodity.Code, string(p.Commodity.Unit), p.Eligibility, p.Quantity, p.Period, tx.now, replaces).Scan(&id); err != nil {
		return fmt.Errorf("insert program: %w", err)
	}
	if p.Replaces != 0 {
		tag, err := tx.Exec(ctx, `UPDATE programs SET retired_at = $1, replaced_by = $2 WHERE id = $3 AND retired_at IS NULL`, tx.now, id, p.Replaces)
		if err != nil {
			return fmt.Errorf("retire program %d: %w", p.Replaces, err)
		}
		if tag.RowsAffected() != 1 {
			return errNotReplaceable(p.Replaces)
		}
	}
	p.ID, p.CreatedAt = id, tx.now
	if err := auditPublic(ctx, tx, canasta.AuditProgramCreate, map[string]string{"program": strconv.FormatInt(id, 10)}, p); err != nil {
		return err
	}
	if err := tx.commit("program"); err != nil {
		p.ID, p.CreatedAt = 0, time.Time{}
		return err
	}
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
	var replaces, replacedBy *int64
	err := row.Scan(&p.ID, &p.Name, &p.Commodity.Code, &p.Commodity.Unit, &p.Eligibility, &p.Quantity, &p.Period, &p.CreatedAt,
		&replaces, &replacedBy, &p.RetiredAt)
	if replaces != nil {
		p.Replaces = *replaces
	}
	if replacedBy != nil {
		p.ReplacedBy = *replacedBy
	}
	return &p, err
}

// errNotReplaceable is the answer when a program to replace is unknown or
// already replaced.
func errNotReplaceable(id int64) error {
	return canasta.Errorf(canasta.ECONFLICT, "Program %d does not exist or was already replaced; replace the program that is in force.", id)
}
