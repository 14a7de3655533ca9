package audit

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/canasta/canasta"
	"golang.org/x/mod/sumdb/tlog"
)

// memStore is a canasta.AuditStore in memory, appended to as the real
// stores append: leaves and stored hashes together.
type memStore struct {
	mu          sync.Mutex
	leaves      [][]byte
	hashes      map[int64]tlog.Hash
	skey        string
	checkpoints map[int64][]byte
	newest      int64
}

var _ canasta.AuditStore = (*memStore)(nil)

func newMemStore() *memStore {
	return &memStore{hashes: map[int64]tlog.Hash{}, checkpoints: map[int64][]byte{}, newest: -1}
}

// add appends n entries of type t.
func (m *memStore) add(tb testing.TB, n int, t canasta.AuditType) {
	tb.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	size := int64(len(m.leaves))
	leaves := make([][]byte, n)
	for i := range leaves {
		e := &canasta.AuditEntry{Index: size + int64(i), Type: t, Time: time.Date(2026, 12, 1, 0, 0, i, 0, time.UTC),
			ActorRole: "system", Objects: map[string]string{"n": fmt.Sprint(size + int64(i))}}
		leaf, err := Leaf(e)
		if err != nil {
			tb.Fatal(err)
		}
		leaves[i] = leaf
	}
	a, err := Append(size, leaves, m.readLocked)
	if err != nil {
		tb.Fatal(err)
	}
	for i, h := range a.Hashes {
		m.hashes[a.First+int64(i)] = h
	}
	m.leaves = append(m.leaves, leaves...)
}

func (m *memStore) readLocked(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		h, ok := m.hashes[x]
		if !ok {
			return nil, fmt.Errorf("audit hash %d is missing", x)
		}
		out[i] = h
	}
	return out, nil
}

func (m *memStore) AuditSize(ctx context.Context) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return int64(len(m.leaves)), nil
}

func (m *memStore) FindAuditLeaves(ctx context.Context, start, end int64) ([][]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if start < 0 || end < start || end > int64(len(m.leaves)) {
		return nil, canasta.Errorf(canasta.EINVALID, "Audit entries %d to %d are outside the log.", start, end)
	}
	out := make([][]byte, end-start)
	for i := range out {
		out[i] = append([]byte(nil), m.leaves[start+int64(i)]...)
	}
	return out, nil
}

func (m *memStore) ReadAuditHashes(ctx context.Context, indexes []int64) ([]canasta.AuditHash, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	hs, err := m.readLocked(indexes)
	return hashes(hs), err
}

func (m *memStore) AuditSignerKey(ctx context.Context, create func() (string, error)) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.skey == "" {
		k, err := create()
		if err != nil {
			return "", err
		}
		m.skey = k
	}
	return m.skey, nil
}

func (m *memStore) SaveAuditCheckpoint(ctx context.Context, size int64, note []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if size > m.newest {
		m.checkpoints[size] = append([]byte(nil), note...)
		m.newest = size
	}
	return nil
}

func (m *memStore) LatestAuditCheckpoint(ctx context.Context) (int64, []byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.newest < 0 {
		return 0, nil, canasta.Errorf(canasta.ENOTFOUND, "No audit checkpoint has been signed yet.")
	}
	return m.newest, m.checkpoints[m.newest], nil
}

// clone returns an independent copy, as a restored backup or a fork's
// second branch is.
func (m *memStore) clone() *memStore {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := newMemStore()
	for _, l := range m.leaves {
		c.leaves = append(c.leaves, append([]byte(nil), l...))
	}
	for k, v := range m.hashes {
		c.hashes[k] = v
	}
	for k, v := range m.checkpoints {
		c.checkpoints[k] = v
	}
	c.skey, c.newest = m.skey, m.newest
	return c
}

// rebuild recomputes every stored hash from the leaves and forgets the
// checkpoints, as an intruder with the database covers an edit.
func (m *memStore) rebuild(tb testing.TB) {
	tb.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.hashes = map[int64]tlog.Hash{}
	a, err := Append(0, m.leaves, m.readLocked)
	if err != nil {
		tb.Fatal(err)
	}
	for i, h := range a.Hashes {
		m.hashes[a.First+int64(i)] = h
	}
	m.checkpoints, m.newest = map[int64][]byte{}, -1
}
