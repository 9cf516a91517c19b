package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/latchkey/latchkey/internal/store"
)

// PostgreSQL error codes (SQLSTATE, Appendix A of its manual) mapErr reads.
const (
	uniqueViolation     = "23505"
	foreignKeyViolation = "23503"
	queryCanceled       = "57014" // statement_timeout, or a cancel request
	adminShutdown       = "57P01" // the server is stopping or the backend was terminated
	crashShutdown       = "57P02"
	cannotConnectNow    = "57P03" // the server is starting up or shutting down
	tooManyConnections  = "53300"
	connectionException = "08" // the class: connection failures
)

// mapErr turns driver errors the store contract names into store errors.
//
// store.ErrUnavailable covers every failure of the database or the way to
// it: the server refused or cancelled the statement, pgx could not connect
// (dial errors, pgconn.SafeToRetry), or the connection broke while the
// statement was on its way or its answer was (an unexpected EOF, a reset, a
// read or write error, pgx's "conn closed"), and the caller's deadline
// passing mid-statement (pgconn.Timeout). In the last cases the statement may
// have committed all the same; the store contract allows that (see
// store.ErrUnavailable): every write is safe to retry, so 503 and a retry is
// the right answer whether it committed or not.
func mapErr(err error) error {
	if err == nil || errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) ||
		errors.Is(err, store.ErrUnavailable) {
		return err // mapped already: mapErr may see an error twice on its way up
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	// A server error decides by its code, even inside a pgconn.ConnectError:
	// a wrong password is not an outage.
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == uniqueViolation:
			return fmt.Errorf("%w: %v", store.ErrConflict, err)
		case pe.Code == foreignKeyViolation:
			// The client, user or grant the record belongs to does not exist.
			return fmt.Errorf("%w: referenced record: %v", store.ErrNotFound, err)
		case pe.Code == queryCanceled, pe.Code == adminShutdown, pe.Code == crashShutdown,
			pe.Code == cannotConnectNow, pe.Code == tooManyConnections,
			strings.HasPrefix(pe.Code, connectionException):
			return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
		}
		return err
	}
	// The caller gave up (its client went away): not the database's fault,
	// and not worth a 503 in the metrics. pgx reports a context that was
	// done before the statement as a timeout, and a read it interrupted as a
	// network error, hence this check comes first.
	if errors.Is(err, context.Canceled) {
		return err
	}
	// A deadline that passed while waiting for a pooled connection is plain
	// context.DeadlineExceeded: the pool is exhausted, nothing was sent.
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) ||
		errors.Is(err, context.DeadlineExceeded) || connectionLost(err) {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return err
}

// connectionLost reports whether err is the connection failing under a
// statement pgx had begun to send: pgx passes on what reading or writing the
// socket returned, and marks the connection closed.
func connectionLost(err error) bool {
	var oe *net.OpError // a read or write on the socket
	return errors.As(err, &oe) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNABORTED) ||
		errors.Is(err, syscall.EPIPE)
}
