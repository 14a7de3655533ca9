package http

import (
	"fmt"
	"net/http"

	"github.com/canasta/canasta"
)

// EntitlementsResponse is a household's balances in one period.
type EntitlementsResponse struct {
	HouseholdID  string             `json:"household_id"`
	Period       canasta.Period     `json:"period"`
	Entitlements []EntitlementEntry `json:"entitlements"`
}

// EntitlementEntry is one program's grant and what is left of it.
type EntitlementEntry struct {
	ProgramID   int64        `json:"program_id"`
	Program     string       `json:"program"`
	Commodity   string       `json:"commodity"`
	Unit        canasta.Unit `json:"unit"`
	Granted     int64        `json:"granted"`
	Redeemed    int64        `json:"redeemed"`
	Held        int64        `json:"held"`
	Remaining   int64        `json:"remaining"`
	Explanation string       `json:"explanation"`
}

// handleFindEntitlements serves balances for the given period, or the
// current month. Operators at a point check balances without naming a
// purpose; one given is still recorded.
func (s *Server) handleFindEntitlements(w http.ResponseWriter, r *http.Request) error {
	r, err := withPurpose(r, false)
	if err != nil {
		return err
	}
	period := canasta.PeriodOf(s.now())
	if p := r.URL.Query().Get("period"); p != "" {
		if period, err = canasta.ParsePeriod(p); err != nil {
			return err
		}
	}
	id := r.PathValue("id")
	es, err := s.EntitlementService.FindEntitlements(r.Context(), id, period)
	if err != nil {
		return fmt.Errorf("find entitlements: %w", err)
	}
	resp := EntitlementsResponse{HouseholdID: id, Period: period, Entitlements: make([]EntitlementEntry, len(es))}
	for i, e := range es {
		resp.Entitlements[i] = EntitlementEntry{
			ProgramID:   e.ProgramID,
			Program:     e.Program,
			Commodity:   e.Commodity,
			Unit:        e.Unit,
			Granted:     e.Granted,
			Redeemed:    e.Redeemed,
			Held:        e.Held,
			Remaining:   e.Remaining,
			Explanation: e.Explanation,
		}
	}
	s.writeJSON(w, r, http.StatusOK, resp)
	return nil
}
