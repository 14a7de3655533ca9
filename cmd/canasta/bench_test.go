package main

import (
	"bytes"
	"context"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// benchLastLine is the line scripts parse.
var benchLastLine = regexp.MustCompile(`^redemptions/s=(\d+) p50_ms=(\d+\.\d+) p99_ms=(\d+\.\d+) errors=(\d+)$`)

// TestBenchRedeem runs each path briefly on a temporary store and checks
// that redemptions went through without errors and that the last line
// has the exact form scripts parse.
func TestBenchRedeem(t *testing.T) {
	t.Setenv(envData, "")
	t.Setenv(envDB, "")
	short := []string{"--duration", "300ms", "--warmup", "100ms", "--households", "50", "--clients", "8"}
	for _, tt := range []struct {
		name string
		args []string
		path string // expected on the "path:" line
	}{
		{"Engine", nil, "group-commit engine, at most 256"},
		{"BatchOne", []string{"--batch", "1"}, "at most 1 redemptions per commit"},
		{"Direct", []string{"--direct"}, "one transaction and commit per redemption"},
		{"HTTP", []string{"--http", "--hot"}, "through the HTTP API"},
		{"Ceiling", []string{"--ceiling"}, "only decodes the request"},
		{"Paced", []string{"--rate", "200"}, "group-commit engine"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			args := append(append([]string{"bench", "redeem"}, short...), tt.args...)
			if err := run(context.Background(), args, &out, io.Discard); err != nil {
				t.Fatalf("bench: %v\n%s", err, out.String())
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if !strings.Contains(out.String(), tt.path) {
				t.Fatalf("output does not name the path %q:\n%s", tt.path, out.String())
			}
			m := benchLastLine.FindStringSubmatch(lines[len(lines)-1])
			if m == nil {
				t.Fatalf("last line %q is not redemptions/s=<int> p50_ms=<float> p99_ms=<float> errors=<int>", lines[len(lines)-1])
			}
			rate, _ := strconv.Atoi(m[1])
			if rate == 0 || m[4] != "0" {
				t.Fatalf("rate %d with %s errors:\n%s", rate, m[4], out.String())
			}
		})
	}
}

func TestBenchRedeem_Usage(t *testing.T) {
	for _, args := range [][]string{{"bench"}, {"bench", "transfer"}, {"bench", "redeem", "--clients", "0"}} {
		if err := run(context.Background(), args, io.Discard, io.Discard); err == nil {
			t.Errorf("%q succeeded, want a usage error", args)
		}
	}
}
