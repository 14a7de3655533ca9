package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCmd runs the command line in-process and returns its standard output.
func runCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, &stdout, &stderr)
	return stdout.String(), err
}

func TestImportCommand(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	csvPath := filepath.Join(dir, "people.csv")
	if _, err := runCmd(t, "synth", "--households", "200", "--seed", "7", "--out", csvPath); err != nil {
		t.Fatal(err)
	}
	// Two bad rows: one without a name, one whose household has no region.
	f, err := os.OpenFile(csvPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("X1,XH1,head,,,1980,F,,,,Norte,,,false\nX2,XH2,head,Ana,,1980,F,,,,,,,false\n")
	f.Close()

	out, err := runCmd(t, "import", "--data", data, csvPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "Households created: 200\n") || !strings.Contains(out, "Rows rejected: 2 ") {
		t.Fatalf("first import:\n%s", out)
	}
	rejects, err := os.ReadFile(filepath.Join(dir, "people.rejects.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(rejects)), "\n")
	if len(lines) != 3 || lines[0] != "line,source_id,reason" || !strings.Contains(lines[1], ",X1,") || !strings.Contains(lines[2], "region") {
		t.Fatalf("rejects file:\n%s", rejects)
	}

	out, err = runCmd(t, "import", "--data", data, csvPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "Households created: 0\nPersons created: 0\n") {
		t.Fatalf("second import changed something:\n%s", out)
	}
}

func TestTokenCreateLastLine(t *testing.T) {
	data := t.TempDir()
	out, err := runCmd(t, "token", "create", "--data", data, "--role", "operator", "--name", "shop 1")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, "cnst_") || strings.ContainsAny(last, " \t") {
		t.Fatalf("last line = %q", last)
	}
	if _, err := runCmd(t, "token", "create", "--data", data, "--role", "mayor"); err == nil {
		t.Fatal("unknown role accepted")
	}
	out, err = runCmd(t, "token", "list", "--data", data)
	if err != nil || !strings.Contains(out, "operator") || !strings.Contains(out, "shop 1") {
		t.Fatalf("token list = %q, %v", out, err)
	}
}

func TestUnknownCommand(t *testing.T) {
	if _, err := runCmd(t, "frobnicate"); err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Fatalf("err = %v", err)
	}
	if _, err := runCmd(t, "import", "--data", t.TempDir(), "/nonexistent.csv"); err == nil {
		t.Fatal("missing file accepted")
	}
}
