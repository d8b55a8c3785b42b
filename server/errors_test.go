package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/redis/go-redis/v9"

	"portico/sql/store"
)

// TestDependencyErrorsAreUnavailable: the error table's classification (issue 11): dependency
// failures are "unavailable" (503), bugs and bad input are not.
func TestDependencyErrorsAreUnavailable(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("ticket list: %w", err) }
	for _, err := range []error{
		context.DeadlineExceeded,
		wrap(&pgconn.PgError{Code: "57P01"}), // admin_shutdown (failover, pg_terminate_backend)
		wrap(&pgconn.PgError{Code: "08006"}), // connection_failure
		wrap(&pgconn.PgError{Code: "53300"}), // too_many_connections
		wrap(&pgconn.PgError{Code: "57014"}), // query_canceled (our deadline)
		wrap(&net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}),
		wrap(syscall.ECONNRESET),
		wrap(io.ErrUnexpectedEOF),
		wrap(redis.ErrPoolTimeout),
		wrap(redis.ErrClosed),
		wrap(&fs.PathError{Op: "write", Path: "/data/blobs/x", Err: syscall.ENOSPC}), // file:// disk full
		wrap(&fs.PathError{Op: "open", Path: "/data/blobs/x", Err: syscall.EROFS}),
		wrap(&fs.PathError{Op: "read", Path: "/data/blobs/x", Err: syscall.EIO}),
	} {
		if !Unavailable(err) {
			t.Errorf("%v: not classified unavailable", err)
		}
	}
	for _, err := range []error{
		errors.New("a bug"),
		wrap(store.ErrNotFound),
		wrap(&pgconn.PgError{Code: "23505"}), // unique_violation: a conflict, not an outage
		wrap(&pgconn.PgError{Code: "22021"}), // invalid byte sequence: bad input
	} {
		if Unavailable(err) {
			t.Errorf("%v: classified unavailable (%s)", err, DependencyOf(err))
		}
	}
}
