package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// User is a person of the front end's own user database.
type User struct {
	Password string
	Subject  string // what Latchkey's tokens call them: sub
	Name     string
	Email    string
}

// DemoUsers is the example's user database: one person.
var DemoUsers = map[string]User{
	"ann": {Password: "ann-password", Subject: "ann-0001", Name: "Ann Example", Email: "ann@front.example"},
}

// Config is what the front end needs.
type Config struct {
	API         string // Latchkey's service API base: ISSUER/api, or ISSUER/api/SERVICE_ID with Bearer
	Key, Secret string // the service key and secret (latchkey api-keys create)
	Bearer      bool   // Authlete 3.0: the secret as a Bearer token, instead of Basic
	Users       map[string]User
	Client      *http.Client // nil: one with a 10 s timeout
}

// FrontEnd is the front end's HTTP handler.
type FrontEnd struct {
	cfg      Config
	mux      *http.ServeMux
	csrfKey  []byte
	mu       sync.Mutex
	sessions map[string]string // session cookie → username
}

//go:embed templates/*.html
var templateFiles embed.FS

var pages = template.Must(template.ParseFS(templateFiles, "templates/*.html"))

// New builds the front end.
func New(cfg Config) (*FrontEnd, error) {
	if cfg.API == "" || cfg.Secret == "" || (!cfg.Bearer && cfg.Key == "") {
		return nil, errors.New("byo-frontend: the service API's address, key and secret are required (LATCHKEY_API_KEY, LATCHKEY_API_SECRET)")
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	fe := &FrontEnd{cfg: cfg, mux: http.NewServeMux(), csrfKey: make([]byte, 32), sessions: map[string]string{}}
	if _, err := rand.Read(fe.csrfKey); err != nil {
		return nil, err
	}
	fe.mux.HandleFunc("POST /device_authorization", fe.relay("device/authorization"))
	fe.mux.HandleFunc("POST /token", fe.relay("auth/token"))
	fe.mux.HandleFunc("GET /{$}", fe.home)
	fe.mux.HandleFunc("GET /login", fe.loginForm)
	fe.mux.HandleFunc("POST /login", fe.login)
	fe.mux.HandleFunc("GET /device", fe.device)
	fe.mux.HandleFunc("POST /device", fe.decide)
	return fe, nil
}

func (fe *FrontEnd) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	fe.mux.ServeHTTP(w, r)
}

// apiResult is what every service API answer carries, and the parts of
// them this front end reads.
type apiResult struct {
	ResultCode      string `json:"resultCode"`
	ResultMessage   string `json:"resultMessage"`
	Action          string `json:"action"`
	ResponseContent string `json:"responseContent"`
	ClientName      string `json:"clientName"`
	// Scopes are objects with a name in the device answers
	// (/device/authorization, /device/verification) and names in the
	// token ones, as Authlete's; this front end reads the first kind.
	Scopes json.RawMessage `json:"scopes"`
}

// call posts body to the service API's path and decodes the answer.
func (fe *FrontEnd) call(ctx context.Context, path string, body any) (*apiResult, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(fe.cfg.API, "/")+"/"+path, bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if fe.cfg.Bearer {
		req.Header.Set("Authorization", "Bearer "+fe.cfg.Secret)
	} else {
		req.SetBasicAuth(fe.cfg.Key, fe.cfg.Secret)
	}
	resp, err := fe.cfg.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var res apiResult
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&res); err != nil {
		return nil, fmt.Errorf("%s: %s: %w", path, resp.Status, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s: %s %s", path, resp.Status, res.ResultCode, res.ResultMessage)
	}
	return &res, nil
}

// relay serves the device authorization or token endpoint: the device's
// form body and Basic credentials go to the API as they came, and its
// responseContent goes back with the status its action calls for.
func (fe *FrontEnd) relay(path string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, `{"error":"invalid_request","error_description":"the body could not be read"}`)
			return
		}
		q := map[string]string{"parameters": string(body)}
		if id, secret, ok := r.BasicAuth(); ok {
			q["clientId"], q["clientSecret"] = id, secret
		}
		res, err := fe.call(r.Context(), path, q)
		if err != nil {
			log.Printf("byo-frontend: %s: %v", path, err)
			writeJSON(w, http.StatusInternalServerError, `{"error":"server_error"}`)
			return
		}
		status := map[string]int{"OK": 200, "BAD_REQUEST": 400, "UNAUTHORIZED": 401, "INVALID_CLIENT": 401}[res.Action]
		if status == 0 {
			writeJSON(w, http.StatusInternalServerError, `{"error":"server_error"}`)
			return
		}
		if status == 401 {
			w.Header().Set("WWW-Authenticate", `Basic realm="byo-frontend"`)
		}
		writeJSON(w, status, res.ResponseContent)
	}
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// page is what the templates show.
type page struct {
	Title      string
	User       *User
	Error      string
	Return     string
	UserCode   string
	ClientName string
	Scopes     []string
	CSRF       string
	Done       string
}

func render(w http.ResponseWriter, status int, name string, p *page) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = pages.ExecuteTemplate(w, name, p)
}

func (fe *FrontEnd) home(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, "/device", http.StatusSeeOther)
}

const sessionCookie = "byo_session"

// user is the signed-in person of r, with their session id.
func (fe *FrontEnd) user(r *http.Request) (*User, string) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil, ""
	}
	fe.mu.Lock()
	name, ok := fe.sessions[c.Value]
	fe.mu.Unlock()
	if !ok {
		return nil, ""
	}
	u := fe.cfg.Users[name]
	return &u, c.Value
}

func (fe *FrontEnd) loginForm(w http.ResponseWriter, r *http.Request) {
	render(w, http.StatusOK, "login.html", &page{Title: "Sign in", Return: safeReturn(r.URL.Query().Get("return"))})
}

func (fe *FrontEnd) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	name, password := r.PostFormValue("username"), r.PostFormValue("password")
	ret := safeReturn(r.PostFormValue("return"))
	u, ok := fe.cfg.Users[name]
	if !ok || subtle.ConstantTimeCompare([]byte(u.Password), []byte(password)) != 1 {
		render(w, http.StatusUnauthorized, "login.html", &page{Title: "Sign in", Return: ret, Error: "That user name and password do not match."})
		return
	}
	var b [32]byte
	_, _ = rand.Read(b[:])
	sid := base64.RawURLEncoding.EncodeToString(b[:])
	fe.mu.Lock()
	fe.sessions[sid] = name
	fe.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: sid, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: r.TLS != nil})
	http.Redirect(w, r, ret, http.StatusSeeOther)
}

// safeReturn keeps a return address on this site.
func safeReturn(s string) string {
	if !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || strings.HasPrefix(s, "/\\") {
		return "/device"
	}
	return s
}

func (fe *FrontEnd) csrf(sid string) string {
	m := hmac.New(sha256.New, fe.csrfKey)
	m.Write([]byte(sid))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// device is the verification page (RFC 8628 §3.3): sign in first, then
// the code (typed, or from verification_uri_complete), then what asks,
// with Allow and Deny.
func (fe *FrontEnd) device(w http.ResponseWriter, r *http.Request) {
	u, sid := fe.user(r)
	if u == nil {
		http.Redirect(w, r, "/login?return="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	p := &page{Title: "Connect a device", User: u, CSRF: fe.csrf(sid)}
	code := strings.TrimSpace(r.URL.Query().Get("user_code"))
	if code == "" {
		render(w, http.StatusOK, "device.html", p)
		return
	}
	p.UserCode = code
	res, err := fe.call(r.Context(), "device/verification", map[string]string{"userCode": code})
	switch {
	case err != nil:
		p.Error = "Something went wrong on our side. Please try again in a minute."
	case res.Action == "VALID":
		p.ClientName = res.ClientName
		var scopes []struct {
			Name string `json:"name"`
		}
		_ = json.Unmarshal(res.Scopes, &scopes)
		for _, s := range scopes {
			p.Scopes = append(p.Scopes, s.Name)
		}
		render(w, http.StatusOK, "confirm.html", p)
		return
	case res.Action == "EXPIRED":
		p.Error = "That code has expired. Start again on your device to get a new one."
	default:
		p.Error = "That code is not valid, or was already used. Check the code your device shows."
	}
	render(w, http.StatusOK, "device.html", p)
}

// decide reports the person's decision with /device/complete.
func (fe *FrontEnd) decide(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	u, sid := fe.user(r)
	if u == nil {
		http.Redirect(w, r, "/login?return=/device", http.StatusSeeOther)
		return
	}
	p := &page{Title: "Connect a device", User: u, CSRF: fe.csrf(sid), UserCode: r.PostFormValue("user_code")}
	if !hmac.Equal([]byte(r.PostFormValue("csrf")), []byte(p.CSRF)) {
		p.Error = "This form has expired. Please enter the code again."
		render(w, http.StatusForbidden, "device.html", p)
		return
	}
	q := map[string]any{"userCode": p.UserCode, "subject": u.Subject}
	approve := r.PostFormValue("decision") == "allow"
	if approve {
		claims, _ := json.Marshal(map[string]any{"name": u.Name, "email": u.Email, "email_verified": true})
		q["result"], q["claims"], q["authTime"] = "AUTHORIZED", string(claims), time.Now().Unix()
	} else {
		q["result"], q["errorDescription"] = "ACCESS_DENIED", "the person declined on the front end"
	}
	res, err := fe.call(r.Context(), "device/complete", q)
	switch {
	case err != nil:
		p.Error = "Something went wrong on our side. Please try again in a minute."
	case res.Action == "SUCCESS" && approve:
		p.Done = "Your device is connected. You can go back to it now."
	case res.Action == "SUCCESS":
		p.Done = "You said no: the device was not connected."
	case res.Action == "USER_CODE_EXPIRED":
		p.Error = "That code has expired. Start again on your device to get a new one."
	default:
		p.Error = "That code is not valid, or was already used."
	}
	render(w, http.StatusOK, "device.html", p)
}
