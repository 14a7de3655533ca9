package card

import (
	"bytes"
	"compress/zlib"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/veraison/go-cose"
)

func FuzzBase45Decode(f *testing.F) {
	for _, s := range []string{"", "BB8", "%69 VD92EX0", "UJCLQE7W581", "QED8WEX0", "GGW", "ZZ", "FGW", "U5", "bb8", "B", "::::"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if b, err := Base45Decode(s); err == nil {
			// Decoding is strict, so only the canonical text decodes.
			if enc := Base45Encode(b); enc != s {
				t.Fatalf("Base45Decode(%q) = %x, which encodes as %q", s, b, enc)
			}
		}
		raw := []byte(s)
		if got, err := Base45Decode(Base45Encode(raw)); err != nil || !bytes.Equal(got, raw) {
			t.Fatalf("round trip of %x gave %x, %v", raw, got, err)
		}
	})
}

func FuzzInflate(f *testing.F) {
	const limit = 1024
	f.Add(deflate([]byte("hello")))
	f.Add(deflate(make([]byte, limit)))
	f.Add(deflate(make([]byte, limit+1)))
	f.Add([]byte{0x78, 0xda})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := inflate(b, limit)
		if err != nil {
			return
		}
		if len(out) > limit {
			t.Fatalf("inflate returned %d bytes, over the %d limit", len(out), limit)
		}
		// Whatever is accepted must be exactly what the standard reader reads.
		zr, err := zlib.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("inflate accepted what zlib refuses: %v", err)
		}
		want, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(out, want) {
			t.Fatalf("inflate = %x, zlib = %x, %v", out, want, err)
		}
	})
}

// FuzzVerify mutates genuine codes. Nothing may panic, every failure is a
// *VerifyError, and whatever verifies must carry the very payload the key
// signed: a mutation may change unsigned framing, never what is asserted.
func FuzzVerify(f *testing.F) {
	k := goldenKey(f)
	keys := keySet(f, k)
	payload := mustClaims(f, testClaims())
	code := mustIssue(f, k, testClaims())
	msg, err := sign1(k, issuedAt, payload)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(code)
	f.Add(code[:len(code)-3])
	f.Add(strings.Replace(code, "A", "B", 1))
	f.Add(encode(append(bytes.Clone(msg), 0)))
	f.Add(encode(append([]byte{0xd8, 0x3d}, msg...)))
	f.Add(encode(msg[1:])) // untagged
	f.Add(encode(forge(f, forged{
		protected:   map[any]any{int64(4): k.KID},
		unprotected: map[any]any{int64(1): int64(cose.AlgorithmEdDSA)},
		payload:     payload, signAlg: cose.AlgorithmEdDSA, signer: k.Signer,
	})))
	f.Add(Prefix + Base45Encode(deflate(make([]byte, 1<<17))))
	f.Add("HC1:" + code[4:])
	f.Add("")

	f.Fuzz(func(t *testing.T, s string) {
		v, err := Verify(s, VerifyOptions{Keys: keys, At: checkedAt})
		if err != nil {
			var ve *VerifyError
			if !errors.As(err, &ve) {
				t.Fatalf("error %v is not a *VerifyError", err)
			}
			return
		}
		compressed, err := Base45Decode(strings.TrimPrefix(s, Prefix))
		if err != nil {
			t.Fatal(err)
		}
		b, err := inflate(compressed, MaxInflated)
		if err != nil {
			t.Fatal(err)
		}
		m, err := parseSign1(b)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(m.Payload, payload) {
			t.Fatalf("a mutated code verified with payload %x", m.Payload)
		}
		if v.Claims == nil || *v.Claims != testClaims() {
			t.Fatalf("a mutated code verified with claims %+v", v.Claims)
		}
	})
}
