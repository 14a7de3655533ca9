package http

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/canasta/canasta"
)

// The duplicate review queue: registrars decide the cases opened when a
// likely duplicate was enrolled. Listing cases reads the records of the
// households concerned, so it needs a stated purpose like any search.

// dedupPage lists open review cases.
type dedupPage struct {
	Purposes []canasta.Purpose
	Purpose  canasta.Purpose
	Cases    []*canasta.DedupCase
	Listed   bool
	Decided  *canasta.DedupCase
	Error    string
}

func (s *Server) handleDedupPage(w http.ResponseWriter, r *http.Request) error {
	if s.DedupService == nil {
		return canasta.Errorf(canasta.ENOTFOUND, "Duplicate review is not enabled on this server.")
	}
	s.render(w, r, http.StatusOK, "dedup", "dedup.title", dedupPage{Purposes: canasta.Purposes, Purpose: canasta.PurposeEnrollment})
	return nil
}

// handleDedupList lists the open cases for the stated purpose.
func (s *Server) handleDedupList(w http.ResponseWriter, r *http.Request) error {
	return s.renderDedupList(w, r, nil)
}

func (s *Server) renderDedupList(w http.ResponseWriter, r *http.Request, decided *canasta.DedupCase) error {
	if s.DedupService == nil {
		return canasta.Errorf(canasta.ENOTFOUND, "Duplicate review is not enabled on this server.")
	}
	data := dedupPage{Purposes: canasta.Purposes, Decided: decided}
	purpose, err := canasta.ParsePurpose(r.PostForm.Get("purpose"))
	if err != nil {
		data.Error = canasta.ErrorMessage(err)
		s.render(w, r, http.StatusBadRequest, "dedup", "dedup.title", data)
		return nil
	}
	data.Purpose = purpose
	ctx := canasta.NewContextWithPurpose(r.Context(), purpose)
	cases, err := s.DedupService.FindDedupCases(ctx, canasta.DedupCaseFilter{Status: canasta.DedupCaseOpen, Limit: 100})
	if err != nil {
		return fmt.Errorf("dedup cases: %w", err)
	}
	data.Cases, data.Listed = cases, true
	s.render(w, r, http.StatusOK, "dedup", "dedup.title", data)
	return nil
}

// handleDedupDecide confirms or dismisses a case with the registrar's
// note, then shows the queue again.
func (s *Server) handleDedupDecide(w http.ResponseWriter, r *http.Request) error {
	if s.DedupService == nil {
		return canasta.Errorf(canasta.ENOTFOUND, "Duplicate review is not enabled on this server.")
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return canasta.Errorf(canasta.ENOTFOUND, "There is no review case %q.", r.PathValue("id"))
	}
	purpose, err := canasta.ParsePurpose(r.PostForm.Get("purpose"))
	if err != nil {
		return err
	}
	ctx := canasta.NewContextWithPurpose(r.Context(), purpose)
	note := r.PostForm.Get("note")
	var c *canasta.DedupCase
	switch r.PostForm.Get("decision") {
	case "confirm":
		c, err = s.DedupService.ConfirmDedupCase(ctx, id, note)
	case "dismiss":
		c, err = s.DedupService.DismissDedupCase(ctx, id, note)
	default:
		err = canasta.Errorf(canasta.EINVALID, "Choose to confirm or dismiss the case.")
	}
	if err != nil {
		return fmt.Errorf("decide case %d: %w", id, err)
	}
	return s.renderDedupList(w, r, c)
}
