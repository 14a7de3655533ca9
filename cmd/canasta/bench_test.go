package main

import (
	"bytes"
	"context"
	"io"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// benchLastLine is the line scripts parse.
var benchLastLine = regexp.MustCompile(`^redemptions/s=(\d+) p50_ms=(\d+\.\d+) p99_ms=(\d+\.\d+) errors=(\d+)$`)

// benchCPULine is the CPU budget scripts/bench.sh compares across variants.
var benchCPULine = regexp.MustCompile(`(?m)^cpu: (\d+\.\d) µs per redemption in this process \(load generator included\), (\d+\.\d\d) of \d+ cores busy$`)

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
			if _, ok := processCPU(); ok {
				c := benchCPULine.FindStringSubmatch(out.String())
				if c == nil {
					t.Fatalf("no cpu line:\n%s", out.String())
				}
				if perRedemption, _ := strconv.ParseFloat(c[1], 64); perRedemption <= 0 {
					t.Fatalf("cpu per redemption %s, want > 0", c[1])
				}
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

// TestCPUBetween checks that the window's CPU time counts work done in it
// and not work done before it began.
func TestCPUBetween(t *testing.T) {
	if _, ok := processCPU(); !ok {
		t.Skip("this system's CPU time is not read")
	}
	from := time.Now().Add(50 * time.Millisecond)
	until := from.Add(200 * time.Millisecond)
	done := make(chan time.Duration)
	go func() { done <- cpuBetween(context.Background(), from, until) }()
	spin := func(until time.Time) {
		for x := 0; time.Now().Before(until); x++ {
			_ = x * x
		}
	}
	spin(until.Add(10 * time.Millisecond))
	cpu := <-done
	// One goroutine spun through the whole window: up to 200 ms of CPU
	// (less on a machine busy with other work), and never more than the
	// window times the cores.
	if cpu < 40*time.Millisecond || cpu > time.Duration(runtime.NumCPU())*250*time.Millisecond {
		t.Fatalf("cpu %s over a 200 ms window with one goroutine spinning", cpu)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if got := cpuBetween(ctx, time.Now().Add(time.Hour), time.Now().Add(2*time.Hour)); got != 0 {
		t.Fatalf("cancelled: cpu %s, want 0", got)
	}
}
