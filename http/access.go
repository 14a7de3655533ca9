package http

import (
	"fmt"
	"net/http"

	"github.com/canasta/canasta"
)

func (s *Server) handleFindAccessEvents(w http.ResponseWriter, r *http.Request) error {
	r, err := withPurpose(r, true)
	if err != nil {
		return err
	}
	events, err := s.AccessLogService.FindAccessEvents(r.Context(), r.PathValue("id"))
	if err != nil {
		return fmt.Errorf("find access events: %w", err)
	}
	s.writeJSON(w, r, http.StatusOK, struct {
		Events []*canasta.AccessEvent `json:"events"`
	}{nonNil(events)})
	return nil
}
