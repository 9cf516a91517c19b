package server

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/secevent"
)

// syncBuffer is a bytes.Buffer the server's goroutines may write at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestSecurityEventLog runs sign-ins, device approvals and a denial, a
// consent, token issuance by three grants, a revocation, a refresh-token
// reuse, a failed client authentication and a throttle trip, and reads the
// log: one "security event" line at info for each, every line with every
// documented field (docs/security-events.md), and no secret anywhere in
// the log, at any level (issue 17 item 11).
func TestSecurityEventLog(t *testing.T) {
	t.Parallel()
	var logged syncBuffer
	s := newTestServerLogging(t, backends[0], false, func(c *config.Config) {
		c.Limits.AuthFailuresPerIP = 2
	}, &logged)
	sessionClients(t, s)
	var secrets []string // everything that must not reach the log
	keep := func(v ...string) {
		for _, x := range v {
			if x != "" {
				secrets = append(secrets, x)
			}
		}
	}
	keep(personPassword, printerSecret, kioskSecret)

	// Sign-ins: a wrong password, then the right one.
	br := newWebBrowser(t, s)
	const wrongPassword = "not-the-password-at-all"
	keep(wrongPassword)
	br.post("/login", url.Values{"username": {personEmail}, "password": {wrongPassword}, "csrf_token": {csrfOf(t, br.get("/login"))}})
	br.signIn()
	for _, c := range br.http.Jar.Cookies(mustURL(t, s.URL)) {
		keep(c.Value)
	}

	// A device approved and one denied on the page; the first polls its tokens.
	a := s.startDevice(t, tvClient, scopesAll)
	keep(a.str("device_code"), a.str("user_code"))
	br.approve(a.str("user_code"))
	tok := s.poll(t, tvClient, a.str("device_code"))
	if tok.Status != 200 {
		t.Fatalf("poll: %d %s", tok.Status, tok.Raw)
	}
	keep(tok.str("access_token"), tok.str("refresh_token"), tok.str("id_token"))
	d := s.startDevice(t, tvClient, "")
	keep(d.str("device_code"), d.str("user_code"))
	page := br.get("/device?user_code=" + url.QueryEscape(d.str("user_code")))
	br.post("/device", url.Values{"user_code": {d.str("user_code")}, "decision": {"deny"}, "csrf_token": {csrfOf(t, page)}})

	// Refresh, then reuse of the rotated token (revokes the grant).
	next := s.refresh(t, tvClient, tok.str("refresh_token"))
	keep(next.str("access_token"), next.str("refresh_token"), next.str("id_token"))
	s.Clock.Advance(2 * time.Second) // past the concurrent-refresh window
	reuse := s.refresh(t, tvClient, tok.str("refresh_token"))
	wantOAuthError(t, reuse, 400, oauth.InvalidGrant)

	// A revocation by its client.
	other := s.deviceTokens(t, tvClient, scopesAll)
	keep(other.str("access_token"), other.str("refresh_token"))
	if r := s.post(t, "/oauth2/revoke", url.Values{"token": {other.str("refresh_token")}, "client_id": {tvClient}}, "", ""); r.Status != 200 {
		t.Errorf("revoke: %d %s", r.Status, r.Raw)
	}

	// A consent through the authorization code flow, with golang.org/x/oauth2.
	app := newRP(t, s, webAppClient, false)
	conf, _ := app.config(t, s)
	verifier := oauth2.GenerateVerifier()
	keep(verifier)
	p := newPerson(t, s)
	q := callback(t, p.decide(p.signIn(p.open(conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)))), "approve"), app.Callback)
	keep(q.Get("code"))
	code, err := conf.Exchange(t.Context(), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("Exchange: %v", err)
	}
	keep(code.AccessToken, code.RefreshToken)

	// Wrong client secrets until the address's budget trips.
	const wrongSecret = "lk_cs_a-wrong-guess-0123456789"
	keep(wrongSecret)
	for range 3 {
		s.post(t, "/oauth2/introspect", url.Values{"token": {tok.str("access_token")}}, printerClient, wrongSecret)
	}

	out := logged.String()
	type line map[string]any
	var events []line
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("log line is not JSON: %v: %s", err, sc.Text())
		}
		if l["msg"] != secevent.Message {
			continue
		}
		if l["level"] != "INFO" {
			t.Errorf("security event at %v; want INFO: %v", l["level"], l)
		}
		for _, f := range []string{"event", "outcome", "client_id", "user_id", "grant_id", "grant_type", "addr", "reason"} {
			if _, ok := l[f]; !ok {
				t.Errorf("security event lacks %s: %v", f, l)
			}
		}
		if l["addr"] != "127.0.0.1" {
			t.Errorf("security event addr = %v; want 127.0.0.1: %v", l["addr"], l)
		}
		events = append(events, l)
	}
	for _, want := range []line{
		{"event": secevent.SignIn, "outcome": secevent.Failure, "user_id": s.User.ID},
		{"event": secevent.SignIn, "outcome": secevent.Success, "user_id": s.User.ID},
		{"event": secevent.DeviceDecision, "outcome": secevent.Approved, "client_id": tvClient, "user_id": s.User.ID},
		{"event": secevent.DeviceDecision, "outcome": secevent.Denied, "client_id": tvClient, "user_id": s.User.ID},
		{"event": secevent.TokenIssued, "outcome": secevent.Success, "client_id": tvClient, "user_id": s.User.ID, "grant_type": "urn:ietf:params:oauth:grant-type:device_code"},
		{"event": secevent.TokenIssued, "outcome": secevent.Success, "client_id": tvClient, "user_id": s.User.ID, "grant_type": "refresh_token"},
		{"event": secevent.RefreshReuse, "outcome": secevent.Revoked, "client_id": tvClient, "user_id": s.User.ID},
		{"event": secevent.TokenRevoked, "outcome": secevent.Revoked, "client_id": tvClient, "reason": "revoked by its client"},
		{"event": secevent.Consent, "outcome": secevent.Approved, "client_id": webAppClient, "user_id": s.User.ID},
		{"event": secevent.TokenIssued, "outcome": secevent.Success, "client_id": webAppClient, "user_id": s.User.ID, "grant_type": "authorization_code"},
		{"event": secevent.ClientAuth, "outcome": secevent.Failure, "client_id": printerClient},
		{"event": secevent.Throttle, "outcome": secevent.Tripped, "reason": "/oauth2/introspect"},
	} {
		found := false
		for _, l := range events {
			match := true
			for k, v := range want {
				if l[k] != v {
					match = false
					break
				}
			}
			if match {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("no security event %v in the log", want)
		}
	}
	for _, secret := range secrets {
		if strings.Contains(out, secret) {
			t.Errorf("the log holds a secret (%.12s…)", secret)
		}
		if i := strings.IndexByte(secret, '-'); i > 0 && len(secret) == 9 && strings.Contains(out, strings.ReplaceAll(secret, "-", "")) {
			t.Errorf("the log holds a user code without its dash")
		}
	}
	if t.Failed() {
		t.Logf("the log:\n%s", out)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
