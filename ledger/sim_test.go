package ledger

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/canasta/canasta"
)

// The simulation runs the engine, single-threaded and seeded, over a store
// that injects faults, in the spirit of TigerBeetle's VOPR: every choice
// (which client sends what, when the committer takes a batch, when the
// store commits it, whether the commit fails, when the process crashes)
// comes from one PRNG, so a failing seed replays exactly.
//
//	go test ./ledger -run TestSimulation -sim.seeds 20000   # explore
//	go test ./ledger -run TestSimulation -sim.seed 1234 -v  # replay one
var (
	simSeed  = flag.Uint64("sim.seed", 0, "run only this simulation seed")
	simSeeds = flag.Int("sim.seeds", 200, "number of seeds TestSimulation runs, from -sim.first")
	simFirst = flag.Uint64("sim.first", 1, "first seed TestSimulation runs")
	simSteps = flag.Int("sim.steps", 300, "steps in each simulated run")
)

func TestSimulation(t *testing.T) {
	seeds := []uint64{*simSeed}
	if *simSeed == 0 {
		seeds = seeds[:0]
		for i := range *simSeeds {
			seeds = append(seeds, *simFirst+uint64(i))
		}
	}
	var stats simStats
	for _, seed := range seeds {
		s := newSim(seed)
		if err := s.run(*simSteps); err != nil {
			t.Fatalf("seed %d: %v\nreplay: go test ./ledger -run TestSimulation -sim.seed %d -v", seed, err, seed)
		}
		stats.add(s.stats)
	}
	// The run is only worth something if every fault and every outcome
	// actually happened somewhere.
	t.Logf("%+v", stats)
	if len(seeds) >= 100 {
		for name, n := range map[string]int{"acked": stats.acked, "replays": stats.replays, "refused": stats.refused,
			"unknown": stats.unknown, "crashes": stats.crashes, "failed commits": stats.failedCommits,
			"multi-request batches": stats.bigBatches, "duplicates in a batch": stats.dupInBatch,
			"batches committed over unflushed ones": stats.pipelined, "failed flushes": stats.failedFlushes} {
			if n == 0 {
				t.Errorf("no %s in %d seeds: the simulation does not reach that case", name, len(seeds))
			}
		}
	}
}

// simStats counts what the runs went through.
type simStats struct {
	acked, replays, refused, unknown, crashes, failedCommits, bigBatches, dupInBatch int
	// pipelined counts batches committed while an earlier one was still
	// unflushed; failedFlushes the flushes that broke the store.
	pipelined, failedFlushes int
}

func (a *simStats) add(b simStats) {
	a.acked += b.acked
	a.replays += b.replays
	a.refused += b.refused
	a.unknown += b.unknown
	a.crashes += b.crashes
	a.failedCommits += b.failedCommits
	a.bigBatches += b.bigBatches
	a.dupInBatch += b.dupInBatch
	a.pipelined += b.pipelined
	a.failedFlushes += b.failedFlushes
}

var simNow = time.Date(2025, 3, 15, 10, 0, 0, 0, time.UTC)

// faultStore is a simulated disk under a memLedger. Only durable survives
// a crash; a batch is applied to a copy that becomes durable only when its
// commit succeeds. Commits fail before or after reaching the disk, and a
// crash can strike in the middle of one.
//
// Pipelined, as the SQLite store commits for the engine: a commit only
// makes the batch the committed state, which the next batch builds on and
// a crash loses; a flush makes everything committed durable, or fails,
// after which the store refuses every commit until the process restarts.
type faultStore struct {
	rng       *rand.Rand
	durable   *memLedger
	committed *memLedger // durable plus the commits not yet flushed
	faults    bool
	// crashed is set when a crash struck during the last commit.
	crashed bool
	// made numbers the commits; flushed is the last one made durable.
	made, flushed uint64
	broken        bool // a flush failed
}

var (
	errSimBegin  = errors.New("simulated: cannot begin")
	errSimCommit = errors.New("simulated: commit failed")
	errSimLost   = errors.New("simulated: commit failed after reaching the disk")
	errSimCrash  = errors.New("simulated: crash during commit")
	errSimFlush  = errors.New("simulated: fsync failed")
)

func (s *faultStore) RedeemBatch(ctx context.Context, reqs []*canasta.RedemptionRequest) ([]canasta.RedeemResult, error) {
	results, durable, err := s.RedeemBatchPipelined(ctx, reqs)
	if err != nil {
		return results, err
	}
	s.flush(false)
	return results, durable()
}

// RedeemBatchPipelined commits without flushing. Its durable function
// never blocks: the simulation calls it only once the batch is flushed or
// the store broken.
func (s *faultStore) RedeemBatchPipelined(ctx context.Context, reqs []*canasta.RedemptionRequest) ([]canasta.RedeemResult, func() error, error) {
	if s.broken {
		return nil, nil, errSimFlush
	}
	if s.faults && s.rng.IntN(30) == 0 {
		return nil, nil, errSimBegin
	}
	work := s.committed.clone()
	results := make([]canasta.RedeemResult, len(reqs))
	for i, req := range reqs {
		results[i] = work.redeem(req)
	}
	// A failed commit still hands back the results it computed: the
	// contract says they do not count, and the engine must not use them.
	if s.faults {
		switch s.rng.IntN(40) {
		case 0:
			return results, nil, errSimCommit
		case 1:
			s.commit(work)
			s.flush(false)
			return results, nil, errSimLost
		case 2:
			if s.rng.IntN(2) == 0 {
				s.commit(work)
				s.flush(false)
			}
			s.crashed = true
			return results, nil, errSimCrash
		}
	}
	n := s.commit(work)
	return results, func() error {
		switch {
		case s.flushed >= n:
			return nil
		case s.broken:
			return errSimFlush
		}
		panic("simulation: durable called before the batch was flushed")
	}, nil
}

func (s *faultStore) commit(work *memLedger) uint64 {
	s.committed = work
	s.made++
	return s.made
}

// flush makes every commit durable, or, with faults, may fail and break
// the store.
func (s *faultStore) flush(faults bool) {
	if s.broken {
		return
	}
	if faults && s.rng.IntN(40) == 0 {
		s.broken = true
		return
	}
	s.durable, s.flushed = s.committed, s.made
}

// restart is the process coming back: what was not flushed is gone.
func (s *faultStore) restart() {
	s.committed, s.made, s.broken = s.durable, s.flushed, false
}

func (s *faultStore) FindRedemptionByRequestID(ctx context.Context, requestID string) (*canasta.Redemption, error) {
	r, ok := s.durable.receipts[requestID]
	if !ok {
		return nil, canasta.Errorf(canasta.ENOTFOUND, "No redemption has request id %q.", requestID)
	}
	return copyRedemption(&r.redemption), nil
}

// sim is one seeded run: a store, the engine of the current process
// incarnation, and what the clients sent and were told.
type sim struct {
	rng   *rand.Rand
	store *faultStore
	cfg   Config
	e     *Engine

	// The committer's batch in flight: taken, then sent to the store,
	// then answered.
	batch   []*call
	sent    bool
	results []canasta.RedeemResult
	err     error
	// pipelined runs the engine as over a PipelinedStore: a committed
	// batch waits in flushing, in commit order, to be answered once
	// flushed, while the committer goes on with the next.
	pipelined bool
	flushing  []flushingBatch

	households []string
	programs   []int64
	points     []int64

	outstanding []*simAttempt
	ids         []string                 // every request id sent, in order
	attempts    map[string][]*simAttempt // by request id
	nextID      int
	stats       simStats
	log         []string // recent steps, shown on failure
}

// simAttempt is one send of a request: its outcome is pending until
// answered, and unknown if the process crashed first or the answer was
// an internal error.
type simAttempt struct {
	req     *canasta.RedemptionRequest
	call    *call
	cancel  context.CancelFunc
	outcome string // "", "acked", "refused", "unknown"
	receipt *canasta.Redemption
}

func newSim(seed uint64) *sim {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	l := newMemLedger(simNow)
	s := &sim{rng: rng, attempts: map[string][]*simAttempt{}}
	s.points = []int64{1, 2}
	for _, p := range s.points {
		l.points[p] = true
	}
	s.programs = []int64{1, 2, 3}
	for i := range 1 + rng.IntN(4) {
		h := fmt.Sprintf("hh_%d", i)
		s.households = append(s.households, h)
		for _, p := range s.programs {
			if p == 1 || rng.IntN(2) == 0 {
				l.grant(h, p, 10+rng.Int64N(90))
			}
		}
	}
	s.store = &faultStore{rng: rng, durable: l, committed: l, faults: true}
	s.pipelined = rng.IntN(2) == 0
	s.cfg = Config{
		MaxBatch: []int{1, 2, 3, 8, 64}[rng.IntN(5)],
		MaxQueue: []int{3, 16, 1000}[rng.IntN(3)],
		Logger:   discardLogger,
	}
	s.e = newEngine(s.store, s.cfg)
	return s
}

func (s *sim) logf(format string, args ...any) {
	s.log = append(s.log, fmt.Sprintf(format, args...))
	if len(s.log) > 30 {
		s.log = s.log[1:]
	}
}

// run takes steps, checking every invariant after each, then lets the
// last incarnation drain without faults and checks that every request it
// accepted was answered.
func (s *sim) run(steps int) error {
	for i := range steps {
		s.step()
		s.poll()
		if err := s.check(); err != nil {
			return fmt.Errorf("step %d: %w\nlast steps:\n  %s", i, err, joinLines(s.log))
		}
	}
	s.store.faults = false
	for s.batch != nil || s.e.queued() > 0 || len(s.flushing) > 0 {
		s.advance()
		s.poll()
	}
	s.poll()
	for _, a := range s.outstanding {
		return fmt.Errorf("request %s was never answered by a live engine", a.req.RequestID)
	}
	if err := s.check(); err != nil {
		return fmt.Errorf("after draining: %w", err)
	}
	return nil
}

func joinLines(lines []string) string {
	var b bytes.Buffer
	for i, l := range lines {
		if i > 0 {
			b.WriteString("\n  ")
		}
		b.WriteString(l)
	}
	return b.String()
}

// step takes one action, chosen by the PRNG.
func (s *sim) step() {
	switch n := s.rng.IntN(100); {
	case n < 30:
		s.send(s.newRequest())
	case n < 38 && len(s.ids) > 0:
		// A retry: the same request again, perhaps while the first
		// attempt is still queued, so both land in one batch.
		s.send(s.attempts[s.ids[s.rng.IntN(len(s.ids))]][0].req)
	case n < 41 && len(s.ids) > 0:
		// The same request id for a different redemption.
		req := s.newRequest()
		req.RequestID = s.ids[s.rng.IntN(len(s.ids))]
		s.send(req)
	case n < 44 && len(s.outstanding) > 0:
		a := s.outstanding[s.rng.IntN(len(s.outstanding))]
		s.logf("cancel %s", a.req.RequestID)
		a.cancel()
	case n < 45:
		s.crash()
	default:
		s.advance()
	}
}

// advance moves the committer one stage: take a batch, commit it, or
// answer it; pipelined, it may instead flush or answer a flushed batch.
// Each stage is a separate step, so requests arrive, are cancelled and
// crashes strike while a commit or a flush is in flight.
func (s *sim) advance() {
	if len(s.flushing) > 0 && (s.rng.IntN(3) == 0 || (s.batch == nil && s.e.queued() == 0)) {
		s.advanceFlush()
		return
	}
	switch {
	case s.batch == nil:
		s.batch = s.e.take()
		if len(s.batch) == 0 {
			s.batch = nil
			return
		}
		s.logf("take batch of %d", len(s.batch))
		seen := map[string]bool{}
		for _, c := range s.batch {
			if seen[c.req.RequestID] {
				s.stats.dupInBatch++
			}
			seen[c.req.RequestID] = true
		}
		if len(s.batch) > 1 {
			s.stats.bigBatches++
		}
	case !s.sent && s.pipelined:
		results, durable, err := s.store.RedeemBatchPipelined(context.Background(), requests(s.batch))
		s.logf("commit batch of %d unflushed: err %v", len(s.batch), err)
		if err != nil {
			s.stats.failedCommits++
			s.results, s.err, s.sent = results, err, true
			if s.store.crashed {
				s.crash()
			}
			return
		}
		if len(s.flushing) > 0 {
			s.stats.pipelined++
		}
		s.flushing = append(s.flushing, flushingBatch{s.batch, results, durable})
		s.batch = nil
	case !s.sent:
		s.results, s.err = s.store.RedeemBatch(context.Background(), requests(s.batch))
		s.sent = true
		s.logf("commit batch of %d: err %v", len(s.batch), s.err)
		if s.err != nil {
			s.stats.failedCommits++
		}
		if s.store.crashed {
			s.crash()
		}
	default:
		s.e.finish(s.batch, s.results, s.err)
		s.logf("answer batch of %d", len(s.batch))
		s.batch, s.sent, s.results, s.err = nil, false, nil, nil
	}
}

// advanceFlush flushes the store if the oldest committed batch is not yet
// durable, and otherwise answers it.
func (s *sim) advanceFlush() {
	f := s.flushing[0]
	if s.store.flushed < s.store.made && !s.store.broken {
		s.store.flush(s.store.faults)
		s.logf("flush: durable through commit %d, broken %v", s.store.flushed, s.store.broken)
		if s.store.broken {
			s.stats.failedFlushes++
		}
		return
	}
	s.e.finish(f.batch, f.results, f.durable())
	s.logf("answer flushed batch of %d", len(f.batch))
	s.flushing = s.flushing[1:]
}

// crash kills the process: the batch in flight, the batches committed but
// not flushed and every queued request are lost without an answer, and
// only the store's durable state is left for the next incarnation.
func (s *sim) crash() {
	s.logf("crash")
	s.stats.crashes++
	s.store.crashed = false
	s.store.restart()
	s.flushing = nil
	for _, a := range s.outstanding {
		a.outcome = "unknown"
		s.stats.unknown++
	}
	s.outstanding = nil
	s.batch, s.sent, s.results, s.err = nil, false, nil, nil
	s.e = newEngine(s.store, s.cfg)
}

func (s *sim) newRequest() *canasta.RedemptionRequest {
	s.nextID++
	req := &canasta.RedemptionRequest{
		RequestID:   fmt.Sprintf("r%d", s.nextID),
		PointID:     s.points[s.rng.IntN(len(s.points))],
		HouseholdID: s.households[s.rng.IntN(len(s.households))],
	}
	switch s.rng.IntN(40) {
	case 0:
		req.PointID = 99
	case 1:
		req.HouseholdID = "hh_unknown"
	}
	for _, i := range s.rng.Perm(len(s.programs))[:1+s.rng.IntN(2)] {
		req.Items = append(req.Items, canasta.RedemptionItem{ProgramID: s.programs[i], Quantity: 1 + s.rng.Int64N(8)})
	}
	if s.rng.IntN(40) == 0 {
		req.Items[0].Quantity = 0 // malformed
	}
	return req
}

func (s *sim) send(req *canasta.RedemptionRequest) {
	ctx, cancel := context.WithCancel(context.Background())
	a := &simAttempt{req: req, cancel: cancel}
	if len(s.attempts[req.RequestID]) == 0 {
		s.ids = append(s.ids, req.RequestID)
	}
	s.attempts[req.RequestID] = append(s.attempts[req.RequestID], a)
	c, err := s.e.submit(ctx, req)
	s.logf("send %s %s at %d %v: err %v", req.RequestID, req.HouseholdID, req.PointID, req.Items, err)
	if err != nil {
		a.call = &call{req: req, res: canasta.RedeemResult{Err: err}, done: make(chan struct{})}
		close(a.call.done)
	} else {
		a.call = c
	}
	s.outstanding = append(s.outstanding, a)
}

// poll records the answers the engine has given.
func (s *sim) poll() {
	kept := s.outstanding[:0]
	for _, a := range s.outstanding {
		select {
		case <-a.call.done:
		default:
			kept = append(kept, a)
			continue
		}
		res := a.call.res
		switch code := canasta.ErrorCode(res.Err); code {
		case "":
			a.outcome = "acked"
			s.stats.acked++
			if res.Replay {
				s.stats.replays++
			}
			s.logf("answer %s: acked id %d replay %v", a.req.RequestID, res.Receipt.ID, res.Replay)
		case canasta.EINTERNAL:
			a.outcome = "unknown"
			s.stats.unknown++
			s.logf("answer %s: unknown: %v", a.req.RequestID, res.Err)
		default:
			a.outcome = "refused"
			s.stats.refused++
			s.logf("answer %s: refused %s", a.req.RequestID, code)
		}
		a.receipt = res.Receipt
	}
	clear(s.outstanding[len(kept):])
	s.outstanding = kept
}

// check tests the ledger invariants on the durable state against what the
// clients sent and were told.
func (s *sim) check() error {
	d := s.store.durable
	if err := d.checkInvariants(); err != nil {
		return err
	}
	for _, id := range s.ids {
		attempts := s.attempts[id]
		stored, inStore := d.receipts[id]
		for _, a := range attempts {
			if a.outcome != "acked" {
				continue
			}
			// L3: an acknowledged receipt is durable, as it was told.
			if !inStore {
				return fmt.Errorf("L3: request %s was acknowledged but is not durable", id)
			}
			if !reflect.DeepEqual(a.receipt, &stored.redemption) {
				return fmt.Errorf("L3: request %s was acknowledged as %+v, the store holds %+v", id, *a.receipt, stored.redemption)
			}
			// L4: every acknowledgement of an id is of the one request that
			// took effect.
			if !bytes.Equal(a.req.Fingerprint(), stored.fingerprint) {
				return fmt.Errorf("L4: request %s was acknowledged for a body other than the one that took effect", id)
			}
		}
		if !inStore {
			continue
		}
		// L5: the receipt is of a request a client sent under its id.
		var from *canasta.RedemptionRequest
		refusedEveryTime := true
		for _, a := range attempts {
			if bytes.Equal(a.req.Fingerprint(), stored.fingerprint) {
				from = a.req
				if a.outcome != "refused" {
					refusedEveryTime = false
				}
			}
		}
		if from == nil {
			return fmt.Errorf("L5: receipt %s matches no request sent with that id", id)
		}
		if err := receiptMatches(&stored.redemption, from); err != nil {
			return fmt.Errorf("L5: %w", err)
		}
		// L4: a request refused every time it was sent had no effect.
		if refusedEveryTime {
			return fmt.Errorf("L4: request %s was refused every time it was sent, yet has a receipt", id)
		}
	}
	for id := range d.receipts {
		if len(s.attempts[id]) == 0 {
			return fmt.Errorf("L5: receipt %s was never sent by a client", id)
		}
	}
	return nil
}

// receiptMatches reports whether r records what req asked for.
func receiptMatches(r *canasta.Redemption, req *canasta.RedemptionRequest) error {
	if r.RequestID != req.RequestID || r.HouseholdID != req.HouseholdID || r.PointID != req.PointID || len(r.Items) != len(req.Items) {
		return fmt.Errorf("receipt %+v does not record request %+v", *r, *req)
	}
	for i, it := range req.Items {
		if r.Items[i].ProgramID != it.ProgramID || r.Items[i].Quantity != it.Quantity {
			return fmt.Errorf("receipt %s item %d is %+v, the request asked for %+v", r.RequestID, i, r.Items[i], it)
		}
	}
	return nil
}

// TestSimulation_Replays checks what makes a printed seed useful: the
// same seed takes the same steps and ends in the same state.
func TestSimulation_Replays(t *testing.T) {
	for _, seed := range []uint64{7, 8, 9} {
		a, b := newSim(seed), newSim(seed)
		if err := a.run(*simSteps); err != nil {
			t.Fatal(err)
		}
		if err := b.run(*simSteps); err != nil {
			t.Fatal(err)
		}
		if a.stats != b.stats || !reflect.DeepEqual(a.log, b.log) || !reflect.DeepEqual(a.store.durable, b.store.durable) {
			t.Fatalf("seed %d ran differently twice: %+v and %+v", seed, a.stats, b.stats)
		}
	}
}
