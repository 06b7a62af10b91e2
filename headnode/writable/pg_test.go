package writable

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/redswitch/redswitch/fork/pglocal"
	"github.com/redswitch/redswitch/fork/pglocal/pgtest"
	"github.com/redswitch/redswitch/journal"
)

// memRecorder is a journal in memory.
type memRecorder struct {
	mu sync.Mutex
	ev []journal.Event
}

func (m *memRecorder) Append(e journal.Event) (journal.Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e.Seq = uint64(len(m.ev) + 1)
	m.ev = append(m.ev, e)
	return e, nil
}

func (m *memRecorder) events() []journal.Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]journal.Event(nil), m.ev...)
}

// standby starts a throwaway PostgreSQL 15 as a standby without an
// upstream (standby.signal, no primary_conninfo): in recovery until
// promoted, as a Patroni replica is.
func standby(t *testing.T) (pglocal.Server, int) {
	t.Helper()
	owner := pgtest.Require(t)
	dir, err := os.MkdirTemp("", "redswitch-writable-pg-")
	if err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(dir, owner.UID, owner.GID); err != nil {
			t.Fatal(err)
		}
	}
	s := pglocal.Server{BinDir: pglocal.DefaultBinDir, DataDir: filepath.Join(dir, "data"), LogFile: filepath.Join(dir, "log"),
		Owner: owner, Timeout: time.Minute}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), time.Minute)
		defer scancel()
		if err := s.Stop(sctx, "immediate"); err != nil {
			t.Logf("stop: %v", err)
		}
		os.RemoveAll(dir)
	})
	if err := s.InitDB(ctx); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	conf := fmt.Sprintf("port = %d\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '%s'\nfsync = off\n", port, dir)
	f, err := os.OpenFile(filepath.Join(s.DataDir, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, werr := f.WriteString(conf)
	if err := f.Close(); err != nil || werr != nil {
		t.Fatal(err, werr)
	}
	sig := filepath.Join(s.DataDir, "standby.signal")
	if err := os.WriteFile(sig, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(sig, owner.UID, owner.GID); err != nil {
			t.Fatal(err)
		}
	}
	// pg_ctl -w returns once the standby takes read-only connections.
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return s, port
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWatcherSeesPromotion: exactly one writable event, after the
// promotion and not before, bracketed by the polls around the switch.
func TestWatcherSeesPromotion(t *testing.T) {
	s, port := standby(t)
	clock := journal.NewClock()
	rec := &memRecorder{}
	w, err := New(Options{
		Nodes: []Node{{Name: "n1", Address: "127.0.0.1", Port: port}},
		// Trust authentication: the password is sent and ignored.
		DSN:    "postgres://postgres:secret@haproxy:5000/postgres?sslmode=disable",
		Record: rec, Clock: clock.Now, Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after its context ended")
		}
	}()

	waitUntil(t, 10*time.Second, "the watcher to see the standby in recovery", func() bool { return w.States()["n1"] == InRecovery })
	time.Sleep(300 * time.Millisecond) // thirty polls of a standby
	if ev := rec.events(); len(ev) != 0 {
		t.Fatalf("events before the promotion: %+v", ev)
	}

	pctx, pcancel := context.WithTimeout(context.Background(), time.Minute)
	defer pcancel()
	before := clock.Now()
	if err := s.Promote(pctx); err != nil {
		t.Fatal(err)
	}
	after := clock.Now()
	waitUntil(t, 10*time.Second, "a writable event", func() bool { return len(rec.events()) > 0 })
	time.Sleep(300 * time.Millisecond) // thirty polls of a primary: no second event
	ev := rec.events()
	if len(ev) != 1 {
		t.Fatalf("want exactly one event, got %d: %+v", len(ev), ev)
	}
	e := ev[0]
	if e.Kind != journal.KindWritable || e.Node != "n1" || e.Detail != FromRecovery {
		t.Fatalf("event %+v: want a writable event of n1 %q", e, FromRecovery)
	}
	if e.At.Before(before) {
		t.Errorf("writable at %v, before pg_ctl promote started at %v", e.At, before)
	}
	// pg_ctl -w returns once pg_control says in production; a poll sent
	// after that already sees the server writable.
	if e.At.After(after.Add(500 * time.Millisecond)) {
		t.Errorf("writable seen %v after pg_ctl promote returned", e.At.Sub(after))
	}
	if !e.FirstAt.Before(e.At) || e.LastAt.Before(e.At) || !e.SentAt.Equal(e.At) {
		t.Errorf("bracket FirstAt %v < At %v = SentAt %v <= LastAt %v does not hold", e.FirstAt, e.At, e.SentAt, e.LastAt)
	}
	if gap := e.At.Sub(e.FirstAt); gap > 200*time.Millisecond {
		t.Errorf("polls %v apart around the switch, want about 10 ms", gap)
	}
	t.Logf("promote took %v; writable seen %v after it started, polls %v apart around the switch",
		after.Sub(before), e.At.Sub(before), e.At.Sub(e.FirstAt))
	if got := w.States()["n1"]; got != Writable {
		t.Errorf("state %v, want writable", got)
	}

	// A restart: the polls fail for a while (no event for any of them),
	// then the first answer after the reconnect is writable again.
	if err := s.Stop(pctx, "fast"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "the watcher to lose the server", func() bool { return w.States()["n1"] == Unknown })
	time.Sleep(300 * time.Millisecond)
	if err := s.Start(pctx); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "a second writable event", func() bool { return len(rec.events()) > 1 })
	time.Sleep(200 * time.Millisecond)
	ev = rec.events()
	if len(ev) != 2 || ev[1].Detail != FromUnknown || ev[1].Node != "n1" {
		t.Fatalf("after the restart: events %+v, want one more, %q", ev, FromUnknown)
	}
}
