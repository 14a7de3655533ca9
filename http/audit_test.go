package http_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/canasta/canasta"
	"github.com/canasta/canasta/audit"
	"github.com/canasta/canasta/sqlite"
	"golang.org/x/mod/sumdb/tlog"
)

// newAuditServer is a test server publishing its store's audit log, with
// a few households created so the log has entries.
func newAuditServer(tb testing.TB, households int) (*testServer, int64) {
	tb.Helper()
	ts := newTestServer(tb)
	ts.AuditService = audit.NewLog(sqlite.NewAuditStore(ts.db))
	for i := range households {
		createAttribute(tb, ts, fmt.Sprintf("attr_%d", i), "int", "household")
	}
	n, err := sqlite.NewAuditStore(ts.db).AuditSize(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	if n < int64(households) {
		tb.Fatalf("the log holds %d entries after %d changes", n, households)
	}
	return ts, n
}

type auditEntryJSON struct {
	Index int64           `json:"index"`
	Leaf  []byte          `json:"leaf"`
	Entry json.RawMessage `json:"entry"`
}

type auditProofJSON struct {
	Index    int64       `json:"index"`
	Size     int64       `json:"size"`
	LeafHash tlog.Hash   `json:"leaf_hash"`
	Proof    []tlog.Hash `json:"proof"`
}

// TestAuditRoutes follows what an auditor does, with no account: fetch the
// key and the checkpoint, read entries and check their proofs against the
// signed root.
func TestAuditRoutes(t *testing.T) {
	ts, n := newAuditServer(t, 6)

	key := ts.mustDo(t, http.StatusOK, request{method: "GET", path: "/api/v1/audit/key"})
	if ct := key.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("key Content-Type %q", ct)
	}
	vkey := string(key.body)
	if name, err := audit.KeyName(vkey); err != nil || name != audit.DefaultOrigin {
		t.Fatalf("key %q: name %q, %v", vkey, name, err)
	}

	r := ts.mustDo(t, http.StatusOK, request{method: "GET", path: "/api/v1/audit/checkpoint"})
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("checkpoint Content-Type %q, Cache-Control %q", ct, r.header.Get("Cache-Control"))
	}
	cp, err := audit.OpenCheckpoint(r.body, vkey)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Size != n {
		t.Fatalf("checkpoint size %d, log size %d", cp.Size, n)
	}

	var leaves [][]byte
	for i := range n {
		var e auditEntryJSON
		ts.mustDo(t, http.StatusOK, request{method: "GET", path: fmt.Sprintf("/api/v1/audit/entries/%d", i)}).decode(t, &e)
		var shown, hashed canasta.AuditEntry
		if err := json.Unmarshal(e.Entry, &shown); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(e.Leaf, &hashed); err != nil {
			t.Fatalf("leaf of %d is not an entry: %v", i, err)
		}
		if e.Index != i || hashed.Index != i || !reflect.DeepEqual(shown, hashed) {
			t.Fatalf("entry %d: index %d, entry %+v, leaf %+v", i, e.Index, shown, hashed)
		}
		leaves = append(leaves, e.Leaf)

		var p auditProofJSON
		ts.mustDo(t, http.StatusOK, request{method: "GET", path: fmt.Sprintf("/api/v1/audit/proof/%d?size=%d", i, n)}).decode(t, &p)
		if p.Index != i || p.Size != n || p.LeafHash != tlog.RecordHash(e.Leaf) {
			t.Fatalf("proof of %d: %+v", i, p)
		}
		if err := tlog.CheckRecord(p.Proof, n, cp.Root, i, tlog.RecordHash(e.Leaf)); err != nil {
			t.Fatalf("inclusion of %d: %v", i, err)
		}
	}

	var page struct{ Entries []auditEntryJSON }
	ts.mustDo(t, http.StatusOK, request{method: "GET", path: "/api/v1/audit/entries?start=2&end=4"}).decode(t, &page)
	if len(page.Entries) != 2 || page.Entries[0].Index != 2 || string(page.Entries[1].Leaf) != string(leaves[3]) {
		t.Fatalf("page 2 to 3: %+v", page.Entries)
	}
	ts.mustDo(t, http.StatusOK, request{method: "GET", path: "/api/v1/audit/entries"}).decode(t, &page)
	if int64(len(page.Entries)) != n {
		t.Fatalf("default page holds %d entries, want all %d", len(page.Entries), n)
	}

	var c struct {
		Old, New int64
		Proof    []tlog.Hash
	}
	ts.mustDo(t, http.StatusOK, request{method: "GET", path: fmt.Sprintf("/api/v1/audit/consistency?old=1&new=%d", n)}).decode(t, &c)
	if c.Old != 1 || c.New != n {
		t.Fatalf("consistency %+v", c)
	}
	if err := tlog.CheckTree(c.Proof, n, cp.Root, 1, tlog.RecordHash(leaves[0])); err != nil {
		t.Fatalf("consistency of 1 with %d: %v", n, err)
	}

	// An independent auditor over the API agrees, then follows new entries.
	a := &audit.Auditor{Log: audit.NewClient(ts.URL())}
	res, err := a.Verify(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.FirstUse || res.State.Size != n || res.State.Key != vkey {
		t.Fatalf("auditor state %+v", res.State)
	}
	createAttribute(t, ts, "attr_late", "int", "household")
	res, err = a.Verify(context.Background(), res.State)
	if err != nil || res.State.Size <= n || res.Hashed != res.State.Size-n {
		t.Fatalf("second run: %v, state %+v", err, res)
	}
}

func TestAuditRouteErrors(t *testing.T) {
	ts, n := newAuditServer(t, 2)
	for _, tt := range []struct {
		path   string
		status int
		says   string
	}{
		{"/api/v1/audit/entries/abc", 400, "entry index"},
		{"/api/v1/audit/entries/-1", 400, "entry index"},
		{fmt.Sprintf("/api/v1/audit/entries/%d", n), 404, "no entry"},
		{"/api/v1/audit/entries?start=x", 400, "start parameter"},
		{"/api/v1/audit/entries?start=3&end=3", 400, "greater than start"},
		{fmt.Sprintf("/api/v1/audit/entries?start=%d", n), 404, "beyond"},
		{"/api/v1/audit/proof/0", 400, "size parameter"},
		{"/api/v1/audit/proof/0?size=-3", 400, "size parameter"},
		{"/api/v1/audit/proof/x?size=1", 400, "entry index"},
		{"/api/v1/audit/proof/1?size=1", 400, "not in a tree of 1"},
		{fmt.Sprintf("/api/v1/audit/proof/0?size=%d", n+1), 400, "no tree of size"},
		{"/api/v1/audit/consistency?old=1", 400, "both tree sizes"},
		{"/api/v1/audit/consistency?old=0&new=1", 400, "0 < old <= new"},
		{"/api/v1/audit/consistency?old=2&new=1", 400, "0 < old <= new"},
		{"/api/v1/audit/consistency?old=1&new=1e3", 400, "new parameter"},
		{fmt.Sprintf("/api/v1/audit/consistency?old=1&new=%d", n+1), 400, "no tree of size"},
	} {
		t.Run(strings.TrimPrefix(tt.path, "/api/v1/audit/"), func(t *testing.T) {
			r := ts.mustDo(t, tt.status, request{method: "GET", path: tt.path})
			code := map[int]string{400: canasta.EINVALID, 404: canasta.ENOTFOUND}[tt.status]
			if got := r.errorCode(t); got != code || !strings.Contains(r.errorMessage(t), tt.says) {
				t.Fatalf("%s: %q, want %s saying …%s…", code, r.errorMessage(t), code, tt.says)
			}
		})
	}
}

// TestAuditRoutesPublic checks that no audit route asks for a token, and
// that a server without an audit log says so.
func TestAuditRoutesPublic(t *testing.T) {
	ts, _ := newAuditServer(t, 1)
	for _, path := range []string{"/api/v1/audit/checkpoint", "/api/v1/audit/key", "/api/v1/audit/entries/0",
		"/api/v1/audit/entries?start=0&end=1", "/api/v1/audit/proof/0?size=1", "/api/v1/audit/consistency?old=1&new=1"} {
		t.Run(path, func(t *testing.T) {
			ts.mustDo(t, http.StatusOK, request{method: "GET", path: path})
			ts.mustDo(t, http.StatusOK, request{method: "GET", path: path, token: "cnst_not-a-token"})
		})
	}
	bare := newTestServer(t)
	if code := bare.mustDo(t, http.StatusNotFound, request{method: "GET", path: "/api/v1/audit/checkpoint"}).errorCode(t); code != canasta.ENOTFOUND {
		t.Fatalf("code %s", code)
	}
}
