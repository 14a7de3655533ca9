package http

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/canasta/canasta"
	"github.com/canasta/canasta/card"
)

// Ways a registrar looks a household up.
const (
	searchByCard      = "card"
	searchByHousehold = "household"
	searchBySource    = "source"
	// By national id or name, through the duplicate index: the matches
	// are listed by household id only, and opening one is the read.
	searchByNationalID = "national"
	searchByName       = "name"
)

// maxSearchMatches bounds the households a name or national id search
// lists.
const maxSearchMatches = 10

// searchKinds are the searches this server offers.
func (s *Server) searchKinds() []string {
	kinds := []string{searchByCard, searchByHousehold, searchBySource}
	if s.DedupService != nil {
		kinds = append(kinds, searchByNationalID, searchByName)
	}
	return kinds
}

// registrarPage is the search form.
type registrarPage struct {
	Kinds    []string
	Purposes []canasta.Purpose
	By       string
	Query    string
	Purpose  canasta.Purpose
	Error    string
	// Matches are the households a name or national id search found,
	// best first; none has been read yet.
	Matches  []*canasta.DuplicateCandidate
	Searched bool
}

func (s *Server) handleRegistrarPage(w http.ResponseWriter, r *http.Request) error {
	s.render(w, r, http.StatusOK, "registrar", "registrar.title", registrarPage{Kinds: s.searchKinds(), Purposes: canasta.Purposes, By: searchByCard})
	return nil
}

// handleRegistrarSearch finds one household for a stated purpose. It is a
// POST so that no prefetch or history replay reads a record; the read is
// access-logged by the store with the purpose.
func (s *Server) handleRegistrarSearch(w http.ResponseWriter, r *http.Request) error {
	f := r.PostForm
	data := registrarPage{Kinds: s.searchKinds(), Purposes: canasta.Purposes, By: f.Get("by"), Query: strings.TrimSpace(f.Get("q"))}
	purpose, err := canasta.ParsePurpose(f.Get("purpose"))
	if err == nil && data.Query == "" {
		err = canasta.Errorf(canasta.EINVALID, "Type what to search for.")
	}
	if err != nil {
		data.Error = canasta.ErrorMessage(err)
		s.render(w, r, http.StatusBadRequest, "registrar", "registrar.title", data)
		return nil
	}
	data.Purpose = purpose
	ctx := canasta.NewContextWithPurpose(r.Context(), purpose)
	var h *canasta.Household
	var c *canasta.Card
	switch data.By {
	case searchByCard:
		cards, cerr := s.cards()
		if cerr != nil {
			return cerr
		}
		if c, err = cards.FindCardByID(ctx, data.Query); err == nil {
			h, err = s.HouseholdService.FindHouseholdByID(ctx, c.HouseholdID)
		}
	case searchByHousehold:
		h, err = s.HouseholdService.FindHouseholdByID(ctx, data.Query)
	case searchBySource:
		h, err = s.HouseholdService.FindHouseholdBySourceID(ctx, data.Query)
	case searchByNationalID, searchByName:
		if s.DedupService == nil {
			err = canasta.Errorf(canasta.EINVALID, "Choose what to search by.")
			break
		}
		p := &canasta.PersonRecord{}
		if data.By == searchByNationalID {
			p.NationalID = data.Query
		} else {
			p.GivenName, p.FamilyName, _ = strings.Cut(data.Query, " ")
		}
		data.Matches, err = s.DedupService.FindDuplicates(ctx, p, canasta.CandidateThreshold, maxSearchMatches)
		if err == nil {
			data.Searched = true
			s.render(w, r, http.StatusOK, "registrar", "registrar.title", data)
			return nil
		}
	default:
		err = canasta.Errorf(canasta.EINVALID, "Choose what to search by.")
	}
	if code := canasta.ErrorCode(err); code == canasta.EINTERNAL {
		return fmt.Errorf("registrar search: %w", err)
	} else if err != nil {
		data.Error = canasta.ErrorMessage(err)
		s.render(w, r, ErrorStatusCode(code), "registrar", "registrar.title", data)
		return nil
	}
	return s.renderHousehold(w, r, householdPage{Household: h, Card: c, Purpose: purpose})
}

// householdPage shows one household's record to a registrar.
type householdPage struct {
	Household    *canasta.Household
	Card         *canasta.Card
	Purpose      canasta.Purpose
	Period       canasta.Period
	Entitlements []*canasta.Entitlement
	Notice       string // message key of a confirmation
	// Duplicates are the likely duplicates found when it was enrolled.
	Duplicates []*canasta.DuplicateCandidate
}

// handleRegistrarHousehold reads a household for the purpose in the query.
func (s *Server) handleRegistrarHousehold(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	purpose, err := canasta.ParsePurpose(q.Get("purpose"))
	if err != nil {
		return err
	}
	ctx := canasta.NewContextWithPurpose(r.Context(), purpose)
	h, err := s.HouseholdService.FindHouseholdByID(ctx, r.PathValue("id"))
	if err != nil {
		return fmt.Errorf("registrar household: %w", err)
	}
	var c *canasta.Card
	if id := q.Get("card"); id != "" && s.CardService != nil {
		if found, err := s.CardService.FindCardByID(r.Context(), id); err == nil && found.HouseholdID == h.ID {
			c = found
		}
	}
	notice := ""
	var dups []*canasta.DuplicateCandidate
	switch q.Get("done") {
	case "created":
		notice = "household.created"
		wr := webFromRequest(r)
		if wr.session.DuplicatesFor == h.ID {
			dups = wr.session.Duplicates
			s.web.sessions.update(wr.secret, func(sess *session) { sess.Duplicates, sess.DuplicatesFor = nil, "" })
		}
	case "revoked":
		notice = "card.revoked"
	case "corrected":
		notice = "correct.done"
	}
	return s.renderHousehold(w, r, householdPage{Household: h, Card: c, Purpose: purpose, Notice: notice, Duplicates: dups})
}

func (s *Server) renderHousehold(w http.ResponseWriter, r *http.Request, data householdPage) error {
	h, purpose := data.Household, data.Purpose
	period := canasta.PeriodOf(s.now())
	ctx := canasta.NewContextWithPurpose(r.Context(), purpose)
	es, err := s.EntitlementService.FindEntitlements(ctx, h.ID, period)
	if err != nil {
		return fmt.Errorf("household entitlements: %w", err)
	}
	data.Period, data.Entitlements = period, es
	s.render(w, r, http.StatusOK, "household", "household.title", data)
	return nil
}

// cardIssuedPage shows a new card once, with its PIN.
type cardIssuedPage struct {
	Card        *canasta.IssuedCard
	HouseholdID string
	Purpose     string
	QR          template.URL
}

// handleWebIssueCard issues or re-issues the household's card; the PIN
// is on this page only.
func (s *Server) handleWebIssueCard(w http.ResponseWriter, r *http.Request) error {
	cards, err := s.cards()
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	ic, err := cards.IssueCard(r.Context(), id)
	if err != nil {
		return fmt.Errorf("issue card: %w", err)
	}
	purpose, err := canasta.ParsePurpose(r.PostForm.Get("purpose"))
	if err != nil {
		purpose = canasta.PurposeEnrollment
	}
	data := cardIssuedPage{Card: ic, HouseholdID: id, Purpose: string(purpose)}
	if png, err := card.QRPNG(ic.Code, 320); err == nil {
		data.QR = template.URL("data:image/png;base64," + base64Std(png))
	}
	s.render(w, r, http.StatusCreated, "card_issued", "card.issued_title", data)
	return nil
}

// handleWebRevokeCard revokes the card's newest version and returns to
// the household.
func (s *Server) handleWebRevokeCard(w http.ResponseWriter, r *http.Request) error {
	cards, err := s.cards()
	if err != nil {
		return err
	}
	id := r.PathValue("card_id")
	c, err := cards.FindCardByID(r.Context(), id)
	if err != nil {
		return fmt.Errorf("revoke card: %w", err)
	}
	if err := cards.RevokeCard(r.Context(), id); err != nil {
		return fmt.Errorf("revoke card: %w", err)
	}
	purpose, err := canasta.ParsePurpose(r.PostForm.Get("purpose"))
	if err != nil {
		purpose = canasta.PurposeEnrollment
	}
	http.Redirect(w, r, "/registrar/households/"+url.PathEscape(c.HouseholdID)+"?purpose="+url.QueryEscape(string(purpose))+
		"&card="+url.QueryEscape(id)+"&done=revoked", http.StatusSeeOther)
	return nil
}

// handleWebCardFile serves a card's QR picture or printable PDF to a
// signed-in registrar, as the API serves them to a token.
func (s *Server) handleWebCardFile(w http.ResponseWriter, r *http.Request) error {
	return s.handleCardFile(w, r)
}

// parseMinor reads an amount typed with up to two decimals ("1500",
// "1500.5", "1500,50") as minor units, without floating point.
func parseMinor(s string) (int64, bool) {
	s = strings.ReplaceAll(strings.TrimSpace(s), ",", ".")
	whole, frac, hasFrac := strings.Cut(s, ".")
	if whole == "" || (hasFrac && (len(frac) == 0 || len(frac) > 2)) {
		return 0, false
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w < 0 || w > 1<<50 {
		return 0, false
	}
	var f int64
	if hasFrac {
		if len(frac) == 1 {
			frac += "0"
		}
		if f, err = strconv.ParseInt(frac, 10, 64); err != nil || f < 0 {
			return 0, false
		}
	}
	return w*100 + f, true
}
