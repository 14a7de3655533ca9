package card

import "testing"

// BenchmarkVerify measures one core verifying EdDSA cards end to end, from
// the QR text to checked claims. Run with -cpu 1; the verifications/s
// metric is then per core.
func BenchmarkVerify(b *testing.B) {
	k := goldenKey(b)
	keys := keySet(b, k)
	code := mustIssue(b, k, testClaims())
	opts := VerifyOptions{Keys: keys, At: checkedAt}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := VerifyCard(code, opts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifications/s")
}

// BenchmarkIssue measures signing and encoding one EdDSA card.
func BenchmarkIssue(b *testing.B) {
	k := goldenKey(b)
	c := testClaims()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Issue(k, c, ""); err != nil {
			b.Fatal(err)
		}
	}
}
