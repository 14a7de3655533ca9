package card

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// dgcVector is a test file of the EU dgc-testdata repository.
type dgcVector struct {
	COSE       string `json:"COSE"`
	Compressed string `json:"COMPRESSED"`
	Base45     string `json:"BASE45"`
	Prefix     string `json:"PREFIX"`
	QR         string `json:"2DCODE"`
	TestCtx    struct {
		Certificate     string    `json:"CERTIFICATE"`
		ValidationClock time.Time `json:"VALIDATIONCLOCK"`
	} `json:"TESTCTX"`
	Expected struct {
		Verify bool `json:"EXPECTEDVERIFY"`
	} `json:"EXPECTEDRESULTS"`
}

func loadDGC(t *testing.T) (dgcVector, *KeySet) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "dgc", "AT-1.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v dgcVector
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if !v.Expected.Verify {
		t.Fatal("vector is not one expected to verify")
	}
	der, err := base64.StdEncoding.DecodeString(v.TestCtx.Certificate)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := PublicKeyFromCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := NewKeySet(pub)
	if err != nil {
		t.Fatal(err)
	}
	return v, keys
}

// TestEUHealthCertificate verifies a genuine EU Digital COVID Certificate
// with the same layers that verify a card, given its prefix and its
// signer's certificate.
func TestEUHealthCertificate(t *testing.T) {
	v, keys := loadDGC(t)
	opts := VerifyOptions{Prefix: "HC1:", Keys: keys, At: v.TestCtx.ValidationClock}

	t.Run("Verifies", func(t *testing.T) {
		got, err := Verify(v.Prefix, opts)
		if err != nil {
			t.Fatal(err)
		}
		if got.Alg != AlgES256 || hex.EncodeToString(got.KID) != "d919375fc1e7b6b2" {
			t.Errorf("alg %s kid %x, want ES256 d919375fc1e7b6b2", got.Alg, got.KID)
		}
		if got.Claims != nil {
			t.Errorf("a health certificate has no card claim, got %+v", got.Claims)
		}
		if got.Issuer != "AT" || !got.IssuedAt.Equal(time.Date(2021, 5, 6, 18, 0, 0, 0, time.UTC)) {
			t.Errorf("issuer %q issued %s", got.Issuer, got.IssuedAt)
		}
		hcert, ok := got.Raw["-260"].(map[string]any)
		if !ok {
			t.Fatalf("claim -260 is %T, want a map", got.Raw["-260"])
		}
		js, err := json.Marshal(got.Raw)
		if err != nil {
			t.Fatalf("raw claims do not marshal to JSON: %v", err)
		}
		if !strings.Contains(string(js), `"fn":"Musterfrau-Gößinger"`) || hcert["1"] == nil {
			t.Errorf("raw claims JSON lacks the certificate's name: %s", js)
		}
	})
	t.Run("Layers", func(t *testing.T) {
		compressed, err := Base45Decode(v.Base45)
		if err != nil || hex.EncodeToString(compressed) != v.Compressed {
			t.Fatalf("Base45 layer: %v", err)
		}
		msg, err := inflate(compressed, MaxInflated)
		if err != nil || hex.EncodeToString(msg) != v.COSE {
			t.Fatalf("zlib layer: %v", err)
		}
	})
	t.Run("PictureDecodes", func(t *testing.T) {
		png, err := base64.StdEncoding.DecodeString(v.QR)
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeQR(png)
		if err != nil {
			t.Fatal(err)
		}
		if got != v.Prefix {
			t.Errorf("QR text differs from the vector's PREFIX")
		}
	})
	t.Run("ExpiredLater", func(t *testing.T) {
		o := opts
		o.At = time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC)
		_, err := Verify(v.Prefix, o)
		wantStep(t, err, StepExpired)
	})
	t.Run("NotACard", func(t *testing.T) {
		_, err := VerifyCard(v.Prefix, opts)
		wantStep(t, err, StepClaims)
	})
	t.Run("WrongPrefix", func(t *testing.T) {
		_, err := Verify(v.Prefix, VerifyOptions{Keys: keys, At: opts.At})
		wantStep(t, err, StepPrefix)
	})
	t.Run("OtherKeys", func(t *testing.T) {
		o := opts
		o.Keys = keySet(t, goldenKey(t))
		_, err := Verify(v.Prefix, o)
		wantStep(t, err, StepKID)
	})
	t.Run("TamperedSignature", func(t *testing.T) {
		msg, _ := hex.DecodeString(v.COSE)
		msg[len(msg)-1] ^= 1
		_, err := Verify("HC1:"+Base45Encode(deflate(msg)), opts)
		wantStep(t, err, StepSignature)
	})
}
