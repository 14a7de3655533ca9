package http

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/canasta/canasta"
)

// codes is the one mapping from application error codes to HTTP statuses.
var codes = map[string]int{
	canasta.ENOTFOUND:     http.StatusNotFound,
	canasta.EINVALID:      http.StatusBadRequest,
	canasta.EUNAUTHORIZED: http.StatusUnauthorized,
	canasta.EFORBIDDEN:    http.StatusForbidden,
	canasta.ECONFLICT:     http.StatusConflict,
	canasta.EINTERNAL:     http.StatusInternalServerError,
}

// ErrorStatusCode returns the HTTP status for an application error code;
// an unknown code is an internal error.
func ErrorStatusCode(code string) int {
	if status, ok := codes[code]; ok {
		return status
	}
	return http.StatusInternalServerError
}

// internalMessage is all a client learns of an internal error; the cause
// goes to the log under the request id the client was given.
const internalMessage = "Internal error."

// ErrorResponse is the body of every error response.
type ErrorResponse struct {
	Error ErrorBody `json:"error"`
}

// ErrorBody is an application error as the client sees it.
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// unavailableMessage is all a client learns of an internal error whose
// cause is a dependency that cannot be reached for now.
const unavailableMessage = "The service is temporarily unavailable. Try again shortly."

// writeError answers with err's code and message. Internal errors, and
// application errors with a code outside the table, are logged with their
// cause and shown only as "Internal error."; an internal error marked
// canasta.ErrUnavailable is a 503, so clients and load balancers retry.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code, message := canasta.ErrorCode(err), canasta.ErrorMessage(err)
	status := 0
	if _, known := codes[code]; !known || code == canasta.EINTERNAL {
		s.requestLogger(r).Error("internal error", "route", stateFromContext(r.Context()).route, "err", err)
		code, message = canasta.EINTERNAL, internalMessage
		if errors.Is(err, canasta.ErrUnavailable) {
			status, message = http.StatusServiceUnavailable, unavailableMessage
			w.Header().Set("Retry-After", "1")
		}
	}
	if status == 0 {
		status = ErrorStatusCode(code)
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="canasta"`)
	}
	writeErrorBody(w, status, code, message)
}

func writeErrorBody(w http.ResponseWriter, status int, code, message string) {
	b, _ := json.Marshal(ErrorResponse{Error: ErrorBody{Code: code, Message: message}})
	writeBody(w, status, b)
}
