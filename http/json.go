package http

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"

	"github.com/canasta/canasta"
)

// MaxBodySize bounds a request body; the largest legitimate one, a
// household of MaxMembers people, is far smaller.
const MaxBodySize = 1 << 20

// decodeJSON reads exactly one JSON object into v. Unknown fields are
// refused rather than ignored, so a misspelt field is never silently lost.
// Numbers in untyped places (attributes) stay json.Number, which the
// schema normalises without float rounding. The Content-Type is not
// checked: the body must parse as JSON whatever a client labelled it.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxBodySize))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return bodyError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return bodyError(err)
		}
		return canasta.Errorf(canasta.EINVALID, "The request body must hold one JSON object and nothing after it.")
	}
	return nil
}

// bodyError turns a decoding failure into a message that tells the client
// what to fix.
func bodyError(err error) error {
	var (
		tooLarge  *http.MaxBytesError
		syntax    *json.SyntaxError
		wrongType *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &tooLarge):
		return canasta.Errorf(canasta.EINVALID, "The request body is larger than %d bytes.", MaxBodySize)
	case errors.Is(err, io.EOF):
		return canasta.Errorf(canasta.EINVALID, "The request body is empty; send a JSON object.")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return canasta.Errorf(canasta.EINVALID, "The request body is not valid JSON: it ends too early.")
	case errors.As(err, &syntax):
		return canasta.Errorf(canasta.EINVALID, "The request body is not valid JSON (error at byte %d).", syntax.Offset)
	case errors.As(err, &wrongType):
		if wrongType.Field == "" {
			return canasta.Errorf(canasta.EINVALID, "The request body must be a JSON object.")
		}
		return canasta.Errorf(canasta.EINVALID, "Field %q must be %s, not %s.", wrongType.Field, jsonKind(wrongType.Type), wrongType.Value)
	}
	if field, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return canasta.Errorf(canasta.EINVALID, "Unknown field %s in the request body.", field)
	}
	return canasta.Errorf(canasta.EINVALID, "The request body could not be read as JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
}

// jsonKind names the JSON value a Go type expects, in a client's terms.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return fmt.Sprintf("a %s", t.Kind())
}

// writeJSON writes v as the response. v is encoded before anything is
// sent, so a value that cannot be encoded still gets a clean 500.
func (s *Server) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("encode response: %w", err))
		return
	}
	writeBody(w, status, b)
}

// writeBody sends an encoded JSON body. Responses may hold personal data,
// so no cache may keep them.
func writeBody(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}

// nonNil makes an empty list encode as [] rather than null.
func nonNil[T any](xs []T) []T {
	if xs == nil {
		return []T{}
	}
	return xs
}
