package sqlite

import (
	"errors"
	"fmt"
	"os"
	"sync"
)

// flusher makes the writer's commits durable. The writer commits with
// synchronous=NORMAL, which in WAL mode appends the transaction's frames
// to the WAL without waiting for the disk; the flusher then fsyncs the WAL
// file, and a commit counts as done only once an fsync that began after
// it has returned. Splitting the two lets one fsync cover every commit
// made while the previous one ran, and lets the redemption engine apply
// its next batch while the last one is on its way to the disk.
//
// Recovery reads the WAL's frames in order and stops at the first whose
// checksum chain breaks, so a commit that reached the disk implies every
// commit before it did: answering commits in order after an fsync of the
// whole file is as durable as synchronous=FULL. Checkpoints stay safe
// under NORMAL: SQLite syncs the WAL before it copies frames into the
// database file, and the database file before it restarts the WAL.
//
// Readers on other connections see a commit as soon as it is made, before
// it is durable; a read transaction therefore waits, when it ends, for
// every commit that had begun by then to be durable (barrier), so no data
// a crash could still take back leaves the store through a read.
type flusher struct {
	walPath string

	mu   sync.Mutex
	cond *sync.Cond
	// begun counts commits started on the writer, made those that
	// returned, durable those covered by a completed fsync.
	begun, made, durable uint64
	syncing              bool
	wal                  *os.File
	// err is set by a failed fsync and never cleared: after one, the
	// kernel may have dropped the dirty pages it could not write, so no
	// later fsync can vouch for them. The store refuses to commit until
	// it is reopened, which recovers from what the WAL really holds.
	err error
	// fsync replaces sync in tests.
	fsync func() error
}

func newFlusher(dbPath string) *flusher {
	f := &flusher{walPath: dbPath + "-wal"}
	f.cond = sync.NewCond(&f.mu)
	return f
}

// errBroken wraps the failed fsync that stopped the store.
var errBroken = errors.New("the database could not be made durable and refuses further commits until reopened")

// check returns the error that stopped the store, if any.
func (f *flusher) check() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// begin is called before a commit on the writer and returns its number.
func (f *flusher) begin() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.begun++
	return f.begun
}

// end is called once the commit numbered n has returned, made or not.
func (f *flusher) end(n uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.made = max(f.made, n)
	f.cond.Broadcast()
}

// wait returns once commit n is durable, running an fsync unless one that
// covers n is already running. Several waiters share one fsync.
func (f *flusher) wait(n uint64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for f.durable < n {
		if f.err != nil {
			return f.err
		}
		if f.syncing || f.made < n {
			f.cond.Wait()
			continue
		}
		f.syncing = true
		covers := f.made
		f.mu.Unlock()
		var err error
		if f.fsync != nil {
			err = f.fsync()
		} else {
			err = f.sync()
		}
		f.mu.Lock()
		f.syncing = false
		if err != nil {
			f.err = fmt.Errorf("%w: %w", errBroken, err)
		} else {
			f.durable = max(f.durable, covers)
		}
		f.cond.Broadcast()
	}
	return nil
}

// now makes durable whatever the writer wrote outside a Tx, such as the
// migrations.
func (f *flusher) now() error {
	n := f.begin()
	f.end(n)
	return f.wait(n)
}

// barrier returns once every commit begun so far is durable: what a read
// ending now may have seen.
func (f *flusher) barrier() error {
	f.mu.Lock()
	n := f.begun
	f.mu.Unlock()
	return f.wait(n)
}

// sync fsyncs the WAL file. It opens the file on first use and again if
// SQLite replaced it; if there is none, SQLite deleted it after
// checkpointing everything into the database file, with a sync, so there
// is nothing left to flush.
func (f *flusher) sync() error {
	if f.wal != nil && !f.current() {
		f.wal.Close()
		f.wal = nil
	}
	if f.wal == nil {
		w, err := os.OpenFile(f.walPath, os.O_RDWR, 0)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("open WAL: %w", err)
		}
		f.wal = w
	}
	if err := f.wal.Sync(); err != nil {
		return fmt.Errorf("fsync WAL: %w", err)
	}
	return nil
}

// current reports whether the open WAL file is still the one at walPath.
func (f *flusher) current() bool {
	open, err := f.wal.Stat()
	if err != nil {
		return false
	}
	named, err := os.Stat(f.walPath)
	return err == nil && os.SameFile(open, named)
}

// close closes the WAL file.
func (f *flusher) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.wal != nil {
		f.wal.Close()
		f.wal = nil
	}
}
