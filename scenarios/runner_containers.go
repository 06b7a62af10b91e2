package scenarios

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/redswitch/redswitch/agentapi"
	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/demo"
	"github.com/redswitch/redswitch/faults"
	"github.com/redswitch/redswitch/forks"
	"github.com/redswitch/redswitch/headnodeapi"
	"github.com/redswitch/redswitch/journal"
)

// ContainerBackend runs every scenario on a fresh containerized cluster
// (demo.Start): node containers on a private network, the head node with
// embedded etcd (always apart from the database nodes), HAProxy and the
// commit probe. Rigs are ephemeral: a crashed run's leftovers are swept by
// the next one.
type ContainerBackend struct {
	// Image is the node image (demo.DefaultImage when empty).
	Image string
	// DataDir holds one data dir per run; a temporary directory, removed
	// afterwards, when empty.
	DataDir string
	Log     *slog.Logger
}

// Name implements Backend.
func (b *ContainerBackend) Name() string { return "containers" }

// Supports implements Backend: the kinds the faults package knows. A rig
// whose fault manager could not start reports them unavailable at the
// step instead.
func (b *ContainerBackend) Supports(kind FaultKind) bool {
	for _, inj := range faults.Kinds() {
		if string(inj.Info().Kind) == string(kind) {
			return true
		}
	}
	return false
}

// Forks implements Backend: the nodes' agents make forks (snapshots on
// the rig's btrfs volumes, copies where the machine cannot give nodes
// volumes).
func (b *ContainerBackend) Forks() bool { return true }

// demoOptions maps a scenario's cluster section onto the rig's options.
func demoOptions(spec ClusterSpec) demo.Options {
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

// Start implements Backend.
func (b *ContainerBackend) Start(ctx context.Context, sc *Scenario) (Cluster, error) {
	log := b.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if os.Getenv("TESTCONTAINERS_RYUK_DISABLED") != "true" {
		return nil, fmt.Errorf("TESTCONTAINERS_RYUK_DISABLED must be exactly \"true\" (the rig removes its containers by label)")
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
	o := demoOptions(sc.Cluster)
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
	c := &containerCluster{d: d, dir: dir, removeDir: b.DataDir == ""}
	if m := d.Faults(); m != nil {
		c.faults = managerFaults{m}
	}
	return c, nil
}

// containerCluster adapts a demo rig to Cluster.
type containerCluster struct {
	d         *demo.Demo
	dir       string
	removeDir bool
	faults    FaultInjector
}

// managerFaults adapts the rig's fault manager to FaultInjector.
type managerFaults struct{ m *faults.Manager }

func (f managerFaults) Supports(kind FaultKind) bool {
	for _, inj := range f.m.Kinds() {
		if string(inj.Info().Kind) == string(kind) {
			return true
		}
	}
	return false
}

func (f managerFaults) Inject(ctx context.Context, kind FaultKind, target string, step FaultStep) (string, error) {
	fault, err := f.m.Inject(ctx, faults.Request{Kind: faults.Kind(kind), Target: target, From: string(step.From),
		Lag: step.Lag, Pause: step.Pause})
	if err != nil {
		return "", err
	}
	return fault.ID, nil
}

func (f managerFaults) Recover(ctx context.Context, id string) error {
	_, err := f.m.Recover(ctx, id)
	return err
}

func (c *containerCluster) Now() time.Time { return c.d.Clock.Now() }

func (c *containerCluster) State(ctx context.Context) (headnodeapi.State, error) {
	return c.d.Head.State(), nil
}

func (c *containerCluster) SetPower(ctx context.Context, node string, on bool, source string) error {
	return c.d.Head.SetPower(ctx, node, on, source)
}

func (c *containerCluster) Events() []journal.Event { return c.d.Events() }

func (c *containerCluster) Record(e journal.Event) error {
	if e.At.IsZero() {
		e.At = c.d.Clock.Now()
	}
	_, err := c.d.Record(e)
	return err
}

func (c *containerCluster) Streaming(ctx context.Context, st headnodeapi.State) ([]string, error) {
	return streamingFromLeader(ctx, st)
}

// RewindCount counts Patroni's announcements of a pg_rewind run in the
// node's container log (the log survives power cuts).
func (c *containerCluster) RewindCount(ctx context.Context, node string) (int, error) {
	logs, err := c.d.Rig.Logs(ctx, node)
	if err != nil {
		return 0, err
	}
	return countRewinds(logs), nil
}

func (c *containerCluster) ReadBack(ctx context.Context) error {
	if c.d.Probe == nil {
		return fmt.Errorf("read back: the rig runs no probe")
	}
	e, err := c.d.Probe.ReadBack(ctx, c.d.Events())
	if err != nil {
		return err
	}
	_, err = c.d.Record(e)
	return err
}

func (c *containerCluster) Faults() FaultInjector {
	if c.faults == nil {
		return nil // a typed nil would look like an injector
	}
	return c.faults
}

func (c *containerCluster) Fork(ctx context.Context, node, name string) (agentapi.ForkInfo, error) {
	return c.d.Forks().Create(ctx, forks.CreateRequest{From: node, Name: name})
}

func (c *containerCluster) Forks(ctx context.Context) ([]agentapi.ForkInfo, error) {
	return c.d.Forks().List(ctx)
}

func (c *containerCluster) Close(ctx context.Context) error {
	var errs []error
	if m := c.d.Faults(); m != nil {
		// Recover what is still injected before the rig goes away.
		errs = append(errs, m.Close(ctx))
	}
	errs = append(errs, c.d.Close(ctx))
	err := errors.Join(errs...)
	if c.removeDir {
		_ = os.RemoveAll(filepath.Clean(c.dir))
	}
	return err
}

// countRewinds counts the pg_rewind runs in a node's log: Patroni logs
// "running pg_rewind from <leader>" before each.
func countRewinds(log string) int {
	return strings.Count(log, "running pg_rewind from")
}

// patroniReplication is the part of Patroni's GET /patroni that lists the
// standbys streaming from a primary.
type patroniReplication struct {
	Replication []struct {
		ApplicationName string `json:"application_name"`
		State           string `json:"state"`
	} `json:"replication"`
}

// streamingFromLeader asks the primary's Patroni which members stream
// from it (application_name is the member name).
func streamingFromLeader(ctx context.Context, st headnodeapi.State) ([]string, error) {
	addr := ""
	for _, n := range st.Nodes {
		if n.Name == st.Leader {
			addr = n.Address
		}
	}
	if addr == "" {
		return nil, fmt.Errorf("no primary to ask who streams")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s:%d/patroni", addr, cluster.PatroniPort), nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("patroni status of %s: %w", st.Leader, err)
	}
	defer resp.Body.Close()
	var p patroniReplication
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		return nil, fmt.Errorf("patroni status of %s: %w", st.Leader, err)
	}
	var out []string
	for _, r := range p.Replication {
		if r.State == "streaming" {
			out = append(out, r.ApplicationName)
		}
	}
	return out, nil
}
