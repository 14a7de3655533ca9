package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// runCmdStderr runs the command line in-process and returns its standard
// output and standard error.
func runCmdStderr(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

// splitRegistry writes the registry CSV at path as two files, cut at a
// household boundary about half way: the synthetic duplicates come last,
// so the second file holds duplicates of persons in the first and in
// itself.
func splitRegistry(t *testing.T, path, first, second string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(strings.TrimSuffix(string(b), "\n"), "\n")
	household := func(line string) string { return strings.Split(line, ",")[1] }
	cut := len(lines) / 2
	for household(lines[cut]) == household(lines[cut-1]) {
		cut++
	}
	for _, f := range []struct {
		path string
		rows []string
	}{{first, lines[1:cut]}, {second, lines[cut:]}} {
		if err := os.WriteFile(f.path, []byte(lines[0]+strings.Join(f.rows, "")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

var screenedLine = regexp.MustCompile(`Screened (\d+) new persons for duplicates: (\d+) candidates, (\d+) review cases opened\.`)

func TestImportScreening(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	reg, truth := filepath.Join(dir, "reg.csv"), filepath.Join(dir, "truth.csv")
	first, second := filepath.Join(dir, "first.csv"), filepath.Join(dir, "second.csv")
	cands, pairs := filepath.Join(dir, "candidates.csv"), filepath.Join(dir, "pairs.csv")
	if _, err := runCmd(t, "synth", "--households", "600", "--seed", "5", "--duplicates", "0.05", "--truth", truth, "--out", reg); err != nil {
		t.Fatal(err)
	}
	splitRegistry(t, reg, first, second)

	out, errOut, err := runCmdStderr(t, "import", "--data", data, first)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut, "The registry is empty") || screenedLine.MatchString(errOut) {
		t.Errorf("first load into an empty registry was screened, or said nothing:\n%s", errOut)
	}
	if !regexp.MustCompile(`(?m)^Read \d+ rows from .* in .*\.\nHouseholds created: \d+\nPersons created: \d+\nPersons already present: 0\nRows rejected: 0 \(see .*\)\n$`).MatchString(out) {
		t.Errorf("import output changed:\n%s", out)
	}

	out, errOut, err = runCmdStderr(t, "import", "--data", data, "--candidates", cands, second)
	if err != nil {
		t.Fatal(err)
	}
	m := screenedLine.FindStringSubmatch(errOut)
	created := regexp.MustCompile(`Persons created: (\d+)\n`).FindStringSubmatch(out)
	if m == nil || created == nil || m[1] != created[1] {
		t.Fatalf("second import: want every created person screened\nstdout:\n%s\nstderr:\n%s", out, errOut)
	}
	candidates, _ := strconv.Atoi(m[2])
	opened, _ := strconv.Atoi(m[3])
	if opened == 0 || candidates < opened {
		t.Errorf("screening found %d candidates, opened %d cases, want some of each", candidates, opened)
	}
	written, err := os.ReadFile(cands)
	if err != nil {
		t.Fatal(err)
	}
	rows := strings.Split(strings.TrimSpace(string(written)), "\n")
	if rows[0] != "new_source_id,candidate_source_id,score" || len(rows)-1 != candidates {
		t.Errorf("candidates file has %d rows, header %q; the import reported %d", len(rows)-1, rows[0], candidates)
	}
	for _, r := range rows[1:] {
		f := strings.Split(r, ",")
		if len(f) != 3 || f[0] == "" || f[1] == "" || f[0] == f[1] {
			t.Errorf("candidate row %q", r)
		}
	}

	// Screening the same persons again opens nothing new.
	out, errOut, err = runCmdStderr(t, "import", "--data", data, "--screen", "always", second)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "Persons created: 0\n") || !strings.Contains(errOut, "Screened 0 new persons for duplicates: 0 candidates, 0 review cases opened.") {
		t.Errorf("re-import:\nstdout:\n%s\nstderr:\n%s", out, errOut)
	}

	// The batch search opens the cases the first load could not, once.
	for i, want := range []string{"[1-9][0-9]*", "0"} {
		out, err = runCmd(t, "dedup", "--data", data, "--out", pairs, "--open-cases", "--truth", truth)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if !regexp.MustCompile(`(?m)^Review cases opened: `+want+` \(pairs at or above 0\.5\)$`).MatchString(out) ||
			!strings.HasPrefix(lines[len(lines)-1], "precision=") {
			t.Errorf("dedup run %d: want %s cases opened and the accuracy line last:\n%s", i+1, want, out)
		}
	}

	for _, args := range [][]string{
		{"import", "--data", data, "--screen", "sometimes", second},
		{"import", "--data", data, "--screen", "never", "--candidates", cands, second},
	} {
		if _, err := runCmd(t, args...); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
