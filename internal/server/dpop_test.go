package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/latchkey/latchkey/internal/dpop"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
)

// joseProver signs proofs with go-jose, a third-party JOSE library, so the
// server's checks meet proofs it did not make itself. now is the proof's
// clock.
func joseProver(t *testing.T, key *ecdsa.PrivateKey, now func() time.Time) dpop.Prover {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key},
		(&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	return func(htm, htu, nonce, ath string) (string, error) {
		claims := map[string]any{"jti": rand.Text(), "htm": htm, "htu": htu, "iat": now().Unix()}
		if nonce != "" {
			claims["nonce"] = nonce
		}
		if ath != "" {
			claims["ath"] = ath
		}
		b, _ := json.Marshal(claims)
		jws, err := signer.Sign(b)
		if err != nil {
			return "", err
		}
		return jws.CompactSerialize()
	}
}

func newECKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// dpopContext is ctx with an HTTP client whose transport proves
// possession of key: what x/oauth2 then uses for every token request.
func dpopContext(ctx context.Context, tr *dpop.Transport) context.Context {
	return context.WithValue(ctx, oauth2.HTTPClient, &http.Client{Transport: tr})
}

// TestDPoPDeviceFlowAndRefresh: a public device client, through x/oauth2
// with a DPoP transport whose proofs go-jose signs, gets DPoP-bound tokens
// (token_type DPoP, cnf.jkt) from the device flow and from refreshes; the
// refresh token is bound to the key, so a copy used without it, or with
// another key, is refused and changes nothing; replayed proofs and proofs
// for another URL are refused; nonces are required and followed. On both
// backends.
func TestDPoPDeviceFlowAndRefresh(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b backend) {
		t.Parallel()
		s := newTestServerOn(t, b, false, nil)
		key := newECKey(t)
		jkt, err := dpop.Thumbprint(&key.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		tr := &dpop.Transport{Prove: joseProver(t, key, s.Clock.Now)}
		ctx := dpopContext(t.Context(), tr)
		cfg := &oauth2.Config{ClientID: tvClient, Scopes: []string{"openid", "offline_access"},
			Endpoint: oauth2.Endpoint{DeviceAuthURL: s.URL + "/oauth2/device_authorization", TokenURL: s.URL + "/oauth2/token"}}
		da, err := cfg.DeviceAuth(ctx)
		if err != nil {
			t.Fatalf("DeviceAuth: %v", err)
		}
		s.decide(t, da.UserCode, true)
		tok, err := cfg.DeviceAccessToken(ctx, da)
		if err != nil {
			t.Fatalf("DeviceAccessToken: %v", err)
		}
		if tok.TokenType != "DPoP" || tok.RefreshToken == "" {
			t.Fatalf("token_type %q, refresh %q: want DPoP and a refresh token", tok.TokenType, tok.RefreshToken)
		}
		wantBound(t, tok.AccessToken, jkt)

		// The refresh token is bound: without a proof, or with another
		// key's, it is refused, and the holder's copy stays good.
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}, "client_id": {tvClient}}
		wantOAuthError(t, s.post(t, "/oauth2/token", form, "", ""), 400, oauth.InvalidGrant)
		thief := &dpop.Transport{Prove: joseProver(t, newECKey(t), s.Clock.Now)}
		r := postVia(t, thief, s.URL+"/oauth2/token", form)
		wantOAuthError(t, r, 400, oauth.InvalidGrant)
		if !strings.Contains(r.str("error_description"), "bound to a DPoP key") {
			t.Errorf("the thief's answer: %s", r.Raw)
		}
		stale := *tok
		stale.Expiry = time.Now().Add(-time.Minute)
		next, err := cfg.TokenSource(ctx, &stale).Token()
		if err != nil {
			t.Fatalf("the holder's refresh after the refusals: %v", err)
		}
		if next.TokenType != "DPoP" || next.RefreshToken == tok.RefreshToken {
			t.Errorf("refreshed: %+v", next)
		}
		wantBound(t, next.AccessToken, jkt)
		g, err := s.Store.GetGrant(t.Context(), jwtClaims(t, next.AccessToken)["grant_id"].(string))
		if err != nil || g.DPoPJKT != jkt {
			t.Errorf("the grant's key: %+v, %v", g, err)
		}

		// UserInfo takes the bound token with the DPoP scheme and a proof
		// of the key for this request and token (ath): x/oauth2 sends
		// "Authorization: DPoP", the transport adds the proof.
		resp, err := cfg.Client(ctx, next).Get(s.URL + "/userinfo")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("UserInfo with DPoP: %d", resp.StatusCode)
		}
		userinfo := func(scheme string, tr http.RoundTripper) reply {
			req, _ := http.NewRequestWithContext(t.Context(), "GET", s.URL+"/userinfo", nil)
			req.Header.Set("Authorization", scheme+" "+next.AccessToken)
			if tr == nil {
				return do(t, req)
			}
			resp, err := (&http.Client{Transport: tr}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return reply{Status: resp.StatusCode, Header: resp.Header}
		}
		if r := userinfo("Bearer", nil); r.Status != 401 || r.str("error") != oauth.InvalidToken {
			t.Errorf("the bound token as a bearer token: %d %s", r.Status, r.Raw)
		}
		if r := userinfo("DPoP", nil); r.Status != 401 || !strings.Contains(r.Header.Get("WWW-Authenticate"), "DPoP") {
			t.Errorf("DPoP without a proof: %d %s", r.Status, r.Raw)
		}
		if r := userinfo("DPoP", thief); r.Status != 401 || !strings.Contains(r.Header.Get("WWW-Authenticate"), dpop.InvalidProof) {
			t.Errorf("DPoP with another key's proof: %d %v", r.Status, r.Header)
		}
		// Introspection shows the binding (RFC 9449 §6.2).
		in := s.post(t, "/oauth2/introspect", url.Values{"token": {next.AccessToken}}, printerClient, printerSecret)
		if cnf, _ := in.Body["cnf"].(map[string]any); in.str("token_type") != "DPoP" || cnf["jkt"] != jkt {
			t.Errorf("introspection: %s", in.Raw)
		}

		// A replayed proof, and one for another URL, are refused.
		nonce := currentNonce(t, tr, key, s)
		prove := joseProver(t, key, s.Clock.Now)
		proof, _ := prove("POST", s.URL+"/oauth2/token", nonce, "")
		form.Set("refresh_token", next.RefreshToken)
		if r := postProof(t, s.URL+"/oauth2/token", form, proof); r.Status != 200 {
			t.Fatalf("a fresh proof: %d %s", r.Status, r.Raw)
		}
		wantOAuthError(t, postProof(t, s.URL+"/oauth2/token", form, proof), 400, dpop.InvalidProof)
		revokeProof, _ := prove("POST", s.URL+"/oauth2/revoke", nonce, "")
		wantOAuthError(t, postProof(t, s.URL+"/oauth2/token", form, revokeProof), 400, dpop.InvalidProof)
		oldProof, _ := joseProver(t, key, func() time.Time { return s.Clock.Now().Add(-10 * time.Minute) })("POST", s.URL+"/oauth2/token", nonce, "")
		wantOAuthError(t, postProof(t, s.URL+"/oauth2/token", form, oldProof), 400, dpop.InvalidProof)
		// Without the nonce: use_dpop_nonce, with one to use.
		noNonce, _ := prove("POST", s.URL+"/oauth2/token", "", "")
		r = postProof(t, s.URL+"/oauth2/token", form, noNonce)
		wantOAuthError(t, r, 400, dpop.UseNonce)
		if r.Header.Get(dpop.NonceHeader) == "" {
			t.Error("use_dpop_nonce without a DPoP-Nonce header")
		}
		// Two DPoP headers.
		req, _ := http.NewRequestWithContext(t.Context(), "POST", s.URL+"/oauth2/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Add("DPoP", proof)
		req.Header.Add("DPoP", proof)
		wantOAuthError(t, do(t, req), 400, dpop.InvalidProof)
	})
}

// currentNonce asks for the nonce the server hands out now.
func currentNonce(t *testing.T, tr *dpop.Transport, key *ecdsa.PrivateKey, s *testServer) string {
	t.Helper()
	p, _ := joseProver(t, key, s.Clock.Now)("POST", s.URL+"/oauth2/token", "", "")
	r := postProof(t, s.URL+"/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}, "client_id": {tvClient}}, p)
	n := r.Header.Get(dpop.NonceHeader)
	if n == "" {
		t.Fatalf("no nonce: %d %s", r.Status, r.Raw)
	}
	return n
}

func postProof(t *testing.T, u string, form url.Values, proof string) reply {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "POST", u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("DPoP", proof)
	return do(t, req)
}

func postVia(t *testing.T, tr http.RoundTripper, u string, form url.Values) reply {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "POST", u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r reply
	r.Status, r.Header = resp.StatusCode, resp.Header
	var raw strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		raw.Write(buf[:n])
		if err != nil {
			break
		}
	}
	r.Raw = raw.String()
	_ = json.Unmarshal([]byte(r.Raw), &r.Body)
	return r
}

func wantBound(t *testing.T, accessToken, jkt string) {
	t.Helper()
	cnf, _ := jwtClaims(t, accessToken)["cnf"].(map[string]any)
	if cnf == nil || cnf["jkt"] != jkt {
		t.Errorf("access token cnf = %v, want jkt %s", cnf, jkt)
	}
}

// TestDPoPClientCredentials: a confidential client gets a DPoP-bound token
// through x/oauth2's clientcredentials with the DPoP transport; a client
// registered with dpop_bound_access_tokens is refused without a proof;
// discovery lists the proof algorithms.
func TestDPoPClientCredentials(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, false, nil)
	ctx := t.Context()
	now := s.Clock.Now()
	const secret = "lk_cs_sensor-secret-0123456789abcdef"
	mustDo(t, s.Store.CreateClient(ctx, &store.Client{ID: "sensor", AuthMethod: store.AuthClientSecretBasic,
		SecretHash: oauth.HashSecret(secret), GrantTypes: []string{store.GrantClientCredentials}, Scopes: []string{"telemetry"},
		DPoPBound: true, CreatedAt: now, UpdatedAt: now}))
	cc := &clientcredentials.Config{ClientID: "sensor", ClientSecret: secret, TokenURL: s.URL + "/oauth2/token",
		AuthStyle: oauth2.AuthStyleInHeader}
	if _, err := cc.Token(ctx); err == nil || !strings.Contains(err.Error(), dpop.InvalidProof) {
		t.Errorf("a dpop_bound_access_tokens client without a proof: %v", err)
	}
	key := newECKey(t)
	tok, err := cc.Token(dpopContext(ctx, &dpop.Transport{Prove: joseProver(t, key, s.Clock.Now)}))
	if err != nil {
		t.Fatalf("with a proof: %v", err)
	}
	jkt, _ := dpop.Thumbprint(&key.PublicKey)
	if tok.TokenType != "DPoP" {
		t.Errorf("token_type %q", tok.TokenType)
	}
	wantBound(t, tok.AccessToken, jkt)

	disc := s.sendJSON(t, "GET", "/.well-known/openid-configuration", "", "")
	if algs, _ := disc.Body["dpop_signing_alg_values_supported"].([]any); len(algs) == 0 || algs[0] != "ES256" {
		t.Errorf("dpop_signing_alg_values_supported = %v", disc.Body["dpop_signing_alg_values_supported"])
	}
}

// TestDPoPJKTAuthorizationCode: an authorization request with dpop_jkt (RFC
// 9449 §10) gives a code that x/oauth2 redeems only through a DPoP
// transport holding that key: with another key's proofs, or none, the code
// is refused and spent; with the key, the tokens are bound to it.
func TestDPoPJKTAuthorizationCode(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, b backend) {
		t.Parallel()
		s := newTestServerOn(t, b, false, nil)
		app := newRP(t, s, webAppClient, false)
		conf, _ := app.config(t, s)
		ctx := t.Context()
		key, other := newECKey(t), newECKey(t)
		jkt, err := dpop.Thumbprint(&key.PublicKey)
		mustDo(t, err)
		bindTo := oauth2.SetAuthURLParam("dpop_jkt", jkt)

		for name, exchangeCtx := range map[string]context.Context{
			"no proof":            ctx,
			"another key's proof": dpopContext(ctx, &dpop.Transport{Prove: joseProver(t, other, s.Clock.Now)}),
		} {
			code, verifier := approvedCode(t, s, app, conf, bindTo)
			if _, err := conf.Exchange(exchangeCtx, code, oauth2.VerifierOption(verifier)); err == nil || !strings.Contains(err.Error(), oauth.InvalidGrant) {
				t.Errorf("%s: Exchange = %v, want invalid_grant", name, err)
			}
			withKey := dpopContext(ctx, &dpop.Transport{Prove: joseProver(t, key, s.Clock.Now)})
			if _, err := conf.Exchange(withKey, code, oauth2.VerifierOption(verifier)); err == nil {
				t.Errorf("%s: the refused code redeemed afterwards with the key", name)
			}
		}

		code, verifier := approvedCode(t, s, app, conf, bindTo)
		tok, err := conf.Exchange(dpopContext(ctx, &dpop.Transport{Prove: joseProver(t, key, s.Clock.Now)}), code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("Exchange with the key: %v", err)
		}
		if tok.TokenType != "DPoP" {
			t.Errorf("token_type %q", tok.TokenType)
		}
		wantBound(t, tok.AccessToken, jkt)

		// A malformed dpop_jkt goes back to the client as invalid_request,
		// once the person has signed in (docs/security.md AC-22).
		p := newPerson(t, s)
		pg := p.signIn(p.open(conf.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("dpop_jkt", "short"))))
		if got := callback(t, pg, app.Callback); got.Get("error") != oauth.InvalidRequest || got.Get("state") != "st" {
			t.Errorf("a malformed dpop_jkt: %v", got)
		}
	})
}
