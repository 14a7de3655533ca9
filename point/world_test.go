package point_test

import (
	"context"
	"crypto/ed25519"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/canasta/canasta"
	"github.com/canasta/canasta/card"
	chttp "github.com/canasta/canasta/http"
	"github.com/canasta/canasta/point"
	"github.com/canasta/canasta/rules"
	"github.com/canasta/canasta/sqlite"
)

// world is a real API server over a real store on a settable clock, with
// one household (rice 2000 g, oil 500 ml this month), a card for it, and
// two points.
type world struct {
	clock     *simClock
	db        *sqlite.DB
	srv       *chttp.Server
	rights    *sqlite.RightsService
	cards     *card.Service
	household string
	code      string // the household's card
	rice, oil int64
	points    [2]int64
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	w := &world{clock: &simClock{now: simStart}}
	w.db = sqlite.NewDB(filepath.Join(t.TempDir(), "canasta.db"))
	w.db.Now, w.db.Rules, w.db.Logger = w.clock.Now, rules.NewEngine(), slog.New(slog.DiscardHandler)
	if err := w.db.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.db.Close() })
	w.rights = sqlite.NewRightsService(w.db)
	w.cards = card.NewService(sqlite.NewCardStore(w.db), "test")
	w.cards.Now = w.clock.Now
	w.cards.PINParams = &argon2id.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

	for i, p := range []*canasta.Program{
		{Name: "Rice", Commodity: canasta.Commodity{Code: "rice", Unit: canasta.UnitGram}, Eligibility: "true", Quantity: "household.size * 1000", Period: canasta.PeriodMonthly},
		{Name: "Oil", Commodity: canasta.Commodity{Code: "oil", Unit: canasta.UnitMillilitre}, Eligibility: "true", Quantity: "500", Period: canasta.PeriodMonthly},
	} {
		if err := sqlite.NewProgramService(w.db).CreateProgram(ctx, p); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			w.rice = p.ID
		} else {
			w.oil = p.ID
		}
	}
	for i := range w.points {
		p := &canasta.Point{Name: "Shop", Kind: canasta.PointShop, Region: "North"}
		if err := sqlite.NewPointService(w.db).CreatePoint(ctx, p); err != nil {
			t.Fatal(err)
		}
		w.points[i] = p.ID
	}
	h := newHousehold(1, 2)
	h.HomePointID = w.points[0]
	if err := sqlite.NewHouseholdService(w.db).CreateHousehold(ctx, h); err != nil {
		t.Fatal(err)
	}
	w.household = h.ID
	if _, err := sqlite.NewCycleService(w.db).RunCycle(ctx, simPeriod, nil); err != nil {
		t.Fatal(err)
	}
	ic, err := w.cards.IssueCard(ctx, h.ID)
	if err != nil {
		t.Fatal(err)
	}
	w.code = ic.Code

	s := chttp.NewServer()
	s.Logger = slog.New(slog.DiscardHandler)
	s.Now = w.clock.Now
	s.HouseholdService = sqlite.NewHouseholdService(w.db)
	s.PointService = sqlite.NewPointService(w.db)
	s.EntitlementService = sqlite.NewEntitlementService(w.db)
	s.RedemptionService = sqlite.NewRedemptionService(w.db)
	s.TokenService = sqlite.NewTokenService(w.db)
	s.CardService = w.cards
	s.DeviceService, s.RightsService, s.HomePointService = w.rights, w.rights, w.rights
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	w.srv = s
	return w
}

// device enrolls a device of the point through the API and returns its
// client.
func (w *world) device(t *testing.T, pointID int64) *point.Client {
	t.Helper()
	_, token, err := w.rights.CreateDevice(context.Background(), pointID, "till")
	if err != nil {
		t.Fatal(err)
	}
	c := &point.Client{URL: w.srv.URL(), Now: w.clock.Now}
	d, key, err := c.Enroll(context.Background(), token)
	if err != nil {
		t.Fatal(err)
	}
	c.DeviceID, c.Key = d.ID, key
	return c
}

// balance returns the O1 account of one of the household's grants,
// failing unless O1 and O3 hold.
func (w *world) balance(t *testing.T, program int64) canasta.GrantBalance {
	t.Helper()
	bs, err := w.rights.FindGrantBalances(context.Background(), w.household, simPeriod)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		if b.Granted != b.Available+b.Held+b.Redeemed || b.Available < 0 || b.Held < 0 || b.Redeemed > b.Granted {
			t.Fatalf("O1/O3 broken: %+v", *b)
		}
		if b.ProgramID == program {
			return *b
		}
	}
	t.Fatalf("no grant of program %d", program)
	return canasta.GrantBalance{}
}

// journal writes signed receipts as a device would, or a forger holding
// its key.
type journal struct {
	deviceID int64
	key      ed25519.PrivateKey
	seq      int64
	prev     []byte
}

func newJournal(c *point.Client) *journal {
	return &journal{deviceID: c.DeviceID, key: c.Key, prev: canasta.GenesisHash()}
}

func (j *journal) next(household string, items ...canasta.OfflineItem) *canasta.OfflineReceipt {
	j.seq++
	rc := &canasta.OfflineReceipt{DeviceID: j.deviceID, Seq: j.seq, Prev: j.prev, RequestID: "r" + time.Duration(j.seq).String(),
		HouseholdID: household, Items: items, At: simStart}
	rc.Sign(j.key)
	j.prev = rc.Hash()
	return rc
}

func rightFor(t *testing.T, rs []*canasta.Right, program int64) *canasta.Right {
	t.Helper()
	for _, r := range rs {
		if r.ProgramID == program {
			return r
		}
	}
	t.Fatalf("no right for program %d in %v", program, rs)
	return nil
}
