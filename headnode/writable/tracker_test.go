package writable

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/redswitch/redswitch/journal"
)

var t0 = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)

func ms(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }

// step is one poll of a table test, sent at ms(at), answered 2 ms later.
type step struct {
	at  int
	ans string // "rec", "rw" or "err:<cause>"
	// want: "" no event, "recovery" or "unknown" a writable event with
	// that detail and FirstAt = ms(prev).
	want string
	prev int
	// log: "changed" (a new failure), "recovered", or "".
	log string
}

func (s step) poll() Poll {
	p := Poll{Sent: ms(s.at), Received: ms(s.at + 2)}
	switch s.ans {
	case "rec":
		p.InRecovery = true
	case "rw":
	case "err:refused":
		p.Err = fmt.Errorf("failed to connect to `user=postgres database=postgres`: 10.0.0.%d:5432: dial: %w", s.at%7, syscall.ECONNREFUSED)
	case "err:timeout":
		p.Err = context.DeadlineExceeded
	case "err:shutdown":
		p.Err = &pgconn.PgError{Code: "57P01", Message: "terminating connection due to administrator command"}
	default:
		panic("unknown answer " + s.ans)
	}
	return p
}

func TestTracker(t *testing.T) {
	for _, tt := range []struct {
		name  string
		steps []step
	}{
		{"first answer writable: nothing bracketed, no event", []step{
			{at: 0, ans: "rw"}, {at: 10, ans: "rw"}}},
		{"promotion on a live connection", []step{
			{at: 0, ans: "rec"}, {at: 10, ans: "rec"}, {at: 20, ans: "rw", want: "recovery", prev: 10}, {at: 30, ans: "rw"}}},
		{"standby stays a standby", []step{
			{at: 0, ans: "rec"}, {at: 10, ans: "rec"}, {at: 20, ans: "rec"}}},
		{"writable again after a reconnect", []step{
			{at: 0, ans: "rw"}, {at: 10, ans: "err:timeout", log: "changed"}, {at: 1060, ans: "rw", want: "unknown", prev: 10, log: "recovered"}}},
		{"down at the start, comes up writable", []step{
			{at: 0, ans: "err:refused", log: "changed"}, {at: 50, ans: "err:refused"}, {at: 150, ans: "rw", want: "unknown", prev: 50, log: "recovered"}}},
		{"restarted standby then promoted", []step{
			{at: 0, ans: "rec"}, {at: 10, ans: "err:shutdown", log: "changed"}, {at: 60, ans: "err:refused", log: "changed"},
			{at: 160, ans: "rec", log: "recovered"}, {at: 170, ans: "rw", want: "recovery", prev: 160}}},
		{"one line per kind of failure, not per failure", []step{
			{at: 0, ans: "rec"}, {at: 10, ans: "err:refused", log: "changed"}, {at: 60, ans: "err:refused"}, {at: 160, ans: "err:refused"},
			{at: 360, ans: "err:timeout", log: "changed"}, {at: 1400, ans: "err:timeout"}, {at: 2400, ans: "rec", log: "recovered"}}},
		{"demoted and promoted again: two events", []step{
			{at: 0, ans: "rec"}, {at: 10, ans: "rw", want: "recovery", prev: 0}, {at: 20, ans: "rec"}, {at: 30, ans: "rw", want: "recovery", prev: 20}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tr := &Tracker{Node: "n2"}
			for i, s := range tt.steps {
				out := tr.Observe(s.poll())
				if (s.want != "") != out.Writable {
					t.Fatalf("step %d (%s at %d ms): writable event %v, want %v", i, s.ans, s.at, out.Writable, s.want != "")
				}
				if s.want != "" {
					detail := map[string]string{"recovery": FromRecovery, "unknown": FromUnknown}[s.want]
					want := journal.Event{At: ms(s.at), Kind: journal.KindWritable, Node: "n2", SentAt: ms(s.at),
						FirstAt: ms(s.prev), LastAt: ms(s.at + 2), Detail: detail}
					if !sameEvent(out.Event, want) {
						t.Fatalf("step %d: event %+v, want %+v", i, out.Event, want)
					}
				}
				gotLog := ""
				if out.ErrChanged {
					gotLog = "changed"
				} else if out.Recovered {
					gotLog = "recovered"
				}
				if gotLog != s.log {
					t.Fatalf("step %d (%s at %d ms): log %q, want %q", i, s.ans, s.at, gotLog, s.log)
				}
			}
		})
	}
}

func sameEvent(a, b journal.Event) bool {
	return a.At.Equal(b.At) && a.Kind == b.Kind && a.Node == b.Node && a.SentAt.Equal(b.SentAt) &&
		a.FirstAt.Equal(b.FirstAt) && a.LastAt.Equal(b.LastAt) && a.Detail == b.Detail
}

func TestTrackerState(t *testing.T) {
	tr := &Tracker{Node: "n1"}
	for _, c := range []struct {
		s    step
		want State
	}{
		{step{at: 0, ans: "rec"}, InRecovery},
		{step{at: 10, ans: "err:timeout"}, Unknown},
		{step{at: 20, ans: "rw"}, Writable},
	} {
		tr.Observe(c.s.poll())
		if got := tr.State(); got != c.want {
			t.Errorf("after %s: state %v, want %v", c.s.ans, got, c.want)
		}
	}
}

func TestCause(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  error
		want string
	}{
		{"nil", nil, ""},
		{"refused, any address", fmt.Errorf("dial 10.0.0.3:5432: %w", syscall.ECONNREFUSED), "connection refused"},
		{"deadline", fmt.Errorf("poll: %w", context.DeadlineExceeded), "timeout"},
		{"server error", &pgconn.PgError{Code: "57P03", Message: "the database system is starting up"}, "SQLSTATE 57P03: the database system is starting up"},
		{"other: innermost cause", errors.New("failed to connect to `user=x`: 10.0.0.2:5432: server said no"), "server said no"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := Cause(tt.err); got != tt.want {
				t.Errorf("Cause(%v) = %q, want %q", tt.err, got, tt.want)
			}
		})
	}
}

func TestNodeDSN(t *testing.T) {
	for _, tt := range []struct {
		name, template, address string
		port                    int
		want, err               string
	}{
		{"host and port replaced", "postgres://postgres:secret@127.0.0.1:5000/postgres?sslmode=disable", "172.30.0.11", 0,
			"postgres://postgres:secret@172.30.0.11:5432/postgres?sslmode=disable", ""},
		{"own port", "postgres://u:p@haproxy/db", "10.0.0.2", 6432, "postgres://u:p@10.0.0.2:6432/db", ""},
		{"host parameter dropped", "postgresql://u:p@x:1/db?host=elsewhere&port=9", "10.0.0.2", 0, "postgresql://u:p@10.0.0.2:5432/db", ""},
		{"IPv6 node", "postgres://u:p@x/db", "fd00::2", 0, "postgres://u:p@[fd00::2]:5432/db", ""},
		{"not a URL, password not echoed", "postgres://u:se cret@%zz/db", "10.0.0.2", 0, "", "not a valid URL"},
		{"not postgres", "mysql://u:secret@x/db", "10.0.0.2", 0, "", "want a postgres:// URL"},
		{"key=value, password not echoed", "host=x password=secret", "10.0.0.2", 0, "", "want a postgres:// URL"},
		{"no address", "postgres://u:p@x/db", "", 0, "", "no address"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NodeDSN(tt.template, tt.address, tt.port)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || strings.Contains(err.Error(), "secret") {
					t.Fatalf("err = %v, want one with %q and without the password", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("NodeDSN = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
