package card

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/canasta/canasta"
	"github.com/fxamacker/cbor/v2"
)

// Revoked names one revoked card version.
type Revoked struct {
	CardID  string `json:"card_id"`
	Version int    `json:"version"`
}

// RevocationList is a signed list of revoked card versions, so a point can
// refuse a lost or replaced card while offline. An entry revokes exactly
// its (card id, version) pair: revoking version 2 says nothing of version
// 1 or 3, so the issuer lists every version it withdraws, and a card
// reissued after a revocation is not caught by it.
//
// Signed, it is a COSE_Sign1 over a CBOR map {6: iat, 4: exp, -70002:
// [[card id, version], …]}, entries sorted.
type RevocationList struct {
	IssuedAt time.Time `json:"issued_at"`
	Expires  time.Time `json:"expires"`
	Entries  []Revoked `json:"entries"`

	index map[Revoked]struct{}
}

// Revoked reports whether this exact card version is on the list.
func (l *RevocationList) Revoked(cardID string, version int) bool {
	r := Revoked{CardID: cardID, Version: version}
	if l.index != nil {
		_, ok := l.index[r]
		return ok
	}
	return slices.Contains(l.Entries, r)
}

func (l *RevocationList) validate() error {
	if l.IssuedAt.IsZero() || l.IssuedAt.Unix() < 0 || l.Expires.Unix() <= l.IssuedAt.Unix() {
		return canasta.Errorf(canasta.EINVALID, "A revocation list needs an issue time and a later expiry.")
	}
	for _, e := range l.Entries {
		if !opaqueRE.MatchString(e.CardID) || e.Version < 1 || e.Version > math.MaxInt32 {
			return canasta.Errorf(canasta.EINVALID, "Revocation entry %q version %d is not a card id and version.", e.CardID, e.Version)
		}
	}
	return nil
}

// SignRevocations signs a revocation list with k.
func SignRevocations(k *Key, l RevocationList) ([]byte, error) {
	if err := l.validate(); err != nil {
		return nil, err
	}
	entries := slices.Clone(l.Entries)
	slices.SortFunc(entries, func(a, b Revoked) int {
		if c := strings.Compare(a.CardID, b.CardID); c != 0 {
			return c
		}
		return a.Version - b.Version
	})
	entries = slices.Compact(entries)
	list := make([][]any, len(entries))
	for i, e := range entries {
		list[i] = []any{e.CardID, uint64(e.Version)}
	}
	payload, err := encMode.Marshal(map[int64]any{
		claimIssuedAt: l.IssuedAt.Unix(),
		claimExpires:  l.Expires.Unix(),
		ClaimRevoked:  list,
	})
	if err != nil {
		return nil, fmt.Errorf("sign revocations: %w", err)
	}
	b, err := sign1(k, l.IssuedAt, payload)
	if err != nil {
		return nil, fmt.Errorf("sign revocations: %w", err)
	}
	return b, nil
}

// MaxRevocationBytes bounds a signed revocation list.
const MaxRevocationBytes = 64 << 20

var revocationDecMode = func() cbor.DecMode {
	m, err := cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		IntDec:           cbor.IntDecConvertSignedOrFail,
		IndefLength:      cbor.IndefLengthForbidden,
		TagsMd:           cbor.TagsForbidden,
		MaxArrayElements: math.MaxInt32,
		MaxNestedLevels:  4,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return m
}()

type revocationPayload struct {
	IssuedAt int64      `cbor:"6,keyasint"`
	Expires  int64      `cbor:"4,keyasint"`
	Entries  []revEntry `cbor:"-70002,keyasint"`
}

type revEntry struct {
	_       struct{} `cbor:",toarray"`
	CardID  string
	Version int64
}

// VerifyRevocations checks a signed revocation list against keys and
// returns it. A list expired at at (now when zero), issued after it, or
// signed by a key not in service at its issue time fails with a
// *VerifyError.
func VerifyRevocations(b []byte, keys *KeySet, at time.Time) (*RevocationList, error) {
	if len(b) > MaxRevocationBytes {
		return nil, &VerifyError{Step: StepCOSE, Err: fmt.Errorf("revocation list of %d bytes is too large", len(b))}
	}
	s, err := openSign1(b, keys)
	if err != nil {
		return nil, err
	}
	l, err := decodeRevocations(s.payload)
	if err != nil {
		return nil, &VerifyError{Step: StepClaims, Err: err}
	}
	t := &cwt{issuedAt: l.IssuedAt, expires: l.Expires}
	if err := checkTimes(t, s.key, at, DefaultSkew); err != nil {
		return nil, err
	}
	return l, nil
}

func decodeRevocations(payload []byte) (*RevocationList, error) {
	var keys map[int64]cbor.RawMessage
	if err := revocationDecMode.Unmarshal(payload, &keys); err != nil {
		return nil, fmt.Errorf("revocation list is not a CBOR map: %w", err)
	}
	if len(keys) != 3 {
		return nil, errors.New("revocation list must hold exactly iat, exp and its entries")
	}
	var p revocationPayload
	if err := revocationDecMode.Unmarshal(payload, &p); err != nil {
		return nil, fmt.Errorf("revocation list: %w", err)
	}
	if _, ok := keys[ClaimRevoked]; !ok {
		return nil, errors.New("revocation list has no entries claim")
	}
	l := &RevocationList{
		IssuedAt: time.Unix(p.IssuedAt, 0).UTC(),
		Expires:  time.Unix(p.Expires, 0).UTC(),
		Entries:  make([]Revoked, len(p.Entries)),
		index:    make(map[Revoked]struct{}, len(p.Entries)),
	}
	for i, e := range p.Entries {
		if e.Version > math.MaxInt32 {
			return nil, fmt.Errorf("entry %d: version out of range", i)
		}
		l.Entries[i] = Revoked{CardID: e.CardID, Version: int(e.Version)}
		l.index[l.Entries[i]] = struct{}{}
	}
	if p.IssuedAt <= 0 || p.Expires <= 0 {
		return nil, errors.New("revocation list needs iat and exp")
	}
	if err := l.validate(); err != nil {
		return nil, errors.New(canasta.ErrorMessage(err))
	}
	return l, nil
}
