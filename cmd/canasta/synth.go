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
	dupes := fs.Float64("duplicates", 0, "share of persons registered twice with realistic differences, such as 0.05")
	truth := fs.String("truth", "", "CSV file of the duplicate pairs to write (with --duplicates)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 1 {
		return fmt.Errorf("--households must be at least 1")
	}
	if *dupes < 0 || *dupes > 0.5 || (*dupes > 0) != (*truth != "") {
		return fmt.Errorf("--duplicates (between 0 and 0.5) and --truth FILE go together")
	}
	var err error
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
	var rows int
	if *dupes > 0 {
		if rows, err = writeDuplicates(bw, *truth, synth.Config{Households: *n, Seed: *seed}, *dupes, stderr); err != nil {
			return err
		}
	} else if rows, err = synth.WriteCSV(bw, synth.Config{Households: *n, Seed: *seed}); err != nil {
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

// writeDuplicates writes the population with duplicates to w and the
// truth pairs to truthPath.
func writeDuplicates(w io.Writer, truthPath string, cfg synth.Config, rate float64, stderr io.Writer) (int, error) {
	tf, err := os.Create(truthPath)
	if err != nil {
		return 0, err
	}
	defer tf.Close()
	tw := bufio.NewWriterSize(tf, 1<<20)
	st, err := synth.WriteDuplicatesCSV(w, tw, cfg, rate)
	if err != nil {
		return 0, err
	}
	if err := tw.Flush(); err != nil {
		return 0, err
	}
	fmt.Fprintf(stderr, "Wrote %d duplicate pairs to %s.\n", st.Duplicates, truthPath)
	return st.Persons, tf.Close()
}
