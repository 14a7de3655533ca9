package http

import (
	"fmt"
	"net/http"

	"github.com/canasta/canasta"
)

// landingPage is what the public landing shows: everything on it is
// published anyway, so no one signs in to read it.
type landingPage struct {
	Programs   []*canasta.Program
	Attributes []*canasta.Attribute
	Checkpoint string // the signed audit checkpoint; "" when not served
}

func (s *Server) handleLanding(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	programs, err := s.ProgramService.FindPrograms(ctx)
	if err != nil {
		return fmt.Errorf("landing programs: %w", err)
	}
	attrs, err := s.AttributeService.FindAttributes(ctx)
	if err != nil {
		return fmt.Errorf("landing attributes: %w", err)
	}
	data := landingPage{Programs: programs, Attributes: attrs}
	checkpoint, err := s.auditCheckpoint(r)
	if err != nil {
		// The landing stays useful without the checkpoint; the log says why.
		s.requestLogger(r).Warn("landing checkpoint", "err", err)
	}
	data.Checkpoint = checkpoint
	s.render(w, r, http.StatusOK, "landing", "landing.title", data)
	return nil
}

// auditCheckpoint returns the audit log's signed checkpoint as text, or ""
// when this server publishes no audit log.
func (s *Server) auditCheckpoint(r *http.Request) (string, error) {
	if s.AuditService == nil {
		return "", nil
	}
	b, err := s.AuditService.Checkpoint(r.Context())
	if err != nil {
		return "", fmt.Errorf("audit checkpoint: %w", err)
	}
	return string(b), nil
}
