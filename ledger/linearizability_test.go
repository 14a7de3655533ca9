package ledger

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/canasta/canasta"
	"github.com/canasta/canasta/rules"
	"github.com/canasta/canasta/sqlite"
)

// The linearizability check records what concurrent clients saw of each
// household (redemptions with the remaining quantities on their receipts,
// refusals, and balance reads) with the real time of each call and
// return, and asks porcupine whether some order of the operations,
// consistent with those times, explains every answer with one household
// ledger run one operation at a time.

// lzPrograms is how many programs the workload redeems; the model keeps a
// household's balances in a fixed array, so states compare with ==.
const lzPrograms = 2

type lzState [lzPrograms]int64

type lzInput struct {
	household string
	read      bool
	quantity  lzState // per program; 0 where the request has no item
}

type lzOutput struct {
	ok        bool // acknowledged, or a read
	refused   bool // refused as over quota
	remaining lzState
}

// lzModel is one household's ledger: redemptions debit all of their items
// or refuse if any is short, and receipts and reads show the balances.
func lzModel(initial lzState) porcupine.Model {
	return porcupine.Model{
		Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
			by := map[string][]porcupine.Operation{}
			var order []string
			for _, op := range history {
				h := op.Input.(lzInput).household
				if by[h] == nil {
					order = append(order, h)
				}
				by[h] = append(by[h], op)
			}
			var parts [][]porcupine.Operation
			for _, h := range order {
				parts = append(parts, by[h])
			}
			return parts
		},
		Init: func() any { return initial },
		Step: func(state, input, output any) (bool, any) {
			s, in, out := state.(lzState), input.(lzInput), output.(lzOutput)
			if in.read {
				return out.remaining == s, s
			}
			short := false
			next := s
			for p, q := range in.quantity {
				next[p] -= q
				short = short || next[p] < 0
			}
			switch {
			case out.refused:
				return short, s
			case !out.ok || short:
				return false, s
			}
			for p, q := range in.quantity {
				if q > 0 && out.remaining[p] != next[p] {
					return false, s
				}
			}
			return true, next
		},
		DescribeOperation: func(input, output any) string {
			in, out := input.(lzInput), output.(lzOutput)
			if in.read {
				return fmt.Sprintf("read %s → %v", in.household, out.remaining)
			}
			return fmt.Sprintf("redeem %s %v → ok=%v refused=%v %v", in.household, in.quantity, out.ok, out.refused, out.remaining)
		},
	}
}

// lzLedger is a store under test: the engine redeems, and balances are
// read from the store directly, as the HTTP API reads them.
type lzLedger struct {
	engine  *Engine
	balance func(ctx context.Context, household string) (lzState, error)
	// ids maps the workload's household and program numbers to the store's.
	households []string
	programs   []int64
	point      int64
}

// runLinearizability drives clients against l and checks the history.
func runLinearizability(t *testing.T, l *lzLedger, initial lzState, clients, opsPerClient int) {
	var (
		mu      sync.Mutex
		history []porcupine.Operation
		wg      sync.WaitGroup
		start   = time.Now()
		ctx     = context.Background()
	)
	for c := range clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(c), 1))
			for i := range opsPerClient {
				h := rng.IntN(len(l.households))
				in := lzInput{household: l.households[h]}
				var out lzOutput
				call := time.Since(start).Nanoseconds()
				if rng.IntN(10) < 3 {
					in.read = true
					s, err := l.balance(ctx, in.household)
					if err != nil {
						t.Errorf("read balance: %v", err)
						return
					}
					out = lzOutput{ok: true, remaining: s}
				} else {
					req := &canasta.RedemptionRequest{RequestID: fmt.Sprintf("c%d-%d", c, i), PointID: l.point, HouseholdID: in.household}
					for p, prog := range l.programs {
						if len(req.Items) == 0 && p == len(l.programs)-1 || rng.IntN(2) == 0 {
							in.quantity[p] = 1 + rng.Int64N(6)
							req.Items = append(req.Items, canasta.RedemptionItem{ProgramID: prog, Quantity: in.quantity[p]})
						}
					}
					r, _, err := l.engine.Redeem(ctx, req)
					switch canasta.ErrorCode(err) {
					case "":
						out.ok = true
						for _, it := range r.Items {
							for p, prog := range l.programs {
								if prog == it.ProgramID {
									out.remaining[p] = it.Remaining
								}
							}
						}
					case canasta.ECONFLICT:
						out.refused = true
					default:
						t.Errorf("redeem %s: %v", req.RequestID, err)
						return
					}
				}
				ret := time.Since(start).Nanoseconds()
				mu.Lock()
				history = append(history, porcupine.Operation{ClientId: c, Input: in, Call: call, Output: out, Return: ret})
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	model := lzModel(initial)
	res, info := porcupine.CheckOperationsVerbose(model, history, 30*time.Second)
	if res != porcupine.Ok {
		path := filepath.Join(t.TempDir(), "history.html")
		if err := porcupine.VisualizePath(model, info, path); err == nil {
			t.Logf("visualization: %s", path)
		}
		t.Fatalf("history of %d operations is %v, want linearizable", len(history), res)
	}
	t.Logf("%d operations linearizable", len(history))
}

func TestLinearizability(t *testing.T) {
	initial := lzState{60, 20}

	t.Run("ModelRejectsStaleRead", func(t *testing.T) {
		// A read that began after a redemption was acknowledged must see it.
		history := []porcupine.Operation{
			{Input: lzInput{household: "h", quantity: lzState{5, 0}}, Call: 0, Output: lzOutput{ok: true, remaining: lzState{55, 0}}, Return: 10},
			{Input: lzInput{household: "h", read: true}, Call: 20, Output: lzOutput{ok: true, remaining: initial}, Return: 30},
		}
		if res := porcupine.CheckOperationsTimeout(lzModel(initial), history, time.Second); res != porcupine.Illegal {
			t.Fatalf("stale read judged %v", res)
		}
	})

	t.Run("ModelRejectsOverdraft", func(t *testing.T) {
		history := []porcupine.Operation{
			{Input: lzInput{household: "h", quantity: lzState{0, 15}}, Call: 0, Output: lzOutput{ok: true, remaining: lzState{0, 5}}, Return: 10},
			{Input: lzInput{household: "h", quantity: lzState{0, 15}}, Call: 5, Output: lzOutput{ok: true, remaining: lzState{0, 5}}, Return: 12},
		}
		if res := porcupine.CheckOperationsTimeout(lzModel(initial), history, time.Second); res != porcupine.Illegal {
			t.Fatalf("double debit judged %v", res)
		}
	})

	t.Run("Memory", func(t *testing.T) {
		l := newMemLedger(simNow)
		l.points[1] = true
		households := []string{"hh_a", "hh_b", "hh_c"}
		for _, h := range households {
			l.grant(h, 1, initial[0])
			l.grant(h, 2, initial[1])
		}
		store := &memStore{l: l}
		e := NewEngine(store, Config{MaxBatch: 8, Logger: discardLogger})
		defer e.Close()
		runLinearizability(t, &lzLedger{
			engine: e,
			balance: func(_ context.Context, h string) (lzState, error) {
				m := store.remaining(h)
				return lzState{m[1], m[2]}, nil
			},
			households: households, programs: []int64{1, 2}, point: 1,
		}, initial, 8, 60)
	})

	t.Run("SQLite", func(t *testing.T) {
		runLinearizability(t, newSQLiteLedger(t, initial, 3), initial, 8, 40)
	})
}

// newSQLiteLedger opens a SQLite store with n households, each granted
// initial of two programs for the current period, and an engine over it.
func newSQLiteLedger(t *testing.T, initial lzState, n int) *lzLedger {
	t.Helper()
	db := sqlite.NewDB(filepath.Join(t.TempDir(), "canasta.db"))
	db.Rules = rules.NewEngine()
	db.Now = func() time.Time { return simNow }
	db.Logger = discardLogger
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()

	l := &lzLedger{}
	for i := range n {
		h := &canasta.Household{Address: canasta.Address{Region: "North"}, MonthlyIncome: canasta.UnknownIncome,
			Members: []*canasta.Person{{GivenName: fmt.Sprintf("Member %d", i), Relationship: canasta.RelationshipHead}}}
		if err := sqlite.NewHouseholdService(db).CreateHousehold(ctx, h); err != nil {
			t.Fatal(err)
		}
		l.households = append(l.households, h.ID)
	}
	for i, q := range initial {
		p := &canasta.Program{Name: fmt.Sprintf("P%d", i), Commodity: canasta.Commodity{Code: fmt.Sprintf("c%d", i), Unit: canasta.UnitGram},
			Eligibility: "true", Quantity: fmt.Sprint(q), Period: canasta.PeriodMonthly}
		if err := sqlite.NewProgramService(db).CreateProgram(ctx, p); err != nil {
			t.Fatal(err)
		}
		l.programs = append(l.programs, p.ID)
	}
	pt := &canasta.Point{Name: "Shop", Kind: canasta.PointShop, Region: "North"}
	if err := sqlite.NewPointService(db).CreatePoint(ctx, pt); err != nil {
		t.Fatal(err)
	}
	l.point = pt.ID
	period := canasta.PeriodOf(simNow)
	if _, err := sqlite.NewCycleService(db).RunCycle(ctx, period, nil); err != nil {
		t.Fatal(err)
	}

	l.engine = NewEngine(sqlite.NewRedemptionService(db), Config{MaxBatch: 8, Logger: discardLogger})
	t.Cleanup(func() { l.engine.Close() })
	ents := sqlite.NewEntitlementService(db)
	l.balance = func(ctx context.Context, h string) (lzState, error) {
		es, err := ents.FindEntitlements(ctx, h, period)
		if err != nil {
			return lzState{}, err
		}
		var s lzState
		for _, e := range es {
			for p, prog := range l.programs {
				if prog == e.ProgramID {
					s[p] = e.Remaining
				}
			}
		}
		return s, nil
	}
	return l
}
