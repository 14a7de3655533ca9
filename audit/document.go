package audit

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// documentContext prefixes what a document signature covers, so that no
// signature over a document can pass for one over a checkpoint note made
// with the same key, or the other way round.
const documentContext = "canasta signed document v1\n"

// SignDocument signs the exact bytes of a document, such as a household's
// export, with the log's key, and returns the verifier key that checks the
// Ed25519 signature: the same key auditors hold for checkpoints. The
// signature covers documentContext followed by the document.
func (l *Log) SignDocument(ctx context.Context, doc []byte) (string, []byte, error) {
	l.mu.Lock()
	err := l.keys(ctx)
	skey, vkey := l.skey, l.vkey
	l.mu.Unlock()
	if err != nil {
		return "", nil, err
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		return "", nil, err
	}
	sig, err := signer.Sign(append([]byte(documentContext), doc...))
	if err != nil {
		return "", nil, err
	}
	return vkey, sig, nil
}

// VerifyDocument checks a signature made by SignDocument against a note
// verifier key.
func VerifyDocument(vkey string, doc, sig []byte) error {
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 {
		return errors.New("malformed verifier key")
	}
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) != 1+ed25519.PublicKeySize || raw[0] != 1 {
		return errors.New("not an Ed25519 verifier key")
	}
	if !ed25519.Verify(ed25519.PublicKey(raw[1:]), append([]byte(documentContext), doc...), sig) {
		return errors.New("signature does not match the document")
	}
	return nil
}
