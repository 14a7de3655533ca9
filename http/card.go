package http

import (
	"bytes"
	"fmt"
	"net/http"
	"path"
	"strings"

	"github.com/canasta/canasta"
	"github.com/canasta/canasta/card"
)

// CardTitle heads every printed card.
const CardTitle = "Canasta"

// cardQRPixels is the side of a card's QR picture: enough for a label
// printer at 300 dpi on a 4 cm square.
const cardQRPixels = 512

// Media types of the card routes' non-JSON bodies.
const (
	contentTypePNG  = "image/png"
	contentTypePDF  = "application/pdf"
	contentTypeCOSE = `application/cose; cose-type="cose-sign1"`
)

// handleIssueCard issues, or re-issues, the household's card. The PIN is
// in this response only.
func (s *Server) handleIssueCard(w http.ResponseWriter, r *http.Request) error {
	cards, err := s.cards()
	if err != nil {
		return err
	}
	ic, err := cards.IssueCard(r.Context(), r.PathValue("id"))
	if err != nil {
		return fmt.Errorf("issue card: %w", err)
	}
	w.Header().Set("Location", "/api/v1/cards/"+ic.CardID)
	s.writeJSON(w, r, http.StatusCreated, ic)
	return nil
}

// handleCardFile serves a card as JSON (no extension), its QR code (.png)
// or a printable card (.pdf). ServeMux cannot match a wildcard followed by
// a suffix, so the extension is split off here.
func (s *Server) handleCardFile(w http.ResponseWriter, r *http.Request) error {
	cards, err := s.cards()
	if err != nil {
		return err
	}
	file := r.PathValue("file")
	ext := path.Ext(file)
	id := strings.TrimSuffix(file, ext)
	if ext != "" && ext != ".png" && ext != ".pdf" {
		return canasta.Errorf(canasta.ENOTFOUND, "Cards are served as JSON, .png or .pdf, not %q.", ext)
	}
	c, err := cards.FindCardByID(r.Context(), id)
	if err != nil {
		return fmt.Errorf("find card: %w", err)
	}
	if ext == "" {
		s.writeJSON(w, r, http.StatusOK, c)
		return nil
	}
	if c.RevokedAt != nil {
		return canasta.Errorf(canasta.ECONFLICT, "Card %s version %d is revoked; issue a new version to print.", c.ID, c.Version)
	}
	if ext == ".png" {
		b, err := card.QRPNG(c.Code, cardQRPixels)
		if err != nil {
			return fmt.Errorf("draw card %s: %w", c.ID, err)
		}
		writeFile(w, contentTypePNG, c.ID+ext, b)
		return nil
	}

	// The printed name is personal data: reading it is an enrolment read,
	// logged like any other.
	ctx := canasta.NewContextWithPurpose(r.Context(), canasta.PurposeEnrollment)
	h, err := s.HouseholdService.FindHouseholdByID(ctx, c.HouseholdID)
	if err != nil {
		return fmt.Errorf("print card %s: %w", c.ID, err)
	}
	var buf bytes.Buffer
	if err := card.PDF(&buf, card.PrintCard{Title: CardTitle, HouseholdName: householdName(h), CardID: c.ID,
		Code: c.Code, IssuedAt: c.IssuedAt, Expires: c.ExpiresAt}); err != nil {
		return fmt.Errorf("print card %s: %w", c.ID, err)
	}
	writeFile(w, contentTypePDF, c.ID+ext, buf.Bytes())
	return nil
}

// householdName is the head's name as the registrar entered it, or the
// first member's when no one is marked head.
func householdName(h *canasta.Household) string {
	if len(h.Members) == 0 {
		return ""
	}
	m := h.Members[0]
	for _, p := range h.Members {
		if p.Relationship == canasta.RelationshipHead {
			m = p
			break
		}
	}
	return strings.TrimSpace(m.GivenName + " " + m.FamilyName)
}

// handleRevokeCard revokes the card's newest version and returns it.
func (s *Server) handleRevokeCard(w http.ResponseWriter, r *http.Request) error {
	cards, err := s.cards()
	if err != nil {
		return err
	}
	id := r.PathValue("card_id")
	if err := cards.RevokeCard(r.Context(), id); err != nil {
		return fmt.Errorf("revoke card: %w", err)
	}
	c, err := cards.FindCardByID(r.Context(), id)
	if err != nil {
		return fmt.Errorf("find revoked card: %w", err)
	}
	s.writeJSON(w, r, http.StatusOK, c)
	return nil
}

// handleCardKeys publishes the verification keys, {"keys": [...]}, retired
// ones with the period they signed in.
func (s *Server) handleCardKeys(w http.ResponseWriter, r *http.Request) error {
	cards, err := s.cards()
	if err != nil {
		return err
	}
	b, err := cards.PublicKeys(r.Context())
	if err != nil {
		return fmt.Errorf("card keys: %w", err)
	}
	writePublic(w, "application/json; charset=utf-8", b)
	return nil
}

// handleCardRevocations serves the signed revocation list as the raw
// COSE_Sign1 bytes; points check it offline with card.VerifyRevocations
// against the published keys.
func (s *Server) handleCardRevocations(w http.ResponseWriter, r *http.Request) error {
	cards, err := s.cards()
	if err != nil {
		return err
	}
	b, err := cards.SignedRevocations(r.Context())
	if err != nil {
		return fmt.Errorf("card revocations: %w", err)
	}
	writePublic(w, contentTypeCOSE, b)
	return nil
}

// handleCheckCard tells a point whether a scanned code is valid and what
// remains of the household's grants this month, and nothing more: no
// names, no household id, no explanations (which quote the household's
// declared data). The code must be percent-encoded in the query, since
// Base45 uses '+', '%', '/' and spaces.
func (s *Server) handleCheckCard(w http.ResponseWriter, r *http.Request) error {
	cards, err := s.cards()
	if err != nil {
		return err
	}
	r, err = withPurpose(r, false)
	if err != nil {
		return err
	}
	code := r.URL.Query().Get("code")
	if code == "" {
		return canasta.Errorf(canasta.EINVALID, "Give the scanned card text as the code parameter, percent-encoded.")
	}
	c, err := cards.VerifyCode(r.Context(), code)
	if err != nil {
		return fmt.Errorf("check card: %w", err)
	}
	ctx := r.Context()
	if canasta.PurposeFromContext(ctx) == "" {
		ctx = canasta.NewContextWithPurpose(ctx, canasta.PurposeRedemptionSupport)
	}
	period := canasta.PeriodOf(s.now())
	es, err := s.EntitlementService.FindEntitlements(ctx, c.HouseholdID, period)
	if err != nil {
		return fmt.Errorf("check card %s: %w", c.ID, err)
	}
	for _, e := range es {
		e.HouseholdID, e.Explanation = "", ""
	}
	s.writeJSON(w, r, http.StatusOK, canasta.CardCheck{Valid: true, CardID: c.ID, Version: c.Version,
		Period: period, Entitlements: nonNil(es)})
	return nil
}

// cards returns the card service, or ENOTFOUND when this server was
// started on a store that keeps no cards.
func (s *Server) cards() (canasta.CardService, error) {
	if s.CardService == nil {
		return nil, canasta.Errorf(canasta.ENOTFOUND, "This server does not handle cards.")
	}
	return s.CardService, nil
}

// writeFile sends a generated file. It names a household's card, so no
// cache may keep it.
func writeFile(w http.ResponseWriter, contentType, name string, b []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Disposition", fmt.Sprintf("inline; filename=%q", name))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

// writePublic sends published material that points may cache briefly:
// keys change only on rotation, and a revocation list carries its own
// expiry.
func writePublic(w http.ResponseWriter, contentType string, b []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "public, max-age=60")
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}
