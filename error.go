package canasta

import (
	"errors"
	"fmt"
)

// Application error codes. Each maps to one HTTP status in package http.
const (
	ECONFLICT     = "ECONFLICT"
	EINTERNAL     = "EINTERNAL"
	EINVALID      = "EINVALID"
	ENOTFOUND     = "ENOTFOUND"
	EUNAUTHORIZED = "EUNAUTHORIZED"
	EFORBIDDEN    = "EFORBIDDEN"
)

// Error is an application error: a code and a message that is safe to show
// to the user. Any other error is internal; its text is logged, never shown.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("canasta error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrUnavailable marks an internal error whose cause is a dependency, such
// as the database, that cannot be reached for now: the same call may
// succeed later. A store wraps it into the error it returns (with %w, next
// to the cause); the error stays EINTERNAL, and the HTTP layer answers it
// with 503 instead of 500 so clients and load balancers retry.
var ErrUnavailable = errors.New("temporarily unavailable")

// ErrorCode returns the code of the application error in err's chain,
// EINTERNAL for any other error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the message of the application error in err's chain,
// or a generic message for any other error so internals never leak.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}
