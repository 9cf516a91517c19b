package cli

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// defaultEndpoint is where `latchkey serve` listens unless told otherwise.
const defaultEndpoint = "http://127.0.0.1:8080"

// adminClient returns a client of the admin API at endpoint with token,
// each from the environment when empty.
func (e *Env) adminClient(endpoint, token string) (*adminClient, error) {
	endpoint = cmp.Or(endpoint, e.Getenv("LATCHKEY_ENDPOINT"), defaultEndpoint)
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("--endpoint %q: want the server's base URL, such as %s", endpoint, defaultEndpoint)
	}
	token = cmp.Or(token, e.Getenv("LATCHKEY_ADMIN_TOKEN"))
	if token == "" {
		return nil, errors.New("no admin token: set --token or LATCHKEY_ADMIN_TOKEN (it is admin_token in the configuration `latchkey init` wrote; `latchkey serve --dev` prints one)")
	}
	return &adminClient{base: strings.TrimSuffix(endpoint, "/"), token: token, http: e.http}, nil
}

// adminClient calls the admin API.
type adminClient struct {
	base  string // the endpoint, without a trailing slash
	token string
	http  *http.Client
}

// apiError is an error answer from the admin API.
type apiError struct {
	Status      int
	Code        string
	Description string
	RetryAfter  int // seconds, from a refusal's Retry-After (a limit's 429); 0 for none
}

func (e *apiError) Error() string {
	msg := fmt.Sprintf("the admin API answered %d %s", e.Status, http.StatusText(e.Status))
	if e.Description != "" {
		msg = e.Description
	} else if e.Code != "" {
		msg = e.Code
	}
	return tryAgain(msg, e.RetryAfter)
}

// maxAnswer bounds what we read of an answer.
const maxAnswer = 16 << 20

// do sends in (when not nil) as JSON to path and decodes the answer into
// out (when not nil). It returns the answer's body, for --json.
func (c *adminClient) do(ctx context.Context, method, path string, in, out any) ([]byte, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("cannot reach the admin API at %s: is `latchkey serve` running?", c.base)
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("cannot reach the admin API at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return nil, fmt.Errorf("read the admin API's answer: %w", err)
	}
	if resp.StatusCode == http.StatusUnauthorized {
		return nil, errors.New("the admin token was refused (set --token or LATCHKEY_ADMIN_TOKEN)")
	}
	if resp.StatusCode >= 300 {
		e := &apiError{Status: resp.StatusCode, RetryAfter: retryAfter(resp.Header, time.Now())}
		var eb struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		if json.Unmarshal(raw, &eb) == nil {
			e.Code, e.Description = eb.Error, eb.Description
		}
		return nil, e
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return nil, fmt.Errorf("the admin API's answer is not what this latchkey expects: %w", err)
		}
	}
	return raw, nil
}
