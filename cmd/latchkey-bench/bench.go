package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"github.com/latchkey/latchkey/internal/dpop"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/seal"
)

// bench measures one backend: its own Latchkey and baseline processes, its
// own database and clients.
type bench struct {
	opts     *options
	backend  string // sqlite or postgres
	alg      string // ES256 or RS256: what Latchkey signs every token with
	bin      string // the latchkey binary
	self     string // this binary, for the baseline
	dir      string
	progress func(format string, args ...any)

	schema     string // PostgreSQL schema, created by Latchkey and dropped here
	adminToken string
	secretsKey string // serve seals its signing keys with it, as in production
	latchkey   *proc
	baseline   *proc

	// Provisioned by setup.
	user          string
	password      string
	serviceID     string
	serviceSecret string
	apiKey        string // the service API's key and secret (service_api_poll)
	apiSecret     string
	browser       *browser

	pending *codeRing   // pending_poll's codes
	fast    *codeRing   // slow_down's codes
	chains  []*chain    // refresh's, one per worker
	spares  chan string // refresh tokens of spare grants

	// The DPoP scenarios' key, signing with the standard library as a
	// device would, and the server's nonce (dpop.nonce_period is an hour
	// here, and a nonce holds two periods).
	prove     dpop.Prover
	dpopNonce string
}

// startup is what starting Latchkey cost on one backend.
type startup struct {
	Backend string
	Cold    time.Duration // first start on a fresh database: migrations and a new signing key
	Warm    time.Duration // restart on that database
	IdleRSS int64         // bytes, a second after the restart was ready
	PeakRSS int64         // bytes, the high-water mark after all scenarios
}

// label names the backend, with the algorithm when the run measures more
// than the default one: "sqlite", or "sqlite-RS256".
func (b *bench) label() string {
	if b.rowAlg() == "" {
		return b.backend
	}
	return b.backend + "-" + b.alg
}

// rowAlg is the algorithm the rows name: none when the run measures ES256
// alone, as every run did before there was a choice.
func (b *bench) rowAlg() string {
	if len(b.opts.algs) == 1 && b.alg == "ES256" {
		return ""
	}
	return b.alg
}

func (b *bench) run(ctx context.Context) (rows []*row, st *startup, err error) {
	b.adminToken = rand.Text() + rand.Text()
	if b.secretsKey, err = seal.NewKey(rand.Reader); err != nil {
		return nil, nil, err
	}
	if b.backend == "postgres" {
		b.schema = "bench_" + strings.ToLower(rand.Text()[:10])
		defer func() {
			if derr := dropSchema(b.opts.postgres, b.schema); derr != nil {
				err = errors.Join(err, derr)
			}
		}()
	}
	st = &startup{Backend: b.label()}

	// Start once on the fresh database to time migrations and key
	// generation, then restart: the restarted process is the one measured.
	lk, err := b.startLatchkey(ctx)
	if err != nil {
		return nil, nil, err
	}
	st.Cold = lk.Ready
	if err := lk.stop(); err != nil {
		return nil, nil, err
	}
	if b.latchkey, err = b.startLatchkey(ctx); err != nil {
		return nil, nil, err
	}
	defer func() { err = errors.Join(err, b.latchkey.stop()) }()
	st.Warm = b.latchkey.Ready
	sleep(ctx, time.Second)
	if st.IdleRSS, _, err = b.latchkey.memory(); err != nil {
		return nil, nil, err
	}
	b.progress("%s: latchkey ready in %s (fresh database %s), idle RSS %.1f MiB",
		b.label(), st.Warm.Round(time.Millisecond), st.Cold.Round(time.Millisecond), float64(st.IdleRSS)/(1<<20))

	addr, err := freeAddr()
	if err != nil {
		return nil, st, err
	}
	if b.baseline, err = startProc(ctx, "baseline", b.self, []string{"baseline", "--listen", addr}, addr); err != nil {
		return nil, st, err
	}
	defer func() { err = errors.Join(err, b.baseline.stop()) }()

	if err := b.provision(ctx); err != nil {
		return nil, st, fmt.Errorf("provision: %w", err)
	}

	for _, sc := range scenarios {
		if !slices.Contains(b.opts.scenarios, sc.name) {
			continue
		}
		r, err := b.measure(ctx, sc)
		if r != nil {
			rows = append(rows, r)
		}
		if err != nil {
			return rows, st, err
		}
	}
	if _, st.PeakRSS, err = b.latchkey.memory(); err != nil {
		return rows, st, err
	}
	return rows, st, nil
}

// measure runs one scenario: baseline, then Latchkey, --rounds times.
func (b *bench) measure(ctx context.Context, sc scenario) (*row, error) {
	r := &row{Scenario: sc.name, Backend: b.backend, Alg: b.rowAlg(), Target: sc.target[b.backend]}
	if sc.prepare != nil {
		skip, err := sc.prepare(ctx, b)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err != nil {
			r.Skip = "setup failed: " + err.Error()
			b.progress("%s %s: %s", b.backend, sc.name, r.Skip)
			return r, nil
		}
		if skip != "" {
			r.Skip = skip
			b.progress("%s %s: %s", b.backend, sc.name, skip)
			return r, nil
		}
	}
	n := b.opts.concurrency
	for i := range b.opts.rounds {
		base := runLoad(ctx, sc.jobs(b, b.baseline.url, true, n), b.opts.warmup, b.opts.duration, nil)
		pause(ctx)
		// The last round's measured window is profiled: by then the
		// scenario has had all earlier rounds to warm up.
		var prof *profileFetch
		var measuring func()
		if i == b.opts.rounds-1 && b.latchkey.pprof != "" {
			measuring = func() { prof = startProfile(ctx, b.latchkey.pprof, profileSeconds(b.opts.duration)) }
		}
		lk := runLoad(ctx, sc.jobs(b, b.latchkey.url, false, n), b.opts.warmup, b.opts.duration, measuring)
		if prof != nil {
			r.Profile = prof.wait()
			if r.Profile.Err != "" {
				b.progress("%s %s: no profile: %s", b.backend, sc.name, r.Profile.Err)
			}
		}
		pause(ctx)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		r.Base = append(r.Base, base)
		r.Latchkey = append(r.Latchkey, lk)
		b.progress("%s %s round %d/%d: baseline %.0f req/s, latchkey %.0f req/s (%d errors)",
			b.backend, sc.name, i+1, b.opts.rounds, base.Rate(), lk.Rate(), lk.Errors)
	}
	return r, nil
}

// pause lets the last run's connections close before the next run starts.
func pause(ctx context.Context) { sleep(ctx, 300*time.Millisecond) }

// pollInterval is the device polling interval Latchkey announces and
// enforces in the benchmark: the default.
const pollInterval = 5 * time.Second

// startLatchkey writes a configuration and starts `latchkey serve`.
func (b *bench) startLatchkey(ctx context.Context) (*proc, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	db := "sqlite:" + filepath.Join(b.dir, "latchkey-"+b.label()+".db")
	if b.backend == "postgres" {
		db = b.opts.postgres
	}
	// No device authorization rate limits: they protect against guessing,
	// and a benchmark from one address would hit them at once. The
	// longest code lifetime keeps the pending-poll codes alive through
	// long runs. The token endpoint's per-client limit is set out of
	// reach, not off, so that its counting is measured with the rest.
	cfg := fmt.Sprintf(`listen: %q
database: %q
admin_token: %q
secrets_keys: [%q]
log: {level: warn}
tokens: {signing_alg: %s, id_token_signing_alg: %s}
device:
  interval: %s
  lifetime: 30m
  requests_per_client_per_minute: 0
  requests_per_ip_per_minute: 0
limits: {token_per_client_per_minute: 1000000000}
dpop: {nonce_period: 1h}
`, addr, db, b.adminToken, b.secretsKey, b.alg, b.alg, pollInterval)
	if b.schema != "" {
		cfg += fmt.Sprintf("postgres: {schema: %s}\n", b.schema)
	}
	if b.opts.metrics {
		maddr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		cfg += fmt.Sprintf("metrics: {listen: %q}\n", maddr)
	}
	file := filepath.Join(b.dir, "latchkey-"+b.label()+".yaml")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	args := []string{"serve", "--config", file, "--listen", addr}
	var prof string
	if b.opts.profiles {
		// The profiler listens apart from the measured listener and costs
		// nothing until a profile is asked for.
		if prof, err = freeAddr(); err != nil {
			return nil, err
		}
		args = append(args, "--pprof", prof)
	}
	p, err := startProc(ctx, "latchkey", b.bin, args, addr)
	if err != nil {
		return nil, err
	}
	p.pprof = prof
	return p, nil
}

// dropSchema removes the schema a PostgreSQL run created, tables and all.
func dropSchema(dsn, schema string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("drop schema %s: %w", schema, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
		return fmt.Errorf("drop schema %s: %w", schema, err)
	}
	return nil
}
