package cli

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/latchkey/latchkey/internal/config"
)

const healthcheckHelp = `
Asks the server on this machine whether it is alive (GET /healthz) or, with
--ready, whether it can serve (GET /readyz: the database answers and its
schema is current), and exits 0 if it says so, 1 if not. It reads the
listen address as serve does (--config or $LATCHKEY_CONFIG, then
$LATCHKEY_LISTEN, then --listen) and connects to loopback when the server
listens on every address.

It is the container image's HEALTHCHECK, where there is no curl or wget.

Examples:
  latchkey healthcheck
  latchkey healthcheck --ready --config /etc/latchkey/latchkey.yaml`

func runHealthcheck(ctx context.Context, e *Env, args []string) error {
	fs := e.newFlags("healthcheck", "healthcheck [--ready] [--config FILE] [--listen HOST:PORT]", healthcheckHelp)
	file := fs.String("config", "", "the YAML configuration `FILE` (default $LATCHKEY_CONFIG)")
	listen := fs.String("listen", "", "the server's `HOST:PORT` (default $LATCHKEY_LISTEN, else the configuration's, else 127.0.0.1:8080)")
	ready := fs.Bool("ready", false, "ask /readyz (the database answers, the schema is current) rather than /healthz (the process answers)")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this `DURATION`")
	if _, err := e.parse(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(cmp.Or(*file, e.Getenv("LATCHKEY_CONFIG")), e.Getenv)
	if err != nil {
		return err
	}
	if *listen != "" {
		cfg.Listen = *listen
	}
	path := "/healthz"
	if *ready {
		path = "/readyz"
	}
	url := localURL(cfg.Listen) + path
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("listen %q: %w", cfg.Listen, err)
	}
	// Straight to the server: no proxy from the environment, no redirects.
	c := &http.Client{
		Transport:     e.transport(&http.Transport{Proxy: nil}),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	fmt.Fprintf(e.Stdout, "GET %s: %s\n", url, resp.Status)
	return nil
}

// localURL is the base URL at which this machine reaches a server that
// listens on listen: an address that means every interface (0.0.0.0, ::,
// or none) is reached on loopback.
func localURL(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "http://" + listen
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
		if ip != nil && ip.To4() == nil {
			host = "::1"
		}
	}
	return "http://" + net.JoinHostPort(host, port)
}
