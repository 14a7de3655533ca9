// Package card is the household card's credential: a CBOR Web Token
// (RFC 8392) signed as COSE_Sign1, zlib-compressed, Base45-encoded (RFC
// 9285) behind a "CN1:" prefix and drawn as a QR code: the stack of EU
// Digital COVID Certificates and MOSIP Claim 169. The verifying layers are
// generic, so the same code checks an EU health certificate given its
// "HC1:" prefix and signing certificate. It also signs and checks
// revocation lists, and prints the card. It holds no store and no HTTP.
//
// The token's Canasta claim is a private CWT claim, key ClaimCard
// (-70001), whose value is a map with integer keys:
//
//	1: card id (text)
//	2: card version (unsigned integer, from 1)
//	3: household reference (text: the registry's opaque random id)
//
// Besides it the token carries iss (1), exp (4) and iat (6). The card holds
// no name, birth date or national id: the QR code may be photographed by
// anyone it is shown to.
package card

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"time"

	"github.com/canasta/canasta"
	"github.com/fxamacker/cbor/v2"
)

// Prefix starts every Canasta card code; it names the format's version.
const Prefix = "CN1:"

// CWT claim keys: the registered ones Canasta uses (RFC 8392) and its
// private ones, negative so they cannot collide with registered claims.
const (
	claimIssuer    int64 = 1
	claimExpires   int64 = 4
	claimNotBefore int64 = 5
	claimIssuedAt  int64 = 6

	// ClaimCard holds the card map in a card's token.
	ClaimCard int64 = -70001
	// ClaimRevoked holds the entries of a revocation list.
	ClaimRevoked int64 = -70002
)

// Keys of the map under ClaimCard.
const (
	cardKeyID        int64 = 1
	cardKeyVersion   int64 = 2
	cardKeyHousehold int64 = 3
)

// Claims is what a card asserts.
type Claims struct {
	Issuer    string    `json:"iss"`
	IssuedAt  time.Time `json:"iat"`
	Expires   time.Time `json:"exp"`
	CardID    string    `json:"card_id"`
	Version   int       `json:"version"`
	Household string    `json:"household"`
}

// opaqueRE admits the registry's opaque ids and refuses anything that
// could be a name, a date or a national id written with separators.
var opaqueRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Validate checks the claims before they are signed.
func (c *Claims) Validate() error {
	if c.Issuer == "" || len(c.Issuer) > 200 {
		return canasta.Errorf(canasta.EINVALID, "Card issuer is required (at most 200 bytes).")
	}
	if !opaqueRE.MatchString(c.CardID) {
		return canasta.Errorf(canasta.EINVALID, "Card id must be 1 to 64 letters, digits, '_' or '-'.")
	}
	if c.Version < 1 || c.Version > math.MaxInt32 {
		return canasta.Errorf(canasta.EINVALID, "Card version must be at least 1.")
	}
	if !opaqueRE.MatchString(c.Household) {
		return canasta.Errorf(canasta.EINVALID, "Card household reference must be the household's opaque id.")
	}
	if c.IssuedAt.IsZero() || c.IssuedAt.Unix() < 0 {
		return canasta.Errorf(canasta.EINVALID, "Card issue time is required.")
	}
	if c.Expires.Unix() <= c.IssuedAt.Unix() {
		return canasta.Errorf(canasta.EINVALID, "Card must expire after it is issued.")
	}
	return nil
}

// encMode writes CBOR deterministically (RFC 8949 core rules), so the same
// claims always give the same bytes and the same signature.
var encMode = func() cbor.EncMode {
	m, err := cbor.EncOptions{Sort: cbor.SortCoreDeterministic, IndefLength: cbor.IndefLengthForbidden}.EncMode()
	if err != nil {
		panic(err)
	}
	return m
}()

// claimsDecMode reads any issuer's claims: duplicate keys are refused,
// integers come back as int64 (big.Int beyond), nesting is bounded.
var claimsDecMode = func() cbor.DecMode {
	m, err := cbor.DecOptions{
		DupMapKey:       cbor.DupMapKeyEnforcedAPF,
		IntDec:          cbor.IntDecConvertSignedOrBigInt,
		MaxNestedLevels: 16,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return m
}()

// encodeClaims returns the CWT claims set of a card.
func encodeClaims(c Claims) ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return encMode.Marshal(map[int64]any{
		claimIssuer:   c.Issuer,
		claimIssuedAt: c.IssuedAt.Unix(),
		claimExpires:  c.Expires.Unix(),
		ClaimCard: map[int64]any{
			cardKeyID:        c.CardID,
			cardKeyVersion:   uint64(c.Version),
			cardKeyHousehold: c.Household,
		},
	})
}

// Issue returns the code of a card signed by k: prefix (Prefix when empty)
// and the Base45 text of the zlib-compressed COSE_Sign1 of the claims.
func Issue(k *Key, c Claims, prefix string) (string, error) {
	if prefix == "" {
		prefix = Prefix
	}
	payload, err := encodeClaims(c)
	if err != nil {
		return "", err
	}
	msg, err := sign1(k, c.IssuedAt, payload)
	if err != nil {
		return "", fmt.Errorf("issue card %s: %w", c.CardID, err)
	}
	return prefix + Base45Encode(deflate(msg)), nil
}

// cwt is a decoded claims set with its registered claims read.
type cwt struct {
	raw       map[any]any
	issuer    string
	issuedAt  time.Time // zero when absent
	expires   time.Time
	notBefore time.Time
}

// decodeCWT reads a claims set, checking the types of the registered
// claims it uses.
func decodeCWT(payload []byte) (*cwt, error) {
	var raw map[any]any
	if err := claimsDecMode.Unmarshal(payload, &raw); err != nil {
		return nil, fmt.Errorf("claims are not a CBOR map: %w", err)
	}
	if raw == nil {
		return nil, errors.New("claims are not a CBOR map")
	}
	t := &cwt{raw: raw}
	if v, ok := raw[claimIssuer]; ok {
		s, ok := v.(string)
		if !ok {
			return nil, errors.New("iss is not text")
		}
		t.issuer = s
	}
	for _, c := range []struct {
		key  int64
		name string
		dst  *time.Time
	}{{claimIssuedAt, "iat", &t.issuedAt}, {claimExpires, "exp", &t.expires}, {claimNotBefore, "nbf", &t.notBefore}} {
		v, ok := raw[c.key]
		if !ok {
			continue
		}
		tm, err := numericDate(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.name, err)
		}
		*c.dst = tm
	}
	return t, nil
}

// numericDate reads RFC 8392's NumericDate: seconds since the epoch, an
// integer or a float.
func numericDate(v any) (time.Time, error) {
	switch n := v.(type) {
	case int64:
		if n < 0 {
			return time.Time{}, errors.New("date before 1970")
		}
		return time.Unix(n, 0).UTC(), nil
	case float64:
		if math.IsNaN(n) || n < 0 || n > 1<<40 {
			return time.Time{}, errors.New("date out of range")
		}
		sec, frac := math.Modf(n)
		return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("date is %T, not a number", v)
}

// cardClaims reads the Canasta claim, nil when the token has none.
func (t *cwt) cardClaims() (*Claims, error) {
	v, ok := t.raw[ClaimCard]
	if !ok {
		return nil, nil
	}
	m, ok := v.(map[any]any)
	if !ok {
		return nil, errors.New("card claim is not a map")
	}
	if len(m) != 3 {
		return nil, errors.New("card claim must hold exactly id, version and household")
	}
	id, _ := m[cardKeyID].(string)
	ver, _ := m[cardKeyVersion].(int64)
	hh, _ := m[cardKeyHousehold].(string)
	if t.issuer == "" || t.issuedAt.IsZero() || t.expires.IsZero() {
		return nil, errors.New("a card needs iss, iat and exp")
	}
	c := &Claims{Issuer: t.issuer, IssuedAt: t.issuedAt, Expires: t.expires, CardID: id, Version: int(ver), Household: hh}
	if ver < 1 || ver > math.MaxInt32 {
		return nil, errors.New("card version is not a positive integer")
	}
	if err := c.Validate(); err != nil {
		return nil, errors.New(canasta.ErrorMessage(err))
	}
	return c, nil
}
