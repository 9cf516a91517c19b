package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// BenchmarkPollScale polls pending device codes among 1,000 and among
// 1,000,000 live ones: a poll is a primary-key UPDATE, so the rate should
// barely move with the number of live codes. Run it on its own:
//
//	go test -run XXX -bench PollScale -benchtime 20000x ./internal/store/sqlite
func BenchmarkPollScale(b *testing.B) {
	for _, live := range []int{1_000, 1_000_000} {
		b.Run(fmt.Sprintf("live=%d", live), func(b *testing.B) {
			ctx := context.Background()
			s, err := OpenAndMigrate(ctx, filepath.Join(b.TempDir(), "scale.db"))
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
			// Bulk load in one transaction: the store's own inserts would
			// take minutes for a million rows and measure nothing new.
			tx, err := s.w.BeginTx(ctx, nil)
			if err != nil {
				b.Fatal(err)
			}
			ins, err := tx.PrepareContext(ctx, `INSERT INTO device_authorizations (`+deviceColumns+`)
				VALUES (?, ?, 'tv', 1, '["openid"]', 'pending', NULL, 5000, NULL, ?, ?, NULL, NULL, '192.0.2.1', 'bench', NULL)`)
			if err != nil {
				b.Fatal(err)
			}
			for i := range live {
				if _, err := ins.ExecContext(ctx, fmt.Sprintf("dc-%d", i), fmt.Sprintf("uc-%d", i),
					t0.UnixMilli(), t0.Add(1000*time.Hour).UnixMilli()); err != nil {
					b.Fatal(err)
				}
			}
			if err := tx.Commit(); err != nil {
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
					if res.Outcome != store.PollPending && res.Outcome != store.PollSlowDown {
						b.Errorf("outcome %s", res.Outcome)
						return
					}
				}
			})
		})
	}
}
