package main

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// newCountBar is the progress bar of a long job counted in items.
func newCountBar(max int, description string, w io.Writer) *progressbar.ProgressBar {
	return progressbar.NewOptions(max, progressbar.OptionSetDescription(description),
		progressbar.OptionSetWriter(w), progressbar.OptionShowCount(), progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }))
}
