package audit

import (
	"fmt"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// memHashes is a stored-hash table in memory, as a store keeps it.
type memHashes map[int64]tlog.Hash

func (m memHashes) read(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		h, ok := m[x]
		if !ok {
			return nil, fmt.Errorf("no stored hash %d", x)
		}
		out[i] = h
	}
	return out, nil
}

func (m memHashes) write(a *Appended) {
	for i, h := range a.Hashes {
		m[a.First+int64(i)] = h
	}
}

// TestAppendBatchesMatchOneByOne checks that appending leaves in batches of
// any size stores exactly the hashes that appending them one at a time
// does, and that the resulting tree hash is RFC 6962's over the records.
func TestAppendBatchesMatchOneByOne(t *testing.T) {
	const total = 300
	leaves := make([][]byte, total)
	for i := range leaves {
		leaves[i] = fmt.Appendf(nil, `{"index":%d}`, i)
	}
	single := memHashes{}
	for i, leaf := range leaves {
		a, err := Append(int64(i), [][]byte{leaf}, single.read)
		if err != nil {
			t.Fatal(err)
		}
		single.write(a)
	}
	for _, batch := range []int{2, 3, 7, 64, 300} {
		t.Run(fmt.Sprintf("batch%d", batch), func(t *testing.T) {
			m := memHashes{}
			for n := 0; n < total; n += batch {
				end := min(n+batch, total)
				a, err := Append(int64(n), leaves[n:end], m.read)
				if err != nil {
					t.Fatal(err)
				}
				if a.First != tlog.StoredHashIndex(0, int64(n)) {
					t.Fatalf("first = %d, want %d", a.First, tlog.StoredHashIndex(0, int64(n)))
				}
				m.write(a)
			}
			if len(m) != len(single) {
				t.Fatalf("stored %d hashes, one by one stored %d", len(m), len(single))
			}
			for x, h := range single {
				if m[x] != h {
					t.Fatalf("stored hash %d differs", x)
				}
			}
		})
	}
	th, err := tlog.TreeHash(total, tlog.HashReaderFunc(single.read))
	if err != nil {
		t.Fatal(err)
	}
	// The root of a two-leaf prefix is NodeHash of the two record hashes.
	h2, err := tlog.TreeHash(2, tlog.HashReaderFunc(single.read))
	if err != nil {
		t.Fatal(err)
	}
	if want := tlog.NodeHash(tlog.RecordHash(leaves[0]), tlog.RecordHash(leaves[1])); h2 != want {
		t.Fatal("two-leaf root is not NodeHash of the record hashes")
	}
	if th == h2 {
		t.Fatal("tree hash did not change with size")
	}
}

func TestCommitDependsOnKeyAndDetails(t *testing.T) {
	k1, k2 := NewKey(), NewKey()
	d := map[string]any{"name": "Ana", "qty": 5}
	c1, _ := Commit(k1, d)
	c1b, _ := Commit(k1, d)
	c2, _ := Commit(k2, d)
	c3, _ := Commit(k1, map[string]any{"name": "Ana", "qty": 6})
	if c1 != c1b {
		t.Error("commitment is not deterministic")
	}
	if c1 == c2 || c1 == c3 {
		t.Error("commitment does not depend on both key and details")
	}
}
