package cli

// latchkey device-enrol: what a device app does with an invitation. It
// accepts the invitation (PUT /client-group-invitations/accept), keeps the
// client credentials it gets in a file only its user can read, then gets
// an access token with the client credentials grant through
// golang.org/x/oauth2/clientcredentials and shows what the token says. Run
// again with the same --out and another invitation, it accepts as the
// existing device, with that device's own access token.

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

const deviceEnrolHelp = `
Accepts a device invitation as a device app would: a new device becomes an
OAuth client of the inviting organization, and its client_id and secret are
saved in --out (mode 0600; the secret is shown nowhere else). When --out
already holds credentials, the device accepts as that existing client and
joins the invitation's groups. Then it gets an access token with the client
credentials grant and prints its claims.

Examples:
  latchkey device-enrol --issuer http://127.0.0.1:8080 --link http://127.0.0.1:8080/invitations/lk_inv_…
  latchkey device-enrol --issuer https://id.example.com --token lk_inv_… --out /etc/sensor/credentials.json`

// deviceCredentials is what device-enrol keeps in --out.
type deviceCredentials struct {
	Issuer         string   `json:"issuer"`
	ClientID       string   `json:"client_id"`
	ClientSecret   string   `json:"client_secret"`
	OrganizationID string   `json:"organization_id"`
	ClientGroupIDs []string `json:"client_group_ids"`
}

type deviceEnrolOptions struct {
	issuer, token, out, name string
	scopes                   []string
	json                     bool
}

func (e *Env) parseDeviceEnrolFlags(args []string) (deviceEnrolOptions, error) {
	var o deviceEnrolOptions
	var link, scope string
	fset := e.newFlags("device-enrol", "device-enrol (--token TOKEN | --link URL) [flags]", deviceEnrolHelp)
	fset.StringVar(&o.issuer, "issuer", cmp.Or(e.Getenv("LATCHKEY_ISSUER"), defaultDeviceIssuer), "the server's issuer `URL` (env LATCHKEY_ISSUER)")
	fset.StringVar(&o.token, "token", "", "the invitation `TOKEN` (lk_inv_…)")
	fset.StringVar(&link, "link", "", "the invitation `LINK`: the email's, or the app link (…?token=…)")
	fset.StringVar(&o.out, "out", "latchkey-device.json", "the credentials `FILE`")
	fset.StringVar(&o.name, "name", "", "the device's `NAME`, if the invitation lets it choose")
	fset.StringVar(&scope, "scope", "", "space-separated `SCOPES` to ask for (default: all the device's groups grant)")
	fset.BoolVar(&o.json, "json", false, "print the token's claims as JSON only")
	if _, err := e.parse(fset, args); err != nil {
		return o, err
	}
	if (o.token == "") == (link == "") {
		return o, usageError(fset, "give the invitation as --token or as --link, one of them")
	}
	if link != "" {
		tok, err := tokenFromLink(link)
		if err != nil {
			return o, err
		}
		o.token = tok
	}
	if !strings.HasPrefix(o.token, "lk_inv_") {
		return o, errors.New("device-enrol: that is not an invitation token (they start with lk_inv_)")
	}
	if err := checkIssuerURL(o.issuer); err != nil {
		return o, fmt.Errorf("device-enrol: --issuer: %w", err)
	}
	o.issuer = strings.TrimSuffix(o.issuer, "/")
	o.scopes = strings.Fields(scope)
	return o, nil
}

// tokenFromLink finds the token in an invitation link: the email's
// (…/invitations/TOKEN) or a device app link (…?token=TOKEN).
func tokenFromLink(link string) (string, error) {
	u, err := url.Parse(link)
	if err != nil {
		return "", fmt.Errorf("device-enrol: --link: %w", err)
	}
	if tok := u.Query().Get("token"); tok != "" {
		return tok, nil
	}
	if _, tok, ok := strings.Cut(u.Path, "/invitations/"); ok && tok != "" && !strings.Contains(tok, "/") {
		return tok, nil
	}
	return "", errors.New("device-enrol: --link holds no invitation token: want …/invitations/lk_inv_… or …?token=lk_inv_…")
}

// runDeviceEnrol runs `latchkey device-enrol`.
func runDeviceEnrol(ctx context.Context, e *Env, args []string) error {
	stdout, stderr := e.Stdout, e.Stderr
	o, err := e.parseDeviceEnrolFlags(args)
	if err != nil {
		return err
	}
	hc := &http.Client{Transport: e.transport(nil), Timeout: 30 * time.Second}
	meta, err := discover(ctx, hc, o.issuer)
	if err != nil {
		return err
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, hc)

	creds, err := readDeviceCredentials(o.out)
	switch {
	case err == nil:
		// An existing device: accept with its own access token.
		if creds.Issuer != o.issuer {
			return fmt.Errorf("device-enrol: %s holds credentials for %s, not %s", o.out, creds.Issuer, o.issuer)
		}
		tok, err := ccConfig(creds, meta.TokenEndpoint, nil).Token(ctx)
		if err != nil {
			return fmt.Errorf("device-enrol: the device's credentials in %s no longer work: %w", o.out, err)
		}
		ans, err := acceptInvitation(ctx, hc, o, tok.AccessToken)
		if err != nil {
			return err
		}
		creds.ClientGroupIDs = mergeIDs(creds.ClientGroupIDs, ans.ClientGroupIDs)
		creds.OrganizationID = ans.OrganizationID
		if err := rewriteDeviceCredentials(o.out, creds); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "Device %s joined %s in organization %s.\n", creds.ClientID, strings.Join(ans.ClientGroupIDs, ", "), ans.OrganizationID)
	case errors.Is(err, fs.ErrNotExist):
		// A new device. The file is created first, empty and 0600, so that a
		// secret we receive always has a place to go.
		f, err := os.OpenFile(o.out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return fmt.Errorf("device-enrol: --out: %w", err)
		}
		ans, err := acceptInvitation(ctx, hc, o, "")
		if err != nil {
			f.Close()
			os.Remove(o.out)
			return err
		}
		creds = &deviceCredentials{Issuer: o.issuer, ClientID: ans.ClientID, ClientSecret: ans.ClientSecret,
			OrganizationID: ans.OrganizationID, ClientGroupIDs: ans.ClientGroupIDs}
		b, _ := json.MarshalIndent(creds, "", "  ")
		if _, err := f.Write(append(b, '\n')); err != nil {
			f.Close()
			return fmt.Errorf("device-enrol: writing %s: %w (client %s was created; its secret is lost, delete it and enrol again)", o.out, err, ans.ClientID)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("device-enrol: writing %s: %w", o.out, err)
		}
		fmt.Fprintf(stderr, "Enrolled as client %s of organization %s; credentials saved in %s (mode 0600).\n", ans.ClientID, ans.OrganizationID, o.out)
	default:
		return err
	}

	tok, err := ccConfig(creds, meta.TokenEndpoint, o.scopes).Token(ctx)
	if err != nil {
		return fmt.Errorf("device-enrol: client credentials: %w", err)
	}
	claims, err := jwtClaimsJSON(tok.AccessToken)
	if err != nil {
		return err
	}
	if !o.json {
		fmt.Fprintf(stdout, "Access token, valid until %s, with these claims:\n", tok.Expiry.Format(time.RFC3339))
	}
	_, err = stdout.Write(claims)
	return err
}

func ccConfig(c *deviceCredentials, tokenURL string, scopes []string) *clientcredentials.Config {
	return &clientcredentials.Config{ClientID: c.ClientID, ClientSecret: c.ClientSecret, TokenURL: tokenURL, Scopes: scopes}
}

// acceptedAnswer is the accept endpoint's answer.
type acceptedAnswer struct {
	ClientID       string   `json:"clientId"`
	ClientSecret   string   `json:"clientSecret"`
	OrganizationID string   `json:"organizationId"`
	ClientGroupIDs []string `json:"clientGroupIds"`
}

// acceptInvitation sends the accept request, with the device's access
// token when it has one.
func acceptInvitation(ctx context.Context, hc *http.Client, o deviceEnrolOptions, accessToken string) (*acceptedAnswer, error) {
	body := map[string]string{"token": o.token}
	if o.name != "" {
		body["deviceName"] = o.name
	}
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, o.issuer+"/client-group-invitations/accept", bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if accessToken != "" {
		req.Header.Set("Authorization", "Bearer "+accessToken)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("device-enrol: cannot reach %s: %w", o.issuer, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("device-enrol: reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		var e struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		_ = json.Unmarshal(raw, &e)
		if e.Description == "" {
			e.Description = resp.Status
		}
		return nil, fmt.Errorf("device-enrol: the invitation was not accepted: %s", tryAgain(e.Description, retryAfter(resp.Header, time.Now())))
	}
	var ans acceptedAnswer
	if err := json.Unmarshal(raw, &ans); err != nil || ans.ClientID == "" {
		return nil, fmt.Errorf("device-enrol: the server's answer is not an accepted invitation: %s", raw)
	}
	if accessToken == "" && ans.ClientSecret == "" {
		return nil, errors.New("device-enrol: the server created no secret for the new device")
	}
	return &ans, nil
}

// readDeviceCredentials reads --out; fs.ErrNotExist when there is none.
func readDeviceCredentials(path string) (*deviceCredentials, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c deviceCredentials
	if err := json.Unmarshal(b, &c); err != nil || c.ClientID == "" || c.ClientSecret == "" {
		return nil, fmt.Errorf("device-enrol: %s exists but holds no device credentials; move it away or choose another --out", path)
	}
	return &c, nil
}

// rewriteDeviceCredentials replaces path's contents, keeping it 0600: a
// new file beside it, renamed over it.
func rewriteDeviceCredentials(path string, c *deviceCredentials) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("device-enrol: %w", err)
	}
	b, _ := json.MarshalIndent(c, "", "  ")
	_, werr := f.Write(append(b, '\n'))
	if err := errors.Join(werr, f.Close()); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("device-enrol: writing %s: %w", tmp, err)
	}
	return os.Rename(tmp, path)
}

func mergeIDs(a, b []string) []string {
	out := append([]string(nil), a...)
	for _, id := range b {
		found := false
		for _, x := range out {
			found = found || x == id
		}
		if !found {
			out = append(out, id)
		}
	}
	return out
}

// jwtClaimsJSON returns a JWT's claims, indented. The device need not
// verify its own token: it shows what the server put in it.
func jwtClaimsJSON(jwt string) ([]byte, error) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return nil, errors.New("device-enrol: the access token is not a JWT")
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("device-enrol: the access token's claims: %w", err)
	}
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return nil, fmt.Errorf("device-enrol: the access token's claims: %w", err)
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}
