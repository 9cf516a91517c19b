package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

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
// store.ErrUnavailable promises the caller nothing was committed, so only
// failures where that holds are wrapped with it: the server refused or
// cancelled the statement (which rolls back its implicit transaction), or
// pgx never got to send it (dial errors, pgconn.SafeToRetry). A connection
// lost after the statement was sent stays a plain error: it may have
// committed. One exception: pgconn.Timeout, the caller's deadline passing
// mid-statement. The statement may still commit after pgx gave up on it, but
// the request is over either way, and 503 is the honest answer to a database
// too slow to answer in time.
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
	// done before the statement as a timeout, hence this check comes first.
	if errors.Is(err, context.Canceled) {
		return err
	}
	// A deadline that passed while waiting for a pooled connection is plain
	// context.DeadlineExceeded: the pool is exhausted, nothing was sent.
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) ||
		errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return err
}
