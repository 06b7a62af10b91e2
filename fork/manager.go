package fork

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/redswitch/redswitch/fork/pglocal"
)

// ErrNameTaken and ErrPortTaken report collisions with existing forks or
// (for the port) anything listening on it.
var (
	ErrNameTaken = errors.New("fork name taken")
	ErrPortTaken = errors.New("port taken")
)

// Config configures a Manager.
type Config struct {
	// Dir holds one NAME.json per fork and, unless CreateOptions.Dir says
	// otherwise, the forks' data directories (Dir/NAME) and logs (Dir/NAME.log).
	Dir string
	// BinDir holds pg_ctl and pg_basebackup; default pglocal.DefaultBinDir.
	BinDir string
	// Timeout bounds starting, promoting and stopping a fork; default 5 min.
	Timeout time.Duration
	Log     *slog.Logger
}

// Manager creates, lists and destroys forks. Its state is the JSON files in
// Config.Dir, so a new Manager on the same Dir sees earlier forks.
type Manager struct {
	cfg     Config
	mu      sync.Mutex
	pending map[string]int // names being created → their ports
}

// NewManager returns a Manager over cfg.Dir, creating the directory.
func NewManager(cfg Config) (*Manager, error) {
	if cfg.Dir == "" {
		return nil, errors.New("fork manager: Config.Dir is empty")
	}
	if cfg.BinDir == "" {
		cfg.BinDir = pglocal.DefaultBinDir
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Minute
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	abs, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("fork manager: %w", err)
	}
	cfg.Dir = abs
	// Forks' servers run as postgres and must reach their data directories.
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("fork manager: %w", err)
	}
	return &Manager{cfg: cfg, pending: map[string]int{}}, nil
}

// PasswordEnv is the environment variable through which `redswitch fork
// local` gets CreateOptions.SourcePassword from the process that runs it
// (a node's agent): a command line is readable by every user of the
// machine, an environment only by its owner. Not PGPASSWORD: the command
// removes it from its environment once read, so the fork's server and
// the copies it starts do not inherit it.
const PasswordEnv = "REDSWITCH_FORK_PASSWORD"

// CreateOptions says what to fork and where.
type CreateOptions struct {
	SourceDir string // the running server's data directory
	SourceDSN string // connection to the source, for CHECKPOINT and the backup functions
	// SourcePassword, when set, is the password for SourceDSN and for the
	// fork, which keeps the source's users: kept out of the DSN, it reaches
	// no command line (pg_basebackup gets it in its environment) and no
	// fork record.
	SourcePassword string
	// SourceStopped forks a data directory whose server is not running
	// (a crashed primary before Patroni rewinds it: a post-mortem): no
	// CHECKPOINT, no backup functions, no SourceDSN; the copy is whatever
	// the disk holds, and the fork's recovery replays all its WAL.
	SourceStopped bool
	Name          string // [a-z0-9][a-z0-9_-]*, at most 63 characters
	Port          int
	// Listen, when set, is the fork server's listen_addresses, checked by
	// the caller (agentapi.ParseListen); empty keeps the source's.
	Listen    string
	Dir       string // where the fork's data directory goes; default Config.Dir. Snapshots need the source's btrfs.
	Method    Method // Auto picks snapshot, then reflink, then copy if AllowCopy
	AllowCopy bool   // permit a full copy when no copy-on-write method works
	Settings  []Setting
	// CheckpointSkipBelow skips the source CHECKPOINT before a snapshot when
	// less WAL than this many bytes was written since the source's last
	// checkpoint: the fork replays that WAL itself, which costs the fork a
	// little start time and spares the source an immediate checkpoint's
	// burst of writes. 0 always checkpoints.
	CheckpointSkipBelow int64
	// Nice is the niceness of the fork's server and of the copy commands:
	// a fork is background work next to a production source, so a positive
	// value (10) keeps it from taking CPU from the source. 0 leaves it.
	Nice int
	// Idle runs the fork's server and copy commands under SCHED_IDLE
	// instead of nice: they get a CPU only when no ordinary process wants
	// it, and a waking backend of the source preempts them at once. On
	// the 2-core bench machine it did not lower the primary's p99 beyond
	// run-to-run noise (bench fork --idle); a fork crawls on a saturated
	// machine.
	Idle bool
	// CPUs lists the CPUs (taskset -c) the fork's server and copy commands
	// may run on, keeping the source's CPUs free; empty: any.
	CPUs string
}

// Timings are the phases of one Create.
type Timings struct {
	Checkpoint time.Duration `json:"checkpoint_ns"` // CHECKPOINT (snapshot) or pg_backup_start (reflink, copy)
	Snapshot   time.Duration `json:"snapshot_ns"`   // making the copy, whatever the method
	Prepare    time.Duration `json:"prepare_ns"`    // the recipe
	Start      time.Duration `json:"start_ns"`      // pg_ctl start until read-only connections
	Promote    time.Duration `json:"promote_ns"`    // pg_ctl promote until pg_is_in_recovery() is false
	ToWritable time.Duration `json:"to_writable_ns"`
}

// Fork is one fork, as recorded.
type Fork struct {
	Name      string    `json:"name"`
	Port      int       `json:"port"`
	Dir       string    `json:"dir"`
	Method    Method    `json:"method"`
	Timeline  int       `json:"timeline"`
	CreatedAt time.Time `json:"created_at"`
	DSN       string    `json:"dsn"`
	SourceDir string    `json:"source_dir"`
	// Listen is the fork's listen_addresses when it was asked for one.
	Listen  string  `json:"listen,omitempty"`
	LogFile string  `json:"log_file"`
	Timings Timings `json:"timings"`
	// ReplayBytes is the WAL between the source's redo point after its
	// CHECKPOINT and its position at the snapshot: what the fork replays
	// before it is writable, and so most of its start time. A standby's
	// CHECKPOINT only reaches the last checkpoint record it replayed, so a
	// replica's forks may replay up to a checkpoint interval of WAL. Known
	// for snapshots of a running source only; 0 otherwise.
	ReplayBytes int64 `json:"replay_bytes,omitempty"`
	Running     bool  `json:"running"` // as of the List or Create that returned it
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// ValidateName checks a fork name: it becomes a directory, a file name and
// a setting value.
func ValidateName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("fork name %q: want [a-z0-9][a-z0-9_-]*, at most 63 characters", name)
	}
	return nil
}

func (m *Manager) metaPath(name string) string { return filepath.Join(m.cfg.Dir, name+".json") }

// reserve claims a name and port for a Create in progress.
func (m *Manager) reserve(name string, port int) (func(), error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	forks, err := m.list()
	if err != nil {
		return nil, err
	}
	for _, f := range forks {
		if f.Name == name {
			return nil, fmt.Errorf("%w: %q exists (%s)", ErrNameTaken, name, m.metaPath(name))
		}
		if f.Port == port {
			return nil, fmt.Errorf("%w: %d is used by fork %q", ErrPortTaken, port, f.Name)
		}
	}
	for n, p := range m.pending {
		if n == name {
			return nil, fmt.Errorf("%w: %q is being created", ErrNameTaken, name)
		}
		if p == port {
			return nil, fmt.Errorf("%w: %d is claimed by fork %q being created", ErrPortTaken, port, n)
		}
	}
	if l, err := net.Listen("tcp", ":"+strconv.Itoa(port)); err != nil {
		return nil, fmt.Errorf("%w: %d: %v", ErrPortTaken, port, err)
	} else {
		l.Close()
	}
	m.pending[name] = port
	return func() {
		m.mu.Lock()
		delete(m.pending, name)
		m.mu.Unlock()
	}, nil
}

// Create forks the running server in o.SourceDir: copy, prepare, start as a
// standby without upstream, promote onto a new timeline, wait until it is
// writable. A failed Create leaves nothing behind.
func (m *Manager) Create(ctx context.Context, o CreateOptions) (f Fork, err error) {
	begin := time.Now()
	log := m.cfg.Log.With("fork", o.Name)
	if err := ValidateName(o.Name); err != nil {
		return Fork{}, err
	}
	if o.Port <= 0 || o.Port > 65535 {
		return Fork{}, fmt.Errorf("fork %q: port %d out of range", o.Name, o.Port)
	}
	if o.CPUs != "" {
		if err := pglocal.CheckCPUs(o.CPUs); err != nil {
			return Fork{}, fmt.Errorf("fork %q: %w", o.Name, err)
		}
	}
	if o.SourceDSN == "" && !o.SourceStopped {
		return Fork{}, fmt.Errorf("fork %q: SourceDSN is empty; it is needed for CHECKPOINT or the backup functions", o.Name)
	}
	if o.Dir == "" {
		o.Dir = m.cfg.Dir
	}
	src, err := filepath.Abs(o.SourceDir)
	if err != nil {
		return Fork{}, fmt.Errorf("fork %q: source: %w", o.Name, err)
	}
	if err := checkSource(src); err != nil {
		return Fork{}, fmt.Errorf("fork %q: %w", o.Name, err)
	}
	owner, err := pglocal.OwnerOf(src)
	if err != nil {
		return Fork{}, fmt.Errorf("fork %q: %w", o.Name, err)
	}
	if owner.UID == 0 {
		return Fork{}, fmt.Errorf("fork %q: source %s is owned by root; PostgreSQL cannot run as root", o.Name, src)
	}
	if o.SourceStopped {
		if pid, running := pglocal.RunningPID(src); running {
			return Fork{}, fmt.Errorf("fork %q: source %s is not stopped: postmaster %d runs", o.Name, src, pid)
		}
		if o.Method == BaseBackup {
			return Fork{}, fmt.Errorf("fork %q: a base backup needs a running source", o.Name)
		}
	}
	dsn := o.SourceDSN
	if dsn == "" {
		// The fork is reached over its own socket directory setting or
		// TCP; only its port differs from this default.
		dsn = "host=127.0.0.1 user=postgres dbname=postgres sslmode=disable"
	}
	forkDSN, err := WithPort(dsn, o.Port)
	if err != nil {
		return Fork{}, fmt.Errorf("fork %q: %w", o.Name, err)
	}
	release, err := m.reserve(o.Name, o.Port)
	if err != nil {
		return Fork{}, fmt.Errorf("fork %q: %w", o.Name, err)
	}
	defer release()
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return Fork{}, fmt.Errorf("fork %q: %w", o.Name, err)
	}
	dst := filepath.Join(o.Dir, o.Name)
	if _, err := os.Lstat(dst); err == nil {
		return Fork{}, fmt.Errorf("fork %q: %w: %s exists", o.Name, ErrNameTaken, dst)
	}
	method, err := m.choose(ctx, src, o)
	if err != nil {
		return Fork{}, fmt.Errorf("fork %q: %w", o.Name, err)
	}
	log = log.With("method", method)
	if method == Copy {
		log.Warn("no copy-on-write storage: copying every byte, which takes time proportional to the database", "source", src)
	}
	srv := pglocal.Server{BinDir: m.cfg.BinDir, DataDir: dst, LogFile: filepath.Join(o.Dir, o.Name+".log"), Owner: owner, Timeout: m.cfg.Timeout, Sched: o.sched()}
	// From here on a failure must undo everything. Only a server we started
	// is stopped: before Prepare the copy holds the source's postmaster.pid,
	// and pg_ctl stop on it would stop the source.
	started := false
	defer func() {
		if err == nil {
			return
		}
		err = fmt.Errorf("fork %q: %w", o.Name, err)
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		var stopErr error
		if started {
			stopErr = srv.Stop(cctx, "immediate")
		}
		if cerr := errors.Join(stopErr, removeTree(cctx, dst), removeIfExists(srv.LogFile)); cerr != nil {
			log.Error("cleanup of a failed fork incomplete", "err", cerr)
			err = errors.Join(err, fmt.Errorf("cleanup: %w", cerr))
		}
	}()

	var t Timings
	var replay int64
	switch method {
	case Snapshot:
		start := time.Now()
		if !o.SourceStopped {
			if replay, err = checkpoint(ctx, log, o.SourceDSN, o.SourcePassword, o.CheckpointSkipBelow); err != nil {
				return Fork{}, fmt.Errorf("checkpoint source: %w", err)
			}
		}
		t.Checkpoint = time.Since(start)
		start = time.Now()
		if _, err := pglocal.Run(ctx, self, SnapshotArgs(src, dst)); err != nil {
			return Fork{}, err
		}
		t.Snapshot = time.Since(start)
	case Reflink, Copy:
		if o.SourceStopped {
			// Nothing writes: a plain copy is consistent.
			start := time.Now()
			if err := mkdirOwned(dst, owner); err != nil {
				return Fork{}, err
			}
			if err := copyTolerant(ctx, o.sched().Wrap(CopyTreeArgs(src, dst, method == Reflink))); err != nil {
				return Fork{}, err
			}
			t.Snapshot = time.Since(start)
			break
		}
		if err := m.copyInBackup(ctx, log, src, dst, o, owner, method == Reflink, &t); err != nil {
			return Fork{}, err
		}
	case BaseBackup:
		start := time.Now()
		if err := mkdirOwned(dst, owner); err != nil {
			return Fork{}, err
		}
		argv := o.sched().Wrap(BaseBackupArgs(m.cfg.BinDir, o.SourceDSN, dst, "redswitch fork "+o.Name))
		if _, err := pglocal.RunEnv(ctx, owner, passwordEnv(o.SourcePassword), argv); err != nil {
			return Fork{}, err
		}
		t.Snapshot = time.Since(start)
	}
	log.Debug("copied", "checkpoint", t.Checkpoint, "copy", t.Snapshot)

	start := time.Now()
	if err := Prepare(Recipe{Name: o.Name, Port: o.Port, SourceDir: src, ForkDir: dst, Settings: o.settings()}, owner); err != nil {
		return Fork{}, err
	}
	t.Prepare = time.Since(start)

	start = time.Now()
	started = true // a failed start may still leave a server behind
	if err := srv.Start(ctx); err != nil {
		return Fork{}, err
	}
	t.Start = time.Since(start)
	start = time.Now()
	if err := srv.Promote(ctx); err != nil {
		return Fork{}, err
	}
	tl, err := waitWritable(ctx, forkDSN, o.SourcePassword, m.cfg.Timeout)
	if err != nil {
		return Fork{}, fmt.Errorf("%w; log: %s", err, srv.LogFileTail())
	}
	t.Promote = time.Since(start)
	t.ToWritable = time.Since(begin)

	f = Fork{Name: o.Name, Port: o.Port, Dir: dst, Method: method, Timeline: tl, CreatedAt: begin.UTC(),
		DSN: forkDSN, SourceDir: src, Listen: o.Listen, LogFile: srv.LogFile, Timings: t, ReplayBytes: replay, Running: true}
	if err := writeMeta(m.metaPath(o.Name), f); err != nil {
		return Fork{}, err
	}
	log.Info("fork writable", "port", o.Port, "timeline", tl, "to_writable", t.ToWritable.Round(time.Millisecond), "replay_bytes", replay,
		"checkpoint", t.Checkpoint.Round(time.Millisecond), "copy", t.Snapshot.Round(time.Millisecond),
		"start", t.Start.Round(time.Millisecond), "promote", t.Promote.Round(time.Millisecond))
	return f, nil
}

// checkSource refuses what cannot be forked before anything is copied.
func checkSource(src string) error {
	if _, err := os.Stat(filepath.Join(src, "PG_VERSION")); err != nil {
		return fmt.Errorf("source %s is not a PostgreSQL data directory: %w", src, err)
	}
	if _, err := os.Stat(filepath.Join(src, "postgresql.conf")); err != nil {
		return fmt.Errorf("source %s: the configuration must live in the data directory: %w", src, err)
	}
	return CheckTablespaces(src)
}

// choose probes the storage and resolves the method.
func (m *Manager) choose(ctx context.Context, src string, o CreateOptions) (Method, error) {
	var c Capabilities
	var err error
	if c.SourceIsSubvolume, err = IsSubvolume(src); err != nil {
		return "", err
	}
	onBtrfs, err := OnBtrfs(o.Dir)
	if err != nil {
		return "", err
	}
	// A reflink works only within one filesystem, so it also tells whether
	// a snapshot into o.Dir can work.
	c.Reflink = probeReflink(ctx, src, o.Dir, o.Name)
	c.SameBtrfs = onBtrfs && c.Reflink
	return ChooseMethod(o.Method, c, o.AllowCopy)
}

// probeReflink reflinks one small, read-only source file into the forks
// directory: it tells whether both sit on one reflink-capable filesystem.
func probeReflink(ctx context.Context, src, dir, name string) bool {
	probe := filepath.Join(dir, ".reflink-probe-"+name)
	defer os.Remove(probe)
	_, err := pglocal.Run(ctx, self, []string{"cp", "--reflink=always", filepath.Join(src, "PG_VERSION"), probe})
	return err == nil
}

// copyInBackup copies src into dst between pg_backup_start and
// pg_backup_stop in one session, then copies the WAL written meanwhile and
// writes the backup_label the stop returned. A temporary replication slot
// keeps the source from recycling WAL the copy needs.
func (m *Manager) copyInBackup(ctx context.Context, log *slog.Logger, src, dst string, o CreateOptions, owner pglocal.Owner, reflink bool, t *Timings) error {
	conn, err := connect(ctx, o.SourceDSN, o.SourcePassword)
	if err != nil {
		return fmt.Errorf("connect to source: %w", err)
	}
	// Closing the session also aborts a backup left running by an error.
	defer conn.Close(context.WithoutCancel(ctx))
	slot := "redswitch_fork_" + strings.ReplaceAll(o.Name, "-", "_")
	if _, err := conn.Exec(ctx, "SELECT pg_create_physical_replication_slot($1, true, true)", slot); err != nil {
		log.Warn("no temporary slot to hold WAL during the copy; a checkpoint during a long copy could recycle WAL it needs", "err", err)
	}
	start := time.Now()
	if _, err := conn.Exec(ctx, "SELECT pg_backup_start($1, true)", "redswitch fork "+o.Name); err != nil {
		return fmt.Errorf("pg_backup_start: %w", err)
	}
	t.Checkpoint = time.Since(start)
	start = time.Now()
	if err := mkdirOwned(dst, owner); err != nil {
		return err
	}
	if err := copyTolerant(ctx, o.sched().Wrap(CopyTreeArgs(src, dst, reflink))); err != nil {
		return err
	}
	var lsn, label, spcmap string
	if err := conn.QueryRow(ctx, "SELECT lsn::text, labelfile, spcmapfile FROM pg_backup_stop(false)").Scan(&lsn, &label, &spcmap); err != nil {
		return fmt.Errorf("pg_backup_stop: %w", err)
	}
	// WAL up to the stop LSN must be in the copy: copy pg_wal again now.
	ents, err := os.ReadDir(filepath.Join(src, "pg_wal"))
	if err != nil {
		return fmt.Errorf("list source WAL: %w", err)
	}
	var files []string
	for _, e := range ents {
		if e.Type().IsRegular() {
			files = append(files, filepath.Join(src, "pg_wal", e.Name()))
		}
	}
	if len(files) > 0 {
		if err := copyTolerant(ctx, o.sched().Wrap(CopyFilesArgs(files, filepath.Join(dst, "pg_wal"), reflink))); err != nil {
			return err
		}
	}
	// pg_control last, as pg_basebackup does: for a backup from a standby
	// its minimum recovery point marks where the copy becomes consistent.
	if err := copyTolerant(ctx, CopyFilesArgs([]string{filepath.Join(src, "global", "pg_control")}, filepath.Join(dst, "global"), reflink)); err != nil {
		return err
	}
	if err := writeOwned(filepath.Join(dst, "backup_label"), []byte(label), owner); err != nil {
		return err
	}
	if spcmap != "" {
		if err := writeOwned(filepath.Join(dst, "tablespace_map"), []byte(spcmap), owner); err != nil {
			return err
		}
	}
	t.Snapshot = time.Since(start)
	log.Debug("backup copy done", "stop_lsn", lsn)
	return nil
}

// copyTolerant runs cp, accepting files that vanished during the copy.
func copyTolerant(ctx context.Context, argv []string) error {
	out, err := pglocal.Run(ctx, self, argv)
	if err != nil && !onlyVanished(string(out)) {
		return err
	}
	return nil
}

func mkdirOwned(dir string, owner pglocal.Owner) error {
	if err := os.Mkdir(dir, 0o700); err != nil {
		return fmt.Errorf("create fork directory: %w", err)
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(dir, owner.UID, owner.GID); err != nil {
			return fmt.Errorf("create fork directory: %w", err)
		}
	}
	return nil
}

func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func (o CreateOptions) sched() pglocal.Sched {
	return pglocal.Sched{Nice: o.Nice, CPUs: o.CPUs, Idle: o.Idle}
}

// connect opens a session at dsn; a password, when given, replaces the
// DSN's own (see CreateOptions.SourcePassword).
func connect(ctx context.Context, dsn, password string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	if password != "" {
		cfg.Password = password
	}
	return pgx.ConnectConfig(ctx, cfg)
}

// passwordEnv is the environment that gives a libpq program (pg_basebackup)
// the password: its command line is readable by every user of the
// machine, its environment only by its owner.
func passwordEnv(password string) []string {
	if password == "" {
		return nil
	}
	return []string{"PGPASSWORD=" + password}
}

// checkpoint runs CHECKPOINT on the source (a restartpoint on a standby)
// unless less than skipBelow bytes of WAL follow its last checkpoint's redo
// point.
func checkpoint(ctx context.Context, log *slog.Logger, dsn, password string, skipBelow int64) (int64, error) {
	conn, err := connect(ctx, dsn, password)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	behind := func() (int64, error) {
		var n int64
		err := conn.QueryRow(ctx, `SELECT (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END
			- (SELECT redo_lsn FROM pg_control_checkpoint()))::bigint`).Scan(&n)
		return n, err
	}
	if skipBelow > 0 {
		n, err := behind()
		if err != nil {
			return 0, err
		}
		if n < skipBelow {
			log.Debug("checkpoint skipped", "wal_since_redo", n, "skip_below", skipBelow)
			return n, nil
		}
	}
	if _, err := conn.Exec(ctx, "CHECKPOINT"); err != nil {
		return 0, err
	}
	// Measured after the CHECKPOINT: the snapshot follows at once, so this
	// is what the fork will replay, give or take the WAL of those moments.
	return behind()
}

// waitWritable polls until the server at dsn is out of recovery, then
// returns its timeline. pg_ctl's own waits return at read-only.
func waitWritable(ctx context.Context, dsn, password string, timeout time.Duration) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last error
	for {
		tl, err := timelineIfWritable(ctx, dsn, password)
		if err == nil {
			return tl, nil
		}
		last = err
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("fork not writable after %s: %w", timeout, last)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

var errInRecovery = errors.New("still in recovery")

func timelineIfWritable(ctx context.Context, dsn, password string) (int, error) {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := connect(cctx, dsn, password)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var rec bool
	if err := conn.QueryRow(cctx, "SELECT pg_is_in_recovery()").Scan(&rec); err != nil {
		return 0, err
	}
	if rec {
		return 0, errInRecovery
	}
	var wal string
	if err := conn.QueryRow(cctx, "SELECT pg_walfile_name(pg_current_wal_lsn())").Scan(&wal); err != nil {
		return 0, err
	}
	return TimelineOfWALFile(wal)
}

// TimelineOfWALFile reads the timeline from a WAL segment file name (its
// first 8 hex digits).
func TimelineOfWALFile(name string) (int, error) {
	if len(name) != 24 {
		return 0, fmt.Errorf("WAL file name %q: want 24 hex digits", name)
	}
	tl, err := strconv.ParseUint(name[:8], 16, 32)
	if err != nil || tl == 0 {
		return 0, fmt.Errorf("WAL file name %q: bad timeline", name)
	}
	if _, err := strconv.ParseUint(name[8:], 16, 64); err != nil {
		return 0, fmt.Errorf("WAL file name %q: not hex", name)
	}
	return int(tl), nil
}

// List returns the recorded forks sorted by name, each marked running or
// not. A damaged record is reported in the error; the others are returned.
func (m *Manager) List() ([]Fork, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.list()
}

func (m *Manager) list() ([]Fork, error) {
	ents, err := os.ReadDir(m.cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("list forks: %w", err)
	}
	var forks []Fork
	var errs []error
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		f, err := readMeta(filepath.Join(m.cfg.Dir, e.Name()))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		_, f.Running = pglocal.RunningPID(f.Dir)
		forks = append(forks, f)
	}
	sort.Slice(forks, func(i, j int) bool { return forks[i].Name < forks[j].Name })
	return forks, errors.Join(errs...)
}

// Destroy stops a fork and removes its data directory (or subvolume), log
// and record.
func (m *Manager) Destroy(ctx context.Context, name string) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.pending[name]; ok {
		return fmt.Errorf("destroy fork %q: it is being created", name)
	}
	f, err := readMeta(m.metaPath(name))
	if err != nil {
		return fmt.Errorf("destroy fork %q: %w", name, err)
	}
	owner, err := pglocal.OwnerOf(f.Dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("destroy fork %q: %w", name, err)
	}
	srv := pglocal.Server{BinDir: m.cfg.BinDir, DataDir: f.Dir, LogFile: f.LogFile, Owner: owner, Timeout: m.cfg.Timeout}
	if err := srv.Stop(ctx, "fast"); err != nil {
		m.cfg.Log.Warn("fast stop failed; stopping immediately", "fork", name, "err", err)
		if err := srv.Stop(ctx, "immediate"); err != nil {
			return fmt.Errorf("destroy fork %q: %w", name, err)
		}
	}
	if err := removeTree(ctx, f.Dir); err != nil {
		return fmt.Errorf("destroy fork %q: %w", name, err)
	}
	if err := errors.Join(removeIfExists(f.LogFile), removeIfExists(m.metaPath(name))); err != nil {
		return fmt.Errorf("destroy fork %q: %w", name, err)
	}
	m.cfg.Log.Info("fork destroyed", "fork", name)
	return nil
}

// ParseMeta decodes a fork record; errors name the file.
func ParseMeta(path string, data []byte) (Fork, error) {
	var f Fork
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return Fork{}, fmt.Errorf("%s: %w", path, err)
	}
	if err := ValidateName(f.Name); err != nil {
		return Fork{}, fmt.Errorf("%s: field name: %w", path, err)
	}
	if want := strings.TrimSuffix(filepath.Base(path), ".json"); want != f.Name && filepath.Base(path) != "" {
		return Fork{}, fmt.Errorf("%s: field name %q does not match the file name", path, f.Name)
	}
	if f.Port <= 0 || f.Port > 65535 {
		return Fork{}, fmt.Errorf("%s: field port: %d out of range", path, f.Port)
	}
	if !filepath.IsAbs(f.Dir) {
		return Fork{}, fmt.Errorf("%s: field dir: %q is not absolute", path, f.Dir)
	}
	return f, nil
}

func readMeta(path string) (Fork, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Fork{}, err
	}
	return ParseMeta(path, b)
}

// writeMeta writes a record atomically (rename), so a crash leaves either
// the old record or the new one.
func writeMeta(path string, f Fork) error {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("fork record: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("fork record: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("fork record: %w", err)
	}
	return nil
}

// settings are the extra settings of the fork: Settings, then Listen,
// which the recipe applies last, over the source's command line.
func (o CreateOptions) settings() []Setting {
	if o.Listen == "" {
		return o.Settings
	}
	return append(append([]Setting(nil), o.Settings...), Setting{"listen_addresses", o.Listen})
}
