package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/latchkey/latchkey/internal/dpop"
)

// scenario is one kind of request, measured against Latchkey and the baseline.
type scenario struct {
	name string
	what string // for BENCHMARKS.md
	// target is the least Latchkey/baseline throughput ratio the
	// performance issue asks for, by backend; absent: none.
	target map[string]float64
	// prepare runs against Latchkey once per backend, before the rounds. A
	// non-empty skip says why the scenario cannot be measured (yet).
	prepare func(ctx context.Context, b *bench) (skip string, err error)
	// jobs returns n workers' jobs against base; baseline says whether base
	// is the baseline, which answers everything with baselineBody.
	jobs func(b *bench, base string, baseline bool, n int) []job
}

const (
	deviceScope = "openid profile offline_access"
	// fastCodes is how many device codes the too-fast scenario hammers.
	fastCodes = 8
	// spareChains are extra refresh grants for workers whose chain breaks.
	spareChains = 8
)

var scenarios = []scenario{
	{
		name:    "client_credentials",
		what:    "a confidential client (client_secret_basic) asks for a JWT access token with grant_type=client_credentials",
		target:  map[string]float64{"sqlite": 0.40, "postgres": 0.30},
		prepare: probeClientCredentials,
		jobs: func(b *bench, base string, baseline bool, n int) []job {
			return repeat(n, func(int) job {
				return &formJob{url: base + "/oauth2/token", form: "grant_type=client_credentials",
					user: b.serviceID, pass: b.serviceSecret, check: pick(baseline, wantField(http.StatusOK, "access_token"))}
			})
		},
	},
	{
		name:   "device_authorization",
		what:   "a public client starts a device flow (POST /oauth2/device_authorization); each answer stores a new device code",
		target: map[string]float64{"sqlite": 0.30, "postgres": 0.20},
		jobs: func(b *bench, base string, baseline bool, n int) []job {
			form := url.Values{"client_id": {deviceClientID}, "scope": {deviceScope}}.Encode()
			return repeat(n, func(int) job {
				return &formJob{url: base + "/oauth2/device_authorization", form: form,
					check: pick(baseline, wantField(http.StatusOK, "device_code"))}
			})
		},
	},
	{
		name: "pending_poll",
		what: "public clients poll pending device codes, each code no sooner than its interval (5 s) after its last poll, " +
			"spread over --live-codes live codes; the right answer is 400 authorization_pending",
		target:  map[string]float64{"sqlite": 0.40, "postgres": 0.25},
		prepare: preparePendingCodes,
		jobs: func(b *bench, base string, baseline bool, n int) []job {
			return repeat(n, func(i int) job {
				return &pollJob{ring: b.pending, url: base + "/oauth2/token", pace: !baseline, cursor: i * 7919,
					check: pick(baseline, wantError("authorization_pending"))}
			})
		},
	},
	{
		name:    "slow_down",
		what:    fmt.Sprintf("public clients poll %d pending device codes with no pause; the right answer is 400 slow_down", fastCodes),
		prepare: prepareFastCodes,
		jobs: func(b *bench, base string, baseline bool, n int) []job {
			return repeat(n, func(i int) job {
				// The first poll of a code is on time: authorization_pending.
				return &pollJob{ring: b.fast, url: base + "/oauth2/token", cursor: i,
					check: pick(baseline, wantError("slow_down", "authorization_pending"))}
			})
		},
	},
	{
		name: "refresh",
		what: "refresh token rotation: each worker redeems its own grant's latest refresh token (public client) " +
			"and gets new access, ID and refresh tokens",
		target:  map[string]float64{"sqlite": 0.20, "postgres": 0.15},
		prepare: prepareRefreshChains,
		jobs: func(b *bench, base string, baseline bool, n int) []job {
			return repeat(n, func(i int) job {
				return &refreshJob{b: b, chain: b.chains[i], url: base + "/oauth2/token", baseline: baseline}
			})
		},
	},
	{
		name: "service_api_poll",
		what: "a front end hands its devices' polls to the service API (POST /api/auth/token, Basic service key, JSON " +
			"{parameters}), each code no sooner than its interval after its last poll, over pending_poll's live codes; " +
			"the right answer is 200, action BAD_REQUEST, authorization_pending in responseContent",
		prepare: preparePendingCodes,
		jobs: func(b *bench, base string, baseline bool, n int) []job {
			return repeat(n, func(i int) job {
				return &apiPollJob{pollJob: pollJob{ring: b.pending, url: base + "/api/auth/token", pace: !baseline, cursor: i * 7919,
					check: pick(baseline, wantAPIPending)}, key: b.apiKey, secret: b.apiSecret}
			})
		},
	},
	{
		name: "client_credentials_dpop",
		what: "client_credentials with a DPoP proof (ES256, signed by the benchmark per request, with the server's nonce): " +
			"a DPoP-bound access token (token_type DPoP, cnf.jkt); the proof's jti is counted in the store",
		prepare: func(ctx context.Context, b *bench) (string, error) {
			if skip, err := probeClientCredentials(ctx, b); skip != "" || err != nil {
				return skip, err
			}
			return prepareDPoP(ctx, b)
		},
		jobs: func(b *bench, base string, baseline bool, n int) []job {
			return repeat(n, func(int) job {
				return &formJob{url: base + "/oauth2/token", form: "grant_type=client_credentials",
					user: b.serviceID, pass: b.serviceSecret, proof: b.proofFor, check: pick(baseline, wantDPoP)}
			})
		},
	},
	{
		name: "refresh_dpop",
		what: "refresh with a DPoP proof as above: each worker rotates its own grant's latest refresh token " +
			"(public client) and gets DPoP-bound tokens",
		prepare: func(ctx context.Context, b *bench) (string, error) {
			if skip, err := prepareRefreshChains(ctx, b); skip != "" || err != nil {
				return skip, err
			}
			return prepareDPoP(ctx, b)
		},
		jobs: func(b *bench, base string, baseline bool, n int) []job {
			return repeat(n, func(i int) job {
				return &refreshJob{b: b, chain: b.chains[i], url: base + "/oauth2/token", baseline: baseline, proof: b.proofFor}
			})
		},
	},
	{
		name: "jwks",
		what: "GET /oauth2/jwks",
		jobs: func(b *bench, base string, baseline bool, n int) []job {
			return repeat(n, func(int) job {
				return &getJob{url: base + "/oauth2/jwks", check: pick(baseline, wantField(http.StatusOK, "keys"))}
			})
		},
	},
	{
		name: "discovery",
		what: "GET /.well-known/openid-configuration",
		jobs: func(b *bench, base string, baseline bool, n int) []job {
			return repeat(n, func(int) job {
				return &getJob{url: base + "/.well-known/openid-configuration", check: pick(baseline, wantField(http.StatusOK, "issuer"))}
			})
		},
	},
}

func scenarioNames() []string {
	var names []string
	for _, s := range scenarios {
		names = append(names, s.name)
	}
	return names
}

func repeat(n int, f func(i int) job) []job {
	jobs := make([]job, n)
	for i := range jobs {
		jobs[i] = f(i)
	}
	return jobs
}

// judgeFunc says how to count an answer and whether it is right. Status 0
// means the request failed in transport.
type judgeFunc func(status int, body []byte) (label string, ok bool)

const transportError = "transport error"

// pick returns the baseline's judge when baseline is set, else latchkey.
func pick(baseline bool, latchkey judgeFunc) judgeFunc {
	if baseline {
		return judgeBaseline
	}
	return latchkey
}

func judgeBaseline(status int, body []byte) (string, bool) {
	if status == 0 {
		return transportError, false
	}
	return answerLabel(status, body), status == http.StatusOK && bytes.Equal(body, baselineBody)
}

// wantField accepts status with a JSON body that has member name.
func wantField(status int, name string) judgeFunc {
	member := []byte(`"` + name + `":`)
	return func(got int, body []byte) (string, bool) {
		if got == 0 {
			return transportError, false
		}
		return answerLabel(got, body), got == status && bytes.Contains(body, member)
	}
}

// wantError accepts a 400 OAuth error response with one of codes.
func wantError(codes ...string) judgeFunc {
	return func(status int, body []byte) (string, bool) {
		if status == 0 {
			return transportError, false
		}
		code := jsonString(body, "error")
		for _, c := range codes {
			if status == http.StatusBadRequest && code == c {
				return answerLabel(status, body), true
			}
		}
		return answerLabel(status, body), false
	}
}

// answerLabel names an answer by its status and OAuth error code, if any.
func answerLabel(status int, body []byte) string {
	if code := jsonString(body, "error"); code != "" {
		return strconv.Itoa(status) + " " + code
	}
	return strconv.Itoa(status)
}

// jsonString finds a top-level string member of the compact JSON our
// servers write, without decoding the whole body: the load generator
// shares the CPU with the server it measures.
func jsonString(body []byte, name string) string {
	key := []byte(`"` + name + `":"`)
	i := bytes.Index(body, key)
	if i < 0 {
		return ""
	}
	rest := body[i+len(key):]
	end := bytes.IndexByte(rest, '"')
	if end < 0 {
		return ""
	}
	return string(rest[:end])
}

func postForm(ctx context.Context, u, form string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req, nil
}

// formJob posts the same form every time.
type formJob struct {
	url, form  string
	user, pass string // HTTP Basic client credentials, if user is set
	check      judgeFunc
	proof      func(htu string) (string, error) // a DPoP proof for each request, if set
}

func (j *formJob) next(ctx context.Context) (*http.Request, error) {
	req, err := postForm(ctx, j.url, j.form)
	if err != nil {
		return nil, err
	}
	if j.user != "" {
		// RFC 6749 §2.3.1: the credentials are form-encoded before Basic.
		req.SetBasicAuth(url.QueryEscape(j.user), url.QueryEscape(j.pass))
	}
	return withProof(req, j.proof)
}

// withProof adds a DPoP proof for req when proof is set.
func withProof(req *http.Request, proof func(htu string) (string, error)) (*http.Request, error) {
	if proof == nil {
		return req, nil
	}
	p, err := proof(req.URL.String())
	if err != nil {
		return nil, err
	}
	req.Header.Set(dpop.Header, p)
	return req, nil
}

// wantDPoP is right for a DPoP-bound token response.
func wantDPoP(status int, body []byte) (string, bool) {
	label := answerLabel(status, body)
	if status == http.StatusOK && jsonString(body, "token_type") != "DPoP" {
		return label + " not DPoP-bound", false
	}
	return label, status == http.StatusOK
}

func (j *formJob) judge(status int, body []byte) (string, bool) { return j.check(status, body) }

// getJob gets the same URL every time.
type getJob struct {
	url   string
	check judgeFunc
}

func (j *getJob) next(ctx context.Context) (*http.Request, error) {
	return http.NewRequestWithContext(ctx, http.MethodGet, j.url, nil)
}

func (j *getJob) judge(status int, body []byte) (string, bool) { return j.check(status, body) }

// codeRing is a set of device codes that workers poll in turn, each code
// no sooner than interval after the answer to its previous poll.
type codeRing struct {
	codes    []string
	forms    []string // the token request for each code
	interval time.Duration
	ready    []atomic.Int64 // when each code may be polled again, in Unix nanoseconds; inFlight while polled
	turn     atomic.Uint64
}

const inFlight = math.MaxInt64

func newCodeRing(codes []string, interval time.Duration) *codeRing {
	r := &codeRing{codes: codes, interval: interval, ready: make([]atomic.Int64, len(codes))}
	for _, c := range codes {
		r.forms = append(r.forms, url.Values{
			"grant_type": {grantDeviceCode}, "device_code": {c}, "client_id": {deviceClientID},
		}.Encode())
	}
	return r
}

// take returns the next code's index, waiting until it may be polled.
func (r *codeRing) take(ctx context.Context) (int, error) {
	i := int(r.turn.Add(1)-1) % len(r.codes)
	for {
		t := r.ready[i].Load()
		if t == inFlight {
			// Another worker still waits for this code's answer: the
			// ring came round faster than one poll. Rare with
			// live codes well above the worker count.
			t = time.Now().Add(time.Millisecond).UnixNano()
		} else if wait := time.Until(time.Unix(0, t)); wait <= 0 {
			if r.ready[i].CompareAndSwap(t, inFlight) {
				return i, nil
			}
			continue
		}
		sleep(ctx, time.Until(time.Unix(0, t)))
		if err := ctx.Err(); err != nil {
			return 0, err
		}
	}
}

// done records that code i was answered now.
func (r *codeRing) done(i int) {
	r.ready[i].Store(time.Now().Add(r.interval).UnixNano())
}

// pollJob polls the codes of a ring for a device access token. With pace it
// keeps to each code's interval, as RFC 8628 §3.5 asks of a client; without
// it (the baseline, or the too-fast scenario) it takes the codes in turn.
type pollJob struct {
	ring   *codeRing
	url    string
	pace   bool
	cursor int // the next code when not pacing
	taken  int // the code polled by the request in flight
	check  judgeFunc
}

func (j *pollJob) next(ctx context.Context) (*http.Request, error) {
	if j.pace {
		i, err := j.ring.take(ctx)
		if err != nil {
			return nil, err
		}
		j.taken = i
	} else {
		j.taken = j.cursor % len(j.ring.codes)
		j.cursor++
	}
	return postForm(ctx, j.url, j.ring.forms[j.taken])
}

func (j *pollJob) judge(status int, body []byte) (string, bool) {
	if j.pace {
		j.ring.done(j.taken)
	}
	return j.check(status, body)
}

// apiPollJob is a pollJob through the service API: the device's token
// request goes as the parameters of /api/auth/token, by a front end
// holding a service key.
type apiPollJob struct {
	pollJob
	key, secret string
}

func (j *apiPollJob) next(ctx context.Context) (*http.Request, error) {
	req, err := j.pollJob.next(ctx)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(map[string]string{"parameters": j.ring.forms[j.taken]})
	if err != nil {
		return nil, err
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(j.key, j.secret)
	return req, nil
}

// wantAPIPending accepts the service API's answer to a pending poll.
func wantAPIPending(status int, body []byte) (string, bool) {
	if status == 0 {
		return transportError, false
	}
	action := jsonString(body, "action")
	label := strconv.Itoa(status) + " " + action
	return label, status == http.StatusOK && action == "BAD_REQUEST" && bytes.Contains(body, []byte("authorization_pending"))
}

// chain is one grant's latest refresh token. Each rotation returns the
// next one; presenting an old one revokes the grant, so a chain belongs to
// one worker.
type chain struct {
	token string
}

// refreshJob rotates its worker's refresh token chain.
type refreshJob struct {
	b        *bench
	chain    *chain
	url      string
	baseline bool
	proof    func(htu string) (string, error) // a DPoP proof for each request, if set
}

func (j *refreshJob) next(ctx context.Context) (*http.Request, error) {
	if j.chain.token == "" && !j.baseline {
		// The chain broke (a lost answer made us present a used token,
		// which revoked the grant): continue on a spare grant, if any.
		select {
		case t := <-j.b.spares:
			j.chain.token = t
		default:
			return nil, errStop
		}
	}
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {j.chain.token}, "client_id": {deviceClientID}}.Encode()
	req, err := postForm(ctx, j.url, form)
	if err != nil {
		return nil, err
	}
	return withProof(req, j.proof)
}

func (j *refreshJob) judge(status int, body []byte) (string, bool) {
	if j.baseline {
		return judgeBaseline(status, body)
	}
	if status == 0 {
		return transportError, false
	}
	label := answerLabel(status, body)
	if status == http.StatusOK {
		if rt := jsonString(body, "refresh_token"); rt != "" {
			j.chain.token = rt
			return label, true
		}
		return label + " without refresh_token", false
	}
	if jsonString(body, "error") == "invalid_grant" {
		j.chain.token = ""
	}
	return label, false
}

// prepareDPoP makes the DPoP scenarios' key once, and asks Latchkey for
// its nonce with a first proof.
func prepareDPoP(ctx context.Context, b *bench) (string, error) {
	if b.prove == nil {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return "", err
		}
		if b.prove, err = dpop.ES256Prover(key, nil, nil); err != nil {
			return "", err
		}
	}
	u := b.latchkey.url + "/oauth2/token"
	p, err := b.prove("POST", u, "", "")
	if err != nil {
		return "", err
	}
	req, err := postForm(ctx, u, "grant_type=client_credentials")
	if err != nil {
		return "", err
	}
	req.SetBasicAuth(url.QueryEscape(b.serviceID), url.QueryEscape(b.serviceSecret))
	req.Header.Set(dpop.Header, p)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	if b.dpopNonce = resp.Header.Get(dpop.NonceHeader); b.dpopNonce == "" {
		return "", fmt.Errorf("dpop: no nonce from the token endpoint (status %d)", resp.StatusCode)
	}
	return "", nil
}

// proofFor is a fresh proof for a POST to htu, with the nonce.
func (b *bench) proofFor(htu string) (string, error) { return b.prove("POST", htu, b.dpopNonce, "") }
