package ledger

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/canasta/canasta"
)

// memLedger is an in-memory ledger with the redemption semantics of the
// SQL stores: the reference the simulation and the linearizability checks
// run the engine over. It is a value that clones cheaply for small
// worlds, so a simulated disk can keep the last durable copy.
type memLedger struct {
	now      time.Time
	points   map[int64]bool
	grants   map[string]map[int64]*memGrant // household id → program id
	receipts map[string]*memReceipt         // request id
	nextID   int64
}

type memGrant struct {
	granted, redeemed int64
}

type memReceipt struct {
	redemption  canasta.Redemption
	fingerprint []byte
}

func newMemLedger(now time.Time) *memLedger {
	return &memLedger{now: now, points: map[int64]bool{}, grants: map[string]map[int64]*memGrant{},
		receipts: map[string]*memReceipt{}, nextID: 1}
}

// grant gives a household a quantity of a program for the current period.
func (l *memLedger) grant(householdID string, programID, quantity int64) {
	if l.grants[householdID] == nil {
		l.grants[householdID] = map[int64]*memGrant{}
	}
	l.grants[householdID][programID] = &memGrant{granted: quantity}
}

func (l *memLedger) clone() *memLedger {
	c := &memLedger{now: l.now, points: maps.Clone(l.points), grants: make(map[string]map[int64]*memGrant, len(l.grants)),
		receipts: maps.Clone(l.receipts), nextID: l.nextID}
	for h, gs := range l.grants {
		c.grants[h] = make(map[int64]*memGrant, len(gs))
		for p, g := range gs {
			gc := *g
			c.grants[h][p] = &gc
		}
	}
	return c
}

// remaining returns a household's balances by program.
func (l *memLedger) remaining(householdID string) map[int64]int64 {
	m := map[int64]int64{}
	for p, g := range l.grants[householdID] {
		m[p] = g.granted - g.redeemed
	}
	return m
}

// redeem applies one request as the SQL stores do.
func (l *memLedger) redeem(req *canasta.RedemptionRequest) canasta.RedeemResult {
	if err := req.Validate(); err != nil {
		return canasta.RedeemResult{Err: err}
	}
	fingerprint := req.Fingerprint()
	if r, ok := l.receipts[req.RequestID]; ok {
		if !bytes.Equal(r.fingerprint, fingerprint) {
			return canasta.RedeemResult{Err: canasta.Errorf(canasta.ECONFLICT, "Request id %q was already used for a different redemption.", req.RequestID)}
		}
		return canasta.RedeemResult{Receipt: copyRedemption(&r.redemption), Replay: true}
	}
	if !l.points[req.PointID] {
		return canasta.RedeemResult{Err: canasta.Errorf(canasta.ENOTFOUND, "Point %d not found.", req.PointID)}
	}
	gs, ok := l.grants[req.HouseholdID]
	if !ok {
		return canasta.RedeemResult{Err: canasta.Errorf(canasta.ENOTFOUND, "Household %q not found.", req.HouseholdID)}
	}
	period := canasta.PeriodOf(l.now)
	for _, it := range req.Items {
		g, ok := gs[it.ProgramID]
		if !ok {
			return canasta.RedeemResult{Err: canasta.Errorf(canasta.ENOTFOUND, "The household has no grant from program %d for %s.", it.ProgramID, period)}
		}
		if g.granted-g.redeemed < it.Quantity {
			return canasta.RedeemResult{Err: canasta.Errorf(canasta.ECONFLICT, "Only %d remain; %d were asked for.", g.granted-g.redeemed, it.Quantity)}
		}
	}
	r := canasta.Redemption{ID: l.nextID, RequestID: req.RequestID, HouseholdID: req.HouseholdID, PointID: req.PointID,
		Period: period, CreatedAt: l.now}
	l.nextID++
	for _, it := range req.Items {
		g := gs[it.ProgramID]
		g.redeemed += it.Quantity
		r.Items = append(r.Items, canasta.RedemptionItem{ProgramID: it.ProgramID, Quantity: it.Quantity, Remaining: g.granted - g.redeemed})
	}
	l.receipts[req.RequestID] = &memReceipt{redemption: r, fingerprint: fingerprint}
	return canasta.RedeemResult{Receipt: copyRedemption(&r)}
}

func copyRedemption(r *canasta.Redemption) *canasta.Redemption {
	c := *r
	c.Items = slices.Clone(r.Items)
	return &c
}

// checkInvariants returns the first broken ledger invariant of l, or nil.
//
//	L1: for every grant, the receipts' quantities sum to redeemed, and
//	    each receipt's remaining is the grant less every receipt up to it.
//	L2: no remaining quantity is below zero.
func (l *memLedger) checkInvariants() error {
	type key struct {
		household string
		program   int64
	}
	receipts := slices.SortedFunc(maps.Values(l.receipts), func(a, b *memReceipt) int {
		return int(a.redemption.ID - b.redemption.ID)
	})
	sum := map[key]int64{}
	for _, r := range receipts {
		for _, it := range r.redemption.Items {
			k := key{r.redemption.HouseholdID, it.ProgramID}
			g := l.grants[k.household][k.program]
			if g == nil {
				return fmt.Errorf("L1: receipt %s debits program %d, which household %s has no grant of", r.redemption.RequestID, it.ProgramID, k.household)
			}
			sum[k] += it.Quantity
			if want := g.granted - sum[k]; it.Remaining != want {
				return fmt.Errorf("L1: receipt %s says %d remain of program %d, but the receipts before it leave %d", r.redemption.RequestID, it.Remaining, it.ProgramID, want)
			}
		}
	}
	for h, gs := range l.grants {
		for p, g := range gs {
			if g.redeemed != sum[key{h, p}] {
				return fmt.Errorf("L1: household %s program %d redeemed %d, receipts sum to %d", h, p, g.redeemed, sum[key{h, p}])
			}
			if g.granted-g.redeemed < 0 {
				return fmt.Errorf("L2: household %s program %d has %d remaining", h, p, g.granted-g.redeemed)
			}
		}
	}
	return nil
}

// memStore is a memLedger behind a mutex, a Store with no faults.
type memStore struct {
	mu sync.Mutex
	l  *memLedger
}

var _ Store = (*memStore)(nil)

func (s *memStore) RedeemBatch(ctx context.Context, reqs []*canasta.RedemptionRequest) ([]canasta.RedeemResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	results := make([]canasta.RedeemResult, len(reqs))
	for i, req := range reqs {
		results[i] = s.l.redeem(req)
	}
	return results, nil
}

func (s *memStore) FindRedemptionByRequestID(ctx context.Context, requestID string) (*canasta.Redemption, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.l.receipts[requestID]
	if !ok {
		return nil, canasta.Errorf(canasta.ENOTFOUND, "No redemption has request id %q.", requestID)
	}
	return copyRedemption(&r.redemption), nil
}

// remaining reads a household's balances, as a balance read would.
func (s *memStore) remaining(householdID string) map[int64]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.l.remaining(householdID)
}
