package ledger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/canasta/canasta"
)

var discardLogger = slog.New(slog.DiscardHandler)

// gateStore records the batches it is sent and holds each in RedeemBatch
// until the test lets it go, so a test decides what is queued meanwhile.
type gateStore struct {
	memStore
	gate    chan struct{} // one receive per batch; nil lets every batch through
	entered chan int      // receives each batch's size as it arrives
	fail    error

	mu      sync.Mutex
	batches [][]string // request ids of each batch
}

func newGateStore(gated bool) *gateStore {
	s := &gateStore{memStore: memStore{l: testLedger()}, entered: make(chan int, 100)}
	if gated {
		s.gate = make(chan struct{})
	}
	return s
}

func (s *gateStore) RedeemBatch(ctx context.Context, reqs []*canasta.RedemptionRequest) ([]canasta.RedeemResult, error) {
	ids := make([]string, len(reqs))
	for i, r := range reqs {
		ids[i] = r.RequestID
	}
	s.mu.Lock()
	s.batches = append(s.batches, ids)
	s.mu.Unlock()
	s.entered <- len(reqs)
	if s.gate != nil {
		<-s.gate
	}
	if s.fail != nil {
		return nil, s.fail
	}
	return s.memStore.RedeemBatch(ctx, reqs)
}

func (s *gateStore) batchSizes() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n []int
	for _, b := range s.batches {
		n = append(n, len(b))
	}
	return n
}

// testLedger has two households with 100 of program 1 and 10 of program
// 2, and point 1.
func testLedger() *memLedger {
	l := newMemLedger(simNow)
	l.points[1] = true
	for _, h := range []string{"hh_a", "hh_b"} {
		l.grant(h, 1, 100)
		l.grant(h, 2, 10)
	}
	return l
}

func request(id, household string, items ...canasta.RedemptionItem) *canasta.RedemptionRequest {
	return &canasta.RedemptionRequest{RequestID: id, PointID: 1, HouseholdID: household, Items: items}
}

func item(program, quantity int64) canasta.RedemptionItem {
	return canasta.RedemptionItem{ProgramID: program, Quantity: quantity}
}

type outcome struct {
	receipt *canasta.Redemption
	replay  bool
	err     error
}

// redeemAsync calls Redeem in a goroutine and returns where its outcome
// will arrive.
func redeemAsync(ctx context.Context, e *Engine, req *canasta.RedemptionRequest) <-chan outcome {
	ch := make(chan outcome, 1)
	go func() {
		r, replay, err := e.Redeem(ctx, req)
		ch <- outcome{r, replay, err}
	}()
	return ch
}

// waitQueued waits until n requests are queued behind the batch in flight.
func waitQueued(t *testing.T, e *Engine, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); e.queued() < n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d requests queued, want %d", e.queued(), n)
		}
	}
}

func TestEngine_Redeem(t *testing.T) {
	store := newGateStore(false)
	e := NewEngine(store, Config{Logger: discardLogger})
	defer e.Close()
	ctx := context.Background()

	first, replay, err := e.Redeem(ctx, request("r1", "hh_a", item(1, 30), item(2, 4)))
	if err != nil || replay {
		t.Fatalf("redeem: %v, replay %v", err, replay)
	}
	want := []canasta.RedemptionItem{{ProgramID: 1, Quantity: 30, Remaining: 70}, {ProgramID: 2, Quantity: 4, Remaining: 6}}
	if !reflect.DeepEqual(first.Items, want) || first.Period != "2025-03" {
		t.Fatalf("receipt %+v, want items %+v in 2025-03", *first, want)
	}

	for _, tt := range []struct {
		name   string
		req    *canasta.RedemptionRequest
		code   string
		replay bool
	}{
		{"Replay", request("r1", "hh_a", item(1, 30), item(2, 4)), "", true},
		{"SameIDOtherBody", request("r1", "hh_a", item(1, 1)), canasta.ECONFLICT, false},
		{"OverQuota", request("r2", "hh_a", item(1, 1), item(2, 7)), canasta.ECONFLICT, false},
		{"UnknownHousehold", request("r3", "hh_none", item(1, 1)), canasta.ENOTFOUND, false},
		{"Malformed", request("r4", "hh_a", item(1, 0)), canasta.EINVALID, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, replay, err := e.Redeem(ctx, tt.req)
			if code := canasta.ErrorCode(err); code != tt.code || replay != tt.replay {
				t.Fatalf("code %q replay %v (err %v), want %q replay %v", code, replay, err, tt.code, tt.replay)
			}
			if tt.replay && !reflect.DeepEqual(r, first) {
				t.Fatalf("replay %+v, want the first receipt %+v", *r, *first)
			}
		})
	}
	if got := store.remaining("hh_a"); got[1] != 70 || got[2] != 6 {
		t.Fatalf("balances %v, want 70 and 6: refusals must debit nothing", got)
	}
	found, err := e.FindRedemptionByRequestID(ctx, "r1")
	if err != nil || !reflect.DeepEqual(found, first) {
		t.Fatalf("find: %+v, %v", found, err)
	}
	// The malformed request never took a place in a batch.
	for _, b := range store.batches {
		if slices.Contains(b, "r4") {
			t.Fatalf("a malformed request reached the store in batch %v", b)
		}
	}
}

// TestEngine_GroupCommit holds the first batch in the store while more
// requests queue, and checks that the next commits take them together,
// up to MaxBatch, in arrival order, and that nobody is answered before
// their batch's commit returned.
func TestEngine_GroupCommit(t *testing.T) {
	for _, tt := range []struct {
		name     string
		maxBatch int
		queued   int
		want     []int
	}{
		{"AllInOne", 64, 10, []int{1, 10}},
		{"SplitAtMaxBatch", 4, 10, []int{1, 4, 4, 2}},
		{"OneByOne", 1, 3, []int{1, 1, 1, 1}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			store := newGateStore(true)
			e := NewEngine(store, Config{MaxBatch: tt.maxBatch, Logger: discardLogger})
			defer e.Close()
			ctx := context.Background()

			first := redeemAsync(ctx, e, request("first", "hh_a", item(1, 1)))
			<-store.entered
			var rest []<-chan outcome
			for i := range tt.queued {
				rest = append(rest, redeemAsync(ctx, e, request(fmt.Sprintf("q%d", i), "hh_b", item(1, 1))))
				waitQueued(t, e, i+1)
			}
			select {
			case o := <-first:
				t.Fatalf("answered %+v while its commit was still running", o)
			case <-time.After(20 * time.Millisecond):
			}
			for range len(tt.want) {
				store.gate <- struct{}{}
			}
			for i, ch := range append([]<-chan outcome{first}, rest...) {
				if o := <-ch; o.err != nil {
					t.Fatalf("request %d: %v", i, o.err)
				}
			}
			if got := store.batchSizes(); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("batch sizes %v, want %v", got, tt.want)
			}
			var order []string
			for _, b := range store.batches[1:] {
				order = append(order, b...)
			}
			for i, id := range order {
				if id != fmt.Sprintf("q%d", i) {
					t.Fatalf("batches took %v, want arrival order", order)
				}
			}
			if s := e.Stats(); s.Batches != int64(len(tt.want)) || s.Committed != int64(tt.queued+1) || s.Failed != 0 {
				t.Fatalf("stats %+v", s)
			}
		})
	}
}

// TestEngine_DuplicateInBatch sends one request id three times into one
// batch: it takes effect once and every answer is the same receipt.
func TestEngine_DuplicateInBatch(t *testing.T) {
	store := newGateStore(true)
	e := NewEngine(store, Config{Logger: discardLogger})
	defer e.Close()
	ctx := context.Background()

	block := redeemAsync(ctx, e, request("block", "hh_a", item(1, 1)))
	<-store.entered
	var chs []<-chan outcome
	for i := range 3 {
		chs = append(chs, redeemAsync(ctx, e, request("dup", "hh_b", item(1, 40))))
		waitQueued(t, e, i+1)
	}
	store.gate <- struct{}{}
	store.gate <- struct{}{}
	<-block
	var receipts []*canasta.Redemption
	replays := 0
	for _, ch := range chs {
		o := <-ch
		if o.err != nil {
			t.Fatal(o.err)
		}
		receipts = append(receipts, o.receipt)
		if o.replay {
			replays++
		}
	}
	if replays != 2 || !reflect.DeepEqual(receipts[0], receipts[1]) || !reflect.DeepEqual(receipts[0], receipts[2]) {
		t.Fatalf("answers %+v with %d replays, want one receipt and two replays of it", receipts, replays)
	}
	if got := store.remaining("hh_b")[1]; got != 60 {
		t.Fatalf("remaining %d, want 60: the request took effect more than once", got)
	}
}

func TestEngine_FailedBatch(t *testing.T) {
	store := newGateStore(false)
	store.fail = errors.New("disk on fire")
	e := NewEngine(store, Config{Logger: discardLogger})
	defer e.Close()

	_, _, err := e.Redeem(context.Background(), request("r1", "hh_a", item(1, 1)))
	if canasta.ErrorCode(err) != canasta.EINTERNAL || !errors.Is(err, store.fail) {
		t.Fatalf("err %v, want an internal error wrapping the store's", err)
	}
	if s := e.Stats(); s.Failed != 1 || s.Committed != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// TestEngine_CancelledWhileQueued: a request whose caller gave up before
// its batch was taken never reaches the store.
func TestEngine_CancelledWhileQueued(t *testing.T) {
	store := newGateStore(true)
	e := NewEngine(store, Config{Logger: discardLogger})
	defer e.Close()

	block := redeemAsync(context.Background(), e, request("block", "hh_a", item(1, 1)))
	<-store.entered
	ctx, cancel := context.WithCancel(context.Background())
	gone := redeemAsync(ctx, e, request("gone", "hh_a", item(1, 1)))
	waitQueued(t, e, 1)
	stays := redeemAsync(context.Background(), e, request("stays", "hh_a", item(1, 1)))
	waitQueued(t, e, 2)
	cancel()
	if o := <-gone; !errors.Is(o.err, context.Canceled) || canasta.ErrorCode(o.err) != canasta.EINTERNAL {
		t.Fatalf("cancelled request: %v", o.err)
	}
	store.gate <- struct{}{}
	store.gate <- struct{}{}
	<-block
	if o := <-stays; o.err != nil {
		t.Fatal(o.err)
	}
	if got := store.batches; len(got) != 2 || !reflect.DeepEqual(got[1], []string{"stays"}) {
		t.Fatalf("batches %v, want the cancelled request left out", got)
	}
}

func TestEngine_QueueFull(t *testing.T) {
	store := newGateStore(true)
	e := NewEngine(store, Config{MaxQueue: 2, Logger: discardLogger})
	defer e.Close()
	ctx := context.Background()

	block := redeemAsync(ctx, e, request("block", "hh_a", item(1, 1)))
	<-store.entered
	queued := []<-chan outcome{redeemAsync(ctx, e, request("q1", "hh_a", item(1, 1)))}
	waitQueued(t, e, 1)
	queued = append(queued, redeemAsync(ctx, e, request("q2", "hh_a", item(1, 1))))
	waitQueued(t, e, 2)

	_, _, err := e.Redeem(ctx, request("shed", "hh_a", item(1, 1)))
	if !errors.Is(err, canasta.ErrUnavailable) {
		t.Fatalf("err %v, want unavailable", err)
	}
	store.gate <- struct{}{}
	store.gate <- struct{}{}
	for _, ch := range append(queued, block) {
		if o := <-ch; o.err != nil {
			t.Fatal(o.err)
		}
	}
}

// TestEngine_Close commits what was queued before refusing new requests.
func TestEngine_Close(t *testing.T) {
	store := newGateStore(true)
	e := NewEngine(store, Config{Logger: discardLogger})
	ctx := context.Background()

	block := redeemAsync(ctx, e, request("block", "hh_a", item(1, 1)))
	<-store.entered
	queued := redeemAsync(ctx, e, request("queued", "hh_a", item(1, 1)))
	waitQueued(t, e, 1)
	closed := make(chan error)
	go func() { closed <- e.Close() }()
	for closing := false; !closing; time.Sleep(time.Millisecond) {
		e.mu.Lock()
		closing = e.closed
		e.mu.Unlock()
	}
	if _, _, err := e.Redeem(ctx, request("late", "hh_a", item(1, 1))); !errors.Is(err, canasta.ErrUnavailable) {
		t.Fatalf("a request after Close: %v, want unavailable", err)
	}
	store.gate <- struct{}{}
	store.gate <- struct{}{}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	for _, ch := range []<-chan outcome{block, queued} {
		if o := <-ch; o.err != nil {
			t.Fatalf("a request queued before Close: %v", o.err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}

// TestEngine_Committers lets two batches be in the store at once, and
// closes an engine whose committers are busy and idle.
func TestEngine_Committers(t *testing.T) {
	store := newGateStore(true)
	e := NewEngine(store, Config{Committers: 2, Logger: discardLogger})
	ctx := context.Background()

	first := redeemAsync(ctx, e, request("first", "hh_a", item(1, 1)))
	if n := <-store.entered; n != 1 {
		t.Fatalf("first batch of %d", n)
	}
	// The first batch is still in the store; the second committer takes
	// the next request without waiting for it.
	second := redeemAsync(ctx, e, request("second", "hh_b", item(1, 1)))
	select {
	case n := <-store.entered:
		if n != 1 {
			t.Fatalf("second batch of %d", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the second committer did not take a batch while the first was committing")
	}
	store.gate <- struct{}{}
	store.gate <- struct{}{}
	for _, ch := range []<-chan outcome{first, second} {
		if o := <-ch; o.err != nil {
			t.Fatal(o.err)
		}
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.Redeem(ctx, request("late", "hh_a", item(1, 1))); !errors.Is(err, canasta.ErrUnavailable) {
		t.Fatalf("a request after Close: %v, want unavailable", err)
	}
}

// TestEngine_Concurrent races many clients over a few grants and checks
// L1 and L2 on the store and L3 for every answer, with one committer and
// with several. Run with -race.
func TestEngine_Concurrent(t *testing.T) {
	for _, committers := range []int{1, 4} {
		t.Run(fmt.Sprintf("Committers%d", committers), func(t *testing.T) {
			testEngineConcurrent(t, committers)
		})
	}
}

func testEngineConcurrent(t *testing.T, committers int) {
	store := &memStore{l: testLedger()}
	e := NewEngine(store, Config{MaxBatch: 16, Committers: committers, Logger: discardLogger})
	defer e.Close()

	var (
		mu    sync.Mutex
		acked = map[string]*canasta.Redemption{}
		wg    sync.WaitGroup
	)
	for w := range 16 {
		wg.Go(func() {
			for i := range 50 {
				h := []string{"hh_a", "hh_b"}[(i/2)%2]
				req := request(fmt.Sprintf("w%d-%d", w, i), h, item(1+int64(i%2), 1+int64(w%3)))
				r, _, err := e.Redeem(context.Background(), req)
				switch canasta.ErrorCode(err) {
				case "":
					mu.Lock()
					acked[req.RequestID] = r
					mu.Unlock()
				case canasta.ECONFLICT:
				default:
					t.Errorf("redeem %s: %v", req.RequestID, err)
				}
			}
		})
	}
	wg.Wait()
	store.mu.Lock()
	defer store.mu.Unlock()
	if err := store.l.checkInvariants(); err != nil {
		t.Fatal(err)
	}
	if len(acked) != len(store.l.receipts) {
		t.Fatalf("%d acknowledged, %d receipts stored", len(acked), len(store.l.receipts))
	}
	for id, r := range acked {
		if !reflect.DeepEqual(r, &store.l.receipts[id].redemption) {
			t.Fatalf("receipt %s acknowledged as %+v, stored as %+v", id, *r, store.l.receipts[id].redemption)
		}
	}
	for _, h := range []string{"hh_a", "hh_b"} {
		for p, left := range store.l.remaining(h) {
			if left > 2 {
				t.Fatalf("%s has %d of program %d left although clients kept asking", h, left, p)
			}
		}
	}
}
