package failover

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redswitch/redswitch/demo"
	"github.com/redswitch/redswitch/rig/rigtest"
)

// needRig stops the test unless Docker and the node image are there (a
// failure under CI=true, a skip elsewhere and under -short).
func needRig(t *testing.T) {
	t.Helper()
	rigtest.Require(t, demo.DefaultImage)
}

func testLog() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// TestRunShortForm runs the failover bench in its short form (two counted
// trials) and checks that every output is there and well-formed; the
// numbers are the benchmark's business, not the test's.
func TestRunShortForm(t *testing.T) {
	needRig(t)
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var bar strings.Builder
	res, err := Run(ctx, Options{Profiles: []string{"aggressive"}, Trials: 2, Out: out, Progress: &bar, Log: testLog()})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := ParseResults(b)
	if err != nil {
		t.Fatalf("results.json is not well-formed: %v\n%s", err, b)
	}
	if len(parsed.Trials) != 2 || len(parsed.Warmup) != 1 || parsed.Summary["aggressive"].N+parsed.Summary["aggressive"].Failed != 2 {
		t.Errorf("got %d trials, %d warm-ups, summary %+v; want 2, 1 and n+failed = 2", len(parsed.Trials), len(parsed.Warmup), parsed.Summary)
	}
	for i, tr := range res.Trials {
		if tr.Error != "" {
			t.Errorf("trial %d failed: %s", i+1, tr.Error)
			continue
		}
		if tr.RejoinS <= 0 {
			t.Errorf("trial %d: rejoin_s %v, want the victim's rejoin measured", i+1, tr.RejoinS)
		}
	}
	if parsed.Versions.Patroni == "" || parsed.Versions.PostgreSQL == "" || parsed.Versions.Etcd == "" {
		t.Errorf("versions incomplete: %+v", parsed.Versions)
	}
	report, err := os.ReadFile(filepath.Join(out, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| aggressive | 2 |", "Patroni " + parsed.Versions.Patroni, "default-server", "warm-up"} {
		if !strings.Contains(string(report), want) {
			t.Errorf("report.md lacks %q:\n%s", want, report)
		}
	}
	for _, f := range []string{"failover-cdf.png", "failover-cdf.svg", "failover-phases.png", "failover-phases.svg", "haproxy-aggressive.cfg"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s missing or empty: %v", f, err)
		}
	}
	if !strings.Contains(bar.String(), "2/2") || !strings.Contains(bar.String(), "median") {
		t.Errorf("progress bar never showed 2/2 with a median: %q", bar.String())
	}
	t.Logf("report:\n%s", report)
	if keep := os.Getenv("REDSWITCH_BENCH_KEEP"); keep != "" {
		_ = os.CopyFS(keep, os.DirFS(out))
	}
}

// TestBootShortForm times two cold starts and checks the outputs.
func TestBootShortForm(t *testing.T) {
	needRig(t)
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	if _, err := Boot(ctx, Options{Profiles: []string{"aggressive"}, Trials: 2, Out: out, Log: testLog()}); err != nil {
		t.Fatalf("boot: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseBootResults(b)
	if err != nil {
		t.Fatalf("results.json is not well-formed: %v\n%s", err, b)
	}
	if len(r.Trials) != 2 || r.Summary["aggressive"].N != 2 {
		t.Errorf("got %d trials, summary %+v; want 2 measured", len(r.Trials), r.Summary)
	}
	for _, f := range []string{"report.md", "boot-cdf.png", "boot-cdf.svg"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s missing or empty: %v", f, err)
		}
	}
}
