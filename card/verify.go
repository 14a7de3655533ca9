package card

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/canasta/canasta"
	"github.com/fxamacker/cbor/v2"
)

// Step names the verification step a code failed at.
type Step string

// The verification steps, in order.
const (
	StepPrefix      Step = "prefix"
	StepBase45      Step = "base45"
	StepDecompress  Step = "decompress"
	StepCOSE        Step = "cose"
	StepAlgorithm   Step = "algorithm"
	StepKID         Step = "kid"
	StepSignature   Step = "signature"
	StepClaims      Step = "claims"
	StepExpired     Step = "expired"
	StepNotYetValid Step = "not-yet-valid"
)

// VerifyError is a failed verification and the step it failed at. It reads
// as an EINVALID *canasta.Error with a message for the person at the point.
type VerifyError struct {
	Step Step
	Err  error
}

func (e *VerifyError) Error() string { return fmt.Sprintf("verify card: %s: %v", e.Step, e.Err) }

func (e *VerifyError) Unwrap() error { return e.Err }

var stepMessages = map[Step]string{
	StepPrefix:      "This is not a card code of the expected kind.",
	StepBase45:      "The card code is damaged or incomplete.",
	StepDecompress:  "The card code is damaged or incomplete.",
	StepCOSE:        "The card code is damaged or incomplete.",
	StepAlgorithm:   "The card is signed with an algorithm that is not accepted.",
	StepKID:         "The card was not signed by a trusted key.",
	StepSignature:   "The card's signature is not valid: it may have been altered.",
	StepClaims:      "The card's contents are not valid.",
	StepExpired:     "The card has expired.",
	StepNotYetValid: "The card is not valid yet.",
}

// As lets canasta.ErrorCode and canasta.ErrorMessage see a verification
// failure as EINVALID with a message safe to show.
func (e *VerifyError) As(target any) bool {
	t, ok := target.(**canasta.Error)
	if !ok {
		return false
	}
	*t = canasta.Errorf(canasta.EINVALID, "%s", stepMessages[e.Step])
	return true
}

// DefaultSkew is how far in the future an issue time may lie, for clocks
// that disagree.
const DefaultSkew = 5 * time.Minute

// MaxCodeLen is the longest text a QR code holds (version 40, level L,
// alphanumeric); anything longer did not come from a QR code.
const MaxCodeLen = 4296

// VerifyOptions says what to accept.
type VerifyOptions struct {
	Prefix string    // Prefix when empty
	Keys   *KeySet   // the trusted keys
	At     time.Time // when to check validity; now when zero
	// IgnoreTime skips the expiry, issue-time and key-period checks, to
	// read an old card.
	IgnoreTime bool
	Skew       time.Duration // DefaultSkew when zero or less
}

// Verified is a code that passed every check.
type Verified struct {
	// Claims holds the Canasta claims; nil when the token has none, as with
	// another issuer's credential.
	Claims   *Claims
	Issuer   string
	IssuedAt time.Time // zero when the token has no iat
	Expires  time.Time // zero when the token has no exp
	// Raw is every claim of the token, ready for JSON: map keys are written
	// as text (integers in decimal), byte strings as base64.
	Raw map[string]any
	KID []byte
	Alg string
}

// Verify checks a code through every layer: prefix, Base45, bounded
// decompression, COSE_Sign1 structure, algorithm allow-list, key id,
// signature, claims, and validity times. Any failure is a *VerifyError.
// It does not require the Canasta claim; VerifyCard does.
func Verify(code string, o VerifyOptions) (*Verified, error) {
	prefix := o.Prefix
	if prefix == "" {
		prefix = Prefix
	}
	if !strings.HasPrefix(code, prefix) {
		return nil, &VerifyError{Step: StepPrefix, Err: fmt.Errorf("code does not start with %q", prefix)}
	}
	body := code[len(prefix):]
	if len(code) > MaxCodeLen {
		return nil, &VerifyError{Step: StepBase45, Err: fmt.Errorf("code of %d characters is longer than a QR code holds", len(code))}
	}
	compressed, err := Base45Decode(body)
	if err != nil {
		return nil, &VerifyError{Step: StepBase45, Err: err}
	}
	msg, err := inflate(compressed, MaxInflated)
	if err != nil {
		return nil, &VerifyError{Step: StepDecompress, Err: err}
	}
	s, err := openSign1(msg, o.Keys)
	if err != nil {
		return nil, err
	}
	t, err := decodeCWT(s.payload)
	if err != nil {
		return nil, &VerifyError{Step: StepClaims, Err: err}
	}
	card, err := t.cardClaims()
	if err != nil {
		return nil, &VerifyError{Step: StepClaims, Err: err}
	}
	if !o.IgnoreTime {
		if err := checkTimes(t, s.key, o.At, o.Skew); err != nil {
			return nil, err
		}
	}
	return &Verified{Claims: card, Issuer: t.issuer, IssuedAt: t.issuedAt, Expires: t.expires,
		Raw: jsonMap(t.raw), KID: s.key.KID, Alg: s.alg}, nil
}

// VerifyCard is Verify for a Canasta card: the token must carry the card
// claim.
func VerifyCard(code string, o VerifyOptions) (*Claims, error) {
	v, err := Verify(code, o)
	if err != nil {
		return nil, err
	}
	if v.Claims == nil {
		return nil, &VerifyError{Step: StepClaims, Err: errors.New("token has no card claim")}
	}
	return v.Claims, nil
}

// checkTimes applies exp, nbf and iat at the given time, and checks that
// the key was in service when the token says it was issued.
func checkTimes(t *cwt, key PublicKey, at time.Time, skew time.Duration) error {
	if at.IsZero() {
		at = time.Now()
	}
	if skew <= 0 {
		skew = DefaultSkew
	}
	if !t.expires.IsZero() && !at.Before(t.expires) {
		return &VerifyError{Step: StepExpired, Err: fmt.Errorf("expired at %s", t.expires.Format(time.RFC3339))}
	}
	if !t.issuedAt.IsZero() && t.issuedAt.After(at.Add(skew)) {
		return &VerifyError{Step: StepNotYetValid, Err: fmt.Errorf("issued in the future, at %s", t.issuedAt.Format(time.RFC3339))}
	}
	if !t.notBefore.IsZero() && t.notBefore.After(at.Add(skew)) {
		return &VerifyError{Step: StepNotYetValid, Err: fmt.Errorf("not valid before %s", t.notBefore.Format(time.RFC3339))}
	}
	if !t.issuedAt.IsZero() && !key.signedAt(t.issuedAt) {
		return &VerifyError{Step: StepKID, Err: fmt.Errorf("key %x was not in service at the issue time %s",
			key.KID, t.issuedAt.Format(time.RFC3339))}
	}
	return nil
}

// jsonMap converts decoded CBOR to values encoding/json can write.
func jsonMap(m map[any]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[jsonKey(k)] = jsonValue(v)
	}
	return out
}

func jsonKey(k any) string {
	switch k := k.(type) {
	case string:
		return k
	case int64:
		return strconv.FormatInt(k, 10)
	}
	return fmt.Sprint(jsonValue(k))
}

func jsonValue(v any) any {
	switch v := v.(type) {
	case map[any]any:
		return jsonMap(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = jsonValue(e)
		}
		return out
	case cbor.Tag:
		return map[string]any{"tag": v.Number, "value": jsonValue(v.Content)}
	case big.Int:
		return v.String()
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return strconv.FormatFloat(v, 'g', -1, 64)
		}
		return v
	case float32:
		return jsonValue(float64(v))
	case cbor.SimpleValue:
		return map[string]any{"simple": uint8(v)}
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano)
	case nil, bool, string, int64, []byte:
		return v
	}
	return fmt.Sprint(v)
}
