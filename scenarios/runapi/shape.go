package runapi

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/scenarios"
)

// Shape is the cluster the running head node has. A run against it
// cannot change it (scenarios.RemoteBackend does not apply a scenario's
// cluster section), so each scenario's cluster section is checked
// against it instead.
type Shape struct {
	// Nodes is the number of database nodes, n1..nN.
	Nodes   int
	Timings cluster.Timings
	// SynchronousMode, SynchronousModeStrict and FailsafeMode are
	// Patroni's settings of the same names.
	SynchronousMode       bool
	SynchronousModeStrict bool
	FailsafeMode          bool
	// MaximumLagOnFailover is in bytes; zero means Patroni's default
	// (scenarios.DefaultMaximumLagOnFailover).
	MaximumLagOnFailover int64
	// Tags holds the Patroni tags of each node.
	Tags map[string]scenarios.NodeTags
	// EtcdApart says etcd runs apart from the database nodes, as the
	// head node's embedded etcd does: what a scenario's external_etcd
	// asks for.
	EtcdApart bool
	// Forks says the head node serves the fork API.
	Forks bool
	// PostmortemForks says the agents fork a crashed primary before it
	// rejoins.
	PostmortemForks bool
	// FaultKinds lists the fault kinds the head node's faults API
	// injects; nil when unknown, and then fault steps are not checked
	// here (the runner skips a scenario whose kind is missing).
	FaultKinds []string
}

// Unmet lists what sc needs that a run against a head node of this
// shape cannot give it, one readable reason each; empty when it can run.
func (s Shape) Unmet(sc *scenarios.Scenario) []string {
	var out []string
	c := sc.Cluster
	if c.Nodes != s.Nodes {
		out = append(out, fmt.Sprintf("needs %d nodes; this cluster has %d", c.Nodes, s.Nodes))
	}
	if c.Timings.TTL != s.Timings.TTL || c.Timings.LoopWait != s.Timings.LoopWait || c.Timings.RetryTimeout != s.Timings.RetryTimeout {
		out = append(out, fmt.Sprintf("needs %s timings; this cluster runs %s", timings(c.Timings), timings(s.Timings)))
	}
	flag := func(name string, want, have bool) {
		if want != have {
			out = append(out, fmt.Sprintf("needs %s: %t; this cluster runs with %t", name, want, have))
		}
	}
	flag("synchronous_mode", c.SynchronousMode, s.SynchronousMode)
	flag("synchronous_mode_strict", c.SynchronousModeStrict, s.SynchronousModeStrict)
	flag("failsafe_mode", c.FailsafeMode, s.FailsafeMode)
	if c.PostmortemForks && !s.PostmortemForks {
		out = append(out, "needs postmortem_forks: the agents of this cluster keep no post-mortem forks")
	}
	if want, have := lag(c.MaximumLagOnFailover), lag(s.MaximumLagOnFailover); want != have {
		out = append(out, fmt.Sprintf("needs maximum_lag_on_failover %s; this cluster has %s", size(want), size(have)))
	}
	nodes := slices.Sorted(maps.Keys(c.Tags))
	for n := range s.Tags {
		if _, ok := c.Tags[n]; !ok {
			nodes = append(nodes, n)
		}
	}
	slices.Sort(nodes)
	for _, n := range nodes {
		if want, have := c.Tags[n], s.Tags[n]; want != have {
			out = append(out, fmt.Sprintf("needs %s tagged %s; this cluster's %s is tagged %s", n, tags(want), n, tags(have)))
		}
	}
	if c.ExternalEtcd && !s.EtcdApart {
		out = append(out, "needs etcd apart from the database nodes (external_etcd); this cluster's etcd runs on them")
	}
	seen := map[string]bool{}
	for _, st := range sc.Steps {
		var why string
		switch {
		case st.Fork != nil && !s.Forks:
			why = "fork steps: this head node serves no fork API"
		case st.Fault != nil && st.Fault.Inject && st.Fault.Kind != scenarios.FaultPower && s.FaultKinds != nil &&
			!slices.Contains(s.FaultKinds, string(st.Fault.Kind)):
			why = fmt.Sprintf("fault kind %s: the head node does not inject it", st.Fault.Kind)
		}
		if why != "" && !seen[why] {
			seen[why] = true
			out = append(out, fmt.Sprintf("%s (line %d)", why, st.Line))
		}
	}
	return out
}

func timings(t cluster.Timings) string {
	name := t.Name
	if name == "" {
		name = "custom"
	}
	return fmt.Sprintf("%s (ttl %d, loop_wait %d, retry_timeout %d)", name, t.TTL, t.LoopWait, t.RetryTimeout)
}

func lag(n int64) int64 {
	if n == 0 {
		return scenarios.DefaultMaximumLagOnFailover
	}
	return n
}

// size renders bytes as a scenario would write them: "64MB", "1MB",
// "1500B".
func size(n int64) string {
	for _, u := range []struct {
		name string
		n    int64
	}{{"GB", 1 << 30}, {"MB", 1 << 20}, {"kB", 1 << 10}} {
		if n >= u.n && n%u.n == 0 {
			return fmt.Sprintf("%d%s", n/u.n, u.name)
		}
	}
	return fmt.Sprintf("%dB", n)
}

func tags(t scenarios.NodeTags) string {
	var parts []string
	if t.NoFailover {
		parts = append(parts, "nofailover")
	}
	if t.NoLoadBalance {
		parts = append(parts, "noloadbalance")
	}
	if len(parts) == 0 {
		return "with nothing"
	}
	return strings.Join(parts, ", ")
}
