package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/canasta/canasta/card"
	chttp "github.com/canasta/canasta/http"
)

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	var sf storeFlags
	sf.register(fs)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	if err := fs.Parse(args); err != nil {
		return err
	}
	st, err := sf.open()
	if err != nil {
		return err
	}
	defer st.close()
	srv := newServer(st, *addr, stderr)
	if err := srv.Open(); err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	fmt.Fprintf(stdout, "Canasta is serving on %s\n", srv.URL())
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
	if st.cards != nil {
		srv.CardService = card.NewService(st.cards, cardIssuer)
	}
	return srv
}
