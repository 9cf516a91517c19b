package dpop

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Prover makes a proof for one request: its method and URL (without query
// and fragment), the server's nonce ("" for none) and ath, the access
// token's hash ("" for none).
type Prover func(htm, htu, nonce, ath string) (string, error)

// Transport is the client side: it adds a fresh proof to every request
// (RFC 9449 §4), computes ath for a request that carries "Authorization:
// DPoP <token>" (§7.1), keeps the last nonce the server sent, and retries
// once when the server answers use_dpop_nonce (§8). Used with
// golang.org/x/oauth2 (as its HTTP client's transport) it makes the device
// flow, refreshes and client credentials DPoP-bound.
type Transport struct {
	Base  http.RoundTripper // http.DefaultTransport when nil
	Prove Prover

	mu    sync.Mutex
	nonce string
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		var err error
		if body, err = io.ReadAll(r.Body); err != nil {
			return nil, err
		}
		r.Body.Close()
	}
	for attempt := 0; ; attempt++ {
		resp, err := t.send(r, body)
		if err != nil || attempt > 0 || !t.wantsNonce(resp) {
			return resp, err
		}
		resp.Body.Close()
	}
}

func (t *Transport) send(r *http.Request, body []byte) (*http.Response, error) {
	ath := ""
	if scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "DPoP") {
		sum := sha256.Sum256([]byte(token))
		ath = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	u := *r.URL
	u.RawQuery, u.Fragment = "", ""
	t.mu.Lock()
	nonce := t.nonce
	t.mu.Unlock()
	proof, err := t.Prove(r.Method, u.String(), nonce, ath)
	if err != nil {
		return nil, err
	}
	req := r.Clone(r.Context())
	req.Header.Set(Header, proof)
	if body != nil {
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.ContentLength = int64(len(body))
	}
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if n := resp.Header.Get(NonceHeader); n != "" {
		t.mu.Lock()
		t.nonce = n
		t.mu.Unlock()
	}
	return resp, nil
}

// wantsNonce reports whether resp asks for a proof with the nonce it
// carries: 400 use_dpop_nonce at the token endpoint, 401 with
// error="use_dpop_nonce" at a resource (RFC 9449 §8, §9). The body stays
// readable.
func (t *Transport) wantsNonce(resp *http.Response) bool {
	if resp.Header.Get(NonceHeader) == "" {
		return false
	}
	if resp.StatusCode == http.StatusUnauthorized {
		return strings.Contains(resp.Header.Get("WWW-Authenticate"), UseNonce)
	}
	if resp.StatusCode != http.StatusBadRequest {
		return false
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	var e struct {
		Error string `json:"error"`
	}
	return err == nil && json.Unmarshal(b, &e) == nil && e.Error == UseNonce
}

// ES256Prover makes proofs with an ECDSA P-256 key, signed with the
// standard library: what latchkey device-login --dpop and latchkey-bench
// use. rand and now may be nil for crypto/rand and time.Now.
func ES256Prover(key *ecdsa.PrivateKey, rand io.Reader, now func() time.Time) (Prover, error) {
	pub, err := key.PublicKey.Bytes()
	if err != nil || len(pub) != 65 {
		return nil, errors.New("dpop: want a P-256 key")
	}
	enc := base64.RawURLEncoding.EncodeToString
	header, err := json.Marshal(map[string]any{"typ": "dpop+jwt", "alg": "ES256",
		"jwk": map[string]string{"kty": "EC", "crv": "P-256", "x": enc(pub[1:33]), "y": enc(pub[33:])}})
	if err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	h := enc(header)
	return func(htm, htu, nonce, ath string) (string, error) {
		jti := make([]byte, 16)
		if _, err := io.ReadFull(randOrDefault(rand), jti); err != nil {
			return "", err
		}
		claims := map[string]any{"jti": enc(jti), "htm": htm, "htu": htu, "iat": now().Unix()}
		if nonce != "" {
			claims["nonce"] = nonce
		}
		if ath != "" {
			claims["ath"] = ath
		}
		cb, err := json.Marshal(claims)
		if err != nil {
			return "", err
		}
		signing := h + "." + enc(cb)
		digest := sha256.Sum256([]byte(signing))
		r, s, err := ecdsa.Sign(randOrDefault(rand), key, digest[:])
		if err != nil {
			return "", err
		}
		sig := append(r.FillBytes(make([]byte, 32)), s.FillBytes(make([]byte, 32))...)
		return signing + "." + enc(sig), nil
	}, nil
}

// Thumbprint is the RFC 7638 SHA-256 thumbprint of a P-256 public key,
// as a token's cnf.jkt names it.
func Thumbprint(key *ecdsa.PublicKey) (string, error) {
	pub, err := key.Bytes()
	if err != nil || len(pub) != 65 {
		return "", errors.New("dpop: want a P-256 key")
	}
	enc := base64.RawURLEncoding.EncodeToString
	sum := sha256.Sum256([]byte(`{"crv":"P-256","kty":"EC","x":"` + enc(pub[1:33]) + `","y":"` + enc(pub[33:]) + `"}`))
	return enc(sum[:]), nil
}
