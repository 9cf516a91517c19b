package admin

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/latchkey/latchkey/internal/account"
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
