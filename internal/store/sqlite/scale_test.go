package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store/sqlite"
	"github.com/latchkey/latchkey/internal/store/storetest"
)

// BenchmarkPollScale polls pending device codes among 1,000 and among
// 1,000,000 live ones (storetest.PollScale): a pending poll reads its row
// by primary key and writes nothing (polls.go), so what changes with the
// number of codes is only whether the pages it reads are in the reader's
// cache or must come from the file (the operating system's cache).
// Run it on its own:
//
//	go test -run XXX -bench PollScale -benchtime 40000x ./internal/store/sqlite
func BenchmarkPollScale(b *testing.B) {
	for _, live := range storetest.ScaleLive {
		b.Run(fmt.Sprintf("live=%d", live), func(b *testing.B) {
			ctx := context.Background()
			s, err := sqlite.OpenAndMigrate(ctx, filepath.Join(b.TempDir(), "scale.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			storetest.PollScale(b, s, live, func(created, expires time.Time) {
				if err := sqlite.LoadPendingCodes(ctx, s, live, created, expires); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}
