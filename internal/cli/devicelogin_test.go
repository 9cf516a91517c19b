package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"
)

func TestParseDeviceLoginFlags(t *testing.T) {
	t.Parallel()
	defaults := deviceLoginOptions{
		issuer:     defaultDeviceIssuer,
		clientID:   defaultDeviceClientID,
		authMethod: "client_secret_basic",
		scopes:     []string{"openid", "profile", "email", "offline_access"},
	}
	for _, tt := range []struct {
		name    string
		args    []string
		env     map[string]string
		want    deviceLoginOptions
		wantErr error  // matched with errors.Is
		wantMsg string // a substring of the error, when wantErr is nil
	}{
		{name: "defaults", want: defaults},
		{
			name: "environment",
			env: map[string]string{
				"LATCHKEY_ISSUER":             "https://login.example.com",
				"LATCHKEY_CLIENT_ID":          "tv-app",
				"LATCHKEY_CLIENT_SECRET_FILE": "/run/secrets/tv",
				"LATCHKEY_SCOPE":              "openid",
			},
			want: deviceLoginOptions{
				issuer:           "https://login.example.com",
				clientID:         "tv-app",
				clientSecretFile: "/run/secrets/tv",
				authMethod:       "client_secret_basic",
				scopes:           []string{"openid"},
			},
		},
		{
			name: "flags win over the environment",
			args: []string{"--issuer", "http://localhost:9000", "--client-id", "cli", "--scope", " openid  email ",
				"--no-qr", "--json", "--timeout", "2m", "--auth-method", "client_secret_post"},
			env: map[string]string{"LATCHKEY_ISSUER": "https://login.example.com", "LATCHKEY_CLIENT_ID": "tv-app"},
			want: deviceLoginOptions{
				issuer:     "http://localhost:9000",
				clientID:   "cli",
				authMethod: "client_secret_post",
				scopes:     []string{"openid", "email"},
				noQR:       true,
				json:       true,
				timeout:    2 * time.Minute,
			},
		},
		{name: "help", args: []string{"-h"}, wantErr: flag.ErrHelp},
		{name: "no --client-secret flag", args: []string{"--client-secret", "s3cret"}, wantErr: errUsage},
		{name: "bad duration", args: []string{"--timeout", "soon"}, wantErr: errUsage},
		{name: "extra argument", args: []string{"now"}, wantErr: errUsage},
		{name: "issuer not a URL", args: []string{"--issuer", "127.0.0.1:8080"}, wantMsg: "not an http(s) URL"},
		{name: "issuer with query", args: []string{"--issuer", "http://127.0.0.1:8080/?x=1"}, wantMsg: "query or fragment"},
		{name: "empty client ID", args: []string{"--client-id", ""}, wantMsg: "--client-id is empty"},
		{name: "negative timeout", args: []string{"--timeout", "-1s"}, wantMsg: "negative"},
		{name: "auth method none", args: []string{"--auth-method", "none"}, wantMsg: `--auth-method "none": want client_secret_basic or client_secret_post`},
		{name: "auth method private_key_jwt", args: []string{"--auth-method", "private_key_jwt"}, wantMsg: "want client_secret_basic or client_secret_post"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			e := &Env{Getenv: func(k string) string { return tt.env[k] }, Stdout: &out, Stderr: &out}
			got, err := e.parseDeviceLoginFlags(tt.args)
			switch {
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if !strings.Contains(out.String(), "Example:") {
					t.Errorf("usage with an example not printed; output:\n%s", out.String())
				}
				return
			case tt.wantMsg != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantMsg) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantMsg)
				}
				return
			case err != nil:
				t.Fatalf("unexpected error: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(deviceLoginOptions{})); diff != "" {
				t.Errorf("options (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadClientSecret(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tt := range []struct {
		name    string
		path    string
		want    string
		wantErr bool
	}{
		{"public client", "", "", false},
		{"trailing newline trimmed", write("secret", "lk_cs_abc\n"), "lk_cs_abc", false},
		{"empty file", write("empty", " \n"), "", true},
		{"missing file", filepath.Join(dir, "nope"), "", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readClientSecret(tt.path)
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Errorf("readClientSecret(%q) = %q, %v; want %q, error %v", tt.path, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestDiscover(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		status  int
		body    string // a format for fmt.Sprintf; %[1]s is the server's URL
		issuer  func(srv string) string
		wantMsg string // "" for success
	}{
		{
			name: "ok",
			body: `{"issuer": "%[1]s", "device_authorization_endpoint": "%[1]s/oauth2/device_authorization",
				"token_endpoint": "%[1]s/oauth2/token", "jwks_uri": "%[1]s/oauth2/jwks", "scopes_supported": ["openid"]}`,
		},
		{
			name: "trailing slash on the flag is not the issuer",
			body: `{"issuer": "%[1]s", "device_authorization_endpoint": "%[1]s/d", "token_endpoint": "%[1]s/t"}`,
			issuer: func(srv string) string {
				return srv + "/"
			},
			wantMsg: "OIDC Discovery §4.3",
		},
		{
			name:    "another issuer",
			body:    `{"issuer": "https://evil.example", "device_authorization_endpoint": "%[1]s/d", "token_endpoint": "%[1]s/t"}`,
			wantMsg: `names issuer "https://evil.example"`,
		},
		{
			name:    "no device flow",
			body:    `{"issuer": "%[1]s", "token_endpoint": "%[1]s/t"}`,
			wantMsg: "no device_authorization_endpoint",
		},
		{
			name:    "relative token endpoint",
			body:    `{"issuer": "%[1]s", "device_authorization_endpoint": "%[1]s/d", "token_endpoint": "/t"}`,
			wantMsg: "token_endpoint \"/t\" is not an absolute URL",
		},
		{name: "not found", status: http.StatusNotFound, body: `{}`, wantMsg: "404 Not Found"},
		{name: "not JSON", body: `<html>`, wantMsg: "not a JSON discovery document"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var srv *httptest.Server
			srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodGet || r.URL.Path != "/.well-known/openid-configuration" {
					http.NotFound(w, r)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				if tt.status != 0 {
					w.WriteHeader(tt.status)
				}
				fmt.Fprintf(w, tt.body, srv.URL)
			}))
			defer srv.Close()
			issuer := srv.URL
			if tt.issuer != nil {
				issuer = tt.issuer(srv.URL)
			}

			got, err := discover(t.Context(), srv.Client(), issuer)
			if tt.wantMsg != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantMsg) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := &providerMetadata{
				Issuer:                      srv.URL,
				DeviceAuthorizationEndpoint: srv.URL + "/oauth2/device_authorization",
				TokenEndpoint:               srv.URL + "/oauth2/token",
				JWKSURI:                     srv.URL + "/oauth2/jwks",
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("metadata (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDiscoverUnreachable(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	issuer := srv.URL
	srv.Close() // nothing listens there any more
	_, err := discover(t.Context(), http.DefaultClient, issuer)
	want := "cannot reach " + issuer + ": is `latchkey serve` running?"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("err = %v, want one starting %q", err, want)
	}
}

// jwt returns a token with the given payload and a dummy header and signature.
func jwt(payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"ES256","typ":"at+jwt"}`)) + "." + enc([]byte(payload)) + ".c2lnbmF0dXJl"
}

func TestDecodeClaims(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		token   string
		want    string
		wantMsg string
	}{
		{
			name:  "keeps the server's order and exact numbers",
			token: jwt(`{"sub":"u_1","iss":"http://127.0.0.1:8080","exp":1767225600,"big":12345678901234567890}`),
			want:  "{\n  \"sub\": \"u_1\",\n  \"iss\": \"http://127.0.0.1:8080\",\n  \"exp\": 1767225600,\n  \"big\": 12345678901234567890\n}",
		},
		{
			name:  "padded base64url",
			token: "e30." + base64.URLEncoding.EncodeToString([]byte(`{"a":"b?>"}`)) + ".sig",
			want:  "{\n  \"a\": \"b?>\"\n}",
		},
		{name: "opaque", token: "lk_at_abcdef", wantMsg: "not a JWT (1 dot-separated parts"},
		{name: "JWE has five parts", token: "a.b.c.d.e", wantMsg: "not a JWT (5"},
		{name: "not base64url", token: "e30.!!!.sig", wantMsg: "not base64url"},
		{name: "payload not an object", token: jwt(`["sub"]`), wantMsg: "not a JSON object"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeClaims(tt.token)
			if tt.wantMsg != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantMsg) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("decodeClaims = %s, want %s", got, tt.want)
			}
		})
	}
}

// retrieveError is what x/oauth2 returns for an OAuth error response.
func retrieveError(status int, code, description string) *oauth2.RetrieveError {
	return &oauth2.RetrieveError{
		Response:         &http.Response{StatusCode: status, Status: fmt.Sprintf("%d %s", status, http.StatusText(status))},
		ErrorCode:        code,
		ErrorDescription: description,
	}
}

func TestExplainOAuthError(t *testing.T) {
	t.Parallel()
	transport := errors.New("dial tcp 127.0.0.1:8080: connection refused")
	limited := retrieveError(429, "slow_down", "too many requests from this address; try again later")
	limited.Response.Header = http.Header{"Retry-After": {"30"}}
	for _, tt := range []struct {
		name       string
		err        error
		secretFile string
		want       string
	}{
		{"denied", retrieveError(400, "access_denied", "the user said no"), "", "The request was denied."},
		{"expired", retrieveError(400, "expired_token", ""), "", "The code expired before it was approved; run device-login again."},
		{"other code with description", retrieveError(400, "invalid_scope", "unknown scope: admin"), "",
			"device authorization failed: invalid_scope: unknown scope: admin"},
		{"other code without description", retrieveError(400, "unsupported_grant_type", ""), "",
			"device authorization failed: unsupported_grant_type"},
		{"invalid_client without a secret", retrieveError(401, "invalid_client", "client authentication failed"), "",
			`the server refused client "tv" (invalid_client): it is unknown, or it is a confidential client and needs --client-secret-file`},
		{"invalid_client with a secret", retrieveError(401, "invalid_client", "client authentication failed"), "/run/secrets/tv",
			`the server refused client "tv" with the secret in /run/secrets/tv (invalid_client): the client is unknown, ` +
				`the secret is not its own, or it is a public client and needs no --client-secret-file`},
		{"invalid_client, the secret sent the wrong way", retrieveError(401, "invalid_client",
			"client tv is registered for client_secret_post: send its secret as client_secret in the body, not the Authorization header"), "/run/secrets/tv",
			`the server refused client "tv": it is registered for client_secret_post; run device-login with --auth-method client_secret_post`},
		{"no error code", retrieveError(502, "", ""), "",
			"device authorization failed: the server answered 502 Bad Gateway without an OAuth error code"},
		{"transport", transport, "", "device authorization: dial tcp 127.0.0.1:8080: connection refused"},
		{"a limit, with Retry-After", limited, "", "device authorization failed: slow_down: too many requests from this address; try again in 30 s"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := explainOAuthError("device authorization", tt.err, "tv", tt.secretFile)
			if got.Error() != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if !errors.Is(got, tt.err) {
				t.Errorf("%v does not wrap %v", got, tt.err)
			}
		})
	}
}

func TestExplainPollError(t *testing.T) {
	t.Parallel()
	gaveUp := &loginError{Msg: "Gave up waiting for approval after 2m0s (--timeout).", Err: context.DeadlineExceeded}
	for _, tt := range []struct {
		name  string
		err   error
		cause error
		want  string
	}{
		{"denied", retrieveError(400, "access_denied", ""), nil, "The request was denied."},
		{"expired at the server", retrieveError(400, "expired_token", ""), nil,
			"The code expired before it was approved; run device-login again."},
		{"expired at x/oauth2's deadline", context.DeadlineExceeded, nil,
			"The code expired before it was approved; run device-login again."},
		{"expired during a request", fmt.Errorf("Post \"http://x/token\": %w", context.DeadlineExceeded), nil,
			"The code expired before it was approved; run device-login again."},
		{"--timeout", context.DeadlineExceeded, gaveUp, "Gave up waiting for approval after 2m0s (--timeout)."},
		{"interrupted", context.Canceled, context.Canceled, "stopped waiting for approval: context canceled"},
		{"other", retrieveError(400, "invalid_grant", "device_code already used"), nil,
			"token request failed: invalid_grant: device_code already used"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := explainPollError(tt.err, tt.cause, "tv", ""); got.Error() != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRedactTokenResponse(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		body    string
		want    string
		wantErr bool
	}{
		{
			name: "refresh token replaced, access token kept",
			body: `{"access_token":"eyJ.a.b","token_type":"Bearer","expires_in":3600,"refresh_token":"lk_rt_secret","scope":"openid"}`,
			want: "{\n  \"access_token\": \"eyJ.a.b\",\n  \"expires_in\": 3600,\n  \"refresh_token\": \"REDACTED\",\n  \"scope\": \"openid\",\n  \"token_type\": \"Bearer\"\n}\n",
		},
		{
			name: "no refresh token",
			body: `{"access_token":"x","token_type":"Bearer"}`,
			want: "{\n  \"access_token\": \"x\",\n  \"token_type\": \"Bearer\"\n}\n",
		},
		{name: "not captured", body: ``, wantErr: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := redactTokenResponse([]byte(tt.body))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if string(got) != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
			if strings.Contains(string(got), "lk_rt_") {
				t.Errorf("the refresh token is printed: %s", got)
			}
		})
	}
}

func TestNewSummary(t *testing.T) {
	t.Parallel()
	expiry := time.Date(2026, 5, 1, 13, 0, 0, 0, time.UTC)
	tok := (&oauth2.Token{
		AccessToken:  jwt(`{"sub":"u_1"}`),
		TokenType:    "bearer",
		RefreshToken: "lk_rt_secret",
		Expiry:       expiry,
	}).WithExtra(map[string]any{"scope": "openid email", "id_token": jwt(`{"email":"dev@example.com"}`)})

	got := newSummary(tok, []string{"openid", "email", "profile"}, "http://i/jwks")
	want := summary{
		TokenType:      "Bearer",
		Scope:          "openid email",
		RequestedScope: "openid email profile",
		Expiry:         expiry,
		Refresh:        true,
		Access:         claims{Token: tok.AccessToken, JSON: []byte("{\n  \"sub\": \"u_1\"\n}")},
		ID:             claims{Token: tok.Extra("id_token").(string), JSON: []byte("{\n  \"email\": \"dev@example.com\"\n}")},
		JWKSURI:        "http://i/jwks",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
}

func TestWriteSummary(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	cest := time.FixedZone("CEST", 2*60*60)
	for _, tt := range []struct {
		name string
		s    summary
		want string
	}{
		{
			name: "everything",
			s: summary{
				TokenType:      "Bearer",
				Scope:          "openid email offline_access",
				RequestedScope: "openid profile email offline_access",
				Expiry:         now.Add(time.Hour),
				Refresh:        true,
				Access:         claims{Token: "a.b.c", JSON: []byte("{\n  \"sub\": \"u_1\"\n}")},
				ID:             claims{Token: "d.e.f", JSON: []byte("{\n  \"email\": \"dev@example.com\"\n}")},
				JWKSURI:        "http://127.0.0.1:8080/oauth2/jwks",
			},
			want: `Signed in.

  token type:     Bearer
  scopes:         openid email offline_access
  expires at:     2026-05-01 15:00:00 CEST (in 1h0m0s)
  refresh token:  issued (not shown)

Access token claims (not verified here; the server's JWKS at http://127.0.0.1:8080/oauth2/jwks verifies them):
{
  "sub": "u_1"
}

ID token claims (not verified here; the server's JWKS at http://127.0.0.1:8080/oauth2/jwks verifies them):
{
  "email": "dev@example.com"
}
`,
		},
		{
			name: "little",
			s: summary{
				TokenType:      "Bearer",
				RequestedScope: "profile",
				Access:         claims{Token: "lk_at_x", Err: errors.New("not a JWT (1 dot-separated parts, want 3)")},
			},
			want: `Signed in.

  token type:     Bearer
  scopes:         profile (not in the response: as requested)
  expires at:     not stated
  refresh token:  not issued

Access token claims: cannot decode: not a JWT (1 dot-separated parts, want 3)

ID token: none issued
`,
		},
		{
			name: "already expired",
			s: summary{
				TokenType: "Bearer", Scope: "openid", Expiry: now.Add(-90 * time.Second),
				Access: claims{Token: "a.b.c", JSON: []byte("{}")}, ID: claims{Token: "d.e.f", JSON: []byte("{}")},
			},
			want: `Signed in.

  token type:     Bearer
  scopes:         openid
  expires at:     2026-05-01 13:58:30 CEST (1m30s ago)
  refresh token:  not issued

Access token claims (not verified here; the server's JWKS verifies them):
{}

ID token claims (not verified here; the server's JWKS verifies them):
{}
`,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := writeSummary(&buf, tt.s, now, cest); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, buf.String()); diff != "" {
				t.Errorf("summary (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWritePrompt(t *testing.T) {
	t.Parallel()
	da := &oauth2.DeviceAuthResponse{
		UserCode:                "WDJB-MJHT",
		VerificationURI:         "http://127.0.0.1:8080/device",
		VerificationURIComplete: "http://127.0.0.1:8080/device?user_code=WDJB-MJHT",
	}
	head := "To sign in, open http://127.0.0.1:8080/device and enter the code\n\n    WDJB-MJHT\n\n"
	for _, tt := range []struct {
		name   string
		da     *oauth2.DeviceAuthResponse
		qr     bool
		want   string // the output without the QR code's lines
		wantQR bool
	}{
		{
			name:   "QR code",
			da:     da,
			qr:     true,
			want:   head + "Or scan this QR code:\n\n\nhttp://127.0.0.1:8080/device?user_code=WDJB-MJHT\n\n",
			wantQR: true,
		},
		{
			name: "--no-qr",
			da:   da,
			want: head + "Or open this link, which fills in the code:\n\n    http://127.0.0.1:8080/device?user_code=WDJB-MJHT\n\n",
		},
		{
			name: "no verification_uri_complete",
			da:   &oauth2.DeviceAuthResponse{UserCode: da.UserCode, VerificationURI: da.VerificationURI},
			qr:   true,
			want: head,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := writePrompt(&buf, tt.da, tt.qr); err != nil {
				t.Fatal(err)
			}
			var text, qr []string
			for _, line := range strings.SplitAfter(buf.String(), "\n") {
				if strings.ContainsAny(line, "▀▄█") {
					qr = append(qr, line)
				} else {
					text = append(text, line)
				}
			}
			if diff := cmp.Diff(tt.want, strings.Join(text, "")); diff != "" {
				t.Errorf("prompt without the QR code (-want +got):\n%s", diff)
			}
			if gotQR := len(qr) > 0; gotQR != tt.wantQR {
				t.Errorf("QR code drawn: %v, want %v", gotQR, tt.wantQR)
			}
		})
	}
}

func TestWaitingLine(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name   string
		expiry time.Time
		want   string
	}{
		{"just issued", now.Add(10*time.Minute - 300*time.Millisecond), "Waiting for approval (code expires in 9m59s)…"},
		{"no expires_in", time.Time{}, "Waiting for approval…"},
		{"already past", now.Add(-time.Second), "Waiting for approval (code expires in 0s)…"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := waitingLine(tt.expiry, now); got != tt.want {
				t.Errorf("waitingLine = %q, want %q", got, tt.want)
			}
		})
	}
}

// roundTripFunc lets a function stand in for the network under pollTransport.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestPollTransport(t *testing.T) {
	t.Parallel()
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("body of " + r.URL.Path))}, nil
	})
	var progress bytes.Buffer
	pt := &pollTransport{base: base, tokenURL: "http://i/oauth2/token", progress: &progress}
	client := &http.Client{Transport: pt}
	for _, u := range []string{"http://i/oauth2/device_authorization", "http://i/oauth2/token", "http://i/oauth2/token"} {
		resp, err := client.Post(u, "application/x-www-form-urlencoded", strings.NewReader("x=1"))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := "body of " + strings.TrimPrefix(u, "http://i"); string(got) != want {
			t.Errorf("body = %q, want %q: the transport must pass the body on", got, want)
		}
	}
	if got, want := progress.String(), ".."; got != want {
		t.Errorf("progress = %q, want %q (a dot per token request)", got, want)
	}
	if got, want := string(pt.body), "body of /oauth2/token"; got != want {
		t.Errorf("captured body = %q, want %q", got, want)
	}
}
