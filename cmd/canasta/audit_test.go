package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/canasta/canasta"
	"github.com/canasta/canasta/audit"
	chttp "github.com/canasta/canasta/http"
	"github.com/canasta/canasta/rules"
	"github.com/canasta/canasta/sqlite"
	"golang.org/x/mod/sumdb/tlog"
)

// auditWorld is a data directory whose log is published by an API server
// while open, and tampered with through the database file while closed,
// as an intruder with access to the machine would.
type auditWorld struct {
	t     *testing.T
	dir   string
	state string // the auditor's state file
	db    *sqlite.DB
	srv   *chttp.Server
	added int
	// backup is a copy of the database taken at 20 entries.
	backup string
}

func newAuditWorld(t *testing.T) *auditWorld {
	base := t.TempDir()
	w := &auditWorld{t: t, dir: filepath.Join(base, "data"), state: filepath.Join(base, "auditor.json")}
	t.Cleanup(w.close)
	return w
}

func (w *auditWorld) path() string { return filepath.Join(w.dir, "canasta.db") }

// open opens the store and serves its public audit log.
func (w *auditWorld) open() {
	w.t.Helper()
	w.db = sqlite.NewDB(w.path())
	w.db.Rules = rules.NewEngine()
	w.db.Logger = slog.New(slog.DiscardHandler)
	if err := w.db.Open(); err != nil {
		w.t.Fatal(err)
	}
	w.srv = chttp.NewServer()
	w.srv.Logger = slog.New(slog.DiscardHandler)
	log := audit.NewLog(sqlite.NewAuditStore(w.db))
	log.Logger = w.srv.Logger
	w.srv.AuditService = log
	if err := w.srv.Open(); err != nil {
		w.t.Fatal(err)
	}
}

func (w *auditWorld) close() {
	if w.srv != nil {
		w.srv.Close()
		w.srv = nil
	}
	if w.db != nil {
		w.db.Close()
		w.db = nil
	}
}

// add makes n changes, each logged.
func (w *auditWorld) add(n int) {
	w.t.Helper()
	ctx := canasta.NewContextWithActor(context.Background(), &canasta.Actor{TokenID: 1, Role: canasta.RoleAdmin})
	attrs := sqlite.NewAttributeService(w.db)
	for range n {
		w.added++
		a := &canasta.Attribute{Name: fmt.Sprintf("a%d", w.added), Type: canasta.AttributeInt,
			AppliesTo: canasta.AppliesToHousehold, Purpose: "Sizes the grant to the household's need."}
		if err := attrs.CreateAttribute(ctx, a); err != nil {
			w.t.Fatal(err)
		}
	}
}

// verify runs `canasta audit verify --url` with the world's state file.
func (w *auditWorld) verify(extra ...string) (string, error) {
	w.t.Helper()
	out, _, err := cliRun(w.t, append([]string{"audit", "verify", "--url", w.srv.URL(), "--state", w.state}, extra...)...)
	return out, err
}

// mustVerify is verify that fails the test on any problem.
func (w *auditWorld) mustVerify() {
	w.t.Helper()
	if out, err := w.verify(); err != nil || !strings.HasPrefix(out, "Audit log verified: ") {
		w.t.Fatalf("audit verify: %v: %s", err, out)
	}
}

// sql runs statements on the closed database file, out of band.
func (w *auditWorld) sql(stmts ...string) {
	w.t.Helper()
	w.withFile(func(db *sql.DB) {
		for _, q := range stmts {
			if _, err := db.Exec(q); err != nil {
				w.t.Fatalf("%s: %v", q, err)
			}
		}
	})
}

func (w *auditWorld) withFile(f func(*sql.DB)) {
	w.t.Helper()
	if w.db != nil {
		w.t.Fatal("tamper with the database only while the world is closed")
	}
	db, err := sql.Open("sqlite", w.path())
	if err != nil {
		w.t.Fatal(err)
	}
	defer db.Close()
	f(db)
}

// rewrite replaces the whole log as an intruder covering their tracks
// would: change the entries with edit, renumber them, recompute every
// stored hash and drop the signed checkpoints, so that the server signs
// the new history with its own key when next asked.
func (w *auditWorld) rewrite(edit func(entries []*canasta.AuditEntry) []*canasta.AuditEntry) {
	w.t.Helper()
	w.withFile(func(db *sql.DB) {
		rows, err := db.Query(`SELECT data FROM audit_leaves ORDER BY idx`)
		if err != nil {
			w.t.Fatal(err)
		}
		var entries []*canasta.AuditEntry
		for rows.Next() {
			var b []byte
			if err := rows.Scan(&b); err != nil {
				w.t.Fatal(err)
			}
			e, err := audit.ParseLeaf(b)
			if err != nil {
				w.t.Fatal(err)
			}
			entries = append(entries, e)
		}
		rows.Close()
		entries = edit(entries)
		leaves := make([][]byte, len(entries))
		for i, e := range entries {
			e.Index = int64(i)
			if leaves[i], err = audit.Leaf(e); err != nil {
				w.t.Fatal(err)
			}
		}
		stored := map[int64]tlog.Hash{}
		a, err := audit.Append(0, leaves, func(xs []int64) ([]tlog.Hash, error) {
			return nil, fmt.Errorf("a whole log reads no earlier hash")
		})
		if err != nil {
			w.t.Fatal(err)
		}
		for i, h := range a.Hashes {
			stored[a.First+int64(i)] = h
		}
		for _, q := range []string{`DELETE FROM audit_leaves`, `DELETE FROM audit_hashes`, `DELETE FROM audit_checkpoints`} {
			if _, err := db.Exec(q); err != nil {
				w.t.Fatal(err)
			}
		}
		for i, leaf := range leaves {
			if _, err := db.Exec(`INSERT INTO audit_leaves (idx, data) VALUES (?, ?)`, i, leaf); err != nil {
				w.t.Fatal(err)
			}
		}
		for x, h := range stored {
			if _, err := db.Exec(`INSERT INTO audit_hashes (idx, hash) VALUES (?, ?)`, x, h[:]); err != nil {
				w.t.Fatal(err)
			}
		}
	})
}

// copyTo copies the closed database to dir, as a backup or a fork's
// second branch.
func (w *auditWorld) copyTo(dir string) {
	w.t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		w.t.Fatal(err)
	}
	files, _ := filepath.Glob(w.path() + "*")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			w.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o600); err != nil {
			w.t.Fatal(err)
		}
	}
}

// restore replaces the database with the copy in dir.
func (w *auditWorld) restore(dir string) {
	w.t.Helper()
	old, _ := filepath.Glob(w.path() + "*")
	for _, f := range old {
		os.Remove(f)
	}
	copied := &auditWorld{t: w.t, dir: dir}
	copied.copyTo(w.dir)
}

// TestAuditVerifyCommand covers the auditor's normal life: first use, an
// unchanged log, growth, a pinned key, the offline check, and the state
// file staying small.
func TestAuditVerifyCommand(t *testing.T) {
	t.Parallel()
	w := newAuditWorld(t)
	w.open()
	w.add(5)

	out, stderr, err := cliRun(t, "audit", "verify", "--url", w.srv.URL(), "--state", w.state)
	if err != nil || !strings.Contains(stderr, "on first use") || !strings.Contains(out, "5 entries (5 new)") {
		t.Fatalf("first run: %v\n%s%s", err, out, stderr)
	}
	out, stderr, err = cliRun(t, "audit", "verify", "--url", w.srv.URL(), "--state", w.state)
	if err != nil || strings.Contains(stderr, "first use") || !strings.Contains(out, "5 entries (0 new)") {
		t.Fatalf("second run: %v\n%s%s", err, out, stderr)
	}
	w.add(1100)
	if out, err := w.verify(); err != nil || !strings.Contains(out, "1105 entries (1100 new)") {
		t.Fatalf("after growth: %v: %s", err, out)
	}

	b, err := os.ReadFile(w.state)
	if err != nil {
		t.Fatal(err)
	}
	var st audit.State
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	if st.Size != 1105 || len(st.Edge) != 4 || len(b) > 2048 { // 1105 = 1024 + 64 + 16 + 1
		t.Fatalf("state: size %d, %d edge hashes, %d bytes", st.Size, len(st.Edge), len(b))
	}
	key := st.Key
	if out, err := w.verify("--key", key, "--full"); err != nil || !strings.Contains(out, "(1105 new)") {
		t.Fatalf("full run with pinned key: %v: %s", err, out)
	}
	w.close()

	out, _, err = cliRun(t, "audit", "verify", "--data", w.dir, "--key", key)
	if err != nil || !strings.Contains(out, "1105 entries") || !strings.Contains(out, "newest checkpoint 1105 entries") {
		t.Fatalf("offline: %v: %s", err, out)
	}

	for _, tt := range []struct {
		name string
		args []string
		says string
	}{
		{"no source", []string{}, "give --url"},
		{"both sources", []string{"--url", "http://x", "--data", w.dir}, "not both"},
		{"state offline", []string{"--data", w.dir, "--state", w.state}, "go with --url"},
		{"argument", []string{"--url", "http://x", "extra"}, "unexpected argument"},
		{"pinned key not the store's", []string{"--data", w.dir, "--key", "other+00000000+AQ=="}, "key changed"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := cliRun(t, append([]string{"audit", "verify"}, tt.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("error %v, want …%s…", err, tt.says)
			}
		})
	}
}

// TestAuditRedTeam tampers with a real store's database behind the
// server's back, each time after an auditor verified the log and kept its
// state, and checks that the auditor's next run (and, where the
// tampering is in the file, the offline check) fails naming the problem.
func TestAuditRedTeam(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		tamper func(w *auditWorld)
		args   []string // extra flags of the online run
		online string   // what the online auditor must report
		// offline is what `audit verify --data` must report; "" when the
		// tampering left a consistent store that only history contradicts.
		offline string
	}{
		{name: "edit an entry in place", tamper: func(w *auditWorld) {
			w.sql(`UPDATE audit_leaves SET data = replace(data, 'attribute.create', 'household.erase') WHERE idx = 7`)
		}, args: []string{"--full"}, online: "rewrite: entry 7 ", offline: "rewrite: entry 7 does not match its stored hash"},

		{name: "edit the newest entry in place", tamper: func(w *auditWorld) {
			w.sql(`UPDATE audit_leaves SET data = replace(data, 'attribute.create', 'household.erase') WHERE idx = 29`)
		}, online: "rewrite: entry 29 ", offline: "rewrite: entry 29 "},

		{name: "edit an entry and rebuild the tree", tamper: func(w *auditWorld) {
			w.rewrite(func(es []*canasta.AuditEntry) []*canasta.AuditEntry {
				es[7].Type = canasta.AuditHouseholdErase
				return es
			})
		}, online: "fork: the log signs two different trees of 30 entries"},

		{name: "edit an entry, rebuild and grow", tamper: func(w *auditWorld) {
			w.rewrite(func(es []*canasta.AuditEntry) []*canasta.AuditEntry {
				es[7].ActorRole = "operator"
				return es
			})
			w.open()
			w.add(3)
			w.close()
		}, online: "fork: the tree of 33 entries", offline: ""},

		{name: "delete the newest entries", tamper: func(w *auditWorld) {
			w.sql(`DELETE FROM audit_leaves WHERE idx >= 27`)
		}, online: "truncation: ", offline: "truncation: the newest checkpoint signs 30 entries, but the store holds 27"},

		{name: "delete an entry in the middle", tamper: func(w *auditWorld) {
			w.sql(`DELETE FROM audit_leaves WHERE idx = 12`)
		}, args: []string{"--full"}, online: "entries from 0", offline: "audit entry 12 is missing"},

		{name: "delete an entry, renumber and rebuild", tamper: func(w *auditWorld) {
			w.rewrite(func(es []*canasta.AuditEntry) []*canasta.AuditEntry { return append(es[:12], es[13:]...) })
		}, online: "truncation: the log now signs 29 entries, but 30"},

		{name: "delete an entry, renumber, rebuild and grow", tamper: func(w *auditWorld) {
			w.rewrite(func(es []*canasta.AuditEntry) []*canasta.AuditEntry { return append(es[:12], es[13:]...) })
			w.open()
			w.add(4)
			w.close()
		}, online: "fork: the tree of 33 entries"},

		{name: "reorder two entries", tamper: func(w *auditWorld) {
			w.sql(`UPDATE audit_leaves SET idx = -1 WHERE idx = 3`,
				`UPDATE audit_leaves SET idx = 3 WHERE idx = 9`,
				`UPDATE audit_leaves SET idx = 9 WHERE idx = -1`)
		}, args: []string{"--full"}, online: "reorder: the entry at position 3 says it is entry 9", offline: "reorder: the entry at position 3 says it is entry 9"},

		{name: "reorder, renumber and rebuild", tamper: func(w *auditWorld) {
			w.rewrite(func(es []*canasta.AuditEntry) []*canasta.AuditEntry {
				es[3], es[9] = es[9], es[3]
				return es
			})
		}, online: "fork: the log signs two different trees of 30 entries"},

		{name: "insert an entry into the past", tamper: func(w *auditWorld) {
			w.rewrite(func(es []*canasta.AuditEntry) []*canasta.AuditEntry {
				forged := *es[4]
				forged.Objects = map[string]string{"attribute": "forged"}
				return append(es[:5], append([]*canasta.AuditEntry{&forged}, es[5:]...)...)
			})
		}, online: "fork: the tree of 31 entries"},

		{name: "append an entry that repeats an index", tamper: func(w *auditWorld) {
			w.sql(`INSERT INTO audit_leaves (idx, data) SELECT 30, data FROM audit_leaves WHERE idx = 29`)
			w.rewriteHashesOnly()
		}, online: "reorder: the entry at position 30 says it is entry 29", offline: "reorder: the entry at position 30 says it is entry 29"},

		{name: "append an entry without its hashes", tamper: func(w *auditWorld) {
			w.sql(`INSERT INTO audit_leaves (idx, data) SELECT 30, replace(data, '"index":29', '"index":30') FROM audit_leaves WHERE idx = 29`)
		}, online: "checkpoint", offline: "audit hash"},

		{name: "restore an old backup", tamper: func(w *auditWorld) {
			w.restore(w.backup)
		}, online: "truncation: the log now signs 20 entries, but 30"},

		{name: "restore an old backup and grow past", tamper: func(w *auditWorld) {
			w.restore(w.backup)
			w.open()
			w.add(15)
			w.close()
		}, online: "fork: the tree of 35 entries"},

		{name: "fork", tamper: func(w *auditWorld) {
			// The auditor followed one branch to 30; the server now shows
			// another that split from it at 20 and grew to 30 differently.
			w.restore(w.backup)
			w.open()
			w.add(10)
			w.close()
		}, online: "fork: the log signs two different trees of 30 entries"},

		{name: "replace the signer key", tamper: func(w *auditWorld) {
			skey, err := audit.NewSignerKey(audit.DefaultOrigin)
			if err != nil {
				w.t.Fatal(err)
			}
			w.sql(`UPDATE audit_signer SET skey = '`+skey+`'`, `DELETE FROM audit_checkpoints`)
		}, online: "key changed: ", offline: ""},

		{name: "forge the checkpoint", tamper: func(w *auditWorld) {
			// A checkpoint for one more entry, made by editing the signed
			// one rather than signing: the intruder has no key here.
			w.sql(`INSERT INTO audit_leaves (idx, data) SELECT 30, replace(data, '"index":29', '"index":30') FROM audit_leaves WHERE idx = 29`)
			w.rewriteHashesOnly()
			w.withFile(func(db *sql.DB) {
				var note []byte
				if err := db.QueryRow(`SELECT note FROM audit_checkpoints WHERE size = 30`).Scan(&note); err != nil {
					w.t.Fatal(err)
				}
				forged := strings.Replace(string(note), "\n30\n", "\n31\n", 1)
				if _, err := db.Exec(`INSERT INTO audit_checkpoints (size, note, signed_at) VALUES (31, ?, '2026-11-30T00:00:00Z')`, []byte(forged)); err != nil {
					w.t.Fatal(err)
				}
			})
		}, online: "bad signature: ", offline: "bad signature: "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newAuditWorld(t)
			w.open()
			w.add(20)
			// The server published the log before the backup was taken,
			// so the backup holds the key and a checkpoint.
			if _, err := w.srv.AuditService.Checkpoint(context.Background()); err != nil {
				t.Fatal(err)
			}
			w.close()
			w.backup = filepath.Join(t.TempDir(), "backup")
			w.copyTo(w.backup)
			w.open()
			w.add(10)
			w.mustVerify()
			w.close()

			tt.tamper(w)

			if tt.offline != "" {
				_, _, err := cliRun(t, "audit", "verify", "--data", w.dir)
				if err == nil || !strings.Contains(err.Error(), tt.offline) {
					t.Fatalf("offline check: %v, want …%s…", err, tt.offline)
				}
			}
			w.open()
			out, err := w.verify(tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.online) {
				t.Fatalf("auditor: %v (%s), want …%s…", err, out, tt.online)
			}
			// A failed run keeps the state of the last good one.
			var st audit.State
			b, _ := os.ReadFile(w.state)
			if json.Unmarshal(b, &st) != nil || st.Size != 30 {
				t.Fatalf("state after a failed run: %s", b)
			}
		})
	}
}

// rewriteHashesOnly recomputes the stored hashes from the leaves as they
// are, without touching them.
func (w *auditWorld) rewriteHashesOnly() {
	w.t.Helper()
	w.withFile(func(db *sql.DB) {
		var leaves [][]byte
		rows, err := db.Query(`SELECT data FROM audit_leaves ORDER BY idx`)
		if err != nil {
			w.t.Fatal(err)
		}
		for rows.Next() {
			var b []byte
			rows.Scan(&b)
			leaves = append(leaves, b)
		}
		rows.Close()
		a, err := audit.Append(0, leaves, func([]int64) ([]tlog.Hash, error) { return nil, io.ErrUnexpectedEOF })
		if err != nil {
			w.t.Fatal(err)
		}
		if _, err := db.Exec(`DELETE FROM audit_hashes`); err != nil {
			w.t.Fatal(err)
		}
		for i, h := range a.Hashes {
			if _, err := db.Exec(`INSERT INTO audit_hashes (idx, hash) VALUES (?, ?)`, a.First+int64(i), h[:]); err != nil {
				w.t.Fatal(err)
			}
		}
	})
}
