// Package canasta is the domain of the Canasta benefits-card platform:
// households and the people in them, need-based programs and their rules,
// monthly cycles that grant entitlements, points of service, and the
// redemption ledger. It holds the types, the service contracts every store
// implements, and the application error type. It imports no other package
// of this module.
package canasta

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"time"
)

// Clock returns the current time. Services take one so tests can set time.
type Clock func() time.Time

// idEncoding is lower-case base32 without padding: opaque, URL-safe and
// unambiguous when read aloud or typed from paper.
var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewID returns a random opaque identifier with the given prefix, such as
// "hh_" for households. It carries no personal data and no sequence.
func NewID(prefix string) string {
	var b [10]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("canasta: crypto/rand failed: " + err.Error())
	}
	return prefix + idEncoding.EncodeToString(b[:])
}

// orderedEncoding is base32 with its alphabet in byte order, so that
// encoded strings of one length sort as the bytes they encode.
var orderedEncoding = base32.NewEncoding("0123456789abcdefghijklmnopqrstuv").WithPadding(base32.NoPadding)

// NewRequestID returns a redemption request id that sorts by the
// millisecond it was made: 48 bits of Unix time, then 80 random bits.
// A store keeps request ids in a unique index that every redemption
// writes to; ids made in time order land on the index's last pages
// instead of a random page each. Any id a client chooses is accepted;
// Canasta's own clients use these.
func NewRequestID(now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	if _, err := rand.Read(b[6:]); err != nil {
		panic("canasta: crypto/rand failed: " + err.Error())
	}
	return "rq_" + orderedEncoding.EncodeToString(b[:])
}

// ID prefixes for the opaque identifiers of registry records.
const (
	HouseholdIDPrefix = "hh_"
	PersonIDPrefix    = "p_"
)
