package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/canasta/canasta"
	"golang.org/x/mod/sumdb/tlog"
)

// verify runs an auditor over store from prev and returns its result.
func verify(tb testing.TB, a *Auditor, prev *State) (*Result, error) {
	tb.Helper()
	return a.Verify(context.Background(), prev)
}

func mustVerify(tb testing.TB, a *Auditor, prev *State) *State {
	tb.Helper()
	r, err := verify(tb, a, prev)
	if err != nil {
		tb.Fatalf("verify: %v", err)
	}
	return r.State
}

// editLeaf changes entry k's type in place, keeping its index.
func (m *memStore) editLeaf(tb testing.TB, k int) {
	tb.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	e, err := ParseLeaf(m.leaves[k])
	if err != nil {
		tb.Fatal(err)
	}
	e.Type = canasta.AuditHouseholdErase
	if m.leaves[k], err = Leaf(e); err != nil {
		tb.Fatal(err)
	}
}

// truncate drops every entry from n on with the hashes only they need.
func (m *memStore) truncate(n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.leaves = m.leaves[:n]
	for x := range m.hashes {
		if x >= tlog.StoredHashCount(int64(n)) {
			delete(m.hashes, x)
		}
	}
}

func (m *memStore) swap(i, j int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.leaves[i], m.leaves[j] = m.leaves[j], m.leaves[i]
}

// renumber rewrites every entry's index to its position, as an intruder
// hiding a reorder or insertion would.
func (m *memStore) renumber(tb testing.TB) {
	tb.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, leaf := range m.leaves {
		e, err := ParseLeaf(leaf)
		if err != nil {
			tb.Fatal(err)
		}
		e.Index = int64(i)
		if m.leaves[i], err = Leaf(e); err != nil {
			tb.Fatal(err)
		}
	}
}

func (m *memStore) insert(k int, leaf []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.leaves = append(m.leaves[:k], append([][]byte{leaf}, m.leaves[k:]...)...)
}

// TestAuditorHonestLog checks that an auditor follows a growing log over
// several runs, paging through more than one page, keeping a small state
// and hashing each entry once.
func TestAuditorHonestLog(t *testing.T) {
	m := newMemStore()
	a := &Auditor{Log: NewLog(m)}
	var prev *State
	total := int64(0)
	for i, n := range []int{0, 1, 2, 2*MaxEntriesPerCall + 17, 0, 5} {
		m.add(t, n, canasta.AuditRedemption)
		total += int64(n)
		var done int64
		a.Progress = func(d, _ int64) { done = d }
		r, err := verify(t, a, prev)
		if err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		if r.FirstUse != (i == 0) {
			t.Fatalf("run %d: first use %v", i, r.FirstUse)
		}
		if r.Hashed != int64(n) || (n > 0 && done != int64(n)) {
			t.Fatalf("run %d: hashed %d (progress %d), want the %d new entries", i, r.Hashed, done, n)
		}
		if r.State.Size != total || r.State.Root != mustTreeHash(t, m, total) {
			t.Fatalf("run %d: state size %d, want %d with its root", i, r.State.Size, total)
		}
		b, _ := json.Marshal(r.State)
		if len(r.State.Edge) > 64 || len(b) > 4096 {
			t.Fatalf("run %d: state holds %d edge hashes, %d bytes", i, len(r.State.Edge), len(b))
		}
		prev = r.State
	}
	// A full re-hash of the honest log agrees.
	full := &Auditor{Log: NewLog(m), Full: true}
	if r, err := verify(t, full, prev); err != nil || r.Hashed != total {
		t.Fatalf("full run: %v, hashed %d of %d", err, r.Hashed, total)
	}
}

// TestAuditorDetects tampers with a log an auditor has seen and checks
// that its next run names the problem.
func TestAuditorDetects(t *testing.T) {
	const seen = 40
	for _, tt := range []struct {
		name   string
		full   bool
		tamper func(t *testing.T, m *memStore) *memStore
		want   Problem
		detail string
	}{
		{"edit old entry, full re-hash", true, func(t *testing.T, m *memStore) *memStore {
			m.editLeaf(t, 17)
			return m
		}, ProblemRewrite, "entry 17 "},
		{"edit old entry and rebuild the tree", false, func(t *testing.T, m *memStore) *memStore {
			m.editLeaf(t, 17)
			m.rebuild(t)
			return m
		}, ProblemFork, "two different trees of 40"},
		{"edit old entry, rebuild, grow", false, func(t *testing.T, m *memStore) *memStore {
			m.editLeaf(t, 3)
			m.rebuild(t)
			m.add(t, 10, canasta.AuditRedemption)
			return m
		}, ProblemFork, "does not extend"},
		{"edit new entry behind its hashes", false, func(t *testing.T, m *memStore) *memStore {
			m.add(t, 2*MaxEntriesPerCall, canasta.AuditRedemption)
			m.editLeaf(t, seen+MaxEntriesPerCall+123)
			return m
		}, ProblemRewrite, "entry 1163 "},
		{"edit last entry behind its hashes", false, func(t *testing.T, m *memStore) *memStore {
			m.editLeaf(t, seen-1)
			return m
		}, ProblemRewrite, "entry 39 "},
		{"delete last entries behind the checkpoint", false, func(t *testing.T, m *memStore) *memStore {
			m.truncate(seen - 3)
			return m
		}, ProblemTruncation, "no longer serves entry 39"},
		{"delete last entries and re-sign", false, func(t *testing.T, m *memStore) *memStore {
			m.truncate(seen - 3)
			m.rebuild(t)
			return m
		}, ProblemTruncation, "now signs 37 entries, but 40"},
		{"delete last entries, re-sign, grow past", false, func(t *testing.T, m *memStore) *memStore {
			m.truncate(seen - 3)
			m.rebuild(t)
			m.add(t, 10, canasta.AuditRedemption)
			return m
		}, ProblemFork, "does not extend"},
		{"reorder, full re-hash", true, func(t *testing.T, m *memStore) *memStore {
			m.swap(5, 9)
			return m
		}, ProblemReorder, "position 5 says it is entry 9"},
		{"reorder, renumber and rebuild", false, func(t *testing.T, m *memStore) *memStore {
			m.swap(5, 9)
			m.renumber(t)
			m.rebuild(t)
			return m
		}, ProblemFork, "two different trees"},
		{"insert, renumber and rebuild", false, func(t *testing.T, m *memStore) *memStore {
			m.insert(12, m.leaves[0])
			m.renumber(t)
			m.rebuild(t)
			return m
		}, ProblemFork, "does not extend"},
		{"append with a wrong index", false, func(t *testing.T, m *memStore) *memStore {
			m.add(t, 3, canasta.AuditRedemption)
			m.insert(len(m.leaves), m.leaves[seen])
			m.rebuild(t)
			return m
		}, ProblemReorder, "position 43 says it is entry 40"},
		{"restore an old backup", false, func(t *testing.T, m *memStore) *memStore {
			return backup(t, m, 30)
		}, ProblemTruncation, "now signs 30 entries, but 40"},
		{"restore an old backup that grew past", false, func(t *testing.T, m *memStore) *memStore {
			b := backup(t, m, 30)
			b.add(t, 20, canasta.AuditCardLock)
			return b
		}, ProblemFork, "does not extend"},
		{"fork at the same size", false, func(t *testing.T, m *memStore) *memStore {
			return fork(t, m, 0)
		}, ProblemFork, "two different trees of 40"},
		{"fork that grew", false, func(t *testing.T, m *memStore) *memStore {
			return fork(t, m, 25)
		}, ProblemFork, "does not extend"},
		{"new signer key", false, func(t *testing.T, m *memStore) *memStore {
			m.skey, _ = NewSignerKey(DefaultOrigin)
			m.rebuild(t)
			return m
		}, ProblemKey, "now serves verifier key"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := newMemStore()
			m.add(t, seen, canasta.AuditRedemption)
			prev := mustVerify(t, &Auditor{Log: NewLog(m)}, nil)
			tampered := tt.tamper(t, m)
			_, err := verify(t, &Auditor{Log: NewLog(tampered), Full: tt.full}, prev)
			var ve *VerifyError
			if !errors.As(err, &ve) {
				t.Fatalf("verify: %v, want a %s", err, tt.want)
			}
			if ve.Problem != tt.want || !strings.Contains(ve.Detail, tt.detail) {
				t.Fatalf("found %q, want %s: …%s…", err, tt.want, tt.detail)
			}
		})
	}
}

// backup returns a copy of m as it was at size n: the copy taken then,
// restored after m grew on.
func backup(t *testing.T, m *memStore, n int) *memStore {
	b := m.clone()
	b.truncate(n)
	b.rebuild(t)
	return b
}

// fork returns a second branch of m, which diverges from its last 10
// entries on and then grows by more.
func fork(t *testing.T, m *memStore, more int) *memStore {
	b := backup(t, m, len(m.leaves)-10)
	b.add(t, 10+more, canasta.AuditGrievance)
	return b
}

// TestAuditorEditBehindHashesNeedsFullRun documents what an incremental
// run cannot see: an old entry edited in place without touching the tree
// changes no signed root, so only a full re-hash (or anyone checking that
// entry's inclusion proof) finds it.
func TestAuditorEditBehindHashesNeedsFullRun(t *testing.T) {
	m := newMemStore()
	m.add(t, 40, canasta.AuditRedemption)
	prev := mustVerify(t, &Auditor{Log: NewLog(m)}, nil)
	m.editLeaf(t, 17)
	m.add(t, 5, canasta.AuditRedemption)
	if _, err := verify(t, &Auditor{Log: NewLog(m)}, prev); err != nil {
		t.Fatalf("incremental run: %v", err)
	}
	if _, err := verify(t, &Auditor{Log: NewLog(m), Full: true}, prev); err == nil || !strings.Contains(err.Error(), "entry 17 ") {
		t.Fatalf("full run: %v, want a rewrite of entry 17", err)
	}
}

// lyingLog wraps a log and changes what it serves.
type lyingLog struct {
	canasta.AuditService
	checkpoint func([]byte) []byte
	key        string
}

func (l *lyingLog) Checkpoint(ctx context.Context) ([]byte, error) {
	msg, err := l.AuditService.Checkpoint(ctx)
	if err != nil || l.checkpoint == nil {
		return msg, err
	}
	return l.checkpoint(msg), nil
}

func (l *lyingLog) VerifierKey(ctx context.Context) (string, error) {
	if l.key != "" {
		return l.key, nil
	}
	return l.AuditService.VerifierKey(ctx)
}

func TestAuditorKeyAndSignature(t *testing.T) {
	ctx := context.Background()
	m := newMemStore()
	m.add(t, 10, canasta.AuditRedemption)
	log := NewLog(m)
	vkey, _ := log.VerifierKey(ctx)
	otherSkey, _ := NewSignerKey(DefaultOrigin)
	otherVkey, _ := VerifierKey(otherSkey)
	prev := mustVerify(t, &Auditor{Log: log}, nil)
	m.add(t, 1, canasta.AuditRedemption)

	for _, tt := range []struct {
		name string
		a    *Auditor
		prev *State
		want Problem
	}{
		{"pinned key differs", &Auditor{Log: log, Key: otherVkey}, nil, ProblemKey},
		{"served key differs from state", &Auditor{Log: &lyingLog{AuditService: log, key: otherVkey}}, prev, ProblemKey},
		{"checkpoint signature changed", &Auditor{Log: &lyingLog{AuditService: log, checkpoint: func(b []byte) []byte {
			return flipAt(b, len(b)-6)
		}}}, prev, ProblemSignature},
		{"checkpoint size changed", &Auditor{Log: &lyingLog{AuditService: log, checkpoint: func(b []byte) []byte {
			return bytes.Replace(b, []byte("\n11\n"), []byte("\n12\n"), 1)
		}}}, prev, ProblemSignature},
		{"checkpoint signed by another key", &Auditor{Log: &lyingLog{AuditService: log, checkpoint: func(b []byte) []byte {
			c, _ := OpenCheckpoint(b, vkey)
			msg, _ := SignCheckpoint(c, otherSkey)
			return msg
		}}}, prev, ProblemSignature},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := verify(t, tt.a, tt.prev)
			var ve *VerifyError
			if !errors.As(err, &ve) || ve.Problem != tt.want {
				t.Fatalf("verify: %v, want %s", err, tt.want)
			}
		})
	}

	t.Run("pinned key matches", func(t *testing.T) {
		if r, err := verify(t, &Auditor{Log: log, Key: vkey}, nil); err != nil || r.FirstUse {
			t.Fatalf("verify: %v (first use %v)", err, r != nil && r.FirstUse)
		}
	})
	t.Run("damaged state", func(t *testing.T) {
		bad := *prev
		bad.Edge = append([]tlog.Hash(nil), prev.Edge...)
		bad.Edge[0][0] ^= 1
		_, err := verify(t, &Auditor{Log: log}, &bad)
		var ve *VerifyError
		if err == nil || errors.As(err, &ve) || !strings.Contains(err.Error(), "damaged") {
			t.Fatalf("verify: %v, want a damaged-state error that blames no one", err)
		}
	})
}
