package canasta

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"strings"
	"time"
	"unicode/utf8"
)

// RedemptionRequest asks to debit quantities from a household's current
// entitlements at a point. RequestID is chosen by the client and makes
// retries safe.
type RedemptionRequest struct {
	RequestID   string           `json:"request_id"`
	PointID     int64            `json:"point_id"`
	HouseholdID string           `json:"household_id"`
	Items       []RedemptionItem `json:"items"`
}

// RedemptionItem is one program's quantity in a redemption. Remaining is
// filled in on receipts.
type RedemptionItem struct {
	ProgramID int64 `json:"program_id"`
	Quantity  int64 `json:"quantity"`
	Remaining int64 `json:"remaining"`
}

// Redemption is a committed receipt.
type Redemption struct {
	ID          int64            `json:"id"`
	RequestID   string           `json:"request_id"`
	HouseholdID string           `json:"household_id"`
	PointID     int64            `json:"point_id"`
	Period      Period           `json:"period"`
	Items       []RedemptionItem `json:"items"`
	CreatedAt   time.Time        `json:"created_at"`
	// Audit is the receipt's entry in the audit log.
	Audit *AuditRef `json:"audit,omitempty"`
}

// MaxRedemptionItems bounds one request.
const MaxRedemptionItems = 32

// Validate checks a request's form.
func (r *RedemptionRequest) Validate() error {
	if r.RequestID == "" || len(r.RequestID) > 128 || strings.TrimSpace(r.RequestID) != r.RequestID || !utf8.ValidString(r.RequestID) {
		return Errorf(EINVALID, "request_id is required (1 to 128 characters of UTF-8, no surrounding spaces).")
	}
	if r.PointID <= 0 {
		return Errorf(EINVALID, "point_id is required.")
	}
	if r.HouseholdID == "" {
		return Errorf(EINVALID, "household_id is required.")
	}
	if len(r.Items) == 0 || len(r.Items) > MaxRedemptionItems {
		return Errorf(EINVALID, "A redemption needs 1 to %d items.", MaxRedemptionItems)
	}
	seen := map[int64]bool{}
	for _, it := range r.Items {
		if it.Quantity <= 0 {
			return Errorf(EINVALID, "Item quantity for program %d must be positive.", it.ProgramID)
		}
		if seen[it.ProgramID] {
			return Errorf(EINVALID, "Program %d appears twice in one redemption.", it.ProgramID)
		}
		seen[it.ProgramID] = true
	}
	return nil
}

// Fingerprint is a digest of what the request asks for, so a retry with
// the same request id can be told apart from a different request reusing it.
func (r *RedemptionRequest) Fingerprint() []byte {
	h := sha256.New()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(r.PointID))
	h.Write(b[:])
	h.Write([]byte(r.HouseholdID))
	h.Write([]byte{0})
	for _, it := range r.Items {
		binary.BigEndian.PutUint64(b[:], uint64(it.ProgramID))
		h.Write(b[:])
		binary.BigEndian.PutUint64(b[:], uint64(it.Quantity))
		h.Write(b[:])
	}
	return h.Sum(nil)
}

// RedemptionService is the ledger's redemption path.
type RedemptionService interface {
	// Redeem debits every item from the household's entitlements for the
	// period current at the service's clock, all or none, and returns the
	// receipt once it is durably committed. Operators and admins.
	//
	// Invariants: no entitlement's remaining quantity goes below zero; a
	// request id has at most one effect. A repeated request id with the same
	// body returns the original receipt and replay=true; with a different
	// body it is ECONFLICT. A quantity above what remains is ECONFLICT and
	// debits nothing. ENOTFOUND for an unknown household, point or program
	// grant; EINVALID for a malformed request.
	Redeem(ctx context.Context, req *RedemptionRequest) (receipt *Redemption, replay bool, err error)

	// FindRedemptionByRequestID returns a committed receipt. ENOTFOUND.
	FindRedemptionByRequestID(ctx context.Context, requestID string) (*Redemption, error)
}

// RedeemResult is one request's outcome in a batch: a receipt (a replay
// when the request id was already spent by the same request) or the
// application error that refused it.
type RedeemResult struct {
	Receipt *Redemption
	Replay  bool
	Err     error
}

// RedemptionBatcher is the store side of group commit: many redemptions
// applied in one transaction that becomes durable with one commit.
type RedemptionBatcher interface {
	// RedeemBatch applies reqs in order, each as Redeem would and as if one
	// after another, so a request id repeated in the batch is a replay of
	// its first use (or ECONFLICT for a different body). A request refused
	// with an application error leaves no trace and does not affect the
	// others. results[i] answers reqs[i]; results count only when err is
	// nil, which means the whole batch is durably committed. A non-nil err
	// means nothing of the batch was committed, or, if the commit itself
	// failed, that the outcome is unknown: a client may then retry with the
	// same request ids, which have at most one effect.
	RedeemBatch(ctx context.Context, reqs []*RedemptionRequest) (results []RedeemResult, err error)
}
