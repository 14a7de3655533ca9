package http

import (
	"fmt"
	"net/http"

	"github.com/canasta/canasta"
)

type redemptionRequest struct {
	RequestID   string                  `json:"request_id"`
	PointID     int64                   `json:"point_id"`
	HouseholdID string                  `json:"household_id"`
	Card        string                  `json:"card"` // the scanned card text, instead of household_id
	Items       []redemptionItemRequest `json:"items"`
}

// redemptionItemRequest leaves out Remaining, which only receipts carry.
type redemptionItemRequest struct {
	ProgramID int64 `json:"program_id"`
	Quantity  int64 `json:"quantity"`
}

// handleRedeem answers 201 for a new receipt and 200 for a replay of one
// already committed, so a point retrying after a lost response can tell
// that nothing more was debited. The household is named by its id or by
// its scanned card; a card that does not verify, or is revoked or
// replaced, debits nothing.
func (s *Server) handleRedeem(w http.ResponseWriter, r *http.Request) error {
	var req redemptionRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.Card != "" {
		if req.HouseholdID != "" {
			return canasta.Errorf(canasta.EINVALID, "Give either household_id or card, not both.")
		}
		cards, err := s.cards()
		if err != nil {
			return err
		}
		c, err := cards.VerifyCode(r.Context(), req.Card)
		if err != nil {
			return fmt.Errorf("redeem with card: %w", err)
		}
		req.HouseholdID = c.HouseholdID
	} else if req.HouseholdID == "" {
		return canasta.Errorf(canasta.EINVALID, "Give household_id or card (the scanned card text).")
	}
	rr := &canasta.RedemptionRequest{
		RequestID:   req.RequestID,
		PointID:     req.PointID,
		HouseholdID: req.HouseholdID,
		Items:       make([]canasta.RedemptionItem, len(req.Items)),
	}
	for i, it := range req.Items {
		rr.Items[i] = canasta.RedemptionItem{ProgramID: it.ProgramID, Quantity: it.Quantity}
	}
	receipt, replay, err := s.RedemptionService.Redeem(r.Context(), rr)
	if err != nil {
		return fmt.Errorf("redeem: %w", err)
	}
	status := http.StatusCreated
	if replay {
		status = http.StatusOK
	}
	s.writeJSON(w, r, status, receipt)
	return nil
}

func (s *Server) handleFindRedemption(w http.ResponseWriter, r *http.Request) error {
	receipt, err := s.RedemptionService.FindRedemptionByRequestID(r.Context(), r.PathValue("request_id"))
	if err != nil {
		return fmt.Errorf("find redemption: %w", err)
	}
	s.writeJSON(w, r, http.StatusOK, receipt)
	return nil
}
