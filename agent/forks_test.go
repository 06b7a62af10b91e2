package agent

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/redswitch/redswitch/fork"
)

func TestLastJSON(t *testing.T) {
	tests := []struct {
		name, out, want string
		bad             bool
	}{
		{"only json", `{"name":"a"}`, `{"name":"a"}`, false},
		{"logs before", "time=1 level=INFO msg=x\n{\"name\":\"a\"}\n", `{"name":"a"}`, false},
		{"list", "level=WARN msg=copy\n[]\n", `[]`, false},
		{"last of two", "{\"a\":1}\nlog\n{\"b\":2}\n", `{"b":2}`, false},
		{"none", "level=ERROR msg=boom\n", "", true},
		{"empty", "", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := lastJSON(tc.out)
			if tc.bad {
				if err == nil {
					t.Fatalf("got %q, want an error", got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q %v, want %q", got, err, tc.want)
			}
		})
	}
}

func TestFreeForkPort(t *testing.T) {
	none := func(int) bool { return false }
	if p, err := freeForkPort(nil, none); err != nil || p != firstForkPort {
		t.Fatalf("empty: %d %v", p, err)
	}
	used := map[int]bool{firstForkPort: true, firstForkPort + 1: true}
	busy := func(p int) bool { return p == firstForkPort+2 }
	if p, err := freeForkPort(used, busy); err != nil || p != firstForkPort+3 {
		t.Fatalf("used and busy: %d %v", p, err)
	}
	if _, err := freeForkPort(nil, func(int) bool { return true }); err == nil {
		t.Fatal("every port busy must be an error")
	}
}

func TestClusterState(t *testing.T) {
	out := "pg_control version number:            1300\nDatabase cluster state:               in production\npg_control last modified: x\n"
	for in, want := range map[string]string{
		out: "in production",
		"Database cluster state:               in archive recovery\n": "in archive recovery",
		"Database cluster state:   shut down":                         "shut down",
		"no such line":                                                "",
	} {
		if got := clusterState(in); got != want {
			t.Errorf("clusterState(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestForkCommandKeepsPasswordOffArgv builds the `fork local` child's
// command as the agent runs it: the superuser's password is in the
// child's environment, under fork.PasswordEnv, and nowhere in its argv,
// which every user of the node reads.
func TestForkCommandKeepsPasswordOffArgv(t *testing.T) {
	const pw = "s3cret-pw"
	tests := []struct {
		name     string
		password string
		args     []string
		wantEnv  []string
	}{
		{"create", pw, createArgs("/data/pg", "/data/forks", "/usr/lib/postgresql/15/bin", "f1", 5440, "", false),
			[]string{fork.PasswordEnv + "=" + pw}},
		{"post-mortem", pw, createArgs("/data/pg", "/data/forks", "/usr/lib/postgresql/15/bin", "postmortem-x", 5441, "", true),
			[]string{fork.PasswordEnv + "=" + pw}},
		{"list", pw, []string{"list", "--dir", "/data/forks"}, []string{fork.PasswordEnv + "=" + pw}},
		{"no password", "", createArgs("/data/pg", "/data/forks", "/bin", "f1", 5440, "", false), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			argv, env := forkCommand("/usr/local/bin/redswitch", tc.password, tc.args...)
			if want := []string{"/usr/local/bin/redswitch", "fork", "local", tc.args[0]}; !slices.Equal(argv[:4], want) {
				t.Fatalf("argv starts %q, want %q", argv[:4], want)
			}
			for _, a := range argv {
				if tc.password != "" && strings.Contains(a, tc.password) {
					t.Fatalf("password on argv: %q", argv)
				}
				if strings.Contains(a, "password") {
					t.Fatalf("a password keyword on argv: %q", argv)
				}
			}
			if !slices.Equal(env, tc.wantEnv) {
				t.Fatalf("env %q, want %q", env, tc.wantEnv)
			}
		})
	}
}

// TestRunCmdEnvReachesChild runs a child with a secret in its added
// environment: the child reads it, and the error of a failed run (which
// repeats argv) does not carry it.
func TestRunCmdEnvReachesChild(t *testing.T) {
	r := newReaper(false)
	defer r.stop()
	const secret = "s3cret-pw"
	tests := []struct {
		name, script string
		fails        bool
	}{
		{"child reads it", `printf '%s' "$` + fork.PasswordEnv + `"`, false},
		{"failure does not repeat it", `echo failing; exit 3`, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := runCmdEnv(context.Background(), r, nil, []string{"/bin/sh", "-c", tc.script},
				[]string{fork.PasswordEnv + "=" + secret})
			if tc.fails {
				if err == nil || strings.Contains(err.Error(), secret) {
					t.Fatalf("err %v: want a failure without the secret", err)
				}
				return
			}
			if err != nil || out != secret {
				t.Fatalf("child printed %q, %v; want the secret from its environment", out, err)
			}
		})
	}
}
