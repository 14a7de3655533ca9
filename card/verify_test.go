package card

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/canasta/canasta"
	"github.com/veraison/go-cose"
)

func TestVerifyCard(t *testing.T) {
	k := goldenKey(t)
	keys := keySet(t, k)
	code := mustIssue(t, k, testClaims())
	got, err := VerifyCard(code, VerifyOptions{Keys: keys, At: checkedAt})
	if err != nil {
		t.Fatal(err)
	}
	if *got != testClaims() {
		t.Errorf("claims %+v, want %+v", *got, testClaims())
	}
	v, err := Verify(code, VerifyOptions{Keys: keys, At: checkedAt})
	if err != nil {
		t.Fatal(err)
	}
	if v.Alg != AlgEdDSA || !bytes.Equal(v.KID, k.KID) || v.Raw["1"] != "canasta:test" {
		t.Errorf("verified alg %s kid %x raw %v", v.Alg, v.KID, v.Raw)
	}
	card, ok := v.Raw["-70001"].(map[string]any)
	if !ok || card["1"] != "card_7f3k2q" || card["2"] != int64(2) {
		t.Errorf("raw card claim %v", v.Raw["-70001"])
	}
}

// TestVerifyTimes covers expiry, issue times in the future, the skew, the
// key's service period and the options that set or ignore the clock.
func TestVerifyTimes(t *testing.T) {
	k := goldenKey(t)
	code := mustIssue(t, k, testClaims())
	retiredEarly := k.Public()
	retiredEarly.NotAfter = issuedAt.Add(-time.Hour)
	notYetCreated := k.Public()
	notYetCreated.NotBefore = issuedAt.Add(time.Hour)
	tests := []struct {
		name string
		key  PublicKey
		opts VerifyOptions
		step Step // "" for success
	}{
		{"Valid", k.Public(), VerifyOptions{At: checkedAt}, ""},
		{"LastSecond", k.Public(), VerifyOptions{At: expiresAt.Add(-time.Second)}, ""},
		{"AtExpiry", k.Public(), VerifyOptions{At: expiresAt}, StepExpired},
		{"LongExpired", k.Public(), VerifyOptions{At: expiresAt.AddDate(1, 0, 0)}, StepExpired},
		{"IssuedInFuture", k.Public(), VerifyOptions{At: issuedAt.Add(-6 * time.Minute)}, StepNotYetValid},
		{"WithinDefaultSkew", k.Public(), VerifyOptions{At: issuedAt.Add(-4 * time.Minute)}, ""},
		{"BeyondCustomSkew", k.Public(), VerifyOptions{At: issuedAt.Add(-2 * time.Minute), Skew: time.Minute}, StepNotYetValid},
		{"WithinCustomSkew", k.Public(), VerifyOptions{At: issuedAt.Add(-2 * time.Minute), Skew: 3 * time.Minute}, ""},
		{"IgnoreTimeExpired", k.Public(), VerifyOptions{At: expiresAt.AddDate(5, 0, 0), IgnoreTime: true}, ""},
		{"IgnoreTimeFuture", k.Public(), VerifyOptions{At: issuedAt.AddDate(-1, 0, 0), IgnoreTime: true}, ""},
		{"NowIsAfterExpiry", k.Public(), VerifyOptions{}, ""}, // expires 2027-03-01; see below
		{"IssuedAfterKeyRetired", retiredEarly, VerifyOptions{At: checkedAt}, StepKID},
		{"IssuedBeforeKeyCreated", notYetCreated, VerifyOptions{At: checkedAt}, StepKID},
		{"RetiredKeyIgnoringTime", retiredEarly, VerifyOptions{At: checkedAt, IgnoreTime: true}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := NewKeySet(tt.key)
			if err != nil {
				t.Fatal(err)
			}
			tt.opts.Keys = keys
			step := tt.step
			if tt.name == "NowIsAfterExpiry" {
				// A zero At means the real clock.
				switch now := time.Now(); {
				case !now.Before(expiresAt):
					step = StepExpired
				case issuedAt.After(now.Add(DefaultSkew)):
					step = StepNotYetValid
				}
			}
			_, err = VerifyCard(code, tt.opts)
			if step == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantStep(t, err, step)
		})
	}
}

var (
	otherKeysOnce sync.Once
	es256Key      *Key
	ps256Key      *Key
)

func otherAlgKeys(t *testing.T) (*Key, *Key) {
	otherKeysOnce.Do(func() {
		ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		rk, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		if es256Key, err = NewKey(ec); err != nil {
			t.Fatal(err)
		}
		if ps256Key, err = NewKey(rk); err != nil {
			t.Fatal(err)
		}
	})
	return es256Key, ps256Key
}

func TestVerifyOtherAlgorithms(t *testing.T) {
	es, ps := otherAlgKeys(t)
	for _, tt := range []struct {
		name string
		key  *Key
		alg  string
	}{{"ES256", es, AlgES256}, {"PS256", ps, AlgPS256}} {
		t.Run(tt.name, func(t *testing.T) {
			code := mustIssue(t, tt.key, testClaims())
			v, err := Verify(code, VerifyOptions{Keys: keySet(t, tt.key, goldenKey(t)), At: checkedAt})
			if err != nil {
				t.Fatal(err)
			}
			if v.Alg != tt.alg || v.Claims == nil || *v.Claims != testClaims() {
				t.Errorf("alg %s card %+v", v.Alg, v.Claims)
			}
			_, err = Verify(code, VerifyOptions{Keys: keySet(t, goldenKey(t)), At: checkedAt})
			wantStep(t, err, StepKID)
		})
	}
}

// TestVerifyRedTeam tries what an attacker holding a genuine card, but not
// the signing key, could change: algorithms, key ids, structure, claims.
func TestVerifyRedTeam(t *testing.T) {
	a := goldenKey(t)
	b := newEdKey(t)
	keys := keySet(t, a, b)
	payload := mustClaims(t, testClaims())
	ed := a.Signer
	kid := a.KID
	unknownKID := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	claimsWith := func(edit func(m map[int64]any)) []byte {
		c := testClaims()
		m := map[int64]any{1: c.Issuer, 4: c.Expires.Unix(), 6: c.IssuedAt.Unix(),
			-70001: map[int64]any{1: c.CardID, 2: c.Version, 3: c.Household}}
		edit(m)
		out, err := encMode.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	cardWith := func(edit func(m map[int64]any)) []byte {
		return claimsWith(func(m map[int64]any) { edit(m[-70001].(map[int64]any)) })
	}
	edDSA := int64(cose.AlgorithmEdDSA)

	tests := []struct {
		name string
		msg  forged
		step Step // "" for success
	}{
		{"Baseline", forged{protected: map[any]any{int64(1): edDSA, int64(4): kid}, payload: payload, signAlg: cose.AlgorithmEdDSA, signer: ed}, ""},

		// Algorithm substitution.
		{"AlgChangedToES256", forged{protected: map[any]any{int64(1): int64(-7), int64(4): kid}, payload: payload, signAlg: cose.AlgorithmEdDSA, signer: ed}, StepAlgorithm},
		{"AlgChangedToPS256", forged{protected: map[any]any{int64(1): int64(-37), int64(4): kid}, payload: payload, signAlg: cose.AlgorithmEdDSA, signer: ed}, StepAlgorithm},
		{"AlgNoneText", forged{protected: map[any]any{int64(1): "none", int64(4): kid}, payload: payload}, StepAlgorithm},
		{"AlgHS256", forged{protected: map[any]any{int64(1): int64(5), int64(4): kid}, payload: payload}, StepAlgorithm},
		{"AlgReserved", forged{protected: map[any]any{int64(1): int64(0), int64(4): kid}, payload: payload}, StepAlgorithm},
		{"AlgES384", forged{protected: map[any]any{int64(1): int64(-35), int64(4): kid}, payload: payload}, StepAlgorithm},
		{"AlgMissing", forged{protected: map[any]any{int64(4): kid}, payload: payload, signAlg: cose.AlgorithmEdDSA, signer: ed}, StepAlgorithm},
		{"AlgOnlyUnprotectedHS256", forged{protected: map[any]any{int64(4): kid}, unprotected: map[any]any{int64(1): int64(5)}, payload: payload}, StepAlgorithm},
		{"AlgOnlyUnprotectedES384", forged{protected: map[any]any{int64(4): kid}, unprotected: map[any]any{int64(1): int64(-35)}, payload: payload}, StepAlgorithm},
		{"AlgOnlyUnprotectedNone", forged{protected: map[any]any{int64(4): kid}, unprotected: map[any]any{int64(1): "none"}, payload: payload}, StepAlgorithm},
		{"AlgOnlyUnprotectedWrongForKey", forged{protected: map[any]any{int64(4): kid}, unprotected: map[any]any{int64(1): int64(-7)}, payload: payload, signAlg: cose.AlgorithmEdDSA, signer: ed}, StepAlgorithm},
		{"AlgOnlyUnprotectedEdDSA", forged{protected: map[any]any{int64(4): kid}, unprotected: map[any]any{int64(1): edDSA}, payload: payload, signAlg: cose.AlgorithmEdDSA, signer: ed}, ""},
		{"AlgProtectedAndUnprotectedDisagree", forged{protected: map[any]any{int64(1): edDSA, int64(4): kid}, unprotected: map[any]any{int64(1): int64(-7)}, payload: payload, signAlg: cose.AlgorithmEdDSA, signer: ed}, StepAlgorithm},

		// Key id confusion.
		{"KIDWrongProtectedRightUnprotected", forged{protected: map[any]any{int64(1): edDSA, int64(4): unknownKID}, unprotected: map[any]any{int64(4): kid}, payload: payload, signAlg: cose.AlgorithmEdDSA, signer: ed}, StepKID},
		{"KIDOtherTrustedKeyProtected", forged{protected: map[any]any{int64(1): edDSA, int64(4): b.KID}, unprotected: map[any]any{int64(4): kid}, payload: payload, signAlg: cose.AlgorithmEdDSA, signer: ed}, StepSignature},
		{"KIDUnknown", forged{protected: map[any]any{int64(1): edDSA, int64(4): unknownKID}, payload: payload, signAlg: cose.AlgorithmEdDSA, signer: ed}, StepKID},
		{"KIDEmpty", forged{protected: map[any]any{int64(1): edDSA, int64(4): []byte{}}, payload: payload, signAlg: cose.AlgorithmEdDSA, signer: ed}, StepKID},
		{"KIDMissing", forged{protected: map[any]any{int64(1): edDSA}, payload: payload, signAlg: cose.AlgorithmEdDSA, signer: ed}, StepKID},
		{"KIDOnlyUnprotected", forged{protected: map[any]any{int64(1): edDSA}, unprotected: map[any]any{int64(4): kid}, payload: payload, signAlg: cose.AlgorithmEdDSA, signer: ed}, ""},
		{"KIDText", forged{protected: map[any]any{int64(1): edDSA, int64(4): string(kid)}, payload: payload, signAlg: cose.AlgorithmEdDSA, signer: ed}, StepCOSE},

		// Structure.
		{"CWTTag", forged{protected: map[any]any{int64(1): edDSA, int64(4): kid}, payload: payload, signAlg: cose.AlgorithmEdDSA, signer: ed, wrap: "cwt"}, ""},
		{"Untagged", forged{protected: map[any]any{int64(1): edDSA, int64(4): kid}, payload: payload, signAlg: cose.AlgorithmEdDSA, signer: ed, wrap: "untagged"}, ""},
		{"CWTTagAroundUntagged", forged{protected: map[any]any{int64(1): edDSA, int64(4): kid}, payload: payload, signAlg: cose.AlgorithmEdDSA, signer: ed, wrap: "cwt-untagged"}, StepCOSE},
		{"TrailingBytes", forged{protected: map[any]any{int64(1): edDSA, int64(4): kid}, payload: payload, signAlg: cose.AlgorithmEdDSA, signer: ed, trailing: []byte{0}}, StepCOSE},
		{"DetachedPayload", forged{protected: map[any]any{int64(1): edDSA, int64(4): kid}, payload: nil}, StepCOSE},
		{"CritUnknown", forged{protected: map[any]any{int64(1): edDSA, int64(2): []any{int64(99)}, int64(4): kid, int64(99): int64(1)}, payload: payload, signAlg: cose.AlgorithmEdDSA, signer: ed}, StepCOSE},
		{"CritKnown", forged{protected: map[any]any{int64(1): edDSA, int64(2): []any{int64(1)}, int64(4): kid}, payload: payload, signAlg: cose.AlgorithmEdDSA, signer: ed}, ""},
		{"GarbageSignature", forged{protected: map[any]any{int64(1): edDSA, int64(4): kid}, payload: payload}, StepSignature},
		{"SignedByOtherTrustedKey", forged{protected: map[any]any{int64(1): edDSA, int64(4): kid}, payload: payload, signAlg: cose.AlgorithmEdDSA, signer: b.Signer}, StepSignature},

		// Claims, validly signed by the trusted key.
		{"PayloadNotMap", forged{protected: map[any]any{int64(1): edDSA, int64(4): kid}, payload: []byte{0x61, 'x'}, signAlg: cose.AlgorithmEdDSA, signer: ed}, StepClaims},
		{"PayloadNotCBOR", forged{protected: map[any]any{int64(1): edDSA, int64(4): kid}, payload: []byte{0xff}, signAlg: cose.AlgorithmEdDSA, signer: ed}, StepClaims},
		{"CardExtraKey", forged{protected: map[any]any{int64(1): edDSA, int64(4): kid}, payload: cardWith(func(m map[int64]any) { m[4] = "Ana" }), signAlg: cose.AlgorithmEdDSA, signer: ed}, StepClaims},
		{"CardVersionZero", forged{protected: map[any]any{int64(1): edDSA, int64(4): kid}, payload: cardWith(func(m map[int64]any) { m[2] = 0 }), signAlg: cose.AlgorithmEdDSA, signer: ed}, StepClaims},
		{"CardVersionText", forged{protected: map[any]any{int64(1): edDSA, int64(4): kid}, payload: cardWith(func(m map[int64]any) { m[2] = "2" }), signAlg: cose.AlgorithmEdDSA, signer: ed}, StepClaims},
		{"CardHouseholdIsAName", forged{protected: map[any]any{int64(1): edDSA, int64(4): kid}, payload: cardWith(func(m map[int64]any) { m[3] = "María López" }), signAlg: cose.AlgorithmEdDSA, signer: ed}, StepClaims},
		{"CardWithoutExp", forged{protected: map[any]any{int64(1): edDSA, int64(4): kid}, payload: claimsWith(func(m map[int64]any) { delete(m, 4) }), signAlg: cose.AlgorithmEdDSA, signer: ed}, StepClaims},
		{"IssNotText", forged{protected: map[any]any{int64(1): edDSA, int64(4): kid}, payload: claimsWith(func(m map[int64]any) { m[1] = 7 }), signAlg: cose.AlgorithmEdDSA, signer: ed}, StepClaims},
		{"ExpText", forged{protected: map[any]any{int64(1): edDSA, int64(4): kid}, payload: claimsWith(func(m map[int64]any) { m[4] = "2030-01-01" }), signAlg: cose.AlgorithmEdDSA, signer: ed}, StepClaims},
		{"ExpBeforeIat", forged{protected: map[any]any{int64(1): edDSA, int64(4): kid}, payload: claimsWith(func(m map[int64]any) { m[4] = issuedAt.Unix() - 1 }), signAlg: cose.AlgorithmEdDSA, signer: ed}, StepClaims},
		{"NotBeforeInFuture", forged{protected: map[any]any{int64(1): edDSA, int64(4): kid}, payload: claimsWith(func(m map[int64]any) { m[5] = checkedAt.Add(time.Hour).Unix() }), signAlg: cose.AlgorithmEdDSA, signer: ed}, StepNotYetValid},
		{"FloatDates", forged{protected: map[any]any{int64(1): edDSA, int64(4): kid}, payload: claimsWith(func(m map[int64]any) { m[6] = float64(issuedAt.Unix()) }), signAlg: cose.AlgorithmEdDSA, signer: ed}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code := encode(forge(t, tt.msg))
			_, err := VerifyCard(code, VerifyOptions{Keys: keys, At: checkedAt})
			if tt.step == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantStep(t, err, tt.step)
		})
	}
}

// TestVerifyBitFlips flips each bit of a genuine COSE_Sign1 in turn; none
// of the results may verify.
func TestVerifyBitFlips(t *testing.T) {
	k := goldenKey(t)
	keys := keySet(t, k)
	msg, err := sign1(k, issuedAt, mustClaims(t, testClaims()))
	if err != nil {
		t.Fatal(err)
	}
	for i := range msg {
		for bit := range 8 {
			m := bytes.Clone(msg)
			m[i] ^= 1 << bit
			if _, err := Verify(encode(m), VerifyOptions{Keys: keys, At: checkedAt}); err == nil {
				t.Fatalf("flipping bit %d of byte %d still verifies", bit, i)
			}
		}
	}
}

func TestVerifyLayers(t *testing.T) {
	k := goldenKey(t)
	keys := keySet(t, k)
	code := mustIssue(t, k, testClaims())
	msg, err := sign1(k, issuedAt, mustClaims(t, testClaims()))
	if err != nil {
		t.Fatal(err)
	}
	tamperedPayload := bytes.Replace(msg, []byte("card_7f3k2q"), []byte("card_7f3k2r"), 1)
	tamperedSig := bytes.Clone(msg)
	tamperedSig[len(tamperedSig)-1] ^= 0x80
	revocations, err := SignRevocations(k, RevocationList{IssuedAt: issuedAt, Expires: expiresAt})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		code string
		keys *KeySet
		step Step
	}{
		{"WrongPrefix", "HC1:" + strings.TrimPrefix(code, Prefix), keys, StepPrefix},
		{"NoPrefix", strings.TrimPrefix(code, Prefix), keys, StepPrefix},
		{"Empty", "", keys, StepPrefix},
		{"LowerCaseBase45", strings.ToLower(code[:4]) + strings.ToLower(code[4:]), keys, StepPrefix},
		{"BadBase45", Prefix + strings.ToLower(code[4:]), keys, StepBase45},
		{"TruncatedBase45", code[:len(code)-1], keys, StepBase45},
		{"OversizedText", Prefix + strings.Repeat("0", MaxCodeLen), keys, StepBase45},
		{"ZlibBomb", Prefix + Base45Encode(deflate(make([]byte, 1<<20))), keys, StepDecompress},
		{"NotZlib", Prefix + Base45Encode(msg), keys, StepDecompress},
		{"TruncatedZlib", Prefix + Base45Encode(deflate(msg)[:50]), keys, StepDecompress},
		{"NotCOSE", encode([]byte("hello")), keys, StepCOSE},
		{"TamperedPayload", encode(tamperedPayload), keys, StepSignature},
		{"TamperedSignature", encode(tamperedSig), keys, StepSignature},
		{"RetiredKeyNotInSet", code, keySet(t, newEdKey(t)), StepKID},
		{"NoKeys", code, nil, StepKID},
		{"RevocationListIsNoCard", encode(revocations), keys, StepClaims},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := VerifyCard(tt.code, VerifyOptions{Keys: tt.keys, At: checkedAt})
			wantStep(t, err, tt.step)
		})
	}
	t.Run("ZlibBombFitsAQRCode", func(t *testing.T) {
		if n := len(tests[7].code); n > MaxCodeLen {
			t.Fatalf("bomb code is %d characters; the test must use one a QR code could carry", n)
		}
	})
}

func TestVerifyErrorIsInvalid(t *testing.T) {
	_, err := Verify("nope", VerifyOptions{})
	if code := canasta.ErrorCode(err); code != canasta.EINVALID {
		t.Errorf("ErrorCode = %s, want EINVALID", code)
	}
	if msg := canasta.ErrorMessage(err); msg != stepMessages[StepPrefix] {
		t.Errorf("ErrorMessage = %q", msg)
	}
	for step := range stepMessages {
		if (&VerifyError{Step: step}).Error() == "" {
			t.Errorf("empty error text for %s", step)
		}
	}
}

func TestIssueRefuses(t *testing.T) {
	k := goldenKey(t)
	retired := goldenKey(t)
	retired.RetiredAt = issuedAt
	tests := []struct {
		name string
		key  *Key
		edit func(c *Claims)
	}{
		{"NoIssuer", k, func(c *Claims) { c.Issuer = "" }},
		{"NoCardID", k, func(c *Claims) { c.CardID = "" }},
		{"CardIDWithSpace", k, func(c *Claims) { c.CardID = "card 1" }},
		{"VersionZero", k, func(c *Claims) { c.Version = 0 }},
		{"HouseholdIsAName", k, func(c *Claims) { c.Household = "José Núñez" }},
		{"HouseholdIsABirthDate", k, func(c *Claims) { c.Household = "1980/04/02" }},
		{"NoIssueTime", k, func(c *Claims) { c.IssuedAt = time.Time{} }},
		{"ExpiresBeforeIssued", k, func(c *Claims) { c.Expires = c.IssuedAt.Add(-time.Hour) }},
		{"KeyRetired", retired, func(c *Claims) {}},
		{"BeforeKeyCreated", k, func(c *Claims) { c.IssuedAt = k.CreatedAt.Add(-time.Second) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testClaims()
			tt.edit(&c)
			code, err := Issue(tt.key, c, "")
			if canasta.ErrorCode(err) != canasta.EINVALID {
				t.Fatalf("Issue = %q, %v; want EINVALID", code, err)
			}
		})
	}
}
