package scenarios

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redswitch/redswitch/agentapi"
	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/faults"
	"github.com/redswitch/redswitch/forks"
	"github.com/redswitch/redswitch/headnodeapi"
	"github.com/redswitch/redswitch/journal"
)

// Local is a head node running in this process, as a scenario run needs
// it: the one history, the one probe, the fault manager and the fork
// service, read and driven directly rather than over HTTP.
type Local struct {
	// Now is the clock of the history.
	Now func() time.Time
	// State is the head node's view of the cluster.
	State func() headnodeapi.State
	// SetPower switches a node's power, recorded with its source.
	SetPower func(ctx context.Context, node string, on bool, source string) error
	// Events returns the whole history; Record appends to it.
	Events func() []journal.Event
	Record func(e journal.Event) (journal.Event, error)
	// ReadBack checks every commit the probe ever acknowledged (the whole
	// journal's, not only the events in memory) against the primary and
	// returns the KindProbeReadback event to record; nil when the head
	// node runs no probe.
	ReadBack func(ctx context.Context) (journal.Event, error)
	// Hold keeps the events from a time on in memory until released,
	// so a run's verdicts see its whole history however long it runs;
	// nil when the history is kept whole anyway.
	Hold func(from time.Time) (release func())
	// Faults and Forks are the head node's services; nil when absent.
	Faults *faults.Manager
	Forks  *forks.Service
	// Logs returns a node's log (containers); nil where logs cannot be
	// read.
	Logs func(ctx context.Context, node string) (string, error)
}

// LocalBackend plays scenarios against the head node it runs in: the
// scenario-run API of `redswitch demo` and `redswitch headnode`. Like a
// remote run it does not apply a scenario's cluster section (the head
// node's shape is checked before), and its teardown puts back what the
// run changed: faults it injected, forks it made, nodes it left off.
type LocalBackend struct {
	Head Local
	// Name describes the head node in reports.
	Label string
}

// Name implements Backend.
func (b *LocalBackend) Name() string {
	if b.Label != "" {
		return b.Label
	}
	return "this head node"
}

// Supports implements Backend: the kinds of the head node's fault manager.
func (b *LocalBackend) Supports(kind FaultKind) bool {
	return b.Head.Faults != nil && managerFaults{m: b.Head.Faults}.Supports(kind)
}

// Forks implements Backend.
func (b *LocalBackend) Forks() bool { return b.Head.Forks != nil }

// Start implements Backend: nothing starts, the run watches the head
// node's own history.
func (b *LocalBackend) Start(ctx context.Context, sc *Scenario) (Cluster, error) {
	if b.Head.State == nil || b.Head.SetPower == nil || b.Head.Events == nil || b.Head.Record == nil || b.Head.Now == nil {
		return nil, errors.New("scenarios: local head node is missing state, power or history")
	}
	return NewLocalCluster(b.Head), nil
}

// NewLocalCluster returns a Cluster over a head node in this process
// that keeps track of what the run changes, so Close can put it back.
func NewLocalCluster(h Local) *LocalCluster {
	c := &LocalCluster{h: h, off: map[string]bool{}}
	if h.Hold != nil && h.Now != nil {
		c.release = h.Hold(h.Now())
	}
	if h.Faults != nil {
		c.faults = &managerFaults{m: h.Faults, c: c}
	}
	return c
}

// LocalCluster is a Cluster over a head node in this process.
type LocalCluster struct {
	h      Local
	faults *managerFaults

	// release lets the head node forget the run's events again.
	release func()

	mu       sync.Mutex
	injected []string
	made     []string
	off      map[string]bool
}

// Now implements Cluster.
func (c *LocalCluster) Now() time.Time { return c.h.Now() }

// State implements Cluster.
func (c *LocalCluster) State(ctx context.Context) (headnodeapi.State, error) { return c.h.State(), nil }

// SetPower implements Cluster and remembers the nodes the run left off.
func (c *LocalCluster) SetPower(ctx context.Context, node string, on bool, source string) error {
	if err := c.h.SetPower(ctx, node, on, source); err != nil {
		return err
	}
	c.mu.Lock()
	c.off[node] = !on
	c.mu.Unlock()
	return nil
}

// Events implements Cluster.
func (c *LocalCluster) Events() []journal.Event { return c.h.Events() }

// Record implements Cluster.
func (c *LocalCluster) Record(e journal.Event) error {
	if e.At.IsZero() {
		e.At = c.h.Now()
	}
	_, err := c.h.Record(e)
	return err
}

// Streaming implements Cluster.
func (c *LocalCluster) Streaming(ctx context.Context, st headnodeapi.State) ([]string, error) {
	return streamingFromLeader(ctx, st)
}

// RewindCount counts Patroni's announcements of a pg_rewind run in the
// node's log (a container's log survives power cuts).
func (c *LocalCluster) RewindCount(ctx context.Context, node string) (int, error) {
	if c.h.Logs == nil {
		return 0, fmt.Errorf("node logs: %w", ErrNotAvailable)
	}
	logs, err := c.h.Logs(ctx, node)
	if err != nil {
		return 0, err
	}
	return countRewinds(logs), nil
}

// ReadBack implements Cluster.
func (c *LocalCluster) ReadBack(ctx context.Context) error {
	if c.h.ReadBack == nil {
		return errors.New("read back: the head node runs no probe")
	}
	e, err := c.h.ReadBack(ctx)
	if err != nil {
		return err
	}
	_, err = c.h.Record(e)
	return err
}

// Faults implements Cluster.
func (c *LocalCluster) Faults() FaultInjector {
	if c.faults == nil {
		return nil // a typed nil would look like an injector
	}
	return c.faults
}

// Fork implements Cluster.
func (c *LocalCluster) Fork(ctx context.Context, node, name string) (agentapi.ForkInfo, error) {
	if c.h.Forks == nil {
		return agentapi.ForkInfo{}, fmt.Errorf("forks: %w", ErrNotAvailable)
	}
	f, err := c.h.Forks.Create(ctx, forks.CreateRequest{From: node, Name: name})
	if err == nil {
		c.mu.Lock()
		c.made = append(c.made, name)
		c.mu.Unlock()
	}
	return f, err
}

// Forks implements Cluster.
func (c *LocalCluster) Forks(ctx context.Context) ([]agentapi.ForkInfo, error) {
	if c.h.Forks == nil {
		return nil, fmt.Errorf("forks: %w", ErrNotAvailable)
	}
	return c.h.Forks.List(ctx)
}

// Close recovers every fault this run left injected (newest first),
// destroys its forks and powers on every node it left off, so the booth
// is whole again for the next visitor. A recovery that fails while its
// node is off is tried once more after power returns.
func (c *LocalCluster) Close(ctx context.Context) error {
	c.mu.Lock()
	if c.release != nil {
		defer c.release() // the run's verdicts are in: its events may go
		c.release = nil
	}
	injected := slices.Clone(c.injected)
	made := slices.Clone(c.made)
	var off []string
	for n, isOff := range c.off {
		if isOff {
			off = append(off, n)
		}
	}
	c.mu.Unlock()
	slices.Reverse(injected)
	slices.Sort(off)
	var retry []string
	for _, id := range injected {
		if err := c.faults.Recover(ctx, id); err != nil {
			retry = append(retry, id)
		}
	}
	var errs []error
	for _, name := range made {
		if err := c.h.Forks.Destroy(ctx, name); err != nil {
			errs = append(errs, fmt.Errorf("destroy fork %s made by the run: %w", name, err))
		}
	}
	for _, n := range off {
		if err := c.SetPower(ctx, n, true, "scenario teardown"); err != nil {
			errs = append(errs, err)
		}
	}
	for _, id := range retry {
		if err := c.faults.Recover(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("recover fault %s left by the run: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

// managerFaults adapts a fault manager to FaultInjector and keeps the
// run's list of faults still injected.
type managerFaults struct {
	m *faults.Manager
	c *LocalCluster
}

func (f managerFaults) Supports(kind FaultKind) bool {
	for _, inj := range f.m.Kinds() {
		if string(inj.Info().Kind) == string(kind) {
			return true
		}
	}
	return false
}

func (f *managerFaults) Inject(ctx context.Context, kind FaultKind, target string, step FaultStep) (string, error) {
	fault, err := f.m.Inject(ctx, faults.Request{Kind: faults.Kind(kind), Target: target, From: string(step.From),
		Lag: step.Lag, Pause: step.Pause, CPUPercent: step.CPUPercent})
	if err != nil {
		return "", err
	}
	f.c.mu.Lock()
	f.c.injected = append(f.c.injected, fault.ID)
	f.c.mu.Unlock()
	return fault.ID, nil
}

func (f *managerFaults) Recover(ctx context.Context, id string) error {
	if _, err := f.m.Recover(ctx, id); err != nil && !errors.Is(err, faults.ErrUnknownFault) {
		return err
	}
	f.c.mu.Lock()
	if i := slices.Index(f.c.injected, id); i >= 0 {
		f.c.injected = slices.Delete(f.c.injected, i, i+1)
	}
	f.c.mu.Unlock()
	return nil
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
