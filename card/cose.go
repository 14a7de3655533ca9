package card

import (
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/veraison/go-cose"
)

// cborTagCWT is RFC 8392's tag for a CWT. Some issuers wrap the tagged
// COSE_Sign1 in it; it adds nothing to check.
const cborTagCWT = 61

// sign1 signs payload as a tagged COSE_Sign1 with alg and kid in the
// protected header, so neither can be changed without breaking the
// signature. Ed25519 signatures are deterministic, so the same key and
// payload always give the same bytes.
func sign1(k *Key, at time.Time, payload []byte) ([]byte, error) {
	signer, alg, err := k.signer(at)
	if err != nil {
		return nil, err
	}
	msg := cose.NewSign1Message()
	msg.Headers.Protected.SetAlgorithm(alg)
	msg.Headers.Protected[cose.HeaderLabelKeyID] = k.KID
	msg.Payload = payload
	if err := msg.Sign(rand.Reader, nil, signer); err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	b, err := msg.MarshalCBOR()
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	return b, nil
}

// signed is a COSE_Sign1 whose signature has been checked.
type signed struct {
	payload []byte
	key     PublicKey
	alg     string
}

// openSign1 parses a COSE_Sign1 and checks it against keys: the cose,
// algorithm, kid and signature steps of verification.
func openSign1(b []byte, keys *KeySet) (signed, error) {
	msg, err := parseSign1(b)
	if err != nil {
		return signed{}, &VerifyError{Step: StepCOSE, Err: err}
	}
	alg, err := headerAlg(msg)
	if err != nil {
		return signed{}, &VerifyError{Step: StepAlgorithm, Err: err}
	}
	kid, err := headerKID(msg)
	if err != nil {
		return signed{}, &VerifyError{Step: StepKID, Err: err}
	}
	tk, ok := keys.find(kid)
	if !ok {
		return signed{}, &VerifyError{Step: StepKID, Err: fmt.Errorf("no trusted key has key id %x", kid)}
	}
	if tk.pub.Alg != allowedAlgs[alg] {
		return signed{}, &VerifyError{Step: StepAlgorithm,
			Err: fmt.Errorf("header algorithm %s does not match key %x's %s", allowedAlgs[alg], kid, tk.pub.Alg)}
	}
	if _, inProtected := msg.Headers.Protected[cose.HeaderLabelAlgorithm]; !inProtected {
		// go-cose wants alg in the decoded protected map; the signature still
		// covers the raw protected bytes exactly as received.
		msg.Headers.Protected[cose.HeaderLabelAlgorithm] = alg
	}
	if err := msg.Verify(nil, tk.verifier); err != nil {
		return signed{}, &VerifyError{Step: StepSignature, Err: err}
	}
	return signed{payload: msg.Payload, key: tk.pub, alg: tk.pub.Alg}, nil
}

// parseSign1 accepts a COSE_Sign1 tagged (18), untagged, or tagged and
// wrapped in the CWT tag (61(18(…))); nothing may follow it.
func parseSign1(b []byte) (*cose.Sign1Message, error) {
	if len(b) >= 2 && b[0] == 0xd8 && b[1] == cborTagCWT {
		b = b[2:]
		if len(b) == 0 || b[0] != 0xd2 {
			return nil, errors.New("CWT tag does not wrap a tagged COSE_Sign1")
		}
	}
	var msg cose.Sign1Message
	switch {
	case len(b) > 0 && b[0] == 0xd2:
		if err := msg.UnmarshalCBOR(b); err != nil {
			return nil, err
		}
	case len(b) > 0 && b[0] == 0x84:
		if err := (*cose.UntaggedSign1Message)(&msg).UnmarshalCBOR(b); err != nil {
			return nil, err
		}
	default:
		return nil, errors.New("not a COSE_Sign1 message")
	}
	if msg.Payload == nil {
		return nil, errors.New("detached payload")
	}
	if crit, ok := msg.Headers.Protected[cose.HeaderLabelCritical]; ok {
		labels, ok := crit.([]any)
		if !ok {
			return nil, errors.New("critical header is not a list")
		}
		for _, l := range labels {
			if l != cose.HeaderLabelAlgorithm && l != cose.HeaderLabelKeyID {
				return nil, fmt.Errorf("critical header %v is not understood", l)
			}
		}
	}
	if msg.Headers.Protected == nil {
		msg.Headers.Protected = cose.ProtectedHeader{}
	}
	return &msg, nil
}

// headerAlg returns the signature algorithm. It belongs in the protected
// header; an issuer that put it only in the unprotected one is accepted,
// held to the same allow-list and to the key's own algorithm.
func headerAlg(msg *cose.Sign1Message) (cose.Algorithm, error) {
	pv, inP := msg.Headers.Protected[cose.HeaderLabelAlgorithm]
	uv, inU := msg.Headers.Unprotected[cose.HeaderLabelAlgorithm]
	var v any
	switch {
	case inP && inU:
		pa, perr := algValue(pv)
		ua, uerr := algValue(uv)
		if perr != nil || uerr != nil || pa != ua {
			return 0, errors.New("protected and unprotected headers name different algorithms")
		}
		v = pv
	case inP:
		v = pv
	case inU:
		v = uv
	default:
		return 0, errors.New("no algorithm in the headers")
	}
	alg, err := algValue(v)
	if err != nil {
		return 0, err
	}
	if _, ok := allowedAlgs[alg]; !ok {
		return 0, fmt.Errorf("algorithm %v is not allowed (only EdDSA, ES256, PS256)", alg)
	}
	return alg, nil
}

func algValue(v any) (cose.Algorithm, error) {
	switch a := v.(type) {
	case cose.Algorithm:
		return a, nil
	case int64:
		return cose.Algorithm(a), nil
	}
	return 0, fmt.Errorf("algorithm %v is not allowed (only EdDSA, ES256, PS256)", v)
}

// headerKID returns the key id: the protected one when present, so a key id
// added to the unprotected header cannot redirect verification to another key.
func headerKID(msg *cose.Sign1Message) ([]byte, error) {
	v, ok := msg.Headers.Protected[cose.HeaderLabelKeyID]
	if !ok {
		v, ok = msg.Headers.Unprotected[cose.HeaderLabelKeyID]
	}
	if !ok {
		return nil, errors.New("no key id in the headers")
	}
	kid, ok := v.([]byte)
	if !ok || len(kid) == 0 {
		return nil, errors.New("key id is not a non-empty byte string")
	}
	return kid, nil
}
