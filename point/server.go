package point

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/canasta/canasta"
)

// Server is the agent's local HTTP server: the operator API, shaped as
// the Canasta server's (POST /api/v1/redemptions with card or
// household_id, GET /api/v1/cards/check, GET /healthz), a status route
// and a minimal operator page. It listens on the point's own network,
// loopback by default; it never holds a staff token, so it must not be
// exposed beyond the counter.
type Server struct {
	Agent  *Agent
	Addr   string
	Logger *slog.Logger

	ln     net.Listener
	server *http.Server
	done   chan struct{}
}

// Open listens on Addr and serves in the background.
func (s *Server) Open() error {
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.Addr, err)
	}
	s.ln = ln
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.wrap(s.handleHealth))
	mux.HandleFunc("GET /api/v1/status", s.wrap(s.handleStatus))
	mux.HandleFunc("POST /api/v1/redemptions", s.wrap(s.handleRedeem))
	mux.HandleFunc("GET /api/v1/cards/check", s.wrap(s.handleCheck))
	mux.HandleFunc("GET /{$}", s.handlePage)
	mux.HandleFunc("POST /redeem", s.handlePageRedeem)
	mux.HandleFunc("/", s.wrap(func(w http.ResponseWriter, r *http.Request) error {
		return canasta.Errorf(canasta.ENOTFOUND, "There is no %s %s at this point.", r.Method, r.URL.Path)
	}))
	s.server = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		if err := s.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger().Error("point server stopped", "err", err)
		}
	}()
	return nil
}

// URL is the base URL the server listens on.
func (s *Server) URL() string {
	if s.ln == nil {
		return ""
	}
	return "http://" + s.ln.Addr().String()
}

// Close stops the server.
func (s *Server) Close() error {
	if s.server == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.server.Shutdown(ctx)
	<-s.done
	return err
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// statuses maps error codes to HTTP statuses as the Canasta server does.
var statuses = map[string]int{
	canasta.ENOTFOUND:     http.StatusNotFound,
	canasta.EINVALID:      http.StatusBadRequest,
	canasta.EUNAUTHORIZED: http.StatusUnauthorized,
	canasta.EFORBIDDEN:    http.StatusForbidden,
	canasta.ECONFLICT:     http.StatusConflict,
}

func (s *Server) wrap(h func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		err := h(w, r)
		if err == nil {
			return
		}
		code, msg := canasta.ErrorCode(err), canasta.ErrorMessage(err)
		status, ok := statuses[code]
		if !ok {
			s.logger().Error("internal error", "path", r.URL.Path, "err", err)
			code, status = canasta.EINTERNAL, http.StatusInternalServerError
		}
		writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"EINTERNAL","message":"Internal error."}}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) error {
	st, err := s.Agent.Status(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

// redemptionRequest is the server's redemption body.
type redemptionRequest struct {
	RequestID   string `json:"request_id"`
	PointID     int64  `json:"point_id"`
	HouseholdID string `json:"household_id"`
	Card        string `json:"card"`
	Items       []struct {
		ProgramID int64 `json:"program_id"`
		Quantity  int64 `json:"quantity"`
	} `json:"items"`
}

// handleRedeem answers as the server does: 201 for a new receipt, 200 for
// a replay, 409 beyond what this point may give.
func (s *Server) handleRedeem(w http.ResponseWriter, r *http.Request) error {
	var req redemptionRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return canasta.Errorf(canasta.EINVALID, "The request body must be one JSON redemption.")
	}
	rr, err := s.request(r.Context(), req)
	if err != nil {
		return err
	}
	receipt, replay, err := s.Agent.Redeem(r.Context(), rr)
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if replay {
		status = http.StatusOK
	}
	writeJSON(w, status, receipt)
	return nil
}

// request turns the body into a redemption request for this point,
// verifying a card offline.
func (s *Server) request(ctx context.Context, req redemptionRequest) (*canasta.RedemptionRequest, error) {
	id, err := s.Agent.Store.Identity(ctx)
	if err != nil {
		return nil, err
	}
	if req.PointID != 0 && req.PointID != id.PointID {
		return nil, canasta.Errorf(canasta.EINVALID, "This is point %d, not point %d.", id.PointID, req.PointID)
	}
	switch {
	case req.Card != "" && req.HouseholdID != "":
		return nil, canasta.Errorf(canasta.EINVALID, "Give either household_id or card, not both.")
	case req.Card != "":
		claims, err := s.Agent.VerifyCard(ctx, req.Card)
		if err != nil {
			return nil, err
		}
		req.HouseholdID = claims.Household
	case req.HouseholdID == "":
		return nil, canasta.Errorf(canasta.EINVALID, "Give household_id or card (the scanned card text).")
	}
	rr := &canasta.RedemptionRequest{RequestID: req.RequestID, PointID: id.PointID, HouseholdID: req.HouseholdID}
	for _, it := range req.Items {
		rr.Items = append(rr.Items, canasta.RedemptionItem{ProgramID: it.ProgramID, Quantity: it.Quantity})
	}
	return rr, nil
}

func (s *Server) handleCheck(w http.ResponseWriter, r *http.Request) error {
	code := r.URL.Query().Get("code")
	if code == "" {
		return canasta.Errorf(canasta.EINVALID, "Give the scanned card text as the code parameter, percent-encoded.")
	}
	check, err := s.Agent.CheckCard(r.Context(), code)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, check)
	return nil
}

var page = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Canasta point</title>
<style>body{font-family:sans-serif;max-width:40em;margin:1em auto}td,th{padding:.2em .6em;text-align:left}
.online{color:#060}.offline{color:#a00}</style></head><body>
<h1>Canasta point {{.Status.PointID}}</h1>
<p id="network" class="{{if .Status.Online}}online{{else}}offline{{end}}">{{if .Status.Online}}Online{{else}}Offline{{end}}
{{with .Status.LastSync}}· last sync {{.Format "2006-01-02 15:04:05 MST"}}{{else}}· never synced{{end}}</p>
<p id="waiting">Receipts waiting to sync: {{.Status.Waiting}} · Rights held: {{.Status.Rights}} ({{.Status.RightsHeld}} in all)</p>
{{with .Message}}<p id="message"><strong>{{.}}</strong></p>{{end}}
<form method="post" action="/redeem">
<label>Card <input name="card" required></label><br>
<label>Program <input name="program_id" type="number" min="1" required></label>
<label>Quantity <input name="quantity" type="number" min="1" required></label>
<input type="hidden" name="request_id" value="{{.RequestID}}">
<button>Redeem</button></form>
</body></html>`))

type pageData struct {
	Status    *Status
	Message   string
	RequestID string
}

func (s *Server) renderPage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	st, err := s.Agent.Status(r.Context())
	if err != nil {
		s.logger().Error("status", "err", err)
		http.Error(w, "Internal error.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	page.Execute(w, pageData{Status: st, Message: msg, RequestID: canasta.NewRequestID(s.Agent.Store.now())})
}

func (s *Server) handlePage(w http.ResponseWriter, r *http.Request) {
	s.renderPage(w, r, http.StatusOK, "")
}

// handlePageRedeem serves the operator page's form. The request id is
// drawn when the page is shown, so submitting the same form twice
// redeems once.
func (s *Server) handlePageRedeem(w http.ResponseWriter, r *http.Request) {
	program, _ := strconv.ParseInt(r.PostFormValue("program_id"), 10, 64)
	quantity, _ := strconv.ParseInt(r.PostFormValue("quantity"), 10, 64)
	req := redemptionRequest{RequestID: r.PostFormValue("request_id"), Card: r.PostFormValue("card")}
	req.Items = append(req.Items, struct {
		ProgramID int64 `json:"program_id"`
		Quantity  int64 `json:"quantity"`
	}{program, quantity})
	rr, err := s.request(r.Context(), req)
	if err == nil {
		var receipt *canasta.Redemption
		if receipt, _, err = s.Agent.Redeem(r.Context(), rr); err == nil {
			s.renderPage(w, r, http.StatusOK, fmt.Sprintf("Redeemed %d of program %d; %d left here. Receipt %d.",
				quantity, program, receipt.Items[0].Remaining, receipt.ID))
			return
		}
	}
	status, ok := statuses[canasta.ErrorCode(err)]
	if !ok {
		s.logger().Error("redeem from page", "err", err)
		status = http.StatusInternalServerError
	}
	s.renderPage(w, r, status, canasta.ErrorMessage(err))
}
