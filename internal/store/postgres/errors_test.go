package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/latchkey/latchkey/internal/store"
)

func TestMapErr(t *testing.T) {
	t.Parallel()
	readErr := &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	writeErr := &net.OpError{Op: "write", Net: "tcp", Err: syscall.EPIPE}
	for _, tt := range []struct {
		name string
		err  error
		want error // nil: passed on as it is
	}{
		{"no rows", pgx.ErrNoRows, store.ErrNotFound},
		{"unique violation", &pgconn.PgError{Code: "23505"}, store.ErrConflict},
		{"foreign key violation", &pgconn.PgError{Code: "23503"}, store.ErrNotFound},
		{"statement timeout", &pgconn.PgError{Code: "57014"}, store.ErrUnavailable},
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, store.ErrUnavailable},
		{"cannot connect now", &pgconn.PgError{Code: "57P03"}, store.ErrUnavailable},
		{"too many connections", &pgconn.PgError{Code: "53300"}, store.ErrUnavailable},
		{"connection failure", &pgconn.PgError{Code: "08006"}, store.ErrUnavailable},
		{"wrapped server error", fmt.Errorf("query: %w", &pgconn.PgError{Code: "57P01"}), store.ErrUnavailable},
		{"deadline while waiting for a connection", context.DeadlineExceeded, store.ErrUnavailable},
		{"syntax error", &pgconn.PgError{Code: "42601"}, nil},
		{"invalid byte sequence", &pgconn.PgError{Code: "22021"}, nil},
		{"the caller gave up", context.Canceled, nil},
		{"the caller gave up mid-read", fmt.Errorf("receive message failed: %w", context.Canceled), nil},
		{"a bug", errors.New("cannot scan NULL into *string"), nil},
		// The connection broke after the statement was sent: it may have
		// committed, and a retry is safe all the same.
		{"connection reset mid-statement", fmt.Errorf("receive message failed: %w", readErr), store.ErrUnavailable},
		{"write to a closed socket", fmt.Errorf("write failed: %w", writeErr), store.ErrUnavailable},
		{"unexpected EOF", fmt.Errorf("receive message failed: %w", io.ErrUnexpectedEOF), store.ErrUnavailable},
		{"EOF", io.EOF, store.ErrUnavailable},
		{"conn closed", fmt.Errorf("commit: %w", pgconn.ErrConnClosed), store.ErrUnavailable},
		{"bare reset", syscall.ECONNRESET, store.ErrUnavailable},
		{"mapped already", fmt.Errorf("%w: x", store.ErrUnavailable), store.ErrUnavailable},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := mapErr(tt.err)
			if tt.want == nil {
				if got != tt.err {
					t.Errorf("mapErr(%v) = %v, want it unchanged", tt.err, got)
				}
				return
			}
			if !errors.Is(got, tt.want) {
				t.Errorf("mapErr(%v) = %v, want %v", tt.err, got, tt.want)
			}
			if strings.Count(got.Error(), tt.want.Error()) != 1 {
				t.Errorf("mapErr(%v) = %q, want %q in it once", tt.err, got, tt.want)
			}
		})
	}
}
