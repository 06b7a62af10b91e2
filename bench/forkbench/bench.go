// Package forkbench measures forks next to a loaded PostgreSQL 15 primary:
// per pgbench scale and per method, forking its streaming replica (or the
// primary itself), the time until the fork is writable, the primary's
// transaction latency during the forks against its steady state and
// against interleaved windows with no fork, and the fork's own disk usage
// after some writes. It writes results.json, report.md and fork.png/fork.svg.
package forkbench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/fork"
	"github.com/redswitch/redswitch/fork/pglocal"
	"golang.org/x/sys/unix"
)

// Options configures Run. Zero values take the defaults noted.
type Options struct {
	Scales []int  // pgbench scales; default 1
	Out    string // output directory (created)
	// WorkDir holds the databases; when it is not on btrfs a loop-backed
	// btrfs image is made and mounted under it (root only). Default Out/work.
	WorkDir string
	// ForksImageDir holds the loop image of the forked server and its
	// forks when WorkDir is not on btrfs; default WorkDir. Pointing it at
	// another disk (or at tmpfs, /dev/shm) gives the forks storage of
	// their own, apart from the primary's, as separate rig nodes have.
	ForksImageDir string
	// ServerSettings go into the primary's and the replica's configuration
	// after the rig's own checkpoint_timeout (cluster.CheckpointTimeout),
	// which bounds a replica fork's replay; a setting here overrides it.
	ServerSettings []fork.Setting
	BinDir         string        // default pglocal.DefaultBinDir
	Methods        []fork.Method // default snapshot, reflink, basebackup, copy
	Clients        int           // load connections; default 4
	Rate           float64       // total paced load, transactions/s; default 200
	// Steady is the steady-state window before the forks; default
	// CheckpointCycles of the servers' checkpoint_timeout (60 s).
	Steady time.Duration
	Settle time.Duration // pause between forks; default 3 s
	// ForkWrites is how many transactions run on each fork before its disk
	// usage is measured; default 2000.
	ForkWrites int
	// Repeat is how many forks each method makes per scale; the primary's
	// latency is pooled over them. Default 3.
	Repeat int
	// Settings go into every fork's configuration (fork.CreateOptions).
	Settings []fork.Setting
	// Nice is the niceness of each fork (fork.CreateOptions.Nice); default
	// 10, -1 for none.
	Nice int
	// Idle runs each fork under SCHED_IDLE (fork.CreateOptions.Idle).
	Idle bool
	// CheckpointSkipBelow is fork.CreateOptions.CheckpointSkipBelow: skip
	// the source CHECKPOINT when less WAL than this follows its last one.
	CheckpointSkipBelow int64
	// Source is SourceReplica (default) or SourcePrimary.
	Source string
	// PrimaryCPUs and ForkCPUs (taskset CPU lists, such as "0" and "1")
	// keep the primary and the load apart from the forked server and its
	// forks, as separate rig nodes are; empty: any CPU.
	PrimaryCPUs, ForkCPUs string
	// Sync makes the replica a synchronous standby once it streams: every
	// commit on the primary then waits for the replica's WAL flush, the
	// path by which a fork on another machine still reaches the primary.
	Sync bool
	// User owns and runs the databases; default "postgres".
	User string
	Log  *slog.Logger
}

func (o *Options) defaults() {
	if len(o.Scales) == 0 {
		o.Scales = []int{1}
	}
	if o.WorkDir == "" {
		o.WorkDir = filepath.Join(o.Out, "work")
	}
	if o.BinDir == "" {
		o.BinDir = pglocal.DefaultBinDir
	}
	if len(o.Methods) == 0 {
		o.Methods = fork.Methods
	}
	if o.Clients <= 0 {
		o.Clients = 4
	}
	if o.Rate <= 0 {
		o.Rate = 200
	}
	if o.Settle <= 0 {
		o.Settle = 3 * time.Second
	}
	if o.Repeat <= 0 {
		o.Repeat = 3
	}
	if o.ForkWrites <= 0 {
		o.ForkWrites = 2000
	}
	if o.Nice == 0 {
		o.Nice = 10
	} else if o.Nice < 0 {
		o.Nice = 0
	}
	if o.User == "" {
		o.User = "postgres"
	}
	if o.Source == "" {
		o.Source = SourceReplica
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

// Run benchmarks every scale and method and writes the results, even when
// some forks fail (their rows carry the error, which Run also returns).
func Run(ctx context.Context, o Options) error {
	if o.Out == "" {
		return errors.New("forkbench: Options.Out is empty")
	}
	o.defaults()
	for _, s := range o.Scales {
		if s <= 0 {
			return fmt.Errorf("forkbench: scale %d is not positive", s)
		}
	}
	if o.Steady <= 0 {
		d, err := steadyFor(serverSettings(o.ServerSettings))
		if err != nil {
			return fmt.Errorf("forkbench: server settings: %w", err)
		}
		o.Steady = d
	}
	if o.Source != SourceReplica && o.Source != SourcePrimary {
		return fmt.Errorf("forkbench: source %q: want %q or %q", o.Source, SourceReplica, SourcePrimary)
	}
	for _, c := range []string{o.PrimaryCPUs, o.ForkCPUs} {
		if c == "" {
			continue
		}
		if err := pglocal.CheckCPUs(c); err != nil {
			return fmt.Errorf("forkbench: %w", err)
		}
	}
	if o.PrimaryCPUs != "" {
		restore, err := pinProcess(o.PrimaryCPUs)
		if err != nil {
			return fmt.Errorf("forkbench: pin the load to the primary's CPUs: %w", err)
		}
		defer restore()
	}
	if o.Sync && o.Source != SourceReplica {
		return fmt.Errorf("forkbench: a synchronous standby needs source %q, not %q", SourceReplica, o.Source)
	}
	owner, err := pglocal.LookupOwner(o.User)
	if err != nil {
		return fmt.Errorf("forkbench: %w", err)
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return fmt.Errorf("forkbench: %w", err)
	}
	st, err := storageFor(ctx, o)
	if err != nil {
		return err
	}
	defer st.unmount()

	res := Results{Machine: machine(ctx, o, st.desc)}
	var runErrs []error
	for _, scale := range o.Scales {
		rows, ctl, err := runScale(ctx, o, owner, st, scale)
		res.Rows = append(res.Rows, rows...)
		if ctl.Windows > 0 {
			res.Controls = append(res.Controls, ctl)
		}
		if err != nil {
			runErrs = append(runErrs, fmt.Errorf("scale %d: %w", scale, err))
			if ctx.Err() != nil {
				break
			}
		}
	}
	res.Machine.LoadAvgEnd = loadAvg()
	if len(res.Rows) > 0 {
		if err := write(o.Out, res); err != nil {
			runErrs = append(runErrs, err)
		}
	}
	return errors.Join(runErrs...)
}

// storage says where the bench's databases live.
type storage struct {
	primary string // the loaded primary's directory
	forks   string // the forked source's (replica or primary) and the forks'
	desc    string // for the report
	unmount func()
}

// storageFor finds btrfs for the databases, mounting loop images when
// WorkDir is not on btrfs. A replica and its forks get a filesystem of
// their own, apart from the primary's, as each node has on the rig: a fork
// of a replica then shares nothing with the primary but the machine.
func storageFor(ctx context.Context, o Options) (storage, error) {
	if err := os.MkdirAll(o.WorkDir, 0o755); err != nil {
		return storage{}, fmt.Errorf("forkbench: %w", err)
	}
	if on, err := fork.OnBtrfs(o.WorkDir); err != nil {
		return storage{}, fmt.Errorf("forkbench: %w", err)
	} else if on {
		return storage{primary: o.WorkDir, forks: o.WorkDir, desc: "btrfs at " + o.WorkDir + ", one filesystem for every server", unmount: func() {}}, nil
	}
	maxScale := 0
	for _, s := range o.Scales {
		maxScale = max(maxScale, s)
	}
	var mounted [][2]string // image, mount point
	unmount := func() {
		for _, m := range mounted {
			if err := fork.Unmount(context.WithoutCancel(ctx), m[1]); err != nil {
				o.Log.Error("unmount bench btrfs", "err", err)
				continue
			}
			os.Remove(m[0])
			os.Remove(m[1])
		}
	}
	mount := func(imgDir, name string, size int64) (string, error) {
		img := filepath.Join(imgDir, name+".img")
		mnt := filepath.Join(o.WorkDir, name)
		if err := fork.EnsureBtrfs(ctx, o.Log, img, mnt, size); err != nil {
			return "", fmt.Errorf("forkbench: %w", err)
		}
		mounted = append(mounted, [2]string{img, mnt})
		return mnt, nil
	}
	// Source plus one full copy plus WAL, with room to spare.
	forksSize := int64(3<<30) + int64(maxScale)*40<<20
	imgDir := o.ForksImageDir
	if imgDir == "" {
		imgDir = o.WorkDir
	}
	if err := os.MkdirAll(imgDir, 0o755); err != nil {
		return storage{}, fmt.Errorf("forkbench: %w", err)
	}
	forks, err := mount(imgDir, "forks", forksSize)
	if err != nil {
		return storage{}, err
	}
	st := storage{primary: forks, forks: forks, unmount: unmount}
	if o.Source == SourceReplica {
		if st.primary, err = mount(o.WorkDir, "primary", int64(3<<30)+int64(maxScale)*20<<20); err != nil {
			unmount()
			return storage{}, err
		}
	}
	st.desc = "btrfs on loop devices (sparse images, mounted " + fork.LoopOptions + "); " + imageDesc(o.Source, o.WorkDir, imgDir)
	return st, nil
}

// pinProcess restricts every thread of this process (the load's clients)
// to cpus; threads made later inherit it. restore gives every thread there
// is then the set the calling thread had before.
func pinProcess(cpus string) (restore func(), err error) {
	set, err := cpuSet(cpus)
	if err != nil {
		return nil, err
	}
	var was unix.CPUSet
	if err := unix.SchedGetaffinity(0, &was); err != nil {
		return nil, err
	}
	restore = func() { _ = setAllThreads(was) }
	if err := setAllThreads(set); err != nil {
		restore()
		return nil, err
	}
	return restore, nil
}

func setAllThreads(set unix.CPUSet) error {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return err
	}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		if err := unix.SchedSetaffinity(tid, &set); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("thread %d: %w", tid, err)
		}
	}
	return nil
}

// cpuSet turns a checked CPU list ("0,2-3") into a set.
func cpuSet(list string) (unix.CPUSet, error) {
	var set unix.CPUSet
	if err := pglocal.CheckCPUs(list); err != nil {
		return set, err
	}
	for _, part := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, _ := strconv.Atoi(lo)
		b := a
		if isRange {
			b, _ = strconv.Atoi(hi)
		}
		if b < a || b >= 1024 {
			return set, fmt.Errorf("CPU list %q: range %s", list, part)
		}
		for c := a; c <= b; c++ {
			set.Set(c)
		}
	}
	return set, nil
}

// serverSettings are the settings of the bench's primary and replica: the
// rig's checkpoint_timeout, then the caller's, the last of a name winning.
func serverSettings(extra []fork.Setting) []fork.Setting {
	out := []fork.Setting{{Key: "checkpoint_timeout", Value: cluster.CheckpointTimeout}}
	for _, kv := range extra {
		out = slices.DeleteFunc(out, func(s fork.Setting) bool { return strings.EqualFold(s.Key, kv.Key) })
		out = append(out, kv)
	}
	return out
}

// imageDesc says where the loop images live, for the report: whether the
// forks share the primary's disk decides what a fork costs the primary.
func imageDesc(source, workDir, imgDir string) string {
	fsOf := func(dir string) string {
		var sf syscall.Statfs_t
		if err := syscall.Statfs(dir, &sf); err != nil {
			return dir
		}
		return fmt.Sprintf("%s (%s)", dir, fsTypeName(sf.Type))
	}
	if source == SourcePrimary {
		return "the primary and its forks on one, in " + fsOf(imgDir)
	}
	if imgDir == workDir {
		return "the primary on one, the replica and its forks on another, both images in " + fsOf(workDir)
	}
	return "the primary's image in " + fsOf(workDir) + ", the replica's and its forks' in " + fsOf(imgDir)
}

// fsTypeName names the filesystems a bench's images are likely to sit on.
func fsTypeName(magic int64) string {
	switch magic {
	case 0xef53:
		return "ext4"
	case 0x01021994:
		return "tmpfs, in memory"
	case 0x58465342:
		return "xfs"
	case 0x9123683e:
		return "btrfs"
	}
	return fmt.Sprintf("filesystem type 0x%x", magic)
}

// PgbenchInitArgs builds `pgbench -i` for a scale.
func PgbenchInitArgs(binDir string, port, scale int) []string {
	return []string{filepath.Join(binDir, "pgbench"), "-i", "-q", "-s", strconv.Itoa(scale), "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "postgres", "postgres"}
}

// Source kinds: which member of a primary/replica pair is forked.
const (
	// SourceReplica forks a streaming replica while the load runs on its
	// primary: what `redswitch fork create` does by default, and the
	// primary's latency is the production cost of a fork.
	SourceReplica = "replica"
	// SourcePrimary forks the loaded server itself (no replica), the worst
	// case: its own CHECKPOINT and the fork's I/O share its filesystem.
	SourcePrimary = "primary"
)

// pgServer is one bench server: its data directory and how to reach it.
type pgServer struct {
	srv  pglocal.Server
	port int
	dsn  string
}

// newServer makes a server in a fresh subvolume at dir: initdb'd, or
// streaming from primary when primary is not nil. stop undoes it all.
func newServer(ctx context.Context, o Options, owner pglocal.Owner, dir string, primary *pgServer) (s *pgServer, stop func() error, err error) {
	// The primary runs on its CPUs, a replica (the forked server) on the forks'.
	sched := pglocal.Sched{CPUs: o.PrimaryCPUs}
	if primary != nil {
		sched.CPUs = o.ForkCPUs
	}
	port, err := freePort()
	if err != nil {
		return nil, nil, err
	}
	s = &pgServer{port: port, dsn: fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=postgres sslmode=disable", port),
		srv: pglocal.Server{BinDir: o.BinDir, DataDir: dir, LogFile: dir + ".log", Owner: owner, Sched: sched}}
	if err := fork.CreateSubvolume(ctx, dir, owner); err != nil {
		return nil, nil, err
	}
	stop = func() error {
		cctx := context.WithoutCancel(ctx)
		err := s.srv.Stop(cctx, "immediate")
		if _, derr := pglocal.Run(cctx, pglocal.Owner{}, fork.DeleteSubvolumeArgs(dir)); derr != nil {
			err = errors.Join(err, derr)
		}
		os.Remove(s.srv.LogFile)
		return err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, stop())
		}
	}()
	conf := fmt.Sprintf("\n# forkbench\nport = %d\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\nshared_buffers = '128MB'\nmax_wal_size = '2GB'\n", port)
	extra, err := fork.EditConf("", fork.ConfEdit{Set: serverSettings(o.ServerSettings)})
	if err != nil {
		return nil, nil, fmt.Errorf("server settings: %w", err)
	}
	conf += extra
	if primary == nil {
		if err := s.srv.InitDB(ctx); err != nil {
			return nil, nil, err
		}
	} else {
		// -R writes standby.signal and primary_conninfo; the copied
		// postgresql.conf still names the primary's port, overridden below.
		args := []string{filepath.Join(o.BinDir, "pg_basebackup"), "-d", primary.dsn, "-D", dir, "-X", "stream", "-c", "fast", "-R", "--no-sync"}
		if _, err := pglocal.Run(ctx, owner, sched.Wrap(args)); err != nil {
			return nil, nil, fmt.Errorf("replica: %w", err)
		}
	}
	if err := appendFile(filepath.Join(dir, "postgresql.conf"), conf); err != nil {
		return nil, nil, err
	}
	if err := s.srv.Start(ctx); err != nil {
		return nil, nil, err
	}
	return s, stop, nil
}

// makeSync makes the primary wait for its one standby's flush on every
// commit, and waits until the standby is reported synchronous. Set after
// the load of the tables, which would otherwise wait for a standby that
// does not exist yet.
func makeSync(ctx context.Context, primaryDSN string) error {
	for _, q := range []string{"ALTER SYSTEM SET synchronous_standby_names = '*'", "SELECT pg_reload_conf()"} {
		if err := execOne(ctx, primaryDSN, q); err != nil {
			return fmt.Errorf("synchronous standby: %s: %w", q, err)
		}
	}
	return waitReplica(ctx, primaryDSN, "sync_state = 'sync'", "replica not synchronous")
}

// waitStreaming waits until the primary reports the replica streaming.
func waitStreaming(ctx context.Context, primaryDSN string) error {
	return waitReplica(ctx, primaryDSN, "state = 'streaming'", "replica not streaming")
}

// waitReplica polls pg_stat_replication on the primary for a minute until
// a row matches where; the error starts with what.
func waitReplica(ctx context.Context, primaryDSN, where, what string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		var n int
		err := queryRow(ctx, primaryDSN, "SELECT count(*) FROM pg_stat_replication WHERE "+where, &n)
		if err == nil && n > 0 {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", what, errors.Join(ctx.Err(), err))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// runScale builds a primary at one scale (and a replica of it unless the
// primary itself is forked), loads the primary, and forks the source by
// each method.
func runScale(ctx context.Context, o Options, owner pglocal.Owner, st storage, scale int) (rows []Row, ctl Control, err error) {
	log := o.Log.With("scale", scale, "source", o.Source)
	primaryDir := filepath.Join(st.primary, fmt.Sprintf("primary-%d", scale))
	primary, stopPrimary, err := newServer(ctx, o, owner, primaryDir, nil)
	if err != nil {
		return nil, ctl, err
	}
	defer func() { err = errors.Join(err, stopPrimary()) }()
	log.Info("pgbench -i", "dir", primaryDir)
	start := time.Now()
	if _, err := pglocal.Run(ctx, owner, PgbenchInitArgs(o.BinDir, primary.port, scale)); err != nil {
		return nil, ctl, err
	}
	// A production source has no gigabyte of freshly loaded, unflushed
	// data: flush the load so the forks' CHECKPOINT sees a steady state.
	if err := execOne(ctx, primary.dsn, "CHECKPOINT"); err != nil {
		return nil, ctl, err
	}
	src := primary
	if o.Source == SourceReplica {
		replica, stopReplica, err := newServer(ctx, o, owner, filepath.Join(st.forks, fmt.Sprintf("replica-%d", scale)), primary)
		if err != nil {
			return nil, ctl, err
		}
		defer func() { err = errors.Join(err, stopReplica()) }()
		if err := waitStreaming(ctx, primary.dsn); err != nil {
			return nil, ctl, err
		}
		if o.Sync {
			if err := makeSync(ctx, primary.dsn); err != nil {
				return nil, ctl, err
			}
		}
		src = replica
	}
	syscall.Sync()
	var dbBytes int64
	if err := queryRow(ctx, primary.dsn, "SELECT pg_database_size('postgres')", &dbBytes); err != nil {
		return nil, ctl, err
	}
	log.Info("source ready", "db_bytes", dbBytes, "took", time.Since(start).Round(time.Millisecond))

	ld, err := startLoad(ctx, primary.dsn, scale, o.Clients, o.Rate)
	if err != nil {
		return nil, ctl, err
	}
	defer ld.stop()
	// The first seconds carry the replica's catching up and cold caches.
	if err := sleep(ctx, o.Settle); err != nil {
		return nil, ctl, err
	}
	steadyFrom := time.Now()
	if err := sleep(ctx, o.Steady); err != nil {
		return nil, ctl, err
	}
	steady := Summarize(ld.window(steadyFrom, time.Now()))
	log.Info("steady state", "p50_ms", steady.P50, "p99_ms", steady.P99, "max_ms", steady.Max, "n", steady.N)

	mgr, err := fork.NewManager(fork.Config{Dir: filepath.Join(st.forks, "forks"), BinDir: o.BinDir, Log: o.Log})
	if err != nil {
		return nil, ctl, err
	}
	// Rounds: each round forks once by every method, then holds a null
	// control window (no fork) as long as the round's quickest fork. Drift
	// of the machine over the run then falls on every method alike.
	accs := make([]methodAcc, len(o.Methods))
	var pooled []time.Duration
	for round := range o.Repeat {
		quickest := time.Duration(0)
		for i, m := range o.Methods {
			if accs[i].err != nil {
				continue
			}
			if err := sleep(ctx, o.Settle); err != nil {
				return rows, ctl, err
			}
			tr, err := forkOnce(ctx, o, mgr, ld, st.forks, src.srv.DataDir, src.dsn, scale, m, round == 0)
			if err != nil {
				accs[i].err = err
				log.Error("fork failed", "method", m, "err", err)
				if ctx.Err() != nil {
					return rows, ctl, ctx.Err()
				}
				continue
			}
			accs[i].add(tr, round == 0)
			if quickest == 0 || tr.timings.ToWritable < quickest {
				quickest = tr.timings.ToWritable
			}
		}
		if quickest > 0 {
			if err := sleep(ctx, o.Settle); err != nil {
				return rows, ctl, err
			}
			from := time.Now()
			if err := sleep(ctx, quickest); err != nil {
				return rows, ctl, err
			}
			pooled = append(pooled, ld.window(from, time.Now())...)
			ctl.Windows++
			ctl.WindowS += quickest.Seconds()
		}
	}
	var errs []error
	for i, m := range o.Methods {
		if accs[i].err != nil {
			rows = append(rows, Row{Scale: scale, Method: string(m), Source: o.Source, SourceDBBytes: dbBytes, Error: accs[i].err.Error()})
			errs = append(errs, fmt.Errorf("%s: %w", m, accs[i].err))
			continue
		}
		row := accs[i].row(scale, m)
		row.Source, row.SourceDBBytes = o.Source, dbBytes
		row.SteadyP50Ms, row.SteadyP99Ms, row.SteadyMaxMs = finite(steady.P50), finite(steady.P99), finite(steady.Max)
		log.Info("forks writable", "method", m, "forks", row.Forks, "to_writable_s", row.ToWritableS,
			"p99_ms", row.LatencyP99Ms, "max_ms", row.LatencyMaxMs, "n", row.Samples)
		rows = append(rows, row)
	}
	if ctl.Windows > 0 {
		lat := Summarize(pooled)
		ctl.WindowS /= float64(ctl.Windows)
		ctl.Scale, ctl.Source, ctl.SteadyP99Ms = scale, o.Source, finite(steady.P99)
		ctl.P50Ms, ctl.P99Ms, ctl.MaxMs, ctl.Samples = finite(lat.P50), finite(lat.P99), finite(lat.Max), lat.N
	}
	if n, lastErr := ld.errors(); n > 0 {
		errs = append(errs, fmt.Errorf("source load: %d failed transactions, last: %w", n, lastErr))
	}
	return rows, ctl, errors.Join(errs...)
}

// methodAcc gathers one method's forks over the rounds. The primary's
// transactions of every fork's window are pooled: the p99 of a single
// sub-second window is little more than its largest sample, while the
// steady figure it is held against comes from thousands.
type methodAcc struct {
	during  []time.Duration
	timings []fork.Timings
	replay  []int64 // WAL each fork replayed, beside its timings
	phases  PhaseLatency
	disk    int64
	err     error // the first failure; the method is not forked again
}

func (a *methodAcc) add(tr trial, first bool) {
	if first {
		a.disk = tr.disk
	}
	a.during = append(a.during, tr.during...)
	a.timings = append(a.timings, tr.timings)
	a.replay = append(a.replay, tr.replay)
	a.phases = a.phases.worst(tr.phases)
}

// row summarizes the forks; the phase timings are the median fork's.
func (a *methodAcc) row(scale int, m fork.Method) Row {
	row := Row{Scale: scale, Method: string(m), Forks: len(a.timings), DiskBytes: a.disk, PhaseMaxMs: a.phases}
	if len(a.timings) == 0 {
		return row
	}
	lat := Summarize(a.during)
	row.LatencyP50Ms, row.LatencyP99Ms, row.LatencyMaxMs, row.Samples = finite(lat.P50), finite(lat.P99), finite(lat.Max), lat.N
	writable := make([]float64, len(a.timings))
	for i, t := range a.timings {
		writable[i] = t.ToWritable.Seconds()
	}
	mi := medianIndex(writable)
	mid := a.timings[mi]
	row.ToWritableS, row.ToWritableMaxS = mid.ToWritable.Seconds(), slices.Max(writable)
	row.CheckpointS, row.CopyS = mid.Checkpoint.Seconds(), mid.Snapshot.Seconds()
	row.StartS, row.PromoteS = (mid.Prepare + mid.Start).Seconds(), mid.Promote.Seconds()
	row.ReplayBytes = a.replay[mi]
	return row
}

// trial is one fork's figures.
type trial struct {
	timings fork.Timings
	replay  int64           // WAL the fork replayed
	during  []time.Duration // the primary's transactions overlapping the fork
	phases  PhaseLatency
	disk    int64
}

// forkOnce forks the loaded source once; with writes, it then writes to the
// fork and measures its disk usage. The fork is destroyed.
func forkOnce(ctx context.Context, o Options, mgr *fork.Manager, ld *load, fs, src, dsn string, scale int, m fork.Method, writes bool) (trial, error) {
	var tr trial
	port, err := freePort()
	if err != nil {
		return tr, err
	}
	name := fmt.Sprintf("bench-%d-%s", scale, m)
	from := time.Now()
	f, err := mgr.Create(ctx, fork.CreateOptions{SourceDir: src, SourceDSN: dsn, Name: name, Port: port, Method: m, AllowCopy: true, Nice: o.Nice, Idle: o.Idle, CPUs: o.ForkCPUs, CheckpointSkipBelow: o.CheckpointSkipBelow, Settings: o.Settings})
	to := time.Now()
	if err != nil {
		return tr, err
	}
	defer func() {
		if err := mgr.Destroy(context.WithoutCancel(ctx), name); err != nil {
			o.Log.Error("destroy bench fork", "fork", name, "err", err)
		}
		// Let the next fork start from quiet storage, not this one's
		// gigabyte of dirty copy or a subvolume the cleaner still deletes.
		syscall.Sync()
		if _, err := pglocal.Run(context.WithoutCancel(ctx), pglocal.Owner{}, []string{"btrfs", "subvolume", "sync", fs}); err != nil {
			o.Log.Warn("wait for the btrfs cleaner", "err", err)
		}
	}()
	tr.timings, tr.replay = f.Timings, f.ReplayBytes
	tr.during = ld.window(from, to)
	tr.phases = phaseMax(ld, to, f.Timings)
	if !writes {
		return tr, nil
	}
	conn, err := pgx.Connect(ctx, f.DSN)
	if err != nil {
		return tr, fmt.Errorf("connect to fork: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rng := rand.New(rand.NewPCG(uint64(scale), 7))
	for i := 0; i < o.ForkWrites; i++ {
		if err := tpcb(ctx, conn, scale, rng); err != nil {
			return tr, fmt.Errorf("write to fork: %w", err)
		}
	}
	if _, err := conn.Exec(ctx, "CHECKPOINT"); err != nil {
		return tr, fmt.Errorf("checkpoint fork: %w", err)
	}
	if tr.disk, err = fork.DiskUsage(ctx, f.Dir); err != nil {
		return tr, err
	}
	return tr, nil
}

// medianIndex is the index of the lower median of v.
func medianIndex(v []float64) int {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return v[idx[a]] < v[idx[b]] })
	return idx[(len(v)-1)/2]
}

// phaseMax finds the worst source transaction of each phase. Create
// reports durations, not instants: the phases are laid end to end back
// from the moment the fork was writable.
func phaseMax(ld *load, end time.Time, t fork.Timings) PhaseLatency {
	maxIn := func(from, to time.Time) float64 { return finite(Summarize(ld.window(from, to)).Max) }
	promote := end.Add(-t.Promote)
	start := promote.Add(-t.Start - t.Prepare)
	cp := start.Add(-t.Snapshot)
	ckpt := cp.Add(-t.Checkpoint)
	return PhaseLatency{Checkpoint: maxIn(ckpt, cp), Copy: maxIn(cp, start), Start: maxIn(start, promote), Promote: maxIn(promote, end)}
}

func write(out string, r Results) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("forkbench: %w", err)
	}
	if err := os.WriteFile(filepath.Join(out, "results.json"), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("forkbench: %w", err)
	}
	if err := os.WriteFile(filepath.Join(out, "report.md"), []byte(RenderReport(r)), 0o644); err != nil {
		return fmt.Errorf("forkbench: %w", err)
	}
	return Plot(r, filepath.Join(out, "fork.png"), filepath.Join(out, "fork.svg"))
}

func machine(ctx context.Context, o Options, storage string) Machine {
	m := Machine{Cores: runtime.NumCPU(), Storage: storage, LoadTPS: o.Rate, Clients: o.Clients, GoVersion: runtime.Version(), LoadAvgStart: loadAvg()}
	for _, kv := range serverSettings(o.ServerSettings) {
		m.ServerSettings = append(m.ServerSettings, kv.Key+"="+kv.Value)
	}
	m.SyncReplica = o.Sync
	m.PrimaryCPUs, m.ForkCPUs = o.PrimaryCPUs, o.ForkCPUs
	m.SteadyS = o.Steady.Seconds()
	m.ForkSched = pglocal.Sched{Nice: o.Nice, Idle: o.Idle}.Policy()
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			m.MemBytes = kb << 10
		}
	}
	var u syscall.Utsname
	if syscall.Uname(&u) == nil {
		var sb strings.Builder
		for _, c := range u.Release {
			if c == 0 {
				break
			}
			sb.WriteByte(byte(c))
		}
		m.Kernel = sb.String()
	}
	if out, err := pglocal.Run(ctx, pglocal.Owner{}, []string{filepath.Join(o.BinDir, "postgres"), "--version"}); err == nil {
		m.Postgres = strings.TrimSpace(string(out))
	}
	return m
}

// loadAvg returns the 1, 5 and 15 minute load averages.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func appendFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(text)
	return errors.Join(err, f.Close())
}

func queryRow(ctx context.Context, dsn, sql string, dst ...any) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return conn.QueryRow(ctx, sql).Scan(dst...)
}

func execOne(ctx context.Context, dsn, sql string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, sql)
	return err
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
