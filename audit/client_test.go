package audit

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/canasta/canasta"
)

// TestClientRefusesMalformedAnswers checks that the client takes nothing
// on trust that it can check by itself: positions, the entry shown against
// the leaf hashed, hash lengths; and that API errors keep their code.
func TestClientRefusesMalformedAnswers(t *testing.T) {
	leaf := `{"index":3,"type":"redemption","time":"2026-12-01T00:00:00Z","actor_role":"system"}`
	leaf64 := "eyJpbmRleCI6MywidHlwZSI6InJlZGVtcHRpb24iLCJ0aW1lIjoiMjAyNi0xMi0wMVQwMDowMDowMFoiLCJhY3Rvcl9yb2xlIjoic3lzdGVtIn0="
	for _, tt := range []struct {
		name   string
		status int
		body   string
		call   func(c *Client) error
		says   string
		code   string
	}{
		{"entry at another index", 200, `{"index":4,"leaf":"` + leaf64 + `","entry":` + leaf + `}`,
			func(c *Client) error { _, err := c.Entry(context.Background(), 3); return err }, "got 4", ""},
		{"entry shown is not the leaf", 200, `{"index":3,"leaf":"` + leaf64 + `","entry":` + strings.Replace(leaf, "system", "admin", 1) + `}`,
			func(c *Client) error { _, err := c.Entry(context.Background(), 3); return err }, "not the leaf hashed", ""},
		{"page longer than asked", 200, `{"entries":[{"index":3,"leaf":"` + leaf64 + `","entry":` + leaf + `},{"index":4,"leaf":"` + leaf64 + `","entry":` + leaf + `}]}`,
			func(c *Client) error { _, err := c.Entries(context.Background(), 3, 4); return err }, "got 2", ""},
		{"empty page", 200, `{"entries":[]}`,
			func(c *Client) error { _, err := c.Entries(context.Background(), 3, 4); return err }, "got 0", ""},
		{"short proof hash", 200, `{"index":1,"size":2,"leaf_hash":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","proof":["AAAA"]}`,
			func(c *Client) error { _, _, err := c.InclusionProof(context.Background(), 1, 2); return err }, "3 bytes", ""},
		{"proof of other sizes", 200, `{"old":1,"new":3,"proof":[]}`,
			func(c *Client) error { _, err := c.ConsistencyProof(context.Background(), 1, 2); return err }, "got 1 with 3", ""},
		{"not found keeps its code", 404, `{"error":{"code":"ENOTFOUND","message":"No entry 9."}}`,
			func(c *Client) error { _, err := c.Entry(context.Background(), 9); return err }, "No entry 9.", canasta.ENOTFOUND},
		{"internal error is not an application error", 500, `{"error":{"code":"EINTERNAL","message":"Internal error."}}`,
			func(c *Client) error { _, err := c.Checkpoint(context.Background()); return err }, "500", canasta.EINTERNAL},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tt.status)
				w.Write([]byte(tt.body))
			}))
			defer srv.Close()
			err := tt.call(NewClient(srv.URL))
			if err == nil || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("error %v, want …%s…", err, tt.says)
			}
			if tt.code != "" && canasta.ErrorCode(err) != tt.code {
				t.Fatalf("code %s, want %s", canasta.ErrorCode(err), tt.code)
			}
		})
	}
}
