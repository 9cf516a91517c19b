package secevent

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/latchkey/latchkey/internal/clientip"
)

func TestLog(t *testing.T) {
	t.Parallel()
	ctx := clientip.WithAddr(context.Background(), "192.0.2.7")
	e := Event{Name: TokenIssued, Outcome: Success, ClientID: "tv", UserID: "u1", GrantID: "g1", GrantType: "refresh_token"}
	for _, tt := range []struct {
		name  string
		level slog.Level
		want  string // the line, or "" for none
	}{
		{"info", slog.LevelInfo, `level=INFO msg="security event" event=token.issued outcome=success client_id=tv user_id=u1 grant_id=g1 grant_type=refresh_token addr=192.0.2.7 reason=""`},
		{"debug", slog.LevelDebug, `level=INFO msg="security event" event=token.issued outcome=success client_id=tv user_id=u1 grant_id=g1 grant_type=refresh_token addr=192.0.2.7 reason=""`},
		{"warn: not written", slog.LevelWarn, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: tt.level,
				ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
					if a.Key == slog.TimeKey {
						return slog.Attr{}
					}
					return a
				}}))
			Log(ctx, log, e)
			if got := strings.TrimSpace(buf.String()); got != tt.want {
				t.Errorf("line = %q, want %q", got, tt.want)
			}
		})
	}
	Log(ctx, nil, e) // a nil log writes nothing, and does not panic
}

// BenchmarkLogNotWritten is what a security event costs a server whose log
// is above info: the token endpoint logs one per token.
func BenchmarkLogNotWritten(b *testing.B) {
	ctx := clientip.WithAddr(context.Background(), "192.0.2.7")
	log := slog.New(slog.NewTextHandler(&bytes.Buffer{}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	e := Event{Name: TokenIssued, Outcome: Success, ClientID: "tv", GrantType: "client_credentials"}
	b.ReportAllocs()
	for b.Loop() {
		Log(ctx, log, e)
	}
}
