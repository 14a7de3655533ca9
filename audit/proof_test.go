package audit

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/canasta/canasta"
	"golang.org/x/mod/sumdb/tlog"
)

// TestFrontierMatchesTreeHash checks the auditor's O(log n) edge against
// tlog's tree hash over stored hashes for every size up to a few hundred,
// and that the edge's hashes are the stored hashes at its storage indexes.
func TestFrontierMatchesTreeHash(t *testing.T) {
	m := newMemStore()
	f := &Frontier{}
	if f.Root() != tlog.Hash(sha256.Sum256(nil)) || f.Root() != mustTreeHash(t, m, 0) {
		t.Fatal("empty frontier root is not RFC 6962's empty tree hash")
	}
	for size := 1; size <= 300; size++ {
		m.add(t, 1, canasta.AuditProgramCreate)
		f.Append(m.leaves[size-1])
		if got, want := f.Root(), mustTreeHash(t, m, int64(size)); got != want {
			t.Fatalf("size %d: frontier root %s, tree hash %s", size, got, want)
		}
		for i, x := range f.storedIndexes() {
			if m.hashes[x] != f.Hashes[i] {
				t.Fatalf("size %d: edge hash %d is not stored hash %d", size, i, x)
			}
		}
		if _, err := NewFrontier(f.Size, f.Hashes); err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
	}
	if _, err := NewFrontier(5, f.Hashes[:1]); err == nil {
		t.Fatal("NewFrontier accepted an edge of the wrong length")
	}
}

func mustTreeHash(tb testing.TB, m *memStore, size int64) tlog.Hash {
	tb.Helper()
	h, err := tlog.TreeHash(size, tlog.HashReaderFunc(m.readLocked))
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

// flipped returns copies of b with one bit changed, at every byte.
func flipped(b []byte) [][]byte {
	out := make([][]byte, len(b))
	for i := range b {
		c := append([]byte(nil), b...)
		c[i] ^= 1 << (i % 8)
		out[i] = c
	}
	return out
}

// TestProofsProperty checks, for logs of random sizes, that the service's
// inclusion and consistency proofs verify against the tree hash, and that
// changing any byte of the leaf, of any proof hash or of the root makes
// them fail.
func TestProofsProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 2026))
	ctx := context.Background()
	sizes := []int64{1, 2, 3, 4, 5, 7, 8, 9, 16, 17}
	for range 12 {
		sizes = append(sizes, 1+rng.Int64N(2500))
	}
	for _, n := range sizes {
		t.Run(fmt.Sprintf("size%d", n), func(t *testing.T) {
			m := newMemStore()
			m.add(t, int(n), canasta.AuditRedemption)
			l := NewLog(m)
			for range 4 {
				size := 1 + rng.Int64N(n)
				root := mustTreeHash(t, m, size)
				index := rng.Int64N(size)
				checkInclusion(t, l, m.leaves[index], index, size, root)

				old := 1 + rng.Int64N(size)
				checkConsistency(t, l, old, size, mustTreeHash(t, m, old), root)
			}
			if _, _, err := l.InclusionProof(ctx, 0, n+1); canasta.ErrorCode(err) != canasta.EINVALID {
				t.Fatalf("proof beyond the log: %v, want EINVALID", err)
			}
		})
	}
}

func checkInclusion(t *testing.T, l *Log, leaf []byte, index, size int64, root tlog.Hash) {
	t.Helper()
	leafHash, proof, err := l.InclusionProof(context.Background(), index, size)
	if err != nil {
		t.Fatal(err)
	}
	if leafHash != tlog.RecordHash(leaf) {
		t.Fatalf("entry %d: leaf_hash is not the leaf's record hash", index)
	}
	p := toTLog(proof)
	if err := tlog.CheckRecord(p, size, root, index, tlog.RecordHash(leaf)); err != nil {
		t.Fatalf("inclusion of %d in %d: %v", index, size, err)
	}
	for i, bad := range flipped(leaf) {
		if tlog.CheckRecord(p, size, root, index, tlog.RecordHash(bad)) == nil {
			t.Fatalf("inclusion of %d in %d verified with leaf byte %d changed", index, size, i)
		}
	}
	for _, bad := range flipped(root[:]) {
		if tlog.CheckRecord(p, size, tlog.Hash(bad), index, leafHash) == nil {
			t.Fatalf("inclusion of %d in %d verified with a changed root", index, size)
		}
	}
	for j := range p {
		for _, bad := range flipped(p[j][:]) {
			q := append(tlog.RecordProof(nil), p...)
			q[j] = tlog.Hash(bad)
			if tlog.CheckRecord(q, size, root, index, leafHash) == nil {
				t.Fatalf("inclusion of %d in %d verified with proof hash %d changed", index, size, j)
			}
		}
	}
}

func checkConsistency(t *testing.T, l *Log, old, size int64, oldRoot, root tlog.Hash) {
	t.Helper()
	proof, err := l.ConsistencyProof(context.Background(), old, size)
	if err != nil {
		t.Fatal(err)
	}
	p := toTLog(proof)
	if err := tlog.CheckTree(p, size, root, old, oldRoot); err != nil {
		t.Fatalf("consistency of %d with %d: %v", old, size, err)
	}
	for _, bad := range flipped(root[:]) {
		if tlog.CheckTree(p, size, tlog.Hash(bad), old, oldRoot) == nil {
			t.Fatalf("consistency of %d with %d verified with a changed new root", old, size)
		}
	}
	for _, bad := range flipped(oldRoot[:]) {
		if tlog.CheckTree(p, size, root, old, tlog.Hash(bad)) == nil {
			t.Fatalf("consistency of %d with %d verified with a changed old root", old, size)
		}
	}
	for j := range p {
		for _, bad := range flipped(p[j][:]) {
			q := append(tlog.TreeProof(nil), p...)
			q[j] = tlog.Hash(bad)
			if tlog.CheckTree(q, size, root, old, oldRoot) == nil {
				t.Fatalf("consistency of %d with %d verified with proof hash %d changed", old, size, j)
			}
		}
	}
}
