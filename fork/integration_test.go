package fork

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/redswitch/redswitch/fork/pglocal"
	"github.com/redswitch/redswitch/prereq"
)

// needHost stops the test unless this host can run the integration
// tests: a skip under -short; a missing prerequisite (root, btrfs-progs,
// PostgreSQL 15, the postgres user: what scripts/install-deps.sh and CI
// provide) fails under CI=true and skips elsewhere.
func needHost(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test; -short given")
	}
	if os.Geteuid() != 0 {
		prereq.Missing(t, "needs root for btrfs loop devices and to run PostgreSQL as postgres")
	}
	if _, err := exec.LookPath("mkfs.btrfs"); err != nil {
		prereq.Missing(t, "needs btrfs-progs (mkfs.btrfs): apt-get install -y btrfs-progs")
	}
	if _, err := os.Stat(filepath.Join(pglocal.DefaultBinDir, "pg_ctl")); err != nil {
		prereq.Missing(t, "needs postgresql-15 in %s: %v", pglocal.DefaultBinDir, err)
	}
	if _, err := pglocal.LookupOwner("postgres"); err != nil {
		prereq.Missing(t, "needs a postgres user: %v", err)
	}
}

func testLog(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// openDir returns a fresh temporary directory the postgres user can enter.
func openDir(t *testing.T) string {
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// loopBtrfs mounts a fresh loop-backed btrfs, unmounted at cleanup.
func loopBtrfs(t *testing.T) string {
	dir := openDir(t)
	mnt := filepath.Join(dir, "mnt")
	ctx := context.Background()
	if err := EnsureBtrfs(ctx, testLog(t), filepath.Join(dir, "btrfs.img"), mnt, 1<<30); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := Unmount(context.Background(), mnt); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	if on, err := OnBtrfs(mnt); err != nil || !on {
		t.Fatalf("EnsureBtrfs: %s not btrfs (%v)", mnt, err)
	}
	return mnt
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

type source struct {
	srv  pglocal.Server
	dsn  string
	port int
}

// startSource initdbs and starts a server in dir (a subvolume if subvol),
// stopped at cleanup.
func startSource(t *testing.T, dir string, subvol bool) source {
	t.Helper()
	ctx := context.Background()
	owner, err := pglocal.LookupOwner("postgres")
	if err != nil {
		t.Fatal(err)
	}
	if subvol {
		if err := CreateSubvolume(ctx, dir, owner); err != nil {
			t.Fatal(err)
		}
	}
	port := freePort(t)
	s := source{srv: pglocal.Server{BinDir: pglocal.DefaultBinDir, DataDir: dir, LogFile: dir + ".log", Owner: owner, Timeout: time.Minute},
		port: port, dsn: fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=postgres sslmode=disable", port)}
	if err := s.srv.InitDB(ctx); err != nil {
		t.Fatal(err)
	}
	appendConf(t, dir, fmt.Sprintf("port = %d\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\nshared_buffers = '32MB'\nredswitch.node = 'node1'\ncluster_name = 'demo'\n", port))
	if err := s.srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.srv.Stop(context.Background(), "immediate"); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	mustExec(t, s.dsn, "CREATE TABLE t (id bigserial PRIMARY KEY, origin text NOT NULL, at timestamptz DEFAULT now())")
	return s
}

func appendConf(t *testing.T, dir, text string) {
	f, err := os.OpenFile(filepath.Join(dir, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

func mustExec(t *testing.T, dsn, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func queryInt(t *testing.T, dsn, sql string, args ...any) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int64
	if err := conn.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// writeLoad inserts rows into t until stopped and reports the highest id
// acknowledged so far.
type writeLoad struct {
	acked  atomic.Int64
	stop   context.CancelFunc
	done   sync.WaitGroup
	errMu  sync.Mutex
	failed error
}

func startLoad(t *testing.T, dsn string) *writeLoad {
	ctx, cancel := context.WithCancel(context.Background())
	w := &writeLoad{stop: cancel}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	w.done.Add(1)
	go func() {
		defer w.done.Done()
		defer conn.Close(context.Background())
		for ctx.Err() == nil {
			var id int64
			err := conn.QueryRow(ctx, "INSERT INTO t (origin) VALUES ('load') RETURNING id").Scan(&id)
			if err != nil {
				if ctx.Err() == nil {
					w.errMu.Lock()
					w.failed = err
					w.errMu.Unlock()
				}
				return
			}
			w.acked.Store(id)
			time.Sleep(2 * time.Millisecond)
		}
	}()
	t.Cleanup(w.halt)
	return w
}

func (w *writeLoad) halt() { w.stop(); w.done.Wait() }

func (w *writeLoad) err() error {
	w.errMu.Lock()
	defer w.errMu.Unlock()
	return w.failed
}

func newManager(t *testing.T, dir string) *Manager {
	m, err := NewManager(Config{Dir: dir, Log: testLog(t), Timeout: 2 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// destroyAtCleanup removes a fork when the test ends, whatever happened.
func destroyAtCleanup(t *testing.T, m *Manager, name string) {
	t.Cleanup(func() {
		forks, _ := m.List()
		for _, f := range forks {
			if f.Name == name {
				if err := m.Destroy(context.Background(), name); err != nil {
					t.Errorf("cleanup: %v", err)
				}
			}
		}
	})
}

// checkFork verifies a fresh fork is writable on a new timeline, has every
// row acknowledged before the fork began, and is independent of its source.
func checkFork(t *testing.T, src source, f Fork, ackedBefore int64, wantMethod Method) {
	t.Helper()
	if f.Method != wantMethod {
		t.Errorf("method = %q, want %q", f.Method, wantMethod)
	}
	srcTL := queryInt(t, src.dsn, "SELECT timeline_id FROM pg_control_checkpoint()")
	if int64(f.Timeline) <= srcTL {
		t.Errorf("fork timeline %d, want above the source's %d", f.Timeline, srcTL)
	}
	if got := queryInt(t, f.DSN, "SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int"); got != int64(f.Timeline) {
		t.Errorf("fork reports timeline %d, Create said %d", got, f.Timeline)
	}
	if rec := queryInt(t, f.DSN, "SELECT pg_is_in_recovery()::int"); rec != 0 {
		t.Errorf("fork in recovery")
	}
	if got := queryInt(t, f.DSN, "SELECT count(*) FROM t WHERE id <= $1", ackedBefore); got != ackedBefore {
		t.Errorf("fork has %d of the %d rows acknowledged before the fork", got, ackedBefore)
	}
	if got := queryInt(t, f.DSN, "SELECT (current_setting('redswitch.fork') = $1)::int", f.Name); got != 1 {
		t.Errorf("redswitch.fork not set to %q", f.Name)
	}
	if got := queryInt(t, f.DSN, "SELECT count(*) FROM pg_settings WHERE name = 'redswitch.node' OR (name = 'cluster_name' AND setting <> '')"); got != 0 {
		t.Errorf("fork kept the parent's identity settings")
	}
	if got := queryInt(t, f.DSN, "SELECT count(*) FROM pg_replication_slots"); got != 0 {
		t.Errorf("fork has %d replication slots", got)
	}
	mustExec(t, f.DSN, "INSERT INTO t (id, origin) VALUES (-1, 'fork')")
	mustExec(t, src.dsn, "INSERT INTO t (id, origin) VALUES (-2, 'source')")
	if got := queryInt(t, src.dsn, "SELECT count(*) FROM t WHERE origin = 'fork'"); got != 0 {
		t.Errorf("a row written in the fork is in the source")
	}
	if got := queryInt(t, f.DSN, "SELECT count(*) FROM t WHERE origin = 'source'"); got != 0 {
		t.Errorf("a row written in the source is in the fork")
	}
	mustExec(t, src.dsn, "DELETE FROM t WHERE id = -2")
	if f.Timings.ToWritable <= 0 || f.Timings.Start <= 0 || f.Timings.Snapshot <= 0 {
		t.Errorf("timings missing: %+v", f.Timings)
	}
}

func TestSnapshotForkUnderLoad(t *testing.T) {
	needHost(t)
	ctx := context.Background()
	mnt := loopBtrfs(t)
	src := startSource(t, filepath.Join(mnt, "src"), true)
	load := startLoad(t, src.dsn)
	time.Sleep(300 * time.Millisecond)

	m := newManager(t, filepath.Join(mnt, "forks"))
	destroyAtCleanup(t, m, "f1")
	port := freePort(t)
	before := load.acked.Load()
	f, err := m.Create(ctx, CreateOptions{SourceDir: src.srv.DataDir, SourceDSN: src.dsn, Name: "f1", Port: port})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("snapshot fork: %+v, replayed %d bytes", f.Timings, f.ReplayBytes)
	// At least the CHECKPOINT record itself follows the redo point, and
	// the load writes more; a gigabyte would mean the figure is wrong.
	if f.ReplayBytes <= 0 || f.ReplayBytes > 1<<30 {
		t.Errorf("ReplayBytes = %d, want the WAL since the CHECKPOINT", f.ReplayBytes)
	}
	time.Sleep(200 * time.Millisecond)
	if load.err() != nil {
		t.Fatalf("write load failed during the fork: %v", load.err())
	}
	if sub, _ := IsSubvolume(f.Dir); !sub {
		t.Errorf("fork %s is not a subvolume", f.Dir)
	}
	checkFork(t, src, f, before, Snapshot)

	// A Manager started afresh on the same directory sees the fork.
	forks, err := newManager(t, filepath.Join(mnt, "forks")).List()
	if err != nil || len(forks) != 1 || forks[0].Name != "f1" || !forks[0].Running || forks[0].Timeline != f.Timeline {
		t.Fatalf("List after restart = %+v, %v", forks, err)
	}
	if err := m.Destroy(ctx, "f1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(f.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("fork dir left after Destroy: %v", err)
	}
	if forks, err := m.List(); err != nil || len(forks) != 0 {
		t.Errorf("List after Destroy = %+v, %v", forks, err)
	}
	load.halt()
	if load.acked.Load() <= before {
		t.Errorf("the source took no writes during the fork")
	}
}

func TestFallbackMethods(t *testing.T) {
	needHost(t)
	ctx := context.Background()
	mnt := loopBtrfs(t)
	src := startSource(t, filepath.Join(mnt, "plain"), false) // a directory, not a subvolume
	load := startLoad(t, src.dsn)
	m := newManager(t, filepath.Join(mnt, "forks"))
	tests := []struct {
		name   string
		method Method
		want   Method
		// listen, when set, is the fork's listen_addresses: it must
		// answer there and nowhere else.
		listen string
	}{
		{"auto-reflink", Auto, Reflink, ""},
		{"basebackup", BaseBackup, BaseBackup, ""},
		// 127.0.0.1 too: the test reaches the fork there, as the
		// source's DSN does.
		{"copy", Copy, Copy, "127.0.0.1,127.0.0.3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			destroyAtCleanup(t, m, tt.name)
			time.Sleep(100 * time.Millisecond)
			before := load.acked.Load()
			f, err := m.Create(ctx, CreateOptions{SourceDir: src.srv.DataDir, SourceDSN: src.dsn, Name: tt.name, Port: freePort(t),
				Method: tt.method, AllowCopy: true, Listen: tt.listen})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s fork: %+v", f.Method, f.Timings)
			checkFork(t, src, f, before, tt.want)
			if tt.listen != "" {
				at := func(host string) error {
					c, err := net.DialTimeout("tcp", net.JoinHostPort(host, strconv.Itoa(f.Port)), time.Second)
					if err == nil {
						c.Close()
					}
					return err
				}
				if err := at("127.0.0.3"); err != nil {
					t.Errorf("fork asked to listen on %s does not answer on 127.0.0.3: %v", tt.listen, err)
				}
				if err := at("127.0.0.2"); err == nil {
					t.Errorf("fork asked to listen on %s answers on 127.0.0.2 too", tt.listen)
				}
				if f.Listen != tt.listen {
					t.Errorf("fork record's listen %q, want %q", f.Listen, tt.listen)
				}
			}
			if err := m.Destroy(ctx, tt.name); err != nil {
				t.Fatal(err)
			}
		})
	}
	if load.err() != nil {
		t.Fatalf("write load failed: %v", load.err())
	}
}

// listing returns the names in dir, to check nothing was left behind.
func listing(t *testing.T, dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func TestBadInput(t *testing.T) {
	needHost(t)
	ctx := context.Background()
	mnt := loopBtrfs(t)
	src := startSource(t, filepath.Join(mnt, "src"), true)
	forksDir := filepath.Join(mnt, "forks")
	m := newManager(t, forksDir)
	destroyAtCleanup(t, m, "taken")
	if _, err := m.Create(ctx, CreateOptions{SourceDir: src.srv.DataDir, SourceDSN: src.dsn, Name: "taken", Port: freePort(t)}); err != nil {
		t.Fatal(err)
	}
	owner, _ := pglocal.LookupOwner("postgres")
	tsDir := filepath.Join(mnt, "ts")
	tsSrc := filepath.Join(mnt, "tssrc")
	ext4 := filepath.Join(openDir(t), "ext4src") // t.TempDir is not on the loop btrfs

	tests := []struct {
		name    string
		setup   func(t *testing.T) CreateOptions
		wantIs  error
		wantMsg string
	}{
		{"name taken", func(t *testing.T) CreateOptions {
			return CreateOptions{SourceDir: src.srv.DataDir, SourceDSN: src.dsn, Name: "taken", Port: freePort(t)}
		}, ErrNameTaken, ""},
		{"port taken by the source", func(t *testing.T) CreateOptions {
			return CreateOptions{SourceDir: src.srv.DataDir, SourceDSN: src.dsn, Name: "p", Port: src.port}
		}, ErrPortTaken, ""},
		{"bad name", func(t *testing.T) CreateOptions {
			return CreateOptions{SourceDir: src.srv.DataDir, SourceDSN: src.dsn, Name: "../x", Port: freePort(t)}
		}, nil, "fork name"},
		{"tablespace", func(t *testing.T) CreateOptions {
			s := startSource(t, tsSrc, true)
			if err := os.Mkdir(tsDir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chown(tsDir, owner.UID, owner.GID); err != nil {
				t.Fatal(err)
			}
			mustExec(t, s.dsn, "CREATE TABLESPACE ts LOCATION '"+tsDir+"'")
			return CreateOptions{SourceDir: s.srv.DataDir, SourceDSN: s.dsn, Name: "ts", Port: freePort(t)}
		}, ErrTablespaces, ""},
		{"no copy-on-write storage", func(t *testing.T) CreateOptions {
			s := startSource(t, ext4, false)
			return CreateOptions{SourceDir: s.srv.DataDir, SourceDSN: s.dsn, Name: "ext4", Port: freePort(t)}
		}, ErrNoCoW, ""},
		{"start fails", func(t *testing.T) CreateOptions {
			return CreateOptions{SourceDir: src.srv.DataDir, SourceDSN: src.dsn, Name: "nostart", Port: freePort(t),
				Settings: []Setting{{"shared_buffers", "lots"}}}
		}, nil, "shared_buffers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.setup(t)
			before := listing(t, forksDir)
			_, err := m.Create(ctx, o)
			if err == nil {
				destroyAtCleanup(t, m, o.Name)
				t.Fatal("Create succeeded")
			}
			t.Logf("error: %v", err)
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("err = %v, want %v", err, tt.wantIs)
			}
			if tt.wantMsg != "" && !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("err = %v, want it to mention %q", err, tt.wantMsg)
			}
			if after := listing(t, forksDir); strings.Join(after, ",") != strings.Join(before, ",") {
				t.Errorf("left behind: before %v, after %v", before, after)
			}
		})
	}
	if forks, err := m.List(); err != nil || len(forks) != 1 {
		t.Errorf("List = %+v, %v; want only the fork named taken", forks, err)
	}
}

func TestForkOfStandby(t *testing.T) {
	needHost(t)
	ctx := context.Background()
	mnt := loopBtrfs(t)
	primary := startSource(t, filepath.Join(mnt, "primary"), false)
	load := startLoad(t, primary.dsn)

	owner, _ := pglocal.LookupOwner("postgres")
	dir := filepath.Join(mnt, "standby")
	if err := CreateSubvolume(ctx, dir, owner); err != nil {
		t.Fatal(err)
	}
	if _, err := pglocal.Run(ctx, owner, []string{filepath.Join(pglocal.DefaultBinDir, "pg_basebackup"), "-d", primary.dsn, "-D", dir, "-R", "-X", "stream", "-c", "fast", "--no-sync"}); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	appendConf(t, dir, fmt.Sprintf("port = %d\n", port))
	standby := source{srv: pglocal.Server{BinDir: pglocal.DefaultBinDir, DataDir: dir, LogFile: dir + ".log", Owner: owner, Timeout: time.Minute},
		port: port, dsn: fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=postgres sslmode=disable", port)}
	if err := standby.srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = standby.srv.Stop(context.Background(), "immediate") })
	if rec := queryInt(t, standby.dsn, "SELECT pg_is_in_recovery()::int"); rec != 1 {
		t.Fatal("the standby is not in recovery")
	}
	time.Sleep(500 * time.Millisecond)
	// Rows the standby has replayed by now must be in the fork.
	replayed := queryInt(t, standby.dsn, "SELECT coalesce(max(id), 0) FROM t")

	m := newManager(t, filepath.Join(mnt, "forks"))
	destroyAtCleanup(t, m, "fs")
	f, err := m.Create(ctx, CreateOptions{SourceDir: dir, SourceDSN: standby.dsn, Name: "fs", Port: freePort(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("standby fork: %+v, replayed %d bytes", f.Timings, f.ReplayBytes)
	if f.ReplayBytes <= 0 {
		t.Errorf("ReplayBytes = %d: a standby's fork replays from its last restartpoint", f.ReplayBytes)
	}
	if f.Method != Snapshot {
		t.Errorf("method = %q", f.Method)
	}
	if got := queryInt(t, f.DSN, "SELECT count(*) FROM t WHERE id <= $1", replayed); got != replayed {
		t.Errorf("fork has %d of %d replayed rows", got, replayed)
	}
	if rec := queryInt(t, f.DSN, "SELECT pg_is_in_recovery()::int"); rec != 0 {
		t.Error("fork of the standby is in recovery")
	}
	mustExec(t, f.DSN, "INSERT INTO t (id, origin) VALUES (-1, 'fork')")
	if rec := queryInt(t, standby.dsn, "SELECT pg_is_in_recovery()::int"); rec != 1 {
		t.Error("the standby left recovery")
	}
	if got := queryInt(t, primary.dsn, "SELECT count(*) FROM t WHERE origin = 'fork'"); got != 0 {
		t.Error("the fork's row reached the primary")
	}
	if load.err() != nil {
		t.Fatalf("write load failed: %v", load.err())
	}
}

// TestForkOfCrashedSource is the post-mortem: the source's server dies
// without a shutdown checkpoint, and its data directory is forked as it
// lies before anything (pg_rewind, in a cluster) touches it. Every commit
// the source acknowledged is readable in the fork.
func TestForkOfCrashedSource(t *testing.T) {
	needHost(t)
	ctx := context.Background()
	mnt := loopBtrfs(t)
	for _, tc := range []struct {
		name   string
		subvol bool
		method Method
	}{{"snapshot", true, Snapshot}, {"reflink", false, Reflink}} {
		t.Run(tc.name, func(t *testing.T) {
			src := startSource(t, filepath.Join(mnt, "src-"+tc.name), tc.subvol)
			for i := 0; i < 50; i++ {
				mustExec(t, src.dsn, "INSERT INTO t (origin) VALUES ('before the crash')")
			}
			m := newManager(t, filepath.Join(mnt, "forks-"+tc.name))
			_, err := m.Create(ctx, CreateOptions{SourceDir: src.srv.DataDir, SourceStopped: true, Name: "pm", Port: freePort(t)})
			if err == nil || !strings.Contains(err.Error(), "is not stopped") {
				t.Fatalf("a running source forked as stopped: %v", err)
			}
			// SIGKILL the postmaster: no shutdown checkpoint, as in a power cut.
			pid, ok := pglocal.RunningPID(src.srv.DataDir)
			if !ok {
				t.Fatal("no postmaster")
			}
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 100; i++ {
				if _, ok := pglocal.RunningPID(src.srv.DataDir); !ok {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			destroyAtCleanup(t, m, "pm")
			f, err := m.Create(ctx, CreateOptions{SourceDir: src.srv.DataDir, SourceStopped: true, Name: "pm", Port: freePort(t)})
			if err != nil {
				t.Fatal(err)
			}
			if f.Method != tc.method {
				t.Errorf("method %s, want %s", f.Method, tc.method)
			}
			if got := queryInt(t, f.DSN, "SELECT count(*) FROM t WHERE origin = 'before the crash'"); got != 50 {
				t.Errorf("post-mortem fork holds %d of the 50 acknowledged rows", got)
			}
			if rec := queryInt(t, f.DSN, "SELECT pg_is_in_recovery()::int"); rec != 0 {
				t.Errorf("post-mortem fork in recovery")
			}
			if f.Timings.Checkpoint > time.Second {
				t.Errorf("a stopped source needs no checkpoint, took %v", f.Timings.Checkpoint)
			}
			if f.ReplayBytes != 0 {
				t.Errorf("a stopped source's replay is unknown, yet ReplayBytes = %d", f.ReplayBytes)
			}
		})
	}
}
