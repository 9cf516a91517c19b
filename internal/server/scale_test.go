package server

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/postgres/pgtest"
	"github.com/latchkey/latchkey/internal/store/sqlite/sqlitetest"
	"github.com/latchkey/latchkey/internal/store/storetest"
	"github.com/latchkey/latchkey/internal/testenv"
)

// BenchmarkPendingPollScale measures whole pending polls at the token
// endpoint (HTTP, client lookup, form parsing, the store's poll, the JSON
// answer) spread over 1,000 and over 1,000,000 live device codes, on each
// backend: the scale figure, which cmd/latchkey-bench cannot give
// because with real time a thousand codes allow only 200 on-time polls a
// second. Here each server's clock is driven by its polls: the n-th poll
// happens at t0 + n·6s/live, so each code is polled every 6 s of server
// time, on time for its 5 s interval, whatever the number of codes. Every
// answer must be authorization_pending.
//
// Both servers are set up first, then measured in alternating rounds
// (round=1 among a thousand, round=1 among a million, round=2 …), so a
// machine whose speed drifts skews both alike, as cmd/latchkey-bench
// alternates with its baseline. Run it on its own; loading a million codes
// takes a minute or two per backend:
//
//	go test -run XXX -bench PendingPollScale -benchtime 40000x ./internal/server
func BenchmarkPendingPollScale(b *testing.B) {
	for _, bk := range scaleBackends {
		b.Run(bk.name, func(b *testing.B) {
			servers := make([]*pollScaleServer, len(storetest.ScaleLive))
			for i, live := range storetest.ScaleLive {
				servers[i] = newPollScaleServer(b, bk, live)
			}
			for round := 1; round <= 3; round++ {
				for _, ps := range servers {
					b.Run(fmt.Sprintf("live=%d/round=%d", ps.live, round), ps.poll)
				}
			}
		})
	}
}

// scaleBackend opens a store for BenchmarkPendingPollScale, and returns
// with it what brings it to a steady state once the codes are in.
type scaleBackend struct {
	name string
	open func(b *testing.B) (st store.Store, settle func())
}

var scaleBackends = []scaleBackend{
	{"sqlite", func(b *testing.B) (store.Store, func()) { return sqlitetest.Open(b), func() {} }},
	{"postgres", func(b *testing.B) (store.Store, func()) {
		// A million fresh inserts are what autovacuum exists for: let it
		// have run, as it would have by the time a million devices wait,
		// rather than run in the middle of the measurement.
		dsn := testenv.PostgresDSN(b)
		st, schema := pgtest.OpenInSchema(b, dsn)
		return st, func() {
			conn, err := pgx.Connect(b.Context(), dsn)
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close(b.Context())
			if _, err := conn.Exec(b.Context(), `VACUUM ANALYZE `+pgx.Identifier{schema, "device_authorizations"}.Sanitize()); err != nil {
				b.Fatal(err)
			}
		}
	}},
}

// pollScaleServer is a server with live pending codes for one public
// client, polled by BenchmarkPendingPollScale.
type pollScaleServer struct {
	url    string
	live   int
	polls  atomic.Int64 // polls sent so far, which drive the server's clock
	client *http.Client
}

func newPollScaleServer(b *testing.B, bk scaleBackend, live int) *pollScaleServer {
	ctx := b.Context()
	st, settle := bk.open(b)
	ps := &pollScaleServer{live: live, client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
	b.Cleanup(ps.client.CloseIdleConnections)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	step := 6 * time.Second / time.Duration(live)
	now := func() time.Time { return t0.Add(time.Duration(ps.polls.Load()) * step) }
	cfg := config.Default()
	cfg.Device.Interval = config.Duration(5 * time.Second)
	srv, err := New(ctx, cfg, st, slog.New(slog.DiscardHandler), Options{Now: now})
	if err != nil {
		b.Fatal(err)
	}
	if err := st.CreateClient(ctx, &store.Client{ID: "tv", Name: "TV", AuthMethod: store.AuthNone,
		GrantTypes: []string{store.GrantDeviceCode}, Scopes: []string{"openid"}, CreatedAt: t0, UpdatedAt: t0}); err != nil {
		b.Fatal(err)
	}
	// The codes go in through the store, as the device authorization
	// endpoint puts them, from as many goroutines as the batchers can use.
	// Each expires after a day of server time: a thousand codes are polled
	// 40 times a minute of it.
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < live; i = int(next.Add(1) - 1) {
				if err := st.CreateDeviceAuth(ctx, &store.DeviceAuth{DeviceCodeHash: oauth.HashSecret(scaleCode(i)),
					UserCodeHash: oauth.HashSecret(fmt.Sprint("user-code-", i)), ClientID: "tv", ClientPublic: true,
					Scopes: []string{"openid"}, Status: store.DevicePending, Interval: 5 * time.Second,
					CreatedAt: t0, ExpiresAt: t0.Add(24 * time.Hour), RequestIP: "192.0.2.1", RequestUserAgent: "bench"}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	settle()
	ts := httptest.NewServer(srv)
	b.Cleanup(ts.Close)
	ps.url = ts.URL + "/oauth2/token"
	return ps
}

func scaleCode(i int) string { return fmt.Sprintf("lk_dc_bench-%d", i) }

// poll sends b.N on-time polls, spread over the codes like
// storetest.PollScale, and reports the rate.
func (ps *pollScaleServer) poll(b *testing.B) {
	var pending atomic.Int64
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := ps.polls.Add(1)
			form := url.Values{"grant_type": {store.GrantDeviceCode}, "client_id": {"tv"},
				"device_code": {scaleCode(int((n * 7919) % int64(ps.live)))}}
			resp, err := ps.client.Post(ps.url, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
			if err != nil {
				b.Error(err)
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"authorization_pending"`) {
				b.Errorf("poll %d: %d %s", n, resp.StatusCode, body)
				return
			}
			pending.Add(1)
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(pending.Load())/b.Elapsed().Seconds(), "polls/s")
}
