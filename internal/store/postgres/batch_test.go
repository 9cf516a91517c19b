package postgres

// These tests drive the batcher from inside the package, so that they can
// decide what one batch holds: a test takes the queued writes off the
// batcher's channel itself and commits them as one batch. They open their
// own stores (openBatchStore) because package pgtest imports this one.

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/sqlstore"
	"github.com/latchkey/latchkey/internal/testenv"
)

var bt0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// openBatchStore returns a migrated store in a new schema, with dsn's query
// parameters set from params, and a plain connection to the same database;
// the schema is dropped when t ends.
func openBatchStore(t *testing.T, params url.Values) (*Store, *pgx.Conn) {
	t.Helper()
	ctx := t.Context()
	dsn := testenv.PostgresDSN(t)
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Skipf("LATCHKEY_TEST_POSTGRES is not a postgres:// URL: %v", err)
	}
	q := u.Query()
	for k, v := range params {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	schema := "test_" + strings.ToLower(rand.Text())
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
			t.Errorf("drop test schema %s: %v", schema, err)
		}
		conn.Close(ctx)
	})
	s, err := OpenAndMigrate(ctx, u.String(), Options{MaxConns: 10, Schema: schema})
	if err != nil {
		t.Fatalf("OpenAndMigrate: %v", err)
	}
	t.Cleanup(func() { s.Close() }) // before the DROP SCHEMA: cleanups run last first
	if err := s.CreateClient(ctx, &store.Client{ID: "tv", Name: "TV", AuthMethod: store.AuthNone}); err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	if _, err := conn.Exec(ctx, `SET search_path = `+pgx.Identifier{schema}.Sanitize()); err != nil {
		t.Fatalf("set search_path: %v", err)
	}
	return s, conn
}

// manualBatchers replaces s's batchers with one that has no worker, for
// polls and the other writes alike: the test takes the writes off its
// channel and commits them itself.
func manualBatchers(s *Store) *batcher {
	s.polls.close()
	s.writes.close()
	b := &batcher{pool: s.pool, q: sqlstore.NewBatcher[*write](nil, errClosed)}
	s.polls, s.writes = b, b
	return b
}

// take receives n queued writes.
func take(t *testing.T, b *batcher, n int) []*write {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	ws := make([]*write, n)
	for i := range ws {
		w, err := b.q.Take(ctx)
		if err != nil {
			t.Fatalf("%d writes queued after 10s, want %d", i, n)
		}
		ws[i] = w
	}
	return ws
}

func deviceAuth(n int) *store.DeviceAuth {
	return &store.DeviceAuth{
		DeviceCodeHash: fmt.Sprintf("device-%d", n),
		UserCodeHash:   fmt.Sprintf("user-%d", n),
		ClientID:       "tv",
		ClientPublic:   true,
		Status:         store.DevicePending,
		Interval:       5 * time.Second,
		CreatedAt:      bt0,
		ExpiresAt:      bt0.Add(10 * time.Minute),
	}
}

// stored reports whether a device authorization with user code hash h is
// in the database.
func stored(t *testing.T, s *Store, h string) bool {
	t.Helper()
	_, err := s.GetDeviceAuthByUserCode(context.Background(), h)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetDeviceAuthByUserCode(%q): %v", h, err)
	}
	return err == nil
}

// TestBatchOneWriteFails: one batch of new device authorizations, throttle
// hits and a poll, sent by concurrent callers, where one insert reuses a
// stored user code. Its unique violation aborts the batch's transaction;
// every write is then run alone, so that one answers ErrConflict and the
// others succeed, each once (the hit counts are 1…n, none counted twice).
// In each of pgx's query exec modes.
func TestBatchOneWriteFails(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"cache_statement", "exec", "simple_protocol"} {
		t.Run(mode, func(t *testing.T) {
			ctx := t.Context()
			s, _ := openBatchStore(t, url.Values{"default_query_exec_mode": {mode}})
			taken := deviceAuth(1000)
			if err := s.CreateDeviceAuth(ctx, taken); err != nil {
				t.Fatalf("CreateDeviceAuth: %v", err)
			}
			b := manualBatchers(s)

			const creates, hits, bad = 30, 10, 17
			createErrs := make([]error, creates)
			counts := make([]int, hits)
			hitErrs := make([]error, hits)
			var poll *store.PollResult
			var pollErr error
			var wg sync.WaitGroup
			for i := range creates {
				wg.Go(func() {
					a := deviceAuth(i)
					if i == bad {
						a.UserCodeHash = taken.UserCodeHash
					}
					createErrs[i] = s.CreateDeviceAuth(ctx, a)
				})
			}
			for i := range hits {
				wg.Go(func() { counts[i], hitErrs[i] = s.Hit(ctx, "ip:192.0.2.7", bt0, bt0.Add(time.Hour)) })
			}
			wg.Go(func() { poll, pollErr = s.PollDeviceAuth(ctx, taken.DeviceCodeHash, "tv", true, bt0.Add(time.Minute)) })
			b.commit(take(t, b, creates+hits+1))
			wg.Wait()

			for i, err := range createErrs {
				switch {
				case i == bad && !errors.Is(err, store.ErrConflict):
					t.Errorf("CreateDeviceAuth with a taken user code = %v, want ErrConflict", err)
				case i != bad && err != nil:
					t.Errorf("CreateDeviceAuth #%d = %v, want success", i, err)
				case i != bad && !stored(t, s, deviceAuth(i).UserCodeHash):
					t.Errorf("CreateDeviceAuth #%d succeeded but is not stored", i)
				}
			}
			if got, err := s.GetDeviceAuthByUserCode(ctx, taken.UserCodeHash); err != nil || got.DeviceCodeHash != taken.DeviceCodeHash {
				t.Errorf("the taken user code now names %+v, %v; want %s still", got, err, taken.DeviceCodeHash)
			}
			if err := errors.Join(hitErrs...); err != nil {
				t.Errorf("Hit: %v", err)
			}
			slices.Sort(counts)
			if want := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}; !slices.Equal(counts, want) {
				t.Errorf("Hit counts = %v, want %v", counts, want)
			}
			if n, err := s.Count(ctx, "ip:192.0.2.7", bt0); n != hits || err != nil {
				t.Errorf("Count = %d, %v; want %d", n, err, hits)
			}
			if pollErr != nil || poll.Outcome != store.PollPending {
				t.Errorf("PollDeviceAuth = %+v, %v; want pending", poll, pollErr)
			}
		})
	}
}

// TestBatchCancelled: a write whose context is done before its batch is
// sent is not sent, and answers the context's error; the rest of the batch
// commits.
func TestBatchCancelled(t *testing.T) {
	t.Parallel()
	s, _ := openBatchStore(t, nil)
	b := manualBatchers(s)
	ctx, cancel := context.WithCancel(t.Context())
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() {
			c := t.Context()
			if i == 1 {
				c = ctx
			}
			errs[i] = s.CreateDeviceAuth(c, deviceAuth(i))
		})
	}
	ws := take(t, b, len(errs))
	cancel()
	b.commit(ws)
	wg.Wait()
	for i, err := range errs {
		if i == 1 {
			if !errors.Is(err, context.Canceled) || stored(t, s, deviceAuth(i).UserCodeHash) {
				t.Errorf("cancelled CreateDeviceAuth = %v, stored %v; want context.Canceled, not stored",
					err, stored(t, s, deviceAuth(i).UserCodeHash))
			}
			continue
		}
		if err != nil || !stored(t, s, deviceAuth(i).UserCodeHash) {
			t.Errorf("CreateDeviceAuth #%d = %v, stored %v; want success", i, err, stored(t, s, deviceAuth(i).UserCodeHash))
		}
	}
}

// lockThrottle holds the row lock of throttle key in window bt0 from conn
// until the test ends or the returned function is called, so a Hit on it
// waits.
func lockThrottle(t *testing.T, conn *pgx.Conn, key string) (release func()) {
	t.Helper()
	ctx := t.Context()
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO throttles (key, window_start, count, expires_at) VALUES ($1, $2, 1, $3)`,
		key, bt0.UnixMilli(), bt0.Add(time.Hour).UnixMilli()); err != nil {
		t.Fatalf("lock throttle row: %v", err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			if err := tx.Rollback(context.Background()); err != nil {
				t.Errorf("Rollback: %v", err)
			}
		})
	}
	t.Cleanup(release)
	return release
}

// waitForLock waits until a session of application app waits for a lock,
// and returns its process id.
func waitForLock(t *testing.T, app string) int {
	t.Helper()
	// Asked from a connection of its own: in a transaction, pg_stat_activity
	// would show the snapshot it took first.
	watch, err := pgx.Connect(t.Context(), testenv.PostgresDSN(t))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer watch.Close(context.Background())
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		var pid int
		err := watch.QueryRow(t.Context(), `SELECT pid FROM pg_stat_activity
			WHERE application_name = $1 AND wait_event_type = 'Lock'`, app).Scan(&pid)
		if err == nil {
			return pid
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			t.Fatalf("pg_stat_activity: %v", err)
		}
	}
	t.Fatal("no batch waiting for the lock after 10s")
	return 0
}

// TestBatchConnectionLost: when the connection fails under a batch, the
// commit's outcome is unknown, so every write answers ErrUnavailable and
// none is run again (run alone, it could commit twice). Here the server
// ends the session while the batch waits for a row lock, so nothing was
// committed, and nothing may be stored afterwards either.
func TestBatchConnectionLost(t *testing.T) {
	t.Parallel()
	app := "latchkey-test-" + strings.ToLower(rand.Text())
	s, conn := openBatchStore(t, url.Values{"application_name": {app}})
	b := manualBatchers(s)
	release := lockThrottle(t, conn, "locked")

	ctx := t.Context()
	errs := make([]error, 4)
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() { errs[i] = s.CreateDeviceAuth(ctx, deviceAuth(i)) })
	}
	wg.Go(func() { _, errs[3] = s.Hit(ctx, "locked", bt0, bt0.Add(time.Hour)) })
	done := make(chan struct{})
	go func() {
		defer close(done)
		// The inserts run first (key order), then the hit waits.
		b.commit(take(t, b, len(errs)))
	}()
	pid := waitForLock(t, app)
	if _, err := conn.Exec(ctx, `SELECT pg_terminate_backend($1)`, pid); err != nil {
		t.Fatalf("pg_terminate_backend: %v", err)
	}
	release() // so that a write run again would commit
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("batch still running 10s after its session ended")
	}
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("write #%d on a lost connection = %v, want ErrUnavailable", i, err)
		}
	}
	for i := range 3 {
		if stored(t, s, deviceAuth(i).UserCodeHash) {
			t.Errorf("device authorization #%d is stored: a write was run again after the connection failed", i)
		}
	}
}

// TestBatchAbandoned: a batch whose callers have all given up is
// cancelled, as their own statements would be, rather than wait for a row
// lock for ever and hold its worker and connection.
func TestBatchAbandoned(t *testing.T) {
	t.Parallel()
	app := "latchkey-test-" + strings.ToLower(rand.Text())
	s, conn := openBatchStore(t, url.Values{"application_name": {app}})
	b := manualBatchers(s)
	lockThrottle(t, conn, "locked")

	ctx, cancel := context.WithCancel(t.Context())
	errs := make([]error, 2)
	var wg sync.WaitGroup
	wg.Go(func() { errs[0] = s.CreateDeviceAuth(ctx, deviceAuth(0)) })
	wg.Go(func() { _, errs[1] = s.Hit(ctx, "locked", bt0, bt0.Add(time.Hour)) })
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.commit(take(t, b, len(errs)))
	}()
	waitForLock(t, app)
	cancel()
	wg.Wait() // the callers return at once
	for i, err := range errs {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("write #%d, given up = %v; want context.Canceled", i, err)
		}
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("abandoned batch still waiting for the lock after 10s")
	}
	if stored(t, s, deviceAuth(0).UserCodeHash) {
		t.Error("the abandoned batch's device authorization is stored")
	}
}

// TestBatchClose: Close answers the batch in hand, then stops; writes still
// queued, and writes after Close, answer ErrUnavailable.
func TestBatchClose(t *testing.T) {
	t.Parallel()
	app := "latchkey-test-" + strings.ToLower(rand.Text())
	s, conn := openBatchStore(t, url.Values{"application_name": {app}})

	release := lockThrottle(t, conn, "locked")

	ctx := t.Context()
	var inHand error
	var wg sync.WaitGroup
	wg.Go(func() { _, inHand = s.Hit(ctx, "locked", bt0, bt0.Add(time.Hour)) })
	waitForLock(t, app) // the worker is busy with the hit
	queued := make([]error, 5)
	for i := range queued {
		wg.Go(func() { queued[i] = s.CreateDeviceAuth(ctx, deviceAuth(i)) })
	}
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		s.Close()
	}()
	select {
	case <-closed:
		t.Fatal("Close returned while a batch was in hand")
	case <-time.After(100 * time.Millisecond):
	}
	release()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close still waiting 10s after the batch in hand could finish")
	}
	wg.Wait()
	if inHand != nil {
		t.Errorf("Hit in hand when closing = %v, want success", inHand)
	}
	for i, err := range queued {
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("CreateDeviceAuth #%d queued when closing = %v, want ErrUnavailable", i, err)
		}
	}
	if _, err := s.PollDeviceAuth(ctx, "device-0", "tv", true, bt0); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("PollDeviceAuth after Close = %v, want ErrUnavailable", err)
	}
}

// TestBatchConcurrent: many concurrent writes through the running
// batcher, one of them a user code collision: that one answers
// ErrConflict, the others are stored.
func TestBatchConcurrent(t *testing.T) {
	t.Parallel()
	s, _ := openBatchStore(t, nil)
	ctx := t.Context()
	taken := deviceAuth(1000)
	if err := s.CreateDeviceAuth(ctx, taken); err != nil {
		t.Fatalf("CreateDeviceAuth: %v", err)
	}
	const n, bad = 200, 77
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			a := deviceAuth(i)
			if i == bad {
				a.UserCodeHash = taken.UserCodeHash
			}
			errs[i] = s.CreateDeviceAuth(ctx, a)
		})
	}
	wg.Wait()
	for i, err := range errs {
		switch {
		case i == bad && !errors.Is(err, store.ErrConflict):
			t.Errorf("CreateDeviceAuth with a taken user code = %v, want ErrConflict", err)
		case i != bad && (err != nil || !stored(t, s, deviceAuth(i).UserCodeHash)):
			t.Errorf("CreateDeviceAuth #%d = %v, stored %v; want success", i, err, stored(t, s, deviceAuth(i).UserCodeHash))
		}
	}
}

// TestBatchSoftCommit: poll batches run, and so commit, with
// synchronous_commit off, and the other writes' batches with the server's
// setting, in each of pgx's query exec modes.
func TestBatchSoftCommit(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"cache_statement", "exec", "simple_protocol"} {
		t.Run(mode, func(t *testing.T) {
			s, conn := openBatchStore(t, url.Values{"default_query_exec_mode": {mode}})
			var session string
			if err := conn.QueryRow(t.Context(), `SHOW synchronous_commit`).Scan(&session); err != nil {
				t.Fatalf("SHOW synchronous_commit: %v", err)
			}
			for _, tt := range []struct {
				name string
				b    *batcher
				want string
			}{
				{"polls", s.polls, "off"},
				{"writes", s.writes, session},
			} {
				var got string
				err := tt.b.do(&write{ctx: t.Context(), sql: `SELECT current_setting('synchronous_commit')`,
					scan: func(row pgx.Row) error { return row.Scan(&got) }})
				if err != nil || got != tt.want {
					t.Errorf("synchronous_commit in a batch of %s = %q, %v; want %q", tt.name, got, err, tt.want)
				}
			}
		})
	}
}
