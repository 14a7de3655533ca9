package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/canasta/canasta"
	"github.com/jackc/pgx/v5"
)

// CardStore keeps card versions and signing keys. It holds rows only:
// signing, verifying and PIN hashing are package card's. Keys live in the
// database, so every server signs and verifies with the same ones.
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
func (s *CardStore) CreateSigningKey(ctx context.Context, k *canasta.SigningKey) (err error) {
	defer checkAvailable(&err)
	if k.KID == "" || k.Alg == "" || len(k.Private) == 0 {
		return canasta.Errorf(canasta.EINVALID, "A signing key needs its kid, algorithm and private key.")
	}
	ctx, tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.release()

	if k.CreatedAt.IsZero() {
		k.CreatedAt = tx.now
	}
	var id int64
	err = tx.QueryRow(ctx, `INSERT INTO signing_keys (kid, alg, private, created_at, retired_at) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (kid) DO NOTHING RETURNING id`, k.KID, k.Alg, k.Private, k.CreatedAt, k.RetiredAt).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return canasta.Errorf(canasta.ECONFLICT, "A signing key with kid %s exists.", k.KID)
	} else if err != nil {
		return fmt.Errorf("insert signing key: %w", err)
	}
	if err := auditPublic(ctx, tx, canasta.AuditSigningKeyCreate, map[string]string{"kid": k.KID, "alg": k.Alg}, nil); err != nil {
		return err
	}
	if err := tx.commit("signing key"); err != nil {
		return err
	}
	k.ID = id
	return nil
}

// FindSigningKeys lists every key, oldest first.
func (s *CardStore) FindSigningKeys(ctx context.Context) (_ []*canasta.SigningKey, err error) {
	defer checkAvailable(&err)
	ctx, cancel := s.db.withTimeout(ctx)
	defer cancel()

	rows, err := s.db.pool.Query(ctx, `SELECT id, kid, alg, private, created_at, retired_at FROM signing_keys ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("find signing keys: %w", err)
	}
	keys, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*canasta.SigningKey, error) {
		var k canasta.SigningKey
		err := row.Scan(&k.ID, &k.KID, &k.Alg, &k.Private, &k.CreatedAt, &k.RetiredAt)
		return &k, err
	})
	if err != nil {
		return nil, fmt.Errorf("find signing keys: %w", err)
	}
	if keys == nil {
		keys = []*canasta.SigningKey{}
	}
	return keys, nil
}

// RetireSigningKey marks a key retired now; retiring it again keeps the
// first time, so the period of the cards it signed never moves.
func (s *CardStore) RetireSigningKey(ctx context.Context, id int64) (err error) {
	defer checkAvailable(&err)
	ctx, tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.release()

	var retired, found bool
	err = tx.QueryRow(ctx, `WITH retired AS (
	UPDATE signing_keys SET retired_at = $2 WHERE id = $1 AND retired_at IS NULL RETURNING id
)
SELECT EXISTS (SELECT 1 FROM retired), EXISTS (SELECT 1 FROM signing_keys WHERE id = $1)`, id, tx.now).Scan(&retired, &found)
	if err != nil {
		return fmt.Errorf("retire signing key %d: %w", id, err)
	} else if !retired && !found {
		return canasta.Errorf(canasta.ENOTFOUND, "Signing key %d not found.", id)
	}
	if retired {
		if err := auditPublic(ctx, tx, canasta.AuditSigningKeyRetire, map[string]string{"signing_key": strconv.FormatInt(id, 10)}, nil); err != nil {
			return err
		}
	}
	return tx.commit("retirement of signing key")
}

// CreateCard adds the household's next card version and revokes the ones
// before it, in one transaction that first locks the household's row, so
// two registrars re-issuing at once, through one server or two, make two
// versions one after the other, never two live ones.
func (s *CardStore) CreateCard(ctx context.Context, c *canasta.Card, sign func(c *canasta.Card) (string, error)) (err error) {
	defer checkAvailable(&err)
	ctx, tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.release()

	var hid int64
	err = tx.QueryRow(ctx, `SELECT hid FROM households WHERE id = $1 FOR UPDATE`, c.HouseholdID).Scan(&hid)
	if errors.Is(err, pgx.ErrNoRows) {
		return canasta.Errorf(canasta.ENOTFOUND, "Household %q not found.", c.HouseholdID)
	} else if err != nil {
		return fmt.Errorf("lock household %s: %w", c.HouseholdID, err)
	}
	var (
		id      string
		version int
	)
	err = tx.QueryRow(ctx, `SELECT id, version FROM cards WHERE household_hid = $1 ORDER BY version DESC LIMIT 1`, hid).Scan(&id, &version)
	if errors.Is(err, pgx.ErrNoRows) {
		id = canasta.NewID(canasta.CardIDPrefix)
	} else if err != nil {
		return fmt.Errorf("find card of household %s: %w", c.HouseholdID, err)
	}
	if _, err := tx.Exec(ctx, `UPDATE cards SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL`, tx.now, id); err != nil {
		return fmt.Errorf("revoke previous card %s: %w", id, err)
	}
	c.ID, c.Version, c.RevokedAt = id, version+1, nil
	if c.Code, err = sign(c); err != nil {
		return fmt.Errorf("sign card %s version %d: %w", c.ID, c.Version, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO cards (id, version, household_hid, code, key_id, pin_hash, issued_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, c.ID, c.Version, hid, c.Code, c.KeyID, c.PINHash, c.IssuedAt, c.ExpiresAt); err != nil {
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
	return tx.commit("card " + c.ID)
}

// FindCardByID returns the card's newest version.
func (s *CardStore) FindCardByID(ctx context.Context, id string) (_ *canasta.Card, err error) {
	defer checkAvailable(&err)
	ctx, cancel := s.db.withTimeout(ctx)
	defer cancel()
	return findNewestCard(ctx, s.db.pool, id)
}

// RevokeCard revokes the card's newest version. It locks the household's
// row first, as CreateCard does, so a revocation and a re-issue at once
// are one after the other.
func (s *CardStore) RevokeCard(ctx context.Context, id string) (err error) {
	defer checkAvailable(&err)
	ctx, tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.release()

	var hid int64
	err = tx.QueryRow(ctx, `SELECT h.hid FROM households h JOIN cards c ON c.household_hid = h.hid
WHERE c.id = $1 LIMIT 1 FOR UPDATE OF h`, id).Scan(&hid)
	if errors.Is(err, pgx.ErrNoRows) {
		return canasta.Errorf(canasta.ENOTFOUND, "Card %q not found.", id)
	} else if err != nil {
		return fmt.Errorf("lock household of card %s: %w", id, err)
	}
	c, err := findNewestCard(ctx, tx, id)
	if err != nil {
		return err
	}
	if c.RevokedAt != nil {
		return canasta.Errorf(canasta.ECONFLICT, "Card %s version %d is already revoked.", c.ID, c.Version)
	}
	if _, err := tx.Exec(ctx, `UPDATE cards SET revoked_at = $1 WHERE id = $2 AND version = $3`, tx.now, c.ID, c.Version); err != nil {
		return fmt.Errorf("revoke card %s: %w", id, err)
	}
	if err := auditPublic(ctx, tx, canasta.AuditCardRevoke, map[string]string{"card": c.ID, "version": strconv.Itoa(c.Version)}, nil); err != nil {
		return err
	}
	return tx.commit("revocation of card " + id)
}

// FindRevokedCards lists every revoked card version by card id and version.
func (s *CardStore) FindRevokedCards(ctx context.Context) (_ []canasta.RevokedCard, err error) {
	defer checkAvailable(&err)
	ctx, cancel := s.db.withTimeout(ctx)
	defer cancel()

	rows, err := s.db.pool.Query(ctx, `SELECT id, version FROM cards WHERE revoked_at IS NOT NULL ORDER BY id, version`)
	if err != nil {
		return nil, fmt.Errorf("find revoked cards: %w", err)
	}
	revoked, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (canasta.RevokedCard, error) {
		var r canasta.RevokedCard
		err := row.Scan(&r.CardID, &r.Version)
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("find revoked cards: %w", err)
	}
	if revoked == nil {
		revoked = []canasta.RevokedCard{}
	}
	return revoked, nil
}

// findNewestCard returns the newest version of card id. ENOTFOUND.
func findNewestCard(ctx context.Context, q querier, id string) (*canasta.Card, error) {
	c := canasta.Card{ID: id}
	err := q.QueryRow(ctx, `SELECT c.version, h.id, c.code, c.key_id, c.pin_hash, c.issued_at, c.expires_at, c.revoked_at
FROM cards c JOIN households h ON h.hid = c.household_hid
WHERE c.id = $1 ORDER BY c.version DESC LIMIT 1`, id).Scan(&c.Version, &c.HouseholdID, &c.Code, &c.KeyID, &c.PINHash,
		&c.IssuedAt, &c.ExpiresAt, &c.RevokedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, canasta.Errorf(canasta.ENOTFOUND, "Card %q not found.", id)
	} else if err != nil {
		return nil, fmt.Errorf("find card %s: %w", id, err)
	}
	return &c, nil
}
