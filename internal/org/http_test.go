package org

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/latchkey/latchkey/internal/store"
)

// TestParseListQuery: every input of the invitation list, good and bad.
func TestParseListQuery(t *testing.T) {
	t.Parallel()
	inv := &store.Invitation{ID: "abcdefghijklmnopqrst", CreatedAt: t0}
	cursor := encodeCursor(inv)
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, tt := range []struct {
		name  string
		raw   string
		want  store.InvitationQuery
		error string // part of the description; "" for none
	}{
		{"nothing", "", store.InvitationQuery{Limit: DefaultListLimit}, ""},
		{"a state", "state=pending", store.InvitationQuery{State: "pending", Limit: DefaultListLimit}, ""},
		{"expired", "state=expired", store.InvitationQuery{State: "expired", Limit: DefaultListLimit}, ""},
		{"a limit", "limit=1", store.InvitationQuery{Limit: 1}, ""},
		{"the largest limit", "limit=500", store.InvitationQuery{Limit: MaxListLimit}, ""},
		{"a cursor", "cursor=" + cursor, store.InvitationQuery{Limit: DefaultListLimit, AfterCreated: t0, AfterID: inv.ID}, ""},
		{"all three", "state=revoked&limit=20&cursor=" + cursor,
			store.InvitationQuery{State: "revoked", Limit: 20, AfterCreated: t0, AfterID: inv.ID}, ""},
		{"empty values", "state=&limit=&cursor=", store.InvitationQuery{Limit: DefaultListLimit}, ""},
		{"an unknown state", "state=lost", store.InvitationQuery{}, "state must be one of"},
		{"a state in capitals", "state=PENDING", store.InvitationQuery{}, "state must be one of"},
		{"a mail's state", "state=sent", store.InvitationQuery{}, "state must be one of"},
		{"state twice", "state=pending&state=revoked", store.InvitationQuery{}, "must not be repeated"},
		{"limit 0", "limit=0", store.InvitationQuery{}, "limit must be"},
		{"limit too large", "limit=501", store.InvitationQuery{}, "limit must be"},
		{"a negative limit", "limit=-1", store.InvitationQuery{}, "limit must be"},
		{"a limit that is not a number", "limit=ten", store.InvitationQuery{}, "limit must be"},
		{"a huge limit", "limit=99999999999999999999", store.InvitationQuery{}, "limit must be"},
		{"a fractional limit", "limit=1.5", store.InvitationQuery{}, "limit must be"},
		{"limit twice", "limit=1&limit=2", store.InvitationQuery{}, "must not be repeated"},
		{"a cursor that is not base64url", "cursor=%21%21", store.InvitationQuery{}, "cursor is not one"},
		{"a padded cursor", "cursor=" + cursor + "%3D", store.InvitationQuery{}, "cursor is not one"},
		{"a cursor without an id", "cursor=" + enc("1700000000000."), store.InvitationQuery{}, "cursor is not one"},
		{"a cursor without a time", "cursor=" + enc(".abc"), store.InvitationQuery{}, "cursor is not one"},
		{"a cursor without a dot", "cursor=" + enc("1700000000000"), store.InvitationQuery{}, "cursor is not one"},
		{"a cursor with a negative time", "cursor=" + enc("-5.abc"), store.InvitationQuery{}, "cursor is not one"},
		{"a cursor with NUL in its id", "cursor=" + enc("5.a\x00b"), store.InvitationQuery{}, "cursor is not one"},
		{"a cursor with invalid UTF-8", "cursor=" + enc("5.\xff"), store.InvitationQuery{}, "cursor is not one"},
		{"a cursor too long", "cursor=" + enc("5."+strings.Repeat("a", 400)), store.InvitationQuery{}, "cursor is not one"},
		{"cursor twice", "cursor=" + cursor + "&cursor=" + cursor, store.InvitationQuery{}, "must not be repeated"},
		{"an unknown parameter", "stat=pending", store.InvitationQuery{}, "unknown query parameter"},
		{"an offset", "offset=10", store.InvitationQuery{}, "unknown query parameter"},
		{"a malformed escape", "state=%zz", store.InvitationQuery{}, "could not be read"},
		{"a semicolon", "state=pending;limit=1", store.InvitationQuery{}, "could not be read"},
		{"a control character", "state=pending%0A", store.InvitationQuery{}, "not valid UTF-8 text"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseListQuery(tt.raw)
			if tt.error != "" {
				if err == nil || !strings.Contains(err.Error(), tt.error) || !strings.HasPrefix(err.Error(), "invalid_request") {
					t.Errorf("parseListQuery(%q) = %v; want invalid_request: …%s…", tt.raw, err, tt.error)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseListQuery(%q): %v", tt.raw, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseListQuery(%q) (-want +got):\n%s", tt.raw, diff)
			}
		})
	}
}

// TestCursorRoundTrip: a cursor gives back the position it was made from.
func TestCursorRoundTrip(t *testing.T) {
	t.Parallel()
	for _, inv := range []*store.Invitation{
		{ID: "abcdefghijklmnopqrst", CreatedAt: t0},
		{ID: "an.id.with.dots", CreatedAt: time.UnixMilli(0)},
		{ID: "é", CreatedAt: t0.Add(time.Millisecond)},
	} {
		at, id, err := decodeCursor(encodeCursor(inv))
		if err != nil || !at.Equal(inv.CreatedAt) || id != inv.ID {
			t.Errorf("cursor of (%v, %q) decodes to (%v, %q), %v", inv.CreatedAt, inv.ID, at, id, err)
		}
	}
}
