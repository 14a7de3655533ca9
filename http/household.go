package http

import (
	"fmt"
	"net/http"

	"github.com/canasta/canasta"
)

// householdRequest is what a client may send to register a household;
// ids and timestamps are the store's to assign.
type householdRequest struct {
	SourceID string          `json:"source_id"`
	Address  canasta.Address `json:"address"`
	// MonthlyIncome is a pointer so that leaving it out means unknown,
	// not zero.
	MonthlyIncome *int64          `json:"monthly_income"`
	Attributes    map[string]any  `json:"attributes"`
	Members       []memberRequest `json:"members"`
	HomePointID   int64           `json:"home_point_id"`
}

type memberRequest struct {
	GivenName    string         `json:"given_name"`
	FamilyName   string         `json:"family_name"`
	BirthDate    string         `json:"birth_date"`
	Sex          canasta.Sex    `json:"sex"`
	NationalID   string         `json:"national_id"`
	Relationship string         `json:"relationship"`
	Disability   bool           `json:"disability"`
	Attributes   map[string]any `json:"attributes"`
	SourceID     string         `json:"source_id"`
}

func (req *householdRequest) household() *canasta.Household {
	h := &canasta.Household{
		SourceID:      req.SourceID,
		Address:       req.Address,
		MonthlyIncome: canasta.UnknownIncome,
		Attributes:    req.Attributes,
		Members:       make([]*canasta.Person, len(req.Members)),
		HomePointID:   req.HomePointID,
	}
	if req.MonthlyIncome != nil {
		h.MonthlyIncome = *req.MonthlyIncome
	}
	for i, m := range req.Members {
		h.Members[i] = &canasta.Person{
			SourceID:     m.SourceID,
			GivenName:    m.GivenName,
			FamilyName:   m.FamilyName,
			BirthDate:    m.BirthDate,
			Sex:          m.Sex,
			NationalID:   m.NationalID,
			Relationship: m.Relationship,
			Disability:   m.Disability,
			Attributes:   m.Attributes,
		}
	}
	return h
}

func (s *Server) handleCreateHousehold(w http.ResponseWriter, r *http.Request) error {
	var req householdRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	h := req.household()
	if err := s.HouseholdService.CreateHousehold(r.Context(), h); err != nil {
		return fmt.Errorf("create household: %w", err)
	}
	w.Header().Set("Location", "/api/v1/households/"+h.ID)
	s.writeJSON(w, r, http.StatusCreated, enrolledHousehold{h, s.screenHousehold(r.Context(), h)})
	return nil
}

func (s *Server) handleFindHousehold(w http.ResponseWriter, r *http.Request) error {
	r, err := withPurpose(r, true)
	if err != nil {
		return err
	}
	h, err := s.HouseholdService.FindHouseholdByID(r.Context(), r.PathValue("id"))
	if err != nil {
		return fmt.Errorf("find household: %w", err)
	}
	s.writeJSON(w, r, http.StatusOK, h)
	return nil
}

// handleFindHouseholdBySourceID looks a household up by the id it had in
// the system it was imported from. Listing every household is not offered:
// each read of personal data is of one record, for a stated purpose.
func (s *Server) handleFindHouseholdBySourceID(w http.ResponseWriter, r *http.Request) error {
	r, err := withPurpose(r, true)
	if err != nil {
		return err
	}
	sourceID := r.URL.Query().Get("source_id")
	if sourceID == "" {
		return canasta.Errorf(canasta.EINVALID, "Give a source_id to look a household up by; households are read one at a time.")
	}
	h, err := s.HouseholdService.FindHouseholdBySourceID(r.Context(), sourceID)
	if err != nil {
		return fmt.Errorf("find household by source id: %w", err)
	}
	s.writeJSON(w, r, http.StatusOK, h)
	return nil
}
