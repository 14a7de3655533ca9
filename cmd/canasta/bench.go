package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/canasta/canasta"
	"github.com/canasta/canasta/ledger"
)

const benchUsage = "usage: canasta bench redeem [--data DIR | --db URL] [--households N] [--clients C] [--duration D] [--http] [--batch N] [--serial] [--committers N] [--hot] [--hot-point] [--direct] [--ceiling] [--rate R] [--random-ids]"

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "redeem" {
		return errors.New(benchUsage)
	}
	return runBenchRedeem(ctx, args[1:], stdout, stderr)
}

// benchConfig is what one bench run measures.
type benchConfig struct {
	households, points, clients, batch int
	committers                         int
	duration, warmup, linger           time.Duration
	rate                               float64
	http, hot, hotPoint, direct        bool
	ceiling, serial, randomIDs         bool
}

// runBenchRedeem sets up its own households, grants and points, drives
// redemptions through the real path for a while, and prints throughput
// and latency. Its last line is machine-readable:
//
//	redemptions/s=<int> p50_ms=<float> p99_ms=<float> errors=<int>
func runBenchRedeem(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench redeem", stderr)
	var sf storeFlags
	sf.register(fs)
	var cfg benchConfig
	fs.IntVar(&cfg.households, "households", 10000, "households to set up and spread the load over")
	fs.IntVar(&cfg.points, "points", 16, "points to redeem at")
	fs.IntVar(&cfg.clients, "clients", 64, "concurrent clients, each with one request in flight")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "how long to measure")
	fs.DurationVar(&cfg.warmup, "warmup", time.Second, "load before measuring, not counted")
	fs.BoolVar(&cfg.http, "http", false, "redeem through the HTTP API on loopback, as a point would")
	fs.IntVar(&cfg.batch, "batch", ledger.DefaultMaxBatch, "most redemptions the engine commits together (1: one commit each)")
	fs.BoolVar(&cfg.serial, "serial", false, "make each batch durable before applying the next (group commit alone, without pipelining)")
	fs.DurationVar(&cfg.linger, "linger", 0, "how long the engine waits for a fuller batch")
	fs.IntVar(&cfg.committers, "committers", 1, "batches the engine commits at once (more can help PostgreSQL when round trips, not CPU, bound it)")
	fs.BoolVar(&cfg.randomIDs, "random-ids", false, "send random request ids instead of time-ordered ones (canasta.NewRequestID)")
	fs.BoolVar(&cfg.hot, "hot", false, "put all load on one household")
	fs.BoolVar(&cfg.hotPoint, "hot-point", false, "put all load on one point")
	fs.BoolVar(&cfg.direct, "direct", false, "bypass the engine: the store's one-transaction-per-request path")
	fs.BoolVar(&cfg.ceiling, "ceiling", false, "measure an HTTP server that only decodes the request and answers, with no store (implies --http)")
	fs.Float64Var(&cfg.rate, "rate", 0, "target redemptions per second over all clients; 0 sends as fast as answers come")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the measured run to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 || cfg.households < 1 || cfg.points < 1 || cfg.clients < 1 || cfg.batch < 1 || cfg.duration <= 0 {
		return errors.New(benchUsage)
	}
	if cfg.ceiling {
		cfg.http = true
		res, err := benchCeiling(ctx, cfg, *cpuProfile)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "path: HTTP server that only decodes the request and answers (no store)\n")
		res.print(stdout, cfg)
		return nil
	}

	storeName, cleanup, err := benchStoreFlags(fs)
	if err != nil {
		return err
	}
	defer cleanup()
	st, err := sf.open()
	if err != nil {
		return err
	}
	defer st.close()

	if !cfg.direct && st.redemptionStore == nil {
		return fmt.Errorf("this store cannot commit redemptions in batches yet; use --direct")
	}
	setupStart := time.Now()
	w, err := setupBench(ctx, st, cfg)
	if err != nil {
		return fmt.Errorf("set up bench: %w", err)
	}
	fmt.Fprintf(stdout, "store: %s\n", storeName)
	fmt.Fprintf(stdout, "setup: %d households, %d points in %s\n", len(w.households), len(w.points), time.Since(setupStart).Round(time.Millisecond))

	var svc canasta.RedemptionService
	var engine *ledger.Engine
	if cfg.direct {
		svc = st.redemptions
		if rs, ok := st.redemptionStore.(canasta.RedemptionService); ok {
			svc = rs // the store's path, not the engine that serves it
		}
		fmt.Fprintf(stdout, "path: the store's own path, one transaction and commit per redemption")
	} else {
		engine = ledger.NewEngine(st.redemptionStore, ledger.Config{MaxBatch: cfg.batch, Linger: cfg.linger, Committers: cfg.committers, Serial: cfg.serial})
		defer engine.Close()
		svc = engine
		fmt.Fprintf(stdout, "path: group-commit engine, at most %d redemptions per commit, %d committing at once", cfg.batch, max(cfg.committers, 1))
		if _, ok := st.redemptionStore.(ledger.PipelinedStore); ok && !cfg.serial {
			fmt.Fprintf(stdout, ", the next batch applied while the last is flushed")
		}
	}

	redeem := func(ctx context.Context, req *canasta.RedemptionRequest) error {
		_, _, err := svc.Redeem(ctx, req)
		return err
	}
	if cfg.http {
		fmt.Fprintf(stdout, ", through the HTTP API\n")
		srv := newServer(st, "127.0.0.1:0", io.Discard)
		srv.RedemptionService = svc
		if err := srv.Open(); err != nil {
			return err
		}
		defer srv.Close()
		_, secret, err := st.tokens.CreateToken(ctx, canasta.RoleOperator, "bench")
		if err != nil {
			return err
		}
		redeem = newHTTPRedeemer(srv.URL(), secret, cfg.clients).redeem
	} else {
		fmt.Fprintf(stdout, ", in process\n")
	}

	stopProfile, err := startCPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	res := drive(ctx, cfg, w, redeem)
	stopProfile()
	if engine != nil {
		s := engine.Stats()
		if s.Batches > 0 {
			fmt.Fprintf(stdout, "engine: %d batches, %.1f redemptions per batch on average, %d failed\n",
				s.Batches, float64(s.Committed)/float64(s.Batches), s.Failed)
		}
	}
	res.print(stdout, cfg)
	return nil
}

// startCPUProfile starts profiling into path, if one is given, and
// returns what stops it.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// benchStoreFlags points the flags at a temporary SQLite data directory
// when no store is given, and describes the store.
func benchStoreFlags(fs *flag.FlagSet) (name string, cleanup func(), err error) {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == "data" || f.Name == "db" })
	if given || os.Getenv(envData) != "" || os.Getenv(envDB) != "" {
		data, db := fs.Lookup("data").Value.String(), fs.Lookup("db").Value.String()
		if !given {
			data, db = os.Getenv(envData), os.Getenv(envDB)
		}
		if db != "" {
			return "PostgreSQL", func() {}, nil
		}
		return "SQLite in " + data + " (WAL, every commit fsynced before it is answered)", func() {}, nil
	}
	dir, err := os.MkdirTemp("", "canasta-bench-")
	if err != nil {
		return "", nil, err
	}
	if err := fs.Set("data", dir); err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	return "SQLite in temporary " + dir + " (WAL, every commit fsynced before it is answered)", func() { os.RemoveAll(dir) }, nil
}

// benchWorld is what the bench set up: households with a grant far larger
// than any run redeems, and points.
type benchWorld struct {
	households []string
	points     []int64
	program    int64
}

const (
	benchRegion  = "Bench"
	benchProgram = "Bench grant"
)

// setupBench creates the bench's program and points unless a previous run
// on the same store did, registers fresh households and grants them the
// current period. The program's rule names the bench's region, so other
// households in a reused store get nothing from it.
func setupBench(ctx context.Context, st *store, cfg benchConfig) (*benchWorld, error) {
	w := &benchWorld{}
	programs, err := st.programs.FindPrograms(ctx)
	if err != nil {
		return nil, err
	}
	for _, p := range programs {
		if p.Name == benchProgram {
			w.program = p.ID
		}
	}
	if w.program == 0 {
		p := &canasta.Program{Name: benchProgram, Commodity: canasta.Commodity{Code: "rice", Unit: canasta.UnitGram},
			Eligibility: fmt.Sprintf("household.region == %q", benchRegion), Quantity: "1000000000000", Period: canasta.PeriodMonthly}
		if err := st.programs.CreateProgram(ctx, p); err != nil {
			return nil, err
		}
		w.program = p.ID
	}

	points, err := st.points.FindPoints(ctx)
	if err != nil {
		return nil, err
	}
	have := map[string]int64{}
	for _, p := range points {
		have[p.Name] = p.ID
	}
	for i := range cfg.points {
		name := fmt.Sprintf("Bench point %d", i+1)
		if id, ok := have[name]; ok {
			w.points = append(w.points, id)
			continue
		}
		p := &canasta.Point{Name: name, Kind: canasta.PointShop, Region: benchRegion}
		if err := st.points.CreatePoint(ctx, p); err != nil {
			return nil, err
		}
		w.points = append(w.points, p.ID)
	}

	run := rand.Text()[:8]
	for first := 0; first < cfg.households; first += importBatch {
		var hs []*canasta.Household
		for i := first; i < min(first+importBatch, cfg.households); i++ {
			src := fmt.Sprintf("bench-%s-%d", run, i)
			hs = append(hs, &canasta.Household{SourceID: src, Address: canasta.Address{Region: benchRegion},
				MonthlyIncome: canasta.UnknownIncome,
				Members:       []*canasta.Person{{SourceID: src + "-1", GivenName: "Bench", Relationship: canasta.RelationshipHead}}})
		}
		if _, err := st.households.ImportHouseholds(ctx, hs); err != nil {
			return nil, err
		}
		for _, h := range hs {
			w.households = append(w.households, h.ID)
		}
	}
	if _, err := st.cycles.RunCycle(ctx, canasta.PeriodOf(time.Now()), nil); err != nil {
		return nil, err
	}
	return w, nil
}

// benchResult is what clients measured inside the measuring window.
type benchResult struct {
	ok, errors int64
	latencies  []time.Duration
	window     time.Duration
	firstErrs  []string
	// cpu is the CPU time this process used in the window, when the
	// system reports it. The load generator, server and store share the
	// same cores, so per redemption it is the budget a variant spends.
	cpu time.Duration
}

func (r *benchResult) percentile(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[min(len(r.latencies)-1, int(p*float64(len(r.latencies))))]
}

func (r *benchResult) print(w io.Writer, cfg benchConfig) {
	load := "spread over households and points"
	switch {
	case cfg.hot && cfg.hotPoint:
		load = "all on one household at one point"
	case cfg.hot:
		load = "all on one household"
	case cfg.hotPoint:
		load = "all at one point"
	}
	rate := "as fast as answers come"
	if cfg.rate > 0 {
		rate = fmt.Sprintf("paced at %.0f/s", cfg.rate)
	}
	fmt.Fprintf(w, "load: %d clients, %s, %s; %s measured after %s warm-up\n", cfg.clients, load, rate, cfg.duration, cfg.warmup)
	for _, e := range r.firstErrs {
		fmt.Fprintf(w, "error: %s\n", e)
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	fmt.Fprintf(w, "latency ms: p50=%.2f p90=%.2f p99=%.2f p99.9=%.2f max=%.2f\n",
		ms(r.percentile(0.50)), ms(r.percentile(0.90)), ms(r.percentile(0.99)), ms(r.percentile(0.999)), ms(r.percentile(1)))
	if r.cpu > 0 && r.ok > 0 {
		fmt.Fprintf(w, "cpu: %.1f µs per redemption in this process (load generator included), %.2f of %d cores busy\n",
			float64(r.cpu.Nanoseconds())/float64(r.ok)/1e3, r.cpu.Seconds()/r.window.Seconds(), runtime.NumCPU())
	}
	perSec := int64(float64(r.ok) / r.window.Seconds())
	fmt.Fprintf(w, "redemptions/s=%d p50_ms=%.2f p99_ms=%.2f errors=%d\n", perSec, ms(r.percentile(0.50)), ms(r.percentile(0.99)), r.errors)
}

// drive runs the clients and collects what they measured. With a rate,
// each client sends on a fixed schedule and latency counts from when a
// request was due, so a server that falls behind is charged for the wait.
func drive(ctx context.Context, cfg benchConfig, w *benchWorld, redeem func(context.Context, *canasta.RedemptionRequest) error) *benchResult {
	var (
		mu    sync.Mutex
		total = &benchResult{window: cfg.duration}
		wg    sync.WaitGroup
		run   = rand.Text()[:8]
		start = time.Now()
		from  = start.Add(cfg.warmup)
		until = from.Add(cfg.duration)
	)
	var interval time.Duration
	if cfg.rate > 0 {
		interval = time.Duration(float64(cfg.clients) / cfg.rate * float64(time.Second))
	}
	wg.Go(func() { total.cpu = cpuBetween(ctx, from, until) })
	for c := range cfg.clients {
		wg.Go(func() {
			rng := mrand.New(mrand.NewPCG(uint64(c), uint64(start.UnixNano())))
			var res benchResult
			due := start.Add(time.Duration(rng.Int64N(int64(max(interval, 1)))))
			for n := 0; ctx.Err() == nil; n++ {
				sent := time.Now()
				if interval > 0 {
					if d := time.Until(due); d > 0 {
						time.Sleep(d)
					}
					sent = due
					due = due.Add(interval)
				}
				if sent.After(until) {
					break
				}
				var requestID string
				if cfg.randomIDs {
					requestID = fmt.Sprintf("bench-%s-%d-%d", run, c, n)
				} else {
					requestID = canasta.NewRequestID(sent)
				}
				req := &canasta.RedemptionRequest{
					RequestID:   requestID,
					PointID:     w.points[rng.IntN(len(w.points))],
					HouseholdID: w.households[rng.IntN(len(w.households))],
					Items:       []canasta.RedemptionItem{{ProgramID: w.program, Quantity: 1}},
				}
				if cfg.hot {
					req.HouseholdID = w.households[0]
				}
				if cfg.hotPoint {
					req.PointID = w.points[0]
				}
				err := redeem(ctx, req)
				done := time.Now()
				if sent.Before(from) || done.After(until) {
					continue
				}
				if err != nil {
					res.errors++
					if len(res.firstErrs) < 3 {
						res.firstErrs = append(res.firstErrs, err.Error())
					}
					continue
				}
				res.ok++
				res.latencies = append(res.latencies, done.Sub(sent))
			}
			mu.Lock()
			total.ok += res.ok
			total.errors += res.errors
			total.latencies = append(total.latencies, res.latencies...)
			if len(total.firstErrs) < 3 {
				total.firstErrs = append(total.firstErrs, res.firstErrs...)
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.Sort(total.latencies)
	return total
}

// cpuBetween returns the CPU time the process used from one moment to
// another, or 0 if the system does not report it or ctx ends first.
func cpuBetween(ctx context.Context, from, until time.Time) time.Duration {
	sleepUntil := func(t time.Time) bool {
		timer := time.NewTimer(time.Until(t))
		defer timer.Stop()
		select {
		case <-timer.C:
			return true
		case <-ctx.Done():
			return false
		}
	}
	if !sleepUntil(from) {
		return 0
	}
	begin, ok := processCPU()
	if !ok || !sleepUntil(until) {
		return 0
	}
	end, _ := processCPU()
	return end - begin
}

// httpRedeemer posts redemptions to the API as a point would.
type httpRedeemer struct {
	url, auth string
	client    *http.Client
	bufs      sync.Pool
}

func newHTTPRedeemer(baseURL, secret string, clients int) *httpRedeemer {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        clients,
		MaxIdleConnsPerHost: clients,
		DisableCompression:  true,
	}
	return &httpRedeemer{url: baseURL + "/api/v1/redemptions", auth: "Bearer " + secret,
		client: &http.Client{Transport: tr, Timeout: 30 * time.Second},
		bufs:   sync.Pool{New: func() any { return new(bytes.Buffer) }}}
}

// benchRequestBody is the API's redemption request.
type benchRequestBody struct {
	RequestID   string          `json:"request_id"`
	PointID     int64           `json:"point_id"`
	HouseholdID string          `json:"household_id"`
	Items       []benchItemBody `json:"items"`
}

type benchItemBody struct {
	ProgramID int64 `json:"program_id"`
	Quantity  int64 `json:"quantity"`
}

func (h *httpRedeemer) redeem(ctx context.Context, r *canasta.RedemptionRequest) error {
	body := benchRequestBody{RequestID: r.RequestID, PointID: r.PointID, HouseholdID: r.HouseholdID}
	for _, it := range r.Items {
		body.Items = append(body.Items, benchItemBody{ProgramID: it.ProgramID, Quantity: it.Quantity})
	}
	buf := h.bufs.Get().(*bytes.Buffer)
	defer h.bufs.Put(buf)
	buf.Reset()
	if err := json.NewEncoder(buf).Encode(body); err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(buf.Bytes()))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", h.auth)
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusCreated || resp.StatusCode == http.StatusOK {
		_, err := io.Copy(io.Discard, resp.Body)
		return err
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return fmt.Errorf("status %d: %s", resp.StatusCode, strings.TrimSpace(string(msg)))
}

// benchCeiling measures the most an HTTP server on this machine can do for
// this request, with the same load generator: it decodes the body as the
// API does and answers with a receipt, touching no store.
func benchCeiling(ctx context.Context, cfg benchConfig, cpuProfile string) (*benchResult, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/redemptions", func(w http.ResponseWriter, r *http.Request) {
		var body benchRequestBody
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
		dec.DisallowUnknownFields()
		dec.UseNumber()
		if err := dec.Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		receipt := canasta.Redemption{ID: 1, RequestID: body.RequestID, HouseholdID: body.HouseholdID, PointID: body.PointID,
			Period: canasta.PeriodOf(time.Now()), CreatedAt: time.Now().UTC()}
		for _, it := range body.Items {
			receipt.Items = append(receipt.Items, canasta.RedemptionItem{ProgramID: it.ProgramID, Quantity: it.Quantity})
		}
		b, err := json.Marshal(receipt)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		w.Write(b)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(slog.DiscardHandler, slog.LevelError)}
	go srv.Serve(ln)
	defer srv.Close()

	// Ids of the real form, so requests and receipts have the real size.
	w := &benchWorld{points: []int64{1}, program: 1}
	for range min(cfg.households, 1000) {
		w.households = append(w.households, canasta.NewID(canasta.HouseholdIDPrefix))
	}
	r := newHTTPRedeemer("http://"+ln.Addr().String(), "none", cfg.clients)
	stopProfile, err := startCPUProfile(cpuProfile)
	if err != nil {
		return nil, err
	}
	defer stopProfile()
	return drive(ctx, cfg, w, r.redeem), nil
}
