package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/canasta/canasta"
	"github.com/jackc/pgx/v5"
)

// TokenService issues and checks staff bearer tokens. Every call reads the
// database, so a token created or revoked through any server or command
// counts at once on every other.
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
func (s *TokenService) CreateToken(ctx context.Context, role canasta.Role, name string) (_ *canasta.Token, _ string, err error) {
	defer checkAvailable(&err)
	if !role.Valid() {
		return nil, "", canasta.Errorf(canasta.EINVALID, "Unknown role %q: use admin, registrar, operator or auditor.", string(role))
	}
	if len(name) > 200 || !utf8.ValidString(name) {
		return nil, "", canasta.Errorf(canasta.EINVALID, "A token name must be valid UTF-8 of at most 200 bytes.")
	}
	ctx, tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return nil, "", err
	}
	defer tx.release()

	secret := canasta.NewTokenSecret()
	var id int64
	if err := tx.QueryRow(ctx, `INSERT INTO tokens (name, role, hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id`,
		name, string(role), canasta.HashTokenSecret(secret), tx.now).Scan(&id); err != nil {
		return nil, "", fmt.Errorf("insert token: %w", err)
	}
	// The token's name may name a person or an organisation: only its id
	// and role go to the log.
	if err := auditPublic(ctx, tx, canasta.AuditTokenCreate, map[string]string{"token": strconv.FormatInt(id, 10), "role": string(role)}, nil); err != nil {
		return nil, "", err
	}
	if err := tx.commit("token"); err != nil {
		return nil, "", err
	}
	return &canasta.Token{ID: id, Name: name, Role: role, CreatedAt: tx.now}, secret, nil
}

// Authenticate returns the live token whose secret this is.
func (s *TokenService) Authenticate(ctx context.Context, secret string) (_ *canasta.Token, err error) {
	defer checkAvailable(&err)
	unauthorized := canasta.Errorf(canasta.EUNAUTHORIZED, "Unknown or revoked token.")
	if secret == "" {
		return nil, unauthorized
	}
	ctx, cancel := s.db.withTimeout(ctx)
	defer cancel()

	rows, err := s.db.pool.Query(ctx, `SELECT `+tokenColumns+` FROM tokens WHERE hash = $1`, canasta.HashTokenSecret(secret))
	if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	t, err := pgx.CollectExactlyOneRow(rows, scanToken)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, unauthorized
	} else if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	if t.RevokedAt != nil {
		return nil, unauthorized
	}
	return t, nil
}

// RevokeToken revokes a token; revoking a revoked token keeps the first
// revocation time. ENOTFOUND if none.
func (s *TokenService) RevokeToken(ctx context.Context, id int64) (err error) {
	defer checkAvailable(&err)
	ctx, tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.release()

	// One statement: it revokes a live token, and tells a revoked one
	// from an unknown one.
	var revoked, found bool
	err = tx.QueryRow(ctx, `WITH revoked AS (
	UPDATE tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL RETURNING id
)
SELECT EXISTS (SELECT 1 FROM revoked), EXISTS (SELECT 1 FROM tokens WHERE id = $1)`, id, tx.now).Scan(&revoked, &found)
	if err != nil {
		return fmt.Errorf("revoke token %d: %w", id, err)
	} else if !revoked && !found {
		return canasta.Errorf(canasta.ENOTFOUND, "Token %d not found.", id)
	}
	if revoked {
		if err := auditPublic(ctx, tx, canasta.AuditTokenRevoke, map[string]string{"token": strconv.FormatInt(id, 10)}, nil); err != nil {
			return err
		}
	}
	return tx.commit("token revocation")
}

// FindTokens lists tokens by id, without secrets.
func (s *TokenService) FindTokens(ctx context.Context) (_ []*canasta.Token, err error) {
	defer checkAvailable(&err)
	ctx, cancel := s.db.withTimeout(ctx)
	defer cancel()

	rows, err := s.db.pool.Query(ctx, `SELECT `+tokenColumns+` FROM tokens ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("find tokens: %w", err)
	}
	tokens, err := pgx.CollectRows(rows, scanToken)
	if err != nil {
		return nil, fmt.Errorf("find tokens: %w", err)
	}
	if tokens == nil {
		tokens = []*canasta.Token{}
	}
	return tokens, nil
}

func scanToken(row pgx.CollectableRow) (*canasta.Token, error) {
	var t canasta.Token
	err := row.Scan(&t.ID, &t.Name, &t.Role, &t.CreatedAt, &t.RevokedAt)
	return &t, err
}
