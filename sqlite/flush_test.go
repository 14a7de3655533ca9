package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestFlusher_SharesFsync checks group flushing: commits made while an
// fsync runs are covered by the next one together, and none is reported
// durable before an fsync that began after it.
func TestFlusher_SharesFsync(t *testing.T) {
	f := newFlusher(filepath.Join(t.TempDir(), "x.db"))
	started, release := make(chan struct{}, 10), make(chan struct{})
	var mu sync.Mutex
	syncs := 0
	f.fsync = func() error {
		mu.Lock()
		syncs++
		mu.Unlock()
		started <- struct{}{}
		<-release
		return nil
	}
	commit := func() uint64 { n := f.begin(); f.end(n); return n }

	first := commit()
	done := make(chan uint64, 3)
	go func() { f.wait(first); done <- first }()
	<-started // the first fsync runs
	second, third := commit(), commit()
	for _, n := range []uint64{second, third} {
		go func() { f.wait(n); done <- n }()
	}
	release <- struct{}{} // first fsync returns: it began before 2 and 3
	if got := <-done; got != first {
		t.Fatalf("commit %d reported durable by an fsync that began before it", got)
	}
	select {
	case n := <-done:
		t.Fatalf("commit %d reported durable before a second fsync", n)
	case <-started: // one fsync for both
	}
	release <- struct{}{}
	<-done
	<-done
	if syncs != 2 {
		t.Fatalf("%d fsyncs for three commits, two made during the first; want 2", syncs)
	}
}

// TestFlusher_BarrierWaitsForCommitInProgress checks that a read ending
// while a commit is being made waits until that commit is durable.
func TestFlusher_BarrierWaitsForCommitInProgress(t *testing.T) {
	f := newFlusher(filepath.Join(t.TempDir(), "x.db"))
	synced := make(chan struct{}, 10)
	f.fsync = func() error { synced <- struct{}{}; return nil }
	n := f.begin() // commit in progress
	done := make(chan struct{})
	go func() { f.barrier(); close(done) }()
	select {
	case <-done:
		t.Fatal("barrier returned while a commit it may have seen was not durable")
	case <-time.After(20 * time.Millisecond):
	}
	f.end(n)
	<-done
	if len(synced) != 1 {
		t.Fatalf("%d fsyncs, want 1", len(synced))
	}
}

// TestFlusher_FailedFsyncStopsWrites checks that after a failed fsync no
// commit is reported durable and the store refuses to write.
func TestFlusher_FailedFsyncStopsWrites(t *testing.T) {
	db := NewDB(filepath.Join(t.TempDir(), "canasta.db"))
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ioErr := errors.New("input/output error")
	db.flush.fsync = func() error { return ioErr }

	ctx := context.Background()
	tx, err := db.beginWrite(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO migrations (name) VALUES ('x')`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); !errors.Is(err, ioErr) || !errors.Is(err, errBroken) {
		t.Fatalf("commit after a failed fsync: %v, want the fsync error", err)
	}
	if _, err := db.beginWrite(ctx); !errors.Is(err, errBroken) {
		t.Fatalf("write after a failed fsync: %v, want a refusal", err)
	}
}

// TestWriterSynchronousNormal checks the pragma the flusher relies on:
// the writer leaves the WAL's fsync to it.
func TestWriterSynchronousNormal(t *testing.T) {
	db := NewDB(filepath.Join(t.TempDir(), "canasta.db"))
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var mode int
	if err := db.writer.QueryRow(`PRAGMA synchronous`).Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if mode != 1 {
		t.Fatalf("writer synchronous = %d, want 1 (NORMAL)", mode)
	}
}
