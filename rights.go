package canasta

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"strings"
	"time"
	"unicode/utf8"
)

// Offline points. A point keeps serving while its network is down by
// holding rights: slices of households' grants reserved for one of its
// devices. A reservation moves a quantity out of the grant's available
// balance with the same conditional debit the online redemption path uses
// (never below zero), so a reserved slice can be spent nowhere else. The
// device redeems offline only against its rights, writes each receipt
// into a hash-chained journal it signs, and uploads the journal when the
// network returns.
//
// For every grant (household, program, period), with the entitlement's
// stored redeemed column counting both what was redeemed and what is held
// in escrow:
//
//	O1 granted = available + Σ rights held + redeemed
//	O2 what a device posts through a right never exceeds the right
//	O3 after every sync, redeemed <= granted and nothing is negative
//	O4 posting is idempotent by (device, sequence): duplicated, reordered
//	   or replayed batches change nothing more
//	O5 one household served at k points offline spends at most the sum of
//	   the k points' rights
//
// A quantity a device handed out beyond what could be posted is recorded
// as a Loss at its point, never as redemption.

// DeviceIDHeader, DeviceTimeHeader, DeviceNonceHeader and
// DeviceSignatureHeader carry a device's signature on every request it
// makes (see DeviceRequestDigest).
const (
	DeviceIDHeader        = "Canasta-Device"
	DeviceTimeHeader      = "Canasta-Device-Time"
	DeviceNonceHeader     = "Canasta-Device-Nonce"
	DeviceSignatureHeader = "Canasta-Device-Signature"
)

// MaxDeviceClockSkew bounds how far a signed request's time may be from
// the server's clock: a request outside it is refused, so a captured
// request cannot be replayed later and a device whose clock was set back
// is noticed at once.
const MaxDeviceClockSkew = 5 * time.Minute

// DefaultRightTTL is how long a reservation lasts unless renewed by a
// sync: long enough to ride out a few days without a network, short enough
// that a household whose point went silent gets its quota back.
const DefaultRightTTL = 72 * time.Hour

// EnrollmentTokenPrefix starts every device enrollment token.
const EnrollmentTokenPrefix = "cnen_"

// Device is one enrolled machine of a point. Its Ed25519 public key
// verifies every request it makes and every receipt in its journal.
type Device struct {
	ID         int64      `json:"id"`
	PointID    int64      `json:"point_id"`
	Name       string     `json:"name"`
	PublicKey  []byte     `json:"public_key,omitempty"` // nil until enrolled
	CreatedAt  time.Time  `json:"created_at"`
	EnrolledAt *time.Time `json:"enrolled_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	LastSyncAt *time.Time `json:"last_sync_at,omitempty"`
}

// Live reports whether the device is enrolled and not revoked.
func (d *Device) Live() bool {
	return d.EnrolledAt != nil && d.RevokedAt == nil && len(d.PublicKey) == ed25519.PublicKeySize
}

// Right is a slice of one household's grant (program, period) reserved
// for one device. Quantity is everything ever reserved into it; Spent is
// what receipts posted from the escrow; Released is what went back to the
// household's available balance at expiry or revocation; Late is what
// receipts arriving after the release posted against the household's
// available balance. Held = Quantity - Spent - Released; Spent + Late
// never exceeds Quantity.
type Right struct {
	ID          int64      `json:"id"`
	DeviceID    int64      `json:"device_id"`
	PointID     int64      `json:"point_id"`
	HouseholdID string     `json:"household_id"`
	ProgramID   int64      `json:"program_id"`
	Period      Period     `json:"period"`
	Quantity    int64      `json:"quantity"`
	Spent       int64      `json:"spent"`
	Released    int64      `json:"released"`
	Late        int64      `json:"late"`
	Held        int64      `json:"held"`
	ExpiresAt   time.Time  `json:"expires_at"`
	CreatedAt   time.Time  `json:"created_at"`
	ReleasedAt  *time.Time `json:"released_at,omitempty"`
}

// Active reports whether the right still holds its escrow at t.
func (r *Right) Active(t time.Time) bool { return r.ReleasedAt == nil && t.Before(r.ExpiresAt) }

// RightRequest asks for a slice of a household's current grant.
type RightRequest struct {
	HouseholdID string `json:"household_id"`
	ProgramID   int64  `json:"program_id"`
	Quantity    int64  `json:"quantity"`
}

// Validate checks the request's form.
func (r *RightRequest) Validate() error {
	if r.HouseholdID == "" || r.ProgramID <= 0 || r.Quantity <= 0 {
		return Errorf(EINVALID, "A rights request needs household_id, program_id and a positive quantity.")
	}
	return nil
}

// OfflineItem is one line of an offline receipt: a quantity drawn from
// one of the device's rights.
type OfflineItem struct {
	RightID   int64 `json:"right_id"`
	ProgramID int64 `json:"program_id"`
	Quantity  int64 `json:"quantity"`
}

// OfflineReceipt is one entry of a device's journal. Seq counts from 1
// without gaps; Prev is the hash of entry Seq-1 (zero bytes for the
// first), so the journal is a chain a device cannot rewrite without
// forking it; Signature is the device key's Ed25519 signature over
// SigningBytes. At is the device's clock, shown but never trusted.
type OfflineReceipt struct {
	DeviceID    int64         `json:"device_id"`
	Seq         int64         `json:"seq"`
	Prev        []byte        `json:"prev"`
	RequestID   string        `json:"request_id"`
	HouseholdID string        `json:"household_id"`
	Items       []OfflineItem `json:"items"`
	At          time.Time     `json:"at"`
	Signature   []byte        `json:"signature"`
}

// MaxSyncReceipts bounds the receipts of one sync batch.
const MaxSyncReceipts = 1000

// Validate checks a receipt's form, not its signature or rights.
func (r *OfflineReceipt) Validate() error {
	if r.DeviceID <= 0 || r.Seq <= 0 {
		return Errorf(EINVALID, "A receipt needs device_id and a positive seq.")
	}
	if len(r.Prev) != sha256.Size {
		return Errorf(EINVALID, "Receipt %d: prev must be a %d-byte hash.", r.Seq, sha256.Size)
	}
	if r.RequestID == "" || len(r.RequestID) > 128 || strings.TrimSpace(r.RequestID) != r.RequestID || !utf8.ValidString(r.RequestID) {
		return Errorf(EINVALID, "Receipt %d: request_id is required (1 to 128 characters).", r.Seq)
	}
	if r.HouseholdID == "" || len(r.HouseholdID) > 64 {
		return Errorf(EINVALID, "Receipt %d: household_id is required.", r.Seq)
	}
	if len(r.Items) == 0 || len(r.Items) > MaxRedemptionItems {
		return Errorf(EINVALID, "Receipt %d needs 1 to %d items.", r.Seq, MaxRedemptionItems)
	}
	seen := map[int64]bool{}
	for _, it := range r.Items {
		if it.RightID <= 0 || it.ProgramID <= 0 || it.Quantity <= 0 {
			return Errorf(EINVALID, "Receipt %d: every item needs right_id, program_id and a positive quantity.", r.Seq)
		}
		if seen[it.RightID] {
			return Errorf(EINVALID, "Receipt %d draws on right %d twice.", r.Seq, it.RightID)
		}
		seen[it.RightID] = true
	}
	if len(r.Signature) != ed25519.SignatureSize {
		return Errorf(EINVALID, "Receipt %d: signature must be %d bytes.", r.Seq, ed25519.SignatureSize)
	}
	return nil
}

// SigningBytes is the receipt's canonical encoding without its signature:
// a domain tag, then every field at a fixed width or length-prefixed, so
// no two receipts share an encoding.
func (r *OfflineReceipt) SigningBytes() []byte {
	b := []byte("canasta offline receipt v1\x00")
	b = binary.BigEndian.AppendUint64(b, uint64(r.DeviceID))
	b = binary.BigEndian.AppendUint64(b, uint64(r.Seq))
	b = appendBytes(b, r.Prev)
	b = appendBytes(b, []byte(r.RequestID))
	b = appendBytes(b, []byte(r.HouseholdID))
	b = binary.BigEndian.AppendUint64(b, uint64(len(r.Items)))
	for _, it := range r.Items {
		b = binary.BigEndian.AppendUint64(b, uint64(it.RightID))
		b = binary.BigEndian.AppendUint64(b, uint64(it.ProgramID))
		b = binary.BigEndian.AppendUint64(b, uint64(it.Quantity))
	}
	return binary.BigEndian.AppendUint64(b, uint64(r.At.UTC().UnixMicro()))
}

func appendBytes(b, v []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
	return append(b, v...)
}

// Hash is the receipt's link in its journal's chain: SHA-256 of its
// signing bytes and signature.
func (r *OfflineReceipt) Hash() []byte {
	h := sha256.New()
	h.Write(r.SigningBytes())
	h.Write(r.Signature)
	return h.Sum(nil)
}

// Sign sets the receipt's signature with the device key.
func (r *OfflineReceipt) Sign(key ed25519.PrivateKey) {
	r.Signature = ed25519.Sign(key, r.SigningBytes())
}

// VerifySignature reports whether the receipt is signed by pub.
func (r *OfflineReceipt) VerifySignature(pub ed25519.PublicKey) bool {
	return len(pub) == ed25519.PublicKeySize && ed25519.Verify(pub, r.SigningBytes(), r.Signature)
}

// GenesisHash is Prev of a journal's first receipt.
func GenesisHash() []byte { return make([]byte, sha256.Size) }

// DeviceRequestDigest is what a device signs for one request: the method,
// the path with its query, the request time in Unix seconds, a nonce
// the device picks at random for each request (so two identical requests
// in one second differ) and the SHA-256 of the body. The signature goes
// in DeviceSignatureHeader, the time in DeviceTimeHeader and the nonce in
// DeviceNonceHeader.
func DeviceRequestDigest(method, pathAndQuery string, unix int64, nonce string, body []byte) []byte {
	sum := sha256.Sum256(body)
	b := []byte("canasta device request v1\x00")
	b = appendBytes(b, []byte(method))
	b = appendBytes(b, []byte(pathAndQuery))
	b = binary.BigEndian.AppendUint64(b, uint64(unix))
	b = appendBytes(b, []byte(nonce))
	return append(b, sum[:]...)
}

// Receipt outcomes in a sync result.
const (
	ReceiptPosted    = "posted"    // new, posted now (Lost may be > 0)
	ReceiptDuplicate = "duplicate" // already posted with the same hash
	ReceiptRejected  = "rejected"  // refused whole: see Error
)

// ReceiptResult is what sync did with one receipt.
type ReceiptResult struct {
	Seq    int64  `json:"seq"`
	Status string `json:"status"`
	// Posted and Lost sum the receipt's quantities posted as redemption and
	// recorded as loss; for a duplicate, what the first posting did.
	Posted int64  `json:"posted"`
	Lost   int64  `json:"lost"`
	Error  string `json:"error,omitempty"`
}

// SyncBatch is what a device uploads: its journal entries not yet
// acknowledged and the extra rights it asks for.
type SyncBatch struct {
	Receipts []*OfflineReceipt `json:"receipts"`
	Requests []RightRequest    `json:"requests,omitempty"`
}

// SyncResult answers a sync: what happened to each receipt, the device's
// active rights after it, and the server's time.
type SyncResult struct {
	Receipts []ReceiptResult `json:"receipts"`
	Rights   []*Right        `json:"rights"`
	// Refused lists requests that could not be reserved, with the reason.
	Refused []string  `json:"refused,omitempty"`
	Now     time.Time `json:"now"`
}

// Loss is a quantity a point handed out that could not be posted: beyond
// its right, or beyond what the household still had when a receipt came
// in after its right was released.
type Loss struct {
	ID          int64     `json:"id"`
	PointID     int64     `json:"point_id"`
	DeviceID    int64     `json:"device_id"`
	Seq         int64     `json:"seq"`
	RightID     int64     `json:"right_id"`
	HouseholdID string    `json:"household_id"`
	ProgramID   int64     `json:"program_id"`
	Quantity    int64     `json:"quantity"`
	Reason      string    `json:"reason"`
	At          time.Time `json:"at"`
}

// GrantBalance is the O1 account of one grant.
type GrantBalance struct {
	HouseholdID string `json:"household_id"`
	ProgramID   int64  `json:"program_id"`
	Period      Period `json:"period"`
	Granted     int64  `json:"granted"`
	Available   int64  `json:"available"`
	Held        int64  `json:"held"`
	Redeemed    int64  `json:"redeemed"`
}

// DeviceService enrolls and revokes point devices.
type DeviceService interface {
	// CreateDevice registers a device for the point and returns it with a
	// one-time enrollment token, shown once. Admins only. ENOTFOUND for an
	// unknown point; EINVALID for a bad name.
	CreateDevice(ctx context.Context, pointID int64, name string) (*Device, string, error)

	// EnrollDevice binds the Ed25519 public key to the device whose token
	// this is and spends the token. EUNAUTHORIZED for an unknown or spent
	// token or a revoked device; EINVALID for a malformed key.
	EnrollDevice(ctx context.Context, token string, publicKey []byte) (*Device, error)

	// FindDeviceByID returns a device. ENOTFOUND.
	FindDeviceByID(ctx context.Context, id int64) (*Device, error)

	// FindDevices lists the point's devices. ENOTFOUND for an unknown point.
	FindDevices(ctx context.Context, pointID int64) ([]*Device, error)

	// RevokeDevice revokes the device's key and only then, in the same
	// transaction, releases its active rights to the households' available
	// balances. Admins only. ENOTFOUND; ECONFLICT if already revoked.
	RevokeDevice(ctx context.Context, id int64) error
}

// RightsService reserves rights and posts offline receipts.
type RightsService interface {
	// ReserveRights reserves each request for the live device from the
	// household's current-period grant, topping up the device's active
	// right for that grant (and moving its expiry to now + the TTL), all
	// or none. ECONFLICT when a grant has less available than asked;
	// ENOTFOUND for an unknown household or grant; EFORBIDDEN for a
	// device not live.
	ReserveRights(ctx context.Context, deviceID int64, reqs []RightRequest) ([]*Right, error)

	// Sync is a live device's sync, in one transaction: release every
	// expired right, post the receipts (PostReceipts' rules), reserve for
	// the device everything still available of the current grants of
	// households whose home point is the device's point, reserve the
	// batch's requests as far as available (a request that cannot be met
	// is listed in Refused, not an error), and return the device's active
	// rights. EFORBIDDEN for a device not live; EINVALID for a batch over
	// MaxSyncReceipts.
	Sync(ctx context.Context, deviceID int64, batch *SyncBatch) (*SyncResult, error)

	// PostReceipts posts a device's journal entries, live or revoked (an
	// admin uploading a recovered device's journal). A receipt with a bad
	// form, a bad signature, another device's id or rights, or a chain
	// link that contradicts a stored neighbour is rejected whole; one
	// whose (device, seq) is stored with the same hash is a duplicate and
	// changes nothing; one whose (device, seq) is stored with another
	// hash is rejected as a fork. Each item of a new receipt posts first
	// from its right's escrow; once the right is released, from the
	// household's available balance, never more than the right's
	// Quantity in all; what remains is recorded as a Loss.
	PostReceipts(ctx context.Context, deviceID int64, receipts []*OfflineReceipt) ([]ReceiptResult, error)

	// ExpireRights releases every right expired at the service's clock
	// and returns how many.
	ExpireRights(ctx context.Context) (int, error)

	// FindRights lists the device's rights, released ones included,
	// oldest first. ENOTFOUND for an unknown device.
	FindRights(ctx context.Context, deviceID int64) ([]*Right, error)

	// FindLosses lists the losses recorded at the point, oldest first.
	FindLosses(ctx context.Context, pointID int64) ([]*Loss, error)

	// FindGrantBalances returns the O1 account of each of the household's
	// grants in the period. ENOTFOUND for an unknown household.
	FindGrantBalances(ctx context.Context, householdID string, period Period) ([]*GrantBalance, error)
}

// HomePointService sets households' home points.
type HomePointService interface {
	// SetHomePoint makes pointID the household's home point. Registrars
	// and admins. ENOTFOUND for an unknown household or point.
	SetHomePoint(ctx context.Context, householdID string, pointID int64) error
}
