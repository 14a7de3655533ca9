package canasta

import (
	"context"
	"time"
)

// Card is one version of a household's card. The card id stays the same
// across versions; issuing a new version revokes the previous one. The
// signed code holds only the card id, version and the household's opaque id.
type Card struct {
	ID          string     `json:"card_id"`
	HouseholdID string     `json:"household_id"`
	Version     int        `json:"version"`
	Code        string     `json:"code"` // the signed "CN1:" text the QR carries
	KeyID       int64      `json:"-"`    // the signing key used
	IssuedAt    time.Time  `json:"issued_at"`
	ExpiresAt   time.Time  `json:"expires_at"`
	RevokedAt   *time.Time `json:"revoked_at,omitempty"`
	// PINHash is the argon2id hash of the portal PIN; the PIN itself is
	// shown once at issue and never stored.
	PINHash string `json:"-"`
}

// CardIDPrefix starts every card id.
const CardIDPrefix = "card_"

// IssuedCard is what issuing returns, once: the PIN is not kept.
type IssuedCard struct {
	CardID  string `json:"card_id"`
	Version int    `json:"version"`
	Code    string `json:"code"`
	PIN     string `json:"pin"`
}

// RevokedCard names one revoked card version.
type RevokedCard struct {
	CardID  string `json:"card_id"`
	Version int    `json:"version"`
}

// SigningKey is a card-signing key as stored. Private is the PEM of the
// PKCS#8 private key; servers share keys through the store, so any of them
// can sign and verify.
type SigningKey struct {
	ID        int64      `json:"id"`
	KID       string     `json:"kid"` // hex of the 8-byte key id
	Alg       string     `json:"alg"`
	Private   []byte     `json:"-"`
	CreatedAt time.Time  `json:"created_at"`
	RetiredAt *time.Time `json:"retired_at,omitempty"`
}

// CardStore persists cards and keys. Both stores implement it; package
// card builds the CardService on it.
type CardStore interface {
	// CreateSigningKey stores a new key; the newest key not retired signs.
	CreateSigningKey(ctx context.Context, k *SigningKey) error
	// FindSigningKeys lists every key, oldest first, retired ones included.
	FindSigningKeys(ctx context.Context) ([]*SigningKey, error)
	// RetireSigningKey marks a key retired at the store's clock. ENOTFOUND.
	RetireSigningKey(ctx context.Context, id int64) error

	// CreateCard issues the household's next card version in one
	// transaction: it keeps the household's card id (or makes one with
	// NewID(CardIDPrefix)), sets Version to the previous version + 1,
	// revokes the previous version, sets HouseholdID, ID and Version on c
	// and calls sign(c) for the code before storing c. ENOTFOUND for an
	// unknown household.
	CreateCard(ctx context.Context, c *Card, sign func(c *Card) (string, error)) error
	// FindCardByID returns the card's newest version. ENOTFOUND.
	FindCardByID(ctx context.Context, id string) (*Card, error)
	// RevokeCard revokes the card's newest version. ENOTFOUND; ECONFLICT if
	// it is already revoked.
	RevokeCard(ctx context.Context, id string) error
	// FindRevokedCards lists every revoked card version.
	FindRevokedCards(ctx context.Context) ([]RevokedCard, error)
}

// CardCheck is what a point learns from checking a card: that it is valid
// and what remains, never the person's record.
type CardCheck struct {
	Valid        bool           `json:"valid"`
	CardID       string         `json:"card_id"`
	Version      int            `json:"version"`
	Period       Period         `json:"period"`
	Entitlements []*Entitlement `json:"entitlements"`
	HouseholdID  string         `json:"-"`
}

// CardService issues, verifies and revokes cards.
type CardService interface {
	// IssueCard issues (or re-issues) the household's card and returns it
	// with a fresh PIN. Registrars and admins. ENOTFOUND.
	IssueCard(ctx context.Context, householdID string) (*IssuedCard, error)
	// FindCardByID returns the card's newest version. ENOTFOUND.
	FindCardByID(ctx context.Context, id string) (*Card, error)
	// RevokeCard revokes the card's newest version. ENOTFOUND, ECONFLICT.
	RevokeCard(ctx context.Context, id string) error
	// VerifyCode checks a scanned code's signature, key, times and
	// revocation, and returns the card version it is. EINVALID naming the
	// failed step for a forged, tampered, expired or not-yet-valid code;
	// ECONFLICT for a revoked or superseded card.
	VerifyCode(ctx context.Context, code string) (*Card, error)
	// RotateKey adds a new signing key; cards signed with older keys stay
	// valid until they expire or their key is retired.
	RotateKey(ctx context.Context) (*SigningKey, error)
	// PublicKeys returns the verification keys as JSON for points.
	PublicKeys(ctx context.Context) ([]byte, error)
	// SignedRevocations returns the signed revocation list points download.
	SignedRevocations(ctx context.Context) ([]byte, error)
}
