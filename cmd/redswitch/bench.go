package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redswitch/redswitch/bench/failover"
	"github.com/redswitch/redswitch/bench/fiubench"
	"github.com/redswitch/redswitch/bench/forkbench"
	"github.com/redswitch/redswitch/bench/soak"
	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/demo"
	"github.com/redswitch/redswitch/fork"
	"github.com/redswitch/redswitch/fork/pglocal"
)

// benchCommands are the benchmarks `redswitch bench` runs.
func benchCommands() map[string]command {
	return map[string]command{
		"failover": {"repeated primary power cuts per timing profile: failover time, phases, lost commits", runBenchFailover},
		"boot":     {"cold cluster to three healthy members", runBenchBoot},
		"fork":     {"forks of a loaded PostgreSQL: time to writable, source latency, disk", runBenchFork},
		"fiu":      {"switch contact settled to power driver call, on fake pins", runBenchFIU},
		"soak":     {"days of a simulated booth through the journal, analysis and dashboard: heap, tick time, frames", runBenchSoak},
	}
}

// runBench dispatches `redswitch bench KIND`.
func runBench(ctx context.Context, env *environ, args []string) error {
	cmds := benchCommands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		names := make([]string, 0, len(cmds))
		for n := range cmds {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintln(env.stderr, "usage: redswitch bench KIND [flags]   (redswitch bench KIND --help for its flags)\n\nkinds:")
		for _, n := range names {
			fmt.Fprintf(env.stderr, "  %-10s %s\n", n, cmds[n].summary)
		}
		if len(args) == 0 {
			return usagef("which benchmark? want one of %s", strings.Join(names, ", "))
		}
		return nil
	}
	c, ok := cmds[args[0]]
	if !ok {
		return usagef("unknown benchmark %q", args[0])
	}
	return c.run(ctx, env, args[1:])
}

// clusterBenchFlags parses the flags `bench failover` and `bench boot` share.
func clusterBenchFlags(env *environ, name, synopsis string, args []string, forFailover bool) (failover.Options, error) {
	fs := newFlags(env, "bench "+name, synopsis)
	trials := fs.String("trials", "20", "trials per timing profile: one number for all, or one per profile (20,5)")
	timings := fs.String("timings", "aggressive", "comma-separated timing profiles: aggressive, default or TTL/LOOP_WAIT/RETRY_TIMEOUT")
	out := fs.String("out", "out/bench-"+name, "output directory: results.json, report.md, plots")
	image := fs.String("image", demo.DefaultImage, "node image (make image builds it)")
	nodes := fs.Int("nodes", 3, "database nodes per cluster")
	var sync, paired *bool
	if forFailover {
		sync = fs.Bool("sync", false, "Patroni synchronous_mode: no acknowledged commit may be lost")
		paired = fs.Bool("paired", false, "alternate silent cuts (the container killed) and soft cuts (the node agent's) on one cluster; --trials counts both")
	}
	probeInterval := fs.Duration("probe-interval", 10*time.Millisecond, "time between probe commits")
	downInter := fs.Duration("haproxy-downinter", 0, "override HAProxy's fastinter/downinter (default: the profile's)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	if err := parseFlags(fs, args); err != nil {
		return failover.Options{}, err
	}
	if *nodes < 2 || *nodes > 9 {
		return failover.Options{}, usagef("--nodes %d: want 2 to 9", *nodes)
	}
	profiles := splitList(*timings)
	if len(profiles) == 0 {
		return failover.Options{}, usagef("--timings: empty")
	}
	for _, p := range profiles {
		if _, err := cluster.ParseTimings(p); err != nil {
			return failover.Options{}, usagef("--timings: %v", err)
		}
	}
	if *out == "" {
		return failover.Options{}, usagef("--out: empty")
	}
	counts, err := parseTrials(*trials, len(profiles))
	if err != nil {
		return failover.Options{}, err
	}
	perProfile := map[string]int{}
	for i, p := range profiles {
		perProfile[p] = counts[i]
	}
	if *downInter < 0 {
		return failover.Options{}, usagef("--haproxy-downinter %v: want a positive duration", *downInter)
	}
	o := failover.Options{Profiles: profiles, Trials: counts[0], TrialsFor: perProfile, Out: *out, DownInterval: *downInter, Image: *image, Nodes: *nodes,
		ProbeInterval: *probeInterval, Log: slog.New(warnOnly{env.log.Handler()})}
	if sync != nil {
		o.Sync = *sync
	}
	if paired != nil {
		o.Paired = *paired
	}
	if !*quiet {
		o.Progress = env.stderr
	}
	// Containers must not wait for a reaper image that cannot be pulled.
	if os.Getenv("TESTCONTAINERS_RYUK_DISABLED") != "true" {
		os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	}
	return o, nil
}

// warnOnly passes warnings and errors: the clusters' info lines would
// tear the progress bar apart.
type warnOnly struct{ slog.Handler }

func (w warnOnly) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && w.Handler.Enabled(ctx, l)
}

// WithAttrs and WithGroup keep the filter on derived loggers.
func (w warnOnly) WithAttrs(as []slog.Attr) slog.Handler { return warnOnly{w.Handler.WithAttrs(as)} }

func (w warnOnly) WithGroup(name string) slog.Handler { return warnOnly{w.Handler.WithGroup(name)} }

// parseTrials reads --trials: one count for every profile, or one per
// profile in the order of --timings.
func parseTrials(s string, profiles int) ([]int, error) {
	parts := splitList(s)
	if len(parts) != 1 && len(parts) != profiles {
		return nil, usagef("--trials %q: want one count, or one per profile (%d)", s, profiles)
	}
	var out []int
	for _, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 {
			return nil, usagef("--trials %q: %q is not a whole number of at least 1", s, p)
		}
		out = append(out, n)
	}
	for len(out) < profiles {
		out = append(out, out[0])
	}
	return out, nil
}

func runBenchFailover(ctx context.Context, env *environ, args []string) error {
	o, err := clusterBenchFlags(env, "failover",
		"Cuts the primary's power again and again in a containerized Patroni cluster per timing profile,\n"+
			"rejoining each victim before the next cut (one uncounted warm-up per profile), and writes\n"+
			"results.json, report.md and plots (failover-time CDF, phases per trial) to --out.", args, true)
	if err != nil {
		return err
	}
	res, err := failover.Run(ctx, o)
	for _, p := range o.Profiles {
		if s, ok := res.Summary[p]; ok {
			fmt.Fprintf(env.stdout, "%-10s n=%d  p50 %.2f s  p95 %.2f s  max %.2f s  mean %.2f s  lost commits %d  failed %d\n",
				p, s.N, s.P50, s.P95, s.Max, s.Mean, s.LostCommits, s.Failed)
		}
	}
	for _, row := range failover.FloorRows(res) {
		line := fmt.Sprintf("  %s, %s cuts: n=%d p50 %.2f s", row.Profile, row.Cut, row.N, row.P50S)
		if row.HasModel {
			line += fmt.Sprintf(", model %.2f s", row.Model.P50S)
		}
		if row.RigShareN > 0 {
			line += fmt.Sprintf("; rig share p50 %.3f s (target ≤ %.3f s)", row.RigShareS, failover.RigShareTargetS)
		}
		fmt.Fprintln(env.stdout, line)
	}
	if len(res.Trials) > 0 {
		fmt.Fprintf(env.stdout, "report: %s/report.md\n", o.Out)
	}
	return err
}

func runBenchBoot(ctx context.Context, env *environ, args []string) error {
	o, err := clusterBenchFlags(env, "boot",
		"Starts a cluster from nothing --trials times per timing profile and measures from the first\n"+
			"node container's start to every member running and every replica streaming; writes\n"+
			"results.json, report.md and a CDF to --out.", args, false)
	if err != nil {
		return err
	}
	res, err := failover.Boot(ctx, o)
	for _, p := range o.Profiles {
		if s, ok := res.Summary[p]; ok {
			fmt.Fprintf(env.stdout, "%-10s n=%d  p50 %.2f s  p95 %.2f s  max %.2f s  failed %d\n", p, s.N, s.P50, s.P95, s.Max, s.Failed)
		}
	}
	if len(res.Trials) > 0 {
		fmt.Fprintf(env.stdout, "report: %s/report.md\n", o.Out)
	}
	return err
}

func runBenchFork(ctx context.Context, env *environ, args []string) error {
	fs := newFlags(env, "bench fork", "Forks a streaming replica of a loaded PostgreSQL 15 primary (or the primary) by each method\nper pgbench scale and measures the time to a writable fork, the primary's latency during the\nfork and the fork's disk; needs root (btrfs).")
	scales := fs.String("scales", "1", "comma-separated pgbench scales")
	methods := fs.String("methods", "", "comma-separated fork methods (default: snapshot, reflink, basebackup, copy)")
	out := fs.String("out", "out/bench-fork", "output directory")
	workDir := fs.String("work-dir", "", "where the databases live (default OUT/work; a loop btrfs is made when not on btrfs)")
	clients := fs.Int("clients", 4, "load connections")
	rate := fs.Float64("rate", 200, "total paced load, transactions per second")
	steady := fs.Duration("steady", 0, "steady-state window before the forks (default: two of the servers' checkpoint_timeout, 60 s)")
	source := fs.String("source", forkbench.SourceReplica, "what to fork: replica (a streaming replica of the loaded primary, as `fork create` does by default) or primary (the loaded primary itself)")
	nice := fs.Int("nice", 10, "niceness of each fork's server and copy commands (-1: none)")
	idle := fs.Bool("idle", false, "run each fork's server and copy commands under SCHED_IDLE instead of nice")
	repeat := fs.Int("repeat", 3, "forks per method and scale; the primary's latency pools their windows")
	settings := fs.String("fork-settings", "", "comma-separated key=value settings for every fork's postgresql.conf")
	serverSettings := fs.String("server-settings", "", "comma-separated key=value settings for the primary's and the replica's postgresql.conf, after the rig's checkpoint_timeout="+cluster.CheckpointTimeout+" (which bounds a replica fork's replay; checkpoint_timeout=5min is PostgreSQL's default)")
	forksImageDir := fs.String("forks-image-dir", "", "directory for the loop image of the forked server and its forks (default: the work dir); another disk, or /dev/shm, keeps the forks off the primary's disk")
	primaryCPUs := fs.String("primary-cpus", "", "CPU list (taskset -c) for the primary and the load, e.g. 0; with --fork-cpus it keeps them apart from the forks, as separate nodes are")
	forkCPUs := fs.String("fork-cpus", "", "CPU list (taskset -c) for the forked server and its forks, e.g. 1")
	syncRep := fs.Bool("sync", false, "make the replica a synchronous standby (the primary's commits wait for its flush)")
	skip := fs.Int64("checkpoint-skip-below", 0, "skip the source CHECKPOINT before a snapshot when less WAL than this many bytes follows its last one (0: always checkpoint)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	o := forkbench.Options{Out: *out, WorkDir: *workDir, ForksImageDir: *forksImageDir, Clients: *clients, Rate: *rate, Steady: *steady,
		CheckpointSkipBelow: *skip, Source: *source, Sync: *syncRep, PrimaryCPUs: *primaryCPUs, ForkCPUs: *forkCPUs, Repeat: *repeat, Nice: *nice, Idle: *idle, Log: env.log}
	if *repeat < 1 {
		return usagef("--repeat %d: want at least 1", *repeat)
	}
	var err error
	if o.Settings, err = parseSettings("--fork-settings", *settings); err != nil {
		return err
	}
	if o.ServerSettings, err = parseSettings("--server-settings", *serverSettings); err != nil {
		return err
	}
	if *source != forkbench.SourceReplica && *source != forkbench.SourcePrimary {
		return usagef("--source %q: want replica or primary", *source)
	}
	for flag, v := range map[string]string{"--primary-cpus": *primaryCPUs, "--fork-cpus": *forkCPUs} {
		if v == "" {
			continue
		}
		if err := pglocal.CheckCPUs(v); err != nil {
			return usagef("%s: %v", flag, err)
		}
	}
	if *syncRep && *source != forkbench.SourceReplica {
		return usagef("--sync: a synchronous standby needs --source replica")
	}
	for _, s := range splitList(*scales) {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			return usagef("--scales: %q is not a positive whole number", s)
		}
		o.Scales = append(o.Scales, n)
	}
	for _, m := range splitList(*methods) {
		meth, err := fork.ParseMethod(m)
		if err != nil || meth == fork.Auto {
			return usagef("--methods: %q: want snapshot, reflink, basebackup or copy", m)
		}
		o.Methods = append(o.Methods, meth)
	}
	if err := forkbench.Run(ctx, o); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "report: %s/report.md\n", *out)
	return nil
}

// settingKey is a postgresql.conf parameter name: letters, digits,
// underscores and dots (custom options), nothing that could start a new line.
var settingKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.]*$`)

// parseSettings reads a flag's comma-separated key=value list.
func parseSettings(flag, list string) ([]fork.Setting, error) {
	var out []fork.Setting
	for _, kv := range splitList(list) {
		k, v, ok := strings.Cut(kv, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || !settingKey.MatchString(k) {
			return nil, usagef("%s: %q: want key=value with a parameter name as key", flag, kv)
		}
		if strings.ContainsAny(v, "\n\r") {
			return nil, usagef("%s: %q: the value spans lines", flag, kv)
		}
		out = append(out, fork.Setting{Key: k, Value: v})
	}
	return out, nil
}

func runBenchFIU(ctx context.Context, env *environ, args []string) error {
	fs := newFlags(env, "bench fiu", "Times switch flips on fake pins through the real polling loop, debouncer and relay driver.")
	trials := fs.Int("trials", 20, "flips to time")
	window := fs.Duration("window", 0, "debounce window (default: the FIU's)")
	poll := fs.Duration("poll", 0, "pin sampling period (default: the FIU's)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *trials < 1 {
		return usagef("--trials %d: want at least 1", *trials)
	}
	res, err := fiubench.Run(ctx, fiubench.Options{Trials: *trials, Window: *window, PollInterval: *poll, Log: env.log})
	if err != nil {
		return err
	}
	fmt.Fprintln(env.stdout, res.String())
	fmt.Fprint(env.stdout, res.Markdown())
	return nil
}

func runBenchSoak(ctx context.Context, env *environ, args []string) error {
	fs := newFlags(env, "bench soak",
		"Simulates --hours of a booth on a compressed clock (100 commits/s, a failover every 2 minutes, an hour a day\n"+
			"with the primary port dead) through the head node's journal on disk, event log, incremental analysis and\n"+
			"dashboard hub with viewers, and writes results.json (a row per hour: events, heap, tick p99, view frame,\n"+
			"journal size), report.md and soak.png/.svg to --out.")
	hours := fs.Int("hours", 72, "simulated booth hours")
	out := fs.String("out", "out/bench-soak", "output directory")
	viewers := fs.Int("viewers", 50, "dashboard viewers reading the hub's frames")
	tick := fs.Duration("tick-every", time.Second, "simulated time between observer ticks")
	full := fs.Bool("full", false, "the observer before the incremental analysis: whole history in memory, analysed every tick (use --tick-every 1m)")
	before := fs.String("before", "", "results.json of an earlier run (a --full one) to compare with in the report")
	ackEvery := fs.Duration("ack-every", time.Second, "longest ack range of the simulated probe (the probe's FlushEvery, 1 s); 200ms gives the issue's 18k events an hour")
	failoverEvery := fs.Duration("failover-every", 2*time.Minute, "time between the simulated booth's cuts; shorter packs days of failovers into a short run")
	fsync := fs.Bool("fsync", false, "fsync power, role and leader events as the head node does (the disk is shared: off by default)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *hours < 1 || *viewers < 1 || *tick <= 0 || *ackEvery <= 0 || *failoverEvery <= 0 {
		return usagef("--hours, --viewers, --tick-every, --ack-every and --failover-every must be positive")
	}
	o := soak.Options{Hours: *hours, Out: *out, Viewers: *viewers, TickEvery: *tick, Full: *full, Fsync: *fsync, Log: env.log,
		Progress: func(r soak.Row) {
			fmt.Fprintf(env.stderr, "hour %3d: %8d events  heap %6.1f MB  tick p50 %6.2f p99 %8.2f ms  view %6d B  journal %7.1f MB  failovers %d\n",
				r.Hour, r.Events, r.HeapMB, r.TickP50Ms, r.TickP99Ms, r.ViewBytes, r.JournalMB, r.Failovers)
		}}
	o.Booth.FlushEvery, o.Booth.FailoverEvery = *ackEvery, *failoverEvery
	if *before != "" {
		b, err := os.ReadFile(*before)
		if err != nil {
			return fmt.Errorf("bench soak: --before: %w", err)
		}
		var r soak.Results
		if err := json.Unmarshal(b, &r); err != nil {
			return fmt.Errorf("bench soak: --before %s: %w", *before, err)
		}
		o.Before = &r
	}
	res, err := soak.Run(ctx, o)
	for _, t := range res.Targets {
		mark := "met"
		if !t.OK {
			mark = "MISSED"
		}
		fmt.Fprintf(env.stdout, "%-32s want %-34s got %-30s %s\n", t.Name, t.Want, t.Got, mark)
	}
	if err == nil {
		fmt.Fprintf(env.stdout, "report: %s/report.md\n", *out)
	}
	return err
}
