package audit

import (
	"context"
	"fmt"

	"github.com/canasta/canasta"
	"golang.org/x/mod/sumdb/tlog"
)

// Problem names what an auditor found wrong with a log.
type Problem string

// The problems an auditor reports. Each is evidence of tampering or of a
// server showing different histories to different people, except that a
// changed key may also be an announced rotation, which an operator checks
// out of band before trusting the new key.
const (
	ProblemSignature  Problem = "bad signature"
	ProblemKey        Problem = "key changed"
	ProblemFork       Problem = "fork"
	ProblemRewrite    Problem = "rewrite"
	ProblemReorder    Problem = "reorder"
	ProblemTruncation Problem = "truncation"
)

// VerifyError is a problem found in a log, with the detail that locates it.
type VerifyError struct {
	Problem Problem
	Detail  string
}

func (e *VerifyError) Error() string { return string(e.Problem) + ": " + e.Detail }

func problemf(p Problem, format string, args ...any) error {
	return &VerifyError{Problem: p, Detail: fmt.Sprintf(format, args...)}
}

// State is what an auditor remembers of a log between runs: the trusted
// key, the last verified checkpoint, and the tree's right edge so that the
// next run hashes only new entries. It stays O(log n) in size.
type State struct {
	Key  string      `json:"key"`
	Size int64       `json:"size"`
	Root tlog.Hash   `json:"root"`
	Edge []tlog.Hash `json:"edge"`
	// Checkpoint is the signed note last verified: evidence to show
	// should the log later contradict it.
	Checkpoint string `json:"checkpoint"`
}

// frontier returns the state's tree edge after checking that it hashes to
// the state's root, so a corrupted state file is not mistaken for a log
// problem.
func (s *State) frontier() (*Frontier, error) {
	f, err := NewFrontier(s.Size, s.Edge)
	if err != nil {
		return nil, fmt.Errorf("auditor state: %w", err)
	}
	if f.Root() != s.Root {
		return nil, fmt.Errorf("auditor state: its edge hashes do not give its root; the state file is damaged")
	}
	return f, nil
}

// Auditor checks a log independently of its operator: signature, append-
// only growth since the last checkpoint it saw, and the hash of every new
// entry.
type Auditor struct {
	Log canasta.AuditService
	// Key pins the verifier key. Empty trusts the key in the state, or,
	// with no state, the key the log serves (trust on first use).
	Key string
	// Full re-hashes the whole log rather than only new entries, which
	// also finds an entry edited in place behind the stored hashes' back.
	Full bool
	// Progress, if set, is told how many entries of the run are hashed.
	Progress func(done, total int64)
}

// Result is a successful run.
type Result struct {
	State *State
	// FirstUse is set when the key was trusted because it was the first
	// one seen.
	FirstUse bool
	// Hashed is the number of entries hashed in this run.
	Hashed int64
}

// Verify checks the log against prev, the state of the last run (nil on
// the first), and returns the new state. Any problem found is a
// *VerifyError; other errors mean the log could not be read.
func (a *Auditor) Verify(ctx context.Context, prev *State) (*Result, error) {
	if prev == nil {
		prev = &State{Root: (&Frontier{}).Root()}
	}
	key, firstUse, err := a.trustedKey(ctx, prev)
	if err != nil {
		return nil, err
	}
	msg, err := a.Log.Checkpoint(ctx)
	if err != nil {
		return nil, fmt.Errorf("fetch checkpoint: %w", err)
	}
	cp, err := OpenCheckpoint(msg, key)
	if err != nil {
		return nil, problemf(ProblemSignature, "%v", err)
	}
	if err := a.checkGrowth(ctx, prev, cp); err != nil {
		return nil, err
	}

	f := &Frontier{}
	if !a.Full {
		if f, err = prev.frontier(); err != nil {
			return nil, err
		}
	}
	start := f.Size
	for f.Size < cp.Size {
		if f, err = a.hashPage(ctx, f, cp); err != nil {
			return nil, err
		}
		if a.Progress != nil {
			a.Progress(f.Size-start, cp.Size-start)
		}
	}
	if start == cp.Size && cp.Size > 0 {
		if err := a.checkTip(ctx, cp); err != nil {
			return nil, err
		}
	}
	if f.Root() != cp.Root {
		return nil, problemf(ProblemRewrite, "the %d entries hash to root %s, but the checkpoint signs root %s", cp.Size, f.Root(), cp.Root)
	}
	return &Result{
		State:    &State{Key: key, Size: cp.Size, Root: cp.Root, Edge: f.Hashes, Checkpoint: string(msg)},
		FirstUse: firstUse,
		Hashed:   cp.Size - start,
	}, nil
}

// trustedKey returns the key to check checkpoints with: the pinned one,
// else the one in the state, else the one the log serves now.
func (a *Auditor) trustedKey(ctx context.Context, prev *State) (key string, firstUse bool, err error) {
	served, err := a.Log.VerifierKey(ctx)
	if err != nil {
		return "", false, fmt.Errorf("fetch verifier key: %w", err)
	}
	switch {
	case a.Key != "" && prev.Key != "" && a.Key != prev.Key:
		return "", false, fmt.Errorf("the pinned key %s differs from the key %s in the state file; use a new state file for a new key", a.Key, prev.Key)
	case a.Key != "":
		key = a.Key
	case prev.Key != "":
		key = prev.Key
	default:
		key, firstUse = served, true
	}
	if _, err := KeyName(key); err != nil {
		return "", false, err
	}
	if served != key {
		return "", false, problemf(ProblemKey, "the log now serves verifier key %s, not the trusted %s", served, key)
	}
	return key, firstUse, nil
}

// checkGrowth checks that the new checkpoint extends the last one seen.
func (a *Auditor) checkGrowth(ctx context.Context, prev *State, cp Checkpoint) error {
	switch {
	case cp.Size < prev.Size:
		return problemf(ProblemTruncation, "the log now signs %d entries, but %d were signed before", cp.Size, prev.Size)
	case cp.Size == prev.Size && cp.Root != prev.Root:
		return problemf(ProblemFork, "the log signs two different trees of %d entries: root %s before, %s now", cp.Size, prev.Root, cp.Root)
	case prev.Size == 0 || cp.Size == prev.Size:
		return nil
	}
	proof, err := a.Log.ConsistencyProof(ctx, prev.Size, cp.Size)
	if err != nil {
		return fmt.Errorf("fetch consistency proof %d to %d: %w", prev.Size, cp.Size, err)
	}
	if err := tlog.CheckTree(toTLog(proof), cp.Size, cp.Root, prev.Size, prev.Root); err != nil {
		return problemf(ProblemFork, "the tree of %d entries (root %s) does not extend the tree of %d entries seen before (root %s): history was rewritten or forked",
			cp.Size, cp.Root, prev.Size, prev.Root)
	}
	return nil
}

// hashPage fetches and hashes the next page of entries, then checks that
// the tree so far is a prefix of the checkpoint's, so a rewritten entry is
// found within the page it is in and then located exactly.
func (a *Auditor) hashPage(ctx context.Context, f *Frontier, cp Checkpoint) (*Frontier, error) {
	start := f.Size
	leaves, err := a.Log.Entries(ctx, start, min(start+MaxEntriesPerCall, cp.Size))
	if canasta.ErrorCode(err) == canasta.ENOTFOUND {
		return nil, problemf(ProblemTruncation, "the checkpoint signs %d entries, but the log serves none from entry %d on: %s", cp.Size, start, canasta.ErrorMessage(err))
	} else if err != nil {
		return nil, fmt.Errorf("fetch entries from %d: %w", start, err)
	}
	before := f.Clone()
	for i, leaf := range leaves {
		if err := checkIndex(leaf, start+int64(i)); err != nil {
			return nil, err
		}
		f.Append(leaf)
	}
	if f.Size > cp.Size {
		return nil, fmt.Errorf("fetch entries from %d: the log served more entries than its checkpoint holds", start)
	}
	ok, err := a.prefixOf(ctx, f, cp)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, a.locate(ctx, before, leaves, cp)
	}
	return f, nil
}

// prefixOf reports whether the tree f is a prefix of the checkpoint's.
func (a *Auditor) prefixOf(ctx context.Context, f *Frontier, cp Checkpoint) (bool, error) {
	if f.Size == cp.Size {
		return f.Root() == cp.Root, nil
	}
	if f.Size == 0 {
		return true, nil
	}
	proof, err := a.Log.ConsistencyProof(ctx, f.Size, cp.Size)
	if err != nil {
		return false, fmt.Errorf("fetch consistency proof %d to %d: %w", f.Size, cp.Size, err)
	}
	return tlog.CheckTree(toTLog(proof), cp.Size, cp.Root, f.Size, f.Root()) == nil, nil
}

// locate finds the first leaf of a page after which the tree stops being
// a prefix of the checkpoint's, by bisection over the page: the tree
// before the page is a prefix, the tree after it is not.
func (a *Auditor) locate(ctx context.Context, before *Frontier, leaves [][]byte, cp Checkpoint) error {
	after := func(k int) *Frontier {
		f := before.Clone()
		for _, leaf := range leaves[:k] {
			f.Append(leaf)
		}
		return f
	}
	good, bad := 0, len(leaves)
	for bad-good > 1 {
		mid := (good + bad) / 2
		ok, err := a.prefixOf(ctx, after(mid), cp)
		if err != nil {
			return err
		}
		if ok {
			good = mid
		} else {
			bad = mid
		}
	}
	index := before.Size + int64(bad) - 1
	return problemf(ProblemRewrite, "entry %d does not hash to what the checkpoint of %d entries signs: it was changed after it was logged", index, cp.Size)
}

// checkTip checks, when a run has no new entry to hash, that the log
// still serves the checkpoint's last entry and proves it in the tree: a
// log cut short or edited at its end behind a kept checkpoint shows here
// before any new entry arrives.
func (a *Auditor) checkTip(ctx context.Context, cp Checkpoint) error {
	last := cp.Size - 1
	leaf, err := a.Log.Entry(ctx, last)
	if canasta.ErrorCode(err) == canasta.ENOTFOUND {
		return problemf(ProblemTruncation, "the checkpoint signs %d entries, but the log no longer serves entry %d: %s", cp.Size, last, canasta.ErrorMessage(err))
	} else if err != nil {
		return fmt.Errorf("fetch entry %d: %w", last, err)
	}
	if err := checkIndex(leaf, last); err != nil {
		return err
	}
	_, proof, err := a.Log.InclusionProof(ctx, last, cp.Size)
	if canasta.ErrorCode(err) == canasta.EINVALID {
		return problemf(ProblemTruncation, "the checkpoint signs %d entries, but the log cannot prove its last one: %s", cp.Size, canasta.ErrorMessage(err))
	} else if err != nil {
		return fmt.Errorf("fetch inclusion proof of entry %d: %w", last, err)
	}
	if tlog.CheckRecord(toTLog(proof), cp.Size, cp.Root, last, tlog.RecordHash(leaf)) != nil {
		return problemf(ProblemRewrite, "entry %d is not the entry the checkpoint of %d entries signs: it was changed after it was logged", last, cp.Size)
	}
	return nil
}

// checkIndex checks that a leaf is an entry that says it is at position.
func checkIndex(leaf []byte, position int64) error {
	e, err := ParseLeaf(leaf)
	if err != nil {
		return problemf(ProblemRewrite, "entry %d is not a log entry: %v", position, err)
	}
	if e.Index != position {
		return problemf(ProblemReorder, "the entry at position %d says it is entry %d", position, e.Index)
	}
	return nil
}

func toTLog(hs []canasta.AuditHash) []tlog.Hash {
	out := make([]tlog.Hash, len(hs))
	for i, h := range hs {
		out[i] = h
	}
	return out
}
