package canasta

import (
	"context"
	"time"
)

// AuditType names a kind of change recorded in the audit log.
type AuditType string

// The changes the audit log records. Each store appends the entry in the
// same transaction as the change, so neither exists without the other.
const (
	AuditHouseholdCreate  AuditType = "household.create"
	AuditHouseholdUpdate  AuditType = "household.update"
	AuditHouseholdErase   AuditType = "household.erase"
	AuditAttributeCreate  AuditType = "attribute.create"
	AuditProgramCreate    AuditType = "program.create"
	AuditPointCreate      AuditType = "point.create"
	AuditCycleGrants      AuditType = "cycle.grants"
	AuditCardIssue        AuditType = "card.issue"
	AuditCardRevoke       AuditType = "card.revoke"
	AuditCardLock         AuditType = "card.lock"
	AuditSigningKeyCreate AuditType = "signing-key.create"
	AuditSigningKeyRetire AuditType = "signing-key.retire"
	AuditTokenCreate      AuditType = "token.create"
	AuditTokenRevoke      AuditType = "token.revoke"
	AuditUserCreate       AuditType = "user.create"
	AuditUserDisable      AuditType = "user.disable"
	AuditRedemption       AuditType = "redemption"
	AuditGrievance        AuditType = "grievance"
	AuditHomePoint        AuditType = "household.home-point"
	AuditDeviceCreate     AuditType = "device.create"
	AuditDeviceEnroll     AuditType = "device.enroll"
	AuditDeviceRevoke     AuditType = "device.revoke"
	AuditRightReserve     AuditType = "right.reserve"
	AuditRightRelease     AuditType = "right.release"
	AuditPointLoss        AuditType = "point.loss"
)

// AuditEntry is one entry of the transparent audit log. It never holds
// personal data in the clear: the objects are opaque ids, and personal
// details enter only as Commitment, an HMAC under a key kept per household.
// Deleting that key erases what the commitment could confirm while the
// log's Merkle tree still verifies.
type AuditEntry struct {
	// Index is the entry's position in the log, counted from 0.
	Index int64     `json:"index"`
	Type  AuditType `json:"type"`
	Time  time.Time `json:"time"`
	// ActorRole is the caller's role, or "system" for commands run on the
	// server, or "household" for the person portal.
	ActorRole string `json:"actor_role"`
	// ActorID identifies the caller within its role, e.g. "token:12".
	ActorID string `json:"actor_id,omitempty"`
	// Objects are the ids the change concerns, e.g. {"household": "…"}.
	Objects map[string]string `json:"objects,omitempty"`
	// Commitment is base64 HMAC-SHA256 of the personal details of the
	// change under the household's audit key.
	Commitment string `json:"commitment,omitempty"`
	// Digest is hex SHA-256 of public, non-personal content of the change
	// (a rule's text, a cycle batch's grants), so that anyone holding that
	// content can check it against the log.
	Digest string `json:"digest,omitempty"`
}

// AuditRef points a receipt or record at its audit entry.
type AuditRef struct {
	Index int64 `json:"index"`
}

// AuditEntryFor returns an entry of type t stamped with the context's actor.
func AuditEntryFor(ctx context.Context, t AuditType, now time.Time) *AuditEntry {
	e := &AuditEntry{Type: t, Time: now.UTC(), ActorRole: "system"}
	if a := ActorFromContext(ctx); a != nil {
		e.ActorRole = string(a.Role)
		e.ActorID = a.AuditID()
	} else if s := PortalSessionFromContext(ctx); s != nil {
		e.ActorRole = "household"
		e.ActorID = "card:" + s.CardID
	}
	return e
}

// AuditHash is a SHA-256 hash in the log's Merkle tree.
type AuditHash = [32]byte

// AuditStore is the stored log as the audit service reads it; each store
// implements it. Appends are not part of it: they happen inside the stores'
// own write transactions.
type AuditStore interface {
	// AuditSize returns the number of entries in the log.
	AuditSize(ctx context.Context) (int64, error)

	// FindAuditLeaves returns the exact stored bytes of entries start to
	// end-1. EINVALID if the range is outside the log.
	FindAuditLeaves(ctx context.Context, start, end int64) ([][]byte, error)

	// ReadAuditHashes returns the Merkle tree hashes stored at the given
	// storage indexes (as numbered by golang.org/x/mod/sumdb/tlog).
	ReadAuditHashes(ctx context.Context, indexes []int64) ([]AuditHash, error)

	// AuditSignerKey returns the checkpoint signer key, creating it with
	// create the first time, so that every server on the store signs with
	// the same key.
	AuditSignerKey(ctx context.Context, create func() (string, error)) (string, error)

	// SaveAuditCheckpoint keeps a signed checkpoint for a tree size; an
	// older or equal size than the newest kept is ignored.
	SaveAuditCheckpoint(ctx context.Context, size int64, note []byte) error

	// LatestAuditCheckpoint returns the newest kept checkpoint; ENOTFOUND
	// if none was signed yet.
	LatestAuditCheckpoint(ctx context.Context) (size int64, note []byte, err error)
}

// AuditService publishes the log to auditors. Every method is public: an
// auditor needs no account.
type AuditService interface {
	// Checkpoint returns the newest signed checkpoint (C2SP
	// tlog-checkpoint, signed note), signing one first if entries arrived
	// since the last.
	Checkpoint(ctx context.Context) ([]byte, error)

	// VerifierKey returns the note verifier key of the checkpoint signer.
	VerifierKey(ctx context.Context) (string, error)

	// Entry returns the exact leaf bytes of the entry at index. ENOTFOUND
	// beyond the log.
	Entry(ctx context.Context, index int64) ([]byte, error)

	// Entries returns the leaves of entries start to end-1 (at most a
	// server-chosen number; fewer may be returned). EINVALID for a bad range;
	// ENOTFOUND when start is beyond the log.
	Entries(ctx context.Context, start, end int64) ([][]byte, error)

	// InclusionProof proves the entry at index is in the tree of size
	// entries. EINVALID unless index < size <= the log's size.
	InclusionProof(ctx context.Context, index, size int64) (leafHash AuditHash, proof []AuditHash, err error)

	// ConsistencyProof proves the tree of size oldSize is a prefix of the
	// tree of size newSize. EINVALID unless 0 < oldSize <= newSize <= the
	// log's size.
	ConsistencyProof(ctx context.Context, oldSize, newSize int64) ([]AuditHash, error)
}
