package server

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/throttle"
)

// getFrom is a GET of the page by b from addr, which a trusted proxy
// names in X-Forwarded-For.
func (b *webBrowser) getFrom(path, addr string) reply {
	b.t.Helper()
	req, _ := http.NewRequestWithContext(b.t.Context(), "GET", b.s.URL+path, nil)
	req.Header.Set("X-Forwarded-For", addr)
	return b.do(req)
}

// postFrom is a form POST by b from addr (X-Forwarded-For).
func (b *webBrowser) postFrom(path, addr string, form url.Values) reply {
	b.t.Helper()
	req, _ := http.NewRequestWithContext(b.t.Context(), "POST", b.s.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", addr)
	return b.do(req)
}

// signInAs signs b in as email from addr.
func (b *webBrowser) signInAs(email, password, addr string) {
	b.t.Helper()
	r := b.postFrom("/login", addr, url.Values{"username": {email}, "password": {password}, "csrf_token": {csrfOf(b.t, b.getFrom("/login", addr))}})
	if r.Status != http.StatusSeeOther {
		b.t.Fatalf("sign in as %s: %d %s", email, r.Status, r.Raw)
	}
}

// TestGlobalUserCodeBudgetUnderAttack: an attacker with an account spends
// the server-wide wrong-user-code budget from many addresses. A person with
// no wrong entry of their own still connects their device, by the prefilled
// link (verification_uri_complete) and by typing the code; someone with a
// wrong entry, by account or by address, is refused until the budget comes
// back (docs/security.md DF-07, G-21; issue 17 item 7a).
func TestGlobalUserCodeBudgetUnderAttack(t *testing.T) {
	t.Parallel()
	const perIP, global = 20, 100
	onEachBackend(t, func(t *testing.T, b backend) {
		s := newTestServerOn(t, b, true, func(c *config.Config) {
			c.TrustProxy = true
			c.Device.AttemptsPerAccount = 200 // the attacker's one account is held by the global budget alone
			c.Device.ExpectedLiveCodes = 10   // keeps the odds check (DF-05) content with these budgets
			c.Device.AttemptsPerIP = perIP
			c.Device.AttemptsGlobal = global
		})
		ctx := t.Context()
		now := s.Clock.Now()
		for _, email := range []string{"mallory@example.com", "sam@example.com"} {
			hash, err := account.HashPassword("a-long-password-" + email)
			mustDo(t, err)
			mustDo(t, s.Store.CreateUser(ctx, &store.User{ID: "u-" + email, Email: email, Name: email, PasswordHash: hash, EmailVerified: true,
				CreatedAt: now, UpdatedAt: now}))
		}
		refused := func(r reply) bool { return strings.Contains(strings.ToLower(r.Raw), "too many") }

		attacker := newWebBrowser(t, s)
		attacker.signInAs("mallory@example.com", "a-long-password-mallory@example.com", "203.0.113.1")
		guess := 0
		for addr := range global / perIP {
			for range perIP {
				guess++
				r := attacker.getFrom(fmt.Sprintf("/device?user_code=BBBB-%04d", guess), fmt.Sprintf("203.0.113.%d", 10+addr))
				if refused(r) {
					t.Fatalf("wrong code %d refused as too many before the budget was spent", guess)
				}
			}
		}
		if r := attacker.getFrom("/device?user_code=BBBB-BBBB", "203.0.113.99"); !refused(r) {
			t.Fatalf("the attacker's next guess, from a fresh address: %d; want it refused", r.Status)
		}

		// A person who has entered no wrong code connects a device by its
		// prefilled link while the budget is spent.
		connects := func(br *webBrowser, addr string, prefilled bool) {
			t.Helper()
			a := s.startDevice(t, tvClient, "")
			path := "/device?user_code=" + url.QueryEscape(a.str("user_code"))
			if !prefilled {
				path = "/device?user_code=" + url.QueryEscape(strings.ToLower(strings.ReplaceAll(a.str("user_code"), "-", " ")))
			}
			page := br.getFrom(path, addr)
			if refused(page) {
				t.Fatalf("a person with no wrong entry was refused while the global budget was spent")
			}
			r := br.postFrom("/device", addr, url.Values{"user_code": {a.str("user_code")}, "decision": {"approve"}, "csrf_token": {csrfOf(t, page)}})
			if r.Status != 200 || !strings.Contains(r.Raw, "Device connected") {
				t.Fatalf("approve: %d %s", r.Status, r.Raw)
			}
			s.Clock.Advance(2e9)
			if p := s.poll(t, tvClient, a.str("device_code")); p.Status != 200 {
				t.Fatalf("device's poll after approval: %d %s", p.Status, p.Raw)
			}
		}
		person := newWebBrowser(t, s)
		person.signInAs(personEmail, personPassword, "198.51.100.7")
		connects(person, "198.51.100.7", true)
		connects(person, "198.51.100.7", false) // typed, in lower case with a space
		// Someone else at another address, who mistyped once: the global
		// budget holds them.
		sam := newWebBrowser(t, s)
		sam.signInAs("sam@example.com", "a-long-password-sam@example.com", "198.51.100.8")
		if r := sam.getFrom("/device?user_code=BBBB-CCCC", "198.51.100.8"); refused(r) {
			t.Fatal("a clean account's first wrong entry was refused; want it judged (and counted)")
		}
		a := s.startDevice(t, tvClient, "")
		if r := sam.getFrom("/device?user_code="+url.QueryEscape(a.str("user_code")), "198.51.100.8"); !refused(r) {
			t.Errorf("the right code after a wrong entry, while the budget is spent: %d; want it refused", r.Status)
		}
		// And the address that guessed: a fresh account there is held too.
		if r := person.getFrom("/device?user_code="+url.QueryEscape(a.str("user_code")), "203.0.113.10"); !refused(r) {
			t.Errorf("a clean account at an address with wrong entries: %d; want it refused", r.Status)
		}
	})
}

// postAs posts form to path from addr (X-Forwarded-For), with HTTP Basic
// credentials when user is set.
func (s *testServer) postAs(t *testing.T, path, addr string, form url.Values, user, pass string) reply {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", addr)
	if user != "" {
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(user)+":"+url.QueryEscape(pass))))
	}
	return do(t, req)
}

// wantTooMany checks a 429 with an RFC 6749 §5.2-shaped body, slow_down,
// Retry-After in whole seconds, and no-store.
func wantTooMany(t *testing.T, what string, r reply) {
	t.Helper()
	if r.Status != http.StatusTooManyRequests || r.str("error") != oauth.SlowDown || r.str("error_description") == "" {
		t.Errorf("%s: %d %s; want 429 slow_down", what, r.Status, r.Raw)
	}
	if n, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || n < 1 {
		t.Errorf("%s: Retry-After %q; want whole seconds, at least 1", what, r.Header.Get("Retry-After"))
	}
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("%s: Cache-Control %q; want no-store", what, r.Header.Get("Cache-Control"))
	}
}

// TestSecretGuessingThrottled: wrong client secrets are counted per address
// and per client at every endpoint that authenticates clients, and over a
// budget the answer is 429 before the secret is looked at, the right one
// included. The real client, at an address that has not failed, still
// authenticates while guessers have spent the client's budget (docs/security.md
// CA-05; issue 17 item 7c).
func TestSecretGuessingThrottled(t *testing.T) {
	t.Parallel()
	const perIP, perClient = 5, 8
	onEachBackend(t, func(t *testing.T, b backend) {
		s := newTestServerOn(t, b, true, func(c *config.Config) {
			c.TrustProxy = true
			c.Limits.AuthFailuresPerIP = perIP
			c.Limits.AuthFailuresPerClient = perClient
			c.Limits.AuthFailureWindow = config.Duration(10 * time.Minute)
		})
		introspect := func(addr, secret string) reply {
			return s.postAs(t, "/oauth2/introspect", addr, url.Values{"token": {"x"}}, printerClient, secret)
		}
		deviceAuthz := func(addr, secret string) reply {
			return s.postAs(t, "/oauth2/device_authorization", addr, url.Values{}, printerClient, secret)
		}
		token := func(addr, secret string) reply {
			return s.postAs(t, "/oauth2/token", addr, url.Values{"grant_type": {store.GrantDeviceCode}, "device_code": {"lk_dc_x"}}, printerClient, secret)
		}
		// One address guesses at three endpoints; each wrong secret is 401.
		guesser := "203.0.113.5"
		for i, try := range []func(string, string) reply{token, introspect, deviceAuthz, token, introspect} {
			wantOAuthError(t, try(guesser, fmt.Sprintf("lk_cs_guess-%d", i)), 401, oauth.InvalidClient)
		}
		// Spent: refused before the secret is looked at, right or wrong.
		wantTooMany(t, "the address's next guess", token(guesser, "lk_cs_guess-x"))
		wantTooMany(t, "the right secret from the guessing address", introspect(guesser, printerSecret))
		// Another client's wrong secrets from the same address: the address is spent for all.
		wantTooMany(t, "another client from the guessing address", s.postAs(t, "/oauth2/introspect", guesser, url.Values{"token": {"x"}}, "kiosk", "lk_cs_nope"))

		// A second guessing address spends the rest of the client's budget.
		other := "203.0.113.6"
		for i := range perClient - perIP {
			wantOAuthError(t, token(other, fmt.Sprintf("lk_cs_other-%d", i)), 401, oauth.InvalidClient)
		}
		wantTooMany(t, "a failing address once the client's budget is spent", token(other, printerSecret))
		// The printer itself, at an address that has not failed, is not locked out.
		if r := introspect("198.51.100.20", printerSecret); r.Status != 200 {
			t.Errorf("the real client while guessers have spent its budget: %d %s", r.Status, r.Raw)
		}
		// Guessing it from a fresh address: one look, then the client budget holds it.
		wantOAuthError(t, token("203.0.113.7", "lk_cs_fresh"), 401, oauth.InvalidClient)
		wantTooMany(t, "a fresh address after one failure, with the client's budget spent", token("203.0.113.7", printerSecret))

		// A window and a slice later the budgets are back.
		s.Clock.Advance(11 * time.Minute)
		if r := introspect(guesser, printerSecret); r.Status != 200 {
			t.Errorf("the right secret once the window has passed: %d %s", r.Status, r.Raw)
		}
	})
}

// TestTokenEndpointRateLimitPerClient: a confidential client over its
// per-minute limit at the token endpoint gets 429 slow_down with
// Retry-After through golang.org/x/oauth2's clientcredentials; another
// client is not affected, and the next minute the client is served again
// (docs/security.md TE-10; issue 17 item 6).
func TestTokenEndpointRateLimitPerClient(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b backend) {
		s := newTestServerOn(t, b, true, func(c *config.Config) { c.Limits.TokenPerClientPerMinute = 3 })
		s.Clock.Set(s.Clock.Now().Truncate(time.Minute))
		ctx := t.Context()
		now := s.Clock.Now()
		for _, id := range []string{"svc-a", "svc-b"} {
			mustDo(t, s.Store.CreateClient(ctx, &store.Client{ID: id, Name: id, AuthMethod: store.AuthClientSecretBasic,
				SecretHash: oauth.HashSecret("lk_cs_" + id + "-secret-0123456789"), GrantTypes: []string{store.GrantClientCredentials},
				Scopes: []string{"print"}, CreatedAt: now, UpdatedAt: now}))
		}
		cc := func(id string) *clientcredentials.Config {
			return &clientcredentials.Config{ClientID: id, ClientSecret: "lk_cs_" + id + "-secret-0123456789",
				TokenURL: s.URL + "/oauth2/token", AuthStyle: oauth2.AuthStyleInHeader}
		}
		for i := range 3 {
			if _, err := cc("svc-a").Token(ctx); err != nil {
				t.Fatalf("token %d within the limit: %v", i+1, err)
			}
		}
		_, err := cc("svc-a").Token(ctx)
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.Response.StatusCode != http.StatusTooManyRequests || re.ErrorCode != oauth.SlowDown {
			t.Fatalf("token over the limit: %v; want 429 slow_down", err)
		}
		if got := re.Response.Header.Get("Retry-After"); got != "60" {
			t.Errorf("Retry-After = %q at the start of the minute; want 60", got)
		}
		if _, err := cc("svc-b").Token(ctx); err != nil {
			t.Errorf("another client: %v", err)
		}
		// A wrong secret is not counted against the client's rate (it is
		// refused before), and the right one is still refused this minute.
		r := s.post(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, "svc-a", "lk_cs_wrong")
		wantOAuthError(t, r, 401, oauth.InvalidClient)
		wantTooMany(t, "svc-a later in the minute", s.post(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, "svc-a", "lk_cs_svc-a-secret-0123456789"))
		s.Clock.Advance(time.Minute)
		if _, err := cc("svc-a").Token(ctx); err != nil {
			t.Errorf("the next minute: %v", err)
		}
	})
}

// TestIntrospectionRateLimitPerCaller: each caller of introspection has its
// own per-minute limit, counted once it has authenticated (docs/security.md
// IN-04, closing G-5; issue 17 item 6).
func TestIntrospectionRateLimitPerCaller(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b backend) {
		s := newTestServerOn(t, b, true, func(c *config.Config) { c.Limits.IntrospectionPerClientPerMinute = 2 })
		s.Clock.Set(s.Clock.Now().Truncate(time.Minute).Add(15 * time.Second))
		sessionClients(t, s)
		tok := s.deviceTokens(t, tvClient, scopesAll)
		for range 2 {
			wantActive(t, "within the limit", s.introspect(t, tok.str("access_token")), true)
		}
		r := s.post(t, "/oauth2/introspect", url.Values{"token": {tok.str("access_token")}}, printerClient, printerSecret)
		wantTooMany(t, "the third introspection in a minute", r)
		if got := r.Header.Get("Retry-After"); got != "43" {
			t.Errorf("Retry-After = %q at 17 s into the minute; want 43", got)
		}
		// Another caller is not held by the printer's limit.
		if r := s.post(t, "/oauth2/introspect", url.Values{"token": {tok.str("access_token")}}, kioskClient, kioskSecret); r.Status != 200 {
			t.Errorf("another caller: %d %s", r.Status, r.Raw)
		}
		s.Clock.Advance(time.Minute)
		wantActive(t, "the next minute", s.introspect(t, tok.str("access_token")), true)
	})
}

// TestTokenRateLimitAcrossInstances: two instances on one database share a
// client's per-minute limit at the token endpoint. Each counts its own
// requests and adds them to the store in batches, so together they may let
// through a little more than the limit, never more than a batch per
// instance, and never less (docs/security.md TH-02); every request,
// served or refused, reaches the store's count soon after.
func TestTokenRateLimitAcrossInstances(t *testing.T) {
	t.Parallel()
	const limit = 320 // batches of ten: throttle.PerMinute.Batch
	onEachBackend(t, func(t *testing.T, b backend) {
		a := newTestServerOn(t, b, true, func(c *config.Config) { c.Limits.TokenPerClientPerMinute = limit })
		a.Clock.Set(a.Clock.Now().Truncate(time.Minute))
		srvB, err := New(t.Context(), a.Srv.cfg, a.Store, slog.New(slog.DiscardHandler), Options{Now: a.Clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		tsB := httptest.NewServer(srvB)
		t.Cleanup(tsB.Close)
		bServer := &testServer{URL: tsB.URL, Store: a.Store, Clock: a.Clock}
		ctx := t.Context()
		now := a.Clock.Now()
		mustDo(t, a.Store.CreateClient(ctx, &store.Client{ID: "svc", Name: "svc", AuthMethod: store.AuthClientSecretBasic,
			SecretHash: oauth.HashSecret("lk_cs_svc-secret-0123456789"), GrantTypes: []string{store.GrantClientCredentials},
			Scopes: []string{"print"}, CreatedAt: now, UpdatedAt: now}))

		const sent, workers = 480, 8
		var served, refused atomic.Int32
		var wg sync.WaitGroup
		for w := range workers {
			s := a
			if w%2 == 1 {
				s = bServer
			}
			wg.Go(func() {
				for range sent / workers {
					r := s.post(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, "svc", "lk_cs_svc-secret-0123456789")
					switch r.Status {
					case http.StatusOK:
						served.Add(1)
					case http.StatusTooManyRequests:
						refused.Add(1)
					default:
						t.Errorf("token: %d %s", r.Status, r.Raw)
					}
				}
			})
		}
		wg.Wait()
		batch := (&throttle.PerMinute{Limit: limit}).Batch()
		if got := int(served.Load()); got < limit || got > limit+2*batch {
			t.Errorf("two instances served %d of %d requests with a limit of %d; want from %d to %d", got, sent, limit, limit, limit+2*batch)
		}
		if got := int(served.Load() + refused.Load()); got != sent {
			t.Errorf("%d answers of %d requests", got, sent)
		}
		// Both instances add what they counted within throttle.FlushEvery.
		deadline := time.Now().Add(5 * time.Second)
		for {
			n, err := a.Store.Count(ctx, "token:client:svc", now)
			mustDo(t, err)
			if n == sent {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the store counts %d requests of the %d sent", n, sent)
			}
			time.Sleep(throttle.FlushEvery / 2)
		}
		// The next minute the client is served again, on either instance.
		a.Clock.Advance(time.Minute)
		for _, s := range []*testServer{a, bServer} {
			if r := s.post(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, "svc", "lk_cs_svc-secret-0123456789"); r.Status != 200 {
				t.Errorf("the next minute: %d %s", r.Status, r.Raw)
			}
		}
	})
}

// TestSecretGuessingAcrossInstances: an instance trusts an address's
// failure count for a second (clientauth.Guard.Fresh), so a guesser that
// spent its budget on one instance gets at most one more failure on each
// other instance before that instance sees the budget spent, and none once
// the second has passed (docs/security.md CA-05).
func TestSecretGuessingAcrossInstances(t *testing.T) {
	t.Parallel()
	const perIP = 4
	onEachBackend(t, func(t *testing.T, b backend) {
		a := newTestServerOn(t, b, true, func(c *config.Config) {
			c.TrustProxy = true
			c.Limits.AuthFailuresPerIP = perIP
			c.Limits.AuthFailureWindow = config.Duration(10 * time.Minute)
		})
		srvB, err := New(t.Context(), a.Srv.cfg, a.Store, slog.New(slog.DiscardHandler), Options{Now: a.Clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		tsB := httptest.NewServer(srvB)
		t.Cleanup(tsB.Close)
		bServer := &testServer{URL: tsB.URL, Store: a.Store, Clock: a.Clock}
		introspect := func(s *testServer, addr, secret string) reply {
			return s.postAs(t, "/oauth2/introspect", addr, url.Values{"token": {"x"}}, printerClient, secret)
		}
		for _, addr := range []string{"203.0.113.5", "203.0.113.6"} {
			// b has read the address's count: none.
			if r := introspect(bServer, addr, printerSecret); r.Status != 200 {
				t.Fatalf("%s on b before any failure: %d %s", addr, r.Status, r.Raw)
			}
			for i := range perIP {
				wantOAuthError(t, introspect(a, addr, fmt.Sprintf("lk_cs_guess-%d", i)), 401, oauth.InvalidClient)
			}
			wantTooMany(t, "a, the budget spent", introspect(a, addr, printerSecret))
		}
		// Within the second, b still trusts its count of the first address:
		// one more failure, whose count tells b the budget is spent.
		wantOAuthError(t, introspect(bServer, "203.0.113.5", "lk_cs_guess-b"), 401, oauth.InvalidClient)
		wantTooMany(t, "b after its own failure", introspect(bServer, "203.0.113.5", printerSecret))
		// A second on, b reads the count again: no failure more.
		a.Clock.Advance(time.Second)
		wantTooMany(t, "b a second later", introspect(bServer, "203.0.113.6", "lk_cs_guess-b"))
		n, err := (throttle.Window{Length: 10 * time.Minute}).Count(t.Context(), a.Store, "clientauth:ip:203.0.113.6", a.Clock.Now())
		mustDo(t, err)
		if n != perIP {
			t.Errorf("the second address's failures in the store = %d; want %d", n, perIP)
		}
	})
}
