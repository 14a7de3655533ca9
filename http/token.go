package http

import (
	"fmt"
	"net/http"
	"time"

	"github.com/canasta/canasta"
)

type tokenRequest struct {
	Role canasta.Role `json:"role"`
	Name string       `json:"name"`
}

// CreatedToken is a new token with its secret, which is shown only here.
type CreatedToken struct {
	ID        int64        `json:"id"`
	Role      canasta.Role `json:"role"`
	Name      string       `json:"name"`
	CreatedAt time.Time    `json:"created_at"`
	Token     string       `json:"token"`
}

func (s *Server) handleCreateToken(w http.ResponseWriter, r *http.Request) error {
	var req tokenRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	tok, secret, err := s.TokenService.CreateToken(r.Context(), req.Role, req.Name)
	if err != nil {
		return fmt.Errorf("create token: %w", err)
	}
	s.writeJSON(w, r, http.StatusCreated, CreatedToken{
		ID: tok.ID, Role: tok.Role, Name: tok.Name, CreatedAt: tok.CreatedAt, Token: secret,
	})
	return nil
}

func (s *Server) handleRevokeToken(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id", "token")
	if err != nil {
		return err
	}
	if err := s.TokenService.RevokeToken(r.Context(), id); err != nil {
		return fmt.Errorf("revoke token %d: %w", id, err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) handleFindTokens(w http.ResponseWriter, r *http.Request) error {
	ts, err := s.TokenService.FindTokens(r.Context())
	if err != nil {
		return fmt.Errorf("find tokens: %w", err)
	}
	s.writeJSON(w, r, http.StatusOK, struct {
		Tokens []*canasta.Token `json:"tokens"`
	}{nonNil(ts)})
	return nil
}
