package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// Error is an API error: what the store returns when a rule is broken, and what writeError
// turns into the API's error envelope. Handlers never write error bodies themselves.
type Error struct {
	Status  int
	Code    string
	Message string
	// Details is the envelope's "details" object; nil is sent as {} because python3-hcloud
	// reads the key unconditionally.
	Details any
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// FieldError names one invalid request field, as in the API's invalid_input details.
type FieldError struct {
	Name     string   `json:"name"`
	Messages []string `json:"messages"`
}

type fieldDetails struct {
	Fields []FieldError `json:"fields"`
}

func errNotFound(kind string, id any) *Error {
	return &Error{Status: http.StatusNotFound, Code: "not_found", Message: fmt.Sprintf("%s with ID '%v' not found", kind, id)}
}

func errInvalidInput(field, msg string) *Error {
	return &Error{
		Status:  http.StatusUnprocessableEntity,
		Code:    "invalid_input",
		Message: "invalid input in field '" + field + "': " + msg,
		Details: fieldDetails{Fields: []FieldError{{Name: field, Messages: []string{msg}}}},
	}
}

func errUniqueness(field string) *Error {
	return &Error{
		Status:  http.StatusConflict,
		Code:    "uniqueness_error",
		Message: "SQL integrity error: duplicate value for " + field,
		Details: fieldDetails{Fields: []FieldError{{Name: field, Messages: []string{"is already used"}}}},
	}
}

func errLocked(kind string, id int64) *Error {
	return &Error{Status: http.StatusLocked, Code: "locked", Message: fmt.Sprintf("cannot perform operation because %s %d is locked", kind, id)}
}

func errProtected(kind string, id int64) *Error {
	return &Error{Status: http.StatusLocked, Code: "protected", Message: fmt.Sprintf("%s %d is protected against deletion", kind, id)}
}

// errTooManyVolumes is the answer to a 17th volume on a server. The documentation gives the
// limit but not its error: the simulator answers with the API's generic code for a limit
// reached (an assumption, see docs/SIMULATOR.md).
func errTooManyVolumes(sv *server) *Error {
	return &Error{Status: http.StatusForbidden, Code: "resource_limit_exceeded",
		Message: fmt.Sprintf("server %d already has the maximum of %d volumes attached", sv.id, MaxVolumesPerServer)}
}

func errJSON(msg string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "json_error", Message: "invalid JSON: " + msg}
}

func errServiceError(msg string) *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Code: "service_error", Message: msg}
}

var (
	errUnauthorized = &Error{Status: http.StatusUnauthorized, Code: "unauthorized", Message: "unable to authenticate"}
	errRateLimited  = &Error{Status: http.StatusTooManyRequests, Code: "rate_limit_exceeded", Message: "limit of requests per hour reached"}
	errNoRoute      = &Error{Status: http.StatusNotFound, Code: "not_found", Message: "the requested resource was not found"}
)

// statusForCode is what a fault rule answers when it gives a code but no status.
var statusForCode = map[string]int{
	"json_error":                http.StatusBadRequest,
	"unauthorized":              http.StatusUnauthorized,
	"forbidden":                 http.StatusForbidden,
	"resource_limit_exceeded":   http.StatusForbidden,
	"not_found":                 http.StatusNotFound,
	"uniqueness_error":          http.StatusConflict,
	"conflict":                  http.StatusConflict,
	"invalid_input":             http.StatusUnprocessableEntity,
	"service_error":             http.StatusUnprocessableEntity,
	"volume_already_attached":   http.StatusUnprocessableEntity,
	"no_space_left_in_location": http.StatusUnprocessableEntity,
	"locked":                    http.StatusLocked,
	"protected":                 http.StatusLocked,
	"rate_limit_exceeded":       http.StatusTooManyRequests,
	"server_error":              http.StatusInternalServerError,
	"bad_gateway":               http.StatusBadGateway,
	"unavailable":               http.StatusServiceUnavailable,
	"timeout":                   http.StatusGatewayTimeout,
}

// codeForStatus is what a fault rule answers when it gives a status but no code.
var codeForStatus = map[int]string{
	http.StatusBadRequest:          "json_error",
	http.StatusUnauthorized:        "unauthorized",
	http.StatusForbidden:           "forbidden",
	http.StatusNotFound:            "not_found",
	http.StatusConflict:            "conflict",
	http.StatusUnprocessableEntity: "service_error",
	http.StatusLocked:              "locked",
	http.StatusTooManyRequests:     "rate_limit_exceeded",
	http.StatusInternalServerError: "server_error",
	http.StatusBadGateway:          "bad_gateway",
	http.StatusServiceUnavailable:  "unavailable",
	http.StatusGatewayTimeout:      "timeout",
}

type errorEnvelope struct {
	Error errorBody `json:"error"`
}

type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Details any    `json:"details"`
}

// writeError is the one place where errors become HTTP answers. Anything that is not an *Error
// is a bug in the simulator and answers 500 server_error.
func writeError(w http.ResponseWriter, err error) {
	var apiErr *Error
	if !errors.As(err, &apiErr) {
		apiErr = &Error{Status: http.StatusInternalServerError, Code: "server_error", Message: err.Error()}
	}
	details := apiErr.Details
	if details == nil {
		details = struct{}{}
	}
	writeJSON(w, apiErr.Status, errorEnvelope{Error: errorBody{Code: apiErr.Code, Message: apiErr.Message, Details: details}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"error":{"code":"server_error","message":"cannot encode response","details":{}}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
	_, _ = w.Write([]byte("\n"))
}
