// Package forkbench measures forks of a loaded PostgreSQL 15: per pgbench
// scale and per method, the time until the fork is writable, the source's
// transaction latency while it is forked against its steady state, and the
// fork's own disk usage after some writes. It writes results.json,
// report.md and fork.png/fork.svg.
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
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/redswitch/redswitch/fork"
	"github.com/redswitch/redswitch/fork/pglocal"
)

// Options configures Run. Zero values take the defaults noted.
type Options struct {
	Scales []int  // pgbench scales; default 1
	Out    string // output directory (created)
	// WorkDir holds the databases; when it is not on btrfs a loop-backed
	// btrfs image is made and mounted under it (root only). Default Out/work.
	WorkDir string
	BinDir  string        // default pglocal.DefaultBinDir
	Methods []fork.Method // default snapshot, reflink, basebackup, copy
	Clients int           // load connections; default 4
	Rate    float64       // total paced load, transactions/s; default 200
	Steady  time.Duration // steady-state window before the forks; default 10 s
	Settle  time.Duration // pause between forks; default 3 s
	// ForkWrites is how many transactions run on each fork before its disk
	// usage is measured; default 2000.
	ForkWrites int
	// Nice is the niceness of each fork (fork.CreateOptions.Nice); default
	// 10, -1 for none.
	Nice int
	// CheckpointSkipBelow is fork.CreateOptions.CheckpointSkipBelow: skip
	// the source CHECKPOINT when less WAL than this follows its last one.
	CheckpointSkipBelow int64
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
	if o.Steady <= 0 {
		o.Steady = 10 * time.Second
	}
	if o.Settle <= 0 {
		o.Settle = 3 * time.Second
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
	owner, err := pglocal.LookupOwner(o.User)
	if err != nil {
		return fmt.Errorf("forkbench: %w", err)
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return fmt.Errorf("forkbench: %w", err)
	}
	mnt, storage, unmount, err := storageFor(ctx, o)
	if err != nil {
		return err
	}
	defer unmount()

	res := Results{Machine: machine(ctx, o, storage)}
	var runErrs []error
	for _, scale := range o.Scales {
		rows, err := runScale(ctx, o, owner, mnt, scale)
		res.Rows = append(res.Rows, rows...)
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

// storageFor returns a btrfs directory for the databases, mounting a loop
// image when WorkDir is not on btrfs.
func storageFor(ctx context.Context, o Options) (string, string, func(), error) {
	if err := os.MkdirAll(o.WorkDir, 0o755); err != nil {
		return "", "", nil, fmt.Errorf("forkbench: %w", err)
	}
	if on, err := fork.OnBtrfs(o.WorkDir); err != nil {
		return "", "", nil, fmt.Errorf("forkbench: %w", err)
	} else if on {
		return o.WorkDir, "btrfs at " + o.WorkDir, func() {}, nil
	}
	maxScale := 0
	for _, s := range o.Scales {
		maxScale = max(maxScale, s)
	}
	// Source plus one full copy plus WAL, with room to spare.
	size := int64(3<<30) + int64(maxScale)*40<<20
	img, mnt := filepath.Join(o.WorkDir, "forkbench-btrfs.img"), filepath.Join(o.WorkDir, "mnt")
	if err := fork.EnsureBtrfs(ctx, o.Log, img, mnt, size); err != nil {
		return "", "", nil, fmt.Errorf("forkbench: %w", err)
	}
	var backing syscall.Statfs_t
	_ = syscall.Statfs(o.WorkDir, &backing)
	storage := fmt.Sprintf("btrfs on a loop device (sparse %s image on a filesystem of type 0x%x)", bytesHuman(size), backing.Type)
	return mnt, storage, func() {
		if err := fork.Unmount(context.WithoutCancel(ctx), mnt); err != nil {
			o.Log.Error("unmount bench btrfs", "err", err)
		}
		os.Remove(img)
	}, nil
}

// PgbenchInitArgs builds `pgbench -i` for a scale.
func PgbenchInitArgs(binDir string, port, scale int) []string {
	return []string{filepath.Join(binDir, "pgbench"), "-i", "-q", "-s", strconv.Itoa(scale), "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "postgres", "postgres"}
}

// runScale builds a source at one scale, loads it, and forks it by each method.
func runScale(ctx context.Context, o Options, owner pglocal.Owner, mnt string, scale int) (rows []Row, err error) {
	log := o.Log.With("scale", scale)
	dir := filepath.Join(mnt, fmt.Sprintf("src-%d", scale))
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dsn := fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=postgres sslmode=disable", port)
	if err := fork.CreateSubvolume(ctx, dir, owner); err != nil {
		return nil, err
	}
	srv := pglocal.Server{BinDir: o.BinDir, DataDir: dir, LogFile: dir + ".log", Owner: owner}
	defer func() {
		cctx := context.WithoutCancel(ctx)
		err = errors.Join(err, srv.Stop(cctx, "immediate"))
		if _, derr := pglocal.Run(cctx, pglocal.Owner{}, fork.DeleteSubvolumeArgs(dir)); derr != nil {
			err = errors.Join(err, derr)
		}
		os.Remove(srv.LogFile)
	}()
	if err := srv.InitDB(ctx); err != nil {
		return nil, err
	}
	conf := fmt.Sprintf("\n# forkbench source\nport = %d\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\nshared_buffers = '128MB'\nmax_wal_size = '2GB'\n", port)
	if err := appendFile(filepath.Join(dir, "postgresql.conf"), conf); err != nil {
		return nil, err
	}
	if err := srv.Start(ctx); err != nil {
		return nil, err
	}
	log.Info("pgbench -i", "dir", dir)
	start := time.Now()
	if _, err := pglocal.Run(ctx, owner, PgbenchInitArgs(o.BinDir, port, scale)); err != nil {
		return nil, err
	}
	// A production source has no gigabyte of freshly loaded, unflushed
	// data: flush the load so the forks' CHECKPOINT sees a steady state.
	if err := execOne(ctx, dsn, "CHECKPOINT"); err != nil {
		return nil, err
	}
	syscall.Sync()
	var dbBytes int64
	if err := queryRow(ctx, dsn, "SELECT pg_database_size('postgres')", &dbBytes); err != nil {
		return nil, err
	}
	log.Info("source ready", "db_bytes", dbBytes, "took", time.Since(start).Round(time.Millisecond))

	ld, err := startLoad(ctx, dsn, scale, o.Clients, o.Rate)
	if err != nil {
		return nil, err
	}
	defer ld.stop()
	steadyFrom := time.Now()
	if err := sleep(ctx, o.Steady); err != nil {
		return nil, err
	}
	steady := Summarize(ld.window(steadyFrom, time.Now()))
	log.Info("steady state", "p50_ms", steady.P50, "p99_ms", steady.P99, "max_ms", steady.Max, "n", steady.N)

	mgr, err := fork.NewManager(fork.Config{Dir: filepath.Join(mnt, "forks"), BinDir: o.BinDir, Log: o.Log})
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, m := range o.Methods {
		if err := sleep(ctx, o.Settle); err != nil {
			return rows, err
		}
		row, err := forkOnce(ctx, o, mgr, ld, dir, dsn, scale, m)
		row.SteadyP50Ms, row.SteadyP99Ms, row.SteadyMaxMs = finite(steady.P50), finite(steady.P99), finite(steady.Max)
		row.SourceDBBytes = dbBytes
		if err != nil {
			row.Error = err.Error()
			errs = append(errs, fmt.Errorf("%s: %w", m, err))
			log.Error("fork failed", "method", m, "err", err)
		}
		rows = append(rows, row)
	}
	if n, lastErr := ld.errors(); n > 0 {
		errs = append(errs, fmt.Errorf("source load: %d failed transactions, last: %w", n, lastErr))
	}
	return rows, errors.Join(errs...)
}

// forkOnce forks the loaded source by one method, writes to the fork,
// measures its disk usage and destroys it.
func forkOnce(ctx context.Context, o Options, mgr *fork.Manager, ld *load, src, dsn string, scale int, m fork.Method) (Row, error) {
	row := Row{Scale: scale, Method: string(m)}
	port, err := freePort()
	if err != nil {
		return row, err
	}
	name := fmt.Sprintf("bench-%d-%s", scale, m)
	from := time.Now()
	f, err := mgr.Create(ctx, fork.CreateOptions{SourceDir: src, SourceDSN: dsn, Name: name, Port: port, Method: m, AllowCopy: true, Nice: o.Nice, CheckpointSkipBelow: o.CheckpointSkipBelow})
	to := time.Now()
	if err != nil {
		return row, err
	}
	defer func() {
		if err := mgr.Destroy(context.WithoutCancel(ctx), name); err != nil {
			o.Log.Error("destroy bench fork", "fork", name, "err", err)
		}
		// Let the next fork start from flushed storage, not this one's
		// gigabyte of dirty copy.
		syscall.Sync()
	}()
	during := Summarize(ld.window(from, to))
	row.ToWritableS = f.Timings.ToWritable.Seconds()
	row.CheckpointS, row.CopyS = f.Timings.Checkpoint.Seconds(), f.Timings.Snapshot.Seconds()
	row.StartS, row.PromoteS = f.Timings.Start.Seconds(), f.Timings.Promote.Seconds()
	row.LatencyP50Ms, row.LatencyP99Ms, row.LatencyMaxMs, row.Samples = finite(during.P50), finite(during.P99), finite(during.Max), during.N
	o.Log.Info("fork writable", "scale", scale, "method", m, "to_writable_s", row.ToWritableS,
		"p99_ms", row.LatencyP99Ms, "max_ms", row.LatencyMaxMs, "n", during.N)

	conn, err := pgx.Connect(ctx, f.DSN)
	if err != nil {
		return row, fmt.Errorf("connect to fork: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rng := rand.New(rand.NewPCG(uint64(scale), 7))
	for i := 0; i < o.ForkWrites; i++ {
		if err := tpcb(ctx, conn, scale, rng); err != nil {
			return row, fmt.Errorf("write to fork: %w", err)
		}
	}
	if _, err := conn.Exec(ctx, "CHECKPOINT"); err != nil {
		return row, fmt.Errorf("checkpoint fork: %w", err)
	}
	if row.DiskBytes, err = fork.DiskUsage(ctx, f.Dir); err != nil {
		return row, err
	}
	return row, nil
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
