package http

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/canasta/canasta"
)

// correctPage is a household's registered data in an editable form. The
// form is read with the purpose data-correction, the only purpose under
// which registered data may change.
type correctPage struct {
	Household *canasta.Household
	Income    string
	Reason    string
	Error     string
}

func (s *Server) correctionContext(r *http.Request) (*http.Request, error) {
	if s.CorrectionService == nil {
		return nil, canasta.Errorf(canasta.ENOTFOUND, "Corrections are not handled on this server.")
	}
	return r.WithContext(canasta.NewContextWithPurpose(r.Context(), canasta.PurposeDataCorrection)), nil
}

func (s *Server) handleCorrectPage(w http.ResponseWriter, r *http.Request) error {
	r, err := s.correctionContext(r)
	if err != nil {
		return err
	}
	h, err := s.HouseholdService.FindHouseholdByID(r.Context(), r.PathValue("id"))
	if err != nil {
		return fmt.Errorf("correct household: %w", err)
	}
	s.render(w, r, http.StatusOK, "correct", "correct.title", correctPage{Household: h, Income: incomeText(h.MonthlyIncome)})
	return nil
}

// incomeText shows minor units as the amount a registrar types.
func incomeText(minor int64) string {
	if minor < 0 {
		return ""
	}
	return decimal(minor, 100, 2)
}

// handleCorrect applies the form to the household as read and stores the
// correction with its reason. Members are matched by id; their number
// cannot change here.
func (s *Server) handleCorrect(w http.ResponseWriter, r *http.Request) error {
	r, err := s.correctionContext(r)
	if err != nil {
		return err
	}
	h, err := s.HouseholdService.FindHouseholdByID(r.Context(), r.PathValue("id"))
	if err != nil {
		return fmt.Errorf("correct household: %w", err)
	}
	f := r.PostForm
	data := correctPage{Household: h, Income: f.Get("income"), Reason: f.Get("reason")}
	err = applyCorrection(h, f)
	var c *canasta.Correction
	if err == nil {
		c, err = s.CorrectionService.CorrectHousehold(r.Context(), h, f.Get("reason"))
	}
	if code := canasta.ErrorCode(err); code == canasta.EINTERNAL {
		return fmt.Errorf("correct household: %w", err)
	} else if err != nil {
		data.Error = canasta.ErrorMessage(err)
		s.render(w, r, ErrorStatusCode(code), "correct", "correct.title", data)
		return nil
	}
	s.requestLogger(r).Info("household corrected", "correction", c.ID)
	http.Redirect(w, r, "/registrar/households/"+url.PathEscape(h.ID)+"?purpose="+string(canasta.PurposeDataCorrection)+"&done=corrected", http.StatusSeeOther)
	return nil
}

// applyCorrection copies the form's fields onto h.
func applyCorrection(h *canasta.Household, f url.Values) error {
	h.Address = canasta.Address{Line: strings.TrimSpace(f.Get("line")), Locality: strings.TrimSpace(f.Get("locality")),
		Region: strings.TrimSpace(f.Get("region")), Postcode: strings.TrimSpace(f.Get("postcode"))}
	h.MonthlyIncome = canasta.UnknownIncome
	if v := strings.TrimSpace(f.Get("income")); v != "" {
		minor, ok := parseMinor(v)
		if !ok {
			return canasta.Errorf(canasta.EINVALID, "Monthly income must be an amount such as 1500 or 1500.50, or left empty when unknown.")
		}
		h.MonthlyIncome = minor
	}
	for i, m := range h.Members {
		field := func(name string) string { return strings.TrimSpace(f.Get("m" + strconv.Itoa(i) + "_" + name)) }
		if field("id") != m.ID {
			return canasta.Errorf(canasta.ECONFLICT, "The household changed since the form was opened; open it again.")
		}
		m.GivenName, m.FamilyName, m.BirthDate = field("given"), field("family"), field("birth")
		m.Sex, m.NationalID, m.Relationship = canasta.Sex(field("sex")), field("nid"), field("rel")
		m.Disability = field("dis") != ""
	}
	return nil
}
