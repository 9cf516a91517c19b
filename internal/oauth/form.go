package oauth

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// MaxBodyBytes caps the body of every form endpoint. OAuth requests are a few
// hundred bytes; Go's own ParseForm would accept 10 MB.
const MaxBodyBytes = 64 << 10

// MaxParamBytes caps one parameter's value.
const MaxParamBytes = 8 << 10

// Form is a parsed request body: each parameter at most once.
type Form map[string]string

// Get returns the value of name, or "" when it is absent.
func (f Form) Get(name string) string { return f[name] }

// Has reports whether name was sent (even empty).
func (f Form) Has(name string) bool { _, ok := f[name]; return ok }

// ParseForm reads an application/x-www-form-urlencoded POST body strictly:
// RFC 6749 §3.2 requires POST for the token endpoint, §3.1/§3.2 forbid
// repeated parameters, and §2.3.1 forbids credentials in the query string,
// so the query is never read. Any violation is an invalid_request *Error
// (405 for another method, 413 for a body over MaxBodyBytes).
func ParseForm(w http.ResponseWriter, r *http.Request) (Form, error) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return nil, &Error{Code: InvalidRequest, Description: "the method must be POST", Status: http.StatusMethodNotAllowed}
	}
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, BadRequest("the body must be application/x-www-form-urlencoded")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, &Error{Code: InvalidRequest, Description: "the body is too large", Status: http.StatusRequestEntityTooLarge}
		}
		return nil, BadRequest("the body could not be read")
	}
	return ParseQuery(string(body))
}

// ParseQuery parses a urlencoded string strictly (see ParseForm).
func ParseQuery(s string) (Form, error) {
	vals, err := url.ParseQuery(s)
	if err != nil {
		return nil, BadRequest("the body is not valid form encoding")
	}
	f := make(Form, len(vals))
	for k, vs := range vals {
		if err := checkParam(k, vs); err != nil {
			return nil, err
		}
		f[k] = vs[0]
	}
	return f, nil
}

// QueryValue returns the single value of name in the URL query, rejecting a
// repeated parameter and values that are not clean text (for GET endpoints).
func QueryValue(q url.Values, name string) (string, error) {
	vs, ok := q[name]
	if !ok {
		return "", nil
	}
	if err := checkParam(name, vs); err != nil {
		return "", err
	}
	return vs[0], nil
}

func checkParam(k string, vs []string) error {
	if !cleanText(k) || len(k) > 256 {
		return BadRequest("a parameter name is not valid text")
	}
	if len(vs) != 1 {
		return BadRequest("parameter " + quote(k) + " must not be repeated")
	}
	if len(vs[0]) > MaxParamBytes {
		return BadRequest("parameter " + quote(k) + " is too long")
	}
	if !cleanText(vs[0]) {
		return BadRequest("parameter " + quote(k) + " is not valid UTF-8 text")
	}
	return nil
}

// cleanText reports whether s is valid UTF-8 without control characters.
// PostgreSQL refuses NUL in text and SQLite keeps it, so letting one through
// would make the backends disagree (docs/security.md BI-05, BI-06).
func cleanText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

// CleanText is cleanText for other packages' inputs (JSON bodies, headers).
func CleanText(s string) bool { return cleanText(s) }

// quote shortens and quotes a parameter name for an error description.
func quote(s string) string {
	if len(s) > 40 {
		s = s[:40]
	}
	return "\"" + strings.ToValidUTF8(s, "?") + "\""
}
