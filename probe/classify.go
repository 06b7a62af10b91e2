package probe

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// SQLSTATEs the probe treats specially.
const (
	// ReadOnly is returned while HAProxy routes to a node that is not (yet)
	// writable, e.g. between taking the leader key and promotion.
	ReadOnly = "25006"
	// InvalidPassword and InvalidAuthorization are wrong credentials.
	InvalidPassword      = "28P01"
	InvalidAuthorization = "28000"
)

// classify reduces an error to its SQLSTATE ("" for connection-level
// errors) and a short message fit for one journal line.
func classify(err error) (sqlstate, msg string) {
	var pgErr *pgconn.PgError
	switch {
	case err == nil:
		return "", ""
	case errors.As(err, &pgErr):
		return pgErr.Code, pgErr.Message
	case errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err):
		return "", "timeout"
	case errors.Is(err, context.Canceled):
		return "", "canceled"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "", "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "", "connection reset"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "", "unreachable"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return "", "connection closed"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "", "timeout"
	}
	// Keep the innermost cause: pgx prefixes user, database and address.
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 && i+2 < len(s) {
		s = s[i+2:]
	}
	if len(s) > 120 {
		s = s[:120]
	}
	return "", s
}

// isAuth reports wrong credentials, which retrying at once cannot fix.
func isAuth(sqlstate string) bool {
	return sqlstate == InvalidPassword || sqlstate == InvalidAuthorization
}
