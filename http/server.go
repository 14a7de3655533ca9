// Package http serves Canasta over the root package's services: the JSON
// API (staff with bearer tokens, people in the portal with card sessions,
// devices with signed requests, auditors with no account) and the
// server-rendered web application (html/, embedded). It owns what is
// particular to HTTP: the route table with the roles each route admits,
// authentication, the purpose a staff member must state to read personal
// data, request decoding limits, sessions and CSRF for the pages, and the
// one mapping from application error codes to HTTP statuses.
package http

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/canasta/canasta"
)

// ShutdownTimeout bounds how long Close waits for requests in flight.
const ShutdownTimeout = 10 * time.Second

// Server is the JSON API. Set the services before Open; handlers read them
// on every request.
type Server struct {
	ln      net.Listener
	server  *http.Server
	done    chan struct{}
	handler http.Handler

	// Addr is the address to listen on; "127.0.0.1:0" picks a free port.
	Addr   string
	Logger *slog.Logger
	// Now is the clock that picks the default period.
	Now func() time.Time

	HouseholdService   canasta.HouseholdService
	AttributeService   canasta.AttributeService
	ProgramService     canasta.ProgramService
	PointService       canasta.PointService
	CycleService       canasta.CycleService
	EntitlementService canasta.EntitlementService
	RedemptionService  canasta.RedemptionService
	TokenService       canasta.TokenService
	AccessLogService   canasta.AccessLogService
	CardService        canasta.CardService
	// DeviceService, RightsService and HomePointService serve offline
	// points: device enrollment, signed device routes, rights and sync.
	DeviceService    canasta.DeviceService
	RightsService    canasta.RightsService
	HomePointService canasta.HomePointService
	seen             signatureCache
	// GrievanceService keeps the grievances households file; without it
	// the grievance routes answer 404.
	GrievanceService canasta.GrievanceService
	// DryRunService evaluates proposed program rules before they are
	// published; ReportService computes the auditors' reports.
	DryRunService canasta.DryRunService
	ReportService canasta.ReportService
	// ReportLocation is the zone report days and odd hours are local to
	// when a request names none; nil means UTC.
	ReportLocation *time.Location
	// AuditService publishes the transparent audit log at /api/v1/audit/.
	AuditService canasta.AuditService
	// PortalService signs people in to the person portal, whose reads go
	// through HouseholdRecords and the services above.
	PortalService canasta.PortalService
	// CorrectionService corrects registered data.
	CorrectionService canasta.CorrectionService
	HouseholdRecords  canasta.HouseholdRecords
	// ExportSigner signs a household's export document.
	ExportSigner ExportSigner
	// DedupService looks up likely duplicates at enrollment and keeps
	// their review cases; without it enrollment lists none.
	DedupService canasta.DedupService
	// portalLogins bounds portal sign-in attempts per client address.
	portalLogins *attemptLimiter
	// UserService keeps staff accounts; with it set, the server also
	// serves the web application.
	UserService canasta.UserService
	// Web configures the web application's sessions.
	Web WebConfig
	web *webApp
}

// NewServer returns a server listening on a free loopback port once opened.
func NewServer() *Server {
	s := &Server{
		Addr:         "127.0.0.1:0",
		Logger:       slog.Default(),
		Now:          time.Now,
		portalLogins: newAttemptLimiter(PortalLoginsPerMinute, time.Minute),
	}
	s.handler = s.instrument(s.router())
	return s
}

// Handler returns the API's handler with its middleware, for embedding in
// another server or testing without a listener.
func (s *Server) Handler() http.Handler {
	if s.handler == nil {
		s.handler = s.instrument(s.router())
	}
	return s.handler
}

// Open listens on Addr and serves in the background, so URL works as soon
// as Open returns.
func (s *Server) Open() error {
	if s.server != nil {
		return errors.New("http server already open")
	}
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.Addr, err)
	}
	s.ln = ln
	s.server = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.logger().Handler(), slog.LevelWarn),
	}
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		if err := s.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger().Error("http serve stopped", "err", err)
		}
	}()
	return nil
}

// Close stops accepting connections and waits up to ShutdownTimeout for
// requests in flight; any still running after that are cut off.
func (s *Server) Close() error {
	if s.server == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	err := s.server.Shutdown(ctx)
	if err != nil {
		s.server.Close()
		err = fmt.Errorf("http shutdown: %w", err)
	}
	<-s.done
	return err
}

// URL returns the base URL the server listens on, or "" before Open.
func (s *Server) URL() string {
	if s.ln == nil {
		return ""
	}
	addr, ok := s.ln.Addr().(*net.TCPAddr)
	if !ok {
		return "http://" + s.ln.Addr().String()
	}
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(addr.Port))
}

func (s *Server) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

func (s *Server) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}
