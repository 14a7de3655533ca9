// Package ledger is the redemption engine: it gathers concurrent
// redemption requests into batches that a store applies in one transaction
// and makes durable with one commit (group commit, as TigerBeetle and
// PostgreSQL's commit_delay do), and answers each request only once its
// batch's commit has returned.
//
// A durable commit costs a disk flush, milliseconds on most disks, while a
// redemption's own work is tens of microseconds; sharing the flush among
// every request waiting for it turns the disk's flush rate into the
// batch rate, not the redemption rate.
//
// The engine keeps the ledger invariants the store holds, and adds none of
// its own state that a crash could lose:
//
//	L1 conservation and L2 non-negative balances are the store's: each
//	   request in a batch is applied by the store against the state the
//	   earlier ones left.
//	L3 durability: a request is answered only after RedeemBatch returned
//	   without error, which the store returns only after the commit is on
//	   stable storage, or, over a PipelinedStore, only after the batch's
//	   durable function returned without error.
//	L4 idempotency: the store applies a batch's requests in order, so a
//	   request id repeated within a batch, across batches or after a crash
//	   is a replay of its first use; a batch that failed answers every
//	   request with an internal error whose outcome is unknown, and a retry
//	   with the same request id is then safe.
//	L5 no phantoms: the engine sends the store only requests it was given.
package ledger

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/canasta/canasta"
)

// Store is what the engine needs of a store: group commit for redemptions
// and the lookup of a committed receipt.
type Store interface {
	canasta.RedemptionBatcher
	FindRedemptionByRequestID(ctx context.Context, requestID string) (*canasta.Redemption, error)
}

// PipelinedStore is a Store that can commit a batch without waiting for
// it to be durable, so the engine applies the next batch while the last
// is flushed, as TigerBeetle and PostgreSQL overlap a batch's disk write
// with the next batch's work.
type PipelinedStore interface {
	Store
	// RedeemBatchPipelined applies and commits reqs as RedeemBatch does
	// and returns once the commit is made. The results count only once
	// durable has returned nil; an error from it leaves the batch's
	// outcome unknown. durable may be called from another goroutine, and
	// a batch is durable only if every batch committed before it is.
	RedeemBatchPipelined(ctx context.Context, reqs []*canasta.RedemptionRequest) (results []canasta.RedeemResult, durable func() error, err error)
}

// Defaults for Config.
const (
	DefaultMaxBatch = 256
	DefaultMaxQueue = 16384
)

// Config tunes an engine. The zero value takes the defaults.
type Config struct {
	// MaxBatch bounds the requests in one commit. 1 commits each request
	// on its own, the baseline group commit is measured against.
	MaxBatch int
	// MaxQueue bounds the requests waiting for a batch; beyond it Redeem
	// refuses at once with an error marked canasta.ErrUnavailable, so an
	// overloaded server sheds load instead of growing its latency.
	MaxQueue int
	// Linger is how long the committer waits for more requests when fewer
	// than MaxBatch are queued. Zero takes what is queued: under load,
	// requests queue up while the previous batch commits, which is all
	// the batching needed.
	Linger time.Duration
	// Committers is how many batches may be committing at once; zero
	// means one. A store with one writer, such as SQLite, gains nothing
	// from more. A store whose transactions run side by side, such as
	// PostgreSQL, overlaps one batch's round trips and flush with the
	// next batch's: the store's own locks and UNIQUE request ids keep
	// concurrent batches apart, as they keep concurrent servers apart.
	// With the database on the same cores, one measured best even there
	// (BENCHMARKS.md): fewer, larger batches cost less CPU.
	Committers int
	// Serial waits for each batch to be durable before applying the
	// next, even over a PipelinedStore: group commit alone, as the batch
	// curve measures it.
	Serial bool
	// Logger receives failed batches; nil means slog.Default().
	Logger *slog.Logger
}

// Engine is a canasta.RedemptionService that group-commits redemptions
// through committer goroutines, one unless Config.Committers says more. It
// is safe for concurrent use.
type Engine struct {
	store  Store
	cfg    Config
	logger *slog.Logger

	mu     sync.Mutex
	queue  []*call
	closed bool

	wake    chan struct{} // a request was queued, or the engine closed
	stopped chan struct{} // every committer returned
	// flushing carries committed batches, in commit order, to the
	// goroutine that answers each once it is durable; nil unless the
	// engine pipelines.
	flushing chan flushingBatch

	batches, committed, failed atomic.Int64
	// inflight counts batches committed and not yet answered; lastBatch
	// is the size of the batch last committed.
	inflight, lastBatch atomic.Int64
}

var _ canasta.RedemptionService = (*Engine)(nil)

// call is one request waiting for its batch.
type call struct {
	ctx  context.Context
	req  *canasta.RedemptionRequest
	res  canasta.RedeemResult
	done chan struct{} // closed once res is set
}

// NewEngine returns an engine over store and starts its committers.
// Close it before closing the store.
func NewEngine(store Store, cfg Config) *Engine {
	e := newEngine(store, cfg)
	var answered sync.WaitGroup
	if _, ok := store.(PipelinedStore); ok && !cfg.Serial {
		e.flushing = make(chan flushingBatch, maxFlushing)
		answered.Go(e.answerDurable)
	}
	var wg sync.WaitGroup
	for range e.cfg.Committers {
		wg.Go(e.run)
	}
	go func() {
		wg.Wait()
		if e.flushing != nil {
			close(e.flushing)
		}
		answered.Wait()
		close(e.stopped)
	}()
	return e
}

// maxFlushing bounds the batches committed and not yet known durable;
// beyond it the committer waits, which bounds what a failed flush leaves
// unknown.
const maxFlushing = 32

// flushingBatch is a committed batch waiting to be durable.
type flushingBatch struct {
	batch   []*call
	results []canasta.RedeemResult
	durable func() error
}

// answerDurable answers each committed batch once it is durable, and
// wakes the committer, which may be waiting for the flush.
func (e *Engine) answerDurable() {
	for f := range e.flushing {
		e.finish(f.batch, f.results, f.durable())
		e.inflight.Add(-1)
		e.signal()
	}
}

// waitForBatch reports whether the committer should wait before taking
// the next batch: while a batch is being flushed, it starts the next one
// only once as many requests wait as the last batch had. Taking whatever
// is queued at once would commit ever smaller batches, each paying a
// transaction's fixed cost, while the flush they overlap takes as long.
func (e *Engine) waitForBatch() bool {
	if e.flushing == nil || e.inflight.Load() == 0 {
		return false
	}
	return int64(e.queued()) < min(e.lastBatch.Load(), int64(e.cfg.MaxBatch))
}

// newEngine returns an engine without a committer, for a caller that
// drives take and commit itself, such as the deterministic simulation.
func newEngine(store Store, cfg Config) *Engine {
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = DefaultMaxBatch
	}
	if cfg.MaxQueue <= 0 {
		cfg.MaxQueue = DefaultMaxQueue
	}
	if cfg.Committers <= 0 {
		cfg.Committers = 1
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	return &Engine{
		store:   store,
		cfg:     cfg,
		logger:  logger,
		wake:    make(chan struct{}, 1),
		stopped: make(chan struct{}),
	}
}

// Redeem queues the request for the next batch and returns its outcome
// once the batch is durably committed. If ctx ends while the request is
// queued it is dropped without effect; if it ends while the batch is
// being committed, the outcome is unknown and Redeem returns an internal
// error, after which a retry with the same request id is safe.
func (e *Engine) Redeem(ctx context.Context, req *canasta.RedemptionRequest) (*canasta.Redemption, bool, error) {
	c, err := e.submit(ctx, req)
	if err != nil {
		return nil, false, err
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		select {
		case <-c.done: // answered after all: an answer beats "unknown"
		default:
			return nil, false, fmt.Errorf("redeem %s: outcome unknown: %w", req.RequestID, ctx.Err())
		}
	}
	return c.res.Receipt, c.res.Replay, c.res.Err
}

// FindRedemptionByRequestID returns a committed receipt from the store.
func (e *Engine) FindRedemptionByRequestID(ctx context.Context, requestID string) (*canasta.Redemption, error) {
	return e.store.FindRedemptionByRequestID(ctx, requestID)
}

// Close commits what is queued, stops the committer and refuses further
// requests. It is safe to call more than once.
func (e *Engine) Close() error {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	e.signal()
	<-e.stopped
	return nil
}

// Stats counts the engine's work since it started.
type Stats struct {
	Batches   int64 // batches sent to the store
	Committed int64 // requests answered from committed batches
	Failed    int64 // batches the store failed
}

// Stats returns the engine's counters.
func (e *Engine) Stats() Stats {
	return Stats{Batches: e.batches.Load(), Committed: e.committed.Load(), Failed: e.failed.Load()}
}

// errClosed and errBusy are internal errors marked unavailable: the HTTP
// layer answers 503 with Retry-After, and a retry elsewhere or later is safe.
var (
	errClosed = fmt.Errorf("redemption engine closed: %w", canasta.ErrUnavailable)
	errBusy   = fmt.Errorf("redemption queue full: %w", canasta.ErrUnavailable)
)

// submit checks a request's form, appends it to the queue and wakes the
// committer. A malformed request never takes a place in a batch.
func (e *Engine) submit(ctx context.Context, req *canasta.RedemptionRequest) (*call, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	c := &call{ctx: ctx, req: req, done: make(chan struct{})}
	e.mu.Lock()
	switch {
	case e.closed:
		e.mu.Unlock()
		return nil, fmt.Errorf("redeem %s: %w", req.RequestID, errClosed)
	case len(e.queue) >= e.cfg.MaxQueue:
		e.mu.Unlock()
		return nil, fmt.Errorf("redeem %s: %w", req.RequestID, errBusy)
	}
	e.queue = append(e.queue, c)
	e.mu.Unlock()
	e.signal()
	return c, nil
}

func (e *Engine) signal() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// run is a committer: it commits batches while requests are queued and
// sleeps when none are, until the engine is closed and drained.
func (e *Engine) run() {
	ctx := context.Background() // one request's end must not cut a batch short
	for {
		if e.cfg.Linger > 0 && e.queued() < e.cfg.MaxBatch {
			time.Sleep(e.cfg.Linger)
		}
		if e.waitForBatch() {
			<-e.wake
			continue
		}
		if batch := e.take(); len(batch) > 0 {
			e.commit(ctx, batch)
			continue
		}
		e.mu.Lock()
		done := e.closed && len(e.queue) == 0
		e.mu.Unlock()
		if done {
			e.signal() // the other committers see it too
			return
		}
		<-e.wake
	}
}

func (e *Engine) queued() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.queue)
}

// take removes up to MaxBatch calls from the head of the queue, in arrival
// order. A call whose context ended while it waited is answered at once
// and never reaches the store, so it has no effect.
func (e *Engine) take() []*call {
	e.mu.Lock()
	defer e.mu.Unlock()
	var batch []*call
	i := 0
	for ; i < len(e.queue) && len(batch) < e.cfg.MaxBatch; i++ {
		c := e.queue[i]
		if err := c.ctx.Err(); err != nil {
			c.res = canasta.RedeemResult{Err: fmt.Errorf("redeem %s: not sent: %w", c.req.RequestID, err)}
			close(c.done)
			continue
		}
		batch = append(batch, c)
	}
	n := copy(e.queue, e.queue[i:])
	clear(e.queue[n:])
	e.queue = e.queue[:n]
	return batch
}

// commit sends a batch to the store and answers its calls, or, when
// pipelining, hands them to answerDurable.
func (e *Engine) commit(ctx context.Context, batch []*call) {
	if e.flushing != nil {
		e.lastBatch.Store(int64(len(batch)))
		results, durable, err := e.store.(PipelinedStore).RedeemBatchPipelined(ctx, requests(batch))
		if err != nil {
			e.finish(batch, results, err)
			return
		}
		e.inflight.Add(1)
		e.flushing <- flushingBatch{batch, results, durable}
		return
	}
	results, err := e.store.RedeemBatch(ctx, requests(batch))
	e.finish(batch, results, err)
}

func requests(batch []*call) []*canasta.RedemptionRequest {
	reqs := make([]*canasta.RedemptionRequest, len(batch))
	for i, c := range batch {
		reqs[i] = c.req
	}
	return reqs
}

// finish answers every call of a batch from the store's results, or, if
// the batch failed, with an internal error: its outcome is unknown to the
// engine, since a commit can fail after it reached the disk.
func (e *Engine) finish(batch []*call, results []canasta.RedeemResult, err error) {
	e.batches.Add(1)
	if err == nil && len(results) != len(batch) {
		err = fmt.Errorf("store answered %d of %d requests", len(results), len(batch))
	}
	if err != nil {
		e.failed.Add(1)
		e.logger.Error("redemption batch failed", "requests", len(batch), "err", err)
		for _, c := range batch {
			c.res = canasta.RedeemResult{Err: fmt.Errorf("redeem %s: batch of %d failed: %w", c.req.RequestID, len(batch), err)}
			close(c.done)
		}
		return
	}
	e.committed.Add(int64(len(batch)))
	for i, c := range batch {
		c.res = results[i]
		close(c.done)
	}
}
