package http

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/canasta/canasta"
)

// contentTypeText is the media type of the checkpoint note and the key:
// auditors' tools read them as plain text, as the formats define them.
const contentTypeText = "text/plain; charset=utf-8"

// auditPageSize is the page asked for when a request names no end; the
// service may serve fewer.
const auditPageSize = 1000

// AuditEntryResponse is one entry of the audit log: Leaf holds the exact
// bytes whose tlog record hash is in the tree (base64 in JSON), Entry the
// same bytes decoded, for reading.
type AuditEntryResponse struct {
	Index int64           `json:"index"`
	Leaf  []byte          `json:"leaf"`
	Entry json.RawMessage `json:"entry"`
}

// AuditEntriesResponse is a page of consecutive entries.
type AuditEntriesResponse struct {
	Entries []AuditEntryResponse `json:"entries"`
}

// ConsistencyProof proves the tree of size Old is a prefix of the tree of
// size New.
type ConsistencyProof struct {
	Old   int64    `json:"old"`
	New   int64    `json:"new"`
	Proof [][]byte `json:"proof"`
}

// auditLog returns the audit service, or ENOTFOUND when this server
// publishes no audit log.
func (s *Server) auditLog() (canasta.AuditService, error) {
	if s.AuditService == nil {
		return nil, canasta.Errorf(canasta.ENOTFOUND, "This server does not publish an audit log.")
	}
	return s.AuditService, nil
}

// handleAuditCheckpoint serves the newest signed checkpoint. It changes
// every second while entries arrive, so no cache may keep it.
func (s *Server) handleAuditCheckpoint(w http.ResponseWriter, r *http.Request) error {
	log, err := s.auditLog()
	if err != nil {
		return err
	}
	note, err := log.Checkpoint(r.Context())
	if err != nil {
		return fmt.Errorf("audit checkpoint: %w", err)
	}
	writeText(w, "no-store", note)
	return nil
}

// handleAuditKey serves the checkpoint verifier key, which changes only
// if the operator replaces it.
func (s *Server) handleAuditKey(w http.ResponseWriter, r *http.Request) error {
	log, err := s.auditLog()
	if err != nil {
		return err
	}
	key, err := log.VerifierKey(r.Context())
	if err != nil {
		return fmt.Errorf("audit key: %w", err)
	}
	writeText(w, "public, max-age=60", []byte(key))
	return nil
}

// handleAuditEntry serves one entry.
func (s *Server) handleAuditEntry(w http.ResponseWriter, r *http.Request) error {
	log, err := s.auditLog()
	if err != nil {
		return err
	}
	index, err := auditNumber(r.PathValue("index"), "The entry index")
	if err != nil {
		return err
	}
	leaf, err := log.Entry(r.Context(), index)
	if err != nil {
		return fmt.Errorf("audit entry %d: %w", index, err)
	}
	e, err := auditEntry(index, leaf)
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, e)
	return nil
}

// handleAuditEntries serves a page of entries from start (default 0)
// before end (default start plus the page size); the server may cut the
// page short, and an auditor asks again from where it stopped.
func (s *Server) handleAuditEntries(w http.ResponseWriter, r *http.Request) error {
	log, err := s.auditLog()
	if err != nil {
		return err
	}
	q := r.URL.Query()
	var start, end int64
	if v := q.Get("start"); v != "" {
		if start, err = auditNumber(v, "The start parameter"); err != nil {
			return err
		}
	}
	if v := q.Get("end"); v != "" {
		if end, err = auditNumber(v, "The end parameter"); err != nil {
			return err
		}
		if end <= start {
			return canasta.Errorf(canasta.EINVALID, "The end parameter (%d) must be greater than start (%d): entries start to end-1 are served.", end, start)
		}
	} else {
		end = start + auditPageSize
	}
	leaves, err := log.Entries(r.Context(), start, end)
	if err != nil {
		return fmt.Errorf("audit entries from %d: %w", start, err)
	}
	resp := AuditEntriesResponse{Entries: make([]AuditEntryResponse, len(leaves))}
	for i, leaf := range leaves {
		e, err := auditEntry(start+int64(i), leaf)
		if err != nil {
			return err
		}
		resp.Entries[i] = *e
	}
	s.writeJSON(w, r, http.StatusOK, resp)
	return nil
}

// handleAuditProof serves the inclusion proof of an entry in the tree of
// size entries.
func (s *Server) handleAuditProof(w http.ResponseWriter, r *http.Request) error {
	log, err := s.auditLog()
	if err != nil {
		return err
	}
	index, err := auditNumber(r.PathValue("index"), "The entry index")
	if err != nil {
		return err
	}
	v := r.URL.Query().Get("size")
	if v == "" {
		return canasta.Errorf(canasta.EINVALID, "Give the tree size to prove the entry in as the size parameter, e.g. the size of the checkpoint you hold.")
	}
	size, err := auditNumber(v, "The size parameter")
	if err != nil {
		return err
	}
	leaf, proof, err := log.InclusionProof(r.Context(), index, size)
	if err != nil {
		return fmt.Errorf("audit proof of %d in %d: %w", index, size, err)
	}
	s.writeJSON(w, r, http.StatusOK, InclusionProof{Index: index, Size: size, LeafHash: leaf[:], Proof: hashBytes(proof)})
	return nil
}

// handleAuditConsistency serves the proof that the tree of size old is a
// prefix of the tree of size new.
func (s *Server) handleAuditConsistency(w http.ResponseWriter, r *http.Request) error {
	log, err := s.auditLog()
	if err != nil {
		return err
	}
	q := r.URL.Query()
	if q.Get("old") == "" || q.Get("new") == "" {
		return canasta.Errorf(canasta.EINVALID, "Give both tree sizes, old and new, e.g. ?old=10&new=20.")
	}
	oldSize, err := auditNumber(q.Get("old"), "The old parameter")
	if err != nil {
		return err
	}
	newSize, err := auditNumber(q.Get("new"), "The new parameter")
	if err != nil {
		return err
	}
	proof, err := log.ConsistencyProof(r.Context(), oldSize, newSize)
	if err != nil {
		return fmt.Errorf("audit consistency of %d with %d: %w", oldSize, newSize, err)
	}
	s.writeJSON(w, r, http.StatusOK, ConsistencyProof{Old: oldSize, New: newSize, Proof: hashBytes(proof)})
	return nil
}

// auditNumber parses a non-negative decimal index or size.
func auditNumber(v, what string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, canasta.Errorf(canasta.EINVALID, "%s must be a whole number of 0 or more, not %q.", what, v)
	}
	return n, nil
}

// auditEntry pairs a leaf with its decoded entry. A stored leaf that is
// not JSON cannot be shown decoded; the error says which.
func auditEntry(index int64, leaf []byte) (*AuditEntryResponse, error) {
	if !json.Valid(leaf) {
		return nil, fmt.Errorf("audit entry %d: stored leaf is not JSON", index)
	}
	return &AuditEntryResponse{Index: index, Leaf: leaf, Entry: json.RawMessage(leaf)}, nil
}

func hashBytes(hs []canasta.AuditHash) [][]byte {
	out := make([][]byte, len(hs))
	for i := range hs {
		out[i] = hs[i][:]
	}
	return out
}

// writeText sends a plain-text body with the cache policy given.
func writeText(w http.ResponseWriter, cacheControl string, b []byte) {
	h := w.Header()
	h.Set("Content-Type", contentTypeText)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", cacheControl)
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}
