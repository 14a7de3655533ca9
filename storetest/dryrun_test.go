package storetest_test

import (
	"flag"
	"testing"

	"github.com/canasta/canasta/storetest"
)

// dryRunHouseholds sizes BenchmarkDryRun's registry; at full size:
//
//	go test ./storetest -run '^$' -bench 'DryRun/sqlite' -benchtime 1x -dryrun.households 1000000 -timeout 30m
var dryRunHouseholds = flag.Int("dryrun.households", 20000, "households registered for BenchmarkDryRun")

func BenchmarkDryRun(b *testing.B) {
	for _, s := range stores {
		b.Run(s.name, func(b *testing.B) { storetest.BenchmarkDryRun(b, s.open, *dryRunHouseholds) })
	}
}
