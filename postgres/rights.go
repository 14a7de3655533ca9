package postgres

import (
	"bytes"
	"cmp"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/canasta/canasta"
	"github.com/canasta/canasta/audit"
	"github.com/jackc/pgx/v5"
)

// RightsService enrolls point devices, reserves rights for them and posts
// their offline receipts. Every write is one named function taking the
// transaction, so each can carry its audit entry.
//
// The offline invariants (see the root package) are held by the
// database: a reservation is the redemption path's conditional debit on
// the entitlements table, so entitlements.redeemed = redeemed + held and
// its CHECK keeps O1 and O3; the rights table CHECKs spent + released <=
// quantity and late <= released, which is O2; (device, seq) is the
// primary key of device_receipts, which is O4. Every transaction that
// acts for a device first locks its row, so one device's syncs,
// uploads and revocation run one at a time; rights are locked before
// they are released or spent.
type RightsService struct {
	db *DB
	// RightTTL is how long a reservation lasts; DefaultRightTTL when zero.
	RightTTL time.Duration
}

var (
	_ canasta.DeviceService    = (*RightsService)(nil)
	_ canasta.RightsService    = (*RightsService)(nil)
	_ canasta.HomePointService = (*RightsService)(nil)
)

// NewRightsService returns the rights service on db.
func NewRightsService(db *DB) *RightsService {
	return &RightsService{db: db}
}

func (s *RightsService) ttl() time.Duration {
	if s.RightTTL > 0 {
		return s.RightTTL
	}
	return canasta.DefaultRightTTL
}

// expiry is when a right reserved at now ends: after the TTL, and never
// after the end of its grant's period.
func (s *RightsService) expiry(now time.Time, period canasta.Period) time.Time {
	end := period.Start().AddDate(0, 1, 0)
	if t := now.Add(s.ttl()); t.Before(end) {
		return t
	}
	return end
}

// CreateDevice registers a device and returns its one-time token.
func (s *RightsService) CreateDevice(ctx context.Context, pointID int64, name string) (_ *canasta.Device, _ string, err error) {
	defer checkAvailable(&err)
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 200 {
		return nil, "", canasta.Errorf(canasta.EINVALID, "A device needs a name of at most 200 bytes.")
	}
	ctx, tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return nil, "", err
	}
	defer tx.release()

	if _, err := findPointByID(ctx, tx, pointID); err != nil {
		return nil, "", err
	}
	token := canasta.EnrollmentTokenPrefix + strings.TrimPrefix(canasta.NewTokenSecret(), canasta.TokenPrefix)
	d, err := createDevice(ctx, tx, pointID, name, canasta.HashTokenSecret(token))
	if err != nil {
		return nil, "", err
	}
	if err := tx.commit("device"); err != nil {
		return nil, "", err
	}
	return d, token, nil
}

// createDevice writes a new, not yet enrolled device.
func createDevice(ctx context.Context, tx *Tx, pointID int64, name string, tokenHash []byte) (*canasta.Device, error) {
	var id int64
	if err := tx.QueryRow(ctx, `INSERT INTO devices (point_id, name, token_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id`,
		pointID, name, tokenHash, tx.now).Scan(&id); err != nil {
		return nil, fmt.Errorf("insert device: %w", err)
	}
	if err := auditPublic(ctx, tx, canasta.AuditDeviceCreate, map[string]string{"point": strconv.FormatInt(pointID, 10), "device": strconv.FormatInt(id, 10)}, nil); err != nil {
		return nil, err
	}
	return &canasta.Device{ID: id, PointID: pointID, Name: name, CreatedAt: tx.now}, nil
}

// EnrollDevice binds a public key to the device whose token this is.
func (s *RightsService) EnrollDevice(ctx context.Context, token string, publicKey []byte) (_ *canasta.Device, err error) {
	defer checkAvailable(&err)
	if len(publicKey) != ed25519.PublicKeySize {
		return nil, canasta.Errorf(canasta.EINVALID, "A device key must be an Ed25519 public key of %d bytes.", ed25519.PublicKeySize)
	}
	unauthorized := canasta.Errorf(canasta.EUNAUTHORIZED, "The enrollment token is unknown or already used.")
	if !strings.HasPrefix(token, canasta.EnrollmentTokenPrefix) {
		return nil, unauthorized
	}
	ctx, tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.release()

	var id int64
	err = tx.QueryRow(ctx, `SELECT id FROM devices WHERE token_hash = $1 AND revoked_at IS NULL FOR UPDATE`,
		canasta.HashTokenSecret(token)).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, unauthorized
	} else if err != nil {
		return nil, fmt.Errorf("find enrollment token: %w", err)
	}
	if err := enrollDevice(ctx, tx, id, publicKey); err != nil {
		return nil, err
	}
	d, err := findDevice(ctx, tx, id, false)
	if err != nil {
		return nil, err
	}
	if err := tx.commit("enrollment"); err != nil {
		return nil, err
	}
	return d, nil
}

// enrollDevice spends the device's token and stores its key.
func enrollDevice(ctx context.Context, tx *Tx, id int64, publicKey []byte) error {
	if _, err := tx.Exec(ctx, `UPDATE devices SET token_hash = NULL, public_key = $1, enrolled_at = $2 WHERE id = $3`,
		publicKey, tx.now, id); err != nil {
		return fmt.Errorf("enroll device %d: %w", id, err)
	}
	return auditPublic(ctx, tx, canasta.AuditDeviceEnroll, map[string]string{"device": strconv.FormatInt(id, 10)}, publicKey)
}

const deviceColumns = `id, point_id, name, public_key, created_at, enrolled_at, revoked_at, last_sync_at`

func scanDevice(row pgx.Row) (*canasta.Device, error) {
	var d canasta.Device
	if err := row.Scan(&d.ID, &d.PointID, &d.Name, &d.PublicKey, &d.CreatedAt, &d.EnrolledAt, &d.RevokedAt, &d.LastSyncAt); err != nil {
		return nil, err
	}
	return &d, nil
}

// findDevice reads a device, locking its row when lock is set.
func findDevice(ctx context.Context, q querier, id int64, lock bool) (*canasta.Device, error) {
	query := `SELECT ` + deviceColumns + ` FROM devices WHERE id = $1`
	if lock {
		query += ` FOR UPDATE`
	}
	d, err := scanDevice(q.QueryRow(ctx, query, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, canasta.Errorf(canasta.ENOTFOUND, "Device %d not found.", id)
	} else if err != nil {
		return nil, fmt.Errorf("find device %d: %w", id, err)
	}
	return d, nil
}

// FindDeviceByID returns a device.
func (s *RightsService) FindDeviceByID(ctx context.Context, id int64) (_ *canasta.Device, err error) {
	defer checkAvailable(&err)
	ctx, cancel := s.db.withTimeout(ctx)
	defer cancel()
	return findDevice(ctx, s.db.pool, id, false)
}

// FindDevices lists the point's devices.
func (s *RightsService) FindDevices(ctx context.Context, pointID int64) (_ []*canasta.Device, err error) {
	defer checkAvailable(&err)
	ctx, tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.release()
	if _, err := findPointByID(ctx, tx, pointID); err != nil {
		return nil, err
	}
	rows, err := tx.Query(ctx, `SELECT `+deviceColumns+` FROM devices WHERE point_id = $1 ORDER BY id`, pointID)
	if err != nil {
		return nil, fmt.Errorf("find devices: %w", err)
	}
	ds, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*canasta.Device, error) { return scanDevice(row) })
	if err != nil {
		return nil, fmt.Errorf("find devices: %w", err)
	}
	if ds == nil {
		ds = []*canasta.Device{}
	}
	return ds, nil
}

// RevokeDevice revokes the key, then releases the device's rights.
func (s *RightsService) RevokeDevice(ctx context.Context, id int64) (err error) {
	defer checkAvailable(&err)
	ctx, tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.release()

	d, err := findDevice(ctx, tx, id, true)
	if err != nil {
		return err
	}
	if d.RevokedAt != nil {
		return canasta.Errorf(canasta.ECONFLICT, "Device %d is already revoked.", id)
	}
	if err := revokeDevice(ctx, tx, id); err != nil {
		return err
	}
	rights, err := findRights(ctx, tx, `r.device_id = $1 AND r.released_at IS NULL`, true, id)
	if err != nil {
		return err
	}
	sortForRelease(rights)
	for _, r := range rights {
		if err := releaseRight(ctx, tx, r); err != nil {
			return err
		}
	}
	return tx.commit("device revocation")
}

// revokeDevice revokes the device's key and any unspent token.
func revokeDevice(ctx context.Context, tx *Tx, id int64) error {
	if _, err := tx.Exec(ctx, `UPDATE devices SET revoked_at = $1, token_hash = NULL WHERE id = $2`, tx.now, id); err != nil {
		return fmt.Errorf("revoke device %d: %w", id, err)
	}
	return auditPublic(ctx, tx, canasta.AuditDeviceRevoke, map[string]string{"device": strconv.FormatInt(id, 10)}, nil)
}

// SetHomePoint makes the point the household's home point.
func (s *RightsService) SetHomePoint(ctx context.Context, householdID string, pointID int64) (err error) {
	defer checkAvailable(&err)
	ctx, tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.release()
	hid, err := householdHID(ctx, tx, householdID)
	if err != nil {
		return err
	}
	if err := setHomePoint(ctx, tx, hid, pointID); err != nil {
		return err
	}
	return tx.commit("home point")
}

// setHomePoint writes a household's home point; 0 clears it.
func setHomePoint(ctx context.Context, tx *Tx, hid, pointID int64) error {
	var point *int64
	if pointID != 0 {
		if _, err := findPointByID(ctx, tx, pointID); err != nil {
			return err
		}
		point = &pointID
	}
	if _, err := tx.Exec(ctx, `UPDATE households SET home_point_id = $1 WHERE hid = $2`, point, hid); err != nil {
		return fmt.Errorf("set home point: %w", err)
	}
	return auditRights(ctx, tx, canasta.AuditHomePoint, hid, "", map[string]string{"point": strconv.FormatInt(pointID, 10)}, pointID)
}

// storeHomePoint sets a new household's home point, if it names one.
func storeHomePoint(ctx context.Context, tx *Tx, h *canasta.Household) error {
	if h.HomePointID == 0 {
		return nil
	}
	hid, err := householdHID(ctx, tx, h.ID)
	if err != nil {
		return err
	}
	if _, err := findPointByID(ctx, tx, h.HomePointID); canasta.ErrorCode(err) == canasta.ENOTFOUND {
		return canasta.Errorf(canasta.EINVALID, "Home point %d does not exist.", h.HomePointID)
	}
	return setHomePoint(ctx, tx, hid, h.HomePointID)
}

// findHomePoint returns the household's home point, 0 if none.
func findHomePoint(ctx context.Context, q querier, hid int64) (int64, error) {
	var id *int64
	if err := q.QueryRow(ctx, `SELECT home_point_id FROM households WHERE hid = $1`, hid).Scan(&id); err != nil {
		return 0, fmt.Errorf("find home point: %w", err)
	}
	if id == nil {
		return 0, nil
	}
	return *id, nil
}

// liveDevice locks and returns the device if it is enrolled and not
// revoked.
func liveDevice(ctx context.Context, tx *Tx, id int64) (*canasta.Device, error) {
	d, err := findDevice(ctx, tx, id, true)
	if canasta.ErrorCode(err) == canasta.ENOTFOUND || (err == nil && !d.Live()) {
		return nil, canasta.Errorf(canasta.EFORBIDDEN, "Device %d is not enrolled or has been revoked.", id)
	}
	return d, err
}

// ReserveRights reserves every request for the device, all or none.
func (s *RightsService) ReserveRights(ctx context.Context, deviceID int64, reqs []canasta.RightRequest) (_ []*canasta.Right, err error) {
	defer checkAvailable(&err)
	ctx, tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.release()

	d, err := liveDevice(ctx, tx, deviceID)
	if err != nil {
		return nil, err
	}
	var out []*canasta.Right
	for _, req := range reqs {
		if err := req.Validate(); err != nil {
			return nil, err
		}
		hid, err := householdHID(ctx, tx, req.HouseholdID)
		if err != nil {
			return nil, err
		}
		r, err := s.reserve(ctx, tx, d, hid, req.ProgramID, req.Quantity)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	if err := tx.commit("reservation"); err != nil {
		return nil, err
	}
	return out, nil
}

// reserve moves quantity from the grant's available balance into the
// device's active right for it. ECONFLICT if less is available.
func (s *RightsService) reserve(ctx context.Context, tx *Tx, d *canasta.Device, hid, programID, quantity int64) (*canasta.Right, error) {
	period := canasta.PeriodOf(tx.now)
	var available int64
	err := tx.QueryRow(ctx, `SELECT granted - redeemed FROM entitlements WHERE period = $1 AND household_hid = $2 AND program_id = $3`,
		string(period), hid, programID).Scan(&available)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, canasta.Errorf(canasta.ENOTFOUND, "The household has no grant from program %d for %s.", programID, period)
	} else if err != nil {
		return nil, fmt.Errorf("find grant: %w", err)
	}
	if available < quantity {
		return nil, canasta.Errorf(canasta.ECONFLICT, "Only %d of program %d remain for %s; %d were asked for.", available, programID, period, quantity)
	}
	id, err := reserveRight(ctx, tx, d.ID, hid, programID, period, quantity, s.expiry(tx.now, period))
	if err != nil {
		return nil, err
	}
	rs, err := findRights(ctx, tx, `r.id = $1`, false, id)
	if err != nil {
		return nil, err
	}
	return &rs[0].Right, nil
}

// conditionalDebitSQL is the redemption path's conditional debit: it matches only
// while enough remains.
const conditionalDebitSQL = `UPDATE entitlements SET redeemed = redeemed + $1
WHERE period = $2 AND household_hid = $3 AND program_id = $4 AND granted - redeemed >= $1`

// reserveRight debits the grant with the redemption path's conditional
// debit and credits the device's active right, creating it if needed.
func reserveRight(ctx context.Context, tx *Tx, deviceID, hid, programID int64, period canasta.Period, quantity int64, expires time.Time) (int64, error) {
	tag, err := tx.Exec(ctx, conditionalDebitSQL, quantity, string(period), hid, programID)
	if err != nil {
		return 0, fmt.Errorf("reserve: %w", err)
	}
	if tag.RowsAffected() != 1 {
		return 0, canasta.Errorf(canasta.ECONFLICT, "Not enough of program %d remains to reserve %d.", programID, quantity)
	}
	var id int64
	err = tx.QueryRow(ctx, `INSERT INTO rights (device_id, household_hid, program_id, period, quantity, expires_at, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (device_id, household_hid, program_id, period) WHERE released_at IS NULL
DO UPDATE SET quantity = rights.quantity + excluded.quantity, expires_at = greatest(rights.expires_at, excluded.expires_at)
RETURNING id`, deviceID, hid, programID, string(period), quantity, expires, tx.now).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("insert right: %w", err)
	}
	return id, auditRights(ctx, tx, canasta.AuditRightReserve, hid, "", map[string]string{"device": strconv.FormatInt(deviceID, 10),
		"right": strconv.FormatInt(id, 10), "program": strconv.FormatInt(programID, 10), "period": string(period)},
		map[string]any{"quantity": quantity, "expires_at": expires})
}

// releaseRight returns what the right holds to the grant's available
// balance and closes it. The right must be locked.
func releaseRight(ctx context.Context, tx *Tx, r *rightRow) error {
	held := r.Quantity - r.Spent - r.Released
	if held > 0 {
		tag, err := tx.Exec(ctx, `UPDATE entitlements SET redeemed = redeemed - $1
WHERE period = $2 AND household_hid = $3 AND program_id = $4 AND redeemed >= $1`, held, string(r.Period), r.hid, r.ProgramID)
		if err != nil {
			return fmt.Errorf("release right %d: %w", r.ID, err)
		}
		if tag.RowsAffected() != 1 {
			return fmt.Errorf("release right %d: the grant holds less than the right", r.ID)
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE rights SET released = released + $1, released_at = $2 WHERE id = $3`,
		held, tx.now, r.ID); err != nil {
		return fmt.Errorf("release right %d: %w", r.ID, err)
	}
	r.Released += held
	r.Held = 0
	t := tx.now
	r.ReleasedAt = &t
	return auditRights(ctx, tx, canasta.AuditRightRelease, r.hid, r.HouseholdID, map[string]string{"device": strconv.FormatInt(r.DeviceID, 10),
		"right": strconv.FormatInt(r.ID, 10)}, map[string]any{"released": held})
}

// sortForRelease orders rights by household and program, the order in
// which the redemption path locks a household's grants, so a release
// and a redemption never wait for each other in a cycle.
func sortForRelease(rs []*rightRow) {
	slices.SortFunc(rs, func(a, b *rightRow) int {
		return cmp.Or(cmp.Compare(a.hid, b.hid), cmp.Compare(a.ProgramID, b.ProgramID), cmp.Compare(a.ID, b.ID))
	})
}

// rightRow is a right with the household's internal key.
type rightRow struct {
	canasta.Right
	hid int64
}

// findRights reads rights; lock takes their row locks, and in READ
// COMMITTED a row changed by a transaction that committed meanwhile is
// re-checked against where, so a right released meanwhile drops out.
func findRights(ctx context.Context, tx *Tx, where string, lock bool, args ...any) ([]*rightRow, error) {
	query := `SELECT r.id, r.device_id, d.point_id, h.id, r.household_hid, r.program_id, r.period,
r.quantity, r.spent, r.released, r.late, r.expires_at, r.created_at, r.released_at
FROM rights r JOIN devices d ON d.id = r.device_id JOIN households h ON h.hid = r.household_hid
WHERE ` + where + ` ORDER BY r.id`
	if lock {
		query += ` FOR UPDATE OF r`
	}
	rows, err := tx.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("find rights: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*rightRow, error) {
		var r rightRow
		var period string
		if err := row.Scan(&r.ID, &r.DeviceID, &r.PointID, &r.HouseholdID, &r.hid, &r.ProgramID, &period,
			&r.Quantity, &r.Spent, &r.Released, &r.Late, &r.ExpiresAt, &r.CreatedAt, &r.ReleasedAt); err != nil {
			return nil, err
		}
		r.Period = canasta.Period(period)
		r.Held = r.Quantity - r.Spent - r.Released
		return &r, nil
	})
	if err != nil {
		return nil, fmt.Errorf("find rights: %w", err)
	}
	return out, nil
}

func publicRights(rs []*rightRow) []*canasta.Right {
	out := make([]*canasta.Right, len(rs))
	for i, r := range rs {
		c := r.Right
		out[i] = &c
	}
	return out
}

// ExpireRights releases every expired right.
func (s *RightsService) ExpireRights(ctx context.Context) (_ int, err error) {
	defer checkAvailable(&err)
	ctx, tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.release()
	n, err := expireRights(ctx, tx)
	if err != nil {
		return 0, err
	}
	if err := tx.commit("expiry"); err != nil {
		return 0, err
	}
	return n, nil
}

func expireRights(ctx context.Context, tx *Tx) (int, error) {
	rs, err := findRights(ctx, tx, `r.released_at IS NULL AND r.expires_at <= $1`, true, tx.now)
	if err != nil {
		return 0, err
	}
	sortForRelease(rs)
	for _, r := range rs {
		if err := releaseRight(ctx, tx, r); err != nil {
			return 0, err
		}
	}
	return len(rs), nil
}

// FindRights lists the device's rights.
func (s *RightsService) FindRights(ctx context.Context, deviceID int64) (_ []*canasta.Right, err error) {
	defer checkAvailable(&err)
	ctx, tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.release()
	if _, err := findDevice(ctx, tx, deviceID, false); err != nil {
		return nil, err
	}
	rs, err := findRights(ctx, tx, `r.device_id = $1`, false, deviceID)
	if err != nil {
		return nil, err
	}
	return publicRights(rs), nil
}

// Sync is a live device's whole sync in one transaction.
func (s *RightsService) Sync(ctx context.Context, deviceID int64, batch *canasta.SyncBatch) (_ *canasta.SyncResult, err error) {
	defer checkAvailable(&err)
	if len(batch.Receipts) > canasta.MaxSyncReceipts {
		return nil, canasta.Errorf(canasta.EINVALID, "A sync batch may hold at most %d receipts.", canasta.MaxSyncReceipts)
	}
	ctx, tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.release()

	d, err := liveDevice(ctx, tx, deviceID)
	if err != nil {
		return nil, err
	}
	if _, err := expireRights(ctx, tx); err != nil {
		return nil, err
	}
	res := &canasta.SyncResult{Now: tx.now}
	if res.Receipts, err = postReceipts(ctx, tx, d, batch.Receipts); err != nil {
		return nil, err
	}
	if err := s.reserveHome(ctx, tx, d); err != nil {
		return nil, err
	}
	for _, req := range batch.Requests {
		if err := req.Validate(); err != nil {
			res.Refused = append(res.Refused, canasta.ErrorMessage(err))
			continue
		}
		hid, err := householdHID(ctx, tx, req.HouseholdID)
		if err == nil {
			_, err = s.reserve(ctx, tx, d, hid, req.ProgramID, req.Quantity)
		}
		if code := canasta.ErrorCode(err); code == canasta.EINTERNAL {
			return nil, err
		} else if code != "" {
			res.Refused = append(res.Refused, canasta.ErrorMessage(err))
		}
	}
	if err := touchDevice(ctx, tx, d.ID); err != nil {
		return nil, err
	}
	rs, err := findRights(ctx, tx, `r.device_id = $1 AND r.released_at IS NULL`, false, d.ID)
	if err != nil {
		return nil, err
	}
	res.Rights = publicRights(rs)
	if err := tx.commit("sync"); err != nil {
		return nil, err
	}
	return res, nil
}

// touchDevice records a sync.
func touchDevice(ctx context.Context, tx *Tx, id int64) error {
	if _, err := tx.Exec(ctx, `UPDATE devices SET last_sync_at = $1 WHERE id = $2`, tx.now, id); err != nil {
		return fmt.Errorf("record sync of device %d: %w", id, err)
	}
	return nil
}

// reserveHome reserves for the device everything still available of the
// current grants of the households whose home point is its point.
func (s *RightsService) reserveHome(ctx context.Context, tx *Tx, d *canasta.Device) error {
	period := canasta.PeriodOf(tx.now)
	rows, err := tx.Query(ctx, `SELECT e.household_hid, e.program_id, e.granted - e.redeemed
FROM households h JOIN entitlements e ON e.household_hid = h.hid AND e.period = $1
WHERE h.home_point_id = $2 AND e.granted > e.redeemed ORDER BY e.household_hid, e.program_id`, string(period), d.PointID)
	if err != nil {
		return fmt.Errorf("find home grants: %w", err)
	}
	type grant struct{ hid, program, available int64 }
	gs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (grant, error) {
		var g grant
		err := row.Scan(&g.hid, &g.program, &g.available)
		return g, err
	})
	if err != nil {
		return fmt.Errorf("find home grants: %w", err)
	}
	for _, g := range gs {
		// A redemption may have taken some meanwhile: reserve what the
		// conditional debit still finds, or skip the grant.
		if _, err := reserveRight(ctx, tx, d.ID, g.hid, g.program, period, g.available, s.expiry(tx.now, period)); canasta.ErrorCode(err) == canasta.ECONFLICT {
			continue
		} else if err != nil {
			return err
		}
	}
	return nil
}

// PostReceipts posts a device's receipts, live or revoked.
func (s *RightsService) PostReceipts(ctx context.Context, deviceID int64, receipts []*canasta.OfflineReceipt) (_ []canasta.ReceiptResult, err error) {
	defer checkAvailable(&err)
	if len(receipts) > canasta.MaxSyncReceipts {
		return nil, canasta.Errorf(canasta.EINVALID, "A batch may hold at most %d receipts.", canasta.MaxSyncReceipts)
	}
	ctx, tx, err := s.db.beginWrite(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.release()
	d, err := findDevice(ctx, tx, deviceID, true)
	if err != nil {
		return nil, err
	}
	if d.EnrolledAt == nil {
		return nil, canasta.Errorf(canasta.ECONFLICT, "Device %d was never enrolled.", deviceID)
	}
	if _, err := expireRights(ctx, tx); err != nil {
		return nil, err
	}
	results, err := postReceipts(ctx, tx, d, receipts)
	if err != nil {
		return nil, err
	}
	if err := tx.commit("receipts"); err != nil {
		return nil, err
	}
	return results, nil
}

func postReceipts(ctx context.Context, tx *Tx, d *canasta.Device, receipts []*canasta.OfflineReceipt) ([]canasta.ReceiptResult, error) {
	results := make([]canasta.ReceiptResult, len(receipts))
	for i, rc := range receipts {
		var seq int64
		if rc != nil {
			seq = rc.Seq
		}
		res, err := postReceipt(ctx, tx, d, rc)
		if code := canasta.ErrorCode(err); code == canasta.EINTERNAL {
			return nil, fmt.Errorf("post receipt %d of device %d: %w", seq, d.ID, err)
		} else if code != "" {
			res = canasta.ReceiptResult{Seq: seq, Status: canasta.ReceiptRejected, Error: canasta.ErrorMessage(err)}
		}
		results[i] = res
	}
	return results, nil
}

// storedReceipt is a journal entry as the server keeps it.
type storedReceipt struct {
	hash, prev   []byte
	posted, lost int64
}

func findStoredReceipt(ctx context.Context, tx *Tx, deviceID, seq int64) (*storedReceipt, error) {
	var s storedReceipt
	err := tx.QueryRow(ctx, `SELECT hash, prev, posted, lost FROM device_receipts WHERE device_id = $1 AND seq = $2`,
		deviceID, seq).Scan(&s.hash, &s.prev, &s.posted, &s.lost)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("find receipt %d: %w", seq, err)
	}
	return &s, nil
}

// checkReceipt decides whether a receipt may be posted: its form,
// signature, chain links and rights. It returns the stored entry when
// the receipt is a duplicate.
func checkReceipt(ctx context.Context, tx *Tx, d *canasta.Device, rc *canasta.OfflineReceipt) (*storedReceipt, []*rightRow, error) {
	if rc == nil {
		return nil, nil, canasta.Errorf(canasta.EINVALID, "A receipt is empty.")
	}
	if err := rc.Validate(); err != nil {
		return nil, nil, err
	}
	if rc.DeviceID != d.ID {
		return nil, nil, canasta.Errorf(canasta.EFORBIDDEN, "Receipt %d names device %d, not this device.", rc.Seq, rc.DeviceID)
	}
	if !rc.VerifySignature(d.PublicKey) {
		return nil, nil, canasta.Errorf(canasta.EUNAUTHORIZED, "Receipt %d is not signed by this device's key.", rc.Seq)
	}
	hash := rc.Hash()
	stored, err := findStoredReceipt(ctx, tx, d.ID, rc.Seq)
	if err != nil {
		return nil, nil, err
	}
	if stored != nil {
		if !bytes.Equal(stored.hash, hash) {
			return nil, nil, canasta.Errorf(canasta.ECONFLICT, "Receipt %d differs from the one already posted with that number: the journal was forked.", rc.Seq)
		}
		return stored, nil, nil
	}
	if rc.Seq == 1 && !bytes.Equal(rc.Prev, canasta.GenesisHash()) {
		return nil, nil, canasta.Errorf(canasta.ECONFLICT, "Receipt 1 must start the journal.")
	}
	if before, err := findStoredReceipt(ctx, tx, d.ID, rc.Seq-1); err != nil {
		return nil, nil, err
	} else if before != nil && !bytes.Equal(before.hash, rc.Prev) {
		return nil, nil, canasta.Errorf(canasta.ECONFLICT, "Receipt %d does not follow receipt %d: the journal was forked.", rc.Seq, rc.Seq-1)
	}
	if after, err := findStoredReceipt(ctx, tx, d.ID, rc.Seq+1); err != nil {
		return nil, nil, err
	} else if after != nil && !bytes.Equal(after.prev, hash) {
		return nil, nil, canasta.Errorf(canasta.ECONFLICT, "Receipt %d is not the one receipt %d follows: the journal was forked.", rc.Seq, rc.Seq+1)
	}
	rights := make([]*rightRow, len(rc.Items))
	for i, it := range rc.Items {
		rs, err := findRights(ctx, tx, `r.id = $1`, true, it.RightID)
		if err != nil {
			return nil, nil, err
		}
		if len(rs) == 0 || rs[0].DeviceID != d.ID {
			return nil, nil, canasta.Errorf(canasta.EFORBIDDEN, "Receipt %d draws on right %d, which is not this device's.", rc.Seq, it.RightID)
		}
		r := rs[0]
		if r.HouseholdID != rc.HouseholdID || r.ProgramID != it.ProgramID || (i > 0 && r.Period != rights[0].Period) {
			return nil, nil, canasta.Errorf(canasta.EINVALID, "Receipt %d: right %d is for another household, program or period.", rc.Seq, it.RightID)
		}
		rights[i] = r
	}
	return nil, rights, nil
}

// postReceipt posts one receipt: from each right's escrow while it is
// active, from the household's available balance once it is released,
// never beyond the right's quantity; the rest is a loss.
func postReceipt(ctx context.Context, tx *Tx, d *canasta.Device, rc *canasta.OfflineReceipt) (canasta.ReceiptResult, error) {
	stored, rights, err := checkReceipt(ctx, tx, d, rc)
	if err != nil {
		return canasta.ReceiptResult{}, err
	}
	if stored != nil {
		return canasta.ReceiptResult{Seq: rc.Seq, Status: canasta.ReceiptDuplicate, Posted: stored.posted, Lost: stored.lost}, nil
	}
	res := canasta.ReceiptResult{Seq: rc.Seq, Status: canasta.ReceiptPosted}
	var items []canasta.RedemptionItem
	for i, it := range rc.Items {
		r := rights[i]
		var fromEscrow, fromAvailable int64
		reason := "beyond the right"
		if r.ReleasedAt == nil {
			fromEscrow = min(it.Quantity, r.Held)
		} else {
			reason = "after the right was released"
			available, err := grantAvailable(ctx, tx, r.hid, r.ProgramID, r.Period)
			if err != nil {
				return res, err
			}
			fromAvailable = max(0, min(it.Quantity, r.Released-r.Late, available))
		}
		if err := spendRight(ctx, tx, r, fromEscrow, fromAvailable); err != nil {
			return res, err
		}
		posted := fromEscrow + fromAvailable
		if lost := it.Quantity - posted; lost > 0 {
			if err := recordLoss(ctx, tx, d, rc.Seq, r, lost, reason); err != nil {
				return res, err
			}
			res.Lost += lost
		}
		if posted > 0 {
			res.Posted += posted
			items = append(items, canasta.RedemptionItem{ProgramID: it.ProgramID, Quantity: posted})
		}
	}
	if len(items) > 0 {
		if err := insertOfflineRedemption(ctx, tx, d, rc, rights[0], items); err != nil {
			return res, err
		}
	}
	if err := insertDeviceReceipt(ctx, tx, rc, res); err != nil {
		return res, err
	}
	return res, nil
}

func grantAvailable(ctx context.Context, tx *Tx, hid, programID int64, period canasta.Period) (int64, error) {
	var available int64
	err := tx.QueryRow(ctx, `SELECT granted - redeemed FROM entitlements WHERE period = $1 AND household_hid = $2 AND program_id = $3`,
		string(period), hid, programID).Scan(&available)
	if err != nil {
		return 0, fmt.Errorf("find grant: %w", err)
	}
	return available, nil
}

// spendRight moves fromEscrow out of the right's escrow into redeemed
// (the grant's redeemed column already counts it) and debits
// fromAvailable from the grant's available balance; if a redemption
// took that meanwhile, the conditional debit refuses and the batch
// fails whole, to be retried.
func spendRight(ctx context.Context, tx *Tx, r *rightRow, fromEscrow, fromAvailable int64) error {
	if fromAvailable > 0 {
		tag, err := tx.Exec(ctx, conditionalDebitSQL, fromAvailable, string(r.Period), r.hid, r.ProgramID)
		if err != nil {
			return fmt.Errorf("debit late receipt: %w", err)
		}
		if tag.RowsAffected() != 1 {
			return fmt.Errorf("debit late receipt on right %d: the balance changed", r.ID)
		}
	}
	if fromEscrow == 0 && fromAvailable == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, `UPDATE rights SET spent = spent + $1, late = late + $2 WHERE id = $3`,
		fromEscrow, fromAvailable, r.ID); err != nil {
		return fmt.Errorf("spend right %d: %w", r.ID, err)
	}
	r.Spent += fromEscrow
	r.Late += fromAvailable
	r.Held = r.Quantity - r.Spent - r.Released
	return nil
}

// recordLoss records a quantity handed out that could not be posted.
func recordLoss(ctx context.Context, tx *Tx, d *canasta.Device, seq int64, r *rightRow, quantity int64, reason string) error {
	if _, err := tx.Exec(ctx, `INSERT INTO point_losses (point_id, device_id, seq, right_id, household_hid, program_id, quantity, reason, at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, d.PointID, d.ID, seq, r.ID, r.hid, r.ProgramID, quantity, reason, tx.now); err != nil {
		return fmt.Errorf("record loss: %w", err)
	}
	return auditRights(ctx, tx, canasta.AuditPointLoss, r.hid, r.HouseholdID, map[string]string{"point": strconv.FormatInt(d.PointID, 10),
		"device": strconv.FormatInt(d.ID, 10), "seq": strconv.FormatInt(seq, 10), "right": strconv.FormatInt(r.ID, 10)},
		map[string]any{"program": r.ProgramID, "quantity": quantity, "reason": reason})
}

// OfflineRequestID is the redemption request id of a posted offline
// receipt: unique per (device, seq), and unlike any online request id.
func OfflineRequestID(deviceID, seq int64) string {
	return fmt.Sprintf("offline:%d:%d", deviceID, seq)
}

// insertOfflineRedemption records the posted part of a receipt as a
// redemption, so the household's history shows it like any other.
func insertOfflineRedemption(ctx context.Context, tx *Tx, d *canasta.Device, rc *canasta.OfflineReceipt, r *rightRow, items []canasta.RedemptionItem) error {
	var id int64
	if err := tx.QueryRow(ctx, `INSERT INTO redemptions (request_id, fingerprint, household_hid, point_id, period, created_at)
VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`, OfflineRequestID(d.ID, rc.Seq), rc.Hash(), r.hid, d.PointID, string(r.Period), tx.now).Scan(&id); err != nil {
		return fmt.Errorf("insert offline redemption: %w", err)
	}
	for i, it := range items {
		available, err := grantAvailable(ctx, tx, r.hid, it.ProgramID, r.Period)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO redemption_items (redemption_id, line, program_id, quantity, remaining)
VALUES ($1, $2, $3, $4, $5)`, id, i+1, it.ProgramID, it.Quantity, available); err != nil {
			return fmt.Errorf("insert offline redemption item: %w", err)
		}
		items[i].Remaining = available
	}
	// An offline receipt is a redemption like any other in the log.
	key, err := householdAuditKey(ctx, tx, r.hid)
	if err != nil {
		return err
	}
	e, err := audit.RedemptionEntry(ctx, tx.now, key, &canasta.Redemption{RequestID: OfflineRequestID(d.ID, rc.Seq),
		HouseholdID: r.HouseholdID, PointID: d.PointID, Period: r.Period, Items: items, CreatedAt: tx.now})
	if err != nil {
		return err
	}
	e.Objects["device"] = strconv.FormatInt(d.ID, 10)
	tx.audit(e, id)
	return nil
}

// insertDeviceReceipt stores the journal entry, which makes a second
// upload of it a duplicate.
func insertDeviceReceipt(ctx context.Context, tx *Tx, rc *canasta.OfflineReceipt, res canasta.ReceiptResult) error {
	body, err := json.Marshal(rc)
	if err != nil {
		return fmt.Errorf("encode receipt: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO device_receipts (device_id, seq, hash, prev, body, posted, lost, received_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, rc.DeviceID, rc.Seq, rc.Hash(), rc.Prev, string(body), res.Posted, res.Lost, tx.now); err != nil {
		return fmt.Errorf("insert receipt %d: %w", rc.Seq, err)
	}
	return nil
}

// FindLosses lists the point's losses.
func (s *RightsService) FindLosses(ctx context.Context, pointID int64) (_ []*canasta.Loss, err error) {
	defer checkAvailable(&err)
	ctx, tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.release()
	if _, err := findPointByID(ctx, tx, pointID); err != nil {
		return nil, err
	}
	rows, err := tx.Query(ctx, `SELECT l.id, l.point_id, l.device_id, l.seq, l.right_id, h.id, l.program_id, l.quantity, l.reason, l.at
FROM point_losses l JOIN households h ON h.hid = l.household_hid WHERE l.point_id = $1 ORDER BY l.id`, pointID)
	if err != nil {
		return nil, fmt.Errorf("find losses: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*canasta.Loss, error) {
		var l canasta.Loss
		err := row.Scan(&l.ID, &l.PointID, &l.DeviceID, &l.Seq, &l.RightID, &l.HouseholdID, &l.ProgramID, &l.Quantity, &l.Reason, &l.At)
		return &l, err
	})
	if err != nil {
		return nil, fmt.Errorf("find losses: %w", err)
	}
	if out == nil {
		out = []*canasta.Loss{}
	}
	return out, nil
}

// FindGrantBalances returns the O1 account of each of the household's
// grants, each term read from its own table.
func (s *RightsService) FindGrantBalances(ctx context.Context, householdID string, period canasta.Period) (_ []*canasta.GrantBalance, err error) {
	defer checkAvailable(&err)
	ctx, tx, err := s.db.beginRead(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.release()
	hid, err := householdHID(ctx, tx, householdID)
	if err != nil {
		return nil, err
	}
	rows, err := tx.Query(ctx, `SELECT e.program_id, e.granted, e.granted - e.redeemed,
coalesce((SELECT sum(r.quantity - r.spent - r.released) FROM rights r
	WHERE r.household_hid = e.household_hid AND r.program_id = e.program_id AND r.period = e.period AND r.released_at IS NULL), 0)::bigint,
coalesce((SELECT sum(i.quantity) FROM redemptions d JOIN redemption_items i ON i.redemption_id = d.id
	WHERE d.household_hid = e.household_hid AND d.period = e.period AND i.program_id = e.program_id), 0)::bigint
FROM entitlements e WHERE e.household_hid = $1 AND e.period = $2 ORDER BY e.program_id`, hid, string(period))
	if err != nil {
		return nil, fmt.Errorf("find grant balances: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*canasta.GrantBalance, error) {
		b := canasta.GrantBalance{HouseholdID: householdID, Period: period}
		err := row.Scan(&b.ProgramID, &b.Granted, &b.Available, &b.Held, &b.Redeemed)
		return &b, err
	})
	if err != nil {
		return nil, fmt.Errorf("find grant balances: %w", err)
	}
	if out == nil {
		out = []*canasta.GrantBalance{}
	}
	return out, nil
}
