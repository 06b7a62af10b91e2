package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/redswitch/redswitch/scenarios"
)

func TestSplitArgs(t *testing.T) {
	valued := map[string]bool{"junit": true, "shard": true}
	tests := []struct {
		args         []string
		flags, files []string
	}{
		{[]string{"a.yaml", "--junit", "out.xml", "b.yaml"}, []string{"--junit", "out.xml"}, []string{"a.yaml", "b.yaml"}},
		{[]string{"--shard=1/2", "--library"}, []string{"--shard=1/2", "--library"}, nil},
		{[]string{"--quiet", "x.yaml", "--", "--odd.yaml"}, []string{"--quiet"}, []string{"x.yaml", "--odd.yaml"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			flags, files := splitArgs(tt.args, valued)
			if !slices.Equal(flags, tt.flags) || !slices.Equal(files, tt.files) {
				t.Errorf("splitArgs = %q, %q; want %q, %q", flags, files, tt.flags, tt.files)
			}
		})
	}
}

func TestShardScenarios(t *testing.T) {
	lib, err := scenarios.LoadAll(scenarios.Library(), ".")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for i := 1; i <= 3; i++ {
		for _, sc := range shardScenarios(lib, i, 3) {
			seen[sc.Name]++
		}
	}
	if len(seen) != len(lib) {
		t.Errorf("3 shards cover %d of %d scenarios", len(seen), len(lib))
	}
	for n, k := range seen {
		if k != 1 {
			t.Errorf("%s is in %d shards", n, k)
		}
	}
}

func TestScenarioUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{nil, "want a subcommand"},
		{[]string{"fly"}, "unknown subcommand"},
		{[]string{"run"}, "no scenario"},
		{[]string{"run", "--library", "--parallel", "0"}, "--parallel 0"},
		{[]string{"run", "--library", "--shard", "3/2"}, "--shard"},
		{[]string{"run", "--library", "--against", "http://127.0.0.1:1", "--parallel", "2"}, "one at a time"},
		{[]string{"run", "../../scenarios/testdata/typo-selector.bad.yaml"}, "unknown selector"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out bytes.Buffer
			env := &environ{stdout: &out, stderr: io.Discard, getenv: func(string) string { return "" },
				log: slog.New(slog.DiscardHandler)}
			err := runScenario(context.Background(), env, tt.args)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("runScenario(%q) = %v, want an error containing %q", tt.args, err, tt.want)
			}
			var ue usageError
			if tt.want != "unknown selector" && !errors.As(err, &ue) {
				t.Errorf("error %v is not a usage error (exit status 2)", err)
			}
		})
	}
}

func TestScenarioList(t *testing.T) {
	var out bytes.Buffer
	env := &environ{stdout: &out, stderr: io.Discard, getenv: func(string) string { return "" }, log: slog.New(slog.DiscardHandler)}
	if err := runScenario(context.Background(), env, []string{"list", "--library"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "primary-power-cut ") || !strings.Contains(out.String(), "negative-control ") {
		t.Errorf("list does not show the library:\n%s", out.String())
	}
}

// FuzzSplitArgs: nothing is invented or duplicated; flags and files are
// arguments in their original order, and only a "--" separator is dropped.
func FuzzSplitArgs(f *testing.F) {
	f.Add("a.yaml --junit out.xml b.yaml")
	f.Add("--shard=1/2 -- --x")
	f.Add("--junit --")
	f.Fuzz(func(t *testing.T, line string) {
		args := strings.Fields(line)
		flags, files := splitArgs(args, map[string]bool{"junit": true, "shard": true})
		dropped := len(args) - len(flags) - len(files)
		if dropped < 0 || dropped > 1 || (dropped == 1 && !slices.Contains(args, "--")) {
			t.Fatalf("splitArgs(%q) = %q + %q: %d argument(s) dropped", args, flags, files, dropped)
		}
		if !isSubsequence(flags, args) || !isSubsequence(files, args) {
			t.Errorf("splitArgs(%q) = %q + %q: not in the original order", args, flags, files)
		}
	})
}

func isSubsequence(sub, all []string) bool {
	i := 0
	for _, a := range all {
		if i < len(sub) && sub[i] == a {
			i++
		}
	}
	return i == len(sub)
}
