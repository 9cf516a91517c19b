package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

// defaultEndpoint is where `latchkey serve` listens unless told otherwise.
const defaultEndpoint = "http://127.0.0.1:8080"

// adminCLI runs the subcommands that talk to the admin API. Its fields are
// the process's environment, replaced in tests.
type adminCLI struct {
	getenv         func(string) string
	stdin          io.Reader
	stdout, stderr io.Writer
	http           *http.Client
}

func newAdminCLI(stdout, stderr io.Writer) *adminCLI {
	return &adminCLI{
		getenv: os.Getenv,
		stdin:  os.Stdin,
		stdout: stdout,
		stderr: stderr,
		http:   &http.Client{Timeout: 30 * time.Second},
	}
}

// adminFlags are the flags every admin subcommand takes.
type adminFlags struct {
	endpoint string
	token    string
	json     bool
}

func (f *adminFlags) register(fs *flag.FlagSet) {
	// The defaults from the environment are applied after parsing, so that
	// -h never prints the token.
	fs.StringVar(&f.endpoint, "endpoint", "", "the server's base `URL` (default $LATCHKEY_ENDPOINT, else "+defaultEndpoint+")")
	fs.StringVar(&f.token, "token", "", "the admin `token` (default $LATCHKEY_ADMIN_TOKEN)")
	fs.BoolVar(&f.json, "json", false, "print the API's JSON instead of text")
}

// client returns an API client for the flags, filling in the environment.
func (c *adminCLI) client(f *adminFlags) (*adminClient, error) {
	endpoint := f.endpoint
	if endpoint == "" {
		endpoint = c.getenv("LATCHKEY_ENDPOINT")
	}
	if endpoint == "" {
		endpoint = defaultEndpoint
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("--endpoint %q: want the server's base URL, such as %s", endpoint, defaultEndpoint)
	}
	token := f.token
	if token == "" {
		token = c.getenv("LATCHKEY_ADMIN_TOKEN")
	}
	if token == "" {
		return nil, errors.New("no admin token: set --token or LATCHKEY_ADMIN_TOKEN (`latchkey serve --dev` prints it)")
	}
	return &adminClient{base: strings.TrimSuffix(endpoint, "/"), token: token, http: c.http}, nil
}

// parseArgs parses args with fs, allowing flags after the positional
// arguments too ("clients get ID --json"), and checks that there are as
// many positional arguments as names.
func parseArgs(fs *flag.FlagSet, args []string, names ...string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, errUsage
		}
		rest := fs.Args()
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			pos = append(pos, rest...) // after "--" everything is positional
			break
		}
		if len(rest) == 0 {
			break
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
	if len(pos) != len(names) {
		if len(names) == 0 {
			fmt.Fprintf(fs.Output(), "unexpected argument %q\n", pos[0])
		} else {
			fmt.Fprintf(fs.Output(), "want %s\n", strings.Join(names, " "))
		}
		fs.Usage()
		return nil, errUsage
	}
	return pos, nil
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
}

func (e *apiError) Error() string {
	if e.Description != "" {
		return e.Description
	}
	if e.Code != "" {
		return e.Code
	}
	return fmt.Sprintf("the admin API answered %d %s", e.Status, http.StatusText(e.Status))
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
		e := &apiError{Status: resp.StatusCode}
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

// printJSON writes an answer as indented JSON.
func printJSON(w io.Writer, raw []byte) error {
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return err
	}
	b.WriteByte('\n')
	_, err := w.Write(b.Bytes())
	return err
}

// printFields writes "key: value" lines with the values aligned.
func printFields(w io.Writer, fields [][2]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, f := range fields {
		fmt.Fprintf(tw, "%s:\t%s\n", f[0], f[1])
	}
	return tw.Flush()
}

// printTable writes a header and rows as aligned columns.
func printTable(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// orDash shows an empty value as "-".
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// splitList splits a comma-separated flag value; "" is the empty list.
func splitList(s string) []string {
	out := []string{}
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// readSecretLine reads a password given on standard input: everything up
// to the end, less the line ending a shell or echo adds.
func readSecretLine(r io.Reader) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r, 4096))
	if err != nil {
		return "", fmt.Errorf("read standard input: %w", err)
	}
	s := strings.TrimRight(string(b), "\r\n")
	if strings.ContainsAny(s, "\r\n") {
		return "", errors.New("standard input holds more than one line: give only the password")
	}
	return s, nil
}

// stdinTerminal returns standard input if it is a terminal.
func (c *adminCLI) stdinTerminal() (*os.File, bool) {
	f, ok := c.stdin.(*os.File)
	if !ok {
		return nil, false
	}
	fi, err := f.Stat()
	return f, err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// promptPassword asks twice on the terminal with echo off. It turns echo
// off with stty, which every Unix terminal has, rather than adding a module
// for it; where stty is missing it says to use --password-stdin.
func (c *adminCLI) promptPassword(tty *os.File) (string, error) {
	stty := func(arg string) error {
		cmd := exec.Command("stty", arg)
		cmd.Stdin = tty
		return cmd.Run()
	}
	if err := stty("-echo"); err != nil {
		return "", errors.New("cannot turn off echo to ask for the password: give it with --password-stdin")
	}
	defer func() {
		_ = stty("echo")
	}()
	in := bufio.NewReader(tty)
	ask := func(prompt string) (string, error) {
		fmt.Fprint(c.stderr, prompt)
		line, err := in.ReadString('\n')
		fmt.Fprintln(c.stderr)
		if err != nil && line == "" {
			return "", errors.New("no password given")
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	p1, err := ask("Password: ")
	if err != nil {
		return "", err
	}
	p2, err := ask("Password again: ")
	if err != nil {
		return "", err
	}
	if p1 != p2 {
		return "", errors.New("the two passwords differ")
	}
	return p1, nil
}

// dispatch runs the subcommand args[0] of group name.
func (c *adminCLI) dispatch(ctx context.Context, name, usage string, args []string, cmds map[string]func(context.Context, []string) error) error {
	if len(args) == 0 {
		fmt.Fprint(c.stderr, usage)
		return errUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(c.stdout, usage)
		return nil
	}
	if run, ok := cmds[args[0]]; ok {
		return run(ctx, args[1:])
	}
	fmt.Fprintf(c.stderr, "latchkey %s: unknown command %q\n\n%s", name, args[0], usage)
	return errUsage
}
