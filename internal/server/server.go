// Package server is Latchkey's composition root: it opens the store, builds
// every endpoint from the configuration (endpoints.go), owns the whole route
// table (routes.go), the middleware, the health endpoints and the sweeper.
// It alone holds the whole store.Store; every other package gets the few
// methods it declares. It holds no protocol logic of its own.
package server

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/latchkey/latchkey/internal/admin"
	"github.com/latchkey/latchkey/internal/clientip"
	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/keys"
	"github.com/latchkey/latchkey/internal/metrics"
	"github.com/latchkey/latchkey/internal/oauth"
	"github.com/latchkey/latchkey/internal/seal"
	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/postgres"
	"github.com/latchkey/latchkey/internal/store/sqlite"
	"github.com/latchkey/latchkey/internal/web"
)

// Options carries what tests replace.
type Options struct {
	Now  func() time.Time // time.Now when nil
	Rand io.Reader        // crypto/rand.Reader when nil
	// NewRSA makes the RSA signing keys (keys.Manager.NewRSA); fresh ones
	// from crypto/rand when nil. For tests.
	NewRSA func(bits int) (*rsa.PrivateKey, error)
}

// Server is a configured Latchkey instance.
type Server struct {
	cfg     config.Config
	store   *cachingStore // the whole store, behind the client cache
	log     *slog.Logger
	now     func() time.Time
	rand    io.Reader
	issuer  string
	keys    *keys.Manager
	handler http.Handler
	// grantTypes are those the token endpoint answers, for discovery.
	grantTypes []string
	pages      *web.Pages
	// metrics is nil when metrics are off (metrics.listen empty): then
	// nothing is counted, and nothing costs.
	metrics *metrics.Metrics
}

// New builds a server on an open, migrated store: it makes sure a signing
// key exists and assembles the routes.
func New(ctx context.Context, cfg config.Config, st store.Store, log *slog.Logger, opts Options) (*Server, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	s := &Server{cfg: cfg, log: log, now: opts.Now, rand: opts.Rand, issuer: cfg.IssuerURL()}
	if cfg.Metrics.Enabled() {
		s.metrics = metrics.New()
	}
	// The client cache stands in front of the metered store, so that
	// store operations are what reaches the database.
	st = s.meterStore(st)
	s.store = newCachingStore(st, opts.Now)
	s.keys = &keys.Manager{
		Store:        st,
		Now:          s.now,
		Log:          log,
		PublishDelay: cfg.Keys.PublishDelay.D(),
		NewRSA:       opts.NewRSA,
		// A retired key stays published while a token it signed may still
		// be presented: the longest access or ID token life, the server's
		// or a client's own (at most admin.MaxTokenLifetime), and an hour.
		Retain:  max(cfg.Tokens.AccessTokenLifetime.D(), cfg.Tokens.IDTokenLifetime.D(), admin.MaxTokenLifetime) + time.Hour,
		Refresh: cfg.Keys.CacheRefresh.D(),
		RSABits: cfg.Keys.RSABits,
	}
	if err := s.keys.Init(ctx); err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	e, err := s.endpoints(ctx)
	if err != nil {
		return nil, err
	}
	s.grantTypes = e.token.GrantTypes()
	s.pages = e.pages
	s.handler = s.metrics.HTTP(s.recoverPanics(s.withAddr(s.mux(e))))
	return s, nil
}

// ServeHTTP serves the routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// MetricsHandler serves /metrics, behind metrics.token when one is set,
// for the metrics listener (metrics.listen) and never the public one; nil
// when metrics are off.
func (s *Server) MetricsHandler() http.Handler {
	if s.metrics == nil {
		return nil
	}
	return s.metrics.Handler(s.cfg.Metrics.Token)
}

// Wait waits for the work the pages do after answering (account mail
// whose composing must not show in the answer's timing).
func (s *Server) Wait() { s.pages.Wait() }

// Keys is the server's key manager (for `latchkey keys`).
func (s *Server) Keys() *keys.Manager { return s.keys }

// OpenStore opens the database a URL names (sqlite:PATH, or postgres://…
// with the pool settings of cfg) and migrates it to the current schema. On
// PostgreSQL the migration runs under an advisory lock, so instances that
// start together migrate once. With secrets keys configured the store seals
// what it keeps of the recoverable secrets, and the ones a database holds
// in plaintext (written before it had a key) are sealed now: the migration
// to sealing, which instances starting together may run at once
// (store.SecretStore's updates are conditional).
func OpenStore(ctx context.Context, cfg config.Config) (store.Store, error) {
	var ring *seal.Ring
	if len(cfg.SecretsKeys) > 0 {
		var err error
		if ring, err = seal.Parse(cfg.SecretsKeys); err != nil {
			return nil, fmt.Errorf("secrets_keys: %w", err)
		}
	}
	st, err := openStore(ctx, cfg)
	if err != nil || ring == nil {
		return st, err
	}
	st.UseSealer(ring)
	if _, err := st.SealSecrets(ctx, false); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

func openStore(ctx context.Context, cfg config.Config) (store.Store, error) {
	dsn := cfg.Database
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		path := strings.TrimPrefix(dsn, "sqlite:")
		if path == "" || path == ":memory:" {
			return nil, errors.New("sqlite: give a file path, as in sqlite:latchkey.db")
		}
		return sqlite.OpenAndMigrate(ctx, path)
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return postgres.OpenAndMigrate(ctx, dsn, postgres.Options{
			MaxConns:         int32(cfg.Postgres.MaxConns),
			MinConns:         int32(cfg.Postgres.MinConns),
			StatementTimeout: cfg.Postgres.StatementTimeout.D(),
			Schema:           cfg.Postgres.Schema,
		})
	}
	return nil, fmt.Errorf("database %q: want sqlite:PATH or postgres://…", dsn)
}

// Sweep deletes expired rows, audit entries past audit.retention and
// retired keys every interval until ctx ends.
func (s *Server) Sweep(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.sweepOnce(ctx)
	}
}

// sweepOnce is one round of Sweep. Each step runs on its own: one that
// fails (a long backlog past the database's statement timeout, say) keeps
// none of the others from running, and what it deleted before failing
// stays deleted.
func (s *Server) sweepOnce(ctx context.Context) {
	n, err := s.store.Sweep(ctx, s.now())
	s.logSweepStep(ctx, "sweep", "swept expired rows", "rows", n, err)
	n, err = s.store.PruneAudit(ctx, s.now().Add(-s.cfg.Audit.Retention.D()))
	s.logSweepStep(ctx, "pruning the audit log", "pruned the audit log", "entries", n, err)
	n, err = s.store.PruneInvitations(ctx, s.now().Add(-s.cfg.Invitations.Retention.D()))
	s.logSweepStep(ctx, "pruning ended invitations", "pruned ended invitations", "invitations", n, err)
	if err := s.keys.Prune(ctx); err != nil && ctx.Err() == nil {
		s.log.Warn("pruning retired keys failed", "err", err)
	}
}

// logSweepStep logs one step of sweepOnce: its failure at warn (what
// failed; not once ctx has ended, at shutdown), else the n rows (counted
// as unit) it deleted at debug, as done, when there were any.
func (s *Server) logSweepStep(ctx context.Context, what, done, unit string, n int64, err error) {
	switch {
	case err != nil && ctx.Err() == nil:
		s.log.Warn(what+" failed", "err", err, unit, n)
	case err == nil && n > 0:
		s.log.Debug(done, unit, n)
	}
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = io.WriteString(w, "ok\n")
}

// readyz answers 200 when the database is reachable and its schema current,
// within a bound so a hung database fails the check instead of hanging it.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 4*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := s.store.Ping(ctx); err != nil {
		s.log.Warn("not ready", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "database not ready\n")
		return
	}
	_, _ = io.WriteString(w, "ready\n")
}

// withAddr puts the client's address (clientip.From, by trust_proxy) in
// the request's context, for what sees the context but not the request.
func (s *Server) withAddr(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(clientip.WithAddr(r.Context(), clientip.From(r, s.cfg.TrustProxy))))
	})
}

// recoverPanics turns a panic into a 500 instead of a dropped connection,
// and logs it. No handler should panic; this is the net under them.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("handler panicked", "method", r.Method, "route", oauth.Route(r), "panic", v)
				w.Header().Set("Cache-Control", "no-store")
				http.Error(w, "internal error", http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}
