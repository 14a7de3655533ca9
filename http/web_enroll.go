package http

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/canasta/canasta"
)

// Rows of members an enrolment form starts with and may grow to.
const (
	enrollRows    = 3
	maxEnrollRows = canasta.MaxMembers
	// maxEnrollCandidates bounds the candidates shown per member.
	maxEnrollCandidates = 5
)

// enrollPage is the enrolment form, refilled with what was typed when it
// comes back with an error.
type enrollPage struct {
	Form       url.Values
	Rows       int
	Household  []*canasta.Attribute
	Person     []*canasta.Attribute
	Error      string
	Duplicates []*canasta.DuplicateCandidate
	// Checked is set once a duplicate check ran, so "none found" can be
	// told apart from "not checked".
	Checked bool
	// Dedup says whether this server looks for duplicates at all.
	Dedup bool
}

// V returns the typed value of a field, for refilling the form.
func (p enrollPage) V(name string) string { return p.Form.Get(name) }

// MV returns member i's field.
func (p enrollPage) MV(i int, field string) string { return p.Form.Get(memberField(i, field)) }

// PV returns member i's value of a person attribute.
func (p enrollPage) PV(i int, attr string) string { return p.Form.Get(memberField(i, "attr_"+attr)) }

func memberField(i int, field string) string { return "m" + strconv.Itoa(i) + "_" + field }

func (s *Server) handleEnrollPage(w http.ResponseWriter, r *http.Request) error {
	data, err := s.enrollBase(r, url.Values{}, enrollRows)
	if err != nil {
		return err
	}
	s.render(w, r, http.StatusOK, "enroll", "enroll.title", data)
	return nil
}

func (s *Server) enrollBase(r *http.Request, form url.Values, rows int) (enrollPage, error) {
	attrs, err := s.AttributeService.FindAttributes(r.Context())
	if err != nil {
		return enrollPage{}, fmt.Errorf("enrol attributes: %w", err)
	}
	data := enrollPage{Form: form, Rows: rows, Dedup: s.DedupService != nil}
	for _, a := range attrs {
		if a.AppliesTo == canasta.AppliesToHousehold {
			data.Household = append(data.Household, a)
		} else {
			data.Person = append(data.Person, a)
		}
	}
	return data, nil
}

// handleEnroll registers a household, or adds a member row when that
// button was pressed: the form works without JavaScript.
func (s *Server) handleEnroll(w http.ResponseWriter, r *http.Request) error {
	form := r.PostForm
	rows, _ := strconv.Atoi(form.Get("rows"))
	rows = min(max(rows, 1), maxEnrollRows)
	if form.Get("action") == "add" {
		data, err := s.enrollBase(r, form, min(rows+1, maxEnrollRows))
		if err != nil {
			return err
		}
		s.render(w, r, http.StatusOK, "enroll", "enroll.title", data)
		return nil
	}
	data, err := s.enrollBase(r, form, rows)
	if err != nil {
		return err
	}
	h, err := data.household()
	if err == nil && form.Get("action") == "check" {
		// A check needs names, not a complete form: it runs as the
		// registrar types.
		return s.enrollCheck(w, r, data, h)
	}
	if err == nil {
		err = h.Validate()
	}
	if err == nil {
		err = s.HouseholdService.CreateHousehold(r.Context(), h)
	}
	if code := canasta.ErrorCode(err); code == canasta.EINTERNAL {
		return fmt.Errorf("enrol household: %w", err)
	} else if err != nil {
		data.Error = canasta.ErrorMessage(err)
		s.render(w, r, ErrorStatusCode(code), "enroll", "enroll.title", data)
		return nil
	}
	if cands := s.screenHousehold(r.Context(), h); len(cands) > 0 {
		s.web.sessions.update(webFromRequest(r).secret, func(sess *session) {
			sess.Duplicates, sess.DuplicatesFor = cands, h.ID
		})
	}
	http.Redirect(w, r, "/registrar/households/"+url.PathEscape(h.ID)+"?purpose="+string(canasta.PurposeEnrollment)+"&done=created", http.StatusSeeOther)
	return nil
}

// enrollCheck looks for registered persons who may be the members being
// enrolled, before anything is stored. The lookup reads no one's record.
func (s *Server) enrollCheck(w http.ResponseWriter, r *http.Request, data enrollPage, h *canasta.Household) error {
	data.Checked = true
	if s.DedupService == nil {
		s.render(w, r, http.StatusOK, "enroll", "enroll.title", data)
		return nil
	}
	seen := map[string]bool{}
	for _, m := range h.Members {
		if m.GivenName == "" && m.FamilyName == "" {
			continue
		}
		cands, err := s.DedupService.FindDuplicates(r.Context(), &canasta.PersonRecord{Person: *m, Address: h.Address},
			canasta.CandidateThreshold, maxEnrollCandidates)
		if err != nil {
			return fmt.Errorf("enrol duplicate check: %w", err)
		}
		for _, c := range cands {
			if !seen[c.PersonID] {
				seen[c.PersonID] = true
				data.Duplicates = append(data.Duplicates, c)
			}
		}
	}
	s.render(w, r, http.StatusOK, "enroll", "enroll.title", data)
	return nil
}

// household builds the household the form describes. Member rows left
// wholly empty are skipped.
func (p enrollPage) household() (*canasta.Household, error) {
	f := p.Form
	h := &canasta.Household{
		SourceID: strings.TrimSpace(f.Get("source_id")),
		Address: canasta.Address{Line: strings.TrimSpace(f.Get("line")), Locality: strings.TrimSpace(f.Get("locality")),
			Region: strings.TrimSpace(f.Get("region")), Postcode: strings.TrimSpace(f.Get("postcode"))},
		MonthlyIncome: canasta.UnknownIncome,
	}
	if v := strings.TrimSpace(f.Get("income")); v != "" {
		minor, ok := parseMinor(v)
		if !ok {
			return nil, canasta.Errorf(canasta.EINVALID, "Monthly income must be an amount such as 1500 or 1500.50, or left empty when unknown.")
		}
		h.MonthlyIncome = minor
	}
	attrs, err := formAttributes(p.Household, func(name string) string { return f.Get("attr_" + name) })
	if err != nil {
		return nil, err
	}
	h.Attributes = attrs
	for i := range p.Rows {
		m := &canasta.Person{
			GivenName:    strings.TrimSpace(f.Get(memberField(i, "given"))),
			FamilyName:   strings.TrimSpace(f.Get(memberField(i, "family"))),
			BirthDate:    strings.TrimSpace(f.Get(memberField(i, "birth"))),
			Sex:          canasta.Sex(f.Get(memberField(i, "sex"))),
			NationalID:   strings.TrimSpace(f.Get(memberField(i, "nid"))),
			Relationship: strings.TrimSpace(f.Get(memberField(i, "rel"))),
			SourceID:     strings.TrimSpace(f.Get(memberField(i, "src"))),
			Disability:   f.Get(memberField(i, "dis")) != "",
		}
		if m.GivenName == "" && m.FamilyName == "" && m.BirthDate == "" && m.NationalID == "" && m.SourceID == "" {
			continue
		}
		if m.Relationship == "" {
			m.Relationship = map[bool]string{true: canasta.RelationshipHead, false: "member"}[len(h.Members) == 0]
		}
		pa, err := formAttributes(p.Person, func(name string) string { return f.Get(memberField(i, "attr_"+name)) })
		if err != nil {
			return nil, canasta.Errorf(canasta.EINVALID, "Member %d: %s", i+1, canasta.ErrorMessage(err))
		}
		m.Attributes = pa
		h.Members = append(h.Members, m)
	}
	return h, nil
}

// formAttributes reads declared attributes from form values by type;
// empty fields are left out, so "not declared" stays distinct from false
// or zero.
func formAttributes(attrs []*canasta.Attribute, get func(name string) string) (map[string]any, error) {
	out := map[string]any{}
	for _, a := range attrs {
		v := strings.TrimSpace(get(a.Name))
		if v == "" {
			continue
		}
		switch a.Type {
		case canasta.AttributeBool:
			out[a.Name] = v == "true"
		case canasta.AttributeInt:
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, canasta.Errorf(canasta.EINVALID, "Attribute %q must be a whole number.", a.Name)
			}
			out[a.Name] = n
		default:
			out[a.Name] = v
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}
