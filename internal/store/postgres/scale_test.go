package postgres_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/store"
	"github.com/latchkey/latchkey/internal/store/postgres"
	"github.com/latchkey/latchkey/internal/store/postgres/pgtest"
	"github.com/latchkey/latchkey/internal/testenv"
)

// BenchmarkPollScale is package sqlite's benchmark of the same name on
// PostgreSQL: pending polls among 1,000 and among 1,000,000 live device
// codes. Run it on its own:
//
//	go test -run XXX -bench PollScale -benchtime 40000x ./internal/store/postgres
func BenchmarkPollScale(b *testing.B) {
	dsn := testenv.PostgresDSN(b)
	for _, live := range []int{1_000, 1_000_000} {
		b.Run(fmt.Sprintf("live=%d", live), func(b *testing.B) {
			ctx := context.Background()
			schema := pgtest.Schema(b, dsn)
			s, err := postgres.OpenAndMigrate(ctx, dsn, postgres.Options{MaxConns: 25, Schema: schema})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			c := &store.Client{ID: "tv", Name: "TV", AuthMethod: store.AuthNone, GrantTypes: []string{store.GrantDeviceCode},
				CreatedAt: t0, UpdatedAt: t0}
			if err := s.CreateClient(ctx, c); err != nil {
				b.Fatal(err)
			}
			// Bulk load with COPY: the store's own inserts would take
			// minutes for a million rows and measure nothing new.
			conn, err := pgx.Connect(ctx, dsn)
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close(ctx)
			if _, err := conn.Exec(ctx, `SET search_path = `+pgx.Identifier{schema}.Sanitize()); err != nil {
				b.Fatal(err)
			}
			created, expires := t0.UnixMilli(), t0.Add(1000*time.Hour).UnixMilli()
			rows := pgx.CopyFromSlice(live, func(i int) ([]any, error) {
				return []any{fmt.Sprintf("dc-%d", i), fmt.Sprintf("uc-%d", i), "tv", true, `["openid"]`, "pending",
					int64(5000), created, expires, "192.0.2.1", "bench"}, nil
			})
			if _, err := conn.CopyFrom(ctx, pgx.Identifier{"device_authorizations"}, []string{"device_code_hash", "user_code_hash",
				"client_id", "client_public", "scopes", "status", "interval_ms", "created_at", "expires_at", "request_ip",
				"request_user_agent"}, rows); err != nil {
				b.Fatal(err)
			}
			if _, err := conn.Exec(ctx, `VACUUM ANALYZE device_authorizations`); err != nil {
				b.Fatal(err)
			}
			var n atomic.Int64
			b.ResetTimer()
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					// Spread over the codes; each on time (6 s after its last poll).
					code := fmt.Sprintf("dc-%d", (i*7919)%int64(live))
					now := t0.Add(time.Duration(i/int64(live)+1) * 6 * time.Second)
					res, err := s.PollDeviceAuth(ctx, code, "tv", true, now)
					if err != nil {
						b.Error(err)
						return
					}
					if res.Outcome != store.PollPending {
						b.Errorf("outcome %s", res.Outcome)
						return
					}
				}
			})
			b.StopTimer()
			// The share of polls that were HOT updates (migration 0007);
			// the statistics reach the view within a second or so.
			time.Sleep(1500 * time.Millisecond)
			var upd, hot int64
			if err := conn.QueryRow(ctx, `SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables
				WHERE relname = 'device_authorizations' AND schemaname = $1`, schema).Scan(&upd, &hot); err != nil {
				b.Fatal(err)
			}
			b.Logf("%d updates, %d of them HOT", upd, hot)
		})
	}
}
