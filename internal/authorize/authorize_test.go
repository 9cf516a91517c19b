package authorize

import (
	"crypto/rand"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlite/sqlitetest"
)

const issuer = "https://id.example"

// flow is an Authorizer on a real SQLite store with the clients of
// newClients, a user, and a clock the test moves.
type flow struct {
	a    *Authorizer
	st   store.Store
	now  time.Time
	user *store.User
}

func newFlow(t *testing.T) *flow {
	t.Helper()
	st := sqlitetest.Open(t)
	newClients(t, st)
	f := &flow{st: st, now: t0, user: &store.User{ID: "ada", Email: "ada@example.com", CreatedAt: t0, UpdatedAt: t0}}
	if err := st.CreateUser(t.Context(), f.user); err != nil {
		t.Fatal(err)
	}
	f.a = &Authorizer{Store: st, Issuer: issuer, Now: func() time.Time { return f.now }, Rand: rand.Reader}
	return f
}

// session is a browser session of the flow's user, signed in at authTime.
func (f *flow) session(t *testing.T, name string, authTime time.Time) *store.Session {
	t.Helper()
	s := &store.Session{Hash: "session-" + name, UserID: f.user.ID, AuthTime: authTime, CreatedAt: authTime, ExpiresAt: authTime.Add(24 * time.Hour)}
	if err := f.st.CreateSession(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	return s
}

func (f *flow) start(t *testing.T, query string, s *store.Session) *Step {
	t.Helper()
	step, err := f.a.Start(t.Context(), mustQuery(t, query), s)
	if err != nil {
		t.Fatalf("Start(%s): %v", query, err)
	}
	return step
}

// answer is the query of a redirect to the client.
func answer(t *testing.T, step *Step, wantPrefix string) url.Values {
	t.Helper()
	if step.Next != Redirect || !strings.HasPrefix(step.Location, wantPrefix+"?") {
		t.Fatalf("step = %+v; want a redirect to %s", step, wantPrefix)
	}
	u, err := url.Parse(step.Location)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if q.Get("iss") != issuer {
		t.Errorf("iss = %q; want %q (RFC 9207)", q.Get("iss"), issuer)
	}
	return q
}

func wantNext(t *testing.T, step *Step, next Next) {
	t.Helper()
	if step.Next != next {
		t.Fatalf("step = %+v; want next %d", step, next)
	}
}

func wantPageError(t *testing.T, err error, status int) {
	t.Helper()
	var pe *PageError
	if !errors.As(err, &pe) {
		t.Fatalf("error = %v; want a page", err)
	}
	if got := max(pe.Status, http.StatusBadRequest); got != status {
		t.Errorf("page status = %d; want %d", got, status)
	}
}

const webQuery = "client_id=web&response_type=code&scope=openid+email&state=st&nonce=nn"

// TestSignInConsentCode: a signed-out person signs in, consents, and the
// client gets a code bound to everything the token request checks; a
// second request is answered at once from the remembered consent.
func TestSignInConsentCode(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	ctx := t.Context()
	step := f.start(t, webQuery+"&login_hint=ada%40example.com", nil)
	wantNext(t, step, Login)
	if step.LoginHint != "ada@example.com" || step.RequestID == "" {
		t.Errorf("login step = %+v; want the hint and a request id", step)
	}
	id := step.RequestID

	f.now = t0.Add(time.Minute)
	s := f.session(t, "a", f.now)
	step, err := f.a.Continue(ctx, id, s)
	if err != nil {
		t.Fatal(err)
	}
	wantNext(t, step, Consent)
	if step.Client.ID != "web" || step.Request.SessionHash != s.Hash || strings.Join(step.Request.Scopes, " ") != "openid email" {
		t.Errorf("consent step = %+v, request %+v", step, step.Request)
	}
	// Another browser's session cannot decide it.
	other := f.session(t, "b", f.now)
	_, err = f.a.Decide(ctx, id, other, true)
	wantPageError(t, err, http.StatusForbidden)
	_, err = f.a.Continue(ctx, id, other)
	wantPageError(t, err, http.StatusForbidden)

	step, err = f.a.Decide(ctx, id, s, true)
	if err != nil {
		t.Fatal(err)
	}
	q := answer(t, step, "https://app.example/cb")
	if q.Get("state") != "st" || !strings.HasPrefix(q.Get("code"), oauth.PrefixAuthCode) {
		t.Fatalf("answer = %v", q)
	}
	ac, err := f.st.GetAuthCode(ctx, oauth.HashSecret(q.Get("code")))
	if err != nil {
		t.Fatal(err)
	}
	want := store.AuthCode{Hash: ac.Hash, ClientID: "web", UserID: "ada", RedirectURI: "https://app.example/cb",
		Scopes: []string{"openid", "email"}, Nonce: "nn", AuthTime: s.AuthTime, SessionHash: s.Hash,
		CreatedAt: f.now, ExpiresAt: f.now.Add(DefaultCodeLifetime)}
	if got := *ac; got.Hash != want.Hash || got.ClientID != want.ClientID || got.UserID != want.UserID ||
		got.RedirectURI != want.RedirectURI || got.RedirectURISent || strings.Join(got.Scopes, " ") != "openid email" ||
		got.Nonce != want.Nonce || !got.AuthTime.Equal(want.AuthTime) || got.SessionHash != want.SessionHash ||
		!got.ExpiresAt.Equal(want.ExpiresAt) || !got.UsedAt.IsZero() {
		t.Errorf("stored code = %+v; want %+v", got, want)
	}

	// Answered: neither a replayed decision nor a reload changes anything.
	_, err = f.a.Decide(ctx, id, s, true)
	wantPageError(t, err, http.StatusConflict)
	_, err = f.a.Decide(ctx, id, s, false)
	wantPageError(t, err, http.StatusConflict)
	_, err = f.a.Continue(ctx, id, s)
	wantPageError(t, err, http.StatusConflict)

	// The consent is remembered: the same or fewer scopes need no page.
	q = answer(t, f.start(t, "client_id=web&response_type=code&scope=email", s), "https://app.example/cb")
	if q.Get("code") == "" {
		t.Errorf("second request: %v; want a code at once", q)
	}
	// More scopes, or prompt=consent, ask again.
	wantNext(t, f.start(t, "client_id=web&response_type=code&scope=openid+profile", s), Consent)
	wantNext(t, f.start(t, webQuery+"&prompt=consent", s), Consent)
}

func TestDenyIsFinal(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	ctx := t.Context()
	s := f.session(t, "a", t0)
	step := f.start(t, webQuery, s)
	wantNext(t, step, Consent)
	step2, err := f.a.Decide(ctx, step.RequestID, s, false)
	if err != nil {
		t.Fatal(err)
	}
	q := answer(t, step2, "https://app.example/cb")
	if q.Get("error") != oauth.AccessDenied || q.Get("state") != "st" || q.Get("code") != "" {
		t.Errorf("deny answer = %v", q)
	}
	_, err = f.a.Decide(ctx, step.RequestID, s, true)
	wantPageError(t, err, http.StatusConflict)
	if _, err := f.st.GetConsent(ctx, "ada", "web"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetConsent after a denial = %v; want nothing remembered", err)
	}
}

func TestPromptNone(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	for _, tt := range []struct {
		name      string
		signedIn  bool
		consented bool
		wantError string
	}{
		{"signed out", false, false, LoginRequired},
		{"signed out, consented", false, true, LoginRequired},
		{"signed in, not consented", true, false, ConsentRequired},
		{"signed in and consented", true, true, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f.st.DeleteConsent(t.Context(), "ada", "web")
			var s *store.Session
			if tt.signedIn || tt.consented {
				s = f.session(t, strings.ReplaceAll(tt.name, " ", "-"), t0)
			}
			if tt.consented {
				step := f.start(t, webQuery, s)
				if _, err := f.a.Decide(t.Context(), step.RequestID, s, true); err != nil {
					t.Fatal(err)
				}
			}
			if !tt.signedIn {
				s = nil
			}
			q := answer(t, f.start(t, webQuery+"&prompt=none", s), "https://app.example/cb")
			if q.Get("error") != tt.wantError || (tt.wantError == "") != (q.Get("code") != "") || q.Get("state") != "st" {
				t.Errorf("answer = %v; want error %q", q, tt.wantError)
			}
		})
	}
}

// TestReauthentication: prompt=login and max_age send a signed-in person
// to sign in again, once: a session that signed in after the request came
// in satisfies both (OpenID Connect Core §3.1.2.1).
func TestReauthentication(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	ctx := t.Context()
	old := f.session(t, "old", t0)
	f.now = t0.Add(10 * time.Minute)
	for _, tt := range []struct {
		query     string
		wantLogin bool
	}{
		{webQuery, false},
		{webQuery + "&prompt=login", true},
		{webQuery + "&max_age=60", true},
		{webQuery + "&max_age=0", true},
		{webQuery + "&max_age=3600", false},
	} {
		t.Run(tt.query, func(t *testing.T) {
			step := f.start(t, tt.query, old)
			if !tt.wantLogin {
				wantNext(t, step, Consent)
				return
			}
			wantNext(t, step, Login)
			// Coming back without signing in again changes nothing.
			again, err := f.a.Continue(ctx, step.RequestID, old)
			if err != nil {
				t.Fatal(err)
			}
			wantNext(t, again, Login)
			f.now = f.now.Add(time.Second)
			fresh := f.session(t, "fresh"+tt.query, f.now)
			f.now = f.now.Add(2 * time.Minute) // slower than max_age=60: signed in for this request all the same
			next, err := f.a.Continue(ctx, step.RequestID, fresh)
			if err != nil {
				t.Fatal(err)
			}
			wantNext(t, next, Consent)
			done, err := f.a.Decide(ctx, step.RequestID, fresh, true)
			if err != nil {
				t.Fatal(err)
			}
			ac, err := f.st.GetAuthCode(ctx, oauth.HashSecret(answer(t, done, "https://app.example/cb").Get("code")))
			if err != nil {
				t.Fatal(err)
			}
			if !ac.AuthTime.Equal(fresh.AuthTime) {
				t.Errorf("code's auth time = %v; want the new sign-in's %v", ac.AuthTime, fresh.AuthTime)
			}
			f.st.DeleteConsent(ctx, "ada", "web")
		})
	}
}

// TestErrorsWaitForSignIn: an error for a valid client and redirect URI
// goes back to it only once someone is signed in (docs/security.md AC-22).
func TestErrorsWaitForSignIn(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	ctx := t.Context()
	bad := "client_id=web&response_type=code&scope=admin&state=st"
	step := f.start(t, bad, nil)
	wantNext(t, step, Login)
	s := f.session(t, "a", t0)
	next, err := f.a.Continue(ctx, step.RequestID, s)
	if err != nil {
		t.Fatal(err)
	}
	if q := answer(t, next, "https://app.example/cb"); q.Get("error") != oauth.InvalidScope || q.Get("state") != "st" {
		t.Errorf("answer after sign-in = %v; want invalid_scope", q)
	}
	_, err = f.a.Continue(ctx, step.RequestID, s)
	wantPageError(t, err, http.StatusConflict)

	// Signed in, or prompt=none: at once.
	if q := answer(t, f.start(t, bad, s), "https://app.example/cb"); q.Get("error") != oauth.InvalidScope {
		t.Errorf("signed-in answer = %v", q)
	}
	if q := answer(t, f.start(t, bad+"&prompt=none", nil), "https://app.example/cb"); q.Get("error") != oauth.InvalidScope {
		t.Errorf("prompt=none answer = %v", q)
	}
	// A wrong client or redirect URI is never answered at all.
	_, err = f.a.Start(ctx, mustQuery(t, "client_id=web&response_type=code&redirect_uri=https%3A%2F%2Fevil.example%2F"), s)
	wantPageError(t, err, http.StatusBadRequest)
}

func TestRegisterFlow(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	step := f.start(t, webQuery+"&flow=register&login_hint=new%40example.com", nil)
	wantNext(t, step, Register)
	if step.LoginHint != "new@example.com" {
		t.Errorf("register step hint = %q", step.LoginHint)
	}
	// Signed in already: no registration.
	wantNext(t, f.start(t, webQuery+"&flow=register", f.session(t, "a", t0)), Consent)
}

func TestRequestExpires(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	step := f.start(t, webQuery, nil)
	f.now = t0.Add(DefaultRequestLifetime)
	_, err := f.a.Continue(t.Context(), step.RequestID, f.session(t, "a", f.now))
	wantPageError(t, err, http.StatusBadRequest)
	_, err = f.a.Continue(t.Context(), "no-such-request", nil)
	wantPageError(t, err, http.StatusBadRequest)
}

// TestPublicClientCode: a native app's code carries its PKCE challenge and
// the loopback port it asked for.
func TestPublicClientCode(t *testing.T) {
	t.Parallel()
	f := newFlow(t)
	s := f.session(t, "a", t0)
	q := "client_id=native&response_type=code&scope=openid&redirect_uri=http%3A%2F%2F127.0.0.1%3A43210%2Fcb&code_challenge=" + challenge + "&code_challenge_method=S256"
	step := f.start(t, q, s)
	done, err := f.a.Decide(t.Context(), step.RequestID, s, true)
	if err != nil {
		t.Fatal(err)
	}
	code := answer(t, done, "http://127.0.0.1:43210/cb").Get("code")
	ac, err := f.st.GetAuthCode(t.Context(), oauth.HashSecret(code))
	if err != nil {
		t.Fatal(err)
	}
	if ac.CodeChallenge != challenge || ac.CodeChallengeMethod != MethodS256 || ac.RedirectURI != "http://127.0.0.1:43210/cb" || !ac.RedirectURISent {
		t.Errorf("code = %+v", ac)
	}
}
