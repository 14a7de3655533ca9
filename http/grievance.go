package http

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/canasta/canasta"
)

// grievanceSummary is a grievance as staff lists show it: ids, category,
// status and times, never the person's text or the answers.
type grievanceSummary struct {
	ID          string                    `json:"id"`
	HouseholdID string                    `json:"household_id"`
	Category    canasta.GrievanceCategory `json:"category"`
	Status      canasta.GrievanceStatus   `json:"status"`
	Assignee    string                    `json:"assignee"`
	Case        string                    `json:"case"`
	CreatedAt   time.Time                 `json:"created_at"`
	UpdatedAt   time.Time                 `json:"updated_at"`
	ClosedAt    *time.Time                `json:"closed_at"`
}

// errNoGrievances answers the grievance routes of a server run without a
// grievance service.
var errNoGrievances = canasta.Errorf(canasta.ENOTFOUND, "Grievances are not enabled on this server.")

func summarizeGrievance(g *canasta.Grievance) grievanceSummary {
	return grievanceSummary{ID: g.ID, HouseholdID: g.HouseholdID, Category: g.Category, Status: g.Status,
		Assignee: g.Assignee, Case: g.Case, CreatedAt: g.CreatedAt, UpdatedAt: g.UpdatedAt, ClosedAt: g.ClosedAt}
}

// handleFindGrievances lists grievances for staff, filtered by status and
// category. No personal text is read, so no purpose is asked for.
func (s *Server) handleFindGrievances(w http.ResponseWriter, r *http.Request) error {
	if s.GrievanceService == nil {
		return errNoGrievances
	}
	q := r.URL.Query()
	var f canasta.GrievanceFilter
	var err error
	if v := q.Get("status"); v != "" {
		if f.Status, err = canasta.ParseGrievanceStatus(v); err != nil {
			return err
		}
	}
	if v := q.Get("category"); v != "" {
		if f.Category, err = canasta.ParseGrievanceCategory(v); err != nil {
			return err
		}
	}
	if f.Limit, err = pageParam(q.Get("limit"), "limit"); err != nil {
		return err
	}
	if f.Offset, err = pageParam(q.Get("offset"), "offset"); err != nil {
		return err
	}
	gs, err := s.GrievanceService.FindGrievances(r.Context(), f)
	if err != nil {
		return fmt.Errorf("find grievances: %w", err)
	}
	out := make([]grievanceSummary, len(gs))
	for i, g := range gs {
		out[i] = summarizeGrievance(g)
	}
	s.writeJSON(w, r, http.StatusOK, struct {
		Grievances []grievanceSummary `json:"grievances"`
	}{out})
	return nil
}

// pageParam parses an optional non-negative whole number.
func pageParam(v, name string) (int, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, canasta.Errorf(canasta.EINVALID, "The %s parameter must be a whole number, 0 or more.", name)
	}
	return n, nil
}

// handleFindGrievance reads one grievance's text: a read of personal data,
// which needs a purpose and is logged for the household to see.
func (s *Server) handleFindGrievance(w http.ResponseWriter, r *http.Request) error {
	if s.GrievanceService == nil {
		return errNoGrievances
	}
	r, err := withPurpose(r, true)
	if err != nil {
		return err
	}
	g, err := s.GrievanceService.FindGrievanceByID(r.Context(), r.PathValue("id"))
	if err != nil {
		return fmt.Errorf("find grievance: %w", err)
	}
	s.writeJSON(w, r, http.StatusOK, g)
	return nil
}

func (s *Server) handleAssignGrievance(w http.ResponseWriter, r *http.Request) error {
	if s.GrievanceService == nil {
		return errNoGrievances
	}
	var req struct {
		Assignee string `json:"assignee"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	g, err := s.GrievanceService.AssignGrievance(r.Context(), r.PathValue("id"), req.Assignee)
	if err != nil {
		return fmt.Errorf("assign grievance: %w", err)
	}
	s.writeJSON(w, r, http.StatusOK, summarizeGrievance(g))
	return nil
}

func (s *Server) handleAnswerGrievance(w http.ResponseWriter, r *http.Request) error {
	if s.GrievanceService == nil {
		return errNoGrievances
	}
	var req struct {
		Text string `json:"text"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	g, err := s.GrievanceService.AnswerGrievance(r.Context(), r.PathValue("id"), req.Text)
	if err != nil {
		return fmt.Errorf("answer grievance: %w", err)
	}
	s.writeJSON(w, r, http.StatusOK, summarizeGrievance(g))
	return nil
}

// handleCloseGrievance closes a grievance; the body, and its closing note,
// may be left out.
func (s *Server) handleCloseGrievance(w http.ResponseWriter, r *http.Request) error {
	if s.GrievanceService == nil {
		return errNoGrievances
	}
	var req struct {
		Text string `json:"text"`
	}
	if r.ContentLength != 0 {
		if err := decodeJSON(w, r, &req); err != nil {
			return err
		}
	}
	g, err := s.GrievanceService.CloseGrievance(r.Context(), r.PathValue("id"), req.Text)
	if err != nil {
		return fmt.Errorf("close grievance: %w", err)
	}
	s.writeJSON(w, r, http.StatusOK, summarizeGrievance(g))
	return nil
}
