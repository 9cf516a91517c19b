package admin

import (
	"crypto/rand"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/audit"
	"github.com/latchkey/latchkey/internal/store"
)

func TestUserLifecycle(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()

	w := f.do(t, "POST", "/admin/v1/users", `{"email":"Ada@Example.COM","name":"Ada Lovelace","password":"correct horse battery"}`)
	if w.Code != 201 {
		t.Fatalf("create: status %d, body %s", w.Code, w.Body)
	}
	if strings.Contains(w.Body.String(), "password") || strings.Contains(w.Body.String(), "argon2") {
		t.Errorf("the answer shows the password or its hash: %s", w.Body)
	}
	created := decode[User](t, w)
	want := User{
		ID:        created.ID,
		Email:     "ada@example.com",
		Name:      "Ada Lovelace",
		CreatedAt: "2026-03-04T05:06:07Z",
		UpdatedAt: "2026-03-04T05:06:07Z",
	}
	if diff := cmp.Diff(want, created); diff != "" {
		t.Errorf("create (-want +got):\n%s", diff)
	}
	if got := w.Header().Get("Location"); got != "/admin/v1/users/"+created.ID {
		t.Errorf("Location = %q", got)
	}

	stored, err := f.store.GetUser(ctx, created.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stored.PasswordHash, "$argon2id$") {
		t.Errorf("stored PasswordHash = %q, want argon2id", stored.PasswordHash)
	}
	if ok, err := account.CheckPassword(stored.PasswordHash, "correct horse battery"); !ok || err != nil {
		t.Errorf("CheckPassword(stored hash, the password) = %v, %v; want true", ok, err)
	}

	if got := decode[User](t, f.do(t, "GET", "/admin/v1/users/"+created.ID, "")); !cmp.Equal(want, got) {
		t.Errorf("get (-want +got):\n%s", cmp.Diff(want, got))
	}
	wantError(t, f.do(t, "POST", "/admin/v1/users", `{"email":"ADA@example.com","password":"another password"}`), 409, "conflict", "ada@example.com exists already")

	// A second user, to see the list ordered by email and a taken email on PATCH.
	w = f.do(t, "POST", "/admin/v1/users", `{"email":"aaron@example.com","password":"0123456789","disabled":true}`)
	if w.Code != 201 {
		t.Fatalf("create second: status %d, body %s", w.Code, w.Body)
	}
	second := decode[User](t, w)
	list := decode[UserList](t, f.do(t, "GET", "/admin/v1/users", ""))
	if diff := cmp.Diff(UserList{Users: []User{second, want}}, list); diff != "" {
		t.Errorf("list (-want +got):\n%s", diff)
	}
	wantError(t, f.do(t, "PATCH", "/admin/v1/users/"+second.ID, `{"email":"ada@example.com"}`), 409, "conflict", "exists already")

	f.api.Now = func() time.Time { return t0.Add(time.Minute) }
	w = f.do(t, "PATCH", "/admin/v1/users/"+created.ID, `{"password":"a new password!","disabled":true,"name":"","sysadmin":true}`)
	if w.Code != 200 {
		t.Fatalf("patch: status %d, body %s", w.Code, w.Body)
	}
	want.Disabled, want.Name, want.Sysadmin, want.UpdatedAt = true, "", true, "2026-03-04T05:07:07Z"
	if diff := cmp.Diff(want, decode[User](t, w)); diff != "" {
		t.Errorf("patch (-want +got):\n%s", diff)
	}
	stored, _ = f.store.GetUser(ctx, created.ID)
	if !stored.Sysadmin {
		t.Errorf("stored Sysadmin = false after PATCH sysadmin:true")
	}
	if ok, _ := account.CheckPassword(stored.PasswordHash, "a new password!"); !ok {
		t.Errorf("the new password does not match after PATCH")
	}
	if ok, _ := account.CheckPassword(stored.PasswordHash, "correct horse battery"); ok {
		t.Errorf("the old password still matches after PATCH")
	}

	// Taken away again, and on a user created as one.
	if got := decode[User](t, f.do(t, "PATCH", "/admin/v1/users/"+created.ID, `{"sysadmin":false}`)); got.Sysadmin {
		t.Errorf("patch sysadmin:false: %+v", got)
	}
	if got := decode[User](t, f.do(t, "POST", "/admin/v1/users", `{"email":"ops@example.com","password":"0123456789","sysadmin":true}`)); !got.Sysadmin {
		t.Errorf("create sysadmin:true: %+v", got)
	}
	wantError(t, f.do(t, "PATCH", "/admin/v1/users/"+created.ID, `{"sysadmin":"yes"}`), 400, "invalid_request", "")

	// An admin may vouch for an address; a changed address is confirmed
	// no longer, unless the same change vouches for it too.
	if got := decode[User](t, f.do(t, "POST", "/admin/v1/users", `{"email":"vee@example.com","password":"0123456789","email_verified":true}`)); !got.EmailVerified {
		t.Errorf("create email_verified:true: %+v", got)
	}
	if got := decode[User](t, f.do(t, "PATCH", "/admin/v1/users/"+created.ID, `{"email_verified":true}`)); !got.EmailVerified {
		t.Errorf("patch email_verified:true: %+v", got)
	}
	if got := decode[User](t, f.do(t, "PATCH", "/admin/v1/users/"+created.ID, `{"email":"ada@example.com","name":"Ada"}`)); !got.EmailVerified {
		t.Errorf("patch with the same email: %+v; want still verified", got)
	}
	if got := decode[User](t, f.do(t, "PATCH", "/admin/v1/users/"+created.ID, `{"email":"ada.l@example.com"}`)); got.EmailVerified {
		t.Errorf("patch with a new email: %+v; want not verified", got)
	}
	if stored, _ := f.store.GetUser(ctx, created.ID); stored.EmailVerified {
		t.Error("stored EmailVerified after a new email")
	}
	if got := decode[User](t, f.do(t, "PATCH", "/admin/v1/users/"+created.ID, `{"email":"ada@example.com","email_verified":true}`)); !got.EmailVerified {
		t.Errorf("patch a new email with email_verified:true: %+v", got)
	}
	wantError(t, f.do(t, "PATCH", "/admin/v1/users/"+created.ID, `{"email_verified":"yes"}`), 400, "invalid_request", "")
	if w := f.do(t, "DELETE", "/admin/v1/users/"+created.ID, ""); w.Code != 204 {
		t.Fatalf("delete: status %d, body %s", w.Code, w.Body)
	}
	wantError(t, f.do(t, "GET", "/admin/v1/users/"+created.ID, ""), 404, "not_found", "no user")
	wantError(t, f.do(t, "DELETE", "/admin/v1/users/"+created.ID, ""), 404, "not_found", "no user")
	wantError(t, f.do(t, "PATCH", "/admin/v1/users/"+created.ID, `{"name":"x"}`), 404, "not_found", "no user")
}

func TestUserValidation(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, tt := range []struct {
		name, body string
		wantDesc   string
	}{
		{"no email", `{"password":"0123456789"}`, "email is required"},
		{"no password", `{"email":"a@example.com"}`, "password is required"},
		{"short password", `{"email":"a@example.com","password":"short"}`, "password: the password must have at least 10 characters"},
		{"long password", `{"email":"a@example.com","password":"` + strings.Repeat("p", 257) + `"}`, "at most 256"},
		{"password with a newline", `{"email":"a@example.com","password":"0123456789\n"}`, "control characters"},
		{"no at", `{"email":"example.com","password":"0123456789"}`, "email example.com is not an email address"},
		{"two ats", `{"email":"a@b@example.com","password":"0123456789"}`, "not an email address"},
		{"no dot", `{"email":"a@localhost","password":"0123456789"}`, "not an email address"},
		{"display name", `{"email":"Ada <a@example.com>","password":"0123456789"}`, "not an email address"},
		{"space", `{"email":"a b@example.com","password":"0123456789"}`, "not an email address"},
		{"empty local part", `{"email":"@example.com","password":"0123456789"}`, "not an email address"},
		{"too long", `{"email":"` + strings.Repeat("a", 60) + "@" + strings.Repeat("b", 200) + `.com","password":"0123456789"}`, "not an email address"},
		{"id", `{"id":"me","email":"a@example.com","password":"0123456789"}`, "id is set by the server"},
		{"password hash", `{"email":"a@example.com","password_hash":"x"}`, "unknown member 'password_hash'"},
		{"long name", `{"email":"a@example.com","password":"0123456789","name":"` + strings.Repeat("n", 201) + `"}`, "name must be at most 200"},
		{"disabled as text", `{"email":"a@example.com","password":"0123456789","disabled":"yes"}`, "disabled: want true or false"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, f.do(t, "POST", "/admin/v1/users", tt.body), 400, "invalid_request", tt.wantDesc)
		})
	}
	us, err := f.store.ListUsers(t.Context())
	if err != nil || len(us) != 0 {
		t.Errorf("rejected requests stored %d users (err %v)", len(us), err)
	}
}

// TestUserPasswordReset: POST /admin/v1/users/{id}/password-reset mails
// the user a reset link (a token stored hashed, a mail in the outbox),
// changes nothing else, and is recorded with the admin token as the actor;
// without the token, for an unknown or a disabled user, or without mail,
// it is refused.
func TestUserPasswordReset(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := t.Context()
	f.api.Audit = &audit.Log{Store: f.store, Now: f.api.Now, Rand: rand.Reader}
	path := func(id string) string { return "/admin/v1/users/" + id + "/password-reset" }

	// No mail configured: the operation is not there.
	ada := decode[User](t, f.do(t, "POST", "/admin/v1/users", `{"email":"ada@example.com","name":"Ada","password":"correct horse battery"}`))
	wantError(t, f.do(t, "POST", path(ada.ID), ""), 404, "not_found", "not configured")

	f.api.Links = &account.Links{Store: f.store, Issuer: "https://id.example.com", Now: f.api.Now, Rand: rand.Reader, ResetLifetime: 30 * time.Minute}
	before, err := f.store.GetUser(ctx, ada.ID)
	if err != nil {
		t.Fatal(err)
	}
	w := f.do(t, "POST", path(ada.ID), "")
	if w.Code != 202 || w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("reset: %d %s", w.Code, w.Body)
	}
	if got := decode[PasswordReset](t, w); got != (PasswordReset{SentTo: "ada@example.com", ExpiresIn: 1800}) {
		t.Errorf("answer = %+v", got)
	}
	mails, err := f.store.ClaimMail(ctx, t0.Add(time.Minute), time.Minute, 10)
	if err != nil || len(mails) != 1 || mails[0].Recipient != "ada@example.com" || mails[0].Subject != "Reset your password" ||
		!strings.Contains(mails[0].Link, "https://id.example.com/reset-password?token=lk_pr_") {
		t.Fatalf("outbox = %+v, %v", mails, err)
	}
	if after, _ := f.store.GetUser(ctx, ada.ID); after.PasswordHash != before.PasswordHash {
		t.Error("sending a reset link changed the password")
	}
	entries, err := f.store.QueryAudit(ctx, store.AuditQuery{Kind: audit.UserPasswordReset, Limit: 10})
	if err != nil || len(entries) != 1 || entries[0].TargetID != ada.ID || entries[0].ActorKind != store.ActorAdminToken ||
		!strings.Contains(entries[0].After, "ada@example.com") || strings.Contains(entries[0].After, "lk_pr_") {
		t.Errorf("audit = %+v, %v", entries, err)
	}

	// The wrong callers and users.
	r := httptest.NewRequest("POST", path(ada.ID), nil)
	r.Header.Set("Authorization", "Bearer not-the-token-not-the-token-not-the")
	rec := httptest.NewRecorder()
	f.mux.ServeHTTP(rec, r)
	if rec.Code != 401 {
		t.Errorf("a wrong token: %d", rec.Code)
	}
	wantError(t, f.do(t, "POST", path("nobody"), ""), 404, "not_found", "no user")
	wantError(t, f.do(t, "POST", path(ada.ID), `{"password":"x"}`), 400, "invalid_request", "")
	f.do(t, "PATCH", "/admin/v1/users/"+ada.ID, `{"disabled":true}`)
	wantError(t, f.do(t, "POST", path(ada.ID), ""), 409, "conflict", "disabled")
	if mails, _ := f.store.ClaimMail(ctx, t0.Add(time.Hour), time.Minute, 10); len(mails) != 0 {
		t.Errorf("refused requests queued mail: %+v", mails)
	}
}
