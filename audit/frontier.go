package audit

import (
	"fmt"
	"math/bits"

	"golang.org/x/mod/sumdb/tlog"
)

// Frontier is the right edge of a Merkle tree: the roots of the perfect
// subtrees that make up a tree of Size leaves, largest first, one for each
// bit set in Size. It is all an auditor must keep to go on hashing a log
// where it stopped and to compute its root: O(log n) hashes.
type Frontier struct {
	Size   int64
	Hashes []tlog.Hash
}

// NewFrontier returns a frontier after checking that it has one hash per
// bit set in size.
func NewFrontier(size int64, hashes []tlog.Hash) (*Frontier, error) {
	if size < 0 || bits.OnesCount64(uint64(size)) != len(hashes) {
		return nil, fmt.Errorf("a tree of %d entries has %d edge hashes, not %d", size, bits.OnesCount64(uint64(max(size, 0))), len(hashes))
	}
	return &Frontier{Size: size, Hashes: append([]tlog.Hash(nil), hashes...)}, nil
}

// Append adds a leaf.
func (f *Frontier) Append(leaf []byte) { f.AppendHash(tlog.RecordHash(leaf)) }

// AppendHash adds a leaf by its record hash. Like a binary counter's
// carry, each trailing one bit of the old size merges two equal subtrees.
func (f *Frontier) AppendHash(h tlog.Hash) {
	for n := f.Size; n&1 == 1; n >>= 1 {
		last := len(f.Hashes) - 1
		h = tlog.NodeHash(f.Hashes[last], h)
		f.Hashes = f.Hashes[:last]
	}
	f.Hashes = append(f.Hashes, h)
	f.Size++
}

// Root returns the RFC 6962 tree hash, folding the subtrees from the right
// as the tree's recursive definition splits them.
func (f *Frontier) Root() tlog.Hash {
	if len(f.Hashes) == 0 {
		h, _ := tlog.TreeHash(0, nil)
		return h
	}
	h := f.Hashes[len(f.Hashes)-1]
	for i := len(f.Hashes) - 2; i >= 0; i-- {
		h = tlog.NodeHash(f.Hashes[i], h)
	}
	return h
}

// Clone returns an independent copy.
func (f *Frontier) Clone() *Frontier {
	return &Frontier{Size: f.Size, Hashes: append([]tlog.Hash(nil), f.Hashes...)}
}

// storedIndexes returns the tlog storage indexes of the frontier's hashes,
// in the same order: the subtree at level l ends at the last complete
// group of 2^l leaves.
func (f *Frontier) storedIndexes() []int64 {
	out := make([]int64, 0, len(f.Hashes))
	for l := 63; l >= 0; l-- {
		if f.Size&(1<<l) != 0 {
			out = append(out, tlog.StoredHashIndex(l, f.Size>>l-1))
		}
	}
	return out
}

// reader serves the stored hashes that appending to the frontier's tree
// needs, from the frontier alone.
func (f *Frontier) reader() tlog.HashReaderFunc {
	at := make(map[int64]tlog.Hash, len(f.Hashes))
	for i, x := range f.storedIndexes() {
		at[x] = f.Hashes[i]
	}
	return func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		for i, x := range indexes {
			h, ok := at[x]
			if !ok {
				return nil, fmt.Errorf("audit: stored hash %d is not on the edge of a tree of %d", x, f.Size)
			}
			out[i] = h
		}
		return out, nil
	}
}
