package http

import (
	"context"
	"fmt"
	"net/http"

	"github.com/canasta/canasta"
)

// dryRunRequest is the body of a dry run: the proposed program as it
// would be created, the period to compare (default: the current one) and
// an optional price of its commodity.
type dryRunRequest struct {
	Program  programRequest    `json:"program"`
	Period   string            `json:"period"`
	UnitCost *canasta.UnitCost `json:"unit_cost"`
}

// handleDryRun evaluates a proposed rule for the program without
// publishing it; publishing is creating the program anew.
func (s *Server) handleDryRun(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "id", "program")
	if err != nil {
		return err
	}
	var req dryRunRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	dr := &canasta.DryRunRequest{
		ProgramID: id,
		Proposal: canasta.Program{
			Name:        req.Program.Name,
			Commodity:   req.Program.Commodity,
			Eligibility: req.Program.Eligibility,
			Quantity:    req.Program.Quantity,
			Period:      req.Program.Period,
		},
		Period:   canasta.Period(req.Period),
		UnitCost: req.UnitCost,
	}
	if req.Period != "" {
		if _, err := canasta.ParsePeriod(req.Period); err != nil {
			return err
		}
	}
	res, err := s.DryRun(r.Context(), dr)
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, res)
	return nil
}

// DryRun runs req, with the period current at the server's clock when it
// names none, as the API does; a page's form calls it and renders the
// result.
func (s *Server) DryRun(ctx context.Context, req *canasta.DryRunRequest) (*canasta.DryRun, error) {
	if s.DryRunService == nil {
		return nil, fmt.Errorf("dry run: no dry-run service configured")
	}
	r := *req
	if r.Period == "" {
		r.Period = canasta.PeriodOf(s.now())
	}
	res, err := s.DryRunService.DryRun(ctx, &r)
	if err != nil {
		return nil, fmt.Errorf("dry run of program %d: %w", r.ProgramID, err)
	}
	return res, nil
}
