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
func (s *ProgramService) CreateProgram(ctx context.Context, p *canasta.Program) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if s.db.Rules == nil {
		return fmt.Errorf("create program: no rule engine configured")
	}
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	schema, err := findSchema(ctx, tx)
	if err != nil {
		return err
	}
	if _, err := s.db.Rules.Compile(p, schema); err != nil {
		return err
	}
	var replaces any
	if p.Replaces != 0 {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM programs WHERE id = ? AND retired_at IS NULL`, p.Replaces).Scan(&n); err != nil {
			return fmt.Errorf("find program %d: %w", p.Replaces, err)
		} else if n == 0 {
			return errNotReplaceable(p.Replaces)
		}
		replaces = p.Replaces
	}
	r, err := tx.ExecContext(ctx, `INSERT INTO programs (name, commodity_code, unit, eligibility, quantity, period, created_at, replaces)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, p.Name, p.Commodity.Code, string(p.Commodity.Unit), p.Eligibility, p.Quantity, p.Period, formatTime(tx.now), replaces)
	if err != nil {
		return fmt.Errorf("insert program: %w", err)
	}
	id, err := r.LastInsertId()
	if err != nil {
		return fmt.Errorf("insert program: %w", err)
	}
	if p.Replaces != 0 {
		res, err := tx.ExecContext(ctx, `UPDATE programs SET retired_at = ?, replaced_by = ? WHERE id = ? AND retired_at IS NULL`,
			formatTime(tx.now), id, p.Replaces)
		if err != nil {
			return fmt.Errorf("retire program %d: %w", p.Replaces, err)
		}
		if rowsAffected(res) != 1 {
			return errNotReplaceable(p.Replaces)
		}
	}
	p.ID, p.CreatedAt = id, tx.now
	if err := auditPublic(ctx, tx, canasta.AuditProgramCreate, map[string]string{"program": strconv.FormatInt(id, 10)}, p); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		p.ID, p.CreatedAt = 0, time.Time{}
		return fmt.Errorf("commit program: %w", err)
	}
	return nil
}

// FindProgramByID returns a program. ENOTFOUND if none.
func (s *ProgramService) FindProgramByID(ctx context.Context, id int64) (*canasta.Program, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	p, err := scanProgram(tx.QueryRowContext(ctx, `SELECT `+programColumns+` FROM programs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, canasta.Errorf(canasta.ENOTFOUND, "Program %d not found.", id)
	}
	return p, err
}

// FindPrograms lists all programs by id.
func (s *ProgramService) FindPrograms(ctx context.Context) ([]*canasta.Program, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	return findPrograms(ctx, tx)
}

func findPrograms(ctx context.Context, tx *Tx) ([]*canasta.Program, error) {
	rows, err := tx.QueryContext(ctx, `SELECT `+programColumns+` FROM programs ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("find programs: %w", err)
	}
	defer rows.Close()
	programs := []*canasta.Program{}
	for rows.Next() {
		p, err := scanProgram(rows)
		if err != nil {
			return nil, err
		}
		programs = append(programs, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find programs: %w", err)
	}
	return programs, nil
}

func scanProgram(row scanner) (*canasta.Program, error) {
	var p canasta.Program
	var unit, createdAt string
	var replaces, replacedBy sql.NullInt64
	var retiredAt sql.NullString
	if err := row.Scan(&p.ID, &p.Name, &p.Commodity.Code, &unit, &p.Eligibility, &p.Quantity, &p.Period, &createdAt,
		&replaces, &replacedBy, &retiredAt); errors.Is(err, sql.ErrNoRows) {
		return nil, err
	} else if err != nil {
		return nil, fmt.Errorf("scan program: %w", err)
	}
	p.Commodity.Unit = canasta.Unit(unit)
	var err error
	if p.CreatedAt, err = parseTime(createdAt); err != nil {
		return nil, err
	}
	p.Replaces, p.ReplacedBy = replaces.Int64, replacedBy.Int64
	if p.RetiredAt, err = parseNullTime(retiredAt); err != nil {
		return nil, err
	}
	return &p, nil
}

// errNotReplaceable is the answer when a program to replace is unknown or
// already replaced.
func errNotReplaceable(id int64) error {
	return canasta.Errorf(canasta.ECONFLICT, "Program %d does not exist or was already replaced; replace the program that is in force.", id)
}
