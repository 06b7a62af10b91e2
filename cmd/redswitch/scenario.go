package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/redswitch/redswitch/demo"
	"github.com/redswitch/redswitch/scenarios"
	"github.com/redswitch/redswitch/scenarios/containers"
)

const scenarioSynopsis = `Runs chaos scenarios (YAML files, see scenarios/README.md): each on a fresh
containerized cluster, or with --against on a running head node. Prints a
report and exits non-zero when any expectation fails. Scenarios that need a
fault kind or fork this backend cannot do yet are reported as skipped.

  redswitch scenario run [flags] FILE...
  redswitch scenario run --library [flags]
  redswitch scenario list [--library | FILE...]`

// runScenario is `redswitch scenario run|list`.
func runScenario(ctx context.Context, env *environ, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(env.stderr, "usage: redswitch scenario run|list [flags] [FILE...]\n\n"+scenarioSynopsis)
		if len(args) == 0 {
			return usagef("want a subcommand: run or list")
		}
		return nil
	}
	switch args[0] {
	case "run":
		return scenarioRun(ctx, env, args[1:])
	case "list":
		return scenarioList(env, args[1:])
	}
	return usagef("unknown subcommand %q (want run or list)", args[0])
}

// scenarioFlags are the flags of `scenario run`.
type scenarioFlags struct {
	junit, json    string
	shard          string
	parallel       int
	against, token string
	probeDSN       string
	library        bool
	image, dataDir string
	quiet          bool
}

// splitArgs separates flags from file names so flags may follow files
// (`run a.yaml --junit out.xml`), which the flag package alone refuses.
func splitArgs(args []string, valued map[string]bool) (flags, files []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			files = append(files, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			files = append(files, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if !strings.Contains(name, "=") && valued[name] && i+1 < len(args) {
			i++
			flags = append(flags, args[i])
		}
	}
	return flags, files
}

func scenarioRun(ctx context.Context, env *environ, args []string) error {
	fs := newFlags(env, "scenario run", scenarioSynopsis)
	var f scenarioFlags
	fs.StringVar(&f.junit, "junit", "", "write a JUnit XML report to `FILE` (for CI)")
	fs.StringVar(&f.json, "json", "", "write a JSON report to `FILE`")
	fs.StringVar(&f.shard, "shard", "", "run shard `I/N` only: every N-th scenario of the sorted list, from the I-th")
	fs.IntVar(&f.parallel, "parallel", 1, "clusters side by side (each is 3 containers with PostgreSQL)")
	fs.StringVar(&f.against, "against", "", "play against the head node at `URL` instead of fresh containers")
	tokenFlag := addSecret(fs, env, "operator-token", "REDSWITCH_OPERATOR_TOKEN", "", "operator token for --against")
	fs.StringVar(&f.probeDSN, "probe-dsn", envDefault(env, "REDSWITCH_PROBE_DSN", ""), "with --against: the primary DSN for the runner's probe (default $REDSWITCH_PROBE_DSN, else the one the head node reports, which has no password: set PGPASSWORD or ~/.pgpass)")
	fs.BoolVar(&f.library, "library", false, "run the built-in scenario library (plus any FILE given)")
	fs.StringVar(&f.image, "image", demo.DefaultImage, "node image (make image builds it)")
	fs.StringVar(&f.dataDir, "data-dir", "", "keep each run's head node data (journal, etcd) under `DIR` (default: temporary, removed)")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress lines, only the report")
	valued := map[string]bool{"junit": true, "json": true, "shard": true, "parallel": true, "against": true,
		"operator-token": true, "operator-token-file": true, "probe-dsn": true, "image": true, "data-dir": true}
	flagArgs, files := splitArgs(args, valued)
	if err := parseFlags(fs, flagArgs); err != nil {
		return err
	}
	var err error
	if f.token, err = tokenFlag.resolve(fs, env, env.log); err != nil {
		return err
	}
	warnArgvSecret(fs, "probe-dsn", dsnHasPassword(f.probeDSN), "leave the password out and set PGPASSWORD, or put the DSN in $REDSWITCH_PROBE_DSN", env.log)
	if len(files) == 0 && !f.library {
		return usagef("no scenario: give FILE... or --library")
	}
	if f.parallel < 1 || f.parallel > 8 {
		return usagef("--parallel %d: want 1 to 8", f.parallel)
	}
	if f.against != "" && f.parallel > 1 {
		return usagef("--parallel %d with --against: a head node runs one cluster, scenarios run one at a time", f.parallel)
	}
	scs, err := loadScenarios(files, f.library)
	if err != nil {
		return err
	}
	if f.shard != "" {
		i, n, err := scenarios.ParseShard(f.shard)
		if err != nil {
			return usagef("--shard: %v", err)
		}
		scs = shardScenarios(scs, i, n)
		if len(scs) == 0 {
			fmt.Fprintf(env.stderr, "shard %s has no scenarios\n", f.shard)
		}
	}

	var backend scenarios.Backend
	if f.against != "" {
		backend = &scenarios.RemoteBackend{URL: f.against, OperatorToken: f.token, ProbeDSN: f.probeDSN, Log: env.log}
	} else {
		if v := os.Getenv("TESTCONTAINERS_RYUK_DISABLED"); v != "true" {
			os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
		}
		backend = &containers.Backend{Image: f.image, DataDir: f.dataDir, Log: env.log}
	}
	begin := time.Now()
	opts := scenarios.RunOptions{Backend: backend, Parallel: f.parallel, Log: env.log}
	if !f.quiet {
		opts.Progress = func(name, line string) {
			fmt.Fprintf(env.stderr, "%7s  %-32s %s\n", time.Since(begin).Round(time.Second), name, line)
		}
	}
	results := scenarios.RunAll(ctx, scs, opts)
	wall := time.Since(begin)

	ran, skipped := splitSkipped(results)
	fmt.Fprintln(env.stdout)
	if err := scenarios.WriteText(env.stdout, ran); err != nil {
		return err
	}
	for _, r := range results {
		if reason, ok := scenarios.Skipped(r); ok {
			fmt.Fprintf(env.stdout, "SKIP  %s  (%s)\n", r.Name(), reason)
		}
	}
	fmt.Fprintf(env.stdout, "wall time %s, %d run, %d skipped, parallel %d\n", wall.Round(time.Second), len(ran), len(skipped), f.parallel)
	if err := writeReport(f.junit, ran, scenarios.WriteJUnit); err != nil {
		return err
	}
	if err := writeReport(f.json, ran, scenarios.WriteJSON); err != nil {
		return err
	}
	failed := 0
	for _, r := range ran {
		if !r.Passed() {
			failed++
		}
	}
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted: %w", ctx.Err())
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d scenario(s) failed", failed, len(ran))
	}
	return nil
}

// loadScenarios parses the files (and the library) before anything runs,
// so a typo fails fast with file:line:column.
func loadScenarios(files []string, library bool) ([]*scenarios.Scenario, error) {
	var scs []*scenarios.Scenario
	var errs []error
	if library {
		lib, err := scenarios.LoadAll(scenarios.Library(), ".")
		if err != nil {
			errs = append(errs, err)
		}
		scs = append(scs, lib...)
	}
	for _, f := range files {
		sc, err := scenarios.Load(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		scs = append(scs, sc)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return scs, nil
}

// shardScenarios keeps the scenarios of shard i of n, split by file name
// as scenarios.Shard splits files.
func shardScenarios(scs []*scenarios.Scenario, i, n int) []*scenarios.Scenario {
	byFile := map[string]*scenarios.Scenario{}
	var files []string
	for _, sc := range scs {
		key := sc.File
		if _, dup := byFile[key]; dup {
			key = sc.File + "#" + sc.Name
		}
		byFile[key] = sc
		files = append(files, key)
	}
	var out []*scenarios.Scenario
	for _, f := range scenarios.Shard(files, i, n) {
		out = append(out, byFile[f])
	}
	return out
}

func splitSkipped(results []scenarios.Result) (ran, skipped []scenarios.Result) {
	for _, r := range results {
		if _, ok := scenarios.Skipped(r); ok {
			skipped = append(skipped, r)
		} else {
			ran = append(ran, r)
		}
	}
	return ran, skipped
}

func writeReport(path string, results []scenarios.Result, write func(io.Writer, []scenarios.Result) error) error {
	if path == "" {
		return nil
	}
	if dir := filepath.Dir(path); dir != "." {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("report %s: %w", path, err)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	if err := write(f, results); err != nil {
		f.Close()
		return fmt.Errorf("report %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("report %s: %w", path, err)
	}
	return nil
}

// scenarioList prints the scenarios with the first line of their
// description, after checking that they parse.
func scenarioList(env *environ, args []string) error {
	fs := newFlags(env, "scenario list", "Lists scenarios (the library with --library) and checks that they parse.")
	library := fs.Bool("library", false, "list the built-in library")
	flagArgs, files := splitArgs(args, nil)
	if err := parseFlags(fs, flagArgs); err != nil {
		return err
	}
	if len(files) == 0 {
		*library = true
	}
	scs, err := loadScenarios(files, *library)
	if err != nil {
		return err
	}
	for _, sc := range scs {
		desc := strings.Join(strings.Fields(sc.Description), " ")
		if i := strings.Index(desc, ". "); i > 0 {
			desc = desc[:i+1]
		}
		fmt.Fprintf(env.stdout, "%-32s %s\n", sc.Name, desc)
	}
	return nil
}
