//go:build !unix

package main

import "time"

// processCPU reports that this system's CPU accounting is not read.
func processCPU() (time.Duration, bool) { return 0, false }
