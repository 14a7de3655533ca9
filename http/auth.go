package http

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/canasta/canasta"
)

// PurposeHeader states why a record is read, for clients that keep query
// strings free of it; the purpose query parameter does the same.
const PurposeHeader = "Canasta-Purpose"

// authenticate returns the actor for the request's bearer token. The token
// store is asked on every request, so a revocation counts at once.
func (s *Server) authenticate(r *http.Request) (*canasta.Actor, error) {
	header := r.Header.Get("Authorization")
	if header == "" {
		return nil, canasta.Errorf(canasta.EUNAUTHORIZED, "Send a staff token as Authorization: Bearer <token>.")
	}
	scheme, secret, _ := strings.Cut(header, " ")
	secret = strings.TrimSpace(secret)
	if !strings.EqualFold(scheme, "Bearer") || secret == "" {
		return nil, canasta.Errorf(canasta.EUNAUTHORIZED, "The Authorization header must be Bearer <token>.")
	}
	tok, err := s.TokenService.Authenticate(r.Context(), secret)
	switch code := canasta.ErrorCode(err); code {
	case "":
	case canasta.EINTERNAL:
		return nil, fmt.Errorf("authenticate: %w", err)
	default:
		// Whatever the store calls it, a token that does not authenticate
		// is a 401, never a hint about which tokens exist.
		return nil, canasta.Errorf(canasta.EUNAUTHORIZED, "The token is unknown or revoked.")
	}
	return &canasta.Actor{TokenID: tok.ID, Name: tok.Name, Role: tok.Role}, nil
}

// statedPurpose returns the purpose given in the query or header, or ""
// if none was given. Giving two different ones is an error.
func statedPurpose(r *http.Request) (canasta.Purpose, error) {
	q, h := r.URL.Query().Get("purpose"), r.Header.Get(PurposeHeader)
	if q != "" && h != "" && q != h {
		return "", canasta.Errorf(canasta.EINVALID, "The purpose parameter and the %s header disagree; state one purpose.", PurposeHeader)
	}
	if q == "" {
		q = h
	}
	if q == "" {
		return "", nil
	}
	return canasta.ParsePurpose(q)
}

// withPurpose puts the request's stated purpose into its context. With
// required set, a missing purpose is EINVALID: personal data is never read
// without one.
func withPurpose(r *http.Request, required bool) (*http.Request, error) {
	p, err := statedPurpose(r)
	if err != nil {
		return nil, err
	}
	if p == "" {
		if !required {
			return r, nil
		}
		_, err := canasta.ParsePurpose("")
		return nil, err
	}
	return r.WithContext(canasta.NewContextWithPurpose(r.Context(), p)), nil
}
