package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/testenv"
)

// faultProxy is a TCP proxy between Latchkey and PostgreSQL that the test
// can cut (every connection closed, new ones refused) and restore: the
// database going away as the instances see it, without stopping the
// PostgreSQL server other tests share.
type faultProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]struct{}
}

func newFaultProxy(t *testing.T, target string) *faultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.cut() })
	return p
}

func (p *faultProxy) Addr() string { return p.ln.Addr().String() }

func (p *faultProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.mu.Unlock()
		go p.pipe(c, up)
		go p.pipe(up, c)
	}
}

func (p *faultProxy) pipe(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
}

// cut closes every connection and refuses new ones.
func (p *faultProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
	}
}

func (p *faultProxy) restore() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

// TestDatabaseOutage cuts PostgreSQL away from two running instances under
// load: they answer 503 with Retry-After (OAuth JSON on protocol
// endpoints) and never 500, /readyz fails within 5 s, nothing answers
// success that did not commit, and both serve again by themselves once the
// database is back, with no grant lost or issued twice.
func TestDatabaseOutage(t *testing.T) {
	t.Parallel()
	dsn := testenv.PostgresDSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newFaultProxy(t, u.Host)
	proxied := *u
	proxied.Host = proxy.Addr()
	schema := pgSchema(t, dsn)
	config := filepath.Join(t.TempDir(), "latchkey.yaml")
	err = os.WriteFile(config, []byte(fmt.Sprintf(`database: %s
admin_token: %s
postgres: {schema: %s, max_conns: 6, min_conns: 1, statement_timeout: 2s}
device: {interval: 1s, requests_per_ip_per_minute: 0}
`, proxied.String(), multiAdminToken, schema)), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	in := startInstances(t, 2, config)
	adminPost(t, in[0].URL, "/admin/v1/users", `{"email":"pat@example.com","name":"Pat","password":"correct horse battery","email_verified":true}`)
	adminPost(t, in[1].URL, "/admin/v1/clients", `{"client_id":"tv","client_name":"Lounge TV","token_endpoint_auth_method":"none",
		"grant_types":["urn:ietf:params:oauth:grant-type:device_code"],"scope":"openid"}`)

	// One flow approved before the outage, redeemed only after it.
	before := postForm(t, in[0].URL+"/oauth2/device_authorization", url.Values{"client_id": {"tv"}})
	approveAsPerson(t, in[1].URL, before.str("user_code"), "pat@example.com", "correct horse battery")

	// Load: device authorizations on both instances, remembering every code
	// that was answered with success.
	var (
		mu        sync.Mutex
		issued    []string
		statuses  = map[int]int{}
		bad       []string
		stop      atomic.Bool
		wg        sync.WaitGroup
		noRetryAf atomic.Int32
	)
	client := &http.Client{Timeout: 10 * time.Second}
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				base := in[(w+i)%2].URL
				resp, err := client.PostForm(base+"/oauth2/device_authorization", url.Values{"client_id": {"tv"}})
				if err != nil {
					mu.Lock()
					bad = append(bad, err.Error())
					mu.Unlock()
					continue
				}
				raw, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				mu.Lock()
				statuses[resp.StatusCode]++
				switch resp.StatusCode {
				case 200:
					var r jsonReply
					r.Raw = string(raw)
					if i := strings.Index(r.Raw, `"device_code":"`); i >= 0 {
						rest := r.Raw[i+len(`"device_code":"`):]
						issued = append(issued, rest[:strings.IndexByte(rest, '"')])
					}
				case 503:
					if resp.Header.Get("Retry-After") == "" || !strings.Contains(string(raw), `"temporarily_unavailable"`) {
						noRetryAf.Add(1)
					}
				default:
					bad = append(bad, fmt.Sprintf("%d %s", resp.StatusCode, raw))
				}
				mu.Unlock()
				time.Sleep(10 * time.Millisecond)
			}
		}()
	}

	time.Sleep(time.Second)
	proxy.cut()
	cutAt := time.Now()
	// /readyz fails within 5 s of the cut, on both instances.
	for _, i := range in {
		for {
			resp, err := http.Get(i.URL + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 503 {
					break
				}
			}
			if time.Since(cutAt) > 5*time.Second {
				t.Fatalf("%s/readyz still not failing 5 s after the database went away", i.URL)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if r := devicePoll(t, in[0].URL, before.str("device_code")); r.Status != 503 || r.str("error") != "temporarily_unavailable" {
		t.Errorf("poll during the outage: %d %s; want 503 temporarily_unavailable", r.Status, r.Raw)
	}
	time.Sleep(2 * time.Second)
	proxy.restore()
	restoredAt := time.Now()
	for _, i := range in {
		for {
			resp, err := http.Get(i.URL + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					break
				}
			}
			if time.Since(restoredAt) > 15*time.Second {
				t.Fatalf("%s did not recover within 15 s of the database's return", i.URL)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	time.Sleep(time.Second)
	stop.Store(true)
	wg.Wait()

	t.Logf("answers under load: %v; %d codes issued", statuses, len(issued))
	if len(bad) > 0 {
		t.Errorf("%d answers were neither success nor 503, e.g. %q", len(bad), bad[0])
	}
	if statuses[503] == 0 {
		t.Error("no 503 during the outage: the load did not reach it")
	}
	if n := noRetryAf.Load(); n > 0 {
		t.Errorf("%d 503 answers lacked Retry-After or the OAuth error body", n)
	}
	// Every code answered with success was committed: it polls as pending.
	for _, dc := range issued {
		if r := devicePoll(t, in[1].URL, dc); r.str("error") != "authorization_pending" {
			t.Fatalf("a device code issued under load polls as %d %s; want authorization_pending", r.Status, r.Raw)
		}
	}
	// The flow approved before the outage is redeemed exactly once.
	if r := devicePoll(t, in[1].URL, before.str("device_code")); r.Status != 200 {
		t.Fatalf("redeeming after the outage: %d %s", r.Status, r.Raw)
	}
	time.Sleep(1100 * time.Millisecond)
	if r := devicePoll(t, in[0].URL, before.str("device_code")); r.str("error") != "invalid_grant" {
		t.Errorf("second redemption: %d %s; want invalid_grant", r.Status, r.Raw)
	}
}
