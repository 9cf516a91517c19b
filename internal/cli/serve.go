package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime/debug"
	"time"

	"github.com/latchkey/latchkey/internal/config"
	"github.com/latchkey/latchkey/internal/server"
	"github.com/latchkey/latchkey/internal/store"
)

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// gcPercent is the collector's target when GOGC is not set. Latchkey's
// live heap is a few MiB and its requests allocate briefly, so at Go's
// default of 100 the collector ran hundreds of times a second under load
// and took about a sixth of the CPU (BENCHMARKS.md's profiles). At 400 the
// heap may grow to five times the live data, some tens of MiB, before a
// cycle: refresh rotations went from 0.13 to 0.18 of the baseline in one
// run. GOGC in the environment, as for any Go program, wins.
const gcPercent = 400

func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
}

const serveHelp = `
Runs the server. Settings come from the configuration file, then LATCHKEY_*
variables, then these flags. Every problem of the configuration is
reported at once.

With --dev it listens on loopback only, and creates a development user, a
device client and a web client if they are missing; it prints what to try.

Without --dev, a listen address other machines can reach needs --issuer,
the https address they reach the server at. A new installation serves
as soon as it starts, and logs what it lacks before anyone can sign in
(clients, users, an admin token) with the command that adds each.

Examples:
  latchkey serve --dev
  latchkey serve --config /etc/latchkey/latchkey.yaml`

func runServe(ctx context.Context, e *Env, args []string) error {
	fs := e.newFlags("serve", "serve [--dev] [--config FILE] [--listen HOST:PORT] [--issuer URL] [--db DATABASE] [flags]", serveHelp)
	var df dbFlags
	df.register(fs)
	listen := fs.String("listen", "", "`HOST:PORT` to listen on (default $LATCHKEY_LISTEN, else 127.0.0.1:8080)")
	issuer := fs.String("issuer", "", "the issuer `URL` (default $LATCHKEY_ISSUER, else http:// and the listen address)")
	logFormat := fs.String("log-format", "", "log `FORMAT`: text or json (default $LATCHKEY_LOG_FORMAT, else text)")
	logLevel := fs.String("log-level", "", "log `LEVEL`: debug, info, warn or error (default $LATCHKEY_LOG_LEVEL, else info)")
	dev := fs.Bool("dev", false, "development mode: loopback only, with a development user and clients created if missing")
	pprofAddr := fs.String("pprof", "", "serve Go's profiler (net/http/pprof) on this loopback `HOST:PORT`, apart from the main listener")
	if _, err := e.parse(fs, args); err != nil {
		return err
	}
	cfg, err := e.loadConfig(df, true, func(cfg *config.Config) error {
		set := func(v string, dst *string) {
			if v != "" {
				*dst = v
			}
		}
		set(*listen, &cfg.Listen)
		set(*issuer, &cfg.Issuer)
		set(*logFormat, &cfg.Log.Format)
		set(*logLevel, &cfg.Log.Level)
		cfg.Dev = *dev
		if cfg.Dev {
			host, _, err := net.SplitHostPort(cfg.Listen)
			if err == nil && !isLoopbackHost(host) {
				return fmt.Errorf("--dev listens on loopback only; %q is not a loopback address", cfg.Listen)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	// A database dump alone must not sign a token (docs/security.md SS-05):
	// outside development the secrets it keeps are sealed.
	if !cfg.Dev && len(cfg.SecretsKeys) == 0 {
		return errors.New(noSecretsKey)
	}
	log := newLogger(cfg, e.Stderr)
	tuneGC()

	st, err := openWaiting(ctx, cfg, log, dbWait)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer st.Close()

	var dev0 *devInfo
	if cfg.Dev {
		if dev0, err = ensureDevData(ctx, st, &cfg); err != nil {
			return fmt.Errorf("development data: %w", err)
		}
	}
	srv, err := server.New(ctx, cfg, st, log, server.Options{})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	sweepCtx, stopSweep := context.WithCancel(context.Background())
	defer stopSweep()
	go srv.Sweep(sweepCtx, cfg.SweepInterval.D())

	if *pprofAddr != "" {
		stopProf, err := servePprof(*pprofAddr, log)
		if err != nil {
			return err
		}
		defer stopProf()
	}

	if h := srv.MetricsHandler(); h != nil {
		stopMetrics, err := serveMetrics(cfg.Metrics, h, log, e.Stdout)
		if err != nil {
			return err
		}
		defer stopMetrics()
	}

	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	// Opening the store, migrating and parsing templates left garbage the
	// raised GC target would keep for a while: hand it back to the system
	// now, so an idle instance holds only what it uses.
	debug.FreeOSMemory()
	// What a new installation lacks is logged before "latchkey is
	// serving", so whoever waits for that line has read the advice too.
	if dev0 == nil {
		gaps, err := missing(ctx, st, cfg)
		if err != nil {
			// Advice only: a database hiccup now is no reason to stop serving.
			log.Warn("could not check what this installation lacks", "err", err)
		}
		for _, g := range gaps {
			log.Warn(g.what, "fix", g.fix)
		}
	}
	log.Info("latchkey is serving", "version", e.Build.Version, "commit", shortCommit(e.Build.Commit), "listen", ln.Addr().String(), "issuer", cfg.IssuerURL(), "database", redactDSN(cfg.Database))
	if dev0 != nil {
		printDevBanner(e.Stdout, cfg, dev0)
	}

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Graceful shutdown: stop accepting, let requests in flight finish.
	log.Info("shutting down; finishing requests in flight")
	shutCtx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	stopSweep()
	log.Info("stopped")
	return nil
}

// setupStore is what serve asks the database about a new installation.
type setupStore interface {
	HasClients(ctx context.Context) (bool, error)
	HasUsers(ctx context.Context) (bool, error)
}

// gap is something a server lacks before anyone can sign in, and how to
// add it.
type gap struct{ what, fix string }

// missing lists what a server outside development mode lacks: clients,
// users, and the admin token the commands that add them need. A new
// installation still starts (its health endpoints answer, a deploy goes
// on), and says in its log what to do next; one set up already says
// nothing. A server without an admin token but with clients and users is
// an operator's choice (docs/security.md G-10), not a gap.
func missing(ctx context.Context, st setupStore, cfg config.Config) ([]gap, error) {
	hasClients, err := st.HasClients(ctx)
	if err != nil {
		return nil, err
	}
	hasUsers, err := st.HasUsers(ctx)
	if err != nil {
		return nil, err
	}
	if hasClients && hasUsers {
		return nil, nil
	}
	endpoint := localURL(cfg.Listen)
	var gaps []gap
	if cfg.AdminToken == "" {
		if !hasClients && !hasUsers {
			db := cfg.Database
			if redactDSN(db) != db { // not a password to copy from a log
				db = "DATABASE"
			}
			return []gap{{
				what: "this is a new installation: no clients, no users, and no admin_token for the admin API that adds them",
				fix: "stop the server and run latchkey init --config FILE --issuer URL --db " + db + " --email EMAIL " +
					"(it writes a configuration with an admin token and creates the first user), then latchkey serve --config FILE; " +
					"see docs/deploy.md",
			}}, nil
		}
		gaps = append(gaps, gap{
			what: "the admin API is off (no admin_token), and the commands below need it",
			fix:  "set admin_token in the configuration, or LATCHKEY_ADMIN_TOKEN, to 32 or more random characters, and restart",
		})
	}
	if !hasUsers {
		what := "there are no users yet: nobody can sign in until someone registers at " + cfg.IssuerURL() + "/register"
		if cfg.Accounts.RegistrationMode() == "off" {
			what = "there are no users yet, and registration is off (accounts.registration): nobody can sign in until you create one"
		}
		gaps = append(gaps, gap{
			what: what,
			fix:  "latchkey users create --endpoint " + endpoint + " --email EMAIL --name NAME",
		})
	}
	if !hasClients {
		gaps = append(gaps, gap{
			what: "there are no clients yet: no device or application can ask for tokens",
			fix:  "latchkey clients create --endpoint " + endpoint + ` --name "Living room TV" --public --grant-types device_code,refresh_token`,
		})
	}
	return gaps, nil
}

// servePprof serves the profiler on a loopback address of its own, so
// profiles of a loaded server can be taken without exposing them on the
// public listener.
func servePprof(addr string, log *slog.Logger) (stop func(), err error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || !isLoopbackHost(host) {
		return nil, fmt.Errorf("--pprof %q: want a loopback host:port such as 127.0.0.1:6060", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--pprof: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	ps := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = ps.Serve(ln) }()
	log.Info("profiler listening", "addr", ln.Addr().String())
	return func() { ps.Close() }, nil
}

// serveMetrics serves Prometheus metrics on their own listener
// (metrics.listen), never the public one, and says where they are.
func serveMetrics(m config.Metrics, h http.Handler, log *slog.Logger, out io.Writer) (stop func(), err error) {
	ln, err := net.Listen("tcp", m.Listen)
	if err != nil {
		return nil, fmt.Errorf("metrics.listen: %w", err)
	}
	ms := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		MaxHeaderBytes:    8 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go func() { _ = ms.Serve(ln) }()
	where := "http://" + ln.Addr().String() + "/metrics"
	auth := "no token"
	if m.Token != "" {
		auth = "bearer token metrics.token"
	}
	log.Info("metrics listening", "url", where, "auth", auth)
	fmt.Fprintf(out, "Prometheus metrics: %s (%s)\n", where, auth)
	return func() { ms.Close() }, nil
}

// dbWait is how long serve waits for an unreachable database at start-up:
// instances and their database often start together (a deploy, a reboot),
// and a server that waits is friendlier than one that needs a restart loop.
const dbWait = time.Minute

// openWaiting opens the store, retrying while the database is unreachable
// (store.ErrUnavailable) for up to wait; any other error is final.
func openWaiting(ctx context.Context, cfg config.Config, log *slog.Logger, wait time.Duration) (store.Store, error) {
	deadline := time.Now().Add(wait)
	delay := 500 * time.Millisecond
	for {
		st, err := server.OpenStore(ctx, cfg)
		if err == nil || !errors.Is(err, store.ErrUnavailable) || time.Now().Add(delay).After(deadline) {
			return st, err
		}
		log.Warn("waiting for the database", "database", redactDSN(cfg.Database), "retry_in", delay.String(), "err", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, 5*time.Second)
	}
}

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
