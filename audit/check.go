package audit

import (
	"context"
	"errors"
	"fmt"

	"github.com/canasta/canasta"
	"golang.org/x/mod/sumdb/tlog"
)

// StoreCheck is what CheckStore verified.
type StoreCheck struct {
	Size int64
	Root tlog.Hash
	// Checkpoint is the newest signed checkpoint, nil if none was signed.
	Checkpoint *Checkpoint
	Key        string
}

// errNoSigner stops CheckStore from creating a signer key in a store it
// only reads.
var errNoSigner = errors.New("the store has no audit signer key")

// CheckStore checks a stored log offline, trusting none of the stored
// hashes: it re-hashes every leaf, recomputes every stored tree hash from
// the leaves and compares, checks each entry's index, and checks the
// newest checkpoint's signature and root. key, if not empty, pins the
// verifier key the checkpoint must be signed with. Problems found are
// *VerifyError.
func CheckStore(ctx context.Context, store canasta.AuditStore, key string, progress func(done, total int64)) (*StoreCheck, error) {
	size, err := store.AuditSize(ctx)
	if err != nil {
		return nil, err
	}
	out := &StoreCheck{Size: size}
	cp, err := storedCheckpoint(ctx, store, key)
	if err != nil {
		return nil, err
	}
	if cp != nil {
		out.Checkpoint, out.Key = &cp.Checkpoint, cp.key
		if cp.Size > size {
			return nil, problemf(ProblemTruncation, "the newest checkpoint signs %d entries, but the store holds %d", cp.Size, size)
		}
	}

	f := &Frontier{}
	checkRoot := func() error {
		if cp != nil && f.Size == cp.Size && f.Root() != cp.Root {
			return problemf(ProblemRewrite, "the first %d entries hash to root %s, but the newest checkpoint signs root %s", cp.Size, f.Root(), cp.Root)
		}
		return nil
	}
	if err := checkRoot(); err != nil {
		return nil, err
	}
	for f.Size < size {
		// Stop a page at the checkpoint's size, where the root is checked.
		end := min(f.Size+MaxEntriesPerCall, size)
		if cp != nil && f.Size < cp.Size {
			end = min(end, cp.Size)
		}
		if err := checkStoredPage(ctx, store, f, end); err != nil {
			return nil, err
		}
		if err := checkRoot(); err != nil {
			return nil, err
		}
		if progress != nil {
			progress(f.Size, size)
		}
	}
	out.Root = f.Root()
	return out, nil
}

// signedCheckpoint is a stored checkpoint whose signature verified.
type signedCheckpoint struct {
	Checkpoint
	key string
}

// storedCheckpoint returns the newest stored checkpoint after checking its
// signature, or nil if none was signed yet.
func storedCheckpoint(ctx context.Context, store canasta.AuditStore, pinned string) (*signedCheckpoint, error) {
	size, msg, err := store.LatestAuditCheckpoint(ctx)
	if canasta.ErrorCode(err) == canasta.ENOTFOUND {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	skey, err := store.AuditSignerKey(ctx, func() (string, error) { return "", errNoSigner })
	if errors.Is(err, errNoSigner) {
		return nil, problemf(ProblemSignature, "the store keeps a checkpoint but no key that signed it")
	} else if err != nil {
		return nil, err
	}
	vkey, err := VerifierKey(skey)
	if err != nil {
		return nil, problemf(ProblemSignature, "%v", err)
	}
	if pinned != "" && pinned != vkey {
		return nil, problemf(ProblemKey, "the store's key is %s, not the pinned %s", vkey, pinned)
	}
	cp, err := OpenCheckpoint(msg, vkey)
	if err != nil {
		return nil, problemf(ProblemSignature, "newest checkpoint: %v", err)
	}
	if cp.Size != size {
		return nil, problemf(ProblemSignature, "the checkpoint kept for %d entries signs %d", size, cp.Size)
	}
	return &signedCheckpoint{Checkpoint: cp, key: vkey}, nil
}

// checkStoredPage hashes leaves f.Size to end-1 onto f, recomputing the
// stored hashes they add from f's edge alone, and compares them with the
// stored ones.
func checkStoredPage(ctx context.Context, store canasta.AuditStore, f *Frontier, end int64) error {
	start := f.Size
	leaves, err := store.FindAuditLeaves(ctx, start, end)
	if err != nil {
		return fmt.Errorf("read entries %d to %d: %w", start, end-1, err)
	}
	for i, leaf := range leaves {
		if err := checkIndex(leaf, start+int64(i)); err != nil {
			return err
		}
	}
	want, err := Append(start, leaves, f.reader())
	if err != nil {
		return err
	}
	indexes := make([]int64, len(want.Hashes))
	for i := range indexes {
		indexes[i] = want.First + int64(i)
	}
	got, err := store.ReadAuditHashes(ctx, indexes)
	if err != nil {
		return fmt.Errorf("read stored hashes of entries %d to %d: %w", start, end-1, err)
	}
	for i, h := range want.Hashes {
		if got[i] != h {
			return storedHashProblem(indexes[i])
		}
	}
	for _, leaf := range leaves {
		f.Append(leaf)
	}
	return nil
}

// storedHashProblem names the entries behind a stored hash that does not
// match them.
func storedHashProblem(index int64) error {
	level, n := tlog.SplitStoredHashIndex(index)
	if level == 0 {
		return problemf(ProblemRewrite, "entry %d does not match its stored hash: it was changed after it was logged", n)
	}
	first, last := n<<level, (n+1)<<level-1
	return problemf(ProblemRewrite, "the stored hash over entries %d to %d does not match them", first, last)
}
