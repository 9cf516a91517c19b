package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// testAuthorization is the authorization code flow's part of the contract:
// requests waiting for a person, remembered consent and codes. Each subtest
// makes its own client and user on the one store.
func testAuthorization(t *testing.T, s store.Store) {
	for _, tt := range []struct {
		name string
		test func(t *testing.T, s store.Store, f *authFixture)
	}{
		{"RequestRoundTrip", testAuthRequestRoundTrip},
		{"RequestBind", testAuthRequestBind},
		{"RequestDeny", testAuthRequestDeny},
		{"RequestApprove", testAuthRequestApprove},
		{"ApproveRollsBack", testAuthRequestApproveRollsBack},
		{"Consent", testConsent},
		{"CodeRoundTrip", testAuthCodeRoundTrip},
		{"Redeem", testAuthCodeRedeem},
		{"RedeemExpired", testAuthCodeRedeemExpired},
		{"RedeemRollsBack", testAuthCodeRedeemRollsBack},
		{"Burn", testAuthCodeBurn},
		{"Cascade", testAuthCascade},
		{"OddKeys", testAuthOddKeys},
		{"InvalidText", testAuthInvalidText},
		{"ConcurrentRedeem", testConcurrentRedeemAuthCode},
		{"ConcurrentDecide", testConcurrentDecideAuthRequest},
		{"ConcurrentBind", testConcurrentBindAuthRequest},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := fmt.Sprint(len(tt.name), tt.name)
			f := &authFixture{
				client: mustCreateClient(t, s, "web-"+n, false),
				user:   mustCreateUser(t, s, "user-"+n),
				n:      n,
			}
			tt.test(t, s, f)
		})
	}
}

// authFixture is a subtest's client and user, and a prefix for its keys.
type authFixture struct {
	client *store.Client
	user   *store.User
	n      string
}

func (f *authFixture) key(what string, i int) string { return fmt.Sprintf("%s-%s-%d", what, f.n, i) }

// request is a pending request i with every field set, created at t0 and
// expiring ten minutes later, bound to no session.
func (f *authFixture) request(i int) *store.AuthRequest {
	return &store.AuthRequest{
		IDHash:              f.key("request", i),
		ClientID:            f.client.ID,
		RedirectURI:         "https://app.example/callback?tenant=1",
		RedirectURISent:     true,
		Scopes:              []string{"openid", "profile"},
		State:               "state-" + f.key("s", i),
		Nonce:               "nonce-" + f.key("n", i),
		CodeChallenge:       "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		CodeChallengeMethod: "S256",
		Prompt:              "login consent",
		MaxAge:              90 * time.Second,
		LoginHint:           "ada@example.com",
		DPoPJKT:             "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I",
		Status:              store.AuthRequestPending,
		CreatedAt:           t0,
		ExpiresAt:           at(10 * time.Minute),
	}
}

// code is code i for the fixture's client and user, issued at t0 and valid
// for 60 seconds.
func (f *authFixture) code(i int) *store.AuthCode {
	return &store.AuthCode{
		Hash:                f.key("code", i),
		ClientID:            f.client.ID,
		UserID:              f.user.ID,
		RedirectURI:         "https://app.example/callback?tenant=1",
		RedirectURISent:     true,
		Scopes:              []string{"openid", "offline_access"},
		Nonce:               "nonce",
		CodeChallenge:       "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		CodeChallengeMethod: "S256",
		DPoPJKT:             "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I",
		AuthTime:            at(-time.Minute),
		SessionHash:         "session-hash",
		CreatedAt:           t0,
		ExpiresAt:           at(time.Minute),
	}
}

func (f *authFixture) grant(i int) *store.Grant {
	return newGrant(f.key("grant", i), f.user.ID, f.client.ID, t0)
}

func (f *authFixture) refresh(i int, g *store.Grant) *store.RefreshToken {
	rt := newRefreshToken(f.key("rt", i), g.ID, at(time.Hour))
	rt.ClientID = f.client.ID
	return rt
}

func mustCreateAuthRequest(t *testing.T, s store.Store, r *store.AuthRequest) *store.AuthRequest {
	t.Helper()
	if err := s.CreateAuthRequest(t.Context(), r); err != nil {
		t.Fatalf("CreateAuthRequest: %v", err)
	}
	return r
}

func mustBind(t *testing.T, s store.Store, r *store.AuthRequest, session string) *store.AuthRequest {
	t.Helper()
	got, err := s.BindAuthRequest(t.Context(), r.IDHash, session, t0)
	if err != nil {
		t.Fatalf("BindAuthRequest: %v", err)
	}
	return got
}

func mustGetAuthRequest(t *testing.T, s store.Store, idHash string) *store.AuthRequest {
	t.Helper()
	r, err := s.GetAuthRequest(t.Context(), idHash, t0)
	if err != nil {
		t.Fatalf("GetAuthRequest: %v", err)
	}
	return r
}

func mustGetAuthCode(t *testing.T, s store.Store, hash string) *store.AuthCode {
	t.Helper()
	c, err := s.GetAuthCode(t.Context(), hash)
	if err != nil {
		t.Fatalf("GetAuthCode: %v", err)
	}
	return c
}

func testAuthRequestRoundTrip(t *testing.T, s store.Store, f *authFixture) {
	ctx := t.Context()
	r := mustCreateAuthRequest(t, s, f.request(1))
	diff(t, "request", r, mustGetAuthRequest(t, s, r.IDHash))

	// No max_age, no PKCE, no scopes, an error to send back.
	r2 := f.request(2)
	r2.MaxAge, r2.CodeChallenge, r2.CodeChallengeMethod, r2.Scopes, r2.RedirectURISent, r2.DPoPJKT = -1, "", "", nil, false, ""
	r2.ErrorCode, r2.ErrorDescription = "invalid_scope", "the client may not ask for scope admin"
	mustCreateAuthRequest(t, s, r2)
	diff(t, "request without max_age", r2, mustGetAuthRequest(t, s, r2.IDHash))
	// max_age=0 is not "no max_age".
	r3 := f.request(3)
	r3.MaxAge = 0
	mustCreateAuthRequest(t, s, r3)
	diff(t, "request with max_age=0", r3, mustGetAuthRequest(t, s, r3.IDHash))

	wantErr(t, "CreateAuthRequest with a taken id", s.CreateAuthRequest(ctx, f.request(1)), store.ErrConflict)
	unknown := f.request(4)
	unknown.ClientID = "no-such-client"
	wantErr(t, "CreateAuthRequest for an unknown client", s.CreateAuthRequest(ctx, unknown), store.ErrNotFound)

	_, err := s.GetAuthRequest(ctx, r.IDHash, r.ExpiresAt)
	wantErr(t, "GetAuthRequest when it expires", err, store.ErrNotFound)
	_, err = s.GetAuthRequest(ctx, "no-such-request", t0)
	wantErr(t, "GetAuthRequest of an unknown id", err, store.ErrNotFound)
}

func testAuthRequestBind(t *testing.T, s store.Store, f *authFixture) {
	ctx := t.Context()
	r := mustCreateAuthRequest(t, s, f.request(1))
	want := *r
	want.SessionHash = "session-a"
	diff(t, "bound request", &want, mustBind(t, s, r, "session-a"))
	diff(t, "bound request, again by its session", &want, mustBind(t, s, r, "session-a"))
	diff(t, "stored request", &want, mustGetAuthRequest(t, s, r.IDHash))

	_, err := s.BindAuthRequest(ctx, r.IDHash, "session-b", t0)
	wantErr(t, "BindAuthRequest by another session", err, store.ErrConflict)
	_, err = s.BindAuthRequest(ctx, r.IDHash, "", t0)
	wantErr(t, "BindAuthRequest without a session", err, store.ErrInvalid)
	_, err = s.BindAuthRequest(ctx, "no-such-request", "session-a", t0)
	wantErr(t, "BindAuthRequest of an unknown id", err, store.ErrNotFound)
	_, err = s.BindAuthRequest(ctx, r.IDHash, "session-a", r.ExpiresAt)
	wantErr(t, "BindAuthRequest when it expires", err, store.ErrNotFound)
	diff(t, "request after refused binds", &want, mustGetAuthRequest(t, s, r.IDHash))

	// A decided request binds no more, even to its own session.
	wantErr(t, "DenyAuthRequest", s.DenyAuthRequest(ctx, r.IDHash, "session-a", t0), nil)
	_, err = s.BindAuthRequest(ctx, r.IDHash, "session-a", t0)
	wantErr(t, "BindAuthRequest of a denied request", err, store.ErrConflict)
}

func testAuthRequestDeny(t *testing.T, s store.Store, f *authFixture) {
	ctx := t.Context()
	r := mustCreateAuthRequest(t, s, f.request(1))
	wantErr(t, "DenyAuthRequest of an unbound request", s.DenyAuthRequest(ctx, r.IDHash, "session-a", t0), store.ErrConflict)
	wantErr(t, "DenyAuthRequest without a session", s.DenyAuthRequest(ctx, r.IDHash, "", t0), store.ErrConflict)
	r = mustBind(t, s, r, "session-a")
	wantErr(t, "DenyAuthRequest by another session", s.DenyAuthRequest(ctx, r.IDHash, "session-b", t0), store.ErrConflict)
	wantErr(t, "DenyAuthRequest when it expires", s.DenyAuthRequest(ctx, r.IDHash, "session-a", r.ExpiresAt), store.ErrNotFound)
	wantErr(t, "DenyAuthRequest of an unknown id", s.DenyAuthRequest(ctx, "no-such-request", "session-a", t0), store.ErrNotFound)
	diff(t, "request after refused denials", r, mustGetAuthRequest(t, s, r.IDHash))

	wantErr(t, "DenyAuthRequest", s.DenyAuthRequest(ctx, r.IDHash, "session-a", t0), nil)
	want := *r
	want.Status = store.AuthRequestDenied
	diff(t, "denied request", &want, mustGetAuthRequest(t, s, r.IDHash))
	// Final: neither an approval nor another denial lands afterwards.
	wantErr(t, "ApproveAuthRequest after a denial", s.ApproveAuthRequest(ctx, r.IDHash, "session-a", f.code(1), nil, t0), store.ErrConflict)
	wantErr(t, "DenyAuthRequest again", s.DenyAuthRequest(ctx, r.IDHash, "session-a", t0), store.ErrConflict)
	_, err := s.GetAuthCode(ctx, f.code(1).Hash)
	wantErr(t, "GetAuthCode of the refused approval's code", err, store.ErrNotFound)
	diff(t, "request after a replayed approval", &want, mustGetAuthRequest(t, s, r.IDHash))
}

func testAuthRequestApprove(t *testing.T, s store.Store, f *authFixture) {
	ctx := t.Context()
	r := mustCreateAuthRequest(t, s, f.request(1))
	code := f.code(1)
	consent := &store.Consent{UserID: f.user.ID, ClientID: f.client.ID, Scopes: []string{"openid", "profile"}, CreatedAt: t0}
	wantErr(t, "ApproveAuthRequest of an unbound request", s.ApproveAuthRequest(ctx, r.IDHash, "session-a", code, consent, t0), store.ErrConflict)
	r = mustBind(t, s, r, "session-a")
	wantErr(t, "ApproveAuthRequest by another session", s.ApproveAuthRequest(ctx, r.IDHash, "session-b", code, consent, t0), store.ErrConflict)
	wantErr(t, "ApproveAuthRequest when it expires", s.ApproveAuthRequest(ctx, r.IDHash, "session-a", code, consent, r.ExpiresAt), store.ErrNotFound)
	wantErr(t, "ApproveAuthRequest of an unknown id", s.ApproveAuthRequest(ctx, "no-such-request", "session-a", code, consent, t0), store.ErrNotFound)
	_, err := s.GetAuthCode(ctx, code.Hash)
	wantErr(t, "GetAuthCode after refused approvals", err, store.ErrNotFound)
	_, err = s.GetConsent(ctx, f.user.ID, f.client.ID)
	wantErr(t, "GetConsent after refused approvals", err, store.ErrNotFound)

	wantErr(t, "ApproveAuthRequest", s.ApproveAuthRequest(ctx, r.IDHash, "session-a", code, consent, t0), nil)
	want := *r
	want.Status = store.AuthRequestDone
	diff(t, "approved request", &want, mustGetAuthRequest(t, s, r.IDHash))
	diff(t, "approval's code", code, mustGetAuthCode(t, s, code.Hash))
	got, err := s.GetConsent(ctx, f.user.ID, f.client.ID)
	wantErr(t, "GetConsent", err, nil)
	diff(t, "consent", consent, got)

	wantErr(t, "ApproveAuthRequest again", s.ApproveAuthRequest(ctx, r.IDHash, "session-a", f.code(2), nil, t0), store.ErrConflict)
	wantErr(t, "DenyAuthRequest after approval", s.DenyAuthRequest(ctx, r.IDHash, "session-a", t0), store.ErrConflict)
	_, err = s.GetAuthCode(ctx, f.code(2).Hash)
	wantErr(t, "GetAuthCode of the second approval's code", err, store.ErrNotFound)

	// A second request adds scopes to the consent; those allowed before
	// keep their first time. Without consent, an approval remembers nothing.
	r2 := mustBind(t, s, mustCreateAuthRequest(t, s, f.request(2)), "session-a")
	more := &store.Consent{UserID: f.user.ID, ClientID: f.client.ID, Scopes: []string{"profile", "email"}, CreatedAt: at(time.Hour)}
	wantErr(t, "ApproveAuthRequest with more scopes", s.ApproveAuthRequest(ctx, r2.IDHash, "session-a", f.code(2), more, at(time.Minute)), nil)
	r3 := mustBind(t, s, mustCreateAuthRequest(t, s, f.request(3)), "session-a")
	wantErr(t, "ApproveAuthRequest without consent", s.ApproveAuthRequest(ctx, r3.IDHash, "session-a", f.code(3), nil, t0), nil)
	got, err = s.GetConsent(ctx, f.user.ID, f.client.ID)
	wantErr(t, "GetConsent", err, nil)
	slices.Sort(got.Scopes)
	diff(t, "consent after a second approval",
		&store.Consent{UserID: f.user.ID, ClientID: f.client.ID, Scopes: []string{"email", "openid", "profile"}, CreatedAt: t0}, got)
}

// testAuthRequestApproveRollsBack: an approval whose code cannot be stored
// leaves the request pending and nothing remembered.
func testAuthRequestApproveRollsBack(t *testing.T, s store.Store, f *authFixture) {
	ctx := t.Context()
	r := mustBind(t, s, mustCreateAuthRequest(t, s, f.request(1)), "session-a")
	code := f.code(1)
	code.UserID = "no-such-user"
	consent := &store.Consent{UserID: f.user.ID, ClientID: f.client.ID, Scopes: []string{"openid"}, CreatedAt: t0}
	wantErr(t, "ApproveAuthRequest with a code for an unknown user", s.ApproveAuthRequest(ctx, r.IDHash, "session-a", code, consent, t0), store.ErrNotFound)
	diff(t, "request after a failed approval", r, mustGetAuthRequest(t, s, r.IDHash))
	_, err := s.GetConsent(ctx, f.user.ID, f.client.ID)
	wantErr(t, "GetConsent after a failed approval", err, store.ErrNotFound)
	// A taken code hash fails the same way.
	taken := f.code(2)
	wantErr(t, "CreateAuthCode", s.CreateAuthCode(ctx, taken), nil)
	err = s.ApproveAuthRequest(ctx, r.IDHash, "session-a", f.code(2), consent, t0)
	if err == nil {
		t.Fatal("ApproveAuthRequest with a taken code hash succeeded")
	}
	diff(t, "request after a failed approval", r, mustGetAuthRequest(t, s, r.IDHash))
	wantErr(t, "ApproveAuthRequest", s.ApproveAuthRequest(ctx, r.IDHash, "session-a", f.code(3), consent, t0), nil)
}

func testConsent(t *testing.T, s store.Store, f *authFixture) {
	ctx := t.Context()
	_, err := s.GetConsent(ctx, f.user.ID, f.client.ID)
	wantErr(t, "GetConsent before any", err, store.ErrNotFound)
	wantErr(t, "DeleteConsent before any", s.DeleteConsent(ctx, f.user.ID, f.client.ID), store.ErrNotFound)
	r := mustBind(t, s, mustCreateAuthRequest(t, s, f.request(1)), "session-a")
	consent := &store.Consent{UserID: f.user.ID, ClientID: f.client.ID, Scopes: []string{"openid"}, CreatedAt: t0}
	wantErr(t, "ApproveAuthRequest", s.ApproveAuthRequest(ctx, r.IDHash, "session-a", f.code(1), consent, t0), nil)
	// Consent is per user and client.
	other := mustCreateClient(t, s, "other-"+f.n, true)
	_, err = s.GetConsent(ctx, f.user.ID, other.ID)
	wantErr(t, "GetConsent for another client", err, store.ErrNotFound)
	_, err = s.GetConsent(ctx, "someone-else", f.client.ID)
	wantErr(t, "GetConsent for another user", err, store.ErrNotFound)

	wantErr(t, "DeleteConsent", s.DeleteConsent(ctx, f.user.ID, f.client.ID), nil)
	_, err = s.GetConsent(ctx, f.user.ID, f.client.ID)
	wantErr(t, "GetConsent after DeleteConsent", err, store.ErrNotFound)
	wantErr(t, "DeleteConsent again", s.DeleteConsent(ctx, f.user.ID, f.client.ID), store.ErrNotFound)
}

func testAuthCodeRoundTrip(t *testing.T, s store.Store, f *authFixture) {
	ctx := t.Context()
	c := f.code(1)
	wantErr(t, "CreateAuthCode", s.CreateAuthCode(ctx, c), nil)
	diff(t, "code", c, mustGetAuthCode(t, s, c.Hash))
	// Without PKCE, nonce or scopes, redirect URI not sent.
	c2 := f.code(2)
	c2.CodeChallenge, c2.CodeChallengeMethod, c2.Nonce, c2.Scopes, c2.RedirectURISent, c2.SessionHash, c2.DPoPJKT = "", "", "", nil, false, "", ""
	wantErr(t, "CreateAuthCode", s.CreateAuthCode(ctx, c2), nil)
	diff(t, "plain code", c2, mustGetAuthCode(t, s, c2.Hash))

	wantErr(t, "CreateAuthCode with a taken hash", s.CreateAuthCode(ctx, f.code(1)), store.ErrConflict)
	noUser := f.code(3)
	noUser.UserID = "no-such-user"
	wantErr(t, "CreateAuthCode for an unknown user", s.CreateAuthCode(ctx, noUser), store.ErrNotFound)
	noClient := f.code(3)
	noClient.ClientID = "no-such-client"
	wantErr(t, "CreateAuthCode for an unknown client", s.CreateAuthCode(ctx, noClient), store.ErrNotFound)
	_, err := s.GetAuthCode(ctx, "no-such-code")
	wantErr(t, "GetAuthCode of an unknown hash", err, store.ErrNotFound)
}

func testAuthCodeRedeem(t *testing.T, s store.Store, f *authFixture) {
	ctx := t.Context()
	c := f.code(1)
	wantErr(t, "CreateAuthCode", s.CreateAuthCode(ctx, c), nil)
	g := f.grant(1)
	g.SessionHash = c.SessionHash
	rt := f.refresh(1, g)
	first, err := s.RedeemAuthCode(ctx, c.Hash, g, rt, at(time.Second))
	wantErr(t, "RedeemAuthCode", err, nil)
	if first != "" {
		t.Errorf("RedeemAuthCode = %q; want no grant id on success", first)
	}
	want := *c
	want.UsedAt, want.GrantID = at(time.Second), g.ID
	diff(t, "redeemed code", &want, mustGetAuthCode(t, s, c.Hash))
	gotGrant, err := s.GetGrant(ctx, g.ID)
	wantErr(t, "GetGrant", err, nil)
	diff(t, "redemption's grant", g, gotGrant)
	gotRT, err := s.GetRefreshToken(ctx, rt.Hash)
	wantErr(t, "GetRefreshToken", err, nil)
	diff(t, "redemption's refresh token", rt, gotRT)

	// Again: ErrConflict with the first grant, and nothing of the second stored.
	g2 := f.grant(2)
	first, err = s.RedeemAuthCode(ctx, c.Hash, g2, f.refresh(2, g2), at(2*time.Second))
	wantErr(t, "RedeemAuthCode again", err, store.ErrConflict)
	if first != g.ID {
		t.Errorf("RedeemAuthCode again: first grant %q; want %q", first, g.ID)
	}
	// Used and expired: still a reuse, the first grant still named.
	first, err = s.RedeemAuthCode(ctx, c.Hash, g2, nil, at(time.Hour))
	wantErr(t, "RedeemAuthCode again after expiry", err, store.ErrConflict)
	if first != g.ID {
		t.Errorf("RedeemAuthCode again after expiry: first grant %q; want %q", first, g.ID)
	}
	_, err = s.GetGrant(ctx, g2.ID)
	wantErr(t, "GetGrant of the second redemption's grant", err, store.ErrNotFound)
	_, err = s.GetRefreshToken(ctx, f.refresh(2, g2).Hash)
	wantErr(t, "GetRefreshToken of the second redemption's token", err, store.ErrNotFound)
	diff(t, "code after a second redemption", &want, mustGetAuthCode(t, s, c.Hash))

	// Without a refresh token.
	c3 := f.code(3)
	wantErr(t, "CreateAuthCode", s.CreateAuthCode(ctx, c3), nil)
	_, err = s.RedeemAuthCode(ctx, c3.Hash, f.grant(3), nil, t0)
	wantErr(t, "RedeemAuthCode without a refresh token", err, nil)

	_, err = s.RedeemAuthCode(ctx, "no-such-code", f.grant(4), nil, t0)
	wantErr(t, "RedeemAuthCode of an unknown code", err, store.ErrNotFound)
}

func testAuthCodeRedeemExpired(t *testing.T, s store.Store, f *authFixture) {
	ctx := t.Context()
	c := f.code(1)
	wantErr(t, "CreateAuthCode", s.CreateAuthCode(ctx, c), nil)
	g := f.grant(1)
	_, err := s.RedeemAuthCode(ctx, c.Hash, g, f.refresh(1, g), c.ExpiresAt)
	wantErr(t, "RedeemAuthCode when it expires", err, store.ErrNotFound)
	diff(t, "code after a late redemption", c, mustGetAuthCode(t, s, c.Hash))
	_, err = s.GetGrant(ctx, g.ID)
	wantErr(t, "GetGrant of a late redemption", err, store.ErrNotFound)
}

// testAuthCodeRedeemRollsBack: a redemption whose grant or token cannot be
// stored leaves the code unused, for the client to try again.
func testAuthCodeRedeemRollsBack(t *testing.T, s store.Store, f *authFixture) {
	ctx := t.Context()
	c := f.code(1)
	wantErr(t, "CreateAuthCode", s.CreateAuthCode(ctx, c), nil)
	bad := f.grant(1)
	bad.UserID = "no-such-user"
	_, err := s.RedeemAuthCode(ctx, c.Hash, bad, nil, t0)
	wantErr(t, "RedeemAuthCode with a grant for an unknown user", err, store.ErrNotFound)
	diff(t, "code after a failed redemption", c, mustGetAuthCode(t, s, c.Hash))

	taken := mustCreateGrant(t, s, f.grant(2))
	_, err = s.RedeemAuthCode(ctx, c.Hash, f.grant(2), nil, t0)
	if err == nil || errors.Is(err, store.ErrConflict) {
		t.Fatalf("RedeemAuthCode with a taken grant id = %v; want an error that is not ErrConflict (which means reuse)", err)
	}
	g := f.grant(3)
	rt := f.refresh(3, taken)
	mustCreateRefreshToken(t, s, rt)
	_, err = s.RedeemAuthCode(ctx, c.Hash, g, f.refresh(3, g), t0)
	if err == nil || errors.Is(err, store.ErrConflict) {
		t.Fatalf("RedeemAuthCode with a taken token hash = %v; want an error that is not ErrConflict", err)
	}
	_, err = s.GetGrant(ctx, g.ID)
	wantErr(t, "GetGrant of a rolled back redemption", err, store.ErrNotFound)
	diff(t, "code after failed redemptions", c, mustGetAuthCode(t, s, c.Hash))
	_, err = s.RedeemAuthCode(ctx, c.Hash, f.grant(4), nil, t0)
	wantErr(t, "RedeemAuthCode", err, nil)
}

func testAuthCodeBurn(t *testing.T, s store.Store, f *authFixture) {
	ctx := t.Context()
	c := f.code(1)
	wantErr(t, "CreateAuthCode", s.CreateAuthCode(ctx, c), nil)
	wantErr(t, "BurnAuthCode", s.BurnAuthCode(ctx, c.Hash, at(time.Second)), nil)
	want := *c
	want.UsedAt = at(time.Second)
	diff(t, "burnt code", &want, mustGetAuthCode(t, s, c.Hash))
	wantErr(t, "BurnAuthCode again", s.BurnAuthCode(ctx, c.Hash, at(2*time.Second)), store.ErrConflict)
	first, err := s.RedeemAuthCode(ctx, c.Hash, f.grant(1), nil, at(2*time.Second))
	wantErr(t, "RedeemAuthCode of a burnt code", err, store.ErrConflict)
	if first != "" {
		t.Errorf("RedeemAuthCode of a burnt code: first grant %q; want none", first)
	}
	diff(t, "burnt code after a redemption", &want, mustGetAuthCode(t, s, c.Hash))
	wantErr(t, "BurnAuthCode of an unknown code", s.BurnAuthCode(ctx, "no-such-code", t0), store.ErrNotFound)

	// A redeemed code burns no more.
	c2 := f.code(2)
	wantErr(t, "CreateAuthCode", s.CreateAuthCode(ctx, c2), nil)
	_, err = s.RedeemAuthCode(ctx, c2.Hash, f.grant(2), nil, t0)
	wantErr(t, "RedeemAuthCode", err, nil)
	wantErr(t, "BurnAuthCode of a redeemed code", s.BurnAuthCode(ctx, c2.Hash, t0), store.ErrConflict)
	if got := mustGetAuthCode(t, s, c2.Hash); got.GrantID != f.grant(2).ID || !got.UsedAt.Equal(t0) {
		t.Errorf("redeemed code after a burn: grant %q used %v; want %q, %v", got.GrantID, got.UsedAt, f.grant(2).ID, t0)
	}
}

// testAuthCascade: deleting a client or user takes its requests, codes and
// consent with it.
func testAuthCascade(t *testing.T, s store.Store, f *authFixture) {
	ctx := t.Context()
	r := mustBind(t, s, mustCreateAuthRequest(t, s, f.request(1)), "session-a")
	consent := &store.Consent{UserID: f.user.ID, ClientID: f.client.ID, Scopes: []string{"openid"}, CreatedAt: t0}
	wantErr(t, "ApproveAuthRequest", s.ApproveAuthRequest(ctx, r.IDHash, "session-a", f.code(1), consent, t0), nil)
	mustCreateAuthRequest(t, s, f.request(2))
	wantErr(t, "DeleteUser", s.DeleteUser(ctx, f.user.ID), nil)
	_, err := s.GetAuthCode(ctx, f.code(1).Hash)
	wantErr(t, "GetAuthCode after DeleteUser", err, store.ErrNotFound)
	_, err = s.GetConsent(ctx, f.user.ID, f.client.ID)
	wantErr(t, "GetConsent after DeleteUser", err, store.ErrNotFound)
	mustGetAuthRequest(t, s, f.request(2).IDHash) // requests belong to no user
	wantErr(t, "DeleteClient", s.DeleteClient(ctx, f.client.ID), nil)
	_, err = s.GetAuthRequest(ctx, f.request(2).IDHash, t0)
	wantErr(t, "GetAuthRequest after DeleteClient", err, store.ErrNotFound)
}

func testAuthOddKeys(t *testing.T, s store.Store, f *authFixture) {
	ctx := t.Context()
	r := mustBind(t, s, mustCreateAuthRequest(t, s, f.request(1)), "session-a")
	c := f.code(1)
	wantErr(t, "CreateAuthCode", s.CreateAuthCode(ctx, c), nil)
	keys := slices.Clone(oddKeys)
	for _, k := range []string{r.IDHash, c.Hash, "session-a", f.user.ID, f.client.ID} {
		keys = append(keys, k+"\x00", k+"\x00evil", k+"\xff")
	}
	for _, key := range keys {
		for _, tt := range []struct {
			name string
			err  error
		}{
			{"GetAuthRequest", lookupErr(s.GetAuthRequest(ctx, key, t0))},
			{"BindAuthRequest", lookupErr(s.BindAuthRequest(ctx, key, "session-a", t0))},
			{"DenyAuthRequest", s.DenyAuthRequest(ctx, key, "session-a", t0)},
			{"ApproveAuthRequest", s.ApproveAuthRequest(ctx, key, "session-a", f.code(2), nil, t0)},
			{"GetConsent(key, client)", lookupErr(s.GetConsent(ctx, key, f.client.ID))},
			{"GetConsent(user, key)", lookupErr(s.GetConsent(ctx, f.user.ID, key))},
			{"DeleteConsent", s.DeleteConsent(ctx, key, f.client.ID)},
			{"GetAuthCode", lookupErr(s.GetAuthCode(ctx, key))},
			{"BurnAuthCode", s.BurnAuthCode(ctx, key, t0)},
			{"RedeemAuthCode", lookupErr(s.RedeemAuthCode(ctx, key, f.grant(1), nil, t0))},
		} {
			if !errors.Is(tt.err, store.ErrNotFound) {
				t.Errorf("%s(%q) error = %v, want ErrNotFound", tt.name, key, tt.err)
			}
		}
		// A session key that is not text matches no bound request.
		if err := s.DenyAuthRequest(ctx, r.IDHash, key, t0); err == nil {
			t.Errorf("DenyAuthRequest(request, %q) succeeded", key)
		}
	}
	diff(t, "request after odd keys", r, mustGetAuthRequest(t, s, r.IDHash))
	diff(t, "code after odd keys", c, mustGetAuthCode(t, s, c.Hash))
	_, err := s.GetGrant(ctx, f.grant(1).ID)
	wantErr(t, "GetGrant after odd redemptions", err, store.ErrNotFound)
}

func testAuthInvalidText(t *testing.T, s store.Store, f *authFixture) {
	ctx := t.Context()
	r := mustBind(t, s, mustCreateAuthRequest(t, s, f.request(1)), "session-a")
	requestStrings := func(r *store.AuthRequest) []*string {
		return []*string{&r.IDHash, &r.ClientID, &r.RedirectURI, &r.State, &r.Nonce, &r.CodeChallenge,
			&r.CodeChallengeMethod, &r.Prompt, &r.LoginHint, &r.ErrorCode, &r.ErrorDescription, &r.Status,
			&r.SessionHash, &r.DPoPJKT, &r.Scopes[0]}
	}
	codeStrings := func(c *store.AuthCode) []*string {
		return []*string{&c.Hash, &c.ClientID, &c.UserID, &c.RedirectURI, &c.Nonce, &c.CodeChallenge,
			&c.CodeChallengeMethod, &c.SessionHash, &c.GrantID, &c.DPoPJKT, &c.Scopes[1]}
	}
	for _, bad := range invalidText {
		refused := func(what string, err error) {
			t.Helper()
			if !errors.Is(err, store.ErrInvalid) {
				t.Errorf("%s with %q: error = %v, want ErrInvalid", what, bad, err)
			}
		}
		for i := range len(requestStrings(f.request(2))) {
			r := f.request(2)
			*requestStrings(r)[i] = bad
			refused(fmt.Sprintf("CreateAuthRequest (string %d)", i), s.CreateAuthRequest(ctx, r))
		}
		for i := range len(codeStrings(f.code(1))) {
			c := f.code(1)
			*codeStrings(c)[i] = bad
			refused(fmt.Sprintf("CreateAuthCode (string %d)", i), s.CreateAuthCode(ctx, c))
			refused(fmt.Sprintf("ApproveAuthRequest (code string %d)", i), s.ApproveAuthRequest(ctx, r.IDHash, "session-a", c, nil, t0))
		}
		for i, spoil := range []func(*store.Consent){
			func(c *store.Consent) { c.UserID = bad },
			func(c *store.Consent) { c.ClientID = bad },
			func(c *store.Consent) { c.Scopes[1] = bad },
		} {
			c := &store.Consent{UserID: f.user.ID, ClientID: f.client.ID, Scopes: []string{"openid", "profile"}, CreatedAt: t0}
			spoil(c)
			refused(fmt.Sprintf("ApproveAuthRequest (consent string %d)", i), s.ApproveAuthRequest(ctx, r.IDHash, "session-a", f.code(1), c, t0))
		}
		refused("BindAuthRequest", lookupErr(s.BindAuthRequest(ctx, r.IDHash, bad, t0)))
	}
	// Nothing was written: the request is still pending, no code exists.
	diff(t, "request after refused writes", r, mustGetAuthRequest(t, s, r.IDHash))
	_, err := s.GetAuthCode(ctx, f.code(1).Hash)
	wantErr(t, "GetAuthCode after refused writes", err, store.ErrNotFound)
	_, err = s.GetConsent(ctx, f.user.ID, f.client.ID)
	wantErr(t, "GetConsent after refused writes", err, store.ErrNotFound)
}

// testConcurrentRedeemAuthCode: of the redemptions racing for one code
// exactly one wins; every loser is told the code was used and which grant
// the winner stored, and only the winner's grant and token exist.
func testConcurrentRedeemAuthCode(t *testing.T, s store.Store, f *authFixture) {
	for r := range rounds {
		c := f.code(100 + r)
		wantErr(t, "CreateAuthCode", s.CreateAuthCode(t.Context(), c), nil)
		grants := make([]*store.Grant, racers)
		tokens := make([]*store.RefreshToken, racers)
		firsts := make([]string, racers)
		for i := range racers {
			grants[i] = f.grant(1000*r + i)
			tokens[i] = f.refresh(1000*r+i, grants[i])
		}
		errs := race(func(i int) error {
			first, err := s.RedeemAuthCode(t.Context(), c.Hash, grants[i], tokens[i], t0)
			firsts[i] = first
			return err
		})
		winner := oneWinner(t, "redemption", "redemptions", errs)
		for i, err := range errs {
			if err != nil && firsts[i] != grants[winner].ID {
				t.Errorf("redemption %d lost, told the first grant is %q; want the winner's %q", i, firsts[i], grants[winner].ID)
			}
			want := error(store.ErrNotFound)
			if i == winner {
				want = nil
			}
			_, err := s.GetGrant(t.Context(), grants[i].ID)
			wantErr(t, fmt.Sprintf("GetGrant of redemption %d's grant", i), err, want)
			_, err = s.GetRefreshToken(t.Context(), tokens[i].Hash)
			wantErr(t, fmt.Sprintf("GetRefreshToken of redemption %d's token", i), err, want)
		}
		if got := mustGetAuthCode(t, s, c.Hash); got.GrantID != grants[winner].ID {
			t.Errorf("code's grant = %q; want the winner's %q", got.GrantID, grants[winner].ID)
		}
	}
}

// testConcurrentDecideAuthRequest: of approvals and denials racing for one
// request exactly one lands, and a code exists only if an approval won.
func testConcurrentDecideAuthRequest(t *testing.T, s store.Store, f *authFixture) {
	for r := range rounds {
		req := mustBind(t, s, mustCreateAuthRequest(t, s, f.request(100+r)), "session-a")
		codes := make([]*store.AuthCode, racers)
		for i := range racers {
			codes[i] = f.code(1000*r + i)
		}
		errs := race(func(i int) error {
			if i%2 == 1 {
				return s.DenyAuthRequest(t.Context(), req.IDHash, "session-a", t0)
			}
			consent := &store.Consent{UserID: f.user.ID, ClientID: f.client.ID, Scopes: []string{"openid"}, CreatedAt: t0}
			return s.ApproveAuthRequest(t.Context(), req.IDHash, "session-a", codes[i], consent, t0)
		})
		winner := oneWinner(t, "decision", "decisions", errs)
		wantStatus := store.AuthRequestDenied
		if winner%2 == 0 {
			wantStatus = store.AuthRequestDone
		}
		if got := mustGetAuthRequest(t, s, req.IDHash); got.Status != wantStatus {
			t.Errorf("request after the race = %q; want the winner's %q", got.Status, wantStatus)
		}
		for i := 0; i < racers; i += 2 {
			_, err := s.GetAuthCode(t.Context(), codes[i].Hash)
			want := error(store.ErrNotFound)
			if i == winner {
				want = nil
			}
			wantErr(t, fmt.Sprintf("GetAuthCode of approval %d", i), err, want)
		}
	}
}

// testConcurrentBindAuthRequest: of sessions racing to continue one
// unbound request exactly one gets it.
func testConcurrentBindAuthRequest(t *testing.T, s store.Store, f *authFixture) {
	for r := range rounds {
		req := mustCreateAuthRequest(t, s, f.request(100+r))
		errs := race(func(i int) error {
			_, err := s.BindAuthRequest(t.Context(), req.IDHash, fmt.Sprint("session-", i), t0)
			return err
		})
		winner := oneWinner(t, "bind", "binds", errs)
		if got := mustGetAuthRequest(t, s, req.IDHash); got.SessionHash != fmt.Sprint("session-", winner) {
			t.Errorf("request bound to %q; want the winner's session-%d", got.SessionHash, winner)
		}
	}
}
