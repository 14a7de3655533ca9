// Package point is the offline point agent: a small server a shop or
// clinic runs next to its operators, with its own embedded store, that
// keeps redeeming while the network to the Canasta server is down.
//
// Offline, the agent redeems only against the rights the server reserved
// for its device, verifies cards with the keys and signed revocation list
// it downloaded, and writes every receipt into a hash-chained journal
// signed by its device key, durably, before the receipt is handed over.
// Online, it reserves what it lacks and redeems the same way, so the
// operator sees one behaviour; a sync loop uploads the journal with
// retries and backoff and brings back fresh rights.
package point

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/canasta/canasta"
	_ "modernc.org/sqlite"
)

// Store is the agent's embedded database: its identity, its rights as
// last synced, and its journal. One connection, so every transaction is
// serialized; synchronous=FULL, so a committed receipt survives a power
// cut.
type Store struct {
	db *sql.DB
	// Now is the device clock. Tests replace it.
	Now func() time.Time
}

const schema = `
CREATE TABLE IF NOT EXISTS settings (
	name  TEXT PRIMARY KEY,
	value BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS rights (
	id           INTEGER PRIMARY KEY,
	household_id TEXT NOT NULL,
	program_id   INTEGER NOT NULL,
	period       TEXT NOT NULL,
	quantity     INTEGER NOT NULL,
	expires_at   INTEGER NOT NULL,
	active       INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS rights_grant ON rights (household_id, program_id, period);
CREATE TABLE IF NOT EXISTS journal (
	seq        INTEGER PRIMARY KEY,
	request_id TEXT NOT NULL UNIQUE,
	hash       BLOB NOT NULL,
	body       TEXT NOT NULL,
	synced     INTEGER NOT NULL DEFAULT 0,
	status     TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS journal_items (
	seq      INTEGER NOT NULL REFERENCES journal (seq),
	right_id INTEGER NOT NULL,
	quantity INTEGER NOT NULL CHECK (quantity > 0),
	PRIMARY KEY (seq, right_id)
);
CREATE INDEX IF NOT EXISTS journal_items_right ON journal_items (right_id);
CREATE INDEX IF NOT EXISTS journal_unsynced ON journal (seq) WHERE synced = 0;
`

// OpenStore opens (creating if needed) DIR/point.db.
func OpenStore(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create point data directory: %w", err)
	}
	path := filepath.Join(dir, "point.db")
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("create point schema in %s: %w", path, err)
	}
	return &Store{db: db, Now: time.Now}, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

func (s *Store) now() time.Time { return s.Now().UTC().Truncate(time.Microsecond) }

// Identity is who the device is once enrolled.
type Identity struct {
	DeviceID int64              `json:"device_id"`
	PointID  int64              `json:"point_id"`
	Server   string             `json:"server"`
	Key      ed25519.PrivateKey `json:"key"`
}

// Setting names.
const (
	settingIdentity    = "identity"
	settingKeys        = "card_keys"
	settingRevocations = "card_revocations"
	settingLastSync    = "last_sync"
	settingClockOffset = "clock_offset"
)

func (s *Store) setting(ctx context.Context, name string) ([]byte, error) {
	var v []byte
	err := s.db.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = ?`, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return v, err
}

func setSetting(ctx context.Context, q interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, name string, v []byte) error {
	_, err := q.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, v)
	if err != nil {
		return fmt.Errorf("store %s: %w", name, err)
	}
	return nil
}

// Identity returns the device identity, or nil before enrollment.
func (s *Store) Identity(ctx context.Context) (*Identity, error) {
	b, err := s.setting(ctx, settingIdentity)
	if err != nil || b == nil {
		return nil, err
	}
	var id Identity
	if err := json.Unmarshal(b, &id); err != nil {
		return nil, fmt.Errorf("read identity: %w", err)
	}
	return &id, nil
}

// SetIdentity stores the device identity after enrollment.
func (s *Store) SetIdentity(ctx context.Context, id *Identity) error {
	b, err := json.Marshal(id)
	if err != nil {
		return err
	}
	return setSetting(ctx, s.db, settingIdentity, b)
}

// SetCardMaterial stores the downloaded card keys (JSON) and signed
// revocation list.
func (s *Store) SetCardMaterial(ctx context.Context, keys, revocations []byte) error {
	if err := setSetting(ctx, s.db, settingKeys, keys); err != nil {
		return err
	}
	return setSetting(ctx, s.db, settingRevocations, revocations)
}

// CardMaterial returns the stored keys and revocation list, nil if none.
func (s *Store) CardMaterial(ctx context.Context) (keys, revocations []byte, err error) {
	if keys, err = s.setting(ctx, settingKeys); err != nil {
		return nil, nil, err
	}
	revocations, err = s.setting(ctx, settingRevocations)
	return keys, revocations, err
}

// LocalRight is a right as the device sees it: what the server reserved,
// less what the device's own journal has drawn on it.
type LocalRight struct {
	ID          int64          `json:"id"`
	HouseholdID string         `json:"household_id"`
	ProgramID   int64          `json:"program_id"`
	Period      canasta.Period `json:"period"`
	Quantity    int64          `json:"quantity"`
	Drawn       int64          `json:"drawn"`
	Spendable   int64          `json:"spendable"`
	ExpiresAt   time.Time      `json:"expires_at"`
}

// serverNow is the device clock corrected by the offset measured at the
// last sync, so a right expires when the server says it does.
func (s *Store) serverNow(ctx context.Context) (time.Time, error) {
	b, err := s.setting(ctx, settingClockOffset)
	if err != nil {
		return time.Time{}, err
	}
	now := s.now()
	if len(b) > 0 {
		var off time.Duration
		if err := json.Unmarshal(b, &off); err != nil {
			return time.Time{}, fmt.Errorf("read clock offset: %w", err)
		}
		now = now.Add(off)
	}
	return now, nil
}

// Rights lists the active rights and what remains of each, at the
// corrected clock; an expired right is not listed.
func (s *Store) Rights(ctx context.Context) ([]*LocalRight, error) {
	now, err := s.serverNow(ctx)
	if err != nil {
		return nil, err
	}
	return findLocalRights(ctx, s.db, now, "", 0)
}

type querier interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}

func findLocalRights(ctx context.Context, q querier, now time.Time, householdID string, programID int64) ([]*LocalRight, error) {
	query := `SELECT r.id, r.household_id, r.program_id, r.period, r.quantity, r.expires_at,
coalesce((SELECT sum(i.quantity) FROM journal_items i WHERE i.right_id = r.id), 0)
FROM rights r WHERE r.active = 1 AND r.expires_at > ? AND r.period = ?`
	args := []any{now.UnixMicro(), string(canasta.PeriodOf(now))}
	if householdID != "" {
		query += ` AND r.household_id = ? AND r.program_id = ?`
		args = append(args, householdID, programID)
	}
	rows, err := q.QueryContext(ctx, query+` ORDER BY r.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("find rights: %w", err)
	}
	defer rows.Close()
	out := []*LocalRight{}
	for rows.Next() {
		var r LocalRight
		var period string
		var expires int64
		if err := rows.Scan(&r.ID, &r.HouseholdID, &r.ProgramID, &period, &r.Quantity, &expires, &r.Drawn); err != nil {
			return nil, fmt.Errorf("scan right: %w", err)
		}
		r.Period = canasta.Period(period)
		r.ExpiresAt = time.UnixMicro(expires).UTC()
		r.Spendable = max(0, r.Quantity-r.Drawn)
		out = append(out, &r)
	}
	return out, rows.Err()
}

// ErrNotEnrolled is returned by a store that has no identity yet.
var ErrNotEnrolled = errors.New("point: device not enrolled")

// Redeem draws the request's items from the device's rights, all or
// none, and appends the signed receipt to the journal, committed to disk
// before it returns. A request id already in the journal returns its
// receipt with replay=true (ECONFLICT if the request differs). ECONFLICT
// when a right cannot cover an item, naming what it can.
func (s *Store) Redeem(ctx context.Context, req *canasta.RedemptionRequest) (_ *canasta.OfflineReceipt, replay bool, err error) {
	if err := req.Validate(); err != nil {
		return nil, false, err
	}
	id, err := s.Identity(ctx)
	if err != nil {
		return nil, false, err
	} else if id == nil {
		return nil, false, ErrNotEnrolled
	}
	now, err := s.serverNow(ctx)
	if err != nil {
		return nil, false, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, false, fmt.Errorf("begin redeem: %w", err)
	}
	defer tx.Rollback()

	if prev, err := findReceipt(ctx, tx, req.RequestID); err != nil {
		return nil, false, err
	} else if prev != nil {
		if !sameRequest(prev, req) {
			return nil, false, canasta.Errorf(canasta.ECONFLICT, "Request id %q was already used for a different redemption.", req.RequestID)
		}
		return prev, true, nil
	}
	rc := &canasta.OfflineReceipt{DeviceID: id.DeviceID, RequestID: req.RequestID, HouseholdID: req.HouseholdID, At: s.now()}
	for _, it := range req.Items {
		rs, err := findLocalRights(ctx, tx, now, req.HouseholdID, it.ProgramID)
		if err != nil {
			return nil, false, err
		}
		if len(rs) == 0 || rs[0].Spendable < it.Quantity {
			var have int64
			if len(rs) > 0 {
				have = rs[0].Spendable
			}
			return nil, false, canasta.Errorf(canasta.ECONFLICT, "This point can give only %d more of program %d to this household now; %d were asked for.", have, it.ProgramID, it.Quantity)
		}
		rc.Items = append(rc.Items, canasta.OfflineItem{RightID: rs[0].ID, ProgramID: it.ProgramID, Quantity: it.Quantity})
	}
	if err := appendReceipt(ctx, tx, id.Key, rc); err != nil {
		return nil, false, err
	}
	if err := tx.Commit(); err != nil {
		return nil, false, fmt.Errorf("commit receipt: %w", err)
	}
	return rc, false, nil
}

func sameRequest(rc *canasta.OfflineReceipt, req *canasta.RedemptionRequest) bool {
	if rc.HouseholdID != req.HouseholdID || len(rc.Items) != len(req.Items) {
		return false
	}
	for i, it := range req.Items {
		if rc.Items[i].ProgramID != it.ProgramID || rc.Items[i].Quantity != it.Quantity {
			return false
		}
	}
	return true
}

// appendReceipt numbers, chains and signs rc and writes it to the
// journal.
func appendReceipt(ctx context.Context, tx *sql.Tx, key ed25519.PrivateKey, rc *canasta.OfflineReceipt) error {
	var last sql.NullInt64
	var prev []byte
	err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM journal ORDER BY seq DESC LIMIT 1`).Scan(&last, &prev)
	if errors.Is(err, sql.ErrNoRows) {
		prev = canasta.GenesisHash()
	} else if err != nil {
		return fmt.Errorf("find journal head: %w", err)
	}
	rc.Seq = last.Int64 + 1
	rc.Prev = prev
	rc.Sign(key)
	body, err := json.Marshal(rc)
	if err != nil {
		return fmt.Errorf("encode receipt: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO journal (seq, request_id, hash, body) VALUES (?, ?, ?, ?)`,
		rc.Seq, rc.RequestID, rc.Hash(), string(body)); err != nil {
		return fmt.Errorf("append receipt: %w", err)
	}
	for _, it := range rc.Items {
		if _, err := tx.ExecContext(ctx, `INSERT INTO journal_items (seq, right_id, quantity) VALUES (?, ?, ?)`,
			rc.Seq, it.RightID, it.Quantity); err != nil {
			return fmt.Errorf("append receipt item: %w", err)
		}
	}
	return nil
}

// findByRequestID returns the journaled receipt for the request id, or
// nil.
func (s *Store) findByRequestID(ctx context.Context, requestID string) (*canasta.OfflineReceipt, error) {
	return findReceipt(ctx, s.db, requestID)
}

func findReceipt(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, requestID string) (*canasta.OfflineReceipt, error) {
	var body string
	err := q.QueryRowContext(ctx, `SELECT body FROM journal WHERE request_id = ?`, requestID).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("find receipt: %w", err)
	}
	var rc canasta.OfflineReceipt
	if err := json.Unmarshal([]byte(body), &rc); err != nil {
		return nil, fmt.Errorf("decode receipt: %w", err)
	}
	return &rc, nil
}

// Pending returns up to limit journal entries the server has not yet
// acknowledged, oldest first.
func (s *Store) Pending(ctx context.Context, limit int) ([]*canasta.OfflineReceipt, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT body FROM journal WHERE synced = 0 ORDER BY seq LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("find pending receipts: %w", err)
	}
	defer rows.Close()
	var out []*canasta.OfflineReceipt
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, err
		}
		var rc canasta.OfflineReceipt
		if err := json.Unmarshal([]byte(body), &rc); err != nil {
			return nil, fmt.Errorf("decode receipt: %w", err)
		}
		out = append(out, &rc)
	}
	return out, rows.Err()
}

// Journal returns every journal entry, oldest first.
func (s *Store) Journal(ctx context.Context) ([]*canasta.OfflineReceipt, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT body FROM journal ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	defer rows.Close()
	var out []*canasta.OfflineReceipt
	for rows.Next() {
		var body string
		if err := rows.Scan(&body); err != nil {
			return nil, err
		}
		var rc canasta.OfflineReceipt
		if err := json.Unmarshal([]byte(body), &rc); err != nil {
			return nil, fmt.Errorf("decode receipt: %w", err)
		}
		out = append(out, &rc)
	}
	return out, rows.Err()
}

// ApplySync records the server's answer to a sync: each acknowledged
// receipt (posted, duplicate or rejected; a rejected one will never be
// accepted, and stays in the journal for the record) is no longer
// pending, the rights are replaced by the server's list, and the clock
// offset and sync time are kept.
func (s *Store) ApplySync(ctx context.Context, res *canasta.SyncResult) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin sync: %w", err)
	}
	defer tx.Rollback()
	for _, r := range res.Receipts {
		if _, err := tx.ExecContext(ctx, `UPDATE journal SET synced = 1, status = ? WHERE seq = ?`, r.Status, r.Seq); err != nil {
			return fmt.Errorf("mark receipt %d: %w", r.Seq, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE rights SET active = 0`); err != nil {
		return fmt.Errorf("clear rights: %w", err)
	}
	for _, r := range res.Rights {
		if err := storeRight(ctx, tx, r); err != nil {
			return err
		}
	}
	now := s.now()
	off, _ := json.Marshal(res.Now.Sub(now))
	if err := setSetting(ctx, tx, settingClockOffset, off); err != nil {
		return err
	}
	at, _ := json.Marshal(now)
	if err := setSetting(ctx, tx, settingLastSync, at); err != nil {
		return err
	}
	return tx.Commit()
}

// Status is what the operator sees of the device's state.
type Status struct {
	Enrolled   bool       `json:"enrolled"`
	DeviceID   int64      `json:"device_id,omitempty"`
	PointID    int64      `json:"point_id,omitempty"`
	Online     bool       `json:"online"`
	LastSync   *time.Time `json:"last_sync,omitempty"`
	LastError  string     `json:"last_error,omitempty"`
	Rights     int        `json:"rights"`
	RightsHeld int64      `json:"rights_held"` // sum of spendable quantities
	Waiting    int        `json:"receipts_waiting"`
	Rejected   int        `json:"receipts_rejected"`
}

// Status reads the stored part of the status.
func (s *Store) Status(ctx context.Context) (*Status, error) {
	st := &Status{}
	id, err := s.Identity(ctx)
	if err != nil {
		return nil, err
	}
	if id != nil {
		st.Enrolled, st.DeviceID, st.PointID = true, id.DeviceID, id.PointID
	}
	if b, err := s.setting(ctx, settingLastSync); err != nil {
		return nil, err
	} else if b != nil {
		var t time.Time
		if err := json.Unmarshal(b, &t); err == nil {
			st.LastSync = &t
		}
	}
	rs, err := s.Rights(ctx)
	if err != nil {
		return nil, err
	}
	st.Rights = len(rs)
	for _, r := range rs {
		st.RightsHeld += r.Spendable
	}
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FILTER (WHERE synced = 0), count(*) FILTER (WHERE status = 'rejected') FROM journal`).Scan(&st.Waiting, &st.Rejected); err != nil {
		return nil, fmt.Errorf("count journal: %w", err)
	}
	return st, nil
}

// MergeRights stores rights the server just reserved, leaving the others
// as they are.
func (s *Store) MergeRights(ctx context.Context, rights []*canasta.Right) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin merge rights: %w", err)
	}
	defer tx.Rollback()
	for _, r := range rights {
		if err := storeRight(ctx, tx, r); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func storeRight(ctx context.Context, tx *sql.Tx, r *canasta.Right) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO rights (id, household_id, program_id, period, quantity, expires_at, active)
VALUES (?, ?, ?, ?, ?, ?, 1)
ON CONFLICT (id) DO UPDATE SET quantity = max(quantity, excluded.quantity), expires_at = excluded.expires_at, active = 1`,
		r.ID, r.HouseholdID, r.ProgramID, string(r.Period), r.Quantity, r.ExpiresAt.UnixMicro()); err != nil {
		return fmt.Errorf("store right %d: %w", r.ID, err)
	}
	return nil
}
