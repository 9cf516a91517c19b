package server

// End-to-end tests of an organization's invitations as resources: the
// send's Location, the list, resend and revoke, and who may use them; on
// SQLite and PostgreSQL.

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/org"
	"github.com/latchkey/latchkey/internal/store"
)

// invitationsPath is the collection of acme's invitations, or with id one of them.
func invitationsPath(orgID string, id ...string) string {
	p := "/organizations/" + orgID + "/client-group-invitations"
	for _, seg := range id {
		p += "/" + seg
	}
	return p
}

// pendingToken returns the token in the invitation's pending mail, the one a
// mail server would be sent next, and fails unless there is exactly one.
func (s *testServer) pendingToken(t *testing.T, id string) string {
	t.Helper()
	ms, err := s.Store.ListMail(t.Context(), id)
	mustDo(t, err)
	var tok string
	for _, m := range ms {
		if m.Status != store.MailPending {
			if m.Link != "" || m.Body != "" {
				t.Errorf("mail %s is %s but still holds its link", m.ID, m.Status)
			}
			continue
		}
		if tok != "" {
			t.Fatalf("invitation %s has more than one pending mail", id)
		}
		var ok bool
		if tok, ok = strings.CutPrefix(m.Link, s.URL+"/invitations/"); !ok || !strings.Contains(m.Body, m.Link) {
			t.Fatalf("pending mail of %s: link %q, body %q", id, m.Link, m.Body)
		}
	}
	if tok == "" {
		t.Fatalf("invitation %s has no pending mail", id)
	}
	return tok
}

// TestInvitationResources: the send's Location answers with the invitation
// the send did; the list pages through an organization's invitations and
// filters them by state; a resend makes a new token work and the old one
// stop; a revoke ends the invitation.
func TestInvitationResources(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b backend) {
		s := newInvServer(t, b, nil)

		// The send's Location, relative to the send, is the invitation.
		r := s.jsonRequest(t, "POST", invitationsPath(acmeOrg, "send"), s.adminAT,
			map[string]any{"clientGroupIds": []string{groupRead, groupWrite}, "recipientEmail": "devices@acme.example", "message": "Hi"})
		if r.Status != 201 {
			t.Fatalf("send: %d %s", r.Status, r.Raw)
		}
		loc, err := url.Parse(s.URL + invitationsPath(acmeOrg, "send"))
		mustDo(t, err)
		rel, err := url.Parse(r.Header.Get("Location"))
		mustDo(t, err)
		got := s.jsonRequest(t, "GET", loc.ResolveReference(rel).Path, s.adminAT, nil)
		if got.Status != 200 || got.Raw != r.Raw {
			t.Fatalf("GET Location %s: %d %s; want 200 and the send's answer %s", rel, got.Status, got.Raw, r.Raw)
		}
		id := r.str("id")
		if got := s.jsonRequest(t, "HEAD", invitationsPath(acmeOrg, id), s.adminAT, nil); got.Status != 200 {
			t.Errorf("HEAD: %d", got.Status)
		}
		// The admin token reads it too.
		if got := s.jsonRequest(t, "GET", invitationsPath(acmeOrg, id), testAdminToken, nil); got.Status != 200 || got.Raw != r.Raw {
			t.Errorf("GET with the admin token: %d %s", got.Status, got.Raw)
		}

		// Resend: a new token in a new mail; the old token is the uniform
		// dead one at once; the invitation keeps its id and lifetime.
		oldTok := s.pendingToken(t, id)
		s.Clock.Advance(time.Minute)
		re := s.jsonRequest(t, "POST", invitationsPath(acmeOrg, id, "resend"), s.adminAT, nil)
		if re.Status != 200 || re.str("id") != id || re.str("state") != "pending" || re.str("validUntil") != r.str("validUntil") {
			t.Fatalf("resend: %d %s", re.Status, re.Raw)
		}
		if strings.Contains(re.Raw, oauth.PrefixInvitation) {
			t.Errorf("the resend answer holds a token: %s", re.Raw)
		}
		newTok := s.pendingToken(t, id)
		if newTok == oldTok {
			t.Fatal("the resend kept the token")
		}
		wantOAuthError(t, s.accept(t, oldTok, "", nil), 410, org.CodeInvalidInvitation)
		// A second resend, with an empty JSON object, and by the admin token.
		if re := s.jsonRequest(t, "POST", invitationsPath(acmeOrg, id, "resend"), testAdminToken, "{}"); re.Status != 200 {
			t.Fatalf("second resend: %d %s", re.Status, re.Raw)
		}
		wantOAuthError(t, s.accept(t, newTok, "", nil), 410, org.CodeInvalidInvitation)
		newTok = s.pendingToken(t, id)
		if ok := s.accept(t, newTok, "", nil); ok.Status != 201 {
			t.Fatalf("accept with the resent token: %d %s", ok.Status, ok.Raw)
		}
		if got := s.jsonRequest(t, "GET", invitationsPath(acmeOrg, id), s.adminAT, nil); got.str("state") != "accepted" {
			t.Errorf("after acceptance: %s", got.Raw)
		}
		wantOAuthError(t, s.jsonRequest(t, "POST", invitationsPath(acmeOrg, id, "resend"), s.adminAT, nil), 409, "conflict")

		// Revoke: the state says so, the token is dead, and it is final.
		id2, tok2 := s.invite(t, map[string]any{"clientGroupIds": []string{groupRead}})
		rv := s.jsonRequest(t, "PUT", invitationsPath(acmeOrg, id2, "revoke"), s.adminAT, nil)
		if rv.Status != 200 || rv.str("state") != "revoked" || rv.str("id") != id2 {
			t.Fatalf("revoke: %d %s", rv.Status, rv.Raw)
		}
		wantOAuthError(t, s.accept(t, tok2, "", nil), 410, org.CodeInvalidInvitation)
		wantOAuthError(t, s.jsonRequest(t, "PUT", invitationsPath(acmeOrg, id2, "revoke"), s.adminAT, nil), 409, "conflict")
		wantOAuthError(t, s.jsonRequest(t, "POST", invitationsPath(acmeOrg, id2, "resend"), s.adminAT, nil), 409, "conflict")
		if ms, _ := s.Store.ListMail(t.Context(), id2); len(ms) != 1 || ms[0].Status != store.MailCancelled {
			t.Errorf("mail of the revoked invitation: %+v", ms)
		}

		// An expired invitation can be revoked but not resent.
		s.Clock.Advance(time.Second)
		id3 := s.send(t, map[string]any{"clientGroupIds": []string{groupRead}, "validForSeconds": 60})
		s.Clock.Advance(61 * time.Second)
		wantOAuthError(t, s.jsonRequest(t, "POST", invitationsPath(acmeOrg, id3, "resend"), s.adminAT, nil), 409, "conflict")
		if got := s.jsonRequest(t, "GET", invitationsPath(acmeOrg, id3), s.adminAT, nil); got.str("state") != "expired" {
			t.Errorf("an expired invitation reads %s", got.Raw)
		}

		// The list: newest first, in pages, by state.
		var sent []string
		for i := range 5 {
			s.Clock.Advance(time.Second)
			sent = append(sent, s.send(t, map[string]any{"clientGroupIds": []string{groupRead}, "message": fmt.Sprint("no. ", i)}))
		}
		slices.Reverse(sent)
		all := append(slices.Clone(sent), id3, id2, id)
		var listed []string
		cursor := ""
		for page := 0; ; page++ {
			path := invitationsPath(acmeOrg) + "?limit=3"
			if cursor != "" {
				path += "&cursor=" + url.QueryEscape(cursor)
			}
			l := s.jsonRequest(t, "GET", path, s.adminAT, nil)
			items, _ := l.Body["invitations"].([]any)
			if l.Status != 200 || len(items) > 3 || page > 5 {
				t.Fatalf("list page %d: %d %s", page, l.Status, l.Raw)
			}
			for _, it := range items {
				m := it.(map[string]any)
				listed = append(listed, m["id"].(string))
				if m["organizationId"] != acmeOrg || m["recipientEmail"] == nil || m["state"] == nil {
					t.Errorf("list item: %v", m)
				}
			}
			if cursor = l.str("nextCursor"); cursor == "" {
				break
			}
		}
		if !slices.Equal(listed, all) {
			t.Errorf("listed %v; want %v", listed, all)
		}
		for state, want := range map[string][]string{
			"pending": sent, "expired": {id3}, "revoked": {id2}, "accepted": {id}, "declined": nil,
		} {
			l := s.jsonRequest(t, "GET", invitationsPath(acmeOrg)+"?state="+state, s.adminAT, nil)
			var ids []string
			for _, it := range l.Body["invitations"].([]any) {
				ids = append(ids, it.(map[string]any)["id"].(string))
			}
			if l.Status != 200 || !slices.Equal(ids, want) || l.str("nextCursor") != "" {
				t.Errorf("state=%s: %d %v; want %v", state, l.Status, ids, want)
			}
		}
		// globex's list holds none of acme's; an empty list is an empty array.
		if l := s.jsonRequest(t, "GET", invitationsPath(globexOrg), s.globexAT, nil); l.Status != 200 || l.Raw != `{"invitations":[]}`+"\n" {
			t.Errorf("globex's list: %d %q", l.Status, l.Raw)
		}
	})
}

// TestInvitationResourcesCallers: only the admin token and an admin of the
// organization, with the invitations scope, may read, list, resend or
// revoke its invitations; anyone else gets 401 or 403, learns nothing
// about the invitation, and changes nothing (docs/security.md INV-09).
func TestInvitationResourcesCallers(t *testing.T) {
	t.Parallel()
	s := newInvServer(t, backends[0], nil)
	ctx := t.Context()
	id, tok := s.invite(t, map[string]any{"clientGroupIds": []string{groupRead}})
	before, err := s.Store.GetInvitation(ctx, id)
	mustDo(t, err)

	// A device of acme, with its own client credentials token.
	_, devTok := s.invite(t, map[string]any{"clientGroupIds": []string{groupRead}})
	dev := s.accept(t, devTok, "", nil)
	devAT, _ := s.deviceToken(t, dev.str("clientId"), dev.str("clientSecret"))
	noScope := s.userAccessTokenFor(t, s.User.ID, tvClient, "openid")

	for _, op := range []struct {
		method, path string
	}{
		{"GET", invitationsPath(acmeOrg, id)},
		{"GET", invitationsPath(acmeOrg)},
		{"POST", invitationsPath(acmeOrg, id, "resend")},
		{"PUT", invitationsPath(acmeOrg, id, "revoke")},
	} {
		for _, tt := range []struct {
			name   string
			bearer string
			status int
			code   string
		}{
			{"no token", "", 401, oauth.InvalidToken},
			{"garbage", "garbage", 401, oauth.InvalidToken},
			{"the admin token, wrong", testAdminToken + "x", 401, oauth.InvalidToken},
			{"a member, not an admin", s.memberAT, 403, oauth.AccessDenied},
			{"an admin's token without the invitations scope", noScope, 403, oauth.InsufficientScope},
			{"another organization's admin", s.globexAT, 403, oauth.AccessDenied},
			{"a device of the organization", devAT.AccessToken, 403, oauth.AccessDenied},
		} {
			t.Run(op.method+" "+op.path+": "+tt.name, func(t *testing.T) {
				r := s.jsonRequest(t, op.method, op.path, tt.bearer, nil)
				wantOAuthError(t, r, tt.status, tt.code)
				if strings.Contains(r.Raw, "devices@acme.example") {
					t.Errorf("a refused caller learnt the recipient: %s", r.Raw)
				}
				if tt.status == 401 && !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("WWW-Authenticate = %q", r.Header.Get("WWW-Authenticate"))
				}
			})
		}
	}

	// Through another organization's path: an admin of acme asking about
	// globex, and globex's admin naming acme's invitation on globex's path.
	for _, tt := range []struct {
		name, method, path, bearer string
		status                     int
		code                       string
	}{
		{"acme's admin, globex's list", "GET", invitationsPath(globexOrg), s.adminAT, 403, oauth.AccessDenied},
		{"acme's admin, its invitation on globex's path", "GET", invitationsPath(globexOrg, id), s.adminAT, 403, oauth.AccessDenied},
		{"globex's admin, acme's invitation on globex's path", "GET", invitationsPath(globexOrg, id), s.globexAT, 404, "not_found"},
		{"… resend", "POST", invitationsPath(globexOrg, id, "resend"), s.globexAT, 404, "not_found"},
		{"… revoke", "PUT", invitationsPath(globexOrg, id, "revoke"), s.globexAT, 404, "not_found"},
		{"the admin token, acme's invitation on globex's path", "GET", invitationsPath(globexOrg, id), testAdminToken, 404, "not_found"},
		{"the admin token, revoke on globex's path", "PUT", invitationsPath(globexOrg, id, "revoke"), testAdminToken, 404, "not_found"},
		{"an unknown organization", "GET", invitationsPath("nope"), s.adminAT, 403, oauth.AccessDenied},
		{"the admin token, an unknown organization", "GET", invitationsPath("nope"), testAdminToken, 404, "not_found"},
		{"an unknown invitation", "GET", invitationsPath(acmeOrg, "nope"), s.adminAT, 404, "not_found"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantOAuthError(t, s.jsonRequest(t, tt.method, tt.path, tt.bearer, nil), tt.status, tt.code)
		})
	}
	// Another organization's invitation reads exactly like one that does
	// not exist, but for the id it names.
	theirs := s.jsonRequest(t, "GET", invitationsPath(globexOrg, id), s.globexAT, nil)
	none := s.jsonRequest(t, "GET", invitationsPath(globexOrg, "x"+id[1:]), s.globexAT, nil)
	if theirs.Status != none.Status || strings.Replace(theirs.Raw, id, "x"+id[1:], 1) != none.Raw {
		t.Errorf("another organization's invitation: %d %s; an unknown one: %d %s", theirs.Status, theirs.Raw, none.Status, none.Raw)
	}

	after, err := s.Store.GetInvitation(ctx, id)
	mustDo(t, err)
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("refused callers changed the invitation (-before +after):\n%s", diff)
	}
	if got := s.pendingToken(t, id); got != tok {
		t.Error("refused callers changed the pending mail")
	}
	if r := s.accept(t, tok, "", nil); r.Status != 201 {
		t.Errorf("the invitation after refused callers: %d %s", r.Status, r.Raw)
	}
}

// TestInvitationResourcesBadInput: every malformed request is a 4xx with
// an OAuth-shaped JSON error, and changes nothing.
func TestInvitationResourcesBadInput(t *testing.T) {
	t.Parallel()
	s := newInvServer(t, backends[0], nil)
	id, tok := s.invite(t, map[string]any{"clientGroupIds": []string{groupRead}})
	big := `{"x":"` + strings.Repeat("a", 70<<10) + `"}`
	for _, tt := range []struct {
		name, method, path string
		ctype, body        string
		status             int
		allow              string // the Allow header of a 405
	}{
		{"list: an unknown state", "GET", invitationsPath(acmeOrg) + "?state=lost", "", "", 400, ""},
		{"list: limit 0", "GET", invitationsPath(acmeOrg) + "?limit=0", "", "", 400, ""},
		{"list: limit 501", "GET", invitationsPath(acmeOrg) + "?limit=501", "", "", 400, ""},
		{"list: a forged cursor", "GET", invitationsPath(acmeOrg) + "?cursor=not-a-cursor", "", "", 400, ""},
		{"list: an unknown parameter", "GET", invitationsPath(acmeOrg) + "?status=pending", "", "", 400, ""},
		{"list: state twice", "GET", invitationsPath(acmeOrg) + "?state=pending&state=revoked", "", "", 400, ""},
		{"list: a malformed query", "GET", invitationsPath(acmeOrg) + "?state=%zz", "", "", 400, ""},
		{"list: POST", "POST", invitationsPath(acmeOrg), "application/json", "{}", 405, "GET, HEAD"},
		{"one: DELETE", "DELETE", invitationsPath(acmeOrg, id), "", "", 405, "GET, HEAD"},
		{"one: PUT", "PUT", invitationsPath(acmeOrg, id), "application/json", "{}", 405, "GET, HEAD"},
		{"resend: GET", "GET", invitationsPath(acmeOrg, id, "resend"), "", "", 405, "POST"},
		{"resend: PUT", "PUT", invitationsPath(acmeOrg, id, "resend"), "", "", 405, "POST"},
		{"resend: a member", "POST", invitationsPath(acmeOrg, id, "resend"), "application/json", `{"recipientEmail":"evil@example.com"}`, 400, ""},
		{"resend: a form", "POST", invitationsPath(acmeOrg, id, "resend"), "application/x-www-form-urlencoded", "a=b", 400, ""},
		{"resend: not an object", "POST", invitationsPath(acmeOrg, id, "resend"), "application/json", "[]", 400, ""},
		{"resend: too large", "POST", invitationsPath(acmeOrg, id, "resend"), "application/json", big, 413, ""},
		{"revoke: POST", "POST", invitationsPath(acmeOrg, id, "revoke"), "", "", 405, "PUT"},
		{"revoke: a member", "PUT", invitationsPath(acmeOrg, id, "revoke"), "application/json", `{"state":"pending"}`, 400, ""},
		{"revoke: malformed", "PUT", invitationsPath(acmeOrg, id, "revoke"), "application/json", "{", 400, ""},
		{"revoke: invalid UTF-8", "PUT", invitationsPath(acmeOrg, id, "revoke"), "application/json", "{\"\xff\":1}", 400, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), tt.method, s.URL+tt.path, strings.NewReader(tt.body))
			mustDo(t, err)
			if tt.ctype != "" {
				req.Header.Set("Content-Type", tt.ctype)
			}
			req.Header.Set("Authorization", "Bearer "+s.adminAT)
			r := do(t, req)
			if r.Status != tt.status || r.str("error") == "" || r.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("got %d %s; want %d with a JSON error", r.Status, r.Raw, tt.status)
			}
			if got := r.Header.Get("Allow"); got != tt.allow {
				t.Errorf("Allow = %q; want %q", got, tt.allow)
			}
		})
	}
	if got := s.pendingToken(t, id); got != tok {
		t.Error("bad requests changed the pending mail")
	}
	if inv, _ := s.Store.GetInvitation(t.Context(), id); inv.Status != store.InvitationPending || inv.TokenHash != oauth.HashSecret(tok) {
		t.Errorf("bad requests changed the invitation: %+v", inv)
	}
}

// TestResendRacesAccept: a resend sent while devices accept with the old
// token: either one device gets in and the resend is refused (409), or the
// resend wins and every device is told the invitation is over (410); never
// both, never a 5xx (docs/security.md INV-11).
func TestResendRacesAccept(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b backend) {
		s := newInvServer(t, b, nil)
		for round := range 4 {
			id, tok := s.invite(t, map[string]any{"clientGroupIds": []string{groupRead}})
			const racers = 8 // the resend is racer 0
			statuses := make([]int, racers)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range racers {
				wg.Go(func() {
					<-start
					method, path, bearer, body := "PUT", "/client-group-invitations/accept", "", `{"token":"`+tok+`"}`
					if i == 0 {
						method, path, bearer, body = "POST", invitationsPath(acmeOrg, id, "resend"), s.adminAT, "{}"
					}
					req, _ := http.NewRequestWithContext(t.Context(), method, s.URL+path, strings.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					if bearer != "" {
						req.Header.Set("Authorization", "Bearer "+bearer)
					}
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					statuses[i] = resp.StatusCode
				})
			}
			close(start)
			wg.Wait()
			accepted := 0
			for _, st := range statuses[1:] {
				switch st {
				case 201:
					accepted++
				case 410:
				default:
					t.Errorf("round %d: an acceptance answered %d", round, st)
				}
			}
			inv, err := s.Store.GetInvitation(t.Context(), id)
			mustDo(t, err)
			switch {
			case statuses[0] == 200 && accepted == 0:
				if inv.Status != store.InvitationPending || inv.TokenHash == oauth.HashSecret(tok) {
					t.Errorf("round %d: the resend won, but the invitation is %s with the old token: %v", round, inv.Status, inv.TokenHash == oauth.HashSecret(tok))
				}
			case statuses[0] == 409 && accepted == 1:
				if inv.Status != store.InvitationAccepted {
					t.Errorf("round %d: a device won, but the invitation is %s", round, inv.Status)
				}
			default:
				t.Errorf("round %d: resend %d and %d acceptances; want 200 and none, or 409 and one", round, statuses[0], accepted)
			}
		}
	})
}
