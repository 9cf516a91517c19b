package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkey/latchkey/internal/store/postgres"
	"github.com/latchkey/latchkey/internal/store/postgres/pgtest"
	"github.com/latchkey/latchkey/internal/store/storetest"
	"github.com/latchkey/latchkey/internal/testenv"
)

// BenchmarkPollScale is package sqlite's benchmark of the same name on
// PostgreSQL (storetest.PollScale): pending polls among 1,000 and among
// 1,000,000 live device codes. It also reports how many of the polls were
// HOT updates (migration 0007). Run it on its own:
//
//	go test -run XXX -bench PollScale -benchtime 40000x ./internal/store/postgres
func BenchmarkPollScale(b *testing.B) {
	dsn := testenv.PostgresDSN(b)
	for _, live := range storetest.ScaleLive {
		b.Run(fmt.Sprintf("live=%d", live), func(b *testing.B) {
			ctx := context.Background()
			schema := pgtest.Schema(b, dsn)
			s, err := postgres.OpenAndMigrate(ctx, dsn, postgres.Options{MaxConns: 25, Schema: schema})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			conn, err := pgx.Connect(ctx, dsn)
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close(ctx)
			if _, err := conn.Exec(ctx, `SET search_path = `+pgx.Identifier{schema}.Sanitize()); err != nil {
				b.Fatal(err)
			}
			storetest.PollScale(b, s, live, func(created, expires time.Time) {
				// COPY, then fresh statistics for the planner.
				rows := pgx.CopyFromSlice(live, func(i int) ([]any, error) {
					return []any{fmt.Sprintf("dc-%d", i), fmt.Sprintf("uc-%d", i), "tv", true, `["openid"]`, "pending",
						int64(5000), created.UnixMilli(), expires.UnixMilli(), "192.0.2.1", "bench"}, nil
				})
				if _, err := conn.CopyFrom(ctx, pgx.Identifier{"device_authorizations"}, []string{"device_code_hash", "user_code_hash",
					"client_id", "client_public", "scopes", "status", "interval_ms", "created_at", "expires_at", "request_ip",
					"request_user_agent"}, rows); err != nil {
					b.Fatal(err)
				}
				if _, err := conn.Exec(ctx, `VACUUM ANALYZE device_authorizations`); err != nil {
					b.Fatal(err)
				}
			})
			// The share of polls that were HOT updates. A server process
			// reports its statistics when it ends, so close the store's
			// connections first, then give the view a moment.
			s.Close()
			time.Sleep(time.Second)
			var upd, hot int64
			if err := conn.QueryRow(ctx, `SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables
				WHERE relname = 'device_authorizations' AND schemaname = $1`, schema).Scan(&upd, &hot); err != nil {
				b.Fatal(err)
			}
			b.Logf("%d updates, %d of them HOT", upd, hot)
		})
	}
}
