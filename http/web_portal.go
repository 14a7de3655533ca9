package http

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/canasta/canasta"
)

// The person portal in the browser: a person signs in with their card and
// PIN and sees their own household only. Its reads carry no staff actor,
// so they are not staff access and are not logged as such.

// portalLoginPage is the data of the portal's sign-in page.
type portalLoginPage struct {
	Card   string
	Failed string // the service's message when sign-in was refused
}

func (s *Server) handlePortalLoginPage(w http.ResponseWriter, r *http.Request) error {
	if s.PortalService == nil {
		return canasta.Errorf(canasta.ENOTFOUND, "The person portal is not enabled on this server.")
	}
	if sess := webFromRequest(r).session; sess != nil && sess.CardID != "" {
		http.Redirect(w, r, "/portal", http.StatusSeeOther)
		return nil
	}
	s.render(w, r, http.StatusOK, "portal_login", "portal.login_title", portalLoginPage{})
	return nil
}

// handleWebPortalLogin checks the card and PIN with the portal service and
// opens a browser session tied to the portal session it returns.
func (s *Server) handleWebPortalLogin(w http.ResponseWriter, r *http.Request) error {
	if s.PortalService == nil {
		return canasta.Errorf(canasta.ENOTFOUND, "The person portal is not enabled on this server.")
	}
	cardText := normaliseCode(r.PostForm.Get("card"))
	if s.portalLogins != nil {
		// The API and these pages share one budget, so neither is a way
		// around the other's.
		if ok, wait := s.portalLogins.allow(r, s.now()); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
			s.render(w, r, http.StatusTooManyRequests, "portal_login", "portal.login_title", portalLoginPage{Card: cardText,
				Failed: s.web.pages.message(webFromRequest(r).lang, "login.limited")})
			return nil
		}
	}
	ps, secret, err := s.PortalService.Login(r.Context(), cardText, r.PostForm.Get("pin"))
	if code := canasta.ErrorCode(err); code == canasta.EINTERNAL {
		return fmt.Errorf("portal sign in: %w", err)
	} else if err != nil {
		s.render(w, r, ErrorStatusCode(code), "portal_login", "portal.login_title", portalLoginPage{Card: cardText, Failed: canasta.ErrorMessage(err)})
		return nil
	}
	wr := webFromRequest(r)
	if wr.secret != "" {
		s.web.sessions.delete(wr.secret)
	}
	now := s.now()
	s.web.sessions.sweep(now, s.Web)
	sid := s.web.sessions.create(session{CardID: ps.CardID, HouseholdID: ps.HouseholdID, PortalSecret: secret, CreatedAt: now, LastSeen: now})
	s.setCookie(w, r, sessionCookie, sid, 0)
	http.Redirect(w, r, "/portal", http.StatusSeeOther)
	return nil
}

// portalRequest puts the person's portal session into the request, so the
// portal's shared reads serve this household only. A portal session that
// ended (logged out elsewhere, expired) ends the browser session too.
func (s *Server) portalRequest(w http.ResponseWriter, r *http.Request) (*http.Request, bool) {
	wr := webFromRequest(r)
	if s.PortalService == nil {
		s.webError(w, r, canasta.Errorf(canasta.ENOTFOUND, "The person portal is not enabled on this server."))
		return nil, false
	}
	ps, err := s.PortalService.Authenticate(r.Context(), wr.session.PortalSecret)
	if code := canasta.ErrorCode(err); code == canasta.EINTERNAL {
		s.webError(w, r, fmt.Errorf("portal session: %w", err))
		return nil, false
	} else if err != nil || ps.HouseholdID != wr.session.HouseholdID {
		s.web.sessions.delete(wr.secret)
		s.clearCookie(w, r, sessionCookie)
		http.Redirect(w, r, "/portal/login", http.StatusSeeOther)
		return nil, false
	}
	return r.WithContext(canasta.NewContextWithPortalSession(r.Context(), ps)), true
}

// portalPage is the person's overview of their household.
type portalPage struct {
	Household    *canasta.Household
	Entitlements *EntitlementsResponse
	Receipts     []PortalReceipt
	Events       []*canasta.AccessEvent
	Grievances   []*canasta.Grievance
	Corrections  []*canasta.Correction
	Categories   []canasta.GrievanceCategory
	Programs     map[int64]*canasta.Program
	CardID       string
	Filed        string // id of a grievance just filed
	Error        string
}

func (s *Server) handlePortalHome(w http.ResponseWriter, r *http.Request) error {
	r, ok := s.portalRequest(w, r)
	if !ok {
		return nil
	}
	data, err := s.portalOverview(r)
	if err != nil {
		return err
	}
	data.Filed = r.URL.Query().Get("filed")
	s.render(w, r, http.StatusOK, "portal", "portal.title", data)
	return nil
}

func (s *Server) portalOverview(r *http.Request) (portalPage, error) {
	ctx := r.Context()
	id := portalHousehold(r)
	data := portalPage{Categories: canasta.GrievanceCategories, CardID: canasta.PortalSessionFromContext(ctx).CardID}
	var err error
	if data.Household, err = s.HouseholdService.FindHouseholdByID(ctx, id); err != nil {
		return data, fmt.Errorf("portal household: %w", err)
	}
	if data.Entitlements, err = s.portalEntitlements(r); err != nil {
		return data, err
	}
	if s.HouseholdRecords != nil {
		if data.Receipts, err = s.portalReceipts(r); err != nil {
			return data, err
		}
	}
	programs, err := s.ProgramService.FindPrograms(ctx)
	if err != nil {
		return data, fmt.Errorf("portal programs: %w", err)
	}
	data.Programs = map[int64]*canasta.Program{}
	for _, p := range programs {
		data.Programs[p.ID] = p
	}
	if data.Events, err = s.AccessLogService.FindAccessEvents(ctx, id); err != nil {
		return data, fmt.Errorf("portal access log: %w", err)
	}
	if s.CorrectionService != nil {
		if data.Corrections, err = s.CorrectionService.FindCorrections(ctx, id); err != nil {
			return data, fmt.Errorf("portal corrections: %w", err)
		}
	}
	if s.GrievanceService != nil {
		if data.Grievances, err = s.GrievanceService.FindGrievancesByHousehold(ctx, id); err != nil {
			return data, fmt.Errorf("portal grievances: %w", err)
		}
	}
	return data, nil
}

// handleWebPortalExport downloads everything held about the household as
// the signed document the API serves.
func (s *Server) handleWebPortalExport(w http.ResponseWriter, r *http.Request) error {
	r, ok := s.portalRequest(w, r)
	if !ok {
		return nil
	}
	return s.handlePortalExport(w, r)
}

// handleWebPortalGrievance files a grievance and returns to the overview.
func (s *Server) handleWebPortalGrievance(w http.ResponseWriter, r *http.Request) error {
	r, ok := s.portalRequest(w, r)
	if !ok {
		return nil
	}
	if s.GrievanceService == nil {
		return canasta.Errorf(canasta.ENOTFOUND, "Grievances are not handled on this server.")
	}
	category, err := canasta.ParseGrievanceCategory(r.PostForm.Get("category"))
	var g *canasta.Grievance
	if err == nil {
		g, err = s.GrievanceService.FileGrievance(r.Context(), portalHousehold(r), category, r.PostForm.Get("text"), r.PostForm.Get("case"))
	}
	if code := canasta.ErrorCode(err); code == canasta.EINTERNAL {
		return fmt.Errorf("file grievance: %w", err)
	} else if err != nil {
		data, oerr := s.portalOverview(r)
		if oerr != nil {
			return oerr
		}
		data.Error = canasta.ErrorMessage(err)
		s.render(w, r, ErrorStatusCode(code), "portal", "portal.title", data)
		return nil
	}
	http.Redirect(w, r, "/portal/grievances/"+g.ID, http.StatusSeeOther)
	return nil
}

// handleWebPortalGrievanceView follows one grievance and its answers.
func (s *Server) handleWebPortalGrievanceView(w http.ResponseWriter, r *http.Request) error {
	r, ok := s.portalRequest(w, r)
	if !ok {
		return nil
	}
	if s.GrievanceService == nil {
		return canasta.Errorf(canasta.ENOTFOUND, "Grievances are not handled on this server.")
	}
	g, err := s.GrievanceService.FindGrievanceForHousehold(r.Context(), portalHousehold(r), r.PathValue("id"))
	if err != nil {
		return fmt.Errorf("portal grievance: %w", err)
	}
	s.render(w, r, http.StatusOK, "grievance", "portal.grievance_title", g)
	return nil
}
