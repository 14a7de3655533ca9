package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/canasta/canasta"
	"github.com/canasta/canasta/dedup"
	"github.com/schollz/progressbar/v3"
)

func runDedup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("dedup", stderr)
	var sf storeFlags
	sf.register(fs)
	out := fs.String("out", "", "CSV file of candidate pairs to write (required)")
	threshold := fs.Float64("threshold", 0.5, "least match probability of a written pair, 0 to 1")
	clusters := fs.String("clusters", "", "CSV file of the transitive clusters to write")
	truth := fs.String("truth", "", "CSV file of the true pairs of source ids; prints precision, recall and F1")
	workers := fs.Int("workers", 0, "comparison workers (default: one per CPU)")
	openCases := fs.Bool("open-cases", false, "open a review case for every written pair scoring at least 0.5 (or --threshold if higher)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() != 0 {
		return fmt.Errorf("usage: canasta dedup --data DIR | --db URL --out pairs.csv [--threshold P] [--clusters FILE] [--truth FILE] [--open-cases]")
	}
	if *threshold <= 0 || *threshold > 1 {
		return fmt.Errorf("--threshold must be above 0 and at most 1")
	}
	var want *dedup.Truth
	if *truth != "" {
		f, err := os.Open(*truth)
		if err != nil {
			return err
		}
		want, err = dedup.ReadTruth(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", *truth, err)
		}
	}
	st, err := sf.open()
	if err != nil {
		return err
	}
	defer st.close()

	// The search holds every person in memory and allocates little after
	// reading them: collecting garbage rarely, up to a memory limit well
	// under 4 GiB, spares it rescanning a large live heap again and again.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(3 << 30))

	start := time.Now()
	recs, err := readPersonRecords(ctx, st.persons, stderr)
	if err != nil {
		return err
	}
	read := time.Since(start)
	bars := map[string]*progressbar.ProgressBar{}
	res, err := dedup.Link(ctx, recs, dedup.Options{Threshold: *threshold, Workers: *workers,
		Progress: func(stage string, done, total int64) {
			bar := bars[stage]
			if bar == nil {
				bar = newCountBar(int(total), stage, stderr)
				bars[stage] = bar
			}
			bar.Set64(done)
		}})
	if err != nil {
		return err
	}
	for _, bar := range bars {
		bar.Finish()
	}
	if err := writePairs(*out, recs, res.Pairs); err != nil {
		return err
	}
	groups := 0
	if *clusters != "" {
		if groups, err = writeClusters(*clusters, recs, res.Pairs); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "Persons: %d (read in %s)\n", len(recs), read.Round(time.Millisecond))
	fmt.Fprintf(stdout, "Pairs compared: %d of %.0f possible (reduction ratio %.6f)\n", res.Compared, res.Possible, res.ReductionRatio())
	fmt.Fprintf(stdout, "Pairs at or above %g: %d written to %s\n", *threshold, len(res.Pairs), *out)
	if *clusters != "" {
		fmt.Fprintf(stdout, "Clusters: %d written to %s\n", groups, *clusters)
	}
	if *openCases {
		least := max(*threshold, canasta.ReviewThreshold)
		opened, err := openDedupCases(ctx, st.dedup, recs, res.Pairs, least, stderr)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Review cases opened: %d (pairs at or above %g)\n", opened, least)
	}
	stages := ""
	for _, s := range res.Stages {
		stages += fmt.Sprintf(" %s %s", s.Name, s.Time.Round(time.Millisecond))
	}
	fmt.Fprintf(stdout, "Stages:%s\n", stages)
	fmt.Fprintf(stdout, "Time: %s\n", time.Since(start).Round(time.Millisecond))
	if want == nil {
		return nil
	}
	found := make([][2]string, len(res.Pairs))
	for i, p := range res.Pairs {
		found[i] = [2]string{recordName(&recs[p.A]), recordName(&recs[p.B])}
	}
	acc := want.Evaluate(found)
	for _, n := range acc.ByNoise {
		fmt.Fprintf(stdout, "recall %-18s %.4f (%d of %d)\n", n.Noise, n.Recall, n.Found, n.True)
	}
	fmt.Fprintf(stdout, "precision=%.4f recall=%.4f f1=%.4f pairs=%d\n", acc.Precision, acc.Recall, acc.F1, len(res.Pairs))
	return nil
}

// casesPerCall is how many pairs one call opens cases for, in one
// transaction that holds the store's write lock.
const casesPerCall = 500

// openDedupCases opens a review case for every pair scoring at least
// least, and returns how many it newly opened.
func openDedupCases(ctx context.Context, svc canasta.DedupService, recs []dedup.Record, pairs []dedup.Pair, least float64,
	stderr io.Writer) (int, error) {
	var likely []canasta.DuplicatePair
	for _, p := range pairs {
		if p.Score >= least {
			likely = append(likely, canasta.DuplicatePair{A: recordName(&recs[p.A]), B: recordName(&recs[p.B]), Score: p.Score})
		}
	}
	bar := newCountBar(len(likely), "opening review cases", stderr)
	opened := 0
	for i := 0; i < len(likely); i += casesPerCall {
		part := likely[i:min(i+casesPerCall, len(likely))]
		n, err := svc.OpenDedupCases(ctx, part)
		if err != nil {
			return opened, fmt.Errorf("open review cases: %w", err)
		}
		opened += n
		bar.Add(len(part))
	}
	bar.Finish()
	return opened, nil
}

// readPersonRecords reads and prepares every person, numbering
// households as they come: a household's members come together. Records
// are prepared in another goroutine, in batches, while the store reads on.
func readPersonRecords(ctx context.Context, svc canasta.PersonRecordService, stderr io.Writer) ([]dedup.Record, error) {
	n, err := svc.CountPersonRecords(ctx)
	if err != nil {
		return nil, err
	}
	bar := newCountBar(n, "reading persons", stderr)
	type batch struct {
		persons    []*canasta.PersonRecord
		households []int32
	}
	const batchSize = 4096
	batches := make(chan batch, 8)
	recs := make([]dedup.Record, 0, n)
	prepared := make(chan struct{})
	go func() {
		defer close(prepared)
		for b := range batches {
			for i, p := range b.persons {
				recs = append(recs, dedup.NewRecord(p, b.households[i]))
			}
			bar.Set(len(recs))
		}
	}()
	household, last := int32(-1), ""
	var cur batch
	err = svc.EachPersonRecord(ctx, func(p *canasta.PersonRecord) error {
		if p.HouseholdID != last {
			household, last = household+1, p.HouseholdID
		}
		cur.persons = append(cur.persons, p)
		cur.households = append(cur.households, household)
		if len(cur.persons) == batchSize {
			batches <- cur
			cur = batch{}
		}
		return nil
	})
	if len(cur.persons) > 0 {
		batches <- cur
	}
	close(batches)
	<-prepared
	bar.Finish()
	if err != nil {
		return nil, fmt.Errorf("read persons: %w", err)
	}
	return recs, nil
}

// recordName is the person's source id, or their id if they have none.
func recordName(r *dedup.Record) string {
	if r.SourceID != "" {
		return r.SourceID
	}
	return r.PersonID
}

func writePairs(path string, recs []dedup.Record, pairs []dedup.Pair) error {
	return writeCSVFile(path, []string{"a_source_id", "b_source_id", "score"}, func(w *csv.Writer) error {
		for _, p := range pairs {
			if err := w.Write([]string{recordName(&recs[p.A]), recordName(&recs[p.B]), strconv.FormatFloat(p.Score, 'f', 6, 64)}); err != nil {
				return err
			}
		}
		return nil
	})
}

// writeClusters writes one row per member of each transitive cluster,
// numbered from 1, and returns how many clusters there are.
func writeClusters(path string, recs []dedup.Record, pairs []dedup.Pair) (int, error) {
	groups := dedup.Clusters(len(recs), pairs)
	return len(groups), writeCSVFile(path, []string{"cluster", "source_id"}, func(w *csv.Writer) error {
		for i, g := range groups {
			id := strconv.Itoa(i + 1)
			for _, r := range g {
				if err := w.Write([]string{id, recordName(&recs[r])}); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

func writeCSVFile(path string, header []string, rows func(*csv.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	w := csv.NewWriter(bw)
	if err := w.Write(header); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := rows(w); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}
