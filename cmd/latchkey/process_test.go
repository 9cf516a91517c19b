package main

import (
	"bytes"
	"context"
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
	bin, _ := buildBinary()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	dl := exec.CommandContext(ctx, bin, "device-login", "--issuer", issuer, "--client-id", "latchkey-dev-device")
	out, errOut := &lockedBuffer{}, &lockedBuffer{}
	dl.Stdout, dl.Stderr = out, errOut
	dl.Env = append(os.Environ(), "LATCHKEY_CLIENT_SECRET_FILE=")
	if err := dl.Start(); err != nil {
		t.Fatal(err)
	}
	m := waitOutput(t, out, regexp.MustCompile(`\b([BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4})\b`), 20*time.Second)
	approveAsPerson(t, issuer, m[1], "dev@example.com", "dev-password")
	if err := dl.Wait(); err != nil {
		t.Fatalf("device-login: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errOut.String())
	}
	got := out.String()
	for _, want := range []string{`"sub": "dev-user"`, `"client_id": "latchkey-dev-device"`, `"email": "dev@example.com"`} {
		if !strings.Contains(got, want) {
			t.Errorf("device-login output lacks %s:\n%s", want, got)
		}
	}
	if strings.Contains(got, "lk_rt_") {
		t.Error("device-login printed the refresh token")
	}
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
