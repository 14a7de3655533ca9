package sqlite

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/canasta/canasta"
)

// TokenService issues and checks staff bearer tokens. A token created or
// revoked by another process counts from its next request on.
//
// Authenticate is on every API request's path. A token it found live is
// kept in memory, and used again only while the revocation stamp is
// unchanged: RevokeToken, in whatever process, appends a byte to the file
// beside the database (revocationStamp) before and after its commit, and
// every call reads the file's size and time, one system call, before it
// trusts the memory. A new token is never in memory, so it is looked up.
// Entries also expire after tokenCacheTTL, in case a revoking process died
// between its commit and its stamp.
//
// Calls that must read share reads: each call waits for the next read
// that begins after it arrived, and that read looks up every secret
// waiting for it in one statement. A call is therefore answered from the
// database as it was at or after the call began, as if it had read alone.
type TokenService struct {
	db *DB

	mu      sync.Mutex
	waiting []*authCall // for the next read
	reading bool        // a reader goroutine is serving waiting calls
	lookup  *sql.Stmt   // prepared on the DB's lookup connections

	cacheMu sync.Mutex
	stamp   fileStamp              // of the revocation file when cached was filled
	cached  map[string]cachedToken // live tokens by hash
}

// tokenCacheTTL bounds how long a token found live is trusted without
// reading the database, whatever the revocation stamp says.
const tokenCacheTTL = 5 * time.Second

type cachedToken struct {
	tok *canasta.Token
	at  time.Time
}

// fileStamp is what changes when a byte is appended to a file.
type fileStamp struct {
	size int64
	mod  time.Time
}

// revocationStamp is the stamp of the file RevokeToken appends to, or
// false if it cannot be read, in which case nothing is cached.
func (s *TokenService) revocationStamp() (fileStamp, bool) {
	fi, err := os.Stat(s.db.revocationsPath())
	if err != nil {
		return fileStamp{}, false
	}
	return fileStamp{fi.Size(), fi.ModTime()}, true
}

// stampRevocation appends to the revocation file, so every process drops
// the tokens it keeps in memory.
func (s *TokenService) stampRevocation() error {
	f, err := os.OpenFile(s.db.revocationsPath(), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("stamp revocation: %w", err)
	}
	_, err = f.Write([]byte{'\n'})
	return errors.Join(err, f.Close())
}

// fromCache returns the live token for hash kept in memory under stamp.
func (s *TokenService) fromCache(hash []byte, stamp fileStamp, now time.Time) *canasta.Token {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	if s.stamp != stamp {
		s.stamp, s.cached = stamp, nil
		return nil
	}
	c, ok := s.cached[string(hash)]
	if !ok || now.Sub(c.at) > tokenCacheTTL {
		return nil
	}
	cp := *c.tok
	return &cp
}

// remember keeps a live token read from the database, unless the stamp
// changed since the call read it: the read may predate a revocation.
func (s *TokenService) remember(hash []byte, stamp fileStamp, tok *canasta.Token, now time.Time) {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	if s.stamp != stamp {
		return
	}
	if s.cached == nil {
		s.cached = map[string]cachedToken{}
	}
	cp := *tok
	s.cached[string(hash)] = cachedToken{&cp, now}
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
	hash := canasta.HashTokenSecret(secret)
	stamp, stamped := s.revocationStamp()
	now := time.Now()
	if stamped {
		if tok := s.fromCache(hash, stamp, now); tok != nil {
			return tok, nil
		}
	}
	c := &authCall{hash: hash, done: make(chan struct{})}
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
	if stamped {
		s.remember(hash, stamp, c.tok, now)
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
	if err := s.stampRevocation(); err != nil {
		return err
	}
	if err := s.revokeToken(ctx, id); err != nil {
		return err
	}
	return s.stampRevocation()
}

func (s *TokenService) revokeToken(ctx context.Context, id int64) error {
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
