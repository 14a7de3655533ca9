package canasta

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"time"
)

// Token is a staff bearer token. Only the SHA-256 of its secret is stored;
// the secret has 256 bits of entropy, so a fast hash is enough.
type Token struct {
	ID        int64      `json:"id"`
	Name      string     `json:"name"`
	Role      Role       `json:"role"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// TokenPrefix starts every token secret, so a leaked one is recognisable.
const TokenPrefix = "cnst_"

// NewTokenSecret returns a fresh random token secret.
func NewTokenSecret() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("canasta: crypto/rand failed: " + err.Error())
	}
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// HashTokenSecret returns what is stored for a secret.
func HashTokenSecret(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return sum[:]
}

// TokenService issues and checks staff tokens.
type TokenService interface {
	// CreateToken stores a new token for the role and returns it with its
	// secret, which is shown once. EINVALID for an unknown role.
	CreateToken(ctx context.Context, role Role, name string) (*Token, string, error)

	// Authenticate returns the live token whose secret this is. A token
	// created or revoked by another process counts from the next call that
	// begins after that process's call returned. EUNAUTHORIZED if unknown
	// or revoked.
	Authenticate(ctx context.Context, secret string) (*Token, error)

	// RevokeToken revokes a token. ENOTFOUND if none.
	RevokeToken(ctx context.Context, id int64) error

	// FindTokens lists tokens, without secrets.
	FindTokens(ctx context.Context) ([]*Token, error)
}
