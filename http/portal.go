package http

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/canasta/canasta"
)

// ExportSigner signs a household's export, so the person can show anyone
// that the document is what Canasta holds.
type ExportSigner interface {
	// SignDocument signs the exact bytes of a document with Ed25519 and
	// returns the note verifier key that checks it.
	SignDocument(ctx context.Context, doc []byte) (key string, sig []byte, err error)
}

// ExportSignature is an Ed25519 signature over the exact bytes of an
// export's document, with the note verifier key that checks it (the audit
// log's key, published at /api/v1/audit/key).
type ExportSignature struct {
	Alg   string `json:"alg"`
	Key   string `json:"key"`
	Value []byte `json:"value"`
}

// authenticatePortal returns the portal session of the request's bearer
// secret.
func (s *Server) authenticatePortal(r *http.Request) (*canasta.PortalSession, error) {
	if s.PortalService == nil {
		return nil, canasta.Errorf(canasta.ENOTFOUND, "The person portal is not enabled on this server.")
	}
	scheme, secret, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	secret = strings.TrimSpace(secret)
	if !strings.EqualFold(scheme, "Bearer") || secret == "" {
		return nil, canasta.Errorf(canasta.EUNAUTHORIZED, "Sign in with your card and PIN, then send the session as Authorization: Bearer <token>.")
	}
	ps, err := s.PortalService.Authenticate(r.Context(), secret)
	if err != nil {
		return nil, err
	}
	return ps, nil
}

// portalHousehold is the household of the request's portal session: the
// only one its routes may reach.
func portalHousehold(r *http.Request) string {
	return canasta.PortalSessionFromContext(r.Context()).HouseholdID
}

// PortalLoginRequest is the body of POST /api/v1/portal/login. Card is the
// card's id or its code.
type PortalLoginRequest struct {
	Card string `json:"card"`
	PIN  string `json:"pin"`
}

// PortalLoginResponse answers a sign-in.
type PortalLoginResponse struct {
	Token       string    `json:"token"`
	HouseholdID string    `json:"household_id"`
	ExpiresAt   time.Time `json:"expires_at"`
}

func (s *Server) handlePortalLogin(w http.ResponseWriter, r *http.Request) error {
	if s.PortalService == nil {
		return canasta.Errorf(canasta.ENOTFOUND, "The person portal is not enabled on this server.")
	}
	if ok, wait := s.portalLogins.allow(r, s.now()); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		writeErrorBody(w, http.StatusTooManyRequests, canasta.EFORBIDDEN, "Too many sign-in attempts from this address; wait a minute and try again.")
		return nil
	}
	var req PortalLoginRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	ps, secret, err := s.PortalService.Login(r.Context(), req.Card, req.PIN)
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, PortalLoginResponse{Token: secret, HouseholdID: ps.HouseholdID, ExpiresAt: ps.ExpiresAt})
	return nil
}

func (s *Server) handlePortalLogout(w http.ResponseWriter, r *http.Request) error {
	_, secret, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if err := s.PortalService.Logout(r.Context(), strings.TrimSpace(secret)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handlePortalMe serves the household and members as registered. The
// person reads their own record: it is not a staff access.
func (s *Server) handlePortalMe(w http.ResponseWriter, r *http.Request) error {
	h, err := s.HouseholdService.FindHouseholdByID(r.Context(), portalHousehold(r))
	if err != nil {
		return fmt.Errorf("portal household: %w", err)
	}
	s.writeJSON(w, r, http.StatusOK, h)
	return nil
}

func (s *Server) handlePortalEntitlements(w http.ResponseWriter, r *http.Request) error {
	resp, err := s.portalEntitlements(r)
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, resp)
	return nil
}

// portalEntitlements are the session household's entitlements in the
// requested period (the current one by default), with the explanation of
// each grant.
func (s *Server) portalEntitlements(r *http.Request) (*EntitlementsResponse, error) {
	period := canasta.PeriodOf(s.now())
	if p := r.URL.Query().Get("period"); p != "" {
		var err error
		if period, err = canasta.ParsePeriod(p); err != nil {
			return nil, err
		}
	}
	id := portalHousehold(r)
	es, err := s.EntitlementService.FindEntitlements(r.Context(), id, period)
	if err != nil {
		return nil, fmt.Errorf("portal entitlements: %w", err)
	}
	resp := &EntitlementsResponse{HouseholdID: id, Period: period, Entitlements: make([]EntitlementEntry, len(es))}
	for i, e := range es {
		resp.Entitlements[i] = EntitlementEntry{ProgramID: e.ProgramID, Program: e.Program, Commodity: e.Commodity,
			Unit: e.Unit, Granted: e.Granted, Redeemed: e.Redeemed, Held: e.Held, Remaining: e.Remaining, Explanation: e.Explanation}
	}
	return resp, nil
}

// PortalReceipt is a receipt as the person sees it: with the inclusion
// proof of its audit entry against the current checkpoint's tree size.
type PortalReceipt struct {
	*canasta.Redemption
	Proof *InclusionProof `json:"proof,omitempty"`
}

// InclusionProof proves an audit entry is in the tree of a size.
type InclusionProof struct {
	Index    int64    `json:"index"`
	Size     int64    `json:"size"`
	LeafHash []byte   `json:"leaf_hash"`
	Proof    [][]byte `json:"proof"`
}

func (s *Server) handlePortalRedemptions(w http.ResponseWriter, r *http.Request) error {
	rs, err := s.portalReceipts(r)
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, map[string]any{"redemptions": rs})
	return nil
}

// handlePortalRedemption serves one of the household's receipts; another
// household's request id is not found, as if it did not exist.
func (s *Server) handlePortalRedemption(w http.ResponseWriter, r *http.Request) error {
	rs, err := s.portalReceipts(r)
	if err != nil {
		return err
	}
	id := r.PathValue("request_id")
	for _, rc := range rs {
		if rc.RequestID == id {
			s.writeJSON(w, r, http.StatusOK, rc)
			return nil
		}
	}
	return canasta.Errorf(canasta.ENOTFOUND, "Your household has no redemption with request id %q.", id)
}

func (s *Server) portalReceipts(r *http.Request) ([]PortalReceipt, error) {
	if s.HouseholdRecords == nil {
		return nil, fmt.Errorf("portal redemptions: no household records service")
	}
	rs, err := s.HouseholdRecords.FindRedemptionsByHousehold(r.Context(), portalHousehold(r))
	if err != nil {
		return nil, fmt.Errorf("portal redemptions: %w", err)
	}
	out := make([]PortalReceipt, len(rs))
	var size int64
	if s.AuditService != nil {
		if note, err := s.AuditService.Checkpoint(r.Context()); err == nil {
			size = checkpointSize(note)
		}
	}
	for i, rd := range rs {
		out[i] = PortalReceipt{Redemption: rd}
		if rd.Audit == nil || s.AuditService == nil || rd.Audit.Index >= size {
			continue
		}
		leaf, proof, err := s.AuditService.InclusionProof(r.Context(), rd.Audit.Index, size)
		if err != nil {
			return nil, fmt.Errorf("portal redemptions: proof of %d: %w", rd.Audit.Index, err)
		}
		p := &InclusionProof{Index: rd.Audit.Index, Size: size, LeafHash: leaf[:], Proof: make([][]byte, len(proof))}
		for j, h := range proof {
			p.Proof[j] = h[:]
		}
		out[i].Proof = p
	}
	return out, nil
}

// checkpointSize reads the tree size, the second line of a checkpoint.
func checkpointSize(note []byte) int64 {
	lines := strings.SplitN(string(note), "\n", 3)
	if len(lines) < 2 {
		return 0
	}
	var n int64
	if _, err := fmt.Sscan(lines[1], &n); err != nil {
		return 0
	}
	return n
}

func (s *Server) handlePortalAccessLog(w http.ResponseWriter, r *http.Request) error {
	evs, err := s.AccessLogService.FindAccessEvents(r.Context(), portalHousehold(r))
	if err != nil {
		return fmt.Errorf("portal access log: %w", err)
	}
	s.writeJSON(w, r, http.StatusOK, map[string]any{"events": nonNil(evs)})
	return nil
}

// PortalExport is everything held about a household, as one document the
// person can keep and show: Document is the exact signed bytes.
type PortalExport struct {
	Document  json.RawMessage  `json:"document"`
	Signature *ExportSignature `json:"signature"`
}

func (s *Server) handlePortalExport(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	id := portalHousehold(r)
	h, err := s.HouseholdService.FindHouseholdByID(ctx, id)
	if err != nil {
		return fmt.Errorf("export household: %w", err)
	}
	ents, err := s.portalEntitlements(r)
	if err != nil {
		return err
	}
	receipts, err := s.portalReceipts(r)
	if err != nil {
		return err
	}
	evs, err := s.AccessLogService.FindAccessEvents(ctx, id)
	if err != nil {
		return fmt.Errorf("export access log: %w", err)
	}
	doc := map[string]any{
		"format":       "canasta-household-export/1",
		"exported_at":  s.now().UTC(),
		"household":    h,
		"entitlements": ents,
		"redemptions":  receipts,
		"access_log":   nonNil(evs),
	}
	if s.CorrectionService != nil {
		cs, err := s.CorrectionService.FindCorrections(ctx, id)
		if err != nil {
			return fmt.Errorf("export corrections: %w", err)
		}
		doc["corrections"] = cs
	}
	if s.GrievanceService != nil {
		gs, err := s.GrievanceService.FindGrievancesByHousehold(ctx, id)
		if err != nil {
			return fmt.Errorf("export grievances: %w", err)
		}
		doc["grievances"] = nonNil(gs)
	}
	body, err := json.Marshal(doc)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if s.ExportSigner == nil {
		return fmt.Errorf("export: no signer configured")
	}
	key, sig, err := s.ExportSigner.SignDocument(ctx, body)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	w.Header().Set("Content-Disposition", `attachment; filename="canasta-export.json"`)
	s.writeJSON(w, r, http.StatusOK, PortalExport{Document: body, Signature: &ExportSignature{Alg: "Ed25519", Key: key, Value: sig}})
	return nil
}

// PortalGrievanceRequest is the body of POST /api/v1/portal/grievances.
type PortalGrievanceRequest struct {
	Category canasta.GrievanceCategory `json:"category"`
	Text     string                    `json:"text"`
	Case     string                    `json:"case,omitempty"`
}

func (s *Server) handlePortalFileGrievance(w http.ResponseWriter, r *http.Request) error {
	if s.GrievanceService == nil {
		return canasta.Errorf(canasta.ENOTFOUND, "Grievances are not enabled on this server.")
	}
	var req PortalGrievanceRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	contest, err := s.contestedCase(r, req.Case)
	if err != nil {
		return err
	}
	g, err := s.GrievanceService.FileGrievance(r.Context(), portalHousehold(r), req.Category, req.Text, req.Case)
	if err != nil {
		return err
	}
	if contest != nil {
		// The merge stays without effect until a registrar decides.
		if _, err := s.DedupService.ContestDedupCase(r.Context(), contest.ID, g.ID); err != nil {
			return fmt.Errorf("contest duplicate case %d: %w", contest.ID, err)
		}
	}
	w.Header().Set("Location", "/api/v1/portal/grievances/"+g.ID)
	s.writeJSON(w, r, http.StatusCreated, g)
	return nil
}

func (s *Server) handlePortalGrievances(w http.ResponseWriter, r *http.Request) error {
	if s.GrievanceService == nil {
		return canasta.Errorf(canasta.ENOTFOUND, "Grievances are not enabled on this server.")
	}
	gs, err := s.GrievanceService.FindGrievancesByHousehold(r.Context(), portalHousehold(r))
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, map[string]any{"grievances": nonNil(gs)})
	return nil
}

func (s *Server) handlePortalGrievance(w http.ResponseWriter, r *http.Request) error {
	if s.GrievanceService == nil {
		return canasta.Errorf(canasta.ENOTFOUND, "Grievances are not enabled on this server.")
	}
	g, err := s.GrievanceService.FindGrievanceForHousehold(r.Context(), portalHousehold(r), r.PathValue("id"))
	if err != nil {
		return err
	}
	s.writeJSON(w, r, http.StatusOK, g)
	return nil
}

// contestedCase returns the household's confirmed, not yet effective
// duplicate case a grievance names, which filing it contests; nil when the
// grievance names none. A case of another household is not found.
func (s *Server) contestedCase(r *http.Request, ref string) (*canasta.DedupCase, error) {
	if ref == "" || s.DedupService == nil {
		return nil, nil
	}
	id, err := strconv.ParseInt(strings.TrimSpace(ref), 10, 64)
	if err != nil {
		return nil, nil // a reference to something else, kept as written
	}
	cases, err := s.DedupService.FindDedupCasesForHousehold(r.Context(), portalHousehold(r))
	if err != nil {
		return nil, fmt.Errorf("find duplicate cases: %w", err)
	}
	for _, c := range cases {
		if c.ID != id {
			continue
		}
		if c.Status == canasta.DedupCaseConfirmed && (c.EffectiveAt == nil || s.now().Before(*c.EffectiveAt)) {
			return c, nil
		}
		return nil, nil
	}
	return nil, canasta.Errorf(canasta.ENOTFOUND, "Your household has no duplicate case %d.", id)
}

// handlePortalNotices lists what the household must know before it
// takes effect: duplicate cases about its members, with the date a
// confirmed merge would change its entitlements, which a grievance naming
// the case contests.
func (s *Server) handlePortalNotices(w http.ResponseWriter, r *http.Request) error {
	cases := []*canasta.DedupCase{}
	if s.DedupService != nil {
		var err error
		if cases, err = s.DedupService.FindDedupCasesForHousehold(r.Context(), portalHousehold(r)); err != nil {
			return fmt.Errorf("portal notices: %w", err)
		}
	}
	s.writeJSON(w, r, http.StatusOK, map[string]any{"dedup_cases": cases})
	return nil
}
