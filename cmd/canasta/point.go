package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/canasta/canasta"
	"github.com/canasta/canasta/point"
)

// rightsExpiryInterval is how often the server returns expired rights to
// the households' available balances.
const rightsExpiryInterval = time.Minute

// expireRightsEvery releases expired rights every interval until ctx ends.
func expireRightsEvery(ctx context.Context, rights canasta.RightsService, interval time.Duration, logger *slog.Logger) {
	if rights == nil {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := rights.ExpireRights(ctx); err != nil && ctx.Err() == nil {
			logger.Error("expire rights", "err", err)
		} else if n > 0 {
			logger.Info("rights expired", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func runPoint(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("point", stderr)
	server := fs.String("server", "", "base URL of the Canasta server, e.g. https://canasta.example.org")
	data := fs.String("data", "", "data directory of the point's own store")
	enroll := fs.String("enroll", "", "one-time enrollment token from POST /api/v1/points/{id}/devices (first run only)")
	addr := fs.String("addr", "127.0.0.1:8090", "address of the local operator server")
	interval := fs.Duration("sync-interval", point.DefaultSyncInterval, "pause between syncs while online")
	maxBackoff := fs.Duration("max-backoff", point.DefaultMaxBackoff, "longest pause between retries while offline")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *data == "" {
		return fmt.Errorf("pass --data DIR for the point's own store")
	}
	st, err := point.OpenStore(*data)
	if err != nil {
		return err
	}
	defer st.Close()
	id, err := st.Identity(ctx)
	if err != nil {
		return err
	}
	if id == nil {
		if *server == "" {
			return fmt.Errorf("pass --server URL to enroll this point")
		}
		if err := point.Enroll(ctx, st, *server, *enroll); err != nil {
			if errors.Is(err, point.ErrOffline) {
				return fmt.Errorf("enroll: the server at %s cannot be reached", *server)
			}
			return err
		}
	} else if *server != "" && *server != id.Server {
		// The server may move; the device's key and journal stay.
		id.Server = *server
		if err := st.SetIdentity(ctx, id); err != nil {
			return err
		}
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	agent, err := point.NewAgent(ctx, st)
	if err != nil {
		return err
	}
	agent.Logger = logger
	agent.SyncInterval, agent.MaxBackoff = *interval, *maxBackoff
	srv := &point.Server{Agent: agent, Addr: *addr, Logger: logger}
	if err := srv.Open(); err != nil {
		return err
	}
	agent.Start()
	id, _ = st.Identity(ctx)
	fmt.Fprintf(stdout, "Canasta point %d (device %d) is serving on %s\n", id.PointID, id.DeviceID, srv.URL())
	<-ctx.Done()
	agent.Stop()
	return srv.Close()
}
