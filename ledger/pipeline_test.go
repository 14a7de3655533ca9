package ledger

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/canasta/canasta"
)

// flushStore is a PipelinedStore over a memStore whose flushes the test
// performs: each commit is announced on committed, and its durable
// function returns what the test sends on flushed.
type flushStore struct {
	memStore
	committed chan string // first request id of each committed batch
	flushed   chan error
}

func (s *flushStore) RedeemBatchPipelined(ctx context.Context, reqs []*canasta.RedemptionRequest) ([]canasta.RedeemResult, func() error, error) {
	results, err := s.memStore.RedeemBatch(ctx, reqs)
	if err != nil {
		return nil, nil, err
	}
	s.committed <- reqs[0].RequestID
	return results, func() error { return <-s.flushed }, nil
}

// RedeemBatch commits and waits for the flush, as a serial engine needs.
func (s *flushStore) RedeemBatch(ctx context.Context, reqs []*canasta.RedemptionRequest) ([]canasta.RedeemResult, error) {
	results, durable, err := s.RedeemBatchPipelined(ctx, reqs)
	if err != nil {
		return nil, err
	}
	return results, durable()
}

func TestEngine_Pipelined(t *testing.T) {
	for _, tt := range []struct {
		name   string
		serial bool
	}{
		{"pipelined", false},
		{"serial", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			store := &flushStore{memStore: memStore{l: testLedger()}, committed: make(chan string, 10), flushed: make(chan error)}
			e := NewEngine(store, Config{Serial: tt.serial, Logger: discardLogger})
			defer e.Close()
			ctx := context.Background()

			a := redeemAsync(ctx, e, request("a", "hh_a", item(1, 5)))
			if got := <-store.committed; got != "a" {
				t.Fatalf("first commit is of %q, want a", got)
			}
			b := redeemAsync(ctx, e, request("b", "hh_a", item(1, 7)))
			select {
			case o := <-a:
				t.Fatalf("a answered before its batch was durable: %+v", o)
			case id := <-store.committed:
				// L3 holds either way; only the pipelined engine applies
				// the next batch before the last is durable.
				if tt.serial {
					t.Fatalf("serial engine committed %q before a was durable", id)
				}
			case <-time.After(100 * time.Millisecond):
				if !tt.serial {
					t.Fatal("pipelined engine did not commit b while a was flushed")
				}
			}
			select {
			case o := <-a:
				t.Fatalf("a answered before its batch was durable: %+v", o)
			default:
			}
			store.flushed <- nil
			if o := <-a; o.err != nil || o.receipt.Items[0].Remaining != 95 {
				t.Fatalf("a: %+v, want a receipt leaving 95", o)
			}
			if tt.serial {
				<-store.committed
			}
			// A failed flush leaves b's outcome unknown: an internal error,
			// never a receipt.
			store.flushed <- errors.New("fsync: input/output error")
			if o := <-b; canasta.ErrorCode(o.err) != canasta.EINTERNAL || o.receipt != nil {
				t.Fatalf("b after a failed flush: %+v, want an internal error", o)
			}
		})
	}
}

// TestEngine_PipelinedClose checks that Close answers the batches still
// being flushed before it returns.
func TestEngine_PipelinedClose(t *testing.T) {
	store := &flushStore{memStore: memStore{l: testLedger()}, committed: make(chan string, 10), flushed: make(chan error)}
	e := NewEngine(store, Config{Logger: discardLogger})
	a := redeemAsync(context.Background(), e, request("a", "hh_a", item(1, 5)))
	<-store.committed
	closed := make(chan struct{})
	go func() {
		e.Close()
		close(closed)
	}()
	select {
	case <-closed:
		t.Fatal("Close returned while a batch was still being flushed")
	case <-time.After(50 * time.Millisecond):
	}
	store.flushed <- nil
	<-closed
	if o := <-a; o.err != nil {
		t.Fatalf("a: %v", o.err)
	}
}
