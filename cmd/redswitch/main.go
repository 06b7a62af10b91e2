// Command redswitch is the one binary of the redswitch rig: the head node,
// the node agent, the demo, scenarios, benchmarks and forks are its
// subcommands. Flags live here only; every package below takes Options.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// command is one subcommand.
type command struct {
	summary string
	run     func(ctx context.Context, env *environ, args []string) error
}

// environ is what every subcommand gets from main: no globals.
type environ struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	// unsetenv removes a variable (a secret, once read) from what child
	// processes inherit; nil in tests, whose environment is a map.
	unsetenv func(string) error
	log      *slog.Logger
}

func commands() map[string]command {
	return map[string]command{
		"agent":    {"run on a database node: supervise Patroni, register in etcd", runAgent},
		"demo":     {"bring up a containerized cluster behind HAProxy with the head node", runDemo},
		"headnode": {"run the head node of a booth from its configuration", runHeadnode},
		"booth":    {"rehearse the booth on one machine: `booth up` starts agent-only node containers and writes their booth configuration, `booth down` removes them", runBooth},
		"cleanup":  {"remove every container and network left by redswitch rigs", runCleanup},
		"fiu":      {"Failure Injection Unit tools: fiu watch", runFIU},
		"scenario": {"run chaos scenarios (YAML) against fresh clusters or a running head node", runScenario},
		"bench":    {"benchmarks: failover, boot, fork, fiu", runBench},
		"fork":     {"copy-on-write forks of a node's running database", runFork},
	}
}

func main() {
	env := &environ{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, unsetenv: os.Unsetenv,
		log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, env, os.Args[1:]))
}

func run(ctx context.Context, env *environ, args []string) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(env.stderr, cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(env.stderr, "redswitch: unknown command %q\n\n", args[0])
		usage(env.stderr, cmds)
		return 2
	}
	err := c.run(ctx, env, args[1:])
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, new(usageError)):
		fmt.Fprintf(env.stderr, "redswitch %s: %v\n", args[0], err)
		return 2
	default:
		fmt.Fprintf(env.stderr, "redswitch %s: %v\n", args[0], err)
		return 1
	}
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "usage: redswitch COMMAND [flags]   (redswitch COMMAND --help for its flags)")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, cmds[n].summary)
	}
}

// usageError is a bad flag or argument: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// newFlags returns a flag set whose errors come back as values, named after
// the subcommand.
func newFlags(env *environ, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet("redswitch "+name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.stderr, "usage: redswitch %s [flags]\n\n%s\n\nflags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args and turns flag errors into usage errors.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// envDefault returns the environment variable's value, or def.
func envDefault(env *environ, key, def string) string {
	if v := env.getenv(key); v != "" {
		return v
	}
	return def
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
