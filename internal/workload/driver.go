package workload

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// Chain is one device flow's grant as its device knows it: the refresh
// token it holds now, rotated again and again.
type Chain struct {
	DeviceCode string
	GrantID    string // the grant_id claim of its access tokens
	Access     string // the latest access token
	Refresh    string // the latest refresh token it was given
	// InFlight: a rotation of Refresh was sent and no answer came (the
	// server died), so the server may or may not have rotated it.
	InFlight  bool
	Rotations int
	// Ended says why the device stopped using the chain ("" while it lives).
	Ended string
	Batch int // the Run that last changed it
	Since time.Time
	busy  bool
}

// Flow is an approved device code whose redeeming poll got no answer.
type Flow struct {
	DeviceCode string
	Batch      int
}

// Invite is an invitation the organization's admin sent.
type Invite struct {
	ID, Email string
	Token     string // from its mail; "" until it arrived
	// InFlight: an accept was sent and no answer came.
	InFlight bool
	Accepted bool   // an accept was answered 201
	ClientID string // the new device client, and its secret
	Secret   string
	Batch    int
	Since    time.Time // when it was accepted
	inUse    int       // client credentials requests of it in flight
}

// Issued is an access token a client credentials request was answered with.
type Issued struct {
	ClientID, Access string
	Batch            int
}

// Ledger is what every client of the load was told, over every Run.
type Ledger struct {
	mu      sync.Mutex
	Chains  []*Chain
	Flows   []*Flow
	Invites []*Invite
	Issued  []Issued
	batch   int
	// devices are the accepted Invites, for client credentials to pick
	// from without reading every invitation; pruned is when refresh last
	// dropped retired chains. Both keep a step's cost independent of how
	// long the load has run.
	devices []*Invite
	pruned  time.Time
}

// Driver runs the mixed load against an Env and keeps its Ledger and Stats.
type Driver struct {
	Env *Env
	// Retire, when not zero, is the age at which a device stops using its
	// grant (a soak's server expires refresh tokens; the load must not
	// count the end of their life as wrong answers), and at which the
	// organization's admin retires an enrolled device (OpRetire), as a
	// fleet replaces its devices: the database then holds a working set.
	Retire time.Duration
	// Rate, when not zero, paces the workers together to at most this many
	// operations a second, so that a soak measures a server at a steady
	// load below what it can do, not one driven as hard as it goes.
	Rate float64

	Ledger Ledger
	Stats  Stats
	mu     sync.Mutex
	people []*browser // signed-in browsers, reused across runs
	seq    int
}

// New returns a Driver for a provisioned Env.
func New(env *Env) *Driver { return &Driver{Env: env} }

// Operations of the mix, in the order a worker cycles through them.
const (
	OpDevice  = "device_flow"        // authorize, approve on the pages, poll: three requests and two pages
	OpRefresh = "refresh"            // rotate a chain's refresh token
	OpInvite  = "invite_accept"      // send an invitation, read its mail, accept it as a new device
	OpClient  = "client_credentials" // a device that accepted asks for a token
	// OpRetire is not in the mix: with Retire set, a client credentials
	// step first has the admin delete the oldest enrolled device past that
	// age (DELETE /admin/v1/clients/{id}), timed on its own.
	OpRetire = "retire"
)

var mix = []string{OpDevice, OpRefresh, OpRefresh, OpInvite, OpClient, OpRefresh}

// Run drives workers closed-loop workers until ctx ends, paced to Rate
// when it is set. Each worker
// cycles through the mix; a request that got no answer is recorded as in
// flight in the Ledger (the caller settles it once the server is back).
func (d *Driver) Run(ctx context.Context, workers int) {
	d.Env.CloseIdle()
	d.Ledger.mu.Lock()
	d.Ledger.batch++
	d.Ledger.mu.Unlock()
	var pace <-chan time.Time
	if d.Rate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / d.Rate))
		defer t.Stop()
		pace = t.C
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; ctx.Err() == nil; i++ {
				if pace != nil {
					select {
					case <-pace:
					case <-ctx.Done():
						return
					}
				}
				if !d.step(ctx, mix[i%len(mix)]) {
					// No answer: the server is gone or going. Do not spin.
					select {
					case <-ctx.Done():
					case <-time.After(50 * time.Millisecond):
					}
				}
			}
		})
	}
	wg.Wait()
}

// step runs one operation; false when a request got no answer.
func (d *Driver) step(ctx context.Context, op string) bool {
	start := time.Now()
	var err error
	lost := false
	switch op {
	case OpDevice:
		lost, err = d.deviceFlow(ctx)
	case OpRefresh:
		lost, err = d.refresh(ctx)
	case OpInvite:
		lost, err = d.invite(ctx)
	case OpClient:
		if d.Retire > 0 && !d.retire(ctx) {
			return false
		}
		start = time.Now()
		lost, err = d.clientCredentials(ctx)
	}
	if ctx.Err() != nil && (lost || err != nil) {
		return false // cut short by the end of the run: neither counted nor wrong
	}
	d.Stats.record(op, time.Since(start), err, lost)
	return !lost
}

var tokenAnswerFields = []string{"access_token", "refresh_token"}

// deviceFlow runs one device flow to the end and adds its Chain.
func (d *Driver) deviceFlow(ctx context.Context) (lost bool, err error) {
	body, h := form(url.Values{"client_id": {DeviceClient}, "scope": {deviceScope}})
	a := d.Env.do(ctx, http.MethodPost, "/oauth2/device_authorization", body, h)
	if a.Lost() {
		return true, a.Err
	}
	if a.Status != http.StatusOK || a.str("device_code") == "" {
		return false, fmt.Errorf("device authorization: %s", a)
	}
	b := d.person()
	lost, err = b.approve(ctx, a.str("user_code"), UserEmail, d.Env.Password)
	d.release(b)
	if err != nil {
		return lost, err
	}
	dc := a.str("device_code")
	d.Ledger.mu.Lock()
	f := &Flow{DeviceCode: dc, Batch: d.Ledger.batch}
	d.Ledger.Flows = append(d.Ledger.Flows, f)
	d.Ledger.mu.Unlock()
	// The first poll of a code is never too early.
	p := d.Env.Poll(ctx, dc)
	if p.Lost() {
		return true, p.Err // the Flow stays, to be settled
	}
	d.Ledger.mu.Lock()
	defer d.Ledger.mu.Unlock()
	d.Ledger.Flows = slices.DeleteFunc(d.Ledger.Flows, func(x *Flow) bool { return x == f })
	c, err := d.Ledger.chainFrom(dc, p)
	if err != nil {
		return false, err
	}
	d.Ledger.Chains = append(d.Ledger.Chains, c)
	return false, nil
}

// chainFrom makes a Chain of a device code's token answer.
func (l *Ledger) chainFrom(dc string, p Answer) (*Chain, error) {
	if p.Status != http.StatusOK {
		return nil, fmt.Errorf("poll of an approved code: %s", p)
	}
	for _, f := range tokenAnswerFields {
		if p.str(f) == "" {
			return nil, fmt.Errorf("poll of an approved code: no %s in %s", f, p)
		}
	}
	gid := GrantID(p.str("access_token"))
	if gid == "" {
		return nil, fmt.Errorf("access token without grant_id: %s", p)
	}
	return &Chain{DeviceCode: dc, GrantID: gid, Access: p.str("access_token"), Refresh: p.str("refresh_token"), Batch: l.batch,
		Since: time.Now()}, nil
}

// GrantID reads the grant_id claim of an access token, unverified (the
// server verifies it when it is introspected).
func GrantID(jwt string) string {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return ""
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		GrantID string `json:"grant_id"`
	}
	_ = json.Unmarshal(raw, &c)
	return c.GrantID
}

// refresh rotates the refresh token of a chain no other worker holds.
func (d *Driver) refresh(ctx context.Context) (lost bool, err error) {
	l := &d.Ledger
	l.mu.Lock()
	var c *Chain
	if d.Retire > 0 && time.Since(l.pruned) > time.Second {
		l.pruned = time.Now()
		l.Chains = slices.DeleteFunc(l.Chains, func(x *Chain) bool {
			return !x.busy && !x.InFlight && (x.Ended != "" || time.Since(x.Since) > d.Retire)
		})
	}
	// From a random place on, the first chain no one holds; a retired one
	// not yet pruned is passed over.
	n := len(l.Chains)
	for i, start := 0, rand.IntN(max(n, 1)); i < n; i++ {
		x := l.Chains[(start+i)%n]
		if !x.busy && !x.InFlight && x.Ended == "" && (d.Retire == 0 || time.Since(x.Since) <= d.Retire) {
			c = x
			break
		}
	}
	if c == nil {
		l.mu.Unlock()
		return d.deviceFlow(ctx) // nothing to refresh yet
	}
	c.busy, c.InFlight = true, true
	l.mu.Unlock()
	a := d.Env.Refresh(ctx, c.Refresh)
	l.mu.Lock()
	defer l.mu.Unlock()
	c.busy = false
	if a.Lost() {
		return true, a.Err // InFlight stays
	}
	c.InFlight, c.Batch = false, l.batch
	if a.Status != http.StatusOK || a.str("refresh_token") == "" || a.str("access_token") == "" {
		c.Ended = "refresh answered " + a.String()
		return false, fmt.Errorf("refresh: %s", a)
	}
	c.Refresh, c.Access = a.str("refresh_token"), a.str("access_token")
	c.Rotations++
	return false, nil
}

// invite sends an invitation, waits for its mail and accepts it.
func (d *Driver) invite(ctx context.Context) (lost bool, err error) {
	d.mu.Lock()
	d.seq++
	email := fmt.Sprintf("device-%d-%s@example.test", d.seq, strings.ToLower(randomText()[:8]))
	d.mu.Unlock()
	a := d.Env.do(ctx, http.MethodPost, "/organizations/"+Org+"/client-group-invitations/send",
		jsonBody(map[string]any{"clientGroupIds": []string{d.Env.GroupID}, "recipientEmail": email}),
		map[string]string{"Authorization": "Bearer " + d.Env.AdminToken, "Content-Type": "application/json"})
	if a.Lost() {
		return true, a.Err
	}
	if a.Status != http.StatusCreated || a.str("id") == "" {
		return false, fmt.Errorf("send invitation: %s", a)
	}
	l := &d.Ledger
	l.mu.Lock()
	inv := &Invite{ID: a.str("id"), Email: email, Batch: l.batch}
	l.Invites = append(l.Invites, inv)
	l.mu.Unlock()
	wait, cancel := context.WithTimeout(ctx, 30*time.Second)
	tok, err := d.Env.Mail.Token(wait, email)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return true, err
		}
		return false, fmt.Errorf("invitation %s: no mail within 30s", inv.ID)
	}
	l.mu.Lock()
	inv.Token, inv.InFlight = tok, true
	l.mu.Unlock()
	return d.accept(ctx, inv)
}

// accept accepts inv as a new device and records the answer.
func (d *Driver) accept(ctx context.Context, inv *Invite) (lost bool, err error) {
	a := d.Env.Accept(ctx, inv.Token)
	l := &d.Ledger
	l.mu.Lock()
	defer l.mu.Unlock()
	if a.Lost() {
		return true, a.Err
	}
	inv.InFlight, inv.Batch = false, l.batch
	if a.Status != http.StatusCreated || a.str("clientId") == "" || a.str("clientSecret") == "" {
		return false, fmt.Errorf("accept invitation %s: %s", inv.ID, a)
	}
	inv.Accepted, inv.ClientID, inv.Secret, inv.Since = true, a.str("clientId"), a.str("clientSecret"), time.Now()
	l.devices = append(l.devices, inv)
	return false, nil
}

// clientCredentials asks for a token as a device that accepted.
func (d *Driver) clientCredentials(ctx context.Context) (lost bool, err error) {
	l := &d.Ledger
	l.mu.Lock()
	var dev *Invite
	if len(l.devices) > 0 {
		dev = l.devices[rand.IntN(len(l.devices))]
	}
	if dev == nil {
		l.mu.Unlock()
		return d.invite(ctx)
	}
	dev.inUse++
	l.mu.Unlock()
	a := d.Env.Token(ctx, url.Values{"grant_type": {"client_credentials"}}, dev.ClientID, dev.Secret)
	l.mu.Lock()
	dev.inUse--
	l.mu.Unlock()
	if a.Lost() {
		return true, a.Err
	}
	if a.Status != http.StatusOK || a.str("access_token") == "" {
		return false, fmt.Errorf("client credentials of %s: %s", dev.ClientID, a)
	}
	l.mu.Lock()
	l.Issued = append(l.Issued, Issued{ClientID: dev.ClientID, Access: a.str("access_token"), Batch: l.batch})
	l.mu.Unlock()
	return false, nil
}

// retire has the organization's admin delete the oldest enrolled device
// if it is older than Retire and no request of it is in flight, and
// records that as OpRetire; false when the request got no answer.
func (d *Driver) retire(ctx context.Context) bool {
	l := &d.Ledger
	l.mu.Lock()
	var dev *Invite
	if len(l.devices) > 0 && l.devices[0].inUse == 0 && time.Since(l.devices[0].Since) > d.Retire {
		dev, l.devices = l.devices[0], l.devices[1:]
	}
	l.mu.Unlock()
	if dev == nil {
		return true
	}
	start := time.Now()
	a := d.Env.do(ctx, http.MethodDelete, "/admin/v1/clients/"+url.PathEscape(dev.ClientID), nil,
		map[string]string{"Authorization": "Bearer " + d.Env.AdminToken})
	var err error
	if !a.Lost() && a.Status != http.StatusNoContent {
		err = fmt.Errorf("retire device %s: %s", dev.ClientID, a)
	}
	if ctx.Err() != nil && (a.Lost() || err != nil) {
		return false
	}
	d.Stats.record(OpRetire, time.Since(start), err, a.Lost())
	return !a.Lost()
}

// Settled is what a retry of a request left in flight was answered.
type Settled struct {
	Kind        string // OpRefresh, OpDevice (the redeeming poll) or OpInvite (the accept)
	Key         string // what was retried: the refresh token, device code or invitation token
	Status      int
	Error       string // the OAuth error code, if any
	Description string // its error_description
}

// Settle finishes, once the server is back, what the last Run left in
// flight, as a client would: it retries each rotation, redeeming poll and
// accept that got no answer with what the client holds. A retry refused
// ends the Chain or Invite, with the reason.
func (d *Driver) Settle(ctx context.Context) ([]Settled, error) {
	d.Env.CloseIdle()
	l := &d.Ledger
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Settled
	for _, c := range l.Chains {
		if !c.InFlight {
			continue
		}
		a := d.Env.Refresh(ctx, c.Refresh)
		if a.Lost() {
			return out, fmt.Errorf("settle refresh: %s", a)
		}
		out = append(out, Settled{OpRefresh, c.Refresh, a.Status, a.Error(), a.str("error_description")})
		c.InFlight, c.Batch = false, l.batch
		if a.Status == http.StatusOK {
			c.Refresh, c.Access = a.str("refresh_token"), a.str("access_token")
			c.Rotations++
		} else {
			c.Ended = "the answer to its rotation was lost and the retry was refused: " + a.String()
		}
	}
	for _, f := range l.Flows {
		p := d.Env.PollAgain(ctx, f.DeviceCode)
		if p.Lost() {
			return out, fmt.Errorf("settle poll: %s", p)
		}
		out = append(out, Settled{OpDevice, f.DeviceCode, p.Status, p.Error(), p.str("error_description")})
		if p.Status == http.StatusOK {
			c, err := l.chainFrom(f.DeviceCode, p)
			if err != nil {
				return out, err
			}
			l.Chains = append(l.Chains, c)
		}
	}
	l.Flows = nil
	for _, inv := range l.Invites {
		if !inv.InFlight {
			continue
		}
		a := d.Env.Accept(ctx, inv.Token)
		if a.Lost() {
			return out, fmt.Errorf("settle accept: %s", a)
		}
		out = append(out, Settled{OpInvite, inv.Token, a.Status, a.Error(), a.str("error_description")})
		inv.InFlight, inv.Batch = false, l.batch
		if a.Status == http.StatusCreated {
			inv.Accepted, inv.ClientID, inv.Secret, inv.Since = true, a.str("clientId"), a.str("clientSecret"), time.Now()
			l.devices = append(l.devices, inv)
		}
	}
	return out, nil
}

// SignIn signs n browsers in, as many as Run's workers, so that a Run
// approves on the pages without signing in first. (A sign-in cut short
// after the server counted it and before it gave the count back, by a
// kill, spends one of the account's login attempts: the crash test signs
// in before it starts killing.)
func (d *Driver) SignIn(ctx context.Context, n int) error {
	for range n {
		b := d.person()
		p := b.page(ctx, http.MethodGet, "/login", nil)
		if p.Status == http.StatusOK {
			p = b.page(ctx, http.MethodPost, "/login", url.Values{"username": {UserEmail}, "password": {d.Env.Password},
				"csrf_token": {csrf(p.Raw)}, "return_to": {"/device"}})
		}
		if p.Status != http.StatusOK || strings.Contains(p.Raw, `name="password"`) {
			return fmt.Errorf("sign in: %s", p)
		}
	}
	d.mu.Lock()
	for _, b := range d.people {
		b.busy = false
	}
	d.mu.Unlock()
	return nil
}

// person returns a browser of UserEmail's that no other worker is using.
func (d *Driver) person() *browser {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, b := range d.people {
		if !b.busy {
			b.busy = true
			return b
		}
	}
	jar, _ := cookiejar.New(nil)
	b := &browser{base: d.Env.Base, busy: true,
		client: &http.Client{Jar: jar, Timeout: 30 * time.Second, Transport: d.Env.client.Transport}}
	d.people = append(d.people, b)
	return b
}

func (d *Driver) release(b *browser) {
	d.mu.Lock()
	b.busy = false
	d.mu.Unlock()
}

func randomText() string {
	var b [16]byte
	for i := range b {
		b[i] = "abcdefghijklmnopqrstuvwxyz234567"[rand.IntN(32)]
	}
	return string(b[:])
}

// browser is a person's browser on the pages: a cookie jar, and so a
// session once it has signed in.
type browser struct {
	base   string
	client *http.Client
	busy   bool
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// approve opens the verification page for userCode, signs in there if the
// session is missing, and approves; false when a page got no answer.
func (b *browser) approve(ctx context.Context, userCode, email, password string) (lost bool, err error) {
	path := "/device?user_code=" + url.QueryEscape(userCode)
	p := b.page(ctx, http.MethodGet, path, nil)
	if p.Lost() {
		return true, p.Err
	}
	if p.Status == http.StatusOK && !strings.Contains(p.Raw, `value="approve"`) && strings.Contains(p.Raw, `name="password"`) {
		p = b.page(ctx, http.MethodPost, "/login", url.Values{"username": {email}, "password": {password},
			"csrf_token": {csrf(p.Raw)}, "return_to": {path}})
		if p.Lost() {
			return true, p.Err
		}
	}
	if p.Status != http.StatusOK || !strings.Contains(p.Raw, `value="approve"`) {
		return false, fmt.Errorf("verification page of %s: no approve button: %d %q", userCode, p.Status, pageText(p.Raw))
	}
	p = b.page(ctx, http.MethodPost, "/device", url.Values{"user_code": {userCode}, "decision": {"approve"}, "csrf_token": {csrf(p.Raw)}})
	if p.Lost() {
		return true, p.Err
	}
	if p.Status != http.StatusOK || !strings.Contains(strings.ToLower(p.Raw), "connected") {
		return false, fmt.Errorf("approve %s: %s", userCode, p)
	}
	return false, nil
}

// pageText is the main part of a page, for an error message.
func pageText(html string) string {
	if _, m, ok := strings.Cut(html, "<main>"); ok {
		html, _, _ = strings.Cut(m, "</main>")
	}
	return strings.Join(strings.Fields(html), " ")
}

func csrf(html string) string {
	if m := csrfField.FindStringSubmatch(html); m != nil {
		return m[1]
	}
	return ""
}

// page loads a page (following redirects); Raw is the HTML.
func (b *browser) page(ctx context.Context, method, path string, f url.Values) Answer {
	var body []byte
	var h map[string]string
	if f != nil {
		body, h = form(f)
	}
	return doWith(ctx, b.client, method, b.base+path, body, h)
}
