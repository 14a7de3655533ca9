package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/canasta/canasta/audit"
	"github.com/canasta/canasta/card"
	chttp "github.com/canasta/canasta/http"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	var sf storeFlags
	sf.register(fs)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	tz := fs.String("tz", "UTC", "IANA time zone that reports' days and odd hours are local to, e.g. America/Lima")
	if err := fs.Parse(args); err != nil {
		return err
	}
	reportLocation, err := time.LoadLocation(*tz)
	if err != nil || *tz == "Local" {
		return fmt.Errorf("--tz %q is not an IANA time zone name such as America/Lima", *tz)
	}
	st, err := sf.open()
	if err != nil {
		return err
	}
	defer st.close()
	srv := newServer(st, *addr, stderr)
	srv.ReportLocation = reportLocation
	if err := srv.Open(); err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	fmt.Fprintf(stdout, "Canasta is serving on %s\n", srv.URL())
	// Auditors see a signed checkpoint at least every second while
	// entries arrive.
	go srv.AuditService.(*audit.Log).Run(ctx, time.Second)
	go expireRightsEvery(ctx, st.rights, rightsExpiryInterval, srv.Logger)
	<-ctx.Done()
	return srv.Close()
}

// newServer wires a store's services into an API server.
func newServer(st *store, addr string, logTo io.Writer) *chttp.Server {
	srv := chttp.NewServer()
	srv.Addr = addr
	srv.Logger = slog.New(slog.NewTextHandler(logTo, &slog.HandlerOptions{Level: slog.LevelInfo}))
	srv.HouseholdService = st.households
	srv.AttributeService = st.attributes
	srv.ProgramService = st.programs
	srv.PointService = st.points
	srv.CycleService = st.cycles
	srv.EntitlementService = st.entitlements
	srv.RedemptionService = st.redemptions
	srv.TokenService = st.tokens
	srv.AccessLogService = st.accessLog
	auditLog := audit.NewLog(st.audit)
	auditLog.Logger = srv.Logger
	srv.AuditService, srv.ExportSigner = auditLog, auditLog
	srv.CorrectionService = st.corrections
	srv.DedupService = st.dedup
	srv.GrievanceService = st.grievances
	srv.DryRunService = st.dryRuns
	srv.ReportService = st.reports
	srv.UserService = st.users
	srv.DeviceService, srv.RightsService, srv.HomePointService = st.rights, st.rights, st.rights
	if st.cards != nil {
		cards := card.NewService(st.cards, cardIssuer)
		srv.CardService = cards
		srv.PortalService = card.NewPortal(cards, st.portal)
		srv.HouseholdRecords = st.portal
	}
	return srv
}
