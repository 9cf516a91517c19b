// Package oauth is the protocol vocabulary shared by every endpoint: the error
// response (RFC 6749 §5.2, RFC 8628 §3.5), JSON writing with the cache headers
// RFC 6749 §5.1 requires, strict form parsing (one value per parameter, body
// only), scope strings, client credentials and the hashing of secrets. It
// knows nothing of storage or of any one grant.
package oauth

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
)

// Error codes (RFC 6749 §4.1.2.1, §5.2; RFC 8628 §3.5; RFC 7009 §2.2.1).
const (
	InvalidRequest          = "invalid_request"
	InvalidClient           = "invalid_client"
	InvalidGrant            = "invalid_grant"
	UnauthorizedClient      = "unauthorized_client"
	UnsupportedGrantType    = "unsupported_grant_type"
	UnsupportedResponseType = "unsupported_response_type"
	UnsupportedTokenType    = "unsupported_token_type"
	InvalidScope            = "invalid_scope"
	AccessDenied            = "access_denied"
	ServerError             = "server_error"
	TemporarilyUnavailable  = "temporarily_unavailable"
	AuthorizationPending    = "authorization_pending"
	SlowDown                = "slow_down"
	ExpiredToken            = "expired_token"
	InvalidToken            = "invalid_token"      // RFC 6750 §3.1
	InsufficientScope       = "insufficient_scope" // RFC 6750 §3.1
)

// Error is an OAuth 2.0 error response (RFC 6749 §5.2, RFC 8628 §3.5).
// Code and Description go to the client; Err is logged and never sent.
type Error struct {
	Code        string
	Description string
	Status      int   // 400 when zero
	Err         error // the cause, for the log only
	// Challenge, when set, is sent as WWW-Authenticate (RFC 6749 §5.2 requires
	// one on a 401 after HTTP authentication was attempted).
	Challenge string
	// RetryAfter, in seconds, is sent as Retry-After when positive.
	RetryAfter int
}

func (e *Error) Error() string {
	if e.Description == "" {
		return e.Code
	}
	return e.Code + ": " + e.Description
}

func (e *Error) Unwrap() error { return e.Err }

// StatusCode is the HTTP status the error is sent with.
func (e *Error) StatusCode() int {
	if e.Status == 0 {
		return http.StatusBadRequest
	}
	return e.Status
}

// BadRequest is an invalid_request error.
func BadRequest(description string) *Error {
	return &Error{Code: InvalidRequest, Description: description}
}

// ClientAuthFailed is the invalid_client answer. It is the same for an
// unknown client and a wrong secret, so the two cannot be told apart.
func ClientAuthFailed() *Error {
	// RFC 6749 §5.2: a 401 must carry WWW-Authenticate; we offer Basic
	// whichever way the client tried, so it learns what works.
	return &Error{
		Code:        InvalidClient,
		Description: "client authentication failed",
		Status:      http.StatusUnauthorized,
		Challenge:   `Basic realm="latchkey", charset="UTF-8"`,
	}
}

// errorBody is the JSON form of Error.
type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// NoStore sets the headers RFC 6749 §5.1 requires on every response that
// carries credentials or errors about them.
func NoStore(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
}

// WriteJSON writes v as a JSON response with no-store caching.
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	NoStore(w)
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_, err = w.Write(append(body, '\n'))
	return err
}

// ErrorWriter writes the errors endpoints return as OAuth error responses
// (RFC 6749 §5.2). An *Error is sent as it is; anything else is logged and
// sent as server_error with no detail, so no internal message ever reaches
// a client.
type ErrorWriter struct {
	Log *slog.Logger // nil logs nothing
	// Unavailable marks a passing outage (the database is down): an error
	// that errors.Is it is answered 503 temporarily_unavailable with
	// Retry-After instead of 500, and clients retry. Package oauth knows no
	// database, so the server says which error that is (store.ErrUnavailable).
	Unavailable error
	// Observe, when set, is told of every *Error written, before it is
	// (the server logs security events of some).
	Observe func(r *http.Request, oe *Error)
}

// Write writes err as an OAuth error response.
func (ew ErrorWriter) Write(w http.ResponseWriter, r *http.Request, err error) {
	var oe *Error
	if !errors.As(err, &oe) {
		if ew.Log != nil {
			ew.Log.ErrorContext(r.Context(), "request failed", "method", r.Method, "route", Route(r), "err", err)
		}
		oe = &Error{Code: ServerError, Description: "internal error", Status: http.StatusInternalServerError}
		if ew.Unavailable != nil && errors.Is(err, ew.Unavailable) {
			oe = &Error{Code: TemporarilyUnavailable, Description: "the service is temporarily unavailable", Status: http.StatusServiceUnavailable, RetryAfter: 5}
		}
	} else if oe.Err != nil && ew.Log != nil {
		ew.Log.DebugContext(r.Context(), "oauth error", "route", Route(r), "code", oe.Code, "err", oe.Err)
	}
	if ew.Observe != nil {
		ew.Observe(r, oe)
	}
	if oe.Challenge != "" {
		w.Header().Set("WWW-Authenticate", oe.Challenge)
	}
	if oe.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(oe.RetryAfter))
	}
	_ = WriteJSON(w, oe.StatusCode(), errorBody{Error: oe.Code, Description: Description(oe.Description)})
}

// maxDescription is the longest error_description sent, in bytes.
const maxDescription = 300

// Description makes s fit for error_description, whose characters RFC 6749
// (§4.1.2.1, §5.2) limits to %x20-21 / %x23-5B / %x5D-7E: printable ASCII
// without '"' and '\'. Descriptions quote parameter names and values a
// client sent, which may hold anything. A double quote becomes a single
// one, a backslash a slash, a tab or line break a space, "…" three dots,
// and any other character outside the set a question mark; the result is
// cut at 300 bytes.
func Description(s string) string {
	var b strings.Builder
	for _, r := range s {
		var add string
		switch {
		case r == '"':
			add = "'"
		case r == '\\':
			add = "/"
		case r == '\t' || r == '\n' || r == '\r':
			add = " "
		case r == '…':
			add = "..."
		case r < 0x20 || r > 0x7e:
			add = "?"
		default:
			add = string(r)
		}
		if b.Len()+len(add) > maxDescription {
			break
		}
		b.WriteString(add)
	}
	return b.String()
}

// Route names r's endpoint for a log line: the ServeMux pattern it matched
// ("GET /invitations/{token}"), never the path itself, which may hold a
// secret (an invitation token is part of its landing page's path);
// "unmatched" before the mux has matched it.
func Route(r *http.Request) string {
	if r.Pattern == "" {
		return "unmatched"
	}
	return r.Pattern
}

// HandlerFunc is an endpoint that returns its error instead of writing it.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Handle adapts an endpoint to http.Handler: a returned error becomes an
// OAuth JSON error response (Write).
func (ew ErrorWriter) Handle(h HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			ew.Write(w, r, err)
		}
	})
}
