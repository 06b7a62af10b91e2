package main

import (
	"strings"
	"testing"
)

// TestBenchUsageErrors checks bad bench invocations fail with status 2 and
// a message naming the flag, before any cluster starts.
func TestBenchUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"bench"}, "which benchmark?"},
		{[]string{"bench", "nosuch"}, `unknown benchmark "nosuch"`},
		{[]string{"bench", "failover", "--trials", "0"}, `--trials "0": "0" is not a whole number of at least 1`},
		{[]string{"bench", "failover", "--trials", ""}, `--trials "": want one count`},
		{[]string{"bench", "failover", "--timings", "aggressive,default", "--trials", "20,5,1"}, `--trials "20,5,1": want one count, or one per profile (2)`},
		{[]string{"bench", "boot", "--trials", "x"}, `"x" is not a whole number`},
		{[]string{"bench", "failover", "--timings", "aggressive,5/1/1"}, `--timings: timings "5/1/1": retry_timeout 1 s is below 2 s`},
		{[]string{"bench", "failover", "--timings", " , "}, "--timings: empty"},
		{[]string{"bench", "failover", "--nodes", "1"}, "--nodes 1: want 2 to 9"},
		{[]string{"bench", "failover", "--out", ""}, "--out: empty"},
		{[]string{"bench", "failover", "stray"}, `unexpected argument "stray"`},
		{[]string{"bench", "failover", "--haproxy-downinter", "-1s"}, "--haproxy-downinter -1s: want a positive duration"},
		{[]string{"bench", "boot", "--sync"}, "flag provided but not defined: -sync"},
		{[]string{"bench", "boot", "--paired"}, "flag provided but not defined: -paired"},
		{[]string{"bench", "fork", "--scales", "1,x"}, `--scales: "x" is not a positive whole number`},
		{[]string{"bench", "fork", "--methods", "auto"}, `--methods: "auto"`},
		{[]string{"bench", "fork", "--server-settings", "checkpoint_timeout"}, `--server-settings: "checkpoint_timeout": want key=value`},
		{[]string{"bench", "fork", "--fork-settings", "a b=1"}, `--fork-settings: "a b=1": want key=value with a parameter name`},
		{[]string{"bench", "fork", "--sync", "--source", "primary"}, "--sync: a synchronous standby needs --source replica"},
		{[]string{"bench", "fork", "--fork-cpus", "1;x"}, `--fork-cpus: CPU list "1;x"`},
		{[]string{"bench", "fiu", "--trials", "-1"}, "--trials -1: want at least 1"},
		{[]string{"bench", "soak", "--hours", "0"}, "--hours, --viewers, --tick-every, --ack-every and --failover-every must be positive"},
		{[]string{"bench", "soak", "--tick-every", "0s"}, "--hours, --viewers, --tick-every, --ack-every and --failover-every must be positive"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			code, _, stderr := runArgs(t, nil, c.args...)
			if code != 2 {
				t.Errorf("exit status %d, want 2 (stderr %q)", code, stderr)
			}
			if !strings.Contains(stderr, c.want) {
				t.Errorf("stderr = %q, want it to contain %q", stderr, c.want)
			}
		})
	}
}

func TestBenchHelp(t *testing.T) {
	code, _, stderr := runArgs(t, nil, "bench", "--help")
	if code != 0 {
		t.Errorf("bench --help: status %d", code)
	}
	for _, kind := range []string{"failover", "boot", "fork", "fiu", "soak"} {
		if !strings.Contains(stderr, kind) {
			t.Errorf("bench --help does not list %s: %q", kind, stderr)
		}
	}
	code, _, stderr = runArgs(t, nil, "bench", "failover", "--help")
	if code != 0 || !strings.Contains(stderr, "-timings") || !strings.Contains(stderr, "-sync") || !strings.Contains(stderr, "-paired") {
		t.Errorf("bench failover --help: status %d, %q", code, stderr)
	}
}

// TestBenchFIURuns runs the one benchmark that needs nothing but the CPU.
func TestBenchFIURuns(t *testing.T) {
	code, stdout, stderr := runArgs(t, nil, "bench", "fiu", "--trials", "3")
	if code != 0 || !strings.Contains(stdout, "n=3") {
		t.Errorf("bench fiu: status %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

func TestParseTrials(t *testing.T) {
	for _, c := range []struct {
		in       string
		profiles int
		want     []int
	}{
		{"20", 2, []int{20, 20}},
		{"20,5", 2, []int{20, 5}},
		{" 3 ", 1, []int{3}},
	} {
		got, err := parseTrials(c.in, c.profiles)
		if err != nil || len(got) != len(c.want) {
			t.Fatalf("parseTrials(%q, %d) = %v, %v; want %v", c.in, c.profiles, got, err, c.want)
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("parseTrials(%q, %d) = %v, want %v", c.in, c.profiles, got, c.want)
			}
		}
	}
}

func TestParseSettings(t *testing.T) {
	for _, c := range []struct {
		in      string
		want    string // keys=values joined by ";", or the error's text
		wantErr bool
	}{
		{"", "", false},
		{"checkpoint_timeout=1min", "checkpoint_timeout=1min", false},
		{" shared_buffers = 64MB , redswitch.x=a=b", "shared_buffers=64MB;redswitch.x=a=b", false},
		{"=1", `"=1": want key=value`, true},
		{"1abc=1", `"1abc=1": want key=value`, true},
		{"a\nb=1", "want key=value", true},
		{"noequals", `"noequals": want key=value`, true},
	} {
		t.Run(c.in, func(t *testing.T) {
			got, err := parseSettings("--x", c.in)
			if c.wantErr {
				if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "--x") {
					t.Fatalf("err = %v, want it to name --x and contain %q", err, c.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var parts []string
			for _, s := range got {
				parts = append(parts, s.Key+"="+s.Value)
			}
			if j := strings.Join(parts, ";"); j != c.want {
				t.Fatalf("got %q, want %q", j, c.want)
			}
		})
	}
}

func FuzzParseSettings(f *testing.F) {
	f.Add("checkpoint_timeout=1min,shared_buffers=64MB")
	f.Add("a=\n")
	f.Fuzz(func(t *testing.T, in string) {
		got, err := parseSettings("--x", in)
		if err != nil {
			return
		}
		for _, s := range got {
			if !settingKey.MatchString(s.Key) || strings.ContainsAny(s.Value, "\n\r") {
				t.Fatalf("accepted %q from %q", s, in)
			}
		}
	})
}
