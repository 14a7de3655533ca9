package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/canasta/canasta"
)

func runCycle(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "run" {
		return fmt.Errorf("usage: canasta cycle run --data DIR | --db URL [--period YYYY-MM]")
	}
	fs := newFlagSet("cycle run", stderr)
	var sf storeFlags
	sf.register(fs)
	period := fs.String("period", string(canasta.PeriodOf(time.Now())), "period to compute, YYYY-MM")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	p, err := canasta.ParsePeriod(*period)
	if err != nil {
		return err
	}
	st, err := sf.open()
	if err != nil {
		return err
	}
	defer st.close()
	sum, err := computeCycle(ctx, st, p, stderr)
	if err != nil {
		return err
	}
	printCycle(stdout, sum)
	return nil
}

// computeCycle runs a cycle with a progress bar.
func computeCycle(ctx context.Context, st *store, p canasta.Period, stderr io.Writer) (*canasta.CycleSummary, error) {
	n, err := st.households.CountHouseholds(ctx)
	if err != nil {
		return nil, err
	}
	bar := newCountBar(n, "cycle "+string(p), stderr)
	sum, err := st.cycles.RunCycle(ctx, p, func(done, total int) {
		bar.ChangeMax(total)
		bar.Set(done)
	})
	bar.Finish()
	return sum, err
}

func printCycle(w io.Writer, s *canasta.CycleSummary) {
	fmt.Fprintf(w, "Cycle %s: %d households, %d entitlements (%d new), %d rule errors, in %s.\n",
		s.Period, s.Households, s.Entitlements, s.Created, s.Errors, s.FinishedAt.Sub(s.StartedAt).Round(time.Millisecond))
	for _, t := range s.Totals {
		fmt.Fprintf(w, "  %-12s %d %s\n", t.Commodity, t.Granted, t.Unit)
	}
}
