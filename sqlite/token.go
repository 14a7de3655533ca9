package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/canasta/canasta"
)

// TokenService issues and checks staff bearer tokens. Every call reads the
// database, so a token created or revoked by another process counts at
// once.
type TokenService struct {
	db *DB
}

var _ canasta.TokenService = (*TokenService)(nil)

// NewTokenService returns the token service on db.
func NewTokenService(db *DB) *TokenService {
	return &TokenService{db: db}
}

const tokenColumns = `id, name, role, created_at, revoked_at`

// CreateToken stores the hash of a fresh secret for the role and returns
// the token and the secret, which is not kept.
func (s *TokenService) CreateToken(ctx context.Context, role canasta.Role, name string) (*canasta.Token, string, error) {
	if !role.Valid() {
		return nil, "", canasta.Errorf(canasta.EINVALID, "Unknown role %q: use admin, registrar, operator or auditor.", string(role))
	}
	if len(name) > 200 || !utf8.ValidString(name) {
		return nil, "", canasta.Errorf(canasta.EINVALID, "A token name must be valid UTF-8 of at most 200 bytes.")
	}
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return nil, "", err
	}
	defer tx.Rollback()

	secret := canasta.NewTokenSecret()
	r, err := tx.ExecContext(ctx, `INSERT INTO tokens (name, role, hash, created_at) VALUES (?, ?, ?, ?)`,
		name, string(role), canasta.HashTokenSecret(secret), formatTime(tx.now))
	if err != nil {
		return nil, "", fmt.Errorf("insert token: %w", err)
	}
	id, err := r.LastInsertId()
	if err != nil {
		return nil, "", fmt.Errorf("insert token: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, "", fmt.Errorf("commit token: %w", err)
	}
	return &canasta.Token{ID: id, Name: name, Role: role, CreatedAt: tx.now}, secret, nil
}

// Authenticate returns the live token whose secret this is.
func (s *TokenService) Authenticate(ctx context.Context, secret string) (*canasta.Token, error) {
	unauthorized := canasta.Errorf(canasta.EUNAUTHORIZED, "Unknown or revoked token.")
	if secret == "" {
		return nil, unauthorized
	}
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	t, err := scanToken(tx.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE hash = ?`, canasta.HashTokenSecret(secret)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, unauthorized
	} else if err != nil {
		return nil, err
	}
	if t.RevokedAt != nil {
		return nil, unauthorized
	}
	return t, nil
}

// RevokeToken revokes a token; revoking a revoked token keeps the first
// revocation time. ENOTFOUND if none.
func (s *TokenService) RevokeToken(ctx context.Context, id int64) error {
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM tokens WHERE id = ?`, id).Scan(&n); err != nil {
		return fmt.Errorf("revoke token %d: %w", id, err)
	} else if n == 0 {
		return canasta.Errorf(canasta.ENOTFOUND, "Token %d not found.", id)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, formatTime(tx.now), id); err != nil {
		return fmt.Errorf("revoke token %d: %w", id, err)
	}
	return tx.Commit()
}

// FindTokens lists tokens by id, without secrets.
func (s *TokenService) FindTokens(ctx context.Context) ([]*canasta.Token, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	rows, err := tx.QueryContext(ctx, `SELECT `+tokenColumns+` FROM tokens ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("find tokens: %w", err)
	}
	defer rows.Close()
	tokens := []*canasta.Token{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, err
		}
		tokens = append(tokens, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find tokens: %w", err)
	}
	return tokens, nil
}

func scanToken(row scanner) (*canasta.Token, error) {
	var t canasta.Token
	var role, createdAt string
	var revokedAt sql.NullString
	if err := row.Scan(&t.ID, &t.Name, &role, &createdAt, &revokedAt); errors.Is(err, sql.ErrNoRows) {
		return nil, err
	} else if err != nil {
		return nil, fmt.Errorf("scan token: %w", err)
	}
	t.Role = canasta.Role(role)
	var err error
	if t.CreatedAt, err = parseTime(createdAt); err != nil {
		return nil, err
	}
	if revokedAt.Valid {
		at, err := parseTime(revokedAt.String)
		if err != nil {
			return nil, err
		}
		t.RevokedAt = &at
	}
	return &t, nil
}
