package org

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/latchkey/latchkey/internal/oauth"
)

// MaxBodyBytes caps a request body; an invitation is a few hundred bytes.
const MaxBodyBytes = 64 << 10

// ReadJSON decodes the body of r into v strictly, as the admin API does:
// application/json, at most MaxBodyBytes of UTF-8 holding one JSON object,
// no unknown and no repeated members. encoding/json would otherwise replace
// invalid UTF-8, let the last of two equal keys win (a repeated "token" or
// "clientGroupIds" must not mean whichever comes last) and ignore members
// it does not know, such as an "organizationId" that tries to redirect an
// acceptance (SECURITY-CHECKLIST INV-05).
func ReadJSON(w http.ResponseWriter, r *http.Request, v any) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return badRequest("the body must be application/json")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return &oauth.Error{Code: oauth.InvalidRequest, Description: "the body is larger than 64 KiB", Status: http.StatusRequestEntityTooLarge}
		}
		return badRequest("the body could not be read")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return badRequest("the body is empty: want a JSON object")
	}
	if !utf8.Valid(body) {
		return badRequest("the body is not valid UTF-8")
	}
	if err := checkMembers(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok && te.Field != "" {
			return badRequest("%s has the wrong type", shorten(te.Field))
		}
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return badRequest("unknown member %s", shorten(name))
		}
		return badRequest("the body is not the JSON object expected")
	}
	return nil
}

// checkMembers walks the JSON tokens: the body must be exactly one object,
// and no object may repeat a member name (compared without case, as
// encoding/json matches names to fields).
func checkMembers(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	type object struct {
		names map[string]bool
		atKey bool
	}
	var stack []*object // nil entries are arrays
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1] != nil {
			stack[n-1].atKey = true
		}
	}
	for i := 0; ; i++ {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return badRequest("the body is not valid JSON")
		}
		if i > 0 && len(stack) == 0 {
			return badRequest("the body must hold a single JSON object")
		}
		if i == 0 && tok != json.Delim('{') {
			return badRequest("the body must be a JSON object")
		}
		if n := len(stack); n > 0 && stack[n-1] != nil && stack[n-1].atKey {
			if tok == json.Delim('}') {
				stack = stack[:n-1]
				valueDone()
				continue
			}
			name, _ := tok.(string)
			key := strings.ToLower(name)
			if stack[n-1].names[key] {
				return badRequest("member %s appears more than once", shorten(name))
			}
			stack[n-1].names[key] = true
			stack[n-1].atKey = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &object{names: map[string]bool{}, atKey: true})
		case json.Delim('['):
			stack = append(stack, nil)
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
			valueDone()
		default:
			valueDone()
		}
	}
}
