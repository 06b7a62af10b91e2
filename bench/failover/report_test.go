package failover

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file; got:\n%s", name, got)
	}
}

func TestRenderReportGolden(t *testing.T) {
	r := goodResults()
	share := 0.045
	r.Trials = append(r.Trials, Trial{Profile: "aggressive", Trial: 3, Victim: "n1", Error: "no commit within 50s of cutting n1", RejoinS: 9},
		// A paired run's soft cut: no 2 s wait in the race; its rig share
		// is over the target.
		Trial{Profile: "aggressive", Trial: 4, Cut: CutSoft, Victim: "n1", NewPrimary: "n2", FailoverS: 5.1, RejoinS: 4,
			Phases: map[string]float64{"haproxy_down": 0.2, "leader_expired": 4.7, "new_leader": 4.82, "haproxy_up": 4.9,
				"writable": 5.055, "first_commit": 5.1, "promoted": 6.3}, RigShareS: &share, Load1: 1})
	r.Summary = SummarizeTrials(r.Trials)
	golden(t, "report.golden.md", RenderReport(r))
}

func TestRenderBootReportGolden(t *testing.T) {
	ts := []BootTrial{{Profile: "aggressive", Trial: 1, BootS: 8.25, StartSpreadS: 0.5, TotalS: 10.75, Leader: "n2", Load1: 1},
		{Profile: "aggressive", Trial: 2, Error: "cluster not healthy | twice", Load1: 2}}
	r := BootResults{Trials: ts, Summary: SummarizeBoots(ts), Settings: goodResults().Settings, Versions: goodResults().Versions, Machine: goodResults().Machine}
	golden(t, "boot-report.golden.md", RenderBootReport(r))
}

func TestReportPhaseMedians(t *testing.T) {
	r := goodResults()
	out := RenderReport(r)
	// Two trials: nearest-rank median is the smaller value; the gap
	// haproxy_up → first_commit is 8.4-7.2 and 7.9-7.2.
	r.Trials[1].RejoinError, r.Trials[1].RejoinS = "cluster not healthy", 0
	out = RenderReport(r)
	for _, want := range []string{
		// In time order up to the first commit, the race, the promotion,
		// the rig's share, and Patroni's role apart at the end.
		"| aggressive | silent | 0.30 | 4.80 | 7.00 | 7.20 | 7.88 | 7.90 | 2.20 | 0.88 | 0.02 | 9.10 |",
		"| aggressive | warm-up | silent | n1 → n2 | 8.10 |", "25006 ×3, connection ×700", "| 0 | did not rejoin | true |",
		// The model next to the measurement: 4.75 + 2.1 + 0.2.
		"| aggressive | silent | 2 | 7.05 | 6.30–7.80 | 7.90 | +0.85 | 4.75 / 4.80 | 2.10 / 2.20 | 0.20 / 0.88 | 0.05 / 0.20 | 0.020 (n 2, within 0.030) |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

func TestHAProxyVersion(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"HAProxy version 2.6.12-1+deb12u1 2023/12/16 - https://haproxy.org/\nStatus: long-term\n", "HAProxy 2.6.12-1+deb12u1"},
		{"something else\n", "something else"},
		{"", ""},
	} {
		if got := HAProxyVersion(c.in); got != c.want {
			t.Errorf("HAProxyVersion(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestDefaultServerLine(t *testing.T) {
	cfg := "listen primary\n    bind 127.0.0.1:5000\n    default-server inter 1000ms fall 1\n    server n1 x\nlisten replicas\n    default-server inter 9ms\n"
	if got := DefaultServerLine(cfg); got != "default-server inter 1000ms fall 1" {
		t.Errorf("got %q", got)
	}
	if got := DefaultServerLine("global\n"); got != "" {
		t.Errorf("no default-server: got %q", got)
	}
}
