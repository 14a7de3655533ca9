package card

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/canasta/canasta"
)

// Defaults of a Service.
const (
	// DefaultValidity is how long a card is valid: long enough that
	// households are not sent back to a registrar every year, short enough
	// that a lost card does not work for ever where the revocation list
	// does not reach.
	DefaultValidity = 5 * 365 * 24 * time.Hour
	// DefaultRevocationTTL is how long a signed revocation list counts;
	// points must fetch a fresh one within it.
	DefaultRevocationTTL = 24 * time.Hour
)

// DefaultPINParams hash a 6-digit PIN with argon2id: a PIN has only a
// million values, so the hash must be slow and memory-hard to make
// guessing from a stolen database expensive.
var DefaultPINParams = &argon2id.Params{Memory: 64 * 1024, Iterations: 2, Parallelism: 2, SaltLength: 16, KeyLength: 32}

// Service issues, verifies and revokes cards on a CardStore. It holds the
// cryptography; the store only keeps rows. Keys are read from the store on
// every call, so a key rotated or retired by another process counts at
// once; parsed keys are kept, as a stored key never changes but for its
// retirement time.
type Service struct {
	store  canasta.CardStore
	issuer string

	// Now is the clock for issue, expiry and verification times.
	Now func() time.Time
	// Validity is how long a new card is valid.
	Validity time.Duration
	// RevocationTTL is how long a signed revocation list is valid.
	RevocationTTL time.Duration
	// PINParams are the argon2id parameters for PIN hashes.
	PINParams *argon2id.Params

	mu     sync.Mutex
	parsed map[string]*Key // by hex kid, which a key's public half fixes
}

var _ canasta.CardService = (*Service)(nil)

// NewService returns a card service on store whose cards name issuer.
func NewService(store canasta.CardStore, issuer string) *Service {
	return &Service{
		store:         store,
		issuer:        issuer,
		Now:           time.Now,
		Validity:      DefaultValidity,
		RevocationTTL: DefaultRevocationTTL,
		PINParams:     DefaultPINParams,
		parsed:        map[string]*Key{},
	}
}

// now is the clock in whole seconds: tokens carry times in seconds, so a
// card signed at a fraction of a second would read back as signed before
// the key that signed it came into service.
func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now().UTC().Truncate(time.Second)
	}
	return s.Now().UTC().Truncate(time.Second)
}

// IssueCard issues the household's next card version, signed by the newest
// key in service (made if there is none), with a fresh PIN.
func (s *Service) IssueCard(ctx context.Context, householdID string) (*canasta.IssuedCard, error) {
	at := s.now()
	key, err := s.signingKey(ctx, at)
	if err != nil {
		return nil, fmt.Errorf("issue card for %s: %w", householdID, err)
	}
	pin, err := newPIN()
	if err != nil {
		return nil, fmt.Errorf("issue card for %s: %w", householdID, err)
	}
	hash, err := argon2id.CreateHash(pin, s.pinParams())
	if err != nil {
		return nil, fmt.Errorf("issue card for %s: hash PIN: %w", householdID, err)
	}
	c := &canasta.Card{
		HouseholdID: householdID,
		KeyID:       key.id,
		IssuedAt:    at,
		ExpiresAt:   at.Add(s.validity()),
		PINHash:     hash,
	}
	sign := func(c *canasta.Card) (string, error) {
		return Issue(key.Key, Claims{Issuer: s.issuer, IssuedAt: c.IssuedAt, Expires: c.ExpiresAt,
			CardID: c.ID, Version: c.Version, Household: c.HouseholdID}, "")
	}
	if err := s.store.CreateCard(ctx, c, sign); err != nil {
		return nil, fmt.Errorf("issue card for %s: %w", householdID, err)
	}
	return &canasta.IssuedCard{CardID: c.ID, Version: c.Version, Code: c.Code, PIN: pin}, nil
}

// CheckPIN reports whether pin is the PIN of the card's newest version.
// ENOTFOUND for an unknown card.
func (s *Service) CheckPIN(ctx context.Context, cardID, pin string) (bool, error) {
	c, err := s.store.FindCardByID(ctx, cardID)
	if err != nil {
		return false, fmt.Errorf("check PIN of %s: %w", cardID, err)
	}
	ok, err := argon2id.ComparePasswordAndHash(pin, c.PINHash)
	if err != nil {
		return false, fmt.Errorf("check PIN of %s: %w", cardID, err)
	}
	return ok, nil
}

// FindCardByID returns the card's newest version.
func (s *Service) FindCardByID(ctx context.Context, id string) (*canasta.Card, error) {
	c, err := s.store.FindCardByID(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("find card %s: %w", id, err)
	}
	return c, nil
}

// RevokeCard revokes the card's newest version.
func (s *Service) RevokeCard(ctx context.Context, id string) error {
	if err := s.store.RevokeCard(ctx, id); err != nil {
		return fmt.Errorf("revoke card %s: %w", id, err)
	}
	return nil
}

// VerifyCode checks a scanned code against every stored key and the store's
// record of the card: only the newest, unrevoked version of a card passes.
func (s *Service) VerifyCode(ctx context.Context, code string) (*canasta.Card, error) {
	keys, _, err := s.keySet(ctx)
	if err != nil {
		return nil, fmt.Errorf("verify card code: %w", err)
	}
	var at time.Time // zero: the verifier reads the real clock
	if s.Now != nil {
		at = s.Now()
	}
	claims, err := VerifyCard(code, VerifyOptions{Keys: keys, At: at})
	if err != nil {
		return nil, fmt.Errorf("verify card code: %w", err)
	}
	c, err := s.store.FindCardByID(ctx, claims.CardID)
	if canasta.ErrorCode(err) == canasta.ENOTFOUND {
		return nil, canasta.Errorf(canasta.EINVALID, "This card is not known to the registry.")
	} else if err != nil {
		return nil, fmt.Errorf("verify card %s: %w", claims.CardID, err)
	}
	switch {
	case claims.Household != c.HouseholdID || claims.Version > c.Version:
		// Only a holder of a signing key could make such a card.
		return nil, canasta.Errorf(canasta.EINVALID, "This card does not match the registry's record of it.")
	case claims.Version < c.Version:
		return nil, canasta.Errorf(canasta.ECONFLICT, "This card was replaced by a newer card (version %d); use the new one.", c.Version)
	case c.RevokedAt != nil:
		return nil, canasta.Errorf(canasta.ECONFLICT, "This card has been revoked.")
	}
	return c, nil
}

// RotateKey adds a new signing key, which signs every card from now on.
func (s *Service) RotateKey(ctx context.Context) (*canasta.SigningKey, error) {
	k, err := s.createKey(ctx, s.now())
	if err != nil {
		return nil, fmt.Errorf("rotate card key: %w", err)
	}
	return k.stored, nil
}

// RetireKey retires the key with this kid, in hex as the store and the
// command line show it or in base64url as /cards/keys publishes it: it is
// no longer published or trusted, so the cards it signed stop verifying
// (rotate first and re-issue them). ENOTFOUND for an unknown kid,
// ECONFLICT if retired.
func (s *Service) RetireKey(ctx context.Context, kid string) error {
	want, err := hex.DecodeString(kid)
	if err != nil || len(want) == 0 {
		if want, err = base64.RawURLEncoding.DecodeString(kid); err != nil || len(want) == 0 {
			return canasta.Errorf(canasta.EINVALID, "Key id %q is neither hex nor unpadded base64url.", kid)
		}
	}
	sks, err := s.store.FindSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("retire card key %s: %w", kid, err)
	}
	for _, sk := range sks {
		if have, err := hex.DecodeString(sk.KID); err == nil && bytes.Equal(have, want) {
			if sk.RetiredAt != nil {
				return canasta.Errorf(canasta.ECONFLICT, "Key %s was already retired at %s.", sk.KID, sk.RetiredAt.UTC().Format(time.RFC3339))
			}
			if err := s.store.RetireSigningKey(ctx, sk.ID); err != nil {
				return fmt.Errorf("retire card key %s: %w", kid, err)
			}
			return nil
		}
	}
	return canasta.Errorf(canasta.ENOTFOUND, "No card key has kid %q.", kid)
}

// FindSigningKeys lists the stored keys, oldest first.
func (s *Service) FindSigningKeys(ctx context.Context) ([]*canasta.SigningKey, error) {
	sks, err := s.store.FindSigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("find card keys: %w", err)
	}
	return sks, nil
}

// PublicKeysResponse is the published key list: {"keys": [...]}.
type PublicKeysResponse struct {
	Keys []PublicKey `json:"keys"`
}

// PublicKeys returns the public half of every key still trusted, as
// PublicKeysResponse JSON; retired keys are left out.
func (s *Service) PublicKeys(ctx context.Context) ([]byte, error) {
	_, keys, err := s.keySet(ctx)
	if err != nil {
		return nil, fmt.Errorf("public card keys: %w", err)
	}
	resp := PublicKeysResponse{Keys: make([]PublicKey, len(keys))}
	for i, k := range keys {
		resp.Keys[i] = k.Public()
	}
	b, err := json.Marshal(resp)
	if err != nil {
		return nil, fmt.Errorf("public card keys: %w", err)
	}
	return b, nil
}

// SignedRevocations returns a COSE_Sign1 revocation list (see
// VerifyRevocations) of every revoked card version, valid for
// RevocationTTL.
func (s *Service) SignedRevocations(ctx context.Context) ([]byte, error) {
	at := s.now()
	key, err := s.signingKey(ctx, at)
	if err != nil {
		return nil, fmt.Errorf("sign revocations: %w", err)
	}
	revoked, err := s.store.FindRevokedCards(ctx)
	if err != nil {
		return nil, fmt.Errorf("sign revocations: %w", err)
	}
	l := RevocationList{IssuedAt: at, Expires: at.Add(s.revocationTTL()), Entries: make([]Revoked, len(revoked))}
	for i, r := range revoked {
		l.Entries[i] = Revoked{CardID: r.CardID, Version: r.Version}
	}
	b, err := SignRevocations(key.Key, l)
	if err != nil {
		return nil, fmt.Errorf("sign revocations: %w", err)
	}
	return b, nil
}

// storedKey is a parsed key with its store record.
type storedKey struct {
	*Key
	id     int64
	stored *canasta.SigningKey
}

// signingKey returns the newest key that may sign at at, creating one if
// none may: on the first issue, or after every key was retired.
func (s *Service) signingKey(ctx context.Context, at time.Time) (storedKey, error) {
	_, keys, err := s.keySet(ctx)
	if err != nil {
		return storedKey{}, err
	}
	for i := len(keys) - 1; i >= 0; i-- {
		if keys[i].Public().signedAt(at) {
			return keys[i], nil
		}
	}
	return s.createKey(ctx, at)
}

func (s *Service) createKey(ctx context.Context, at time.Time) (storedKey, error) {
	k, err := GenerateKey()
	if err != nil {
		return storedKey{}, err
	}
	k.CreatedAt = at
	pemBytes, err := k.MarshalPrivate()
	if err != nil {
		return storedKey{}, err
	}
	sk := &canasta.SigningKey{KID: hex.EncodeToString(k.KID), Alg: k.Alg, Private: pemBytes, CreatedAt: at}
	if err := s.store.CreateSigningKey(ctx, sk); err != nil {
		return storedKey{}, err
	}
	s.mu.Lock()
	s.parsed[sk.KID] = k
	s.mu.Unlock()
	return storedKey{Key: k, id: sk.ID, stored: sk}, nil
}

// keySet reads every stored key and returns the verification set and the
// keys oldest first, with their stored periods.
func (s *Service) keySet(ctx context.Context) (*KeySet, []storedKey, error) {
	sks, err := s.store.FindSigningKeys(ctx)
	if err != nil {
		return nil, nil, err
	}
	keys := make([]storedKey, 0, len(sks))
	pubs := make([]PublicKey, 0, len(sks))
	for _, sk := range sks {
		if sk.RetiredAt != nil {
			continue // a retired key is no longer trusted: its cards stop verifying
		}
		k, err := s.parse(sk)
		if err != nil {
			return nil, nil, err
		}
		keys = append(keys, storedKey{Key: k, id: sk.ID, stored: sk})
		pubs = append(pubs, k.Public())
	}
	set, err := NewKeySet(pubs...)
	if err != nil {
		return nil, nil, err
	}
	return set, keys, nil
}

// parse returns the stored key as a Key with the stored period. The parsed
// key is kept; the period is not, since retiring changes it.
func (s *Service) parse(sk *canasta.SigningKey) (*Key, error) {
	s.mu.Lock()
	k, ok := s.parsed[sk.KID]
	s.mu.Unlock()
	if !ok {
		var err error
		if k, err = ParseKey(sk.Private); err != nil {
			return nil, fmt.Errorf("card key %d: %w", sk.ID, err)
		}
		if hex.EncodeToString(k.KID) != sk.KID {
			return nil, fmt.Errorf("card key %d: stored kid %s does not match its key %x", sk.ID, sk.KID, k.KID)
		}
		s.mu.Lock()
		s.parsed[sk.KID] = k
		s.mu.Unlock()
	}
	out := *k
	out.CreatedAt = sk.CreatedAt
	out.RetiredAt = time.Time{}
	if sk.RetiredAt != nil {
		out.RetiredAt = *sk.RetiredAt
	}
	return &out, nil
}

func (s *Service) validity() time.Duration {
	if s.Validity <= 0 {
		return DefaultValidity
	}
	return s.Validity
}

func (s *Service) revocationTTL() time.Duration {
	if s.RevocationTTL <= 0 {
		return DefaultRevocationTTL
	}
	return s.RevocationTTL
}

func (s *Service) pinParams() *argon2id.Params {
	if s.PINParams == nil {
		return DefaultPINParams
	}
	return s.PINParams
}

// PINDigits is the length of a card's PIN.
const PINDigits = 6

// newPIN returns a uniformly random PIN of PINDigits digits.
func newPIN() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", errors.New("crypto/rand failed: " + err.Error())
	}
	pin := strconv.FormatInt(n.Int64(), 10)
	return strings.Repeat("0", PINDigits-len(pin)) + pin, nil
}
