package postbode

import (
	"errors"
	"fmt"
	"net/http"
)

// FieldError is one bad field: its full path (events[1].type, rate_limit.per_second) and why.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// APIError is an RFC 9457 problem document the API answered with. RetryAfter is set
// when the answer had a Retry-After header (429, 503).
type APIError struct {
	Status     int          `json:"status"`
	Type       string       `json:"type"`
	Title      string       `json:"title"`
	Detail     string       `json:"detail"`
	Errors     []FieldError `json:"errors"`
	RetryAfter *float64     `json:"-"`
}

func (e *APIError) Error() string {
	detail := e.Detail
	if detail == "" {
		detail = e.Type
	}
	return fmt.Sprintf("postbode: %d %s: %s", e.Status, e.Title, detail)
}

// FieldErrors are the bad fields by path: {"events[1].type": "required"}.
func (e *APIError) FieldErrors() map[string]string {
	fields := make(map[string]string, len(e.Errors))
	for _, f := range e.Errors {
		fields[f.Field] = f.Message
	}
	return fields
}

// ConnectionError is a request that got no answer (after the retries allowed).
type ConnectionError struct {
	Method, URL string
	Err         error
}

func (e *ConnectionError) Error() string {
	return fmt.Sprintf("postbode: %s %s: %v", e.Method, e.URL, e.Err)
}

func (e *ConnectionError) Unwrap() error { return e.Err }

// IsNotFound says whether err is a 404 answer: no such object in the account.
func IsNotFound(err error) bool { return hasStatus(err, http.StatusNotFound) }

// IsConflict says whether err is a 409 answer (an idempotency key reused with another request, ...).
func IsConflict(err error) bool { return hasStatus(err, http.StatusConflict) }

// IsValidation says whether err is a 422 answer: fields that break a rule, in Errors.
func IsValidation(err error) bool { return hasStatus(err, http.StatusUnprocessableEntity) }

// IsUnauthorized says whether err is a 401 answer: no token, or a wrong one.
func IsUnauthorized(err error) bool { return hasStatus(err, http.StatusUnauthorized) }

// IsForbidden reports a 403: the token may not do this (an account key on an operator
// route, or a key without the route's scope, which the problem's detail names).
func IsForbidden(err error) bool { return hasStatus(err, http.StatusForbidden) }

func hasStatus(err error, status int) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.Status == status
}
