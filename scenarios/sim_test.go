package scenarios_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/redswitch/redswitch/agentapi"
	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/headnodeapi"
	"github.com/redswitch/redswitch/journal"
	"github.com/redswitch/redswitch/scenarios"
)

// simOptions script a simulated cluster.
type simOptions struct {
	// FailLine, when set, starts a failover from n1 to n2 FailDelay after
	// the runner marks the step at that line: a failover injected into a
	// scenario that injects nothing itself.
	FailLine  int
	FailDelay time.Duration
	// Stuck keeps n1 primary even when its power is cut: a rig that
	// cannot fail over, against which the positive control must pass.
	Stuck bool
}

// Speed of the simulated clock: a 30 s window passes in 0.3 s.
const simSpeed = 100

// simUptime is how long the simulated cluster has been up when a run
// starts, so `wait: streaming` holds at once.
const simUptime = time.Minute

// simBackend hands out one simulated cluster per run.
type simBackend struct{ o simOptions }

func (b simBackend) Start(ctx context.Context, sc *scenarios.Scenario) (scenarios.Cluster, error) {
	return newSimCluster(b.o), nil
}
func (b simBackend) Supports(scenarios.FaultKind) bool { return false }
func (b simBackend) Forks() bool                       { return false }
func (b simBackend) Name() string                      { return "simulation" }

// simCluster is a scenarios.Cluster whose world is a function of its
// clock: three nodes running Patroni 3.0.2, n1 primary on timeline 1, a
// probe acknowledging a commit every 10 ms on the primary, acks flushed
// once a second. A failover (n1 cut, the leader key expires 4.8 s later,
// n2 takes it at 5.0 s and acknowledges on timeline 2 from 5.2 s, no
// commit lost) starts when the runner cuts n1's power or as scripted.
// The clock runs simSpeed times the wall clock, and the runner waits on
// it: the real runner, on real scenario files, in well under a second
// per 30 simulated seconds.
type simCluster struct {
	o      simOptions
	wall0  time.Time
	origin time.Time

	mu       sync.Mutex
	recorded []journal.Event
	failAt   time.Time
	off      map[string]bool
}

func newSimCluster(o simOptions) *simCluster {
	return &simCluster{o: o, wall0: time.Now(), origin: time.Date(2026, 3, 14, 10, 0, 0, 0, time.UTC), off: map[string]bool{}}
}

// Now implements scenarios.Cluster.
func (c *simCluster) Now() time.Time {
	return c.origin.Add(time.Since(c.wall0) * simSpeed)
}

func (c *simCluster) failoverAt() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failAt
}

// world is what the head node would have recorded by now.
func (c *simCluster) world(now time.Time) []journal.Event {
	failAt := c.failoverAt()
	begin := c.origin.Add(-simUptime)
	var ev []journal.Event
	var seq uint64
	acks := func(node string, tl int, from, to time.Time) {
		for a := from; a.Before(to); a = a.Add(time.Second) {
			b := a.Add(990 * time.Millisecond)
			if b.After(to) {
				b = to
			}
			n := uint64(b.Sub(a)/(10*time.Millisecond)) + 1
			ev = append(ev, journal.Event{At: b, Kind: journal.KindProbeAck, Node: node, Timeline: tl,
				First: seq + 1, Last: seq + n, FirstAt: a, LastAt: b})
			seq += n
		}
	}
	leader := func(at time.Time, node, lease, detail string) {
		if !at.After(now) {
			ev = append(ev, journal.Event{At: at, Kind: journal.KindLeader, Node: node, ID: lease, Detail: detail})
		}
	}
	leader(begin.Add(500*time.Millisecond), "n1", "1a", journal.LeaderCreated)
	n1Until := now
	if !failAt.IsZero() && failAt.Before(now) {
		n1Until = failAt
	}
	acks("n1", 1, begin.Add(time.Second), n1Until)
	if !failAt.IsZero() {
		leader(failAt.Add(4800*time.Millisecond), "", "", "expired")
		leader(failAt.Add(5*time.Second), "n2", "2b", journal.LeaderCreated)
		acks("n2", 2, failAt.Add(5200*time.Millisecond), now)
	}
	return ev
}

// Events implements scenarios.Cluster.
func (c *simCluster) Events() []journal.Event {
	ev := c.world(c.Now())
	c.mu.Lock()
	ev = append(ev, c.recorded...)
	c.mu.Unlock()
	slices.SortStableFunc(ev, func(a, b journal.Event) int { return a.At.Compare(b.At) })
	return ev
}

// Record implements scenarios.Cluster; the mark of the scripted step
// starts the failover.
func (c *simCluster) Record(e journal.Event) error {
	if e.At.IsZero() {
		e.At = c.Now()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e.Seq = uint64(len(c.recorded) + 1)
	c.recorded = append(c.recorded, e)
	if c.o.FailLine > 0 && c.failAt.IsZero() && e.Kind == journal.KindMark && e.ID == strconv.Itoa(c.o.FailLine) {
		c.failAt = e.At.Add(c.o.FailDelay)
	}
	return nil
}

// leader is the holder of the leader key at now.
func (c *simCluster) leader(now time.Time) string {
	holder := ""
	for _, e := range c.world(now) {
		if e.Kind == journal.KindLeader {
			holder = e.Node
		}
	}
	return holder
}

// State implements scenarios.Cluster.
func (c *simCluster) State(ctx context.Context) (headnodeapi.State, error) {
	leader := c.leader(c.Now())
	st := headnodeapi.State{Scope: "sim", Leader: leader}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range []string{"n1", "n2", "n3"} {
		ns := headnodeapi.NodeState{Name: n, Power: "on", Agent: true, Role: cluster.RoleReplica, State: "running", Timeline: 1, PatroniVersion: "3.0.2"}
		switch {
		case c.off[n]:
			ns.Power, ns.Agent, ns.Role, ns.State, ns.PatroniVersion = "off", false, cluster.RoleDown, "", ""
		case n == leader:
			ns.Role = cluster.RolePrimary
		}
		st.Nodes = append(st.Nodes, ns)
	}
	return st, nil
}

// SetPower implements scenarios.Cluster: cutting the primary fails it
// over, unless the rig is stuck.
func (c *simCluster) SetPower(ctx context.Context, node string, on bool, source string) error {
	now := c.Now()
	leader := c.leader(now)
	if err := c.Record(journal.Event{At: now, Kind: journal.KindPower, Node: node, On: journal.Bool(on), Source: source}); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.off[node] = !on
	if !on && node == leader && c.failAt.IsZero() && !c.o.Stuck {
		c.failAt = now
	}
	return nil
}

// Streaming implements scenarios.Cluster: every powered node but the
// primary.
func (c *simCluster) Streaming(ctx context.Context, st headnodeapi.State) ([]string, error) {
	var out []string
	for _, n := range st.Nodes {
		if n.Power == "on" && n.Name != st.Leader {
			out = append(out, n.Name)
		}
	}
	return out, nil
}

// RewindCount implements scenarios.Cluster: the simulation never rewinds.
func (c *simCluster) RewindCount(ctx context.Context, node string) (int, error) { return 0, nil }

// ReadBack implements scenarios.Cluster: every acknowledged commit is
// found.
func (c *simCluster) ReadBack(ctx context.Context) error {
	var last uint64
	for _, e := range c.world(c.Now()) {
		if e.Kind == journal.KindProbeAck {
			last = max(last, e.Last)
		}
	}
	return c.Record(journal.Event{Kind: journal.KindProbeReadback, Last: last})
}

// Faults implements scenarios.Cluster: none.
func (c *simCluster) Faults() scenarios.FaultInjector { return nil }

// Fork implements scenarios.Cluster: not simulated.
func (c *simCluster) Fork(ctx context.Context, node, name string) (agentapi.ForkInfo, error) {
	return agentapi.ForkInfo{}, errors.New("the simulation makes no forks")
}

// Forks implements scenarios.Cluster.
func (c *simCluster) Forks(ctx context.Context) ([]agentapi.ForkInfo, error) { return nil, nil }

// Close implements scenarios.Cluster.
func (c *simCluster) Close(ctx context.Context) error { return nil }
