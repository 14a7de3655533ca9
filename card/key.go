package card

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/canasta/canasta"
	"github.com/veraison/go-cose"
)

// Signature algorithms, by their COSE/JOSE names. Canasta signs with EdDSA;
// a verifier also accepts ES256 and PS256, which other issuers of the same
// kind of credential use. Nothing else verifies.
const (
	AlgEdDSA = "EdDSA"
	AlgES256 = "ES256"
	AlgPS256 = "PS256"
)

// allowedAlgs is the verification allow-list, by COSE algorithm number.
var allowedAlgs = map[cose.Algorithm]string{
	cose.AlgorithmEdDSA: AlgEdDSA,
	cose.AlgorithmES256: AlgES256,
	cose.AlgorithmPS256: AlgPS256,
}

func coseAlg(name string) (cose.Algorithm, bool) {
	for a, n := range allowedAlgs {
		if n == name {
			return a, true
		}
	}
	return 0, false
}

// algForKey names the one algorithm a public key may be used with, so a
// key can never be used under an algorithm its holder did not choose.
func algForKey(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case ed25519.PublicKey:
		return AlgEdDSA, nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return "", fmt.Errorf("ECDSA curve %s is not supported (only P-256)", k.Curve.Params().Name)
		}
		return AlgES256, nil
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return "", fmt.Errorf("RSA key of %d bits is too short (at least 2048)", k.N.BitLen())
		}
		return AlgPS256, nil
	}
	return "", fmt.Errorf("public key type %T is not supported", pub)
}

// KIDFromSPKI returns the key id of a key used without a certificate: the
// first 8 bytes of the SHA-256 of its DER SubjectPublicKeyInfo.
func KIDFromSPKI(der []byte) []byte {
	sum := sha256.Sum256(der)
	return sum[:8]
}

// KIDFromCertificate returns the key id of a key published in a
// certificate: the first 8 bytes of the SHA-256 of the DER certificate, as
// EU Digital COVID Certificates do.
func KIDFromCertificate(der []byte) []byte {
	sum := sha256.Sum256(der)
	return sum[:8]
}

// Key is a card-signing key. The store keeps it as MarshalPrivate's PEM
// with the times beside it.
type Key struct {
	KID    []byte
	Alg    string
	Signer crypto.Signer
	// CreatedAt and RetiredAt bound when the key may sign; RetiredAt is zero
	// while the key is in use. Verifiers refuse a card whose issue time lies
	// outside them.
	CreatedAt time.Time
	RetiredAt time.Time
}

// GenerateKey returns a new Ed25519 signing key.
func GenerateKey() (*Key, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate card key: %w", err)
	}
	return NewKey(priv)
}

// NewKey wraps a private key. The algorithm follows from the key type
// (Ed25519 → EdDSA, P-256 → ES256, RSA ≥ 2048 bits → PS256) and the key id
// from its SubjectPublicKeyInfo.
func NewKey(s crypto.Signer) (*Key, error) {
	alg, err := algForKey(s.Public())
	if err != nil {
		return nil, canasta.Errorf(canasta.EINVALID, "Card key: %s.", err)
	}
	spki, err := x509.MarshalPKIXPublicKey(s.Public())
	if err != nil {
		return nil, fmt.Errorf("card key: %w", err)
	}
	return &Key{KID: KIDFromSPKI(spki), Alg: alg, Signer: s}, nil
}

// MarshalPrivate returns the private key as PKCS#8 PEM.
func (k *Key) MarshalPrivate() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k.Signer)
	if err != nil {
		return nil, fmt.Errorf("marshal card key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParseKey reads a PKCS#8 private key, PEM or DER, as MarshalPrivate writes it.
func ParseKey(b []byte) (*Key, error) {
	der := b
	if block, _ := pem.Decode(b); block != nil {
		if block.Type != "PRIVATE KEY" {
			return nil, canasta.Errorf(canasta.EINVALID, "Card key PEM block is %q, not PRIVATE KEY (PKCS#8).", block.Type)
		}
		der = block.Bytes
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, canasta.Errorf(canasta.EINVALID, "Card key is not a PKCS#8 private key.")
	}
	s, ok := priv.(crypto.Signer)
	if !ok {
		return nil, canasta.Errorf(canasta.EINVALID, "Card key of type %T cannot sign.", priv)
	}
	return NewKey(s)
}

// Public returns what verifiers need to know of the key.
func (k *Key) Public() PublicKey {
	return PublicKey{KID: bytes.Clone(k.KID), Alg: k.Alg, Key: k.Signer.Public(),
		NotBefore: k.CreatedAt, NotAfter: k.RetiredAt}
}

// PublicKey is a verification key. NotBefore and NotAfter, when set, bound
// the issue times of the cards it may have signed.
type PublicKey struct {
	KID       []byte
	Alg       string
	Key       crypto.PublicKey
	NotBefore time.Time
	NotAfter  time.Time
}

// PublicKeyFromCertificate reads an X.509 certificate, DER or PEM: the key
// id is KIDFromCertificate's and the validity period bounds issue times.
func PublicKeyFromCertificate(derOrPEM []byte) (PublicKey, error) {
	der := derOrPEM
	if block, _ := pem.Decode(derOrPEM); block != nil {
		if block.Type != "CERTIFICATE" {
			return PublicKey{}, canasta.Errorf(canasta.EINVALID, "PEM block is %q, not CERTIFICATE.", block.Type)
		}
		der = block.Bytes
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return PublicKey{}, canasta.Errorf(canasta.EINVALID, "Not an X.509 certificate.")
	}
	alg, err := algForKey(cert.PublicKey)
	if err != nil {
		return PublicKey{}, canasta.Errorf(canasta.EINVALID, "Certificate key: %s.", err)
	}
	return PublicKey{KID: KIDFromCertificate(der), Alg: alg, Key: cert.PublicKey,
		NotBefore: cert.NotBefore, NotAfter: cert.NotAfter}, nil
}

// publicKeyJSON is the published form of a key, as served at /cards/keys.
type publicKeyJSON struct {
	KID       string     `json:"kid"`  // base64url, no padding
	Alg       string     `json:"alg"`  // EdDSA, ES256 or PS256
	SPKI      string     `json:"spki"` // standard base64 of the DER SubjectPublicKeyInfo
	NotBefore *time.Time `json:"not_before,omitempty"`
	NotAfter  *time.Time `json:"not_after,omitempty"`
}

func (p PublicKey) MarshalJSON() ([]byte, error) {
	spki, err := x509.MarshalPKIXPublicKey(p.Key)
	if err != nil {
		return nil, fmt.Errorf("marshal card public key: %w", err)
	}
	j := publicKeyJSON{KID: base64.RawURLEncoding.EncodeToString(p.KID), Alg: p.Alg,
		SPKI: base64.StdEncoding.EncodeToString(spki)}
	if !p.NotBefore.IsZero() {
		j.NotBefore = &p.NotBefore
	}
	if !p.NotAfter.IsZero() {
		j.NotAfter = &p.NotAfter
	}
	return json.Marshal(j)
}

func (p *PublicKey) UnmarshalJSON(b []byte) error {
	var j publicKeyJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	kid, err := base64.RawURLEncoding.DecodeString(j.KID)
	if err != nil || len(kid) == 0 {
		return canasta.Errorf(canasta.EINVALID, "Key id must be non-empty unpadded base64url.")
	}
	spki, err := base64.StdEncoding.DecodeString(j.SPKI)
	if err != nil {
		return canasta.Errorf(canasta.EINVALID, "Key spki must be standard base64.")
	}
	pub, err := x509.ParsePKIXPublicKey(spki)
	if err != nil {
		return canasta.Errorf(canasta.EINVALID, "Key spki is not a DER SubjectPublicKeyInfo.")
	}
	alg, err := algForKey(pub)
	if err != nil {
		return canasta.Errorf(canasta.EINVALID, "Key: %s.", err)
	}
	if alg != j.Alg {
		return canasta.Errorf(canasta.EINVALID, "Key alg %q does not match its %s key.", j.Alg, alg)
	}
	*p = PublicKey{KID: kid, Alg: alg, Key: pub}
	if j.NotBefore != nil {
		p.NotBefore = *j.NotBefore
	}
	if j.NotAfter != nil {
		p.NotAfter = *j.NotAfter
	}
	return nil
}

// signedAt reports whether the key may have signed at t.
func (p PublicKey) signedAt(t time.Time) bool {
	return (p.NotBefore.IsZero() || !t.Before(p.NotBefore)) && (p.NotAfter.IsZero() || t.Before(p.NotAfter))
}

// KeySet holds the keys a verifier trusts, by key id. It is read-only once
// built, so one set may serve concurrent verifications.
type KeySet struct {
	byKID map[string]trustedKey
}

type trustedKey struct {
	pub      PublicKey
	verifier cose.Verifier
}

// NewKeySet builds a set. Each key's algorithm must be on the allow-list and
// fit its key; two keys may not share a key id.
func NewKeySet(keys ...PublicKey) (*KeySet, error) {
	s := &KeySet{byKID: make(map[string]trustedKey, len(keys))}
	for _, k := range keys {
		if len(k.KID) == 0 {
			return nil, canasta.Errorf(canasta.EINVALID, "A trusted key needs a key id.")
		}
		want, err := algForKey(k.Key)
		if err != nil {
			return nil, canasta.Errorf(canasta.EINVALID, "Key %x: %s.", k.KID, err)
		}
		if k.Alg != want {
			return nil, canasta.Errorf(canasta.EINVALID, "Key %x: algorithm %q does not fit its %s key.", k.KID, k.Alg, want)
		}
		alg, _ := coseAlg(k.Alg)
		v, err := cose.NewVerifier(alg, k.Key)
		if err != nil {
			return nil, fmt.Errorf("key %x: %w", k.KID, err)
		}
		if _, dup := s.byKID[string(k.KID)]; dup {
			return nil, canasta.Errorf(canasta.EINVALID, "Two trusted keys share key id %x.", k.KID)
		}
		s.byKID[string(k.KID)] = trustedKey{pub: k, verifier: v}
	}
	return s, nil
}

// FindKey returns the key with this key id.
func (s *KeySet) FindKey(kid []byte) (PublicKey, bool) {
	t, ok := s.find(kid)
	return t.pub, ok
}

func (s *KeySet) find(kid []byte) (trustedKey, bool) {
	if s == nil {
		return trustedKey{}, false
	}
	t, ok := s.byKID[string(kid)]
	return t, ok
}

// Keys lists the set's keys ordered by key id.
func (s *KeySet) Keys() []PublicKey {
	if s == nil {
		return nil
	}
	out := make([]PublicKey, 0, len(s.byKID))
	for _, t := range s.byKID {
		out = append(out, t.pub)
	}
	slices.SortFunc(out, func(a, b PublicKey) int { return bytes.Compare(a.KID, b.KID) })
	return out
}

// signer returns the COSE signer for k, refusing a key outside its period.
func (k *Key) signer(at time.Time) (cose.Signer, cose.Algorithm, error) {
	alg, ok := coseAlg(k.Alg)
	if !ok {
		return nil, 0, canasta.Errorf(canasta.EINVALID, "Card key algorithm %q is not EdDSA, ES256 or PS256.", k.Alg)
	}
	if len(k.KID) == 0 {
		return nil, 0, errors.New("card key has no key id")
	}
	if !k.Public().signedAt(at) {
		return nil, 0, canasta.Errorf(canasta.EINVALID, "Card key %x may not sign at %s: it is valid from %s to %s.",
			k.KID, at.UTC().Format(time.RFC3339), fmtTime(k.CreatedAt), fmtTime(k.RetiredAt))
	}
	s, err := cose.NewSigner(alg, k.Signer)
	if err != nil {
		return nil, 0, fmt.Errorf("card key %x: %w", k.KID, err)
	}
	return s, alg, nil
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "(open)"
	}
	return t.UTC().Format(time.RFC3339)
}
