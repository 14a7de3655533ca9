package card

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"time"

	"github.com/canasta/canasta"
)

// Portal signs people in to the person portal with their card and PIN.
// The PIN is the card's, checked against its argon2id hash; repeated wrong
// PINs lock the card for a while, so a stolen card cannot be brute-forced
// online (a 6-digit PIN has a million values; five tries per lock period
// make guessing it take years).
type Portal struct {
	Cards *Service
	Store canasta.PortalStore

	// MaxFailures wrong PINs in a row lock the card for LockFor.
	MaxFailures int
	LockFor     time.Duration
	// SessionTTL bounds a session's life.
	SessionTTL time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

var _ canasta.PortalService = (*Portal)(nil)

// Portal defaults.
const (
	DefaultMaxPINFailures = 5
	DefaultPINLock        = 15 * time.Minute
	DefaultSessionTTL     = 30 * time.Minute
)

// NewPortal returns a portal over the card service and a portal store,
// with the default limits.
func NewPortal(cards *Service, store canasta.PortalStore) *Portal {
	return &Portal{Cards: cards, Store: store, MaxFailures: DefaultMaxPINFailures, LockFor: DefaultPINLock, SessionTTL: DefaultSessionTTL}
}

func (p *Portal) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

var errSignIn = canasta.Errorf(canasta.EUNAUTHORIZED, "The card or PIN is not right.")

// Login checks the card's PIN and starts a session for its household.
func (p *Portal) Login(ctx context.Context, card, pin string) (*canasta.PortalSession, string, error) {
	card, pin = strings.TrimSpace(card), strings.TrimSpace(pin)
	if card == "" || pin == "" {
		return nil, "", canasta.Errorf(canasta.EINVALID, "Enter the card (its number or the code under the QR) and the PIN.")
	}
	c, err := p.findCard(ctx, card)
	if err != nil {
		return nil, "", err
	}
	now := p.now()
	until, err := p.Store.CardLockedUntil(ctx, c.ID)
	if err != nil {
		return nil, "", err
	}
	if now.Before(until) {
		return nil, "", canasta.Errorf(canasta.EFORBIDDEN, "This card is locked after too many wrong PINs until %s UTC. Ask at a registration office if you forgot the PIN.", until.UTC().Format("2006-01-02 15:04"))
	}
	if c.RevokedAt != nil || !now.Before(c.ExpiresAt) {
		return nil, "", errSignIn
	}
	ok, err := p.Cards.CheckPIN(ctx, c.ID, pin)
	if err != nil {
		return nil, "", err
	}
	if !ok {
		locked, err := p.Store.RecordPINFailure(ctx, c.ID, p.MaxFailures, p.LockFor)
		if err != nil {
			return nil, "", err
		}
		if locked {
			return nil, "", canasta.Errorf(canasta.EFORBIDDEN, "Too many wrong PINs: this card is locked for %d minutes.", int(p.LockFor.Minutes()))
		}
		return nil, "", errSignIn
	}
	if err := p.Store.ClearPINFailures(ctx, c.ID); err != nil {
		return nil, "", err
	}
	secret := newPortalSecret()
	s := &canasta.PortalSession{HouseholdID: c.HouseholdID, CardID: c.ID, CreatedAt: now.UTC(), ExpiresAt: now.Add(p.SessionTTL).UTC()}
	if err := p.Store.CreatePortalSession(ctx, s, canasta.HashTokenSecret(secret)); err != nil {
		return nil, "", err
	}
	return s, secret, nil
}

// findCard resolves a card id or a scanned code to the card's newest
// version; an unknown card is the same failure as a wrong PIN.
func (p *Portal) findCard(ctx context.Context, card string) (*canasta.Card, error) {
	id := card
	if strings.HasPrefix(card, Prefix) {
		c, err := p.Cards.VerifyCode(ctx, card)
		if err != nil {
			return nil, errSignIn
		}
		id = c.ID
	}
	c, err := p.Cards.FindCardByID(ctx, id)
	if canasta.ErrorCode(err) == canasta.ENOTFOUND {
		return nil, errSignIn
	} else if err != nil {
		return nil, err
	}
	return c, nil
}

// Authenticate returns the live session of a secret.
func (p *Portal) Authenticate(ctx context.Context, secret string) (*canasta.PortalSession, error) {
	if !strings.HasPrefix(secret, canasta.PortalTokenPrefix) {
		return nil, canasta.Errorf(canasta.EUNAUTHORIZED, "Sign in to the portal with your card and PIN.")
	}
	s, err := p.Store.FindPortalSession(ctx, canasta.HashTokenSecret(secret))
	if canasta.ErrorCode(err) == canasta.ENOTFOUND || err == nil && !p.now().Before(s.ExpiresAt) {
		return nil, canasta.Errorf(canasta.EUNAUTHORIZED, "The portal session has ended; sign in again with your card and PIN.")
	} else if err != nil {
		return nil, err
	}
	return s, nil
}

// Logout ends a session.
func (p *Portal) Logout(ctx context.Context, secret string) error {
	return p.Store.DeletePortalSession(ctx, canasta.HashTokenSecret(secret))
}

func newPortalSecret() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("card: crypto/rand failed: " + err.Error())
	}
	return canasta.PortalTokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}
