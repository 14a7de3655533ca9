package card

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// TestGolden pins every layer of a card made with the fixed key: a change
// in any encoder shows up as a diff of the layer it changed. Binary layers
// are stored as hex, one line.
func TestGolden(t *testing.T) {
	k := goldenKey(t)
	c := testClaims()
	claims := mustClaims(t, c)
	msg, err := sign1(k, c.IssuedAt, claims)
	if err != nil {
		t.Fatal(err)
	}
	compressed := deflate(msg)
	b45 := Base45Encode(compressed)
	code := mustIssue(t, k, c)
	pem, err := k.MarshalPrivate()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := json.MarshalIndent(k.Public(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	revs, err := SignRevocations(k, RevocationList{IssuedAt: issuedAt, Expires: issuedAt.AddDate(0, 0, 7),
		Entries: []Revoked{{CardID: "card_b", Version: 1}, {CardID: "card_a", Version: 3}}})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, file string
		got        []byte
	}{
		{"ClaimsCBOR", "claims.cbor.hex", hexLine(claims)},
		{"COSESign1", "cose.cbor.hex", hexLine(msg)},
		{"Zlib", "zlib.hex", hexLine(compressed)},
		{"Base45", "base45.txt", []byte(b45 + "\n")},
		{"Code", "code.txt", []byte(code + "\n")},
		{"PrivateKeyPEM", "key.pem", pem},
		{"PublicKeyJSON", "public.json", append(pub, '\n')},
		{"RevocationList", "revocations.cbor.hex", hexLine(revs)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join("testdata", "golden", tt.file)
			if *update {
				if err := os.WriteFile(path, tt.got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestGolden -update to create it)", err)
			}
			if !bytes.Equal(tt.got, want) {
				t.Errorf("%s differs from %s:\n got %s\nwant %s", tt.name, path, tt.got, want)
			}
		})
	}

	t.Run("CodeIsPrefixedBase45", func(t *testing.T) {
		if code != Prefix+b45 {
			t.Errorf("code %q is not %q + Base45 layer", code, Prefix)
		}
	})
	t.Run("GoldenKeyParses", func(t *testing.T) {
		pemFile, err := os.ReadFile(filepath.Join("testdata", "golden", "key.pem"))
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := ParseKey(pemFile)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(parsed.KID, k.KID) || parsed.Alg != AlgEdDSA {
			t.Errorf("parsed key kid %x alg %s, want %x EdDSA", parsed.KID, parsed.Alg, k.KID)
		}
	})
	t.Run("GoldenCodeVerifies", func(t *testing.T) {
		codeFile, err := os.ReadFile(filepath.Join("testdata", "golden", "code.txt"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := VerifyCard(strings.TrimSpace(string(codeFile)), VerifyOptions{Keys: keySet(t, k), At: checkedAt})
		if err != nil {
			t.Fatal(err)
		}
		if *got != c {
			t.Errorf("claims %+v, want %+v", *got, c)
		}
	})
}

// TestClaimsCBORStructure decodes the golden claims by hand, so the golden
// bytes are known to say what the package documentation says they do.
func TestClaimsCBORStructure(t *testing.T) {
	b := mustClaims(t, testClaims())
	var m map[int64]any
	if err := claimsDecMode.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	want := map[int64]any{
		1:      "canasta:test",
		4:      expiresAt.Unix(),
		6:      issuedAt.Unix(),
		-70001: map[any]any{int64(1): "card_7f3k2q", int64(2): int64(2), int64(3): "hh_mfrggzdfmztwq2lk"},
	}
	gotJSON, _ := json.Marshal(jsonValue(toAnyMap(m)))
	wantJSON, _ := json.Marshal(jsonValue(toAnyMap(want)))
	if !bytes.Equal(gotJSON, wantJSON) {
		t.Errorf("claims %s, want %s", gotJSON, wantJSON)
	}
	if b[0] != 0xa4 {
		t.Errorf("claims start with %#x, want a definite map of 4 (0xa4)", b[0])
	}
}

func toAnyMap(m map[int64]any) map[any]any {
	out := map[any]any{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

func hexLine(b []byte) []byte { return []byte(hex.EncodeToString(b) + "\n") }
