package pglocal

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestBuilders(t *testing.T) {
	bin := "/usr/lib/postgresql/15/bin"
	tests := []struct {
		name string
		got  []string
		want string
	}{
		{"start", StartArgs(bin, "/d", "/d.log", 90*time.Second), bin + "/pg_ctl start -D /d -l /d.log -w -s -t 90"},
		{"stop", StopArgs(bin, "/d", "fast", 1500*time.Millisecond), bin + "/pg_ctl stop -D /d -m fast -w -s -t 2"},
		{"promote", PromoteArgs(bin, "/d", 0), bin + "/pg_ctl promote -D /d -w -s -t 1"},
		{"initdb", InitDBArgs(bin, "/d"), bin + "/initdb -D /d -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 --no-sync"},
		{"sched none", Sched{}.Wrap([]string{"cp", "a", "b"}), "cp a b"},
		{"sched nice", Sched{Nice: 10}.Wrap([]string{"cp"}), "nice -n 10 cp"},
		{"sched cpus and nice", Sched{Nice: 10, CPUs: "1"}.Wrap([]string{"cp"}), "taskset -c 1 nice -n 10 cp"},
		{"sched cpus", Sched{CPUs: "0,2-3"}.Wrap([]string{"cp"}), "taskset -c 0,2-3 cp"},
		{"sched idle over nice", Sched{Nice: 10, Idle: true, CPUs: "1"}.Wrap([]string{"cp"}), "taskset -c 1 chrt --idle 0 cp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := strings.Join(tt.got, " "); got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestRunningPID(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name   string
		pidTxt string
		want   bool
	}{
		{"alive (this process)", strconv.Itoa(os.Getpid()) + "\n/d\n", true},
		{"garbage", "x\n", false},
		{"dead", "2147483646\n", false},
		{"zero", "0\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := os.WriteFile(filepath.Join(dir, "postmaster.pid"), []byte(tt.pidTxt), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, got := RunningPID(dir); got != tt.want {
				t.Fatalf("running = %v, want %v", got, tt.want)
			}
		})
	}
	if _, ok := RunningPID(filepath.Join(dir, "missing")); ok {
		t.Fatal("a missing data directory reported running")
	}
}

func TestTail(t *testing.T) {
	if got := Tail("  abcdef \n", 3); got != "…def" {
		t.Fatalf("Tail = %q", got)
	}
	if got := Tail("ab", 3); got != "ab" {
		t.Fatalf("Tail = %q", got)
	}
}

func TestCheckCPUs(t *testing.T) {
	for in, ok := range map[string]bool{"0": true, "1": true, "0,2-3": true, "10-11,4": true,
		"": false, "a": false, "1-": false, ",1": false, "1,,2": false, "1 2": false, "-c 1": false, "1;rm": false} {
		t.Run(in, func(t *testing.T) {
			err := CheckCPUs(in)
			if ok && err != nil {
				t.Fatalf("CheckCPUs(%q): %v", in, err)
			}
			if !ok && (err == nil || !strings.Contains(err.Error(), "CPU list")) {
				t.Fatalf("CheckCPUs(%q) accepted or unclear: %v", in, err)
			}
		})
	}
}

func FuzzCheckCPUs(f *testing.F) {
	f.Add("0,2-3")
	f.Add("-c")
	f.Fuzz(func(t *testing.T, in string) {
		if err := CheckCPUs(in); err == nil && strings.Trim(in, "0123456789,-") != "" {
			t.Fatalf("accepted %q", in)
		}
	})
}

func TestSchedPolicy(t *testing.T) {
	for _, tc := range []struct {
		s    Sched
		want string
	}{
		{Sched{}, ""},
		{Sched{CPUs: "1"}, ""},
		{Sched{Nice: 10}, "nice 10"},
		{Sched{Nice: 10, Idle: true}, "SCHED_IDLE"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			if got := tc.s.Policy(); got != tc.want {
				t.Fatalf("%+v.Policy() = %q, want %q", tc.s, got, tc.want)
			}
		})
	}
}

// TestRunEnv: the added environment reaches the command, on top of the
// inherited one, and a failure's error (which repeats argv) holds none of
// it.
func TestRunEnv(t *testing.T) {
	me := Owner{UID: os.Getuid(), GID: os.Getgid()}
	tests := []struct {
		name   string
		env    []string
		script string
		want   string
		fails  bool
	}{
		{"added", []string{"PGPASSWORD=s3cret"}, `printf '%s' "$PGPASSWORD"`, "s3cret", false},
		{"inherited kept", []string{"PGPASSWORD=s3cret"}, `printf '%s' "${PATH:+path}"`, "path", false},
		{"none added", nil, `printf '%s' "${PGPASSWORD_UNSET_HERE:-none}"`, "none", false},
		{"failure", []string{"PGPASSWORD=s3cret"}, `exit 2`, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := RunEnv(context.Background(), me, tc.env, []string{"/bin/sh", "-c", tc.script})
			if tc.fails {
				if err == nil || strings.Contains(err.Error(), "s3cret") {
					t.Fatalf("err %v: want a failure without the secret", err)
				}
				return
			}
			if err != nil || string(out) != tc.want {
				t.Fatalf("got %q, %v; want %q", out, err, tc.want)
			}
		})
	}
}
