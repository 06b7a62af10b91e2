package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
)

func runArgs(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &environ{stdout: &out, stderr: &errb, getenv: func(k string) string { return env[k] },
		log: slog.New(slog.DiscardHandler)}
	code := run(context.Background(), e, args)
	return code, out.String(), errb.String()
}

// TestBadInvocations checks that malformed flags and profiles get exit
// status 2 and a message naming the flag, before anything starts.
func TestBadInvocations(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"nosuch"}, `unknown command "nosuch"`},
		{[]string{"demo", "--timings", "5/1/1"}, "--timings: timings \"5/1/1\": retry_timeout 1 s is below 2 s"},
		{[]string{"demo", "--timings", "5/2/2"}, "--timings: timings \"5/2/2\": loop_wait + 2*retry_timeout = 6 s exceeds ttl 5 s"},
		{[]string{"demo", "--timings", "quick"}, `--timings: timings "quick": want aggressive or default`},
		{[]string{"demo", "--nodes", "0"}, "--nodes 0: want 1 to 9"},
		{[]string{"demo", "--nodes", "three"}, `invalid value "three" for flag -nodes`},
		{[]string{"demo", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"demo", "extra"}, `unexpected argument "extra"`},
		{[]string{"demo", "--power", "relay"}, `--power "relay": want container or agent`},
		{[]string{"agent"}, "--name is required"},
		{[]string{"agent", "--name", "n1"}, "--etcd: at least one host:port is required"},
		{[]string{"agent", "--name", "n1", "--etcd", "10.0.0.1:2379", "--timings", "1/1/1"}, "--timings:"},
		{[]string{"fiu"}, "usage: redswitch fiu watch"},
		{[]string{"headnode", "--config", "/nonexistent/booth.yaml"}, "/nonexistent/booth.yaml"},
		{[]string{"agent", "--name", "n1", "--superuser-password-file", "/nonexistent/pw"}, "--superuser-password-file: stat /nonexistent/pw"},
		{[]string{"agent", "--replication-password", "a", "--replication-password-file", "/x"}, "give one"},
		{[]string{"demo", "--operator-token", "a", "--operator-token-file", "/x"}, "give one"},
		{[]string{"fork", "create", "--name", "a", "--operator-token-file", "/nonexistent/t"}, "--operator-token-file: stat"},
		{[]string{"scenario", "run", "--library", "--operator-token-file", "/nonexistent/t"}, "--operator-token-file: stat"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, _, stderr := runArgs(t, nil, tt.args...)
			if code == 0 {
				t.Fatalf("exit status 0, want an error")
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr = %q, want it to contain %q", stderr, tt.want)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	code, _, stderr := runArgs(t, nil, "--help")
	if code != 0 || !strings.Contains(stderr, "demo") || !strings.Contains(stderr, "headnode") {
		t.Errorf("--help: status %d, output %q", code, stderr)
	}
	for _, c := range []string{"demo", "agent", "headnode", "cleanup"} {
		code, _, stderr := runArgs(t, nil, c, "--help")
		if code != 0 || !strings.Contains(stderr, "usage: redswitch "+c) {
			t.Errorf("%s --help: status %d, output %q", c, code, stderr)
		}
	}
}

func TestForkCommandLine(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"fork"}, "want a subcommand"},
		{[]string{"fork", "clone"}, `unknown subcommand "clone"`},
		{[]string{"fork", "create"}, "--name is required"},
		{[]string{"fork", "create", "--name", "a"}, "operator token is required"},
		{[]string{"fork", "destroy", "--operator-token", "t"}, "exactly one fork name"},
		{[]string{"fork", "destroy", "a", "b", "--operator-token", "t"}, "exactly one fork name"},
		{[]string{"fork", "list", "extra"}, `unexpected argument "extra"`},
		{[]string{"fork", "local"}, "want create, list or destroy"},
		{[]string{"fork", "local", "list"}, "--dir is required"},
		{[]string{"fork", "local", "mirror", "--dir", "/nonexistent/x"}, `unknown subcommand "mirror"`},
		{[]string{"fork", "local", "create", "--dir", "/tmp/x"}, "--data-dir, --dsn (unless --stopped), --name and --port are required"},
		{[]string{"fork", "local", "destroy", "--dir", "/nonexistent/forks-dir-for-test"}, "exactly one fork name"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, _, stderr := runArgs(t, nil, tt.args...)
			if code == 0 || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want failure with %q", code, stderr, tt.want)
			}
		})
	}
}

func TestForkLocalListEmpty(t *testing.T) {
	dir := t.TempDir()
	code, stdout, stderr := runArgs(t, nil, "fork", "local", "list", "--dir", dir)
	if code != 0 || strings.TrimSpace(stdout) != "[]" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}
