package scenarios

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/redswitch/redswitch/demo"
	"github.com/redswitch/redswitch/rig"
)

// Run runs a scenario file from a Go test on a fresh containerized
// cluster and fails the test for every expectation that does not hold.
// It skips (naming what is missing) under -short, without Docker or the
// node image, and when the scenario needs a fault kind or fork that is
// not available yet. It returns the result for further checks.
func Run(t *testing.T, file string) Result {
	t.Helper()
	sc, err := Load(file)
	if err != nil {
		t.Fatalf("scenario %s: %v", file, err)
	}
	return RunTest(t, sc, RunOptions{})
}

// RunTest is Run for a parsed scenario and explicit options; a nil
// o.Backend means containers (with the checks Run makes for them).
func RunTest(t *testing.T, sc *Scenario, o RunOptions) Result {
	t.Helper()
	if o.Backend == nil {
		RequireContainers(t)
		o.Backend = &ContainerBackend{Log: o.Log}
	}
	if o.Progress == nil {
		o.Progress = func(name, line string) { t.Logf("%s: %s", name, line) }
	}
	res := RunScenario(context.Background(), sc, o)
	if reason, ok := Skipped(res); ok {
		t.Skip(reason)
	}
	var b strings.Builder
	_ = WriteText(&b, []Result{res})
	t.Log("\n" + b.String())
	if res.Err != nil {
		t.Errorf("scenario %s: %v", sc.Name, res.Err)
	}
	for _, s := range res.Steps {
		if !s.OK {
			t.Errorf("%s:%d: %s: %s", sc.File, s.Line, s.Text, s.Detail)
		}
	}
	return res
}

// RequireContainers skips the test unless containers can run here: not
// -short, Docker answering, the node image built. It sets
// TESTCONTAINERS_RYUK_DISABLED=true for the test, as the rig needs.
func RequireContainers(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("scenario runs need docker and the node image; skipped with -short")
	}
	t.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	ctx := context.Background()
	cli, err := rig.Docker(ctx)
	if err != nil {
		t.Skipf("needs docker: %v", err)
	}
	defer cli.Close()
	if _, err := cli.ImageInspect(ctx, demo.DefaultImage); err != nil {
		t.Skipf("needs docker image %s (make image): %v", demo.DefaultImage, err)
	}
}

// testLog is the log of scenario runs in tests: warnings and worse.
func testLog() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
