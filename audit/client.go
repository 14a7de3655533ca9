package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"

	"github.com/canasta/canasta"
)

// maxResponseBytes bounds what the client reads of one response: a page
// of MaxEntriesPerCall entries is well under it.
const maxResponseBytes = 64 << 20

// Client reads a log over Canasta's public audit API. It is what an
// independent auditor uses, and checks only that answers are well formed:
// whether they are true is the Auditor's business.
type Client struct {
	// URL is the server's base URL, e.g. https://canasta.example.org.
	URL  string
	HTTP *http.Client
}

var _ canasta.AuditService = (*Client)(nil)

// NewClient returns a client of the server at baseURL.
func NewClient(baseURL string) *Client {
	return &Client{URL: strings.TrimSuffix(baseURL, "/"), HTTP: http.DefaultClient}
}

// entryJSON is an entry as the API serves it.
type entryJSON struct {
	Index int64           `json:"index"`
	Leaf  []byte          `json:"leaf"`
	Entry json.RawMessage `json:"entry"`
}

// Checkpoint fetches the signed checkpoint note.
func (c *Client) Checkpoint(ctx context.Context) ([]byte, error) {
	return c.get(ctx, "/api/v1/audit/checkpoint", nil)
}

// VerifierKey fetches the checkpoint verifier key.
func (c *Client) VerifierKey(ctx context.Context) (string, error) {
	b, err := c.get(ctx, "/api/v1/audit/key", nil)
	return strings.TrimSpace(string(b)), err
}

// Entry fetches one entry's leaf.
func (c *Client) Entry(ctx context.Context, index int64) ([]byte, error) {
	var e entryJSON
	if _, err := c.get(ctx, fmt.Sprintf("/api/v1/audit/entries/%d", index), &e); err != nil {
		return nil, err
	}
	if err := e.check(index); err != nil {
		return nil, err
	}
	return e.Leaf, nil
}

// Entries fetches a page of leaves from start; the server may return fewer
// than asked.
func (c *Client) Entries(ctx context.Context, start, end int64) ([][]byte, error) {
	var page struct {
		Entries []entryJSON `json:"entries"`
	}
	if _, err := c.get(ctx, fmt.Sprintf("/api/v1/audit/entries?start=%d&end=%d", start, end), &page); err != nil {
		return nil, err
	}
	if len(page.Entries) == 0 || int64(len(page.Entries)) > end-start {
		return nil, fmt.Errorf("asked for audit entries %d to %d, got %d", start, end-1, len(page.Entries))
	}
	out := make([][]byte, len(page.Entries))
	for i, e := range page.Entries {
		if err := e.check(start + int64(i)); err != nil {
			return nil, err
		}
		out[i] = e.Leaf
	}
	return out, nil
}

// check refuses an answer whose position or shown entry is not its leaf's,
// so what a reader of the API sees is what the tree holds.
func (e *entryJSON) check(index int64) error {
	if e.Index != index {
		return fmt.Errorf("asked for audit entry %d, got %d", index, e.Index)
	}
	var shown, hashed any
	if err := json.Unmarshal(e.Entry, &shown); err != nil {
		return fmt.Errorf("audit entry %d: entry is not JSON: %w", index, err)
	}
	if err := json.Unmarshal(e.Leaf, &hashed); err != nil {
		return fmt.Errorf("audit entry %d: leaf is not JSON: %w", index, err)
	}
	if !reflect.DeepEqual(shown, hashed) {
		return fmt.Errorf("audit entry %d: the entry shown is not the leaf hashed", index)
	}
	return nil
}

// InclusionProof fetches the proof that entry index is in the tree of
// size entries.
func (c *Client) InclusionProof(ctx context.Context, index, size int64) (canasta.AuditHash, []canasta.AuditHash, error) {
	var p struct {
		Index    int64    `json:"index"`
		Size     int64    `json:"size"`
		LeafHash []byte   `json:"leaf_hash"`
		Proof    [][]byte `json:"proof"`
	}
	if _, err := c.get(ctx, fmt.Sprintf("/api/v1/audit/proof/%d?size=%d", index, size), &p); err != nil {
		return canasta.AuditHash{}, nil, err
	}
	if p.Index != index || p.Size != size || len(p.LeafHash) != len(canasta.AuditHash{}) {
		return canasta.AuditHash{}, nil, fmt.Errorf("asked for the proof of entry %d in %d, got a malformed answer", index, size)
	}
	proof, err := toHashes(p.Proof)
	if err != nil {
		return canasta.AuditHash{}, nil, fmt.Errorf("inclusion proof of %d in %d: %w", index, size, err)
	}
	return canasta.AuditHash(p.LeafHash), proof, nil
}

// ConsistencyProof fetches the proof that the tree of oldSize is a prefix
// of the tree of newSize.
func (c *Client) ConsistencyProof(ctx context.Context, oldSize, newSize int64) ([]canasta.AuditHash, error) {
	var p struct {
		Old   int64    `json:"old"`
		New   int64    `json:"new"`
		Proof [][]byte `json:"proof"`
	}
	if _, err := c.get(ctx, fmt.Sprintf("/api/v1/audit/consistency?old=%d&new=%d", oldSize, newSize), &p); err != nil {
		return nil, err
	}
	if p.Old != oldSize || p.New != newSize {
		return nil, fmt.Errorf("asked for the consistency of %d with %d, got %d with %d", oldSize, newSize, p.Old, p.New)
	}
	proof, err := toHashes(p.Proof)
	if err != nil {
		return nil, fmt.Errorf("consistency proof of %d with %d: %w", oldSize, newSize, err)
	}
	return proof, nil
}

func toHashes(bs [][]byte) ([]canasta.AuditHash, error) {
	out := make([]canasta.AuditHash, len(bs))
	for i, b := range bs {
		if len(b) != len(out[i]) {
			return nil, fmt.Errorf("hash %d has %d bytes", i, len(b))
		}
		out[i] = canasta.AuditHash(b)
	}
	return out, nil
}

// get fetches path and decodes its JSON into v, or returns the body when v
// is nil. An API error comes back as the *canasta.Error it was.
func (c *Client) get(ctx context.Context, path string, v any) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL+path, nil)
	if err != nil {
		return nil, fmt.Errorf("audit request: %w", err)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", redactURL(req.URL), err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", redactURL(req.URL), err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(b, &e) == nil && e.Error.Code != "" && e.Error.Code != canasta.EINTERNAL {
			return nil, canasta.Errorf(e.Error.Code, "%s", e.Error.Message)
		}
		return nil, fmt.Errorf("GET %s: %s: %s", redactURL(req.URL), resp.Status, bytes.TrimSpace(b))
	}
	if v == nil {
		return b, nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return nil, fmt.Errorf("GET %s: %w", redactURL(req.URL), err)
	}
	return b, nil
}

// redactURL hides credentials an operator may have put in the URL.
func redactURL(u *url.URL) string { return u.Redacted() }
