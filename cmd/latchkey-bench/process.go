package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// buildLatchkey builds the server into dir, as a release would be built.
func buildLatchkey(ctx context.Context, dir string, tags ...string) (string, error) {
	bin := filepath.Join(dir, "latchkey")
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", strings.Join(tags, ","), "-o", bin, "github.com/latchkey/latchkey/cmd/latchkey")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build ./cmd/latchkey (run latchkey-bench from the repository): %w\n%s", err, out)
	}
	return bin, nil
}

// proc is a server child process: Latchkey or the baseline.
type proc struct {
	name  string
	cmd   *exec.Cmd
	url   string
	log   *tail
	done  chan struct{} // closed when the process has exited
	err   error         // Wait's answer, once done is closed
	Ready time.Duration // from exec to the first 200 from /readyz
	pprof string        // Latchkey's profiler address (--pprof); empty: none
}

// startProc runs bin with args (which must make it listen on addr) and waits
// until GET /readyz answers 200.
func startProc(ctx context.Context, name, bin string, args []string, addr string) (*proc, error) {
	p := &proc{name: name, url: "http://" + addr, log: &tail{max: 64 << 10}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	// Settings come from the file we write; LATCHKEY_* variables would
	// override it, so the ones in our environment are blanked.
	p.cmd.Env = append(os.Environ(), "LATCHKEY_CONFIG=", "LATCHKEY_ISSUER=", "LATCHKEY_LISTEN=", "LATCHKEY_DB=",
		"LATCHKEY_ADMIN_TOKEN=", "LATCHKEY_LOG_FORMAT=", "LATCHKEY_LOG_LEVEL=")
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	start := time.Now()
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := client.Get(p.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				p.Ready = time.Since(start)
				client.CloseIdleConnections()
				return p, nil
			}
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("%s exited before it was ready: %v\n%s", name, p.err, p.log)
		case <-ctx.Done():
			p.stop()
			return nil, ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("%s not ready within a minute:\n%s", name, p.log)
		}
	}
}

// stop asks the process to shut down gracefully and kills it if it has not
// within 30 seconds.
func (p *proc) stop() error {
	select {
	case <-p.done:
		return p.err
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	var exit *exec.ExitError
	if errors.As(p.err, &exit) {
		return fmt.Errorf("%s: %w\n%s", p.name, p.err, p.log)
	}
	return p.err
}

// memory reads the resident set size now and at its peak, in bytes, from
// /proc/PID/status (VmRSS, VmHWM).
func (p *proc) memory() (rss, peak int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, 0, err
	}
	return statusKB(b, "VmRSS:") * 1024, statusKB(b, "VmHWM:") * 1024, nil
}

// statusKB reads a "Name:   1234 kB" line of /proc/PID/status.
func statusKB(status []byte, name string) int64 {
	for line := range strings.SplitSeq(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, name); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// freeAddr finds a loopback port nobody listens on.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// tail keeps the last max bytes a process wrote, for error messages.
type tail struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf.Write(p)
	if over := t.buf.Len() - t.max; over > 0 {
		t.buf.Next(over)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.buf.String()
}
