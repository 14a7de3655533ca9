package point_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/canasta/canasta"
	"github.com/canasta/canasta/point"
	"github.com/canasta/canasta/rules"
	"github.com/canasta/canasta/sqlite"
)

// The simulator runs many points and the server, with the real server
// store and the real point store, under a seeded random schedule of
// grants, redemptions online and offline, network cuts, duplicated,
// reordered and replayed sync batches, crashes between the journal write
// and the receipt, clocks set back, expiries, lost devices and
// revocations, and checks O1-O5 after every step against a model.
var (
	simSeeds = flag.Int("seeds", 0, "number of simulator seeds to run (env CANASTA_SIM_SEEDS; default 6)")
	simSeed  = flag.Uint64("seed", 0, "run only this simulator seed")
	simSteps = flag.Int("steps", 120, "steps per simulator seed")
)

func seedsToRun() []uint64 {
	if *simSeed != 0 {
		return []uint64{*simSeed}
	}
	n := *simSeeds
	if n == 0 {
		n, _ = strconv.Atoi(os.Getenv("CANASTA_SIM_SEEDS"))
	}
	if n <= 0 {
		n = 6
	}
	seeds := make([]uint64, n)
	for i := range seeds {
		seeds[i] = uint64(i + 1)
	}
	return seeds
}

func TestSimulator(t *testing.T) {
	for _, seed := range seedsToRun() {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			sim := newSim(t, seed)
			for step := range *simSteps {
				what := sim.step()
				sim.counts[what]++
				if err := sim.check(); err != nil {
					t.Fatalf("seed %d step %d (%s): %v\nrerun with: go test ./point/ -run TestSimulator -seed %d", seed, step, what, err, seed)
				}
			}
			sim.drain()
			st := sim.snapshot()
			var held, redeemed int64
			for _, b := range st.Balances {
				held += b.Held
				redeemed += b.Redeemed
			}
			t.Logf("seed %d: %v; %d losses, %d receipts posted, redeemed %d, held %d", seed, sim.counts, st.Losses, len(sim.accepted), redeemed, held)
			if err := sim.check(); err != nil {
				t.Fatalf("seed %d after draining: %v\nrerun with: go test ./point/ -run TestSimulator -seed %d", seed, err, seed)
			}
			if err := sim.checkDrained(); err != nil {
				t.Fatalf("seed %d after draining: %v\nrerun with: go test ./point/ -run TestSimulator -seed %d", seed, err, seed)
			}
		})
	}
}

// simClock is the server's clock; devices read it with their own skew.
type simClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *simClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *simClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type grantKey struct {
	household string
	program   int64
}

// simDevice is one point device: its real store, key and network state.
type simDevice struct {
	id, pointID int64
	dir         string
	key         ed25519.PrivateKey
	store       *point.Store
	skew        time.Duration
	online      bool
	revoked     bool
	uploaded    bool // a revoked device's journal has been handed in
	batches     [][]*canasta.OfflineReceipt
	handedOut   map[grantKey]int64 // what the device's receipts gave
}

type sim struct {
	t        testing.TB
	ctx      context.Context
	rng      *rand.Rand
	clock    *simClock
	db       *sqlite.DB
	rights   *sqlite.RightsService
	redeem   *sqlite.RedemptionService
	devices  []*simDevice
	grants   []grantKey
	programs []int64
	reqN     int
	counts   map[string]int

	online map[grantKey]int64 // redeemed online, by the model
	// accepted is what each posted receipt handed out, by the model:
	// every receipt the server answered as posted.
	accepted map[[2]int64]map[grantKey]int64
}

func newSim(t testing.TB, seed uint64) *sim {
	ctx := context.Background()
	clock := &simClock{now: simStart}
	db := sqlite.NewDB(filepath.Join(t.TempDir(), "canasta.db"))
	db.Now, db.Rules = clock.Now, rules.NewEngine()
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s := &sim{t: t, ctx: ctx, rng: rand.New(rand.NewPCG(seed, 7)), clock: clock, db: db,
		rights: sqlite.NewRightsService(db), redeem: sqlite.NewRedemptionService(db),
		counts: map[string]int{}, online: map[grantKey]int64{}, accepted: map[[2]int64]map[grantKey]int64{}}
	s.rights.RightTTL = 48 * time.Hour

	for _, p := range []*canasta.Program{
		{Name: "Rice", Commodity: canasta.Commodity{Code: "rice", Unit: canasta.UnitGram}, Eligibility: "true", Quantity: "household.size * 1000", Period: canasta.PeriodMonthly},
		{Name: "Oil", Commodity: canasta.Commodity{Code: "oil", Unit: canasta.UnitMillilitre}, Eligibility: "true", Quantity: "500", Period: canasta.PeriodMonthly},
	} {
		if err := sqlite.NewProgramService(db).CreateProgram(ctx, p); err != nil {
			t.Fatal(err)
		}
		s.programs = append(s.programs, p.ID)
	}
	var points []int64
	for i := range 3 {
		p := &canasta.Point{Name: fmt.Sprintf("Point %d", i), Kind: canasta.PointShop, Region: "North"}
		if err := sqlite.NewPointService(db).CreatePoint(ctx, p); err != nil {
			t.Fatal(err)
		}
		points = append(points, p.ID)
	}
	for i := range 4 {
		h := newHousehold(i+1, 1+i%3)
		if err := sqlite.NewHouseholdService(db).CreateHousehold(ctx, h); err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			if err := s.rights.SetHomePoint(ctx, h.ID, points[s.rng.IntN(len(points))]); err != nil {
				t.Fatal(err)
			}
		}
		for _, p := range s.programs {
			s.grants = append(s.grants, grantKey{h.ID, p})
		}
	}
	if _, err := sqlite.NewCycleService(db).RunCycle(ctx, simPeriod, nil); err != nil {
		t.Fatal(err)
	}
	// Point 0 has two devices, the others one each.
	for i, pid := range []int64{points[0], points[0], points[1], points[2]} {
		s.devices = append(s.devices, s.enroll(pid, filepath.Join(t.TempDir(), fmt.Sprintf("device%d", i))))
	}
	return s
}

func (s *sim) enroll(pointID int64, dir string) *simDevice {
	d, token, err := s.rights.CreateDevice(s.ctx, pointID, "till")
	if err != nil {
		s.t.Fatal(err)
	}
	pub, key, _ := ed25519.GenerateKey(nil)
	if _, err := s.rights.EnrollDevice(s.ctx, token, pub); err != nil {
		s.t.Fatal(err)
	}
	dev := &simDevice{id: d.ID, pointID: pointID, dir: dir, key: key, online: true, handedOut: map[grantKey]int64{}}
	dev.open(s)
	if err := dev.store.SetIdentity(s.ctx, &point.Identity{DeviceID: d.ID, PointID: pointID, Key: key}); err != nil {
		s.t.Fatal(err)
	}
	return dev
}

func (d *simDevice) open(s *sim) {
	st, err := point.OpenStore(d.dir)
	if err != nil {
		s.t.Fatal(err)
	}
	st.Now = func() time.Time { return s.clock.Now().Add(d.skew) }
	d.store = st
	s.t.Cleanup(func() { st.Close() })
}

// step takes one random action and says what it was.
func (s *sim) step() string {
	d := s.devices[s.rng.IntN(len(s.devices))]
	g := s.grants[s.rng.IntN(len(s.grants))]
	q := 1 + s.rng.Int64N(400)
	switch n := s.rng.IntN(100); {
	case n < 10:
		s.reqN++
		req := &canasta.RedemptionRequest{RequestID: fmt.Sprintf("online-%d", s.reqN), PointID: d.pointID, HouseholdID: g.household,
			Items: []canasta.RedemptionItem{{ProgramID: g.program, Quantity: q}}}
		r, _, err := s.redeem.Redeem(s.ctx, req)
		if err == nil {
			s.online[g] += r.Items[0].Quantity
		} else if canasta.ErrorCode(err) != canasta.ECONFLICT {
			s.t.Fatalf("online redeem: %v", err)
		}
		return "online redemption"
	case n < 40:
		if d.revoked {
			return "lost device idle"
		}
		s.offlineRedeem(d, g, q, false)
		return "offline redemption"
	case n < 45:
		if d.revoked {
			return "lost device idle"
		}
		s.offlineRedeem(d, g, q, true)
		return "crash between journal write and receipt"
	case n < 55:
		s.sync(d, nil)
		return "sync"
	case n < 65:
		s.sync(d, []canasta.RightRequest{{HouseholdID: g.household, ProgramID: g.program, Quantity: q}})
		return "sync asking for rights"
	case n < 72:
		d.online = !d.online
		return "network toggled"
	case n < 80:
		s.replay(d)
		return "replayed batch"
	case n < 85:
		s.clock.add(time.Duration(1+s.rng.IntN(30)) * time.Hour)
		if _, err := s.rights.ExpireRights(s.ctx); err != nil {
			s.t.Fatal(err)
		}
		return "time passes"
	case n < 88:
		d.skew = -time.Duration(s.rng.IntN(72)) * time.Hour
		return "device clock set back"
	case n < 90:
		if d.revoked || s.liveDevices() < 4 {
			return "no loss"
		}
		d.revoked = true
		d.online = false
		if err := s.rights.RevokeDevice(s.ctx, d.id); err != nil {
			s.t.Fatal(err)
		}
		return "device lost and revoked"
	case n < 94:
		s.uploadLost()
		return "lost device's journal handed in"
	default:
		s.reorderSync(d)
		return "reordered, duplicated sync"
	}
}

func (s *sim) liveDevices() int {
	n := 0
	for _, d := range s.devices {
		if !d.revoked {
			n++
		}
	}
	return n
}

func (s *sim) offlineRedeem(d *simDevice, g grantKey, q int64, crash bool) {
	// Mostly serve households the device holds rights for, as a real
	// point's customers are mostly its own.
	if rs, err := d.store.Rights(s.ctx); err != nil {
		s.t.Fatal(err)
	} else if len(rs) > 0 && s.rng.IntN(5) != 0 {
		r := rs[s.rng.IntN(len(rs))]
		g = grantKey{r.HouseholdID, r.ProgramID}
		q = 1 + s.rng.Int64N(max(1, r.Spendable*2/3))
	}
	s.reqN++
	req := &canasta.RedemptionRequest{RequestID: fmt.Sprintf("till-%d", s.reqN), PointID: d.pointID, HouseholdID: g.household,
		Items: []canasta.RedemptionItem{{ProgramID: g.program, Quantity: q}}}
	rc, _, err := d.store.Redeem(s.ctx, req)
	if canasta.ErrorCode(err) == canasta.ECONFLICT {
		s.counts["offline refused"]++
		return
	} else if err != nil {
		s.t.Fatalf("offline redeem: %v", err)
	}
	if crash {
		// The receipt never reached the operator; the till restarts and
		// the operator retries with the same request id.
		d.store.Close()
		d.open(s)
		again, replay, err := d.store.Redeem(s.ctx, req)
		if err != nil || !replay || !bytes.Equal(again.Hash(), rc.Hash()) {
			s.t.Fatalf("retry after crash: replay=%v err=%v, want the journaled receipt", replay, err)
		}
	}
	d.handedOut[g] += q
}

// deliver sends a batch to the server as the device would and returns
// the result; the model learns what was accepted.
func (s *sim) deliver(d *simDevice, batch *canasta.SyncBatch) *canasta.SyncResult {
	res, err := s.rights.Sync(s.ctx, d.id, batch)
	if err != nil {
		s.t.Fatalf("sync device %d: %v", d.id, err)
	}
	s.learn(d, batch.Receipts, res.Receipts)
	return res
}

func (s *sim) learn(d *simDevice, sent []*canasta.OfflineReceipt, results []canasta.ReceiptResult) {
	for i, r := range results {
		if r.Status == canasta.ReceiptRejected {
			s.t.Fatalf("device %d receipt %d rejected: %s", d.id, r.Seq, r.Error)
		}
		if r.Status == canasta.ReceiptPosted {
			m := map[grantKey]int64{}
			for _, it := range sent[i].Items {
				m[grantKey{sent[i].HouseholdID, it.ProgramID}] += it.Quantity
			}
			s.accepted[[2]int64{d.id, r.Seq}] = m
		}
	}
}

func (s *sim) sync(d *simDevice, reqs []canasta.RightRequest) {
	if !d.online || d.revoked {
		return
	}
	pending, err := d.store.Pending(s.ctx, 50)
	if err != nil {
		s.t.Fatal(err)
	}
	res := s.deliver(d, &canasta.SyncBatch{Receipts: pending, Requests: reqs})
	d.batches = append(d.batches, pending)
	if s.rng.IntN(5) == 0 {
		return // the response is lost: the device will send the same again
	}
	if err := d.store.ApplySync(s.ctx, res); err != nil {
		s.t.Fatal(err)
	}
}

// reorderSync sends the pending receipts shuffled and with duplicates.
func (s *sim) reorderSync(d *simDevice) {
	if !d.online || d.revoked {
		return
	}
	pending, err := d.store.Pending(s.ctx, 50)
	if err != nil {
		s.t.Fatal(err)
	}
	batch := append(slices.Clone(pending), pending...)
	s.rng.Shuffle(len(batch), func(i, j int) { batch[i], batch[j] = batch[j], batch[i] })
	res := s.deliver(d, &canasta.SyncBatch{Receipts: batch})
	if err := d.store.ApplySync(s.ctx, res); err != nil {
		s.t.Fatal(err)
	}
}

// replay sends an old batch again and checks that nothing changes.
func (s *sim) replay(d *simDevice) {
	if len(d.batches) == 0 || d.revoked {
		return
	}
	old := d.batches[s.rng.IntN(len(d.batches))]
	before := s.snapshot()
	res, err := s.rights.PostReceipts(s.ctx, d.id, old)
	if err != nil {
		s.t.Fatal(err)
	}
	for _, r := range res {
		if r.Status != canasta.ReceiptDuplicate && r.Status != canasta.ReceiptPosted {
			s.t.Fatalf("replayed receipt %d: %s %s", r.Seq, r.Status, r.Error)
		}
	}
	s.learn(d, old, res)
	for _, r := range res {
		if r.Status == canasta.ReceiptPosted {
			return // a receipt whose first answer was lost: not a pure replay
		}
	}
	if after := s.snapshot(); !reflect.DeepEqual(before, after) {
		s.t.Fatalf("O4: replaying a batch changed the ledger:\nbefore %v\nafter  %v", before, after)
	}
}

// uploadLost hands in the journals of lost devices, as an admin would
// after recovering one.
func (s *sim) uploadLost() {
	for _, d := range s.devices {
		if !d.revoked || d.uploaded {
			continue
		}
		journal, err := d.store.Journal(s.ctx)
		if err != nil {
			s.t.Fatal(err)
		}
		res, err := s.rights.PostReceipts(s.ctx, d.id, journal)
		if err != nil {
			s.t.Fatal(err)
		}
		s.learn(d, journal, res)
		d.uploaded = true
	}
}

// drain brings every device back online and syncs until nothing waits.
func (s *sim) drain() {
	s.uploadLost()
	for _, d := range s.devices {
		if d.revoked {
			continue
		}
		d.online = true
		for range 100 {
			pending, err := d.store.Pending(s.ctx, 50)
			if err != nil {
				s.t.Fatal(err)
			}
			if len(pending) == 0 {
				break
			}
			res := s.deliver(d, &canasta.SyncBatch{Receipts: pending})
			if err := d.store.ApplySync(s.ctx, res); err != nil {
				s.t.Fatal(err)
			}
		}
	}
}

type ledgerState struct {
	Balances []canasta.GrantBalance
	Losses   int
}

func (s *sim) snapshot() ledgerState {
	var st ledgerState
	seen := map[string]bool{}
	for _, g := range s.grants {
		if seen[g.household] {
			continue
		}
		seen[g.household] = true
		bs, err := s.rights.FindGrantBalances(s.ctx, g.household, simPeriod)
		if err != nil {
			s.t.Fatal(err)
		}
		for _, b := range bs {
			st.Balances = append(st.Balances, *b)
		}
	}
	for _, pid := range s.pointIDs() {
		ls, err := s.rights.FindLosses(s.ctx, pid)
		if err != nil {
			s.t.Fatal(err)
		}
		st.Losses += len(ls)
	}
	return st
}

func (s *sim) pointIDs() []int64 {
	var ids []int64
	for _, d := range s.devices {
		if !slices.Contains(ids, d.pointID) {
			ids = append(ids, d.pointID)
		}
	}
	return ids
}

// check verifies O1-O3 and O5 and the model's account.
func (s *sim) check() error {
	st := s.snapshot()
	// Server-side rights, by grant and by device.
	held := map[grantKey]int64{}
	rightsOf := map[int64]map[grantKey]int64{}
	quantity := map[int64]int64{} // by right id
	for _, d := range s.devices {
		rs, err := s.rights.FindRights(s.ctx, d.id)
		if err != nil {
			return err
		}
		rightsOf[d.id] = map[grantKey]int64{}
		for _, r := range rs {
			g := grantKey{r.HouseholdID, r.ProgramID}
			if r.Held < 0 || r.Spent < 0 || r.Released < 0 || r.Late < 0 || r.Spent+r.Late > r.Quantity {
				return fmt.Errorf("O2: right %+v spends beyond itself", *r)
			}
			if r.ReleasedAt == nil && d.revoked {
				return fmt.Errorf("revoked device %d still holds right %d", d.id, r.ID)
			}
			if r.ReleasedAt == nil {
				held[g] += r.Held
			} else if r.Held != 0 {
				return fmt.Errorf("released right %d still holds %d", r.ID, r.Held)
			}
			rightsOf[d.id][g] += r.Quantity
			quantity[r.ID] = r.Quantity
		}
		// O2 on the device: its journal never draws beyond a right.
		journal, err := d.store.Journal(s.ctx)
		if err != nil {
			return err
		}
		drawn := map[int64]int64{}
		for _, rc := range journal {
			if !rc.VerifySignature(d.key.Public().(ed25519.PublicKey)) {
				return fmt.Errorf("device %d journal entry %d has a bad signature", d.id, rc.Seq)
			}
			for _, it := range rc.Items {
				drawn[it.RightID] += it.Quantity
			}
		}
		for id, n := range drawn {
			if n > quantity[id] {
				return fmt.Errorf("O2: device %d drew %d on right %d of %d", d.id, n, id, quantity[id])
			}
		}
	}
	posted := map[grantKey]int64{}
	for _, m := range s.accepted {
		for g, q := range m {
			posted[g] += q
		}
	}
	for _, pid := range s.pointIDs() {
		ls, err := s.rights.FindLosses(s.ctx, pid)
		if err != nil {
			return err
		}
		for _, l := range ls {
			posted[grantKey{l.HouseholdID, l.ProgramID}] -= l.Quantity
		}
	}
	for _, b := range st.Balances {
		g := grantKey{b.HouseholdID, b.ProgramID}
		// O1 and O3.
		if b.Granted != b.Available+b.Held+b.Redeemed {
			return fmt.Errorf("O1: %+v: granted != available + held + redeemed", b)
		}
		if b.Available < 0 || b.Held < 0 || b.Redeemed < 0 || b.Redeemed > b.Granted {
			return fmt.Errorf("O3: %+v", b)
		}
		if b.Held != held[g] {
			return fmt.Errorf("grant %v holds %d, its rights %d", g, b.Held, held[g])
		}
		// The model: redeemed is exactly what was redeemed online plus
		// what posted receipts handed out, less what was recorded lost.
		if want := s.online[g] + posted[g]; b.Redeemed != want {
			return fmt.Errorf("grant %v redeemed %d, the model says %d (online %d, posted %d)", g, b.Redeemed, want, s.online[g], posted[g])
		}
		// O5: what the points handed out offline never exceeds the
		// rights they were given.
		var out, given int64
		for _, d := range s.devices {
			out += d.handedOut[g]
			given += rightsOf[d.id][g]
		}
		if out > given {
			return fmt.Errorf("O5: grant %v: points handed out %d against rights of %d", g, out, given)
		}
	}
	return nil
}

// checkDrained checks that once every journal is in, every live device's
// receipts were posted in full, and nothing is pending.
func (s *sim) checkDrained() error {
	for _, d := range s.devices {
		pending, err := d.store.Pending(s.ctx, 1000)
		if err != nil {
			return err
		}
		if !d.revoked && len(pending) != 0 {
			return fmt.Errorf("device %d still has %d receipts waiting", d.id, len(pending))
		}
		journal, err := d.store.Journal(s.ctx)
		if err != nil {
			return err
		}
		for _, rc := range journal {
			if _, ok := s.accepted[[2]int64{d.id, rc.Seq}]; !ok {
				return fmt.Errorf("device %d receipt %d never posted", d.id, rc.Seq)
			}
		}
	}
	return nil
}

// simStart is mid-March 2025, so the current period is simPeriod.
var simStart = time.Date(2025, 3, 15, 10, 0, 0, 0, time.UTC)

const simPeriod = canasta.Period("2025-03")

// newHousehold returns a valid household of size members tagged n.
func newHousehold(n, size int) *canasta.Household {
	h := &canasta.Household{SourceID: fmt.Sprintf("H%07d", n), MonthlyIncome: canasta.UnknownIncome,
		Address: canasta.Address{Line: "1 Main St", Locality: "Town", Region: "North", Postcode: "1000"}}
	for i := range size {
		h.Members = append(h.Members, &canasta.Person{SourceID: fmt.Sprintf("P%07d-%d", n, i),
			GivenName: fmt.Sprintf("Given%d", i), FamilyName: fmt.Sprintf("Family%d", n), Relationship: "member"})
	}
	return h
}
