package canasta

import (
	"context"
	"time"
)

// PortalTokenPrefix starts every portal session secret, so a leaked one is
// recognisable and never mistaken for a staff token.
const PortalTokenPrefix = "cnsp_"

// PortalSession is a person's signed-in session in the portal. It reaches
// one household's data only: the household of the card used to sign in.
type PortalSession struct {
	HouseholdID string    `json:"household_id"`
	CardID      string    `json:"card_id"`
	CreatedAt   time.Time `json:"created_at"`
	ExpiresAt   time.Time `json:"expires_at"`
}

// PortalService signs people in with their card and PIN.
type PortalService interface {
	// Login checks the PIN of a card (its id or its scanned code) and
	// starts a session for the card's household, returning the session and
	// its secret, which is not kept. EUNAUTHORIZED for an unknown, revoked
	// or expired card or a wrong PIN, with one message for all so that a
	// guesser learns nothing; EFORBIDDEN while the card is locked after
	// repeated wrong PINs (each lock is an audit entry).
	Login(ctx context.Context, card, pin string) (*PortalSession, string, error)

	// Authenticate returns the live session of a secret. EUNAUTHORIZED if
	// unknown, ended or expired.
	Authenticate(ctx context.Context, secret string) (*PortalSession, error)

	// Logout ends the session of a secret; ending an ended one is not an
	// error.
	Logout(ctx context.Context, secret string) error
}

// PortalStore keeps portal sessions and PIN failures; each store
// implements it.
type PortalStore interface {
	// CardLockedUntil returns when the card's lock ends, or the zero time.
	CardLockedUntil(ctx context.Context, cardID string) (time.Time, error)
	// RecordPINFailure counts a wrong PIN for the card. The max-th failure
	// in a row locks the card until now+lockFor, resets the count and
	// appends an audit entry; it reports whether it locked.
	RecordPINFailure(ctx context.Context, cardID string, max int, lockFor time.Duration) (bool, error)
	// ClearPINFailures resets the count after a right PIN.
	ClearPINFailures(ctx context.Context, cardID string) error
	// CreatePortalSession stores a session under the hash of its secret.
	CreatePortalSession(ctx context.Context, s *PortalSession, secretHash []byte) error
	// FindPortalSession returns the session stored under a secret hash.
	// ENOTFOUND if none or expired.
	FindPortalSession(ctx context.Context, secretHash []byte) (*PortalSession, error)
	// DeletePortalSession ends a session.
	DeletePortalSession(ctx context.Context, secretHash []byte) error
}

// HouseholdRecords are the reads the portal serves a signed-in household,
// never logged as staff access: the person reads their own record.
type HouseholdRecords interface {
	// FindRedemptionsByHousehold lists the household's receipts, newest
	// first.
	FindRedemptionsByHousehold(ctx context.Context, householdID string) ([]*Redemption, error)
}

type portalContextKey struct{}

// NewContextWithPortalSession returns a copy of ctx carrying the person's
// session.
func NewContextWithPortalSession(ctx context.Context, s *PortalSession) context.Context {
	return context.WithValue(ctx, portalContextKey{}, s)
}

// PortalSessionFromContext returns the session in ctx, or nil.
func PortalSessionFromContext(ctx context.Context) *PortalSession {
	s, _ := ctx.Value(portalContextKey{}).(*PortalSession)
	return s
}
