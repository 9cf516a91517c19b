package grant

import (
	"testing"
	"time"

	"github.com/latchkey/latchkey/internal/store"
)

// TestConcurrentRefresh: a second use of a refresh token is a lost race,
// not reuse, only within the window and only while the token it was
// rotated into is unused.
func TestConcurrentRefresh(t *testing.T) {
	t.Parallel()
	used := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fresh := &store.RefreshToken{Hash: "rt2", CreatedAt: used}
	spent := &store.RefreshToken{Hash: "rt2", CreatedAt: used, UsedAt: used.Add(time.Millisecond)}
	for _, tt := range []struct {
		name      string
		successor *store.RefreshToken
		after     time.Duration
		want      bool
	}{
		{"same instant, successor unused", fresh, 0, true},
		{"just inside the window", fresh, ConcurrentRefreshWindow - time.Millisecond, true},
		{"the loser's clock read first", fresh, -5 * time.Millisecond, true},
		{"a loser's clock far behind", fresh, -ConcurrentRefreshWindow, false},
		{"at the window's end", fresh, ConcurrentRefreshWindow, false},
		{"successor used already", spent, 0, false},
		{"successor gone", nil, 0, false},
	} {
		fam := &store.RefreshFamily{Token: &store.RefreshToken{Hash: "rt1", UsedAt: used}, Successor: tt.successor}
		if got := concurrentRefresh(fam, used.Add(tt.after)); got != tt.want {
			t.Errorf("%s: concurrentRefresh = %v, want %v", tt.name, got, tt.want)
		}
	}
}
