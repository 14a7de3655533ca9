package http

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/canasta/canasta"
)

type programRequest struct {
	Name        string            `json:"name"`
	Commodity   canasta.Commodity `json:"commodity"`
	Eligibility string            `json:"eligibility"`
	Quantity    string            `json:"quantity"`
	Period      string            `json:"period"`
	// Replaces names the program a changed rule supersedes.
	Replaces int64 `json:"replaces,omitempty"`
}

func (s *Server) handleCreateProgram(w http.ResponseWriter, r *http.Request) error {
	var req programRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	p := &canasta.Program{
		Name:        req.Name,
		Commodity:   req.Commodity,
		Eligibility: req.Eligibility,
		Quantity:    req.Quantity,
		Period:      req.Period,
		Replaces:    req.Replaces,
	}
	if err := s.ProgramService.CreateProgram(r.Context(), p); err != nil {
		return fmt.Errorf("create program: %w", err)
	}
	w.Header().Set("Location", "/api/v1/programs/"+strconv.FormatInt(p.ID, 10))
	s.writeJSON(w, r, http.StatusCreated, p)
	return nil
}

// Programs and their rules are public so that anyone can check who is
// eligible for what, and why.
func (s *Server) handleFindPrograms(w http.ResponseWriter, r *http.Request) error {
	ps, err := s.ProgramService.FindPrograms(r.Context())
	if err != nil {
		return fmt.Errorf("find programs: %w", err)
	}
	s.writeJSON(w, r, http.StatusOK, struct {
		Programs []*canasta.Program `json:"programs"`
	}{nonNil(ps)})
	return nil
}

func (s *Server) handleFindProgram(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id", "program")
	if err != nil {
		return err
	}
	p, err := s.ProgramService.FindProgramByID(r.Context(), id)
	if err != nil {
		return fmt.Errorf("find program %d: %w", id, err)
	}
	s.writeJSON(w, r, http.StatusOK, p)
	return nil
}

// pathID parses a numeric id from the path. A malformed id names no
// record, so it is ENOTFOUND like any other id that does not exist.
func pathID(r *http.Request, name, what string) (int64, error) {
	v := r.PathValue(name)
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id <= 0 {
		return 0, canasta.Errorf(canasta.ENOTFOUND, "There is no %s with id %q.", what, v)
	}
	return id, nil
}
