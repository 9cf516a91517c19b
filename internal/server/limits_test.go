package server

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/account"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/store"
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
			mustDo(t, s.Store.CreateUser(ctx, &store.User{ID: "u-" + email, Email: email, Name: email, PasswordHash: hash, CreatedAt: now, UpdatedAt: now}))
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
