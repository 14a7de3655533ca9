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

// CardStore keeps card versions and signing keys. It holds rows only:
// signing, verifying and PIN hashing are package card's.
type CardStore struct {
	db *DB
}

var _ canasta.CardStore = (*CardStore)(nil)

// NewCardStore returns the card store on db.
func NewCardStore(db *DB) *CardStore {
	return &CardStore{db: db}
}

// CreateSigningKey stores k and sets its id; a zero CreatedAt is the
// store's clock. ECONFLICT if a key with the same kid exists.
func (s *CardStore) CreateSigningKey(ctx context.Context, k *canasta.SigningKey) error {
	if k.KID == "" || k.Alg == "" || len(k.Private) == 0 {
		return canasta.Errorf(canasta.EINVALID, "A signing key needs its kid, algorithm and private key.")
	}
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	if k.CreatedAt.IsZero() {
		k.CreatedAt = tx.now
	}
	var retiredAt any
	if k.RetiredAt != nil {
		retiredAt = formatTime(*k.RetiredAt)
	}
	r, err := tx.ExecContext(ctx, `INSERT INTO signing_keys (kid, alg, private, created_at, retired_at) VALUES (?, ?, ?, ?, ?)`,
		k.KID, k.Alg, k.Private, formatTime(k.CreatedAt), retiredAt)
	if isUniqueViolation(err) {
		return canasta.Errorf(canasta.ECONFLICT, "A signing key with kid %s exists.", k.KID)
	} else if err != nil {
		return fmt.Errorf("insert signing key: %w", err)
	}
	if k.ID, err = r.LastInsertId(); err != nil {
		return fmt.Errorf("insert signing key: %w", err)
	}
	if err := auditPublic(ctx, tx, canasta.AuditSigningKeyCreate, map[string]string{"kid": k.KID, "alg": k.Alg}, nil); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit signing key: %w", err)
	}
	return nil
}

// FindSigningKeys lists every key, oldest first.
func (s *CardStore) FindSigningKeys(ctx context.Context) ([]*canasta.SigningKey, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	rows, err := tx.QueryContext(ctx, `SELECT id, kid, alg, private, created_at, retired_at FROM signing_keys ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("find signing keys: %w", err)
	}
	defer rows.Close()
	keys := []*canasta.SigningKey{}
	for rows.Next() {
		var (
			k         canasta.SigningKey
			createdAt string
			retiredAt sql.NullString
		)
		if err := rows.Scan(&k.ID, &k.KID, &k.Alg, &k.Private, &createdAt, &retiredAt); err != nil {
			return nil, fmt.Errorf("scan signing key: %w", err)
		}
		if k.CreatedAt, err = parseTime(createdAt); err != nil {
			return nil, err
		}
		if k.RetiredAt, err = parseNullTime(retiredAt); err != nil {
			return nil, err
		}
		keys = append(keys, &k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find signing keys: %w", err)
	}
	return keys, nil
}

// RetireSigningKey marks a key retired now; retiring it again keeps the
// first time, so the period of the cards it signed never moves.
func (s *CardStore) RetireSigningKey(ctx context.Context, id int64) error {
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM signing_keys WHERE id = ?`, id).Scan(&n); err != nil {
		return fmt.Errorf("retire signing key %d: %w", id, err)
	} else if n == 0 {
		return canasta.Errorf(canasta.ENOTFOUND, "Signing key %d not found.", id)
	}
	r, err := tx.ExecContext(ctx, `UPDATE signing_keys SET retired_at = ? WHERE id = ? AND retired_at IS NULL`,
		formatTime(tx.now), id)
	if err != nil {
		return fmt.Errorf("retire signing key %d: %w", id, err)
	}
	if rowsAffected(r) == 1 {
		if err := auditPublic(ctx, tx, canasta.AuditSigningKeyRetire, map[string]string{"signing_key": strconv.FormatInt(id, 10)}, nil); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// CreateCard adds the household's next card version and revokes the ones
// before it, in one write transaction, so two registrars re-issuing at once
// make two versions one after the other, never two live ones.
func (s *CardStore) CreateCard(ctx context.Context, c *canasta.Card, sign func(c *canasta.Card) (string, error)) error {
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	hid, err := householdHID(ctx, tx, c.HouseholdID)
	if err != nil {
		return err
	}
	var (
		id      string
		version int
	)
	err = tx.QueryRowContext(ctx, `SELECT id, version FROM cards WHERE household_hid = ? ORDER BY version DESC LIMIT 1`, hid).Scan(&id, &version)
	if errors.Is(err, sql.ErrNoRows) {
		id = canasta.NewID(canasta.CardIDPrefix)
	} else if err != nil {
		return fmt.Errorf("find card of household %s: %w", c.HouseholdID, err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE cards SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`,
		formatTime(tx.now), id); err != nil {
		return fmt.Errorf("revoke previous card %s: %w", id, err)
	}
	c.ID, c.Version, c.RevokedAt = id, version+1, nil
	if c.Code, err = sign(c); err != nil {
		return fmt.Errorf("sign card %s version %d: %w", c.ID, c.Version, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO cards (id, version, household_hid, code, key_id, pin_hash, issued_at, expires_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, c.ID, c.Version, hid, c.Code, c.KeyID, c.PINHash,
		formatTime(c.IssuedAt), formatTime(c.ExpiresAt)); err != nil {
		return fmt.Errorf("insert card %s version %d: %w", c.ID, c.Version, err)
	}
	e, err := householdEntry(ctx, tx, canasta.AuditCardIssue, hid, c.HouseholdID, c)
	if err != nil {
		return err
	}
	e.Objects["card"], e.Objects["version"] = c.ID, strconv.Itoa(c.Version)
	if err := appendAudit(ctx, tx, e); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit card %s: %w", c.ID, err)
	}
	return nil
}

// FindCardByID returns the card's newest version.
func (s *CardStore) FindCardByID(ctx context.Context, id string) (*canasta.Card, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	return findNewestCard(ctx, tx, id)
}

// RevokeCard revokes the card's newest version.
func (s *CardStore) RevokeCard(ctx context.Context, id string) error {
	tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()

	c, err := findNewestCard(ctx, tx, id)
	if err != nil {
		return err
	}
	if c.RevokedAt != nil {
		return canasta.Errorf(canasta.ECONFLICT, "Card %s version %d is already revoked.", c.ID, c.Version)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE cards SET revoked_at = ? WHERE id = ? AND version = ?`,
		formatTime(tx.now), c.ID, c.Version); err != nil {
		return fmt.Errorf("revoke card %s: %w", id, err)
	}
	if err := auditPublic(ctx, tx, canasta.AuditCardRevoke, map[string]string{"card": c.ID, "version": strconv.Itoa(c.Version)}, nil); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit revocation of card %s: %w", id, err)
	}
	return nil
}

// FindRevokedCards lists every revoked card version by card id and version.
func (s *CardStore) FindRevokedCards(ctx context.Context) ([]canasta.RevokedCard, error) {
	tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	rows, err := tx.QueryContext(ctx, `SELECT id, version FROM cards WHERE revoked_at IS NOT NULL ORDER BY id, version`)
	if err != nil {
		return nil, fmt.Errorf("find revoked cards: %w", err)
	}
	defer rows.Close()
	revoked := []canasta.RevokedCard{}
	for rows.Next() {
		var r canasta.RevokedCard
		if err := rows.Scan(&r.CardID, &r.Version); err != nil {
			return nil, fmt.Errorf("scan revoked card: %w", err)
		}
		revoked = append(revoked, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find revoked cards: %w", err)
	}
	return revoked, nil
}

// findNewestCard returns the newest version of card id. ENOTFOUND.
func findNewestCard(ctx context.Context, tx *Tx, id string) (*canasta.Card, error) {
	var (
		c                   = canasta.Card{ID: id}
		issuedAt, expiresAt string
		revokedAt           sql.NullString
	)
	err := tx.QueryRowContext(ctx, `SELECT c.version, h.id, c.code, c.key_id, c.pin_hash, c.issued_at, c.expires_at, c.revoked_at
FROM cards c JOIN households h ON h.hid = c.household_hid
WHERE c.id = ? ORDER BY c.version DESC LIMIT 1`, id).Scan(&c.Version, &c.HouseholdID, &c.Code, &c.KeyID, &c.PINHash,
		&issuedAt, &expiresAt, &revokedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, canasta.Errorf(canasta.ENOTFOUND, "Card %q not found.", id)
	} else if err != nil {
		return nil, fmt.Errorf("find card %s: %w", id, err)
	}
	if c.IssuedAt, err = parseTime(issuedAt); err != nil {
		return nil, err
	}
	if c.ExpiresAt, err = parseTime(expiresAt); err != nil {
		return nil, err
	}
	if c.RevokedAt, err = parseNullTime(revokedAt); err != nil {
		return nil, err
	}
	return &c, nil
}

// parseNullTime reads a nullable stored time.
func parseNullTime(s sql.NullString) (*time.Time, error) {
	if !s.Valid {
		return nil, nil
	}
	t, err := parseTime(s.String)
	if err != nil {
		return nil, err
	}
	return &t, nil
}
