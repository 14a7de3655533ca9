package sqlite

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/canasta/canasta"
)

// TokenService issues and checks staff bearer tokens. Every call reads the
// database, so a token created or revoked by another process counts at
// once.
//
// Authenticate is on every API request's path. Concurrent calls share
// reads: each call waits for the next read that begins after it arrived,
// and that read looks up every secret waiting for it in one statement. A
// call is therefore answered from the database as it was at or after the
// call began, as if it had read alone, so a revocation committed by any
// process before the call is seen; under load one read serves many
// calls instead of one each.
type TokenService struct {
	db *DB

	mu      sync.Mutex
	waiting []*authCall // for the next read
	reading bool        // a reader goroutine is serving waiting calls
	lookup  *sql.Stmt   // prepared on the DB's lookup connections
}

// authCall is one Authenticate call waiting for a read.
type authCall struct {
	hash []byte
	tok  *canasta.Token // nil if unknown
	err  error          // a failed read
	done chan struct{}  // closed once tok and err are set
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
	// The token's name may name a person or an organisation: only its id
	// and role go to the log.
	if err := auditPublic(ctx, tx, canasta.AuditTokenCreate, map[string]string{"token": strconv.FormatInt(id, 10), "role": string(role)}, nil); err != nil {
		return nil, "", err
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
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	c := &authCall{hash: canasta.HashTokenSecret(secret), done: make(chan struct{})}
	s.mu.Lock()
	s.waiting = append(s.waiting, c)
	if !s.reading {
		s.reading = true
		// The reader takes the connection pool from this call, made while
		// the database is open: if the last caller gives up and the
		// database closes before the read, the read fails instead of
		// finding no pool.
		go s.serveReads(s.db.lookup)
	}
	s.mu.Unlock()

	select {
	case <-c.done:
	case <-ctx.Done():
		return nil, fmt.Errorf("authenticate: %w", ctx.Err())
	}
	if c.err != nil {
		return nil, c.err
	}
	if c.tok == nil || c.tok.RevokedAt != nil {
		return nil, unauthorized
	}
	return c.tok, nil
}

// serveReads answers waiting calls, one read for all that wait, until none
// wait. Calls that arrive during a read wait for the next one, which
// begins after they arrived.
func (s *TokenService) serveReads(conn *sql.DB) {
	for {
		s.mu.Lock()
		calls := s.waiting
		s.waiting = nil
		if len(calls) == 0 {
			s.reading = false
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()

		tokens, err := s.readTokens(conn, calls)
		for _, c := range calls {
			if err != nil {
				c.err = err
			} else if t := tokens[string(c.hash)]; t != nil {
				// Each caller gets its own copy: the token is returned to
				// code that may keep it.
				cp := *t
				c.tok = &cp
			}
			close(c.done)
		}
	}
}

// lookupTokensSQL finds the tokens for a JSON array of hex hashes; each
// hash is one probe of the UNIQUE index on hash.
const lookupTokensSQL = `SELECT hash, ` + tokenColumns + ` FROM tokens
WHERE hash IN (SELECT unhex(value) FROM json_each(?))`

// readTokens reads, in one statement, the tokens whose hashes calls hold,
// keyed by hash. It runs outside any caller's context: a caller that
// gives up does not fail the others' read.
func (s *TokenService) readTokens(conn *sql.DB, calls []*authCall) (map[string]*canasta.Token, error) {
	if conn == nil {
		return nil, fmt.Errorf("authenticate: the database is closed")
	}
	ctx := context.Background()
	stmt, err := s.lookupStmt(ctx, conn)
	if err != nil {
		return nil, err
	}
	var hashes jsonArray
	seen := make(map[string]bool, len(calls))
	for _, c := range calls {
		if !seen[string(c.hash)] {
			seen[string(c.hash)] = true
			hashes.string(hex.EncodeToString(c.hash))
		}
	}
	rows, err := stmt.QueryContext(ctx, hashes.text())
	if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	defer rows.Close()
	tokens := make(map[string]*canasta.Token, len(seen))
	for rows.Next() {
		var hash []byte
		t, err := scanToken(rows, &hash)
		if err != nil {
			return nil, fmt.Errorf("authenticate: %w", err)
		}
		tokens[string(hash)] = t
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	return tokens, nil
}

// lookupStmt prepares the token lookup on first use; it lives as long as
// the database handle.
func (s *TokenService) lookupStmt(ctx context.Context, conn *sql.DB) (*sql.Stmt, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lookup == nil {
		stmt, err := conn.PrepareContext(ctx, lookupTokensSQL)
		if err != nil {
			return nil, fmt.Errorf("prepare token lookup: %w", err)
		}
		s.lookup = stmt
	}
	return s.lookup, nil
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
	r, err := tx.ExecContext(ctx, `UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, formatTime(tx.now), id)
	if err != nil {
		return fmt.Errorf("revoke token %d: %w", id, err)
	}
	if rowsAffected(r) == 1 {
		if err := auditPublic(ctx, tx, canasta.AuditTokenRevoke, map[string]string{"token": strconv.FormatInt(id, 10)}, nil); err != nil {
			return err
		}
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

// scanToken scans tokenColumns, after any columns given in first.
func scanToken(row scanner, first ...any) (*canasta.Token, error) {
	var t canasta.Token
	var role, createdAt string
	var revokedAt sql.NullString
	if err := row.Scan(append(first, &t.ID, &t.Name, &role, &createdAt, &revokedAt)...); errors.Is(err, sql.ErrNoRows) {
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
