package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/canasta/canasta"
	"github.com/jackc/pgx/v5"
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
func (s *UserService) CreateUser(ctx context.Context, username string, role canasta.Role, password string) (_ *canasta.User, err error) {
	defer checkAvailable(&err)
	if err := canasta.ValidateNewUser(username, role, password); err != nil {
		return nil, err
	}
	hash, err := argon2id.CreateHash(password, s.Params)
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	ctx, tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.release()
	var id int64
	err = tx.QueryRow(ctx, `INSERT INTO users (username, role, password_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id`,
		username, string(role), hash, tx.now).Scan(&id)
	if isUniqueViolation(err) {
		return nil, canasta.Errorf(canasta.ECONFLICT, "The username %q is taken.", username)
	} else if err != nil {
		return nil, fmt.Errorf("insert user: %w", err)
	}
	// Who may act is public; the staff member's name is not.
	if err := auditPublic(ctx, tx, canasta.AuditUserCreate, map[string]string{"user": strconv.FormatInt(id, 10), "role": string(role)}, nil); err != nil {
		return nil, err
	}
	if err := tx.commit("user"); err != nil {
		return nil, err
	}
	return &canasta.User{ID: id, Username: username, Role: role, CreatedAt: tx.now}, nil
}

// Authenticate checks the password against the stored hash. An unknown
// username is checked against a fixed hash, so it takes as long as a
// wrong password.
func (s *UserService) Authenticate(ctx context.Context, username, password string) (_ *canasta.User, err error) {
	defer checkAvailable(&err)
	unauthorized := canasta.Errorf(canasta.EUNAUTHORIZED, "Unknown username or wrong password.")
	if len(password) > canasta.MaxPasswordLength {
		return nil, unauthorized
	}
	qctx, cancel := s.db.withTimeout(ctx)
	defer cancel()
	var (
		id         int64
		hash       string
		disabledAt *time.Time
	)
	err = s.db.pool.QueryRow(qctx, `SELECT id, password_hash, disabled_at FROM users WHERE username = $1`, username).Scan(&id, &hash, &disabledAt)
	if errors.Is(err, pgx.ErrNoRows) {
		s.compareDummy(password)
		return nil, unauthorized
	} else if err != nil {
		return nil, fmt.Errorf("authenticate user: %w", err)
	}
	ok, err := argon2id.ComparePasswordAndHash(password, hash)
	if err != nil {
		return nil, fmt.Errorf("check password of user %d: %w", id, err)
	}
	if !ok || disabledAt != nil {
		return nil, unauthorized
	}
	return s.FindUserByID(ctx, id)
}

// FindUserByID returns an account. ENOTFOUND.
func (s *UserService) FindUserByID(ctx context.Context, id int64) (_ *canasta.User, err error) {
	defer checkAvailable(&err)
	ctx, cancel := s.db.withTimeout(ctx)
	defer cancel()
	rows, err := s.db.pool.Query(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id)
	if err != nil {
		return nil, fmt.Errorf("find user %d: %w", id, err)
	}
	u, err := pgx.CollectExactlyOneRow(rows, scanUser)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, canasta.Errorf(canasta.ENOTFOUND, "User %d not found.", id)
	} else if err != nil {
		return nil, fmt.Errorf("find user %d: %w", id, err)
	}
	return u, nil
}

// FindUsers lists accounts by id.
func (s *UserService) FindUsers(ctx context.Context) (_ []*canasta.User, err error) {
	defer checkAvailable(&err)
	ctx, cancel := s.db.withTimeout(ctx)
	defer cancel()
	rows, err := s.db.pool.Query(ctx, `SELECT `+userColumns+` FROM users ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("find users: %w", err)
	}
	users, err := pgx.CollectRows(rows, scanUser)
	if err != nil {
		return nil, fmt.Errorf("find users: %w", err)
	}
	if users == nil {
		users = []*canasta.User{}
	}
	return users, nil
}

// DisableUser keeps the first disabling time. ENOTFOUND.
func (s *UserService) DisableUser(ctx context.Context, id int64) (err error) {
	defer checkAvailable(&err)
	ctx, tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.release()
	var disabled, found bool
	err = tx.QueryRow(ctx, `WITH disabled AS (
	UPDATE users SET disabled_at = $2 WHERE id = $1 AND disabled_at IS NULL RETURNING id
)
SELECT EXISTS (SELECT 1 FROM disabled), EXISTS (SELECT 1 FROM users WHERE id = $1)`, id, tx.now).Scan(&disabled, &found)
	if err != nil {
		return fmt.Errorf("disable user %d: %w", id, err)
	} else if !disabled && !found {
		return canasta.Errorf(canasta.ENOTFOUND, "User %d not found.", id)
	}
	if disabled {
		if err := auditPublic(ctx, tx, canasta.AuditUserDisable, map[string]string{"user": strconv.FormatInt(id, 10)}, nil); err != nil {
			return err
		}
	}
	return tx.commit("user")
}

// compareDummy spends the time of one password check against a hash of
// the service's costs.
func (s *UserService) compareDummy(password string) {
	s.dummyOnce.Do(func() { s.dummyHash, _ = argon2id.CreateHash("canasta-dummy-password", s.Params) })
	if s.dummyHash != "" {
		argon2id.ComparePasswordAndHash(password, s.dummyHash)
	}
}

func scanUser(row pgx.CollectableRow) (*canasta.User, error) {
	var u canasta.User
	err := row.Scan(&u.ID, &u.Username, &u.Role, &u.CreatedAt, &u.DisabledAt)
	return &u, err
}
