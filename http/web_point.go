package http

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/canasta/canasta"
	"github.com/canasta/canasta/card"
)

// pointPage is the operator's one screen: choose the point once, then
// scan or paste a card, see what remains, enter quantities and redeem.
type pointPage struct {
	Points    []*canasta.Point // offered when no point is chosen yet
	Point     *canasta.Point
	Choose    bool
	Code      string
	Check     *canasta.CardCheck
	RequestID string // fresh for each quantities form, so a double submit redeems once
	// State names a large error state: invalid, revoked, nothing-left,
	// unavailable, refused; "" when all is well.
	State  string
	Detail string // the service's message for the state
}

// nothingLeft reports whether the check leaves nothing to redeem.
func (p pointPage) NothingLeft() bool {
	if p.Check == nil {
		return false
	}
	for _, e := range p.Check.Entitlements {
		if e.Remaining > 0 {
			return false
		}
	}
	return true
}

func (s *Server) handlePointPage(w http.ResponseWriter, r *http.Request) error {
	data, err := s.pointBase(r)
	if err != nil {
		return err
	}
	s.render(w, r, http.StatusOK, "point", "point.title", data)
	return nil
}

// pointBase loads the operator's point, or the list to choose from.
func (s *Server) pointBase(r *http.Request) (pointPage, error) {
	sess := webFromRequest(r).session
	var data pointPage
	if sess.PointID != 0 && r.URL.Query().Get("change") == "" {
		p, err := s.PointService.FindPointByID(r.Context(), sess.PointID)
		if err == nil {
			data.Point = p
			return data, nil
		} else if canasta.ErrorCode(err) != canasta.ENOTFOUND {
			return data, fmt.Errorf("find point: %w", err)
		}
	}
	points, err := s.PointService.FindPoints(r.Context())
	if err != nil {
		return data, fmt.Errorf("find points: %w", err)
	}
	data.Points, data.Choose = points, true
	return data, nil
}

// handlePointPlace records which point the operator serves at, for this
// session.
func (s *Server) handlePointPlace(w http.ResponseWriter, r *http.Request) error {
	id, err := strconv.ParseInt(r.PostForm.Get("point_id"), 10, 64)
	if err != nil {
		return canasta.Errorf(canasta.EINVALID, "Choose a point from the list.")
	}
	p, err := s.PointService.FindPointByID(r.Context(), id)
	if err != nil {
		return fmt.Errorf("choose point: %w", err)
	}
	s.web.sessions.update(webFromRequest(r).secret, func(sess *session) { sess.PointID = p.ID })
	http.Redirect(w, r, "/point", http.StatusSeeOther)
	return nil
}

// handlePointCheck verifies a scanned or pasted code and shows what
// remains. Only validity and balances are shown, never the household.
func (s *Server) handlePointCheck(w http.ResponseWriter, r *http.Request) error {
	data, err := s.pointBase(r)
	if err != nil {
		return err
	}
	if data.Point == nil {
		s.render(w, r, http.StatusOK, "point", "point.title", data)
		return nil
	}
	data.Code = normaliseCode(r.PostForm.Get("code"))
	s.pointCheck(w, r, data, http.StatusOK)
	return nil
}

// pointCheck checks data.Code and renders the result with a fresh
// request id; status is used when the check succeeds.
func (s *Server) pointCheck(w http.ResponseWriter, r *http.Request, data pointPage, status int) {
	if data.Code == "" {
		data.State, data.Detail = "invalid", s.web.pages.message(webFromRequest(r).lang, "point.code_missing")
		s.render(w, r, http.StatusBadRequest, "point", "point.title", data)
		return
	}
	check, err := s.checkCard(r, data.Code)
	if err != nil {
		s.renderPointError(w, r, data, err)
		return
	}
	data.Check = check
	data.RequestID = canasta.NewRequestID(s.now())
	if data.NothingLeft() && data.State == "" {
		data.State = "nothing-left"
	}
	s.render(w, r, status, "point", "point.title", data)
}

// renderPointError shows a refused check or redemption as a large state
// the operator can read at arm's length.
func (s *Server) renderPointError(w http.ResponseWriter, r *http.Request, data pointPage, err error) {
	code := canasta.ErrorCode(err)
	status := ErrorStatusCode(code)
	data.Detail = canasta.ErrorMessage(err)
	switch code {
	case canasta.EINVALID:
		data.State = "invalid"
	case canasta.ECONFLICT:
		data.State = "revoked"
	case canasta.ENOTFOUND:
		data.State = "invalid"
	case canasta.EINTERNAL:
		s.requestLogger(r).Error("internal error", "route", stateFromContext(r.Context()).route, "err", err)
		data.State, data.Detail = "unavailable", ""
		if errors.Is(err, canasta.ErrUnavailable) {
			status = http.StatusServiceUnavailable
			w.Header().Set("Retry-After", "5")
		}
	default:
		data.State = "refused"
	}
	s.render(w, r, status, "point", "point.title", data)
}

// checkCard is what a point learns from a code: valid or not, and what
// remains this month, without names, household id or explanations.
func (s *Server) checkCard(r *http.Request, code string) (*canasta.CardCheck, error) {
	cards, err := s.cards()
	if err != nil {
		return nil, err
	}
	c, err := cards.VerifyCode(r.Context(), code)
	if err != nil {
		return nil, fmt.Errorf("check card: %w", err)
	}
	ctx := canasta.NewContextWithPurpose(r.Context(), canasta.PurposeRedemptionSupport)
	period := canasta.PeriodOf(s.now())
	es, err := s.EntitlementService.FindEntitlements(ctx, c.HouseholdID, period)
	if err != nil {
		return nil, fmt.Errorf("check card %s: %w", c.ID, err)
	}
	for _, e := range es {
		e.HouseholdID, e.Explanation = "", ""
	}
	return &canasta.CardCheck{Valid: true, CardID: c.ID, Version: c.Version, Period: period,
		Entitlements: nonNil(es), HouseholdID: c.HouseholdID}, nil
}

// normaliseCode trims what a paste or a scanner adds around a code:
// surrounding space and line breaks.
func normaliseCode(s string) string {
	return strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(s, "\r", ""), "\n", ""))
}

// handlePointRedeem debits the entered quantities. The request id came
// with the form, so submitting twice, or retrying after a lost answer,
// redeems once and shows the same receipt.
func (s *Server) handlePointRedeem(w http.ResponseWriter, r *http.Request) error {
	data, err := s.pointBase(r)
	if err != nil {
		return err
	}
	if data.Point == nil {
		http.Redirect(w, r, "/point", http.StatusSeeOther)
		return nil
	}
	form := r.PostForm
	data.Code = normaliseCode(form.Get("code"))
	requestID := form.Get("request_id")
	check, err := s.checkCard(r, data.Code)
	if err != nil {
		s.renderPointError(w, r, data, err)
		return nil
	}
	req := &canasta.RedemptionRequest{RequestID: requestID, PointID: data.Point.ID, HouseholdID: check.HouseholdID}
	for _, e := range check.Entitlements {
		v := strings.TrimSpace(form.Get("qty_" + strconv.FormatInt(e.ProgramID, 10)))
		if v == "" || v == "0" {
			continue
		}
		q, err := strconv.ParseInt(v, 10, 64)
		if err != nil || q < 0 {
			data.State, data.Detail = "refused", s.web.pages.message(webFromRequest(r).lang, "point.qty_whole", e.Program)
			data.Check, data.RequestID = check, requestID
			s.render(w, r, http.StatusBadRequest, "point", "point.title", data)
			return nil
		}
		req.Items = append(req.Items, canasta.RedemptionItem{ProgramID: e.ProgramID, Quantity: q})
	}
	if len(req.Items) == 0 {
		data.State, data.Detail = "refused", s.web.pages.message(webFromRequest(r).lang, "point.qty_none")
		data.Check, data.RequestID = check, requestID
		s.render(w, r, http.StatusBadRequest, "point", "point.title", data)
		return nil
	}
	_, _, err = s.RedemptionService.Redeem(r.Context(), req)
	switch code := canasta.ErrorCode(err); code {
	case "":
		http.Redirect(w, r, "/point/receipts/"+requestID, http.StatusSeeOther)
		return nil
	case canasta.EINTERNAL:
		s.renderPointError(w, r, data, fmt.Errorf("redeem: %w", err))
		return nil
	default:
		// Show the refusal above fresh balances and a new request id, so
		// the corrected form is a new request.
		data.State, data.Detail = "refused", canasta.ErrorMessage(err)
		if fresh, cerr := s.checkCard(r, data.Code); cerr == nil {
			check = fresh
		}
		data.Check, data.RequestID = check, canasta.NewRequestID(s.now())
		s.render(w, r, ErrorStatusCode(code), "point", "point.title", data)
		return nil
	}
}

// receiptPage shows one committed redemption.
type receiptPage struct {
	Receipt *canasta.Redemption
	Point   *canasta.Point
	Lines   []receiptLine
	// QR is a PNG of the receipt's text as a data URI, for the household
	// to photograph or a supervisor to scan.
	QR   template.URL
	Text string
}

type receiptLine struct {
	Program   string
	Unit      canasta.Unit
	Quantity  int64
	Remaining int64
}

// handlePointReceipt shows a receipt of this point.
func (s *Server) handlePointReceipt(w http.ResponseWriter, r *http.Request) error {
	sess := webFromRequest(r).session
	rec, err := s.RedemptionService.FindRedemptionByRequestID(r.Context(), r.PathValue("request_id"))
	if err != nil {
		return fmt.Errorf("find receipt: %w", err)
	}
	if sess.Role != canasta.RoleAdmin && rec.PointID != sess.PointID {
		return canasta.Errorf(canasta.ENOTFOUND, "There is no such receipt at this point.")
	}
	data := receiptPage{Receipt: rec}
	if p, err := s.PointService.FindPointByID(r.Context(), rec.PointID); err == nil {
		data.Point = p
	}
	programs, err := s.ProgramService.FindPrograms(r.Context())
	if err != nil {
		return fmt.Errorf("receipt programs: %w", err)
	}
	for _, it := range rec.Items {
		line := receiptLine{Program: strconv.FormatInt(it.ProgramID, 10), Quantity: it.Quantity, Remaining: it.Remaining}
		if i := slices.IndexFunc(programs, func(p *canasta.Program) bool { return p.ID == it.ProgramID }); i >= 0 {
			line.Program, line.Unit = programs[i].Name, programs[i].Commodity.Unit
		}
		data.Lines = append(data.Lines, line)
	}
	data.Text = receiptText(rec)
	if png, err := card.QRPNG(data.Text, 240); err == nil {
		data.QR = template.URL("data:image/png;base64," + base64Std(png))
	}
	s.render(w, r, http.StatusOK, "receipt", "receipt.title", data)
	return nil
}

// receiptText is what the receipt's QR carries: the request id, point,
// period, time and items; nothing about the household.
func receiptText(rec *canasta.Redemption) string {
	var b strings.Builder
	fmt.Fprintf(&b, "CANASTA-RECEIPT %s point=%d period=%s at=%s", rec.RequestID, rec.PointID, rec.Period, rec.CreatedAt.UTC().Format("2006-01-02T15:04:05Z"))
	for _, it := range rec.Items {
		fmt.Fprintf(&b, " p%d=%d", it.ProgramID, it.Quantity)
	}
	return b.String()
}
