//go:build unix

package storetest

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time the process has used, user and system,
// so a benchmark on a shared machine can report what it cost as well as
// how long it took.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
