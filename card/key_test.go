package card

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"

	"github.com/canasta/canasta"
)

func TestKeyRoundTrip(t *testing.T) {
	es, ps := otherAlgKeys(t)
	for _, tt := range []struct {
		name string
		key  *Key
		alg  string
	}{{"EdDSA", goldenKey(t), AlgEdDSA}, {"ES256", es, AlgES256}, {"PS256", ps, AlgPS256}} {
		t.Run(tt.name, func(t *testing.T) {
			pemBytes, err := tt.key.MarshalPrivate()
			if err != nil {
				t.Fatal(err)
			}
			block, _ := pem.Decode(pemBytes)
			for name, in := range map[string][]byte{"PEM": pemBytes, "DER": block.Bytes} {
				got, err := ParseKey(in)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if got.Alg != tt.alg || !bytes.Equal(got.KID, tt.key.KID) {
					t.Errorf("%s: alg %s kid %x, want %s %x", name, got.Alg, got.KID, tt.alg, tt.key.KID)
				}
			}
		})
	}
}

func TestParseKeyRefuses(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sec1, _ := x509.MarshalECPrivateKey(ec)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384DER, _ := x509.MarshalPKCS8PrivateKey(p384)
	tests := []struct {
		name string
		in   []byte
	}{
		{"Garbage", []byte("not a key")},
		{"SEC1Block", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})},
		{"P384", p384DER},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseKey(tt.in); canasta.ErrorCode(err) != canasta.EINVALID {
				t.Fatalf("ParseKey: %v, want EINVALID", err)
			}
		})
	}
}

func TestNewKeyRefusesShortRSA(t *testing.T) {
	short, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewKey(short); canasta.ErrorCode(err) != canasta.EINVALID {
		t.Fatalf("NewKey(RSA-1024): %v, want EINVALID", err)
	}
}

func TestKIDFromSPKI(t *testing.T) {
	k := goldenKey(t)
	spki, err := x509.MarshalPKIXPublicKey(k.Signer.Public())
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(KIDFromSPKI(spki)); got != hex.EncodeToString(k.KID) || len(k.KID) != 8 {
		t.Errorf("KIDFromSPKI = %s, key kid %x", got, k.KID)
	}
	// sha256 of the empty string starts e3b0c44298fc1c14.
	if got := hex.EncodeToString(KIDFromCertificate(nil)); got != "e3b0c44298fc1c14" {
		t.Errorf("KIDFromCertificate(empty) = %s", got)
	}
}

func TestPublicKeyFromCertificate(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7),
		Subject:      pkix.Name{CommonName: "card signer"},
		NotBefore:    issuedAt.AddDate(0, -1, 0),
		NotAfter:     issuedAt.AddDate(2, 0, 0),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	pemCert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	for name, in := range map[string][]byte{"DER": der, "PEM": pemCert} {
		t.Run(name, func(t *testing.T) {
			p, err := PublicKeyFromCertificate(in)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(p.KID, KIDFromCertificate(der)) || p.Alg != AlgEdDSA ||
				!p.NotBefore.Equal(tmpl.NotBefore) || !p.NotAfter.Equal(tmpl.NotAfter) {
				t.Errorf("got %+v", p)
			}
		})
	}
	t.Run("CardSignedUnderCertificate", func(t *testing.T) {
		k, err := NewKey(priv)
		if err != nil {
			t.Fatal(err)
		}
		k.KID = KIDFromCertificate(der)
		p, _ := PublicKeyFromCertificate(der)
		keys, err := NewKeySet(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := VerifyCard(mustIssue(t, k, testClaims()), VerifyOptions{Keys: keys, At: checkedAt}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("NotACertificate", func(t *testing.T) {
		if _, err := PublicKeyFromCertificate([]byte("nope")); canasta.ErrorCode(err) != canasta.EINVALID {
			t.Fatalf("%v, want EINVALID", err)
		}
	})
}

func TestPublicKeyJSON(t *testing.T) {
	k := goldenKey(t)
	k.RetiredAt = issuedAt.AddDate(1, 0, 0)
	b, err := json.Marshal(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	var got PublicKey
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := k.Public()
	if !bytes.Equal(got.KID, want.KID) || got.Alg != want.Alg || !got.NotBefore.Equal(want.NotBefore) ||
		!got.NotAfter.Equal(want.NotAfter) || !want.Key.(ed25519.PublicKey).Equal(got.Key) {
		t.Errorf("round trip %s gave %+v", b, got)
	}
	if !strings.Contains(string(b), `"kid":"RcijLBprYtY"`) {
		t.Errorf("kid is not unpadded base64url: %s", b)
	}

	bad := []struct{ name, json string }{
		{"AlgMismatch", strings.Replace(string(b), `"EdDSA"`, `"ES256"`, 1)},
		{"PaddedKID", strings.Replace(string(b), `"RcijLBprYtY"`, `"RcijLBprYtY="`, 1)},
		{"NoKID", strings.Replace(string(b), `"RcijLBprYtY"`, `""`, 1)},
		{"BadSPKI", `{"kid":"AQ","alg":"EdDSA","spki":"AAAA"}`},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			var p PublicKey
			if err := json.Unmarshal([]byte(tt.json), &p); err == nil {
				t.Fatalf("accepted %s", tt.json)
			}
		})
	}
}

func TestNewKeySetRefuses(t *testing.T) {
	a := goldenKey(t).Public()
	wrongAlg := a
	wrongAlg.Alg = AlgES256
	noKID := a
	noKID.KID = nil
	tests := []struct {
		name string
		keys []PublicKey
	}{
		{"DuplicateKID", []PublicKey{a, a}},
		{"AlgDoesNotFitKey", []PublicKey{wrongAlg}},
		{"NoKID", []PublicKey{noKID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewKeySet(tt.keys...); canasta.ErrorCode(err) != canasta.EINVALID {
				t.Fatalf("NewKeySet: %v, want EINVALID", err)
			}
		})
	}
}

func TestKeySetFind(t *testing.T) {
	a, b := goldenKey(t), newEdKey(t)
	s := keySet(t, b, a)
	if p, ok := s.FindKey(a.KID); !ok || !bytes.Equal(p.KID, a.KID) {
		t.Errorf("FindKey(a) = %x, %v", p.KID, ok)
	}
	if _, ok := s.FindKey([]byte("nope")); ok {
		t.Error("FindKey found an unknown kid")
	}
	keys := s.Keys()
	if len(keys) != 2 || bytes.Compare(keys[0].KID, keys[1].KID) >= 0 {
		t.Errorf("Keys() not two keys ordered by kid: %v", keys)
	}
	var empty *KeySet
	if _, ok := empty.FindKey(a.KID); ok || empty.Keys() != nil {
		t.Error("nil KeySet found a key")
	}
}

func TestGenerateKey(t *testing.T) {
	k1, k2 := newEdKey(t), newEdKey(t)
	if k1.Alg != AlgEdDSA || len(k1.KID) != 8 || bytes.Equal(k1.KID, k2.KID) {
		t.Errorf("keys %s %x / %x", k1.Alg, k1.KID, k2.KID)
	}
	if _, err := VerifyCard(mustIssue(t, k1, testClaims()), VerifyOptions{Keys: keySet(t, k1), At: checkedAt}); err != nil {
		t.Fatal(err)
	}
}
