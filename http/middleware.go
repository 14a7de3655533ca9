package http

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"
)

// RequestIDHeader carries the request id back to the client, so a user
// reporting a problem can quote the id found in the server's logs.
const RequestIDHeader = "Canasta-Request-Id"

// requestState is filled in as a request travels inward and read by the
// access log on its way out: the outer middleware cannot see which route
// the mux chose.
type requestState struct {
	id    string
	route string
}

type stateContextKey struct{}

func stateFromContext(ctx context.Context) *requestState {
	st, _ := ctx.Value(stateContextKey{}).(*requestState)
	if st == nil {
		return &requestState{route: unmatchedRoute}
	}
	return st
}

// unmatchedRoute names requests no route in the table accepted, so the
// access log never records a raw path, which may hold identifiers.
const unmatchedRoute = "unmatched"

// requestLogger returns the server's logger tagged with the request id.
func (s *Server) requestLogger(r *http.Request) *slog.Logger {
	return s.logger().With("request_id", stateFromContext(r.Context()).id)
}

// instrument gives each request an id, recovers from panics with a JSON
// 500, and writes one access log line with the route pattern (never the
// path or query, which may hold personal data), status and duration.
func (s *Server) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		st := &requestState{id: rand.Text(), route: unmatchedRoute}
		w.Header().Set(RequestIDHeader, st.id)
		r = r.WithContext(context.WithValue(r.Context(), stateContextKey{}, st))
		sw := &statusWriter{ResponseWriter: w}

		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.requestLogger(r).Error("panic serving request", "route", st.route,
					"panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				if !sw.wroteHeader {
					writeErrorBody(sw, http.StatusInternalServerError, "EINTERNAL", internalMessage)
				}
			}
			// Typed attributes, not a derived logger: this line is
			// written for every request, on the redemption hot path too.
			s.logger().LogAttrs(r.Context(), slog.LevelInfo, "request", slog.String("request_id", st.id),
				slog.String("method", r.Method), slog.String("route", st.route),
				slog.Int("status", sw.statusCode()), slog.Duration("duration", time.Since(start)))
		}()
		next.ServeHTTP(sw, r)
	})
}

// statusWriter remembers the status written, for the access log and to
// know whether a panic can still be answered with a JSON error.
type statusWriter struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = http.StatusOK, true
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) statusCode() int {
	if !w.wroteHeader {
		return http.StatusOK
	}
	return w.status
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
