package admin

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/latchkey/latchkey/internal/store"
)

func TestGrants(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	for _, err := range []error{
		f.store.CreateUser(ctx, &store.User{ID: "ada", Email: "ada@example.com"}),
		f.store.CreateUser(ctx, &store.User{ID: "bob", Email: "bob@example.com"}),
		f.store.CreateClient(ctx, &store.Client{ID: "tv", AuthMethod: store.AuthNone}),
		f.store.CreateGrant(ctx, &store.Grant{ID: "g1", UserID: "ada", ClientID: "tv", Scopes: []string{"openid", "offline_access"},
			AuthTime: t0.Add(-time.Hour), CreatedAt: t0.Add(-time.Hour), ExpiresAt: t0.Add(24 * time.Hour), SessionHash: "secret-derived"}),
		f.store.CreateGrant(ctx, &store.Grant{ID: "g0", UserID: "ada", ClientID: "tv",
			CreatedAt: t0.Add(-48 * time.Hour), ExpiresAt: t0.Add(-time.Hour)}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}

	w := f.do(t, "GET", "/admin/v1/users/ada/grants", "")
	if w.Code != 200 {
		t.Fatalf("list: status %d, body %s", w.Code, w.Body)
	}
	g1 := Grant{ID: "g1", UserID: "ada", ClientID: "tv", Scope: "openid offline_access", Active: true,
		AuthTime: "2026-03-04T04:06:07Z", CreatedAt: "2026-03-04T04:06:07Z", ExpiresAt: "2026-03-05T05:06:07Z"}
	g0 := Grant{ID: "g0", UserID: "ada", ClientID: "tv", Scope: "", Active: false,
		CreatedAt: "2026-03-02T05:06:07Z", ExpiresAt: "2026-03-04T04:06:07Z"}
	if diff := cmp.Diff(GrantList{Grants: []Grant{g0, g1}}, decode[GrantList](t, w)); diff != "" {
		t.Errorf("list (-want +got):\n%s", diff)
	}
	if body := w.Body.String(); strings.Contains(body, "secret-derived") || strings.Contains(body, "session") {
		t.Errorf("the list shows the session: %s", body)
	}
	if w := f.do(t, "GET", "/admin/v1/users/bob/grants", ""); w.Body.String() != `{"grants":[]}`+"\n" {
		t.Errorf("no grants: %s", w.Body)
	}
	wantError(t, f.do(t, "GET", "/admin/v1/users/nobody/grants", ""), 404, "not_found", "no user nobody")

	// Revoke: 204, then listed as revoked; again is still 204.
	for range 2 {
		if w := f.do(t, "DELETE", "/admin/v1/grants/g1", ""); w.Code != 204 {
			t.Fatalf("revoke: status %d, body %s", w.Code, w.Body)
		}
	}
	got := decode[GrantList](t, f.do(t, "GET", "/admin/v1/users/ada/grants", ""))
	g1.Active, g1.RevokedAt = false, "2026-03-04T05:06:07Z"
	if diff := cmp.Diff(GrantList{Grants: []Grant{g0, g1}}, got); diff != "" {
		t.Errorf("after revoking (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(g1, decode[Grant](t, f.do(t, "GET", "/admin/v1/grants/g1", ""))); diff != "" {
		t.Errorf("get after revoking (-want +got):\n%s", diff)
	}
	wantError(t, f.do(t, "GET", "/admin/v1/grants/nope", ""), 404, "not_found", "no grant nope")
	wantError(t, f.do(t, "DELETE", "/admin/v1/grants/nope", ""), 404, "not_found", "no grant nope")
	wantError(t, f.do(t, "PUT", "/admin/v1/grants/g1", "{}"), 405, "method_not_allowed", "GET or DELETE")
}

func TestClientSessionMembers(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	w := f.do(t, "POST", "/admin/v1/clients", `{"client_id":"web","grant_types":["authorization_code"],
		"redirect_uris":["https://app.example/cb"],
		"post_logout_redirect_uris":["https://app.example/bye","com.example.app:/bye"],
		"session_attachment":"attached"}`)
	if w.Code != 201 {
		t.Fatalf("create: status %d, body %s", w.Code, w.Body)
	}
	got := decode[Client](t, w)
	if diff := cmp.Diff([]string{"https://app.example/bye", "com.example.app:/bye"}, got.PostLogoutRedirectURIs); diff != "" || got.SessionAttachment != "attached" {
		t.Errorf("created: post_logout_redirect_uris (-want +got) %s, session_attachment %q", diff, got.SessionAttachment)
	}
	stored, err := f.store.GetClient(t.Context(), "web")
	if err != nil {
		t.Fatal(err)
	}
	if !stored.Attached() || len(stored.PostLogoutRedirectURIs) != 2 {
		t.Errorf("stored %+v", stored)
	}

	// PATCH keeps what it leaves out; PUT resets to the defaults.
	got = decode[Client](t, f.do(t, "PATCH", "/admin/v1/clients/web", `{"client_name":"Web"}`))
	if got.SessionAttachment != "attached" || len(got.PostLogoutRedirectURIs) != 2 {
		t.Errorf("PATCH lost the session members: %+v", got)
	}
	got = decode[Client](t, f.do(t, "PUT", "/admin/v1/clients/web", `{"grant_types":["authorization_code"],"redirect_uris":["https://app.example/cb"]}`))
	if got.SessionAttachment != "detached" || len(got.PostLogoutRedirectURIs) != 0 || got.PostLogoutRedirectURIs == nil {
		t.Errorf("PUT did not reset the session members: %+v", got)
	}

	for _, tt := range []struct {
		name, body, descPart string
	}{
		{"unknown attachment", `{"session_attachment":"sometimes"}`, "session_attachment sometimes is not one of detached, attached"},
		{"empty attachment", `{"session_attachment":""}`, "session_attachment"},
		{"http URI off loopback", `{"post_logout_redirect_uris":["http://app.example/bye"]}`, "post_logout_redirect_uris: http://app.example/bye must use https"},
		{"fragment", `{"post_logout_redirect_uris":["https://app.example/bye#x"]}`, "fragment"},
		{"relative", `{"post_logout_redirect_uris":["/bye"]}`, "absolute"},
		{"twice", `{"post_logout_redirect_uris":["https://a.example/","https://a.example/"]}`, "twice"},
		{"not a list", `{"post_logout_redirect_uris":"https://a.example/"}`, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, f.do(t, "PATCH", "/admin/v1/clients/web", tt.body), 400, "invalid_request", tt.descPart)
		})
	}
}

// TestRevokeClientTokens: POST /admin/v1/clients/{id}/revoke-tokens
// revokes the client's active grants (not another client's), sets when
// its own tokens stopped being live, and answers how many grants; a body
// other than an empty object, or a missing client, is refused.
func TestRevokeClientTokens(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	for _, err := range []error{
		f.store.CreateUser(ctx, &store.User{ID: "ada", Email: "ada@example.com"}),
		f.store.CreateClient(ctx, &store.Client{ID: "tv", AuthMethod: store.AuthNone}),
		f.store.CreateClient(ctx, &store.Client{ID: "radio", AuthMethod: store.AuthNone}),
		f.store.CreateGrant(ctx, &store.Grant{ID: "g1", UserID: "ada", ClientID: "tv", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}),
		f.store.CreateGrant(ctx, &store.Grant{ID: "g2", UserID: "ada", ClientID: "radio", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	wantError(t, f.do(t, "POST", "/admin/v1/clients/tv/revoke-tokens", `{"all": true}`), 400, "invalid_request", "")
	w := f.do(t, "POST", "/admin/v1/clients/tv/revoke-tokens", "")
	if w.Code != 200 || strings.TrimSpace(w.Body.String()) != `{"grants_revoked":1}` {
		t.Fatalf("revoke tokens: %d %s", w.Code, w.Body)
	}
	for id, revoked := range map[string]bool{"g1": true, "g2": false} {
		g, err := f.store.GetGrant(ctx, id)
		if err != nil || g.RevokedAt.IsZero() == revoked {
			t.Errorf("grant %s: %+v %v; revoked: want %v", id, g, err, revoked)
		}
	}
	if c, err := f.store.GetClient(ctx, "tv"); err != nil || c.TokensRevokedAt.IsZero() {
		t.Errorf("the client's TokensRevokedAt: %+v %v", c, err)
	}
	wantError(t, f.do(t, "POST", "/admin/v1/clients/nope/revoke-tokens", ""), 404, "not_found", "no client nope")
}
