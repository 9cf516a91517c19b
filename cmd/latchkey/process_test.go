package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// buildBinary builds the latchkey command once per test binary.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "latchkey-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "latchkey")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", &buildError{out: string(out), err: err}
	}
	return bin, nil
})

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// lockedBuffer collects a process's output while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitOutput waits until re matches what out has collected.
func waitOutput(t *testing.T, out *lockedBuffer, re *regexp.Regexp, within time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			return m
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no %q in output within %s:\n%s", re, within, out.String())
	return nil
}

// startServe runs `latchkey serve --dev` as a real process in a fresh
// directory and waits for its banner.
func startServe(t *testing.T, extra ...string) (issuer string, proc *exec.Cmd, stdout, stderr *lockedBuffer, dir string) {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	addr := freeAddr(t)
	proc = exec.Command(bin, append([]string{"serve", "--dev", "--listen", addr}, extra...)...)
	proc.Dir = dir
	proc.Env = append(os.Environ(), "LATCHKEY_ADMIN_TOKEN=", "LATCHKEY_DB=", "LATCHKEY_CONFIG=")
	stdout, stderr = &lockedBuffer{}, &lockedBuffer{}
	proc.Stdout, proc.Stderr = stdout, stderr
	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if proc.ProcessState == nil {
			_ = proc.Process.Kill()
			_ = proc.Wait()
		}
	})
	waitOutput(t, stdout, regexp.MustCompile(`Admin token\s+\S+`), 20*time.Second)
	return "http://" + addr, proc, stdout, stderr, dir
}

// TestServeDev runs the first README command as an operator would: the
// database file appears, the banner says what to open, the server is
// ready, and SIGTERM stops it cleanly.
func TestServeDev(t *testing.T) {
	t.Parallel()
	issuer, proc, stdout, stderr, dir := startServe(t)
	banner := stdout.String()
	for _, want := range []string{issuer, "dev@example.com", "dev-password", "latchkey-dev-device", "latchkey-dev-web", "Web secret    lk_cs_"} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner lacks %q:\n%s", want, banner)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "latchkey.db")); err != nil {
		t.Errorf("no database file: %v", err)
	}
	resp, err := http.Get(issuer + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/readyz = %d", resp.StatusCode)
	}
	if err := proc.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- proc.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve exited with %v\n%s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop within 10s of SIGTERM")
	}
	if !strings.Contains(stderr.String(), "stopped") {
		t.Errorf("no clean-stop log line:\n%s", stderr.String())
	}
}

// TestDeviceLoginAgainstServe runs the README walkthrough with two real
// processes: `serve --dev`, and `device-login` as the device. The person's
// part goes through the real pages over HTTP (the browser tests in package
// server drive the same pages in Chromium).
func TestDeviceLoginAgainstServe(t *testing.T) {
	t.Parallel()
	issuer, _, _, _, _ := startServe(t)
	got, err := deviceLogin(t, issuer, "--issuer", issuer, "--client-id", "latchkey-dev-device")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"sub": "dev-user"`, `"client_id": "latchkey-dev-device"`, `"email": "dev@example.com"`} {
		if !strings.Contains(got, want) {
			t.Errorf("device-login output lacks %s:\n%s", want, got)
		}
	}
	if strings.Contains(got, "lk_rt_") {
		t.Error("device-login printed the refresh token")
	}
}

// TestDeviceLoginDPoP: `device-login --dpop` gets tokens bound to its key
// from `serve --dev`: token type DPoP, and the key's thumbprint in the
// access token's cnf.jkt.
func TestDeviceLoginDPoP(t *testing.T) {
	t.Parallel()
	issuer, _, _, _, _ := startServe(t)
	got, err := deviceLogin(t, issuer, "--issuer", issuer, "--client-id", "latchkey-dev-device", "--dpop", "--no-qr")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`DPoP key:\s+(\S+)`).FindStringSubmatch(got)
	if m == nil || !strings.Contains(got, "token type:     DPoP") || !strings.Contains(got, `"jkt": "`+m[1]+`"`) {
		t.Errorf("device-login --dpop output:\n%s", got)
	}
}

// TestDeviceLoginConfidential: `device-login` as a confidential device,
// against clients registered for each secret method through the admin API:
// --auth-method sends the secret the registered way at the device
// authorization and token endpoints, and the wrong way is refused with a
// message that names the flag to use.
func TestDeviceLoginConfidential(t *testing.T) {
	t.Parallel()
	issuer, _, stdout, _, dir := startServe(t)
	adminToken := waitOutput(t, stdout, regexp.MustCompile(`Admin token\s+(\S+)`), time.Second)[1]
	for _, method := range []string{"client_secret_basic", "client_secret_post"} {
		r := call(t, "POST", issuer+"/admin/v1/clients", strings.NewReader(`{"client_id":"box-`+method+`","client_name":"Set-top box",
			"token_endpoint_auth_method":"`+method+`","grant_types":["urn:ietf:params:oauth:grant-type:device_code"],"scope":"openid profile"}`),
			map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + adminToken})
		if r.Status != 201 {
			t.Fatalf("create client: %d %s", r.Status, r.Raw)
		}
		if err := os.WriteFile(filepath.Join(dir, method+".secret"), []byte(r.str("client_secret")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		client, flag string
		wantErr      string // "" : signs in
	}{
		{"box-client_secret_basic", "", ""}, // the default, client_secret_basic
		{"box-client_secret_post", "client_secret_post", ""},
		{"box-client_secret_post", "client_secret_basic", "it is registered for client_secret_post; run device-login with --auth-method client_secret_post"},
		{"box-client_secret_basic", "client_secret_post", "it is registered for client_secret_basic; run device-login with --auth-method client_secret_basic"},
	} {
		t.Run(tt.client+" "+tt.flag, func(t *testing.T) {
			args := []string{"device-login", "--issuer", issuer, "--client-id", tt.client, "--scope", "openid profile",
				"--client-secret-file", filepath.Join(dir, strings.TrimPrefix(tt.client, "box-")+".secret")}
			if tt.flag != "" {
				args = append(args, "--auth-method", tt.flag)
			}
			got, err := deviceLogin(t, issuer, args[1:]...)
			switch {
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("device-login = %v; want it to fail saying %q", err, tt.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			case !strings.Contains(got, `"client_id": "`+tt.client+`"`):
				t.Errorf("device-login output lacks the client's access token claims:\n%s", got)
			}
		})
	}
}

// deviceLogin runs `latchkey device-login args...` as the device, and
// approves the code it shows at issuer as the dev user. It returns what
// device-login printed, or an error with what it said on stderr.
func deviceLogin(t *testing.T, issuer string, args ...string) (string, error) {
	t.Helper()
	bin, _ := buildBinary()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	dl := exec.CommandContext(ctx, bin, append([]string{"device-login"}, args...)...)
	out, errOut := &lockedBuffer{}, &lockedBuffer{}
	dl.Stdout, dl.Stderr = out, errOut
	dl.Env = append(os.Environ(), "LATCHKEY_CLIENT_SECRET_FILE=")
	if err := dl.Start(); err != nil {
		t.Fatal(err)
	}
	code := regexp.MustCompile(`\b([BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4})\b`)
	exited := make(chan error, 1)
	go func() { exited <- dl.Wait() }()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-exited:
			return out.String(), fmt.Errorf("device-login exited before showing a code (%v):\n%s", err, errOut.String())
		default:
		}
		if m := code.FindStringSubmatch(out.String()); m != nil {
			approveAsPerson(t, issuer, m[1], "dev@example.com", "dev-password")
			if err := <-exited; err != nil {
				return out.String(), fmt.Errorf("device-login: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errOut.String())
			}
			return out.String(), nil
		}
	}
	t.Fatalf("device-login showed no code within 20s:\n%s%s", out.String(), errOut.String())
	return "", nil
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// approveAsPerson signs in on the pages and approves userCode, the way a
// browser submits the forms.
func approveAsPerson(t *testing.T, issuer, userCode, email, password string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	page := func(resp *http.Response, err error) (string, string) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d\n%s", resp.Request.URL, resp.StatusCode, b)
		}
		m := csrfField.FindStringSubmatch(string(b))
		if m == nil {
			t.Fatalf("%s: no csrf_token in\n%s", resp.Request.URL, b)
		}
		return string(b), m[1]
	}
	// The complete verification URI sends a signed-out person to sign in.
	_, csrf := page(c.Get(issuer + "/device?user_code=" + url.QueryEscape(userCode)))
	body, csrf := page(c.PostForm(issuer+"/login", url.Values{
		"username": {email}, "password": {password}, "csrf_token": {csrf},
		"return_to": {"/device?user_code=" + url.QueryEscape(userCode)},
	}))
	if !strings.Contains(body, `value="approve"`) {
		t.Fatalf("after sign-in, no approve button:\n%s", body)
	}
	body, _ = page(c.PostForm(issuer+"/device", url.Values{
		"user_code": {userCode}, "decision": {"approve"}, "csrf_token": {csrf},
	}))
	if !strings.Contains(strings.ToLower(body), "connected") {
		t.Fatalf("approval page:\n%s", body)
	}
}

// TestServePprof: --pprof serves the profiler on its own loopback listener,
// and never on the main one.
func TestServePprof(t *testing.T) {
	t.Parallel()
	prof := freeAddr(t)
	issuer, _, _, _, _ := startServe(t, "--pprof", prof)
	for _, tt := range []struct {
		url  string
		want int
	}{{"http://" + prof + "/debug/pprof/", 200}, {issuer + "/debug/pprof/", 404}} {
		resp, err := http.Get(tt.url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("GET %s = %d; want %d", tt.url, resp.StatusCode, tt.want)
		}
	}
}
