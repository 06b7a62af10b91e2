package probe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/redswitch/redswitch/fork/pglocal/pgtest"
	"github.com/redswitch/redswitch/journal"
	"github.com/redswitch/redswitch/probe/analysis"
)

const pgBin = "/usr/lib/postgresql/15/bin"

// memRecorder is a journal in memory for tests.
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

func (m *memRecorder) count(match func(journal.Event) bool) int {
	n := 0
	for _, e := range m.events() {
		if match(e) {
			n++
		}
	}
	return n
}

// failures counts the failed writes of the matching error events.
func (m *memRecorder) failures(match func(journal.Event) bool) int {
	n := 0
	for _, e := range m.events() {
		if match(e) {
			n += e.ErrorCount()
		}
	}
	return n
}

// lockedBuffer collects log output from the probe goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// pgServer is a throwaway PostgreSQL 15 on a loopback port.
type pgServer struct {
	dir, data string
	port      int
}

func (s *pgServer) dsn(password string) string {
	return fmt.Sprintf("postgres://postgres:%s@127.0.0.1:%d/postgres?sslmode=disable", password, s.port)
}

// asPostgres runs a command as the postgres user: PostgreSQL refuses root.
func asPostgres(name string, args ...string) *exec.Cmd {
	if os.Geteuid() == 0 {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", name}, args...)...)
	}
	return exec.Command(name, args...)
}

func startPostgres(t *testing.T) *pgServer {
	t.Helper()
	owner := pgtest.Require(t)
	dir, err := os.MkdirTemp("", "redswitch-probe-pg-")
	if err != nil {
		t.Fatal(err)
	}
	s := &pgServer{dir: dir, data: filepath.Join(dir, "data")}
	t.Cleanup(func() {
		_ = asPostgres(filepath.Join(pgBin, "pg_ctl"), "-D", s.data, "-m", "immediate", "stop").Run()
		os.RemoveAll(dir)
	})
	if err := os.WriteFile(filepath.Join(dir, "pw"), []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{dir, filepath.Join(dir, "pw")} {
		if err := os.Chown(p, owner.UID, owner.GID); err != nil && os.Geteuid() == 0 {
			t.Fatal(err)
		}
	}
	if out, err := asPostgres(filepath.Join(pgBin, "initdb"), "-D", s.data, "-U", "postgres",
		"--auth-local=trust", "--auth-host=scram-sha-256", "--pwfile="+filepath.Join(dir, "pw"), "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	s.start(t)
	return s
}

func (s *pgServer) start(t *testing.T) {
	t.Helper()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c redswitch.node=local -c fsync=off", s.port, s.dir)
	if out, err := asPostgres(filepath.Join(pgBin, "pg_ctl"), "-D", s.data, "-l", filepath.Join(s.dir, "log"), "-w", "-o", opts, "start").CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "log"))
		t.Fatalf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
}

func (s *pgServer) stop(t *testing.T) {
	t.Helper()
	if out, err := asPostgres(filepath.Join(pgBin, "pg_ctl"), "-D", s.data, "-m", "immediate", "stop").CombinedOutput(); err != nil {
		t.Fatalf("pg_ctl stop: %v\n%s", err, out)
	}
}

func (s *pgServer) exec(t *testing.T, sqls ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.dsn("secret"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, q := range sqls {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// waitFor polls cond every 20 ms for up to d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestPostgres15(t *testing.T) {
	s := startPostgres(t)
	clock := journal.NewClock()
	rec := &memRecorder{}
	p := New(Options{DSN: s.dsn("secret"), Clock: clock})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, rec) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	t.Run("wrong password", func(t *testing.T) { testWrongPassword(t, s) })
	t.Run("table of the wrong shape", func(t *testing.T) { testTableShape(t, s) })
	t.Run("own role", func(t *testing.T) { testOwnRole(t, s) })

	t.Run("acks land", func(t *testing.T) {
		waitFor(t, 10*time.Second, "100 acks", func() bool { return p.Stats().Acks >= 100 })
		st := p.Stats()
		if st.Node != "local" || st.Timeline != 1 || !st.Connected || st.Rate <= 0 {
			t.Errorf("stats = %+v, want node local, timeline 1, connected, a rate", st)
		}
		t.Logf("commit rate %.0f/s", st.Rate)
		waitFor(t, 3*time.Second, "an ack range in the journal", func() bool {
			return rec.count(func(e journal.Event) bool {
				return e.Kind == journal.KindProbeAck && e.Node == "local" && e.Timeline == 1 && e.Last >= e.First
			}) > 0
		})
	})

	t.Run("stop and start make an outage", func(t *testing.T) {
		s.stop(t)
		waitFor(t, 3*time.Second, "the probe to notice", func() bool { return p.Stats().Outage })
		time.Sleep(time.Second)
		s.start(t)
		restarted := clock.Now()
		waitFor(t, 10*time.Second, "acks after restart", func() bool { return p.Stats().LastAck.After(restarted) })
		waitFor(t, 3*time.Second, "the resumed range in the journal", func() bool {
			return len(analysis.Outages(rec.events(), 500*time.Millisecond)) > 0
		})
		out := analysis.Outages(rec.events(), 500*time.Millisecond)
		if len(out) != 1 || out[0].Duration < time.Second || out[0].Errors == 0 {
			t.Fatalf("outages = %+v, want one of at least 1s with errors", out)
		}
		// Commits resumed, so every run of errors is closed: the journal
		// accounts for every failure, in far fewer events.
		isErr := func(e journal.Event) bool { return e.Kind == journal.KindProbeError }
		if n, want := rec.failures(isErr), int(p.Stats().Errors); n != want {
			t.Errorf("journal counts %d failures, the probe made %d", n, want)
		}
		if n := rec.count(isErr); n*4 > out[0].Errors {
			t.Errorf("%d error events for %d failures: not compacted", n, out[0].Errors)
		}
		t.Logf("outage %v with %d errors in %d events", out[0].Duration.Round(time.Millisecond), out[0].Errors, rec.count(isErr))
	})

	t.Run("read-only server yields 25006 and is retried", func(t *testing.T) {
		s.exec(t, "ALTER SYSTEM SET default_transaction_read_only = on", "SELECT pg_reload_conf()")
		readOnly := func(e journal.Event) bool { return e.Kind == journal.KindProbeError && e.SQLState == ReadOnly }
		waitFor(t, 5*time.Second, "25006 errors", func() bool { return rec.failures(readOnly) >= 5 })
		s.exec(t, "SET default_transaction_read_only = off", "ALTER SYSTEM RESET default_transaction_read_only", "SELECT pg_reload_conf()")
		writable := clock.Now()
		waitFor(t, 5*time.Second, "acks after read-only", func() bool { return p.Stats().LastAck.After(writable) })
	})

	t.Run("hung backend is dropped after the statement timeout", func(t *testing.T) {
		var pid int
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, s.dsn("secret"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		waitFor(t, 3*time.Second, "the probe's backend", func() bool {
			return conn.QueryRow(ctx, "SELECT pid FROM pg_stat_activity WHERE application_name = $1", ApplicationName).Scan(&pid) == nil
		})
		proc, err := os.FindProcess(pid)
		if err != nil {
			t.Fatal(err)
		}
		if err := proc.Signal(syscall.SIGSTOP); err != nil {
			t.Fatalf("stop backend %d: %v", pid, err)
		}
		defer proc.Signal(syscall.SIGCONT)
		stopped := clock.Now()
		timeout := func(e journal.Event) bool {
			return e.Kind == journal.KindProbeError && e.Error == "timeout" && e.At.After(stopped)
		}
		waitFor(t, 3*time.Second, "a timeout error", func() bool { return rec.count(timeout) > 0 })
		waitFor(t, 3*time.Second, "acks on a new backend", func() bool { return p.Stats().LastAck.After(stopped) })
		for _, e := range rec.events() {
			if timeout(e) {
				if d := e.At.Sub(e.SentAt); d > time.Second {
					t.Errorf("hung statement took %v to fail, want about 500ms", d)
				}
				t.Logf("hung statement failed after %v", e.At.Sub(e.SentAt).Round(time.Millisecond))
				break
			}
		}
	})

	t.Run("read back finds every ack and a deleted one", func(t *testing.T) {
		acked := AckedRanges(rec.events())
		missing, err := ReadBack(context.Background(), s.dsn("secret"), "redswitch_probe", acked)
		if err != nil {
			t.Fatal(err)
		}
		if len(missing) != 0 {
			t.Fatalf("missing %v of %v", missing, acked)
		}
		victim := acked[0].First
		s.exec(t, fmt.Sprintf("DELETE FROM redswitch_probe WHERE seq = %d", victim))
		e, err := p.ReadBack(context.Background(), rec.events())
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(e.Missing) != fmt.Sprint([]uint64{victim}) || e.Kind != journal.KindProbeReadback || e.Last == 0 {
			t.Fatalf("readback = %+v, want missing [%d]", e, victim)
		}
	})
}

// TestHungServer: a server that accepts and never answers must not block
// the probe; every attempt times out and is recorded.
func TestHungServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	}()
	rec := &memRecorder{}
	p := New(Options{DSN: "postgres://x:y@" + l.Addr().String() + "/db?sslmode=disable", ConnectTimeout: 100 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
	defer cancel()
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, rec) }()
	waitFor(t, time.Second, "an outage in the stats", func() bool { return p.Stats().Outage })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 900*time.Millisecond {
		t.Errorf("Run took %v to stop after a 600ms context", d)
	}
	timeouts := rec.failures(func(e journal.Event) bool { return e.Kind == journal.KindProbeError && e.Error == "timeout" })
	if timeouts < 3 {
		t.Errorf("%d timeouts recorded, want at least 3: %+v", timeouts, rec.events())
	}
	if st := p.Stats(); st.Outage || st.Running || st.LastError != "timeout" {
		t.Errorf("stats after run = %+v, want not running, last error timeout", st)
	}
}

func TestRunBadDSN(t *testing.T) {
	err := New(Options{DSN: "postgres://%zz"}).Run(context.Background(), &memRecorder{})
	if err == nil || !strings.Contains(err.Error(), "probe: DSN") {
		t.Fatalf("Run = %v, want a DSN error", err)
	}
}

func testWrongPassword(t *testing.T, s *pgServer) {
	rec := &memRecorder{}
	var logs lockedBuffer
	p := New(Options{DSN: s.dsn("wrong"), Log: slog.New(slog.NewTextHandler(&logs, nil))})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := p.Run(ctx, rec); err != nil {
		t.Fatalf("Run: %v", err)
	}
	auth := rec.failures(func(e journal.Event) bool { return e.Kind == journal.KindProbeError && e.SQLState == InvalidPassword })
	// Backoff 250, 500, 1000 ms: a handful of attempts in 2 s, not 200.
	if auth < 2 || auth > 6 {
		t.Errorf("%d authentication attempts in 2s, want 2..6", auth)
	}
	if n := strings.Count(logs.String(), "authentication failed; check the user and password"); n != 1 {
		t.Errorf("clear message logged %d times, want once:\n%s", n, logs.String())
	}
	if st := p.Stats(); st.LastSQLState != InvalidPassword || st.Acks != 0 {
		t.Errorf("stats = %+v", st)
	}
}

func testTableShape(t *testing.T, s *pgServer) {
	s.exec(t, "CREATE TABLE bad_probe (seq int, node text)")
	p := New(Options{DSN: s.dsn("secret"), Table: "bad_probe"})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := p.Run(ctx, &memRecorder{})
	if !errors.Is(err, ErrTableShape) || !strings.Contains(err.Error(), "column seq is integer, want bigint") {
		t.Fatalf("Run = %v, want ErrTableShape naming column seq", err)
	}
}

// testOwnRole runs a probe as its own role, made through SetupDSN: it
// writes, and the role can do nothing a superuser could (shell commands
// through COPY PROGRAM, new tables, deleting the evidence). A second
// setup with another password changes it: the booth's secrets decide.
func testOwnRole(t *testing.T, s *pgServer) {
	roleDSN := func(pw string) string {
		return fmt.Sprintf("postgres://redswitch_probe:%s@127.0.0.1:%d/postgres?sslmode=disable", pw, s.port)
	}
	for _, pw := range []string{"first-probe-pw", "second-probe-pw"} {
		rec := &memRecorder{}
		p := New(Options{DSN: roleDSN(pw), SetupDSN: s.dsn("secret"), Table: "role_probe"})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx, rec) }()
		waitFor(t, 10*time.Second, "an ack as redswitch_probe", func() bool {
			return rec.count(func(e journal.Event) bool { return e.Kind == journal.KindProbeAck }) > 0
		})
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := pgx.Connect(ctx, roleDSN("first-probe-pw")); err == nil {
		t.Error("the first password still logs in after the second setup")
	}
	conn, err := pgx.Connect(ctx, roleDSN("second-probe-pw"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var super bool
	if err := conn.QueryRow(ctx, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&super); err != nil || super {
		t.Fatalf("rolsuper = %v, %v: want a plain role", super, err)
	}
	for _, q := range []string{
		"COPY (SELECT 1) TO PROGRAM 'true'",
		"CREATE TABLE probe_elsewhere (x int)",
		"DELETE FROM role_probe",
		"UPDATE role_probe SET node = 'forged'",
		"CREATE ROLE intruder",
	} {
		if _, err := conn.Exec(ctx, q); err == nil || !strings.Contains(err.Error(), "42501") {
			t.Errorf("%s as the probe: %v, want SQLSTATE 42501 (insufficient privilege)", q, err)
		}
	}
}
