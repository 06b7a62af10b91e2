package failover

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	for _, c := range []struct {
		name string
		in   []float64
		want Summary
	}{
		{"empty", nil, Summary{}},
		{"one", []float64{7}, Summary{N: 1, P50: 7, P95: 7, Max: 7, Mean: 7, Min: 7}},
		{"two", []float64{9, 5}, Summary{N: 2, P50: 5, P95: 9, Max: 9, Mean: 7, Min: 5}},
		{"four unsorted", []float64{4, 1, 3, 2}, Summary{N: 4, P50: 2, P95: 4, Max: 4, Mean: 2.5, Min: 1}},
		// Nearest rank over 20: p50 is the 10th, p95 the 19th value.
		{"twenty", seq(1, 20), Summary{N: 20, P50: 10, P95: 19, Max: 20, Mean: 10.5, Min: 1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Summarize(c.in); got != c.want {
				t.Errorf("Summarize(%v) = %+v, want %+v", c.in, got, c.want)
			}
		})
	}
}

func seq(from, to int) []float64 {
	var out []float64
	for i := from; i <= to; i++ {
		out = append(out, float64(i))
	}
	return out
}

func TestSummarizeTrials(t *testing.T) {
	trials := []Trial{
		{Profile: "aggressive", FailoverS: 8, LostCommits: 1},
		{Profile: "aggressive", FailoverS: 6},
		{Profile: "aggressive", Error: "no commit"},
		{Profile: "default", FailoverS: 30},
	}
	got := SummarizeTrials(trials)
	if a := got["aggressive"]; a.N != 2 || a.P50 != 6 || a.Max != 8 || a.LostCommits != 1 || a.Failed != 1 {
		t.Errorf("aggressive = %+v, want n 2, p50 6, max 8, lost 1, failed 1", a)
	}
	if d := got["default"]; d.N != 1 || d.P50 != 30 {
		t.Errorf("default = %+v", d)
	}
	only := SummarizeTrials([]Trial{{Profile: "x", Error: "boom"}})
	if s, ok := only["x"]; !ok || s.N != 0 || s.Failed != 1 {
		t.Errorf("all-failed profile summary = %+v (present %v), want n 0, failed 1", s, ok)
	}
}

// goodResults is a small well-formed result set.
func goodResults() Results {
	tr := func(n int, victim, next string, fo float64) Trial {
		share := 0.02
		return Trial{Profile: "aggressive", Trial: n, Victim: victim, NewPrimary: next, FailoverS: fo, RejoinS: 6.5, Rewound: true,
			Phases: map[string]float64{"haproxy_down": 0.3, "leader_expired": 4.8, "new_leader": 7.0, "haproxy_up": 7.2,
				"writable": fo - share, "first_commit": fo, "promoted": fo + 1.2},
			RigShareS: &share, ProbeErrors: map[string]int{"connection": 700, "25006": 3}, FirstReadOnlyS: 7.25, Load1: 1.5}
	}
	ts := []Trial{tr(1, "n2", "n3", 8.4), tr(2, "n3", "n1", 7.9)}
	ts[0].Cut = CutSilent // the second has no cut, as results from before paired runs: silent
	return Results{
		Trials:  ts,
		Warmup:  []Trial{{Profile: "aggressive", Trial: 0, Victim: "n1", NewPrimary: "n2", FailoverS: 8.1, Phases: map[string]float64{"first_commit": 8.1}}},
		Summary: SummarizeTrials(ts),
		Settings: []Settings{{Profile: "aggressive", Nodes: 3, TTL: 5, LoopWait: 1, RetryTimeout: 2, LeaseTTL: 5,
			HAProxyServer:   "default-server inter 1000ms fastinter 100ms downinter 100ms fall 1 rise 1 on-marked-down shutdown-sessions",
			ProbeIntervalMs: 10, ProbeConnectMs: 1000, ProbeStatementMs: 500, OutageThresholdMs: 500}},
		Versions: Versions{Patroni: "3.0.2", PostgreSQL: "PostgreSQL 15.8 (Debian 15.8-0+deb12u1)", HAProxy: "HAProxy 2.6.12-1+deb12u1", Etcd: "embedded etcd 3.7.3"},
		Machine:  Machine{CPU: "Test CPU", Cores: 2, MemBytes: 8 << 30, Kernel: "6.1.0", GoVersion: "go1.26", LoadStart: 1.25, LoadEnd: 2.5, OtherContainers: 3},
		Started:  time.Date(2026, 11, 25, 22, 0, 0, 0, time.UTC),
		Finished: time.Date(2026, 11, 25, 22, 10, 0, 0, time.UTC),
	}
}

func TestParseResults(t *testing.T) {
	good, err := json.Marshal(goodResults())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseResults(good); err != nil {
		t.Fatalf("good results refused: %v", err)
	}
	for _, c := range []struct {
		name   string
		mutate func(*Results)
		want   string
	}{
		{"no trials", func(r *Results) { r.Trials = nil }, "trials: empty"},
		{"empty profile", func(r *Results) { r.Trials[0].Profile = "" }, "trials[0].profile"},
		{"no victim", func(r *Results) { r.Trials[1].Victim = "" }, "trials[1].victim"},
		{"new primary is the victim", func(r *Results) { r.Trials[0].NewPrimary = "n2" }, "is the victim"},
		{"zero failover", func(r *Results) { r.Trials[0].FailoverS = 0 }, "trials[0].failover_s"},
		{"negative lost", func(r *Results) { r.Trials[0].LostCommits = -1 }, "lost_commits"},
		{"unknown phase", func(r *Results) { r.Trials[0].Phases["coffee"] = 1 }, "phases.coffee: unknown phase"},
		{"negative phase", func(r *Results) { r.Trials[0].Phases["new_leader"] = -1 }, "phases.new_leader"},
		{"first commit disagrees", func(r *Results) { r.Trials[0].Phases["first_commit"] = 3 }, "differs from failover_s"},
		{"no first commit", func(r *Results) { delete(r.Trials[0].Phases, "first_commit") }, "first_commit is missing"},
		{"unknown cut", func(r *Results) { r.Trials[0].Cut = "gentle" }, `trials[0].cut: "gentle"`},
		{"rig share beyond the failover", func(r *Results) { v := 9.0; r.Trials[1].RigShareS = &v }, "trials[1].rig_share_s"},
		{"warm-up counted", func(r *Results) { r.Trials[0].Trial = 0 }, "warm-up"},
		{"summary missing", func(r *Results) { r.Summary = map[string]Summary{} }, `profile "aggressive" is missing`},
		{"summary n wrong", func(r *Results) { s := r.Summary["aggressive"]; s.N = 5; r.Summary["aggressive"] = s }, "summary.aggressive.n"},
		{"summary out of order", func(r *Results) { s := r.Summary["aggressive"]; s.P50 = 99; r.Summary["aggressive"] = s }, "out of order"},
		{"summary of nothing", func(r *Results) { r.Summary["default"] = Summary{} }, "summary.default: no trials"},
		{"bad warm-up", func(r *Results) { r.Warmup[0].Victim = "" }, "warmup[0].victim"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := goodResults()
			c.mutate(&r)
			b, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			_, err = ParseResults(b)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error = %v, want one containing %q", err, c.want)
			}
		})
	}
	for _, c := range []struct{ name, in, want string }{
		{"not json", "{", "results.json"},
		{"unknown field", `{"trials":[],"bogus":1}`, "unknown field"},
		{"wrong type", `{"trials":"many"}`, "results.json"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := ParseResults([]byte(c.in)); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error = %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestParseBootResults(t *testing.T) {
	ts := []BootTrial{{Profile: "aggressive", Trial: 1, BootS: 9, StartSpreadS: 0.4, TotalS: 11}, {Profile: "aggressive", Trial: 2, Error: "not healthy"}}
	good := BootResults{Trials: ts, Summary: SummarizeBoots(ts)}
	b, _ := json.Marshal(good)
	if _, err := ParseBootResults(b); err != nil {
		t.Fatalf("good boot results refused: %v", err)
	}
	for _, c := range []struct {
		name   string
		mutate func(*BootResults)
		want   string
	}{
		{"no trials", func(r *BootResults) { r.Trials = nil }, "trials: empty"},
		{"zero boot", func(r *BootResults) { r.Trials[0].BootS = 0 }, "trials[0].boot_s"},
		{"total below boot", func(r *BootResults) { r.Trials[0].TotalS = 1 }, "inconsistent"},
		{"no profile", func(r *BootResults) { r.Trials[1].Profile = "" }, "trials[1].profile"},
		{"summary missing", func(r *BootResults) { r.Summary = nil }, "is missing"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := good
			r.Trials = append([]BootTrial(nil), good.Trials...)
			r.Summary = SummarizeBoots(r.Trials)
			c.mutate(&r)
			b, _ := json.Marshal(r)
			if _, err := ParseBootResults(b); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error = %v, want one containing %q", err, c.want)
			}
		})
	}
}

// FuzzParseResults: any input is refused with an error or accepted as
// results whose summaries are finite and ordered; never a panic.
func FuzzParseResults(f *testing.F) {
	good, _ := json.Marshal(goodResults())
	f.Add(good)
	f.Add([]byte(`{"trials":[{"profile":"a","trial":1,"victim":"n1","error":"x"}],"summary":{"a":{"n":0,"failed":1}}}`))
	f.Add([]byte(`{"trials":[{"profile":"a","trial":1,"victim":"n1","new_primary":"n2","failover_s":1e309}]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseResults(data)
		if err != nil {
			return
		}
		for p, s := range r.Summary {
			if math.IsNaN(s.P50) || s.P50 > s.Max || s.Min > s.P50 {
				t.Fatalf("accepted summary %s = %+v", p, s)
			}
		}
		if len(r.Trials) == 0 {
			t.Fatal("accepted results without trials")
		}
	})
}

// FuzzParseBootResults: never a panic, and accepted boots are positive.
func FuzzParseBootResults(f *testing.F) {
	f.Add([]byte(`{"trials":[{"profile":"a","trial":1,"boot_s":9,"total_s":10}],"summary":{"a":{"n":1,"p50":9,"p95":9,"max":9,"mean":9,"min":9}}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseBootResults(data)
		if err != nil {
			return
		}
		for _, tr := range r.Trials {
			if tr.Error == "" && !(tr.BootS > 0) {
				t.Fatalf("accepted boot trial %+v", tr)
			}
		}
	})
}
