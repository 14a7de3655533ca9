package http

import (
	"fmt"
	"net/http"

	"github.com/canasta/canasta"
)

type cycleRequest struct {
	Period string `json:"period"`
}

// handleRunCycle runs a cycle to completion within the request; running
// one again is harmless, so a client that lost the response can retry.
func (s *Server) handleRunCycle(w http.ResponseWriter, r *http.Request) error {
	var req cycleRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	period, err := canasta.ParsePeriod(req.Period)
	if err != nil {
		return err
	}
	summary, err := s.CycleService.RunCycle(r.Context(), period, nil)
	if err != nil {
		return fmt.Errorf("run cycle %s: %w", period, err)
	}
	s.writeJSON(w, r, http.StatusOK, summary)
	return nil
}
