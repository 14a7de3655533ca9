package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/canasta/canasta/synth"
)

func runSynth(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("synth", stderr)
	n := fs.Int("households", 5000, "number of households")
	seed := fs.Int64("seed", 1, "random seed; the same seed gives the same population")
	out := fs.String("out", "", "CSV file to write (default: standard output)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 1 {
		return fmt.Errorf("--households must be at least 1")
	}
	w := stdout
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	rows, err := synth.WriteCSV(bw, synth.Config{Households: *n, Seed: *seed})
	if err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if *out != "" {
		fmt.Fprintf(stderr, "Wrote %d households, %d persons to %s.\n", *n, rows, *out)
	}
	return nil
}
