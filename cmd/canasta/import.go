package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/canasta/canasta"
	"github.com/canasta/canasta/ingest"
	"github.com/schollz/progressbar/v3"
)

// importBatch is how many households go into one store transaction: large
// enough to amortise the commit, small enough to show progress.
const importBatch = 5000

func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("import", stderr)
	var sf storeFlags
	sf.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("usage: canasta import --data DIR | --db URL FILE.csv")
	}
	path := fs.Arg(0)
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	st, err := sf.open()
	if err != nil {
		return err
	}
	defer st.close()

	start := time.Now()
	attrs, err := st.attributes.FindAttributes(ctx)
	if err != nil {
		return err
	}
	bar := progressbar.DefaultBytes(info.Size(), "reading "+path)
	bar.Reset()
	reader := progressbar.NewReader(f, bar)
	res, err := ingest.ReadCSV(&reader, canasta.NewSchema(attrs))
	bar.Finish()
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	rejectsPath := ingest.RejectsPath(path)
	if err := writeRejects(rejectsPath, res.Rejects); err != nil {
		return err
	}
	total, err := importHouseholds(ctx, st.households, res.Households, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Read %d rows from %s in %s.\n", res.Rows, path, time.Since(start).Round(time.Millisecond))
	fmt.Fprintf(stdout, "Households created: %d\nPersons created: %d\nPersons already present: %d\nRows rejected: %d (see %s)\n",
		total.HouseholdsCreated, total.PersonsCreated, total.PersonsUnchanged, len(res.Rejects), rejectsPath)
	return nil
}

// importHouseholds stores households in batches with a progress bar.
func importHouseholds(ctx context.Context, svc canasta.HouseholdService, hs []*canasta.Household, stderr io.Writer) (canasta.ImportResult, error) {
	var total canasta.ImportResult
	bar := newCountBar(len(hs), "importing households", stderr)
	for i := 0; i < len(hs); i += importBatch {
		batch := hs[i:min(i+importBatch, len(hs))]
		r, err := svc.ImportHouseholds(ctx, batch)
		if err != nil {
			return total, fmt.Errorf("import households %d-%d: %w", i+1, i+len(batch), err)
		}
		total.HouseholdsCreated += r.HouseholdsCreated
		total.PersonsCreated += r.PersonsCreated
		total.PersonsUnchanged += r.PersonsUnchanged
		bar.Add(len(batch))
	}
	bar.Finish()
	return total, nil
}

func writeRejects(path string, rejects []ingest.Reject) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := ingest.WriteRejects(f, rejects); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}
