package http

import (
	"fmt"
	"net/http"

	"github.com/canasta/canasta"
)

type attributeRequest struct {
	Name      string                `json:"name"`
	Type      canasta.AttributeType `json:"type"`
	AppliesTo canasta.AppliesTo     `json:"applies_to"`
	Purpose   string                `json:"purpose"`
}

func (s *Server) handleCreateAttribute(w http.ResponseWriter, r *http.Request) error {
	var req attributeRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	a := &canasta.Attribute{Name: req.Name, Type: req.Type, AppliesTo: req.AppliesTo, Purpose: req.Purpose}
	if err := s.AttributeService.CreateAttribute(r.Context(), a); err != nil {
		return fmt.Errorf("create attribute: %w", err)
	}
	s.writeJSON(w, r, http.StatusCreated, a)
	return nil
}

// handleFindAttributes is public: the registry's schema, and the purpose
// of every attribute in it, is published so anyone can see what is kept.
func (s *Server) handleFindAttributes(w http.ResponseWriter, r *http.Request) error {
	as, err := s.AttributeService.FindAttributes(r.Context())
	if err != nil {
		return fmt.Errorf("find attributes: %w", err)
	}
	s.writeJSON(w, r, http.StatusOK, struct {
		Attributes []*canasta.Attribute `json:"attributes"`
	}{nonNil(as)})
	return nil
}
