// Package containers runs scenarios on fresh containerized clusters: each
// run gets its own demo rig (node containers on a private network and the
// head node service with embedded etcd, HAProxy and the commit probe). It
// lives apart from scenarios because the rig's head node itself serves
// scenario runs.
package containers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redswitch/redswitch/demo"
	"github.com/redswitch/redswitch/faults"
	"github.com/redswitch/redswitch/rig/rigtest"
	"github.com/redswitch/redswitch/scenarios"
)

// Backend runs every scenario on a fresh containerized cluster
// (demo.Start), etcd always apart from the database nodes. Rigs are
// ephemeral: a crashed run's leftovers are swept by the next one.
type Backend struct {
	// Image is the node image (demo.DefaultImage when empty).
	Image string
	// DataDir holds one data dir per run; a temporary directory, removed
	// afterwards, when empty.
	DataDir string
	Log     *slog.Logger
}

// Name implements scenarios.Backend.
func (b *Backend) Name() string { return "containers" }

// Supports implements scenarios.Backend: the kinds the faults package
// knows. A rig whose fault manager lacks one reports it at the step.
func (b *Backend) Supports(kind scenarios.FaultKind) bool {
	for _, inj := range faults.Kinds() {
		if string(inj.Info().Kind) == string(kind) {
			return true
		}
	}
	return false
}

// Forks implements scenarios.Backend: the nodes' agents make forks.
func (b *Backend) Forks() bool { return true }

// Options maps a scenario's cluster section onto a rig's options.
func Options(spec scenarios.ClusterSpec) demo.Options {
	tags := map[string][]string{}
	for node, t := range spec.Tags {
		if t.NoFailover {
			tags[node] = append(tags[node], "nofailover")
		}
		if t.NoLoadBalance {
			tags[node] = append(tags[node], "noloadbalance")
		}
	}
	return demo.Options{Nodes: spec.Nodes, Timings: spec.Timings, SynchronousMode: spec.SynchronousMode,
		SynchronousModeStrict: spec.SynchronousModeStrict, FailsafeMode: spec.FailsafeMode,
		MaximumLagOnFailover: spec.MaximumLagOnFailover, Tags: tags, Probe: true, ProbeInterval: spec.ProbeInterval,
		PostmortemForks: spec.PostmortemForks}
}

// Start implements scenarios.Backend.
func (b *Backend) Start(ctx context.Context, sc *scenarios.Scenario) (scenarios.Cluster, error) {
	log := b.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if os.Getenv("TESTCONTAINERS_RYUK_DISABLED") != "true" {
		return nil, errors.New(`TESTCONTAINERS_RYUK_DISABLED must be exactly "true" (the rig removes its containers by label)`)
	}
	parent := b.DataDir
	if parent != "" {
		if err := os.MkdirAll(parent, 0o700); err != nil {
			return nil, fmt.Errorf("scenario data dir: %w", err)
		}
	}
	dir, err := os.MkdirTemp(parent, "scenario-"+sc.Name+"-")
	if err != nil {
		return nil, fmt.Errorf("scenario data dir: %w", err)
	}
	o := Options(sc.Cluster)
	o.Image, o.DataDir, o.Listen, o.Ephemeral = b.Image, dir, "127.0.0.1:0", true
	o.Scope = "redswitch"
	o.Log = log.With("scenario", sc.Name)
	d, err := demo.Start(ctx, o)
	if err != nil {
		if b.DataDir == "" {
			_ = os.RemoveAll(dir)
		}
		return nil, err
	}
	return &cluster{LocalCluster: scenarios.NewLocalCluster(d.Local()), d: d, dir: dir, removeDir: b.DataDir == ""}, nil
}

// cluster is a rig's head node as a scenario drives it; closing it
// removes the whole rig.
type cluster struct {
	*scenarios.LocalCluster
	d         *demo.Demo
	dir       string
	removeDir bool
}

// Close removes the rig: its faults are recovered first, then every
// container goes.
func (c *cluster) Close(ctx context.Context) error {
	err := c.d.Close(ctx)
	if c.removeDir {
		_ = os.RemoveAll(filepath.Clean(c.dir))
	}
	return err
}

// Run runs a scenario file from a Go test on a fresh containerized
// cluster and fails the test for every expectation that does not hold.
// It skips under -short; without Docker or the node image it skips, or
// fails under CI=true, where the scripts install both. A scenario that
// needs a fault kind or fork that is not available yet is skipped. It
// returns the result for further checks.
func Run(t *testing.T, file string) scenarios.Result {
	t.Helper()
	sc, err := scenarios.Load(file)
	if err != nil {
		t.Fatalf("scenario %s: %v", file, err)
	}
	return RunTest(t, sc, scenarios.RunOptions{})
}

// RunTest is Run for a parsed scenario and explicit options; a nil
// o.Backend means containers (with the checks Run makes for them).
func RunTest(t *testing.T, sc *scenarios.Scenario, o scenarios.RunOptions) scenarios.Result {
	t.Helper()
	if o.Backend == nil {
		Require(t)
		o.Backend = &Backend{Log: o.Log}
	}
	if o.Progress == nil {
		o.Progress = func(name, line string) { t.Logf("%s: %s", name, line) }
	}
	res := scenarios.RunScenario(context.Background(), sc, o)
	if reason, ok := scenarios.Skipped(res); ok {
		// Not a missing prerequisite: the backend lacks the step's feature
		// (a fault kind or forks it has not grown yet), whatever is
		// installed. The reason shows in the skip list of `make test`.
		t.Skip(reason)
	}
	var b strings.Builder
	_ = scenarios.WriteText(&b, []scenarios.Result{res})
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

// Require stops the test unless containers can run here: not -short,
// Docker answering, the node image built (a failure under CI=true, a skip
// elsewhere; see rigtest.Require).
func Require(t *testing.T) {
	t.Helper()
	rigtest.Require(t, demo.DefaultImage)
}
