package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// The cases below hold both backends to store.AccountStore: links used once,
// expiring, for one account and one purpose; a verified address change that
// cannot take another account's address; a new password ending the person's
// sessions with their attached grants; and account mail in the outbox
// beside invitation mail.

func newAccountToken(hash, purpose, userID, email string) *store.AccountToken {
	return &store.AccountToken{Hash: hash, Purpose: purpose, UserID: userID, Email: email,
		CreatedAt: t0, ExpiresAt: at(time.Hour)}
}

func mustCreateAccountToken(t *testing.T, s store.Store, tok *store.AccountToken) *store.AccountToken {
	t.Helper()
	if err := s.CreateAccountToken(t.Context(), tok, nil); err != nil {
		t.Fatalf("CreateAccountToken(%q): %v", tok.Hash, err)
	}
	return tok
}

func accountMail(id, to string, expires time.Time) *store.Mail {
	return &store.Mail{ID: id, Recipient: to, Subject: "Subject " + id, Body: "Body " + id, Link: "https://id.example/" + id,
		Status: store.MailPending, NextAttemptAt: t0, CreatedAt: t0, ExpiresAt: expires}
}

func testAccountTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, "ada")
	tok := newAccountToken("v1", store.PurposeVerifyEmail, "ada", "ada@example.com")
	mail := accountMail("m1", "ada@example.com", tok.ExpiresAt)
	wantErr(t, "CreateAccountToken", s.CreateAccountToken(ctx, tok, mail), nil)
	got, err := s.GetAccountToken(ctx, "v1", store.PurposeVerifyEmail)
	wantErr(t, "GetAccountToken", err, nil)
	diff(t, "account token", tok, got)
	if !got.Usable(t0) || got.Usable(tok.ExpiresAt) {
		t.Errorf("Usable: at t0 %v, at expiry %v; want true, false", got.Usable(t0), got.Usable(tok.ExpiresAt))
	}
	_, err = s.GetAccountToken(ctx, "v1", store.PurposeResetPassword)
	wantErr(t, "GetAccountToken for another purpose", err, store.ErrNotFound)

	wantErr(t, "CreateAccountToken with a taken hash", s.CreateAccountToken(ctx, tok, nil), store.ErrConflict)
	wantErr(t, "CreateAccountToken for a missing user",
		s.CreateAccountToken(ctx, newAccountToken("v2", store.PurposeVerifyEmail, "nobody", "x@example.com"), nil), store.ErrNotFound)
	wantErr(t, "CreateAccountToken with an unknown purpose",
		s.CreateAccountToken(ctx, newAccountToken("v3", "launch", "ada", "ada@example.com"), nil), store.ErrInvalid)
	wantErr(t, "CreateAccountToken with a bad email",
		s.CreateAccountToken(ctx, newAccountToken("v4", store.PurposeVerifyEmail, "ada", "a\x00@example.com"), nil), store.ErrInvalid)
	bad := accountMail("m2", "ada@example.com", time.Time{})
	bad.Body = "\xff"
	wantErr(t, "CreateAccountToken with a bad mail",
		s.CreateAccountToken(ctx, newAccountToken("v5", store.PurposeVerifyEmail, "ada", "ada@example.com"), bad), store.ErrInvalid)
	if _, err := s.GetAccountToken(ctx, "v5", store.PurposeVerifyEmail); err == nil {
		t.Errorf("a token whose mail was refused was stored")
	}

	// The mail waits in the outbox, with no invitation, until it expires.
	claimed, err := s.ClaimMail(ctx, t0, time.Minute, 10)
	wantErr(t, "ClaimMail", err, nil)
	if len(claimed) != 1 || claimed[0].ID != "m1" || claimed[0].InvitationID != "" || !claimed[0].ExpiresAt.Equal(tok.ExpiresAt) {
		t.Fatalf("ClaimMail = %v; want the account mail m1", claimed)
	}
}

func testVerifyEmail(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, "ada")
	mustCreateUser(t, s, "bob")
	if u := mustGetUser(t, s, "ada"); u.EmailVerified {
		t.Fatalf("a new user is verified")
	}

	_, err := s.VerifyEmail(ctx, "unknown", t0)
	wantErr(t, "VerifyEmail of an unknown token", err, store.ErrNotFound)
	mustCreateAccountToken(t, s, newAccountToken("r1", store.PurposeResetPassword, "ada", "ada@example.com"))
	_, err = s.VerifyEmail(ctx, "r1", t0)
	wantErr(t, "VerifyEmail with a reset token", err, store.ErrNotFound)

	mustCreateAccountToken(t, s, newAccountToken("old", store.PurposeVerifyEmail, "ada", "ada@example.com"))
	mustCreateAccountToken(t, s, newAccountToken("v1", store.PurposeVerifyEmail, "ada", "ada@example.com"))
	u, err := s.VerifyEmail(ctx, "v1", at(time.Minute))
	wantErr(t, "VerifyEmail", err, nil)
	if !u.EmailVerified || u.Email != "ada@example.com" || !u.UpdatedAt.Equal(at(time.Minute)) {
		t.Errorf("VerifyEmail returned %+v; want ada verified, updated at t0+1m", u)
	}
	diff(t, "stored user after VerifyEmail", u, mustGetUser(t, s, "ada"))
	_, err = s.VerifyEmail(ctx, "v1", at(time.Minute))
	wantErr(t, "VerifyEmail twice", err, store.ErrConflict)
	_, err = s.VerifyEmail(ctx, "old", at(time.Minute))
	wantErr(t, "VerifyEmail with an older link, spent by the first", err, store.ErrConflict)
	// The address did not change, so the reset link still works.
	if r, _ := s.GetAccountToken(ctx, "r1", store.PurposeResetPassword); r == nil || !r.UsedAt.IsZero() {
		t.Errorf("verifying the same address spent the reset link: %+v", r)
	}

	mustCreateAccountToken(t, s, newAccountToken("late", store.PurposeVerifyEmail, "ada", "ada@example.com"))
	_, err = s.VerifyEmail(ctx, "late", at(time.Hour))
	wantErr(t, "VerifyEmail at expiry", err, store.ErrConflict)

	// An address change: the new address, verified; links mailed to the old one are spent.
	mustCreateAccountToken(t, s, newAccountToken("taken", store.PurposeVerifyEmail, "ada", "bob@example.com"))
	_, err = s.VerifyEmail(ctx, "taken", t0)
	wantErr(t, "VerifyEmail of an address another account has", err, store.ErrConflict)
	if got := mustGetUser(t, s, "ada"); got.Email != "ada@example.com" {
		t.Errorf("a refused change moved the address to %q", got.Email)
	}
	if tok, _ := s.GetAccountToken(ctx, "taken", store.PurposeVerifyEmail); tok == nil || !tok.UsedAt.IsZero() {
		t.Errorf("a refused change used its token: %+v", tok)
	}
	mustCreateAccountToken(t, s, newAccountToken("move", store.PurposeVerifyEmail, "ada", "Ada.New@Example.com"))
	u, err = s.VerifyEmail(ctx, "move", at(2*time.Minute))
	wantErr(t, "VerifyEmail of a new address", err, nil)
	if u.Email != "ada.new@example.com" || !u.EmailVerified {
		t.Errorf("after the change: %q verified %v; want ada.new@example.com, verified", u.Email, u.EmailVerified)
	}
	for _, p := range []struct{ hash, purpose string }{{"r1", store.PurposeResetPassword}, {"taken", store.PurposeVerifyEmail}} {
		if tok, _ := s.GetAccountToken(ctx, p.hash, p.purpose); tok == nil || tok.UsedAt.IsZero() {
			t.Errorf("after the address changed, link %q still works: %+v", p.hash, tok)
		}
	}
	_, err = s.GetUserByEmail(ctx, "ada@example.com")
	wantErr(t, "GetUserByEmail of the old address", err, store.ErrNotFound)
}

func testResetPassword(t *testing.T, s store.Store) {
	ctx := t.Context()
	ada := mustCreateUser(t, s, "ada")
	mustCreateUser(t, s, "bob")
	tv := newClient("tv", true)
	tv.SessionAttachment = store.SessionAttached
	wantErr(t, "CreateClient", s.CreateClient(ctx, tv), nil)
	mustCreateClient(t, s, "app", false) // detached
	for _, sess := range []*store.Session{
		{Hash: "s1", UserID: "ada", CreatedAt: t0, ExpiresAt: at(24 * time.Hour)},
		{Hash: "s2", UserID: "ada", CreatedAt: t0, ExpiresAt: at(24 * time.Hour)},
		{Hash: "sb", UserID: "bob", CreatedAt: t0, ExpiresAt: at(24 * time.Hour)},
	} {
		wantErr(t, "CreateSession", s.CreateSession(ctx, sess), nil)
	}
	grant := func(id, user, client, session string) {
		g := newGrant(id, user, client, t0)
		g.SessionHash = session
		mustCreateGrant(t, s, g)
		rt := newRefreshToken("rt-"+id, id, at(time.Hour))
		rt.ClientID = client
		mustCreateRefreshToken(t, s, rt)
	}
	grant("attached1", "ada", "tv", "s1")
	grant("attached2", "ada", "tv", "s2")
	grant("detached", "ada", "app", "s1")
	grant("bobs", "bob", "tv", "sb")

	mustCreateAccountToken(t, s, newAccountToken("r1", store.PurposeResetPassword, "ada", "ada@example.com"))
	mustCreateAccountToken(t, s, newAccountToken("r2", store.PurposeResetPassword, "ada", "ada@example.com"))
	_, err := s.ResetPassword(ctx, "r1", "new\x00", t0)
	wantErr(t, "ResetPassword to a hash that is not text", err, store.ErrInvalid)
	_, err = s.ResetPassword(ctx, "nope", "new-hash", t0)
	wantErr(t, "ResetPassword of an unknown token", err, store.ErrNotFound)

	now := at(time.Minute)
	u, err := s.ResetPassword(ctx, "r1", "new-hash", now)
	wantErr(t, "ResetPassword", err, nil)
	if u.ID != "ada" || u.PasswordHash != "new-hash" || u.PasswordHash == ada.PasswordHash {
		t.Errorf("ResetPassword returned %+v; want ada with the new hash", u)
	}
	_, err = s.ResetPassword(ctx, "r1", "other", now)
	wantErr(t, "ResetPassword twice", err, store.ErrConflict)
	_, err = s.ResetPassword(ctx, "r2", "other", now)
	wantErr(t, "ResetPassword with a second link, spent by the reset", err, store.ErrConflict)

	for _, h := range []string{"s1", "s2"} {
		_, err := s.GetSession(ctx, h, now)
		wantErr(t, "GetSession of ada's session "+h+" after the reset", err, store.ErrNotFound)
	}
	_, err = s.GetSession(ctx, "sb", now)
	wantErr(t, "GetSession of bob's session", err, nil)
	for id, revoked := range map[string]bool{"attached1": true, "attached2": true, "detached": false, "bobs": false} {
		g, err := s.GetGrant(ctx, id)
		wantErr(t, "GetGrant "+id, err, nil)
		if g.Active(now) == revoked {
			t.Errorf("grant %s active %v after the reset; want revoked %v", id, g.Active(now), revoked)
		}
		rt, err := s.GetRefreshToken(ctx, "rt-"+id)
		wantErr(t, "GetRefreshToken "+id, err, nil)
		if ended := !rt.ExpiresAt.After(now); ended != revoked {
			t.Errorf("the refresh token of grant %s expires at %v; want ended %v", id, rt.ExpiresAt, revoked)
		}
	}
}

func testSetPassword(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustCreateUser(t, s, "ada")
	for _, h := range []string{"keep", "other1", "other2"} {
		wantErr(t, "CreateSession", s.CreateSession(ctx, &store.Session{Hash: h, UserID: "ada", CreatedAt: t0, ExpiresAt: at(time.Hour)}), nil)
	}
	mustCreateAccountToken(t, s, newAccountToken("r1", store.PurposeResetPassword, "ada", "ada@example.com"))
	n, err := s.SetPassword(ctx, "ada", "changed", "keep", t0)
	wantErr(t, "SetPassword", err, nil)
	if n != 2 {
		t.Errorf("SetPassword ended %d sessions; want 2", n)
	}
	if u := mustGetUser(t, s, "ada"); u.PasswordHash != "changed" {
		t.Errorf("password hash %q; want changed", u.PasswordHash)
	}
	_, err = s.GetSession(ctx, "keep", t0)
	wantErr(t, "the kept session", err, nil)
	_, err = s.GetSession(ctx, "other1", t0)
	wantErr(t, "another session", err, store.ErrNotFound)
	_, err = s.ResetPassword(ctx, "r1", "x", t0)
	wantErr(t, "a reset link from before the change", err, store.ErrConflict)

	n, err = s.SetPassword(ctx, "ada", "again", "", t0)
	wantErr(t, "SetPassword ending every session", err, nil)
	if n != 1 {
		t.Errorf("SetPassword with no session kept ended %d; want 1", n)
	}
	_, err = s.SetPassword(ctx, "nobody", "x", "", t0)
	wantErr(t, "SetPassword of a missing user", err, store.ErrNotFound)
	_, err = s.SetPassword(ctx, "ada", "\xff", "", t0)
	wantErr(t, "SetPassword to a hash that is not text", err, store.ErrInvalid)
}

// testUpdateUserEndSessions: the change and the end of every session
// (and of unused reset links) happen together; a change the store refuses
// (a taken email, a missing user) ends nothing.
func testUpdateUserEndSessions(t *testing.T, s store.Store) {
	ctx := t.Context()
	ada := mustCreateUser(t, s, "ada")
	mustCreateUser(t, s, "bob")
	for _, h := range []string{"one", "two"} {
		wantErr(t, "CreateSession", s.CreateSession(ctx, &store.Session{Hash: h, UserID: "ada", CreatedAt: t0, ExpiresAt: at(time.Hour)}), nil)
	}
	wantErr(t, "CreateSession", s.CreateSession(ctx, &store.Session{Hash: "bobs", UserID: "bob", CreatedAt: t0, ExpiresAt: at(time.Hour)}), nil)
	mustCreateAccountToken(t, s, newAccountToken("r1", store.PurposeResetPassword, "ada", "ada@example.com"))

	// Refused: bob's address. Ada's sessions live on, her name is kept.
	taken := *ada
	taken.Email, taken.Name, taken.PasswordHash = "bob@example.com", "Taken", "refused"
	_, err := s.UpdateUserEndSessions(ctx, &taken, at(time.Minute))
	wantErr(t, "UpdateUserEndSessions to a taken email", err, store.ErrConflict)
	if u := mustGetUser(t, s, "ada"); u.Name == "Taken" || u.PasswordHash == "refused" {
		t.Errorf("a refused change stood: %+v", u)
	}
	_, err = s.GetSession(ctx, "one", t0)
	wantErr(t, "a session after a refused change", err, nil)

	changed := *ada
	changed.Name, changed.PasswordHash, changed.UpdatedAt = "Ada L.", "new-hash", at(time.Minute)
	n, err := s.UpdateUserEndSessions(ctx, &changed, at(time.Minute))
	wantErr(t, "UpdateUserEndSessions", err, nil)
	if n != 2 {
		t.Errorf("ended %d sessions; want 2", n)
	}
	if u := mustGetUser(t, s, "ada"); u.Name != "Ada L." || u.PasswordHash != "new-hash" {
		t.Errorf("after the change: %+v", u)
	}
	for _, h := range []string{"one", "two"} {
		_, err = s.GetSession(ctx, h, t0)
		wantErr(t, "ada's session "+h, err, store.ErrNotFound)
	}
	_, err = s.GetSession(ctx, "bobs", t0)
	wantErr(t, "bob's session", err, nil)
	_, err = s.ResetPassword(ctx, "r1", "x", at(time.Minute))
	wantErr(t, "a reset link from before the change", err, store.ErrConflict)

	missing := *ada
	missing.ID = "nobody"
	_, err = s.UpdateUserEndSessions(ctx, &missing, t0)
	wantErr(t, "UpdateUserEndSessions of a missing user", err, store.ErrNotFound)
}

func testAccountMail(t *testing.T, s store.Store) {
	ctx := t.Context()
	wantErr(t, "QueueMail", s.QueueMail(ctx, accountMail("notice", "ada@example.com", time.Time{})), nil)
	wantErr(t, "QueueMail", s.QueueMail(ctx, accountMail("stale", "ada@example.com", at(time.Minute))), nil)
	wantErr(t, "QueueMail with a taken id", s.QueueMail(ctx, accountMail("notice", "x@example.com", time.Time{})), store.ErrConflict)
	bad := accountMail("bad", "ada@example.com", time.Time{})
	bad.Subject = "\x00"
	wantErr(t, "QueueMail with a bad subject", s.QueueMail(ctx, bad), store.ErrInvalid)
	wantPending := func(when string, want int64) {
		t.Helper()
		n, err := s.PendingMail(ctx)
		wantErr(t, "PendingMail "+when, err, nil)
		if n != want {
			t.Errorf("PendingMail %s = %d; want %d", when, n, want)
		}
	}
	wantPending("after queueing two", 2)

	later := at(2 * time.Minute)
	n, err := s.CancelStaleMail(ctx, later)
	wantErr(t, "CancelStaleMail", err, nil)
	if n != 1 {
		t.Errorf("CancelStaleMail cancelled %d; want the expired one", n)
	}
	wantPending("after cancelling one", 1)
	claimed, err := s.ClaimMail(ctx, later, time.Minute, 10)
	wantErr(t, "ClaimMail", err, nil)
	if len(claimed) != 1 || claimed[0].ID != "notice" {
		t.Fatalf("ClaimMail = %v; want the notice alone", claimed)
	}
	wantPending("with one claimed", 1)
	wantErr(t, "MarkMailSent", s.MarkMailSent(ctx, "notice", later), nil)
	wantPending("after sending", 0)
	claimed, err = s.ClaimMail(ctx, at(time.Hour), time.Minute, 10)
	wantErr(t, "ClaimMail after sending", err, nil)
	if len(claimed) != 0 {
		t.Errorf("ClaimMail after sending = %v; want none", claimed)
	}
}

func testConcurrentVerifyEmail(t *testing.T, s store.Store) {
	mustCreateUser(t, s, "ada")
	for r := range rounds {
		hash := fmt.Sprint("v", r)
		mustCreateAccountToken(t, s, newAccountToken(hash, store.PurposeVerifyEmail, "ada", fmt.Sprintf("ada%d@example.com", r)))
		errs := race(func(int) error {
			_, err := s.VerifyEmail(t.Context(), hash, t0)
			return err
		})
		oneWinner(t, "verification", "verifications", errs)
		if u := mustGetUser(t, s, "ada"); u.Email != fmt.Sprintf("ada%d@example.com", r) {
			t.Errorf("round %d: email %q", r, u.Email)
		}
	}
}

func testListUserGrants(t *testing.T, s store.Store) {
	ctx := t.Context()
	tv := mustCreateClient(t, s, "tv", true)
	mustCreateClient(t, s, "app", false)
	mustCreateUser(t, s, "ada")
	mustCreateUser(t, s, "bob")

	// A device's grant: where it asked from is kept from its request.
	a := mustCreateDeviceAuth(t, s, newDeviceAuth(tv, 1))
	_, err := s.DecideDeviceAuth(ctx, a.UserCodeHash, "ada", "", true, t0)
	wantErr(t, "DecideDeviceAuth", err, nil)
	dev := newGrant("g-device", "ada", "tv", t0)
	rt := newRefreshToken("rt-device", "g-device", at(time.Hour))
	rt.ClientID = "tv"
	wantErr(t, "RedeemDeviceAuth", s.RedeemDeviceAuth(ctx, a.DeviceCodeHash, dev, rt, t0), nil)
	_, err = s.RotateRefreshToken(ctx, "rt-device", "rt-device-2", time.Time{}, at(5*time.Minute), allow)
	wantErr(t, "RotateRefreshToken", err, nil)

	app := mustCreateGrant(t, s, newGrant("g-app", "ada", "app", at(time.Minute)))
	mustCreateGrant(t, s, newGrant("g-bob", "bob", "app", t0))
	mustCreateGrant(t, s, newGrant("g-revoked", "ada", "app", t0))
	wantErr(t, "RevokeGrant", s.RevokeGrant(ctx, "g-revoked", t0), nil)
	old := newGrant("g-expired", "ada", "app", t0)
	old.ExpiresAt = at(time.Minute)
	mustCreateGrant(t, s, old)

	got, err := s.ListUserGrants(ctx, "ada", at(10*time.Minute))
	wantErr(t, "ListUserGrants", err, nil)
	want := []*store.GrantInfo{
		{Grant: app, ClientName: "Client app", LastUsedAt: app.CreatedAt},
		{Grant: dev, ClientName: "Client tv", LastUsedAt: at(5 * time.Minute), OriginIP: "192.0.2.7", OriginUserAgent: "latchkey-test/1.0"},
	}
	diff(t, "ListUserGrants", want, got)
	none, err := s.ListUserGrants(ctx, "nobody\x00", t0)
	wantErr(t, "ListUserGrants of a key that is not text", err, nil)
	if len(none) != 0 {
		t.Errorf("ListUserGrants of a key that is not text = %v", none)
	}
}

func testListConsents(t *testing.T, s store.Store) {
	ctx := t.Context()
	c := mustCreateClient(t, s, "app", false)
	mustCreateClient(t, s, "tv", true)
	mustCreateUser(t, s, "ada")
	for i, client := range []string{"tv", "app"} {
		req := &store.AuthRequest{IDHash: fmt.Sprint("req", i), ClientID: client, RedirectURI: "https://app.example/cb",
			Scopes: []string{"openid"}, Status: store.AuthRequestPending, MaxAge: -1, CreatedAt: t0, ExpiresAt: at(time.Hour)}
		wantErr(t, "CreateAuthRequest", s.CreateAuthRequest(ctx, req), nil)
		_, err := s.BindAuthRequest(ctx, req.IDHash, "sess", t0)
		wantErr(t, "BindAuthRequest", err, nil)
		code := &store.AuthCode{Hash: fmt.Sprint("code", i), ClientID: client, UserID: "ada", RedirectURI: req.RedirectURI,
			Scopes: req.Scopes, CreatedAt: t0, ExpiresAt: at(time.Minute)}
		consent := &store.Consent{UserID: "ada", ClientID: client, Scopes: []string{"openid", "profile"}, CreatedAt: at(time.Duration(i) * time.Minute)}
		wantErr(t, "ApproveAuthRequest", s.ApproveAuthRequest(ctx, req.IDHash, "sess", code, consent, t0), nil)
	}
	got, err := s.ListConsents(ctx, "ada")
	wantErr(t, "ListConsents", err, nil)
	diff(t, "ListConsents", []*store.Consent{
		{UserID: "ada", ClientID: c.ID, Scopes: []string{"openid", "profile"}, CreatedAt: at(time.Minute)},
		{UserID: "ada", ClientID: "tv", Scopes: []string{"openid", "profile"}, CreatedAt: t0},
	}, got)
	wantErr(t, "DeleteConsent", s.DeleteConsent(ctx, "ada", "tv"), nil)
	got, err = s.ListConsents(ctx, "ada")
	wantErr(t, "ListConsents after DeleteConsent", err, nil)
	if len(got) != 1 || got[0].ClientID != "app" {
		t.Errorf("ListConsents after forgetting tv = %v", got)
	}
}
