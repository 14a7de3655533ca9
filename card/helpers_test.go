package card

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"
)

// Fixed times, so golden files and validity checks do not depend on the clock.
var (
	issuedAt  = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	expiresAt = issuedAt.AddDate(1, 0, 0)
	checkedAt = issuedAt.Add(24 * time.Hour)
)

func testClaims() Claims {
	return Claims{
		Issuer:    "canasta:test",
		IssuedAt:  issuedAt,
		Expires:   expiresAt,
		CardID:    "card_7f3k2q",
		Version:   2,
		Household: "hh_mfrggzdfmztwq2lk",
	}
}

// goldenKey is an Ed25519 key from a fixed seed; with it every layer of a
// card is reproducible byte for byte.
func goldenKey(t testing.TB) *Key {
	t.Helper()
	seed := sha256.Sum256([]byte("canasta card golden key"))
	k, err := NewKey(ed25519.NewKeyFromSeed(seed[:]))
	if err != nil {
		t.Fatal(err)
	}
	k.CreatedAt = issuedAt.AddDate(0, -1, 0)
	return k
}

func newEdKey(t testing.TB) *Key {
	t.Helper()
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func keySet(t testing.TB, keys ...*Key) *KeySet {
	t.Helper()
	pubs := make([]PublicKey, len(keys))
	for i, k := range keys {
		pubs[i] = k.Public()
	}
	s, err := NewKeySet(pubs...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustIssue(t testing.TB, k *Key, c Claims) string {
	t.Helper()
	code, err := Issue(k, c, "")
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// wantStep checks that err is a *VerifyError at step.
func wantStep(t *testing.T, err error, step Step) {
	t.Helper()
	var ve *VerifyError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v is not a *VerifyError (want step %s)", err, step)
	}
	if ve.Step != step {
		t.Fatalf("failed at step %s (%v), want %s", ve.Step, ve.Err, step)
	}
}

// forged describes a COSE_Sign1 built by hand, to try what a careful
// issuer would never produce.
type forged struct {
	protected   map[any]any // nil: empty protected header
	unprotected map[any]any
	payload     []byte
	signAlg     cose.Algorithm // the algorithm the signature is made with
	signer      crypto.Signer  // nil: a garbage signature
	wrap        string         // "", "untagged", "cwt", "cwt-untagged"
	trailing    []byte
}

// forge signs the Sig_structure over the given headers itself, because
// go-cose will only sign messages with alg in the protected header.
func forge(t testing.TB, f forged) []byte {
	t.Helper()
	var prot []byte
	if len(f.protected) > 0 {
		var err error
		if prot, err = encMode.Marshal(f.protected); err != nil {
			t.Fatal(err)
		}
	}
	protBstr, _ := encMode.Marshal(prot)
	if prot == nil {
		protBstr = []byte{0x40}
	}
	sig := []byte("not a signature")
	if f.signer != nil {
		tbs, err := encMode.Marshal([]any{"Signature1", cbor.RawMessage(protBstr), []byte{}, f.payload})
		if err != nil {
			t.Fatal(err)
		}
		s, err := cose.NewSigner(f.signAlg, f.signer)
		if err != nil {
			t.Fatal(err)
		}
		if sig, err = s.Sign(rand.Reader, tbs); err != nil {
			t.Fatal(err)
		}
	}
	unprot := f.unprotected
	if unprot == nil {
		unprot = map[any]any{}
	}
	var payload any = f.payload
	if f.payload == nil {
		payload = nil
	}
	arr := []any{cbor.RawMessage(protBstr), unprot, payload, sig}
	var v any = arr
	switch f.wrap {
	case "":
		v = cbor.Tag{Number: 18, Content: arr}
	case "cwt":
		v = cbor.Tag{Number: 61, Content: cbor.Tag{Number: 18, Content: arr}}
	case "cwt-untagged":
		v = cbor.Tag{Number: 61, Content: arr}
	}
	b, err := encMode.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return append(b, f.trailing...)
}

// encode turns COSE bytes into a code, as Issue does.
func encode(msg []byte) string { return Prefix + Base45Encode(deflate(msg)) }

func mustClaims(t testing.TB, c Claims) []byte {
	t.Helper()
	b, err := encodeClaims(c)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
