package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/alexedwards/argon2id"
	"github.com/canasta/canasta"
)

// UserService keeps staff accounts with argon2id password hashes.
type UserService struct {
	db *DB
	// Params are the argon2id costs for new hashes; stored hashes carry
	// their own, so raising them later keeps old passwords working.
	Params *argon2id.Params

	dummyOnce sync.Once
	dummyHash string
}

var _ canasta.UserService = (*UserService)(nil)

// NewUserService returns the user service on db with argon2id's default
// costs.
func NewUserService(db *DB) *UserService {
	return &UserService{db: db, Params: argon2id.DefaultParams}
}

const userColumns = `id, username, role, created_at, disabled_at`

// CreateUser hashes the password and stores the account.
func (s *UserService) CreateUser(ctx context.Context, username string, role canasta.Role, password string) (*canasta.User, error) {
	if err := canasta.ValidateNewUser(username, role, password); err != nil {
		return nil, err
	}
	hash, err := argon2id.CreateHash(password, s.Params)
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	r, err := tx.ExecContext(ctx, `INSERT INTO users (username, role, password_hash, created_at) VALUES (?, ?, ?, ?)`,
		username, string(role), hash, formatTime(tx.now))
	if isUniqueViolation(err) {
		return nil, canasta.Errorf(canasta.ECONFLICT, "The username %q is taken.", username)
	} else if err != nil {
		return nil, fmt.Errorf("insert user: %w", err)
	}
	id, err := r.LastInsertId()
	if err != nil {
		return nil, fmt.Errorf("insert user: %w", err)
	}
	// Who may act is public; the staff member's name is not.
	if err := auditPublic(ctx, tx, canasta.AuditUserCreate, map[string]string{"user": strconv.FormatInt(id, 10), "role": string(role)}, nil); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit user: %w", err)
	}
	return &canasta.User{ID: id, Username: username, Role: role, CreatedAt: tx.now}, nil
}

// Authenticate checks the password against the stored hash. An unknown
// username is checked against a fixed hash, so it takes as long as a
// wrong password.
func (s *UserService) Authenticate(ctx context.Context, username, password string) (*canasta.User, error) {
	unauthorized := canasta.Errorf(canasta.EUNAUTHORIZED, "Unknown username or wrong password.")
	if len(password) > canasta.MaxPasswordLength {
		return nil, unauthorized
	}
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	var hash string
	var disabledAt sql.NullString
	var id int64
	err = tx.QueryRowContext(ctx, `SELECT id, password_hash, disabled_at FROM users WHERE username = ?`, username).Scan(&id, &hash, &disabledAt)
	tx.Rollback()
	if errors.Is(err, sql.ErrNoRows) {
		s.compareDummy(password)
		return nil, unauthorized
	} else if err != nil {
		return nil, fmt.Errorf("authenticate user: %w", err)
	}
	ok, err := argon2id.ComparePasswordAndHash(password, hash)
	if err != nil {
		return nil, fmt.Errorf("check password of user %d: %w", id, err)
	}
	if !ok || disabledAt.Valid {
		return nil, unauthorized
	}
	return s.FindUserByID(ctx, id)
}

// FindUserByID returns an account. ENOTFOUND.
func (s *UserService) FindUserByID(ctx context.Context, id int64) (*canasta.User, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	u, err := scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, canasta.Errorf(canasta.ENOTFOUND, "User %d not found.", id)
	}
	return u, err
}

// FindUsers lists accounts by id.
func (s *UserService) FindUsers(ctx context.Context) ([]*canasta.User, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("find users: %w", err)
	}
	defer rows.Close()
	users := []*canasta.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find users: %w", err)
	}
	return users, nil
}

// DisableUser keeps the first disabling time. ENOTFOUND.
func (s *UserService) DisableUser(ctx context.Context, id int64) error {
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM users WHERE id = ?`, id).Scan(&n); err != nil {
		return fmt.Errorf("disable user %d: %w", id, err)
	} else if n == 0 {
		return canasta.Errorf(canasta.ENOTFOUND, "User %d not found.", id)
	}
	r, err := tx.ExecContext(ctx, `UPDATE users SET disabled_at = ? WHERE id = ? AND disabled_at IS NULL`, formatTime(tx.now), id)
	if err != nil {
		return fmt.Errorf("disable user %d: %w", id, err)
	}
	if rowsAffected(r) == 1 {
		if err := auditPublic(ctx, tx, canasta.AuditUserDisable, map[string]string{"user": strconv.FormatInt(id, 10)}, nil); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// compareDummy spends the time of one password check against a hash of
// the service's costs.
func (s *UserService) compareDummy(password string) {
	s.dummyOnce.Do(func() { s.dummyHash, _ = argon2id.CreateHash("canasta-dummy-password", s.Params) })
	if s.dummyHash != "" {
		argon2id.ComparePasswordAndHash(password, s.dummyHash)
	}
}

func scanUser(row scanner) (*canasta.User, error) {
	var u canasta.User
	var role, createdAt string
	var disabledAt sql.NullString
	if err := row.Scan(&u.ID, &u.Username, &role, &createdAt, &disabledAt); errors.Is(err, sql.ErrNoRows) {
		return nil, err
	} else if err != nil {
		return nil, fmt.Errorf("scan user: %w", err)
	}
	u.Role = canasta.Role(role)
	var err error
	if u.CreatedAt, err = parseTime(createdAt); err != nil {
		return nil, err
	}
	if disabledAt.Valid {
		at, err := parseTime(disabledAt.String)
		if err != nil {
			return nil, err
		}
		u.DisabledAt = &at
	}
	return &u, nil
}
