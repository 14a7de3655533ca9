package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"strconv"
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
	screen := fs.String("screen", "auto", "screen the persons created for duplicates: auto (unless the registry is empty), always or never")
	candidates := fs.String("candidates", "", "CSV file of the duplicate candidates screening finds")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("usage: canasta import --data DIR | --db URL [--screen auto|always|never] [--candidates FILE] FILE.csv")
	}
	if *screen != "auto" && *screen != "always" && *screen != "never" {
		return fmt.Errorf("--screen must be auto, always or never, not %q", *screen)
	}
	if *screen == "never" && *candidates != "" {
		return fmt.Errorf("--candidates needs screening: drop --screen never")
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
	var screener canasta.DedupService
	switch *screen {
	case "always":
		screener = st.dedup
	case "auto":
		if n, err := st.households.CountHouseholds(ctx); err != nil {
			return err
		} else if n > 0 {
			screener = st.dedup
		} else {
			fmt.Fprintln(stderr, "The registry is empty: a first load is not screened person by person. "+
				"Search it whole with canasta dedup --out pairs.csv --open-cases, or import with --screen always.")
		}
	}
	var cw *candidateWriter
	if *candidates != "" && screener != nil {
		if cw, err = createCandidateWriter(*candidates); err != nil {
			return err
		}
		defer cw.close()
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
	total, screened, err := importAndScreen(ctx, st.households, screener, cw, res.Households, stderr)
	if err != nil {
		return err
	}
	if cw != nil {
		if err := cw.close(); err != nil {
			return err
		}
	}
	if screener != nil {
		fmt.Fprintf(stderr, "Screened %d new persons for duplicates: %d candidates, %d review cases opened.\n",
			screened.PersonsScreened, screened.DuplicateCandidates, screened.DedupCasesOpened)
	}
	fmt.Fprintf(stdout, "Read %d rows from %s in %s.\n", res.Rows, path, time.Since(start).Round(time.Millisecond))
	fmt.Fprintf(stdout, "Households created: %d\nPersons created: %d\nPersons already present: %d\nRows rejected: %d (see %s)\n",
		total.HouseholdsCreated, total.PersonsCreated, total.PersonsUnchanged, len(res.Rejects), rejectsPath)
	return nil
}

// screenBatch is how many households one screening transaction covers:
// it holds the store's write lock, so it stays short while a server runs.
const screenBatch = 250

// importHouseholds stores households in batches with a progress bar.
func importHouseholds(ctx context.Context, svc canasta.HouseholdService, hs []*canasta.Household, stderr io.Writer) (canasta.ImportResult, error) {
	total, _, err := importAndScreen(ctx, svc, nil, nil, hs, stderr)
	return total, err
}

// importAndScreen stores households in batches with a progress bar and,
// unless screener is nil, screens each batch for duplicates once it is
// committed, writing the candidates to cw if it is not nil.
func importAndScreen(ctx context.Context, svc canasta.HouseholdService, screener canasta.DedupService, cw *candidateWriter,
	hs []*canasta.Household, stderr io.Writer) (canasta.ImportResult, canasta.ImportScreening, error) {
	var (
		total    canasta.ImportResult
		screened canasta.ImportScreening
	)
	what := "importing households"
	if screener != nil {
		what = "importing and screening households"
	}
	bar := newCountBar(len(hs), what, stderr)
	for i := 0; i < len(hs); i += importBatch {
		batch := hs[i:min(i+importBatch, len(hs))]
		r, err := svc.ImportHouseholds(ctx, batch)
		if err != nil {
			return total, screened, fmt.Errorf("import households %d-%d: %w", i+1, i+len(batch), err)
		}
		total.HouseholdsCreated += r.HouseholdsCreated
		total.PersonsCreated += r.PersonsCreated
		total.PersonsUnchanged += r.PersonsUnchanged
		if screener == nil {
			bar.Add(len(batch))
			continue
		}
		for j := 0; j < len(batch); j += screenBatch {
			part := batch[j:min(j+screenBatch, len(batch))]
			if len(canasta.CreatedMembers(part)) == 0 {
				bar.Add(len(part)) // a re-import: nothing new to screen
				continue
			}
			s, err := screener.ScreenImported(ctx, part)
			if err != nil {
				return total, screened, fmt.Errorf("screen households %d-%d: %w", i+j+1, i+j+len(part), err)
			}
			if cw != nil {
				if err := cw.write(part, s.Candidates); err != nil {
					return total, screened, err
				}
			}
			s.Candidates = nil
			screened.Add(s)
			bar.Add(len(part))
		}
	}
	bar.Finish()
	return total, screened, nil
}

// candidateWriter writes the duplicate candidates of an import as CSV:
// the new person's source id, the candidate's (or their person id if
// they have none) and the score.
type candidateWriter struct {
	path string
	f    *os.File
	w    *csv.Writer
}

func createCandidateWriter(path string) (*candidateWriter, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	cw := &candidateWriter{path: path, f: f, w: csv.NewWriter(f)}
	if err := cw.w.Write([]string{"new_source_id", "candidate_source_id", "score"}); err != nil {
		f.Close()
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return cw, nil
}

func (cw *candidateWriter) write(hs []*canasta.Household, cs []*canasta.DuplicateCandidate) error {
	if len(cs) == 0 {
		return nil
	}
	source := map[string]string{}
	for _, h := range hs {
		for _, m := range h.Members {
			if m.ID != "" {
				source[m.ID] = m.SourceID
			}
		}
	}
	for _, c := range cs {
		candidate := c.SourceID
		if candidate == "" {
			candidate = c.PersonID
		}
		if err := cw.w.Write([]string{source[c.ForPersonID], candidate, strconv.FormatFloat(c.Score, 'f', 6, 64)}); err != nil {
			return fmt.Errorf("write %s: %w", cw.path, err)
		}
	}
	return nil
}

// close flushes and closes the file once; later calls do nothing.
func (cw *candidateWriter) close() error {
	if cw.f == nil {
		return nil
	}
	f := cw.f
	cw.f = nil
	cw.w.Flush()
	if err := cw.w.Error(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", cw.path, err)
	}
	return f.Close()
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
