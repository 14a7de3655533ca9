package http

import (
	"context"
	"fmt"
	"net/http"

	"github.com/canasta/canasta"
)

// enrolledHousehold is the answer to an enrollment: the household as
// stored, and the registered persons each new member may duplicate.
type enrolledHousehold struct {
	*canasta.Household
	Duplicates []*canasta.DuplicateCandidate `json:"duplicates"`
}

// screenHousehold looks up likely duplicates of a household just created.
// The household is registered whatever happens here, so a failure is
// logged, not returned: the case can be found later by the batch search.
func (s *Server) screenHousehold(ctx context.Context, h *canasta.Household) []*canasta.DuplicateCandidate {
	if s.DedupService == nil {
		return []*canasta.DuplicateCandidate{}
	}
	cs, err := s.DedupService.ScreenHousehold(ctx, h)
	if err != nil {
		s.logger().Error("screen household for duplicates", "household", h.ID, "err", err)
		return []*canasta.DuplicateCandidate{}
	}
	return cs
}

// dedupDecision is the body of a review decision.
type dedupDecision struct {
	Note string `json:"note"`
}

func (s *Server) dedupService() (canasta.DedupService, error) {
	if s.DedupService == nil {
		return nil, canasta.Errorf(canasta.ENOTFOUND, "Duplicate review is not enabled on this server.")
	}
	return s.DedupService, nil
}

// handleFindDedupCases lists review cases; each listed case is a read of
// both households' records, for the stated purpose.
func (s *Server) handleFindDedupCases(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.dedupService()
	if err != nil {
		return err
	}
	if r, err = withPurpose(r, true); err != nil {
		return err
	}
	q := r.URL.Query()
	f := canasta.DedupCaseFilter{Status: canasta.DedupCaseStatus(q.Get("status"))}
	switch f.Status {
	case "", canasta.DedupCaseOpen, canasta.DedupCaseConfirmed, canasta.DedupCaseDismissed, canasta.DedupCaseContested, canasta.DedupCaseUndone:
	default:
		return canasta.Errorf(canasta.EINVALID, "Unknown case status %q: use open, confirmed, dismissed, contested or undone.", f.Status)
	}
	if f.Limit, err = pageParam(q.Get("limit"), "limit"); err != nil {
		return err
	}
	if f.Offset, err = pageParam(q.Get("offset"), "offset"); err != nil {
		return err
	}
	cases, err := svc.FindDedupCases(r.Context(), f)
	if err != nil {
		return fmt.Errorf("find dedup cases: %w", err)
	}
	s.writeJSON(w, r, http.StatusOK, cases)
	return nil
}

func (s *Server) handleFindDedupCase(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.dedupService()
	if err != nil {
		return err
	}
	if r, err = withPurpose(r, true); err != nil {
		return err
	}
	id, err := pathID(r, "id", "duplicate case")
	if err != nil {
		return err
	}
	c, err := svc.FindDedupCaseByID(r.Context(), id)
	if err != nil {
		return fmt.Errorf("find dedup case: %w", err)
	}
	s.writeJSON(w, r, http.StatusOK, c)
	return nil
}

// handleDecideDedupCase serves the review decisions, which differ only in
// the service method they call.
func (s *Server) handleDecideDedupCase(decide func(svc canasta.DedupService, ctx context.Context, id int64, note string) (*canasta.DedupCase, error)) func(w http.ResponseWriter, r *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		svc, err := s.dedupService()
		if err != nil {
			return err
		}
		id, err := pathID(r, "id", "duplicate case")
		if err != nil {
			return err
		}
		var req dedupDecision
		if r.ContentLength != 0 {
			if err := decodeJSON(w, r, &req); err != nil {
				return err
			}
		}
		c, err := decide(svc, r.Context(), id, req.Note)
		if err != nil {
			return fmt.Errorf("decide dedup case %d: %w", id, err)
		}
		s.writeJSON(w, r, http.StatusOK, c)
		return nil
	}
}

var (
	confirmDedupCase = canasta.DedupService.ConfirmDedupCase
	dismissDedupCase = canasta.DedupService.DismissDedupCase
	undoDedupCase    = canasta.DedupService.UndoDedupCase
)
