package audit

import (
	"encoding/base64"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// Pages of the audit log.
const (
	DefaultLimit = 100
	MaxLimit     = 500
)

// queryNames are the query parameters a page of the log takes.
var queryNames = []string{"actor", "organization", "kind", "since", "until", "limit", "cursor"}

// ParseQuery reads the filters of a page of the log from a query string:
// actor (a user's, key's or client's id, or admin-token), organization,
// kind (one of Kinds), since and until (RFC 3339), limit (1 to MaxLimit)
// and cursor (the previous page's), each at most once, and nothing else,
// so that a misspelt filter is an error rather than the whole log. Its
// errors are *oauth.Error, invalid_request.
func ParseQuery(v url.Values) (store.AuditQuery, error) {
	q := store.AuditQuery{Limit: DefaultLimit}
	for name := range v {
		if !slices.Contains(queryNames, name) {
			return q, oauth.BadRequestf("unknown query parameter %q: the audit log takes %s", oauth.Shorten(name), strings.Join(queryNames, ", "))
		}
	}
	get := func(name string) string { s, _ := oauth.QueryValue(v, name); return s }
	for _, name := range queryNames {
		if _, err := oauth.QueryValue(v, name); err != nil {
			return q, err
		}
	}
	q.ActorID, q.OrgID, q.Kind = get("actor"), get("organization"), get("kind")
	for _, s := range []string{q.ActorID, q.OrgID} {
		if !oauth.CleanText(s) {
			return q, oauth.BadRequestf("actor and organization must be text without control characters")
		}
	}
	if q.Kind != "" && !slices.Contains(Kinds, q.Kind) {
		return q, oauth.BadRequestf("kind must be one of %s", strings.Join(Kinds, ", "))
	}
	for _, b := range []struct {
		name string
		t    *time.Time
	}{{"since", &q.Since}, {"until", &q.Until}} {
		if s := get(b.name); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return q, oauth.BadRequestf("%s must be a time such as 2026-12-02T14:00:00Z (RFC 3339)", b.name)
			}
			*b.t = t
		}
	}
	if s := get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxLimit {
			return q, oauth.BadRequestf("limit must be a whole number from 1 to %d", MaxLimit)
		}
		q.Limit = n
	}
	if c := get("cursor"); c != "" {
		var err error
		if q.BeforeAt, q.BeforeID, err = decodeCursor(c); err != nil {
			return q, err
		}
	}
	return q, nil
}

// Cursor is where a page that ended with e ends: e's time (unix
// milliseconds) and id, base64url-encoded. It is opaque to clients and
// grants nothing; the filters still apply to the next page.
func Cursor(e *store.AuditEntry) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(e.At.UnixMilli(), 10) + "." + e.ID))
}

// maxCursorLength bounds a cursor well above what Cursor makes.
const maxCursorLength = 512

func decodeCursor(c string) (time.Time, string, error) {
	bad := oauth.BadRequestf("cursor is not one this server gave: start again without it")
	if len(c) > maxCursorLength {
		return time.Time{}, "", bad
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", bad
	}
	ms, id, ok := strings.Cut(string(b), ".")
	n, err := strconv.ParseInt(ms, 10, 64)
	if !ok || err != nil || n < 0 || id == "" || !oauth.CleanText(id) {
		return time.Time{}, "", bad
	}
	return time.UnixMilli(n), id, nil
}

// Page trims es, the answer to a query for limit+1 entries (one more than
// a page, to learn whether a next page exists), to a page, and returns it
// with the next page's cursor, "" for none.
func Page(es []*store.AuditEntry, limit int) ([]*store.AuditEntry, string) {
	if len(es) > limit {
		es = es[:limit]
		return es, Cursor(es[limit-1])
	}
	return es, ""
}
