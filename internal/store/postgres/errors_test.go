package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/latchkey/latchkey/internal/store"
)

func TestMapErr(t *testing.T) {
	dialErr := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
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
		{"a lost connection", fmt.Errorf("receive message: %w", dialErr), nil},
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
