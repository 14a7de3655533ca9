package card

import (
	"sync"
	"testing"
)

// TestVerifyConcurrent shares one key set and the pooled decompressors
// between goroutines; run with -race.
func TestVerifyConcurrent(t *testing.T) {
	k := goldenKey(t)
	keys := keySet(t, k)
	good := mustIssue(t, k, testClaims())
	bad := good[:len(good)-6]
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 40 {
				code, ok := good, true
				if (g+i)%3 == 0 {
					code, ok = bad, false
				}
				_, err := VerifyCard(code, VerifyOptions{Keys: keys, At: checkedAt})
				if (err == nil) != ok {
					errs <- "wrong outcome: " + code[:10]
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
