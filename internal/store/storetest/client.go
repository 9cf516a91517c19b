package storetest

import (
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

func testClients(t *testing.T, s store.Store) {
	ctx := t.Context()
	has, err := s.HasClients(ctx)
	wantErr(t, "HasClients", err, nil)
	if has {
		t.Error("HasClients on an empty store = true")
	}
	web := &store.Client{
		ID:           "web",
		Name:         "Web app",
		SecretHash:   "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		AuthMethod:   store.AuthClientSecretPost,
		GrantTypes:   []string{store.GrantAuthorizationCode, store.GrantRefreshToken},
		RedirectURIs: []string{"https://app.example/callback", "http://127.0.0.1:8085/callback"},
		Scopes:       []string{"openid", "email"},
		Tokens: store.TokenPolicy{
			IDTokenSigningAlg:   "RS256",
			AccessTokenLifetime: 5 * time.Minute,
			IDTokenLifetime:     90 * time.Second,
			RefreshLifetime:     7 * 24 * time.Hour,
			RefreshIdleLifetime: 36*time.Hour + 1500*time.Millisecond, // milliseconds are kept
			RefreshTokens:       store.RefreshAlways,
		},
		DPoPBound: true,
		CreatedAt: t0,
		UpdatedAt: at(time.Minute),
	}
	tv := &store.Client{
		ID:                 "tv",
		Name:               "Television",
		AuthMethod:         store.AuthNone,
		GrantTypes:         []string{store.GrantDeviceCode},
		Scopes:             []string{"openid", "offline_access"},
		UserCode:           store.UserCodePolicy{Alphabet: "digits", Length: 9, Group: -1},
		DeviceCodeLifetime: 15 * time.Minute,
		PollInterval:       7 * time.Second,
		CreatedAt:          t0,
	}
	for _, c := range []*store.Client{web, tv} {
		if err := s.CreateClient(ctx, c); err != nil {
			t.Fatalf("CreateClient(%q): %v", c.ID, err)
		}
	}
	for _, want := range []*store.Client{web, tv} {
		got, err := s.GetClient(ctx, want.ID)
		wantErr(t, "GetClient", err, nil)
		diff(t, "GetClient("+want.ID+")", want, got)
	}

	got, err := s.ListClients(ctx)
	wantErr(t, "ListClients", err, nil)
	diff(t, "ListClients (ordered by id)", []*store.Client{tv, web}, got)
	if has, err = s.HasClients(ctx); err != nil || !has {
		t.Errorf("HasClients with two clients = %v, %v; want true", has, err)
	}

	for _, tt := range []struct {
		name string
		err  error
		want error
	}{
		{"create with a taken id", s.CreateClient(ctx, newClient("web", true)), store.ErrConflict},
		{"update a missing client", s.UpdateClient(ctx, newClient("nope", true)), store.ErrNotFound},
		{"delete a missing client", s.DeleteClient(ctx, "nope"), store.ErrNotFound},
	} {
		wantErr(t, tt.name, tt.err, tt.want)
	}
	_, err = s.GetClient(ctx, "nope")
	wantErr(t, "GetClient(missing)", err, store.ErrNotFound)

	// Update replaces everything but the id and the creation time.
	changed := *tv
	changed.Name = "Living room TV"
	changed.Scopes = []string{"openid"}
	changed.UserCode = store.UserCodePolicy{Alphabet: "base20", Length: 8, Group: 4}
	changed.PollInterval = 10 * time.Second
	changed.Tokens = store.TokenPolicy{IDTokenSigningAlg: "ES256", AccessTokenLifetime: time.Hour, RefreshTokens: store.RefreshWithOfflineAccess}
	changed.UpdatedAt = at(time.Hour)
	changed.CreatedAt = at(time.Hour) // ignored
	wantErr(t, "UpdateClient", s.UpdateClient(ctx, &changed), nil)
	gotTV, err := s.GetClient(ctx, "tv")
	wantErr(t, "GetClient after update", err, nil)
	want := changed
	want.CreatedAt = t0
	diff(t, "client after UpdateClient", &want, gotTV)

	// And back: a policy cleared is every setting the server's again.
	cleared := changed
	cleared.Tokens = store.TokenPolicy{}
	wantErr(t, "UpdateClient (policy cleared)", s.UpdateClient(ctx, &cleared), nil)
	gotTV, err = s.GetClient(ctx, "tv")
	wantErr(t, "GetClient after clearing the policy", err, nil)
	want.Tokens = store.TokenPolicy{}
	diff(t, "client after clearing its token policy", &want, gotTV)

	wantErr(t, "DeleteClient", s.DeleteClient(ctx, "tv"), nil)
	_, err = s.GetClient(ctx, "tv")
	wantErr(t, "GetClient after delete", err, store.ErrNotFound)
}

func testUsers(t *testing.T, s store.Store) {
	ctx := t.Context()
	has, err := s.HasUsers(ctx)
	wantErr(t, "HasUsers", err, nil)
	if has {
		t.Error("HasUsers on an empty store = true")
	}
	bob := newUser("u1", "bob@example.com")
	ada := newUser("u2", "Ada@Example.COM") // the backend lower-cases too
	ada.Disabled = true
	ada.Sysadmin = true
	for _, u := range []*store.User{bob, ada} {
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatalf("CreateUser(%q): %v", u.ID, err)
		}
	}
	wantAda := *ada
	wantAda.Email = "ada@example.com"

	for _, tt := range []struct {
		name  string
		get   func() (*store.User, error)
		want  *store.User
		error error
	}{
		{"by id", func() (*store.User, error) { return s.GetUser(ctx, "u2") }, &wantAda, nil},
		{"by email", func() (*store.User, error) { return s.GetUserByEmail(ctx, "ada@example.com") }, &wantAda, nil},
		{"by email in another case", func() (*store.User, error) { return s.GetUserByEmail(ctx, "ADA@example.Com") }, &wantAda, nil},
		{"missing id", func() (*store.User, error) { return s.GetUser(ctx, "u9") }, nil, store.ErrNotFound},
		{"missing email", func() (*store.User, error) { return s.GetUserByEmail(ctx, "eve@example.com") }, nil, store.ErrNotFound},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.get()
			wantErr(t, tt.name, err, tt.error)
			diff(t, "user", tt.want, got)
		})
	}

	got, err := s.ListUsers(ctx)
	wantErr(t, "ListUsers", err, nil)
	diff(t, "ListUsers (ordered by email)", []*store.User{&wantAda, bob}, got)
	if has, err = s.HasUsers(ctx); err != nil || !has {
		t.Errorf("HasUsers with two users = %v, %v; want true", has, err)
	}

	taken := *bob
	taken.Email = "ADA@example.com"
	for _, tt := range []struct {
		name string
		err  error
		want error
	}{
		{"create with a taken id", s.CreateUser(ctx, newUser("u1", "other@example.com")), store.ErrConflict},
		{"create with a taken email in another case", s.CreateUser(ctx, newUser("u3", "BOB@example.com")), store.ErrConflict},
		{"update to a taken email", s.UpdateUser(ctx, &taken), store.ErrConflict},
		{"update a missing user", s.UpdateUser(ctx, newUser("u9", "u9@example.com")), store.ErrNotFound},
		{"delete a missing user", s.DeleteUser(ctx, "u9"), store.ErrNotFound},
	} {
		wantErr(t, tt.name, tt.err, tt.want)
	}

	changed := *bob
	changed.Email = "Robert@Example.com"
	changed.Name = "Robert"
	changed.Disabled = true
	changed.Sysadmin = true
	changed.UpdatedAt = at(time.Hour)
	wantErr(t, "UpdateUser", s.UpdateUser(ctx, &changed), nil)
	gotBob, err := s.GetUserByEmail(ctx, "robert@example.com")
	wantErr(t, "GetUserByEmail after update", err, nil)
	changed.Email = "robert@example.com"
	diff(t, "user after UpdateUser", &changed, gotBob)
	_, err = s.GetUserByEmail(ctx, "bob@example.com")
	wantErr(t, "old email after update", err, store.ErrNotFound)

	// Deleting a user deletes their sessions and grants with them.
	mustCreateClient(t, s, "app", false)
	wantErr(t, "CreateSession", s.CreateSession(ctx, &store.Session{Hash: "s1", UserID: "u1", ExpiresAt: at(time.Hour)}), nil)
	mustCreateGrant(t, s, newGrant("g1", "u1", "app", t0))
	wantErr(t, "DeleteUser", s.DeleteUser(ctx, "u1"), nil)
	_, err = s.GetUser(ctx, "u1")
	wantErr(t, "GetUser after delete", err, store.ErrNotFound)
	_, err = s.GetSession(ctx, "s1", t0)
	wantErr(t, "session of a deleted user", err, store.ErrNotFound)
	_, err = s.GetGrant(ctx, "g1")
	wantErr(t, "grant of a deleted user", err, store.ErrNotFound)
}
