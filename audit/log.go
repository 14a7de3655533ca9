package audit

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/canasta/canasta"
	"golang.org/x/mod/sumdb/tlog"
)

// MaxEntriesPerCall bounds one Entries call, so a single request cannot
// make a server read the whole log into memory.
const MaxEntriesPerCall = 1000

// Log publishes a stored audit log to auditors: it signs checkpoints with
// the store's note key and proves inclusion and consistency from the
// stored hashes. Any number of servers may run one on the same store.
type Log struct {
	store canasta.AuditStore

	// Origin names the log in the signer key created on first use. Once a
	// key exists its name is the origin of every checkpoint, so changing
	// Origin later has no effect.
	Origin string
	Logger *slog.Logger

	// mu serialises signing, so concurrent callers of Checkpoint sign a
	// new size once.
	mu   sync.Mutex
	skey string
	vkey string
}

var _ canasta.AuditService = (*Log)(nil)

// NewLog returns the log published from store.
func NewLog(store canasta.AuditStore) *Log {
	return &Log{store: store, Origin: DefaultOrigin, Logger: slog.Default()}
}

// keys loads, or creates on the store's first use, the signer key.
// Called with mu held.
func (l *Log) keys(ctx context.Context) error {
	if l.skey != "" {
		return nil
	}
	origin := l.Origin
	if origin == "" {
		origin = DefaultOrigin
	}
	skey, err := l.store.AuditSignerKey(ctx, func() (string, error) { return NewSignerKey(origin) })
	if err != nil {
		return fmt.Errorf("audit signer key: %w", err)
	}
	vkey, err := VerifierKey(skey)
	if err != nil {
		return err
	}
	l.skey, l.vkey = skey, vkey
	return nil
}

// VerifierKey returns the note verifier key auditors check checkpoints
// with.
func (l *Log) VerifierKey(ctx context.Context) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.keys(ctx); err != nil {
		return "", err
	}
	return l.vkey, nil
}

// Checkpoint returns the newest signed checkpoint, signing one for the
// current size first if entries arrived since the newest kept one, so a
// fresh server or a test gets an up-to-date answer at once.
func (l *Log) Checkpoint(ctx context.Context) ([]byte, error) {
	size, err := l.store.AuditSize(ctx)
	if err != nil {
		return nil, err
	}
	kept, msg, err := l.store.LatestAuditCheckpoint(ctx)
	if err != nil && canasta.ErrorCode(err) != canasta.ENOTFOUND {
		return nil, err
	}
	if err == nil && kept >= size {
		if kept > size {
			// Entries the log once signed for are gone; serve the
			// signed truth and let auditors find the loss.
			l.logger().Error("audit log is shorter than its newest checkpoint", "size", size, "checkpoint_size", kept)
		}
		return msg, nil
	}
	return l.sign(ctx, size)
}

// Publish signs a checkpoint if the log grew since the newest kept one,
// and returns the size the newest checkpoint covers.
func (l *Log) Publish(ctx context.Context) (int64, error) {
	msg, err := l.Checkpoint(ctx)
	if err != nil {
		return 0, err
	}
	vkey, err := l.VerifierKey(ctx)
	if err != nil {
		return 0, err
	}
	c, err := OpenCheckpoint(msg, vkey)
	if err != nil {
		return 0, fmt.Errorf("newest audit checkpoint: %w", err)
	}
	return c.Size, nil
}

// sign signs and keeps a checkpoint for the tree of size entries.
func (l *Log) sign(ctx context.Context, size int64) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.keys(ctx); err != nil {
		return nil, err
	}
	// Another caller may have signed this size while this one waited.
	if kept, msg, err := l.store.LatestAuditCheckpoint(ctx); err == nil && kept == size {
		return msg, nil
	}
	root, err := tlog.TreeHash(size, l.hashReader(ctx))
	if err != nil {
		return nil, fmt.Errorf("audit tree hash at %d: %w", size, err)
	}
	name, err := KeyName(l.vkey)
	if err != nil {
		return nil, err
	}
	msg, err := SignCheckpoint(Checkpoint{Origin: name, Size: size, Root: root}, l.skey)
	if err != nil {
		return nil, err
	}
	if err := l.store.SaveAuditCheckpoint(ctx, size, msg); err != nil {
		return nil, fmt.Errorf("keep audit checkpoint: %w", err)
	}
	return msg, nil
}

// Run publishes a checkpoint every period while entries arrive, until ctx
// ends. A failure is logged and retried at the next tick: auditors then
// see an older checkpoint, never a wrong one.
func (l *Log) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := l.Publish(ctx); err != nil && ctx.Err() == nil {
			l.logger().Error("publish audit checkpoint", "err", err)
		}
	}
}

// Entry returns the exact leaf of the entry at index.
func (l *Log) Entry(ctx context.Context, index int64) ([]byte, error) {
	size, err := l.store.AuditSize(ctx)
	if err != nil {
		return nil, err
	}
	if index < 0 || index >= size {
		return nil, canasta.Errorf(canasta.ENOTFOUND, "The audit log has no entry %d; it holds %d entries.", index, size)
	}
	leaves, err := l.store.FindAuditLeaves(ctx, index, index+1)
	if err != nil {
		return nil, fmt.Errorf("audit entry %d: %w", index, err)
	}
	return leaves[0], nil
}

// Entries returns the leaves of entries start to end-1, at most
// MaxEntriesPerCall of them.
func (l *Log) Entries(ctx context.Context, start, end int64) ([][]byte, error) {
	if start < 0 || end <= start {
		return nil, canasta.Errorf(canasta.EINVALID, "Ask for audit entries from start up to end, with 0 <= start < end (got %d to %d).", start, end)
	}
	size, err := l.store.AuditSize(ctx)
	if err != nil {
		return nil, err
	}
	if start >= size {
		return nil, canasta.Errorf(canasta.ENOTFOUND, "The audit log holds %d entries; entry %d is beyond it.", size, start)
	}
	end = min(end, size, start+MaxEntriesPerCall)
	leaves, err := l.store.FindAuditLeaves(ctx, start, end)
	if err != nil {
		return nil, fmt.Errorf("audit entries %d to %d: %w", start, end, err)
	}
	return leaves, nil
}

// InclusionProof proves the entry at index is in the tree of size
// entries.
func (l *Log) InclusionProof(ctx context.Context, index, size int64) (canasta.AuditHash, []canasta.AuditHash, error) {
	if err := l.checkSize(ctx, size); err != nil {
		return canasta.AuditHash{}, nil, err
	}
	if index < 0 || index >= size {
		return canasta.AuditHash{}, nil, canasta.Errorf(canasta.EINVALID, "Entry %d is not in a tree of %d entries.", index, size)
	}
	r := l.hashReader(ctx)
	leaf, err := r.ReadHashes([]int64{tlog.StoredHashIndex(0, index)})
	if err != nil {
		return canasta.AuditHash{}, nil, fmt.Errorf("audit leaf hash %d: %w", index, err)
	}
	p, err := tlog.ProveRecord(size, index, r)
	if err != nil {
		return canasta.AuditHash{}, nil, fmt.Errorf("prove audit entry %d in %d: %w", index, size, err)
	}
	return leaf[0], hashes(p), nil
}

// ConsistencyProof proves the tree of size oldSize is a prefix of the tree
// of size newSize.
func (l *Log) ConsistencyProof(ctx context.Context, oldSize, newSize int64) ([]canasta.AuditHash, error) {
	if err := l.checkSize(ctx, newSize); err != nil {
		return nil, err
	}
	if oldSize < 1 || oldSize > newSize {
		return nil, canasta.Errorf(canasta.EINVALID, "A consistency proof needs 0 < old <= new (got old %d, new %d).", oldSize, newSize)
	}
	p, err := tlog.ProveTree(newSize, oldSize, l.hashReader(ctx))
	if err != nil {
		return nil, fmt.Errorf("prove audit tree %d in %d: %w", oldSize, newSize, err)
	}
	return hashes(p), nil
}

// checkSize refuses a tree size the log has not reached.
func (l *Log) checkSize(ctx context.Context, size int64) error {
	if size < 1 {
		return canasta.Errorf(canasta.EINVALID, "A tree size must be at least 1 (got %d).", size)
	}
	n, err := l.store.AuditSize(ctx)
	if err != nil {
		return err
	}
	if size > n {
		return canasta.Errorf(canasta.EINVALID, "The audit log holds %d entries; there is no tree of size %d.", n, size)
	}
	return nil
}

func (l *Log) hashReader(ctx context.Context) tlog.HashReaderFunc {
	return func(indexes []int64) ([]tlog.Hash, error) {
		hs, err := l.store.ReadAuditHashes(ctx, indexes)
		if err != nil {
			return nil, err
		}
		out := make([]tlog.Hash, len(hs))
		for i, h := range hs {
			out[i] = h
		}
		return out, nil
	}
}

func (l *Log) logger() *slog.Logger {
	if l.Logger == nil {
		return slog.Default()
	}
	return l.Logger
}

// hashes converts a tlog proof to the service's hash type.
func hashes[P ~[]tlog.Hash](p P) []canasta.AuditHash {
	out := make([]canasta.AuditHash, len(p))
	for i, h := range p {
		out[i] = h
	}
	return out
}
