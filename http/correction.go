package http

import (
	"fmt"
	"net/http"

	"github.com/canasta/canasta"
)

// CorrectionRequest is the body of POST /api/v1/households/{id}/corrections:
// the household as read (GET /api/v1/households/{id}) with the corrected
// values, and why.
type CorrectionRequest struct {
	Reason    string             `json:"reason"`
	Household *canasta.Household `json:"household"`
}

// handleCorrectHousehold corrects registered data. The purpose must be
// data-correction; the person sees the correction in the portal.
func (s *Server) handleCorrectHousehold(w http.ResponseWriter, r *http.Request) error {
	r, err := withPurpose(r, true)
	if err != nil {
		return err
	}
	var req CorrectionRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.Household == nil {
		return canasta.Errorf(canasta.EINVALID, "Send the corrected household as \"household\" and the reason as \"reason\".")
	}
	req.Household.ID = r.PathValue("id")
	c, err := s.CorrectionService.CorrectHousehold(r.Context(), req.Household, req.Reason)
	if err != nil {
		return fmt.Errorf("correct household: %w", err)
	}
	s.writeJSON(w, r, http.StatusCreated, c)
	return nil
}

func (s *Server) handleFindCorrections(w http.ResponseWriter, r *http.Request) error {
	cs, err := s.CorrectionService.FindCorrections(r.Context(), r.PathValue("id"))
	if err != nil {
		return fmt.Errorf("find corrections: %w", err)
	}
	s.writeJSON(w, r, http.StatusOK, map[string]any{"corrections": cs})
	return nil
}

// handlePortalCorrections shows the person every correction of their
// household's data.
func (s *Server) handlePortalCorrections(w http.ResponseWriter, r *http.Request) error {
	cs, err := s.CorrectionService.FindCorrections(r.Context(), portalHousehold(r))
	if err != nil {
		return fmt.Errorf("portal corrections: %w", err)
	}
	s.writeJSON(w, r, http.StatusOK, map[string]any{"corrections": cs})
	return nil
}
