// Package audit is Canasta's transparent log: the encoding of entries as
// Merkle tree leaves, the stored hashes appended with each change, personal
// detail commitments, signed checkpoints, inclusion and consistency proofs,
// and the independent auditor that checks them. The tree is RFC 6962's, as
// implemented by golang.org/x/mod/sumdb/tlog; checkpoints are C2SP
// tlog-checkpoint notes signed with golang.org/x/mod/sumdb/note.
//
// The stores append inside their own write transactions with Append, so a
// change and its entry commit together or not at all.
package audit

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/canasta/canasta"
	"golang.org/x/mod/sumdb/tlog"
)

// Leaf returns the exact bytes stored for e and hashed into the tree: its
// JSON encoding, whose field order is fixed by the struct and whose object
// keys encoding/json sorts.
func Leaf(e *canasta.AuditEntry) ([]byte, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode audit entry: %w", err)
	}
	return b, nil
}

// ParseLeaf decodes a leaf's entry.
func ParseLeaf(leaf []byte) (*canasta.AuditEntry, error) {
	var e canasta.AuditEntry
	if err := json.Unmarshal(leaf, &e); err != nil {
		return nil, fmt.Errorf("decode audit entry: %w", err)
	}
	return &e, nil
}

// Appended is what Append computed for a run of new leaves: the tree
// hashes to store, at consecutive storage indexes from First.
type Appended struct {
	First  int64
	Hashes []tlog.Hash
}

// Append computes the stored hashes for leaves appended to a tree of size
// n. read returns earlier stored hashes; hashes computed for earlier leaves
// of the same call are served from memory, so a batch reads only the
// tree's right edge.
func Append(n int64, leaves [][]byte, read tlog.HashReaderFunc) (*Appended, error) {
	out := &Appended{First: tlog.StoredHashIndex(0, n)}
	overlay := tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		hs := make([]tlog.Hash, len(indexes))
		var missing []int64
		var at []int
		for i, x := range indexes {
			if x >= out.First {
				if x-out.First >= int64(len(out.Hashes)) {
					return nil, fmt.Errorf("audit: stored hash %d not yet written", x)
				}
				hs[i] = out.Hashes[x-out.First]
				continue
			}
			missing = append(missing, x)
			at = append(at, i)
		}
		if len(missing) > 0 {
			got, err := read(missing)
			if err != nil {
				return nil, err
			}
			if len(got) != len(missing) {
				return nil, fmt.Errorf("audit: read %d stored hashes, want %d", len(got), len(missing))
			}
			for j, i := range at {
				hs[i] = got[j]
			}
		}
		return hs, nil
	})
	for i, leaf := range leaves {
		hs, err := tlog.StoredHashes(n+int64(i), leaf, overlay)
		if err != nil {
			return nil, fmt.Errorf("audit: append entry %d: %w", n+int64(i), err)
		}
		out.Hashes = append(out.Hashes, hs...)
	}
	return out, nil
}

// NewKey returns a fresh random key for a household's commitments.
func NewKey() []byte {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		panic("audit: no randomness: " + err.Error())
	}
	return k
}

// Commit returns the keyed commitment to details: base64 of HMAC-SHA256
// under key of their JSON encoding. Without the key nobody can test a
// guess of the details against it, which is what makes erasure possible.
func Commit(key []byte, details any) (string, error) {
	b, err := json.Marshal(details)
	if err != nil {
		return "", fmt.Errorf("audit commitment: %w", err)
	}
	m := hmac.New(sha256.New, key)
	m.Write(b)
	return base64.StdEncoding.EncodeToString(m.Sum(nil)), nil
}

// Digest returns hex SHA-256 of the JSON encoding of public content.
func Digest(content any) (string, error) {
	b, err := json.Marshal(content)
	if err != nil {
		return "", fmt.Errorf("audit digest: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// redemptionDetails are what a redemption's commitment covers: what was
// handed out, from which period's grants, when.
type redemptionDetails struct {
	Period    canasta.Period           `json:"period"`
	Items     []canasta.RedemptionItem `json:"items"`
	CreatedAt time.Time                `json:"created_at"`
}

// RedemptionEntry is the log entry of a receipt, online or posted from an
// offline point: its ids in the clear, what was handed out committed under
// the household's key.
func RedemptionEntry(ctx context.Context, now time.Time, key []byte, r *canasta.Redemption) (*canasta.AuditEntry, error) {
	e := canasta.AuditEntryFor(ctx, canasta.AuditRedemption, now)
	e.Objects = map[string]string{"household": r.HouseholdID, "request_id": r.RequestID, "point": strconv.FormatInt(r.PointID, 10)}
	c, err := Commit(key, redemptionDetails{r.Period, r.Items, r.CreatedAt})
	if err != nil {
		return nil, err
	}
	e.Commitment = c
	return e, nil
}
