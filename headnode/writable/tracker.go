// Package writable watches each database node's PostgreSQL directly, apart
// from Patroni and HAProxy, and records the moment a node starts accepting
// writes: the writable phase of a failover. Patroni publishes its new role
// in etcd about a second after the first commit, so its role is no measure
// of when the new primary could write; pg_is_in_recovery() on the node is.
//
// Tracker is the pure core (what a sequence of polls means); Watcher is the
// thin I/O around it (one connection per node, a poll every 10 ms).
package writable

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/redswitch/redswitch/journal"
)

// Detail of a KindWritable event: what the node was before it was seen
// writable.
const (
	// FromRecovery: the poll before saw the node in recovery, so the event
	// is a promotion seen on a live connection.
	FromRecovery = "was in recovery"
	// FromUnknown: the polls before failed (the node was down, restarting,
	// or unreachable), and the first answer after a reconnect was writable.
	FromUnknown = "after reconnect"
)

// State is what the watcher knows of a node's PostgreSQL.
type State int

// The states of a node as the polls see it.
const (
	// Unknown: not polled yet, or the last attempt failed.
	Unknown State = iota
	// InRecovery: pg_is_in_recovery() answered true (a standby).
	InRecovery
	// Writable: pg_is_in_recovery() answered false.
	Writable
)

func (s State) String() string {
	switch s {
	case InRecovery:
		return "in recovery"
	case Writable:
		return "writable"
	}
	return "unknown"
}

// Poll is one attempt to ask a node pg_is_in_recovery(): its answer, or
// the error of the connection or the query.
type Poll struct {
	// Sent is when the attempt started, Received when it ended.
	Sent, Received time.Time
	InRecovery     bool
	Err            error
}

// Outcome is what one poll changed.
type Outcome struct {
	// Event is the KindWritable event to record, when Writable is set.
	Event    journal.Event
	Writable bool
	// ErrChanged is set when this poll failed differently from the one
	// before (or after successes): worth one log line, where a failure
	// repeated every few milliseconds is not.
	ErrChanged bool
	// Recovered is set by the first answer after failures.
	Recovered bool
	// Cause is the failure reduced to a stable phrase, for the log.
	Cause string
}

// Tracker follows the polls of one node, in the order they were sent.
// The zero value is not usable: set Node.
type Tracker struct {
	// Node names the node in the events.
	Node string

	state    State
	prevSent time.Time // send time of the poll before, whatever it saw
	polled   bool
	cause    string // of the failures in a row, "" after an answer
}

// State is what the last poll saw.
func (t *Tracker) State() State { return t.state }

// Observe takes the next poll. A node seen writable after it was in
// recovery, or unknown after failed polls, yields a KindWritable event;
// the very first answer of the watcher does not, since nothing bracketed
// the switch (the node may have been writable for hours).
func (t *Tracker) Observe(p Poll) Outcome {
	var out Outcome
	prev, was, polled := t.prevSent, t.state, t.polled
	t.prevSent, t.polled = p.Sent, true
	if p.Err != nil {
		cause := Cause(p.Err)
		out.Cause = cause
		out.ErrChanged = cause != t.cause
		t.state, t.cause = Unknown, cause
		return out
	}
	out.Recovered = t.cause != ""
	t.cause = ""
	if p.InRecovery {
		t.state = InRecovery
		return out
	}
	t.state = Writable
	if was == Writable || !polled {
		return out
	}
	detail := FromRecovery
	if was == Unknown {
		detail = FromUnknown
	}
	out.Writable = true
	out.Event = journal.Event{At: p.Sent, Kind: journal.KindWritable, Node: t.Node, SentAt: p.Sent,
		FirstAt: prev, LastAt: p.Received, Detail: detail}
	return out
}

// Cause reduces an error to a short stable phrase, so that a failure
// repeated with a new port or timestamp in its text is still the same.
func Cause(err error) string {
	var pgErr *pgconn.PgError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &pgErr):
		return "SQLSTATE " + pgErr.Code + ": " + pgErr.Message
	case errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err):
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "unreachable"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return "connection closed"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	// pgx prefixes user, database and address: keep the innermost cause.
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 && i+2 < len(s) {
		s = s[i+2:]
	}
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}
