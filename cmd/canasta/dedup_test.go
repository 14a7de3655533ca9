package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestDedupCommand reproduces the accuracy figure end to end, small: a
// synthetic registry with duplicates and its truth, imported, searched.
func TestDedupCommand(t *testing.T) {
	dir := t.TempDir()
	data, reg, truth := filepath.Join(dir, "data"), filepath.Join(dir, "reg.csv"), filepath.Join(dir, "truth.csv")
	pairs, clusters := filepath.Join(dir, "pairs.csv"), filepath.Join(dir, "clusters.csv")
	if _, err := runCmd(t, "synth", "--households", "1500", "--seed", "3", "--duplicates", "0.05", "--truth", truth, "--out", reg); err != nil {
		t.Fatal(err)
	}
	if _, err := runCmd(t, "import", "--data", data, reg); err != nil {
		t.Fatal(err)
	}
	out, err := runCmd(t, "dedup", "--data", data, "--out", pairs, "--clusters", clusters, "--truth", truth)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	last := regexp.MustCompile(`^precision=([0-9.]+) recall=([0-9.]+) f1=([0-9.]+) pairs=([0-9]+)$`).FindStringSubmatch(lines[len(lines)-1])
	if last == nil {
		t.Fatalf("last line is not the accuracy line:\n%s", out)
	}
	if f1, _ := strconv.ParseFloat(last[3], 64); f1 < 0.85 {
		t.Errorf("f1 = %.4f on a small registry:\n%s", f1, out)
	}
	if !strings.Contains(out, "recall exact ") || !strings.Contains(out, "reduction ratio") {
		t.Errorf("no per-noise recall or reduction ratio:\n%s", out)
	}
	written, err := os.ReadFile(pairs)
	if err != nil {
		t.Fatal(err)
	}
	rows := strings.Split(strings.TrimSpace(string(written)), "\n")
	if rows[0] != "a_source_id,b_source_id,score" || strconv.Itoa(len(rows)-1) != last[4] {
		t.Errorf("pairs file has %d rows, header %q; the command reported %s pairs", len(rows)-1, rows[0], last[4])
	}
	if c, err := os.ReadFile(clusters); err != nil || !strings.HasPrefix(string(c), "cluster,source_id\n1,") {
		t.Errorf("clusters file: %v\n%.200s", err, c)
	}

	for _, args := range [][]string{
		{"dedup", "--data", data},
		{"dedup", "--data", data, "--out", pairs, "--threshold", "1.5"},
		{"synth", "--duplicates", "0.05"},
	} {
		if _, err := runCmd(t, args...); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
