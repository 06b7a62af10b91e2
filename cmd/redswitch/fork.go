package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/redswitch/redswitch/agentapi"
	"github.com/redswitch/redswitch/fork"
)

const forkSynopsis = `Copy-on-write forks of a running database: writable, on a new timeline,
outside Patroni, in seconds whatever the size.

Through the head node (the cluster's nodes make the fork):
  redswitch fork create --name NAME [--from NODE]   fork NODE (default: a replica)
  redswitch fork list
  redswitch fork destroy NAME
  (--url or $REDSWITCH_URL; the token from $REDSWITCH_OPERATOR_TOKEN or --operator-token-file)

On this machine (what a node's agent runs; needs the data directory's owner):
  redswitch fork local create --data-dir DIR --dsn DSN --name NAME --port PORT [--dir FORKS] [--stopped]
    (the DSN's password from $REDSWITCH_FORK_PASSWORD)
  redswitch fork local list --dir FORKS
  redswitch fork local destroy --dir FORKS NAME`

// runFork is `redswitch fork ...`.
func runFork(ctx context.Context, env *environ, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(env.stderr, "usage: redswitch fork create|list|destroy|local ...\n\n"+forkSynopsis)
		if len(args) == 0 {
			return usagef("want a subcommand: create, list, destroy or local")
		}
		return nil
	}
	switch args[0] {
	case "create", "list", "destroy":
		return forkRemote(ctx, env, args[0], args[1:])
	case "local":
		if len(args) < 2 {
			return usagef("fork local: want create, list or destroy")
		}
		return forkLocal(ctx, env, args[1], args[2:])
	}
	return usagef("unknown subcommand %q (want create, list, destroy or local)", args[0])
}

// forkRemote asks the head node's fork API.
func forkRemote(ctx context.Context, env *environ, sub string, args []string) error {
	fs := newFlags(env, "fork "+sub, forkSynopsis)
	base := fs.String("url", envDefault(env, "REDSWITCH_URL", "http://127.0.0.1:8080"), "head node API `URL`")
	tokenFlag := addSecret(fs, env, "operator-token", "REDSWITCH_OPERATOR_TOKEN", "", "operator token")
	name := fs.String("name", "", "fork name (create)")
	from := fs.String("from", "", "node to fork (create; default: a streaming replica)")
	asJSON := fs.Bool("json", false, "print the API's JSON answer")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	token, err := tokenFlag.resolve(fs, env, env.log)
	if err != nil {
		return err
	}
	var method, path string
	var body any
	switch sub {
	case "create":
		if *name == "" {
			return usagef("fork create: --name is required")
		}
		method, path = http.MethodPost, "/api/v1/forks"
		body = map[string]string{"name": *name, "from": *from}
		if *from == "" {
			body = map[string]string{"name": *name}
		}
	case "list":
		method, path = http.MethodGet, "/api/v1/forks"
	case "destroy":
		if len(pos) != 1 {
			return usagef("fork destroy: want exactly one fork name")
		}
		method, path = http.MethodDelete, "/api/v1/forks/"+url.PathEscape(pos[0])
	}
	if sub != "destroy" && len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	if method != http.MethodGet && token == "" {
		return usagef("fork %s: the operator token is required ($REDSWITCH_OPERATOR_TOKEN, --operator-token-file or --operator-token)", sub)
	}
	out, err := apiCall(ctx, method, strings.TrimSuffix(*base, "/")+path, token, body)
	if err != nil {
		return err
	}
	if *asJSON || sub == "destroy" {
		if len(out) > 0 {
			fmt.Fprintln(env.stdout, strings.TrimSpace(string(out)))
		}
		return nil
	}
	var forks []agentapi.ForkInfo
	if sub == "create" {
		var f agentapi.ForkInfo
		if err := json.Unmarshal(out, &f); err != nil {
			return fmt.Errorf("fork create: answer: %w", err)
		}
		forks = []agentapi.ForkInfo{f}
	} else if err := json.Unmarshal(out, &forks); err != nil {
		return fmt.Errorf("fork list: answer: %w", err)
	}
	tw := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tNODE\tMETHOD\tTIMELINE\tWRITABLE IN\tWAL REPLAYED\tRUNNING\tDSN")
	for _, f := range forks {
		wal := f.ReplayedMB()
		if wal == "" {
			wal = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%.2f s\t%s\t%v\t%s\n", f.Name, f.Node, f.Method, f.Timeline, f.ToWritableS, wal, f.Running, f.DSN)
	}
	return tw.Flush()
}

// parseInterspersed parses flags that may follow positional arguments
// (`destroy NAME --url ...`) and returns the positional ones.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// apiCall sends one request to the head node and returns the body of a
// successful answer, or an error carrying the API's own message.
func apiCall(ctx context.Context, method, u, token string, body any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, u, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, u, err)
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(out, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(out))
		}
		return nil, fmt.Errorf("%s %s: %d: %s", method, u, resp.StatusCode, e.Error)
	}
	return out, nil
}

// forkLocal forks a data directory on this machine and prints the result
// as one JSON document: the agent runs it as a child process, because as a
// container's PID 1 it reaps every child itself and os/exec's waits would
// lose their exit statuses.
func forkLocal(ctx context.Context, env *environ, sub string, args []string) error {
	fs := newFlags(env, "fork local "+sub, forkSynopsis)
	dataDir := fs.String("data-dir", "", "the running server's data directory (create)")
	dsn := fs.String("dsn", "", "connection to the running server, for CHECKPOINT or the backup functions (create); its password from $"+fork.PasswordEnv+", not here: every user of the machine can read a command line")
	dir := fs.String("dir", "", "where forks and their records live")
	binDir := fs.String("bin-dir", "/usr/lib/postgresql/15/bin", "PostgreSQL binaries")
	name := fs.String("name", "", "fork name (create)")
	port := fs.Int("port", 0, "the fork's port (create)")
	listen := fs.String("listen", "", "the fork server's listen_addresses (create): localhost, *, or IP addresses separated by commas; default the source's")
	methodS := fs.String("method", "auto", "snapshot, reflink, copy, basebackup or auto")
	allowCopy := fs.Bool("allow-copy", false, "with auto: fall back to a full copy where no copy-on-write method works")
	nice := fs.Int("nice", 10, "niceness of the fork's server and copies")
	stopped := fs.Bool("stopped", false, "the source's server is not running (a post-mortem of a crashed primary): no checkpoint, no backup functions")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	// Read once and removed, so the fork's server and the copies this
	// process starts do not inherit it.
	password := env.getenv(fork.PasswordEnv)
	if env.unsetenv != nil {
		if err := env.unsetenv(fork.PasswordEnv); err != nil {
			return fmt.Errorf("fork local: clear $%s: %w", fork.PasswordEnv, err)
		}
	}
	warnArgvSecret(fs, "dsn", dsnHasPassword(*dsn), "leave the password out of --dsn and set $"+fork.PasswordEnv, env.log)
	if *dir == "" {
		return usagef("fork local %s: --dir is required", sub)
	}
	switch sub {
	case "create":
		if *dataDir == "" || (*dsn == "" && !*stopped) || *name == "" || *port == 0 {
			return usagef("fork local create: --data-dir, --dsn (unless --stopped), --name and --port are required")
		}
	case "list":
	case "destroy":
		if len(pos) != 1 {
			return usagef("fork local destroy: want exactly one fork name")
		}
	default:
		return usagef("fork local: unknown subcommand %q (want create, list or destroy)", sub)
	}
	if sub != "destroy" && len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	m, err := fork.NewManager(fork.Config{Dir: *dir, BinDir: *binDir, Log: env.log})
	if err != nil {
		return err
	}
	enc := json.NewEncoder(env.stdout)
	switch sub {
	case "create":
		meth, err := fork.ParseMethod(*methodS)
		if err != nil {
			return usagef("--method: %v", err)
		}
		l, err := agentapi.ParseListen(*listen)
		if err != nil {
			return usagef("--listen: %v", err)
		}
		f, err := m.Create(ctx, fork.CreateOptions{SourceDir: *dataDir, SourceDSN: *dsn, SourcePassword: password, Name: *name, Port: *port, Listen: l,
			Method: meth, AllowCopy: *allowCopy, Nice: *nice, SourceStopped: *stopped})
		if err != nil {
			return err
		}
		return enc.Encode(f)
	case "list":
		fl, err := m.List()
		if err != nil {
			return err
		}
		if fl == nil {
			fl = []fork.Fork{}
		}
		return enc.Encode(fl)
	default: // destroy
		return m.Destroy(ctx, pos[0])
	}
}
