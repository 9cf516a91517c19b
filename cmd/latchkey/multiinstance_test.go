package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/jackc/pgx/v5"
	"golang.org/x/oauth2"

	"github.com/latchkey/latchkey/internal/testenv"
)

const multiAdminToken = "lk_admin_multi_instance_test_token_0123456789"

// pgSchema makes a schema name for one test and drops the schema when the
// test ends; the instances create it when they migrate.
func pgSchema(t *testing.T, dsn string) string {
	t.Helper()
	schema := "mi_" + strings.ToLower(rand.Text())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("drop schema: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	return schema
}

// testSecretsKey seals the instances' secrets: serve needs one outside --dev.
const testSecretsKey = "lk_sk_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"

// instance is one `latchkey serve` process.
type instance struct {
	URL    string
	proc   *exec.Cmd
	stderr *lockedBuffer
}

// startInstances starts n serve processes at once on one configuration, so
// their migrations race (the advisory lock must make them migrate once).
func startInstances(t *testing.T, n int, config string) []*instance {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	out := make([]*instance, n)
	for i := range out {
		addr := freeAddr(t)
		p := exec.Command(bin, "serve", "--config", config, "--listen", addr)
		p.Env = append(os.Environ(), "LATCHKEY_DB=", "LATCHKEY_ADMIN_TOKEN=", "LATCHKEY_LISTEN=", "LATCHKEY_ISSUER=",
			"LATCHKEY_SECRETS_KEY="+testSecretsKey)
		in := &instance{URL: "http://" + addr, proc: p, stderr: &lockedBuffer{}}
		p.Stdout, p.Stderr = io.Discard, in.stderr
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = p.Process.Signal(os.Interrupt)
			done := make(chan struct{})
			go func() { _ = p.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				_ = p.Process.Kill()
			}
			if t.Failed() {
				t.Logf("instance %s log:\n%s", in.URL, in.stderr.String())
			}
		})
		out[i] = in
	}
	for _, in := range out {
		waitReady(t, in)
	}
	return out
}

func waitReady(t *testing.T, in *instance) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(in.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("instance %s not ready:\n%s", in.URL, in.stderr.String())
}

type jsonReply struct {
	Status int
	Body   map[string]any
	Raw    string
}

func (r jsonReply) str(k string) string { s, _ := r.Body[k].(string); return s }

func call(t *testing.T, method, u string, body io.Reader, header map[string]string) jsonReply {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := jsonReply{Status: resp.StatusCode, Raw: string(raw)}
	_ = json.Unmarshal(raw, &r.Body)
	return r
}

func postForm(t *testing.T, u string, form url.Values) jsonReply {
	t.Helper()
	return call(t, "POST", u, strings.NewReader(form.Encode()), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
}

func adminPost(t *testing.T, base, path, body string) jsonReply {
	t.Helper()
	r := call(t, "POST", base+path, strings.NewReader(body), map[string]string{
		"Content-Type": "application/json", "Authorization": "Bearer " + multiAdminToken})
	if r.Status != 201 {
		t.Fatalf("POST %s: %d %s", path, r.Status, r.Raw)
	}
	return r
}

func devicePoll(t *testing.T, base, deviceCode string) jsonReply {
	t.Helper()
	return devicePollAs(t, base, "tv", deviceCode)
}

// devicePollAs polls as public client clientID.
func devicePollAs(t *testing.T, base, clientID, deviceCode string) jsonReply {
	t.Helper()
	return postForm(t, base+"/oauth2/token", url.Values{
		"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}, "device_code": {deviceCode}, "client_id": {clientID}})
}

func kidOf(t *testing.T, jwt string) string {
	t.Helper()
	h, err := base64.RawURLEncoding.DecodeString(strings.Split(jwt, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var hdr struct {
		Kid string `json:"kid"`
	}
	_ = json.Unmarshal(h, &hdr)
	return hdr.Kid
}

func jwksKids(t *testing.T, base string) []string {
	t.Helper()
	r := call(t, "GET", base+"/oauth2/jwks", nil, nil)
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal([]byte(r.Raw), &set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.Kid)
	}
	return kids
}

// TestMultiInstance runs three real `latchkey serve` processes on one
// PostgreSQL schema, as behind a load balancer: a device flow starts on
// the first, slow_down holds across instances, the person approves on the
// second, the device polls the third; refresh works on any; and a key
// rotation of both algorithms while flows run loses none of them. Access
// tokens are RS256 (tokens.signing_alg); client tv's ID tokens ES256, the
// server's default, and tv-rs's RS256, as it registered: go-oidc verifies
// each with the JWKS of another instance than the one that signed, before
// and after the rotation.
func TestMultiInstance(t *testing.T) {
	t.Parallel()
	dsn := testenv.PostgresDSN(t)
	schema := pgSchema(t, dsn)
	dir := t.TempDir()
	issuer := "http://" + freeAddr(t) // the balancer's address; instances all use it
	config := filepath.Join(dir, "latchkey.yaml")
	err := os.WriteFile(config, []byte(fmt.Sprintf(`issuer: %s
database: %s
admin_token: %s
postgres: {schema: %s, max_conns: 5, min_conns: 1}
device: {interval: 2s}
keys: {cache_refresh: 1s, publish_delay: 3s}
tokens: {signing_alg: RS256}
`, issuer, dsn, multiAdminToken, schema)), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	in := startInstances(t, 3, config)

	adminPost(t, in[1].URL, "/admin/v1/users", `{"email":"pat@example.com","name":"Pat","password":"correct horse battery","email_verified":true}`)
	for _, c := range []string{`"client_id":"tv"`, `"client_id":"tv-rs","id_token_signed_response_alg":"RS256"`} {
		adminPost(t, in[2].URL, "/admin/v1/clients", `{`+c+`,"client_name":"Lounge TV","token_endpoint_auth_method":"none",
		"grant_types":["urn:ietf:params:oauth:grant-type:device_code","refresh_token"],"scope":"openid profile email offline_access"}`)
	}
	clients := []string{"tv", "tv-rs"}

	// flows runs a device flow of each client across the instances, side
	// by side, and returns their tokens.
	flows := func(start, approve, poll *instance) []jsonReply {
		t.Helper()
		var das []jsonReply
		for _, c := range clients {
			da := postForm(t, start.URL+"/oauth2/device_authorization", url.Values{"client_id": {c}, "scope": {"openid email offline_access"}})
			if da.Status != 200 {
				t.Fatalf("device authorization of %s on %s: %d %s", c, start.URL, da.Status, da.Raw)
			}
			das = append(das, da)
			dc := da.str("device_code")
			if r := devicePollAs(t, poll.URL, c, dc); r.str("error") != "authorization_pending" {
				t.Fatalf("first poll: %s", r.Raw)
			}
			// Too fast, on another instance: slow_down holds across instances.
			if r := devicePollAs(t, approve.URL, c, dc); r.str("error") != "slow_down" {
				t.Fatalf("immediate second poll on another instance: %s; want slow_down", r.Raw)
			}
			approveAsPerson(t, approve.URL, da.str("user_code"), "pat@example.com", "correct horse battery")
		}
		time.Sleep(7100 * time.Millisecond) // the interval after slow_down: 2 s + 5 s
		var toks []jsonReply
		for i, c := range clients {
			r := devicePollAs(t, poll.URL, c, das[i].str("device_code"))
			if r.Status != 200 {
				t.Fatalf("poll of %s after approval on %s: %d %s", c, poll.URL, r.Status, r.Raw)
			}
			toks = append(toks, r)
		}
		return toks
	}

	toks := flows(in[0], in[1], in[2])

	// Every instance serves the same issuer and keys; each ID token
	// verifies against the JWKS fetched from another instance than the one
	// that signed, and only with its client's algorithm.
	ctx := oidc.InsecureIssuerURLContext(t.Context(), issuer)
	keySet := oidc.NewRemoteKeySet(ctx, in[0].URL+"/oauth2/jwks")
	verifiers := []*oidc.IDTokenVerifier{
		oidc.NewVerifier(issuer, keySet, &oidc.Config{ClientID: "tv", SupportedSigningAlgs: []string{"ES256"}}),
		oidc.NewVerifier(issuer, keySet, &oidc.Config{ClientID: "tv-rs", SupportedSigningAlgs: []string{"RS256"}}),
	}
	var oldKids []string
	for i, tok := range toks {
		if _, err := verifiers[i].Verify(ctx, tok.str("id_token")); err != nil {
			t.Fatalf("%s's ID token from instance 3 does not verify with instance 1's JWKS: %v", clients[i], err)
		}
		oldKids = append(oldKids, kidOf(t, tok.str("id_token")))
	}
	oldAccessKid := kidOf(t, toks[0].str("access_token"))
	if oldKids[0] == oldKids[1] || oldAccessKid != oldKids[1] {
		t.Fatalf("kids: tv's ID token %s, tv-rs's %s, access tokens %s; want one EC key, and the RSA key for the other two", oldKids[0], oldKids[1], oldAccessKid)
	}

	// Refresh on yet another instance.
	ref := postForm(t, in[1].URL+"/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {toks[1].str("refresh_token")}, "client_id": {"tv-rs"}})
	if ref.Status != 200 {
		t.Fatalf("refresh on instance 2: %d %s", ref.Status, ref.Raw)
	}
	if _, err := verifiers[1].Verify(ctx, ref.str("id_token")); err != nil {
		t.Errorf("refreshed RS256 ID token: %v", err)
	}

	// Rotate both keys while a flow of each client is under way.
	var das []jsonReply
	for _, c := range clients {
		das = append(das, postForm(t, in[2].URL+"/oauth2/device_authorization", url.Values{"client_id": {c}, "scope": {"openid"}}))
	}
	bin, _ := buildBinary()
	rot := exec.Command(bin, "keys", "rotate", "--config", config, "--yes")
	rot.Env = append(os.Environ(), "LATCHKEY_DB=", "LATCHKEY_SECRETS_KEY="+testSecretsKey)
	var rotOut bytes.Buffer
	rot.Stdout, rot.Stderr = &rotOut, &rotOut
	if err := rot.Run(); err != nil {
		t.Fatalf("keys rotate: %v\n%s", err, rotOut.String())
	}
	time.Sleep(1500 * time.Millisecond) // > cache_refresh: every instance has loaded the new keys
	for _, i := range in {
		if kids := jwksKids(t, i.URL); len(kids) != 4 {
			t.Errorf("JWKS of %s after rotation: %v; want the new and the old key of each algorithm", i.URL, kids)
		}
	}
	for _, da := range das {
		approveAsPerson(t, in[0].URL, da.str("user_code"), "pat@example.com", "correct horse battery")
	}
	time.Sleep(2500 * time.Millisecond) // past publish_delay: the new keys sign
	for i, c := range clients {
		r := devicePollAs(t, in[1].URL, c, das[i].str("device_code"))
		if r.Status != 200 {
			t.Fatalf("%s's flow across the rotation: %d %s", c, r.Status, r.Raw)
		}
		if newKid := kidOf(t, r.str("id_token")); newKid == oldKids[i] {
			t.Errorf("after the publish delay %s's ID tokens are still signed with the old key %s", c, oldKids[i])
		}
		if newKid := kidOf(t, r.str("access_token")); newKid == oldAccessKid {
			t.Errorf("after the publish delay access tokens are still signed with the old key %s", oldAccessKid)
		}
		if _, err := verifiers[i].Verify(ctx, r.str("id_token")); err != nil {
			t.Errorf("%s's ID token signed with the new key: %v", c, err)
		}
		if _, err := verifiers[i].Verify(ctx, toks[i].str("id_token")); err != nil {
			t.Errorf("%s's ID token signed with the old key no longer verifies: %v", c, err)
		}
		// The old access token is still good for UserInfo on every instance.
		for _, inst := range in {
			if u := call(t, "GET", inst.URL+"/userinfo", nil, map[string]string{"Authorization": "Bearer " + toks[i].str("access_token")}); u.Status != 200 {
				t.Errorf("old access token of %s at %s/userinfo: %d %s", c, inst.URL, u.Status, u.Raw)
			}
		}
	}
}

// TestInstancesStartTogether: three instances started at once on an empty
// schema all become ready (they migrate under the advisory lock; without
// it, the losers fail creating tables that exist) and agree on one first
// signing key of each algorithm.
func TestInstancesStartTogether(t *testing.T) {
	t.Parallel()
	dsn := testenv.PostgresDSN(t)
	schema := pgSchema(t, dsn)
	config := filepath.Join(t.TempDir(), "latchkey.yaml")
	if err := os.WriteFile(config, []byte(fmt.Sprintf("database: %s\npostgres: {schema: %s, max_conns: 2, min_conns: 0}\n", dsn, schema)), 0o600); err != nil {
		t.Fatal(err)
	}
	in := startInstances(t, 3, config)
	first := jwksKids(t, in[0].URL)
	for _, i := range in {
		if kids := jwksKids(t, i.URL); len(kids) != 2 || !slices.Equal(kids, first) {
			t.Errorf("JWKS of %s: %v; want the first key of each algorithm, %v", i.URL, kids, first)
		}
	}
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var keys int
	if err := conn.QueryRow(t.Context(), fmt.Sprintf("SELECT count(*) FROM %s.signing_keys", pgx.Identifier{schema}.Sanitize())).Scan(&keys); err != nil {
		t.Fatal(err)
	}
	if keys != 2 {
		t.Errorf("%d signing keys after three instances started together; want 2, one ES256 and one RS256", keys)
	}
}

// browserless is a person's browser without JavaScript: a cookie jar (one
// for 127.0.0.1, so shared by every instance, as behind one balancer) that
// follows redirects only within Latchkey.
type browserless struct {
	t      *testing.T
	client *http.Client
}

func newBrowserless(t *testing.T) *browserless {
	jar, _ := cookiejar.New(nil)
	return &browserless{t: t, client: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var formField = regexp.MustCompile(`name="(csrf_token|request|return_to)" value="([^"]*)"`)

// fetch sends req and follows redirects to http://127.0.0.1 (Latchkey);
// it returns the last answer's body and its redirect target, if any.
func (b *browserless) fetch(req *http.Request) (body, location string) {
	b.t.Helper()
	for range 10 {
		resp, err := b.client.Do(req)
		if err != nil {
			b.t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		if loc == "" {
			if r, ok := strings.CutPrefix(resp.Header.Get("Refresh"), "0; url="); ok {
				loc = r
			}
		}
		if loc == "" {
			return string(raw), ""
		}
		next, err := req.URL.Parse(loc)
		if err != nil {
			b.t.Fatal(err)
		}
		if next.Path == "/callback" {
			return string(raw), next.String()
		}
		req, _ = http.NewRequest("GET", next.String(), nil)
	}
	b.t.Fatal("too many redirects")
	return "", ""
}

// post submits a page's form to base+path, with the page's hidden fields.
func (b *browserless) post(base, path, page string, extra url.Values) (body, location string) {
	b.t.Helper()
	form := url.Values{}
	for _, m := range formField.FindAllStringSubmatch(page, -1) {
		if !form.Has(m[1]) {
			form.Set(m[1], strings.ReplaceAll(m[2], "&amp;", "&"))
		}
	}
	for k, v := range extra {
		form[k] = v
	}
	req, _ := http.NewRequest("POST", base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	return b.fetch(req)
}

// TestMultiInstanceAuthCode: the authorization request starts on one
// instance, the person signs in there and consents on a second, and the
// code is redeemed on a third.
func TestMultiInstanceAuthCode(t *testing.T) {
	t.Parallel()
	dsn := testenv.PostgresDSN(t)
	schema := pgSchema(t, dsn)
	config := filepath.Join(t.TempDir(), "latchkey.yaml")
	issuer := "http://" + freeAddr(t)
	if err := os.WriteFile(config, []byte(fmt.Sprintf("issuer: %s\ndatabase: %s\nadmin_token: %s\npostgres: {schema: %s, max_conns: 4, min_conns: 0}\n",
		issuer, dsn, multiAdminToken, schema)), 0o600); err != nil {
		t.Fatal(err)
	}
	in := startInstances(t, 3, config)
	adminPost(t, in[0].URL, "/admin/v1/users", `{"email":"pat@example.com","name":"Pat","password":"correct horse battery","email_verified":true}`)
	adminPost(t, in[1].URL, "/admin/v1/clients", `{"client_id":"app","client_name":"Native App","token_endpoint_auth_method":"none",
		"grant_types":["authorization_code"],"redirect_uris":["http://127.0.0.1/callback"],"scope":"openid email"}`)

	verifier := oauth2.GenerateVerifier()
	conf := &oauth2.Config{ClientID: "app", RedirectURL: "http://127.0.0.1/callback", Scopes: []string{"openid", "email"},
		Endpoint: oauth2.Endpoint{AuthURL: in[0].URL + "/oauth2/authorize", TokenURL: in[2].URL + "/oauth2/token", AuthStyle: oauth2.AuthStyleInParams}}
	b := newBrowserless(t)
	req, _ := http.NewRequest("GET", conf.AuthCodeURL("st-1", oauth2.S256ChallengeOption(verifier)), nil)
	page, _ := b.fetch(req)
	if !strings.Contains(page, `name="password"`) {
		t.Fatalf("authorize on instance 1 did not lead to sign-in:\n%s", page)
	}
	page, loc := b.post(in[0].URL, "/login", page, url.Values{"username": {"pat@example.com"}, "password": {"correct horse battery"}})
	if loc != "" || !strings.Contains(page, `value="approve"`) {
		t.Fatalf("after sign-in, no consent page (redirect %q):\n%s", loc, page)
	}
	_, loc = b.post(in[1].URL, "/consent", page, url.Values{"decision": {"approve"}}) // consent on instance 2
	cb, err := url.Parse(loc)
	if err != nil || cb.Query().Get("state") != "st-1" || cb.Query().Get("code") == "" {
		t.Fatalf("redirect to the app: %q", loc)
	}
	tok, err := conf.Exchange(t.Context(), cb.Query().Get("code"), oauth2.VerifierOption(verifier)) // redeemed on instance 3
	if err != nil {
		t.Fatalf("exchange on instance 3: %v", err)
	}
	ctx := oidc.InsecureIssuerURLContext(t.Context(), issuer)
	v := oidc.NewVerifier(issuer, oidc.NewRemoteKeySet(ctx, in[1].URL+"/oauth2/jwks"), &oidc.Config{ClientID: "app", SupportedSigningAlgs: []string{"ES256"}})
	if _, err := v.Verify(ctx, tok.Extra("id_token").(string)); err != nil {
		t.Errorf("ID token from instance 3 with instance 2's JWKS: %v", err)
	}
}
