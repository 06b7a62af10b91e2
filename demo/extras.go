package demo

import (
	"time"

	"github.com/redswitch/redswitch/agentapi"
	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/faults"
	"github.com/redswitch/redswitch/forks"
	"github.com/redswitch/redswitch/headnode"
	"github.com/redswitch/redswitch/journal"
)

// agent returns a client of a node's agent carrying this run's cluster
// token, with the given request timeout; false for a node the rig lacks.
// It reads the rig's plan, not its containers: clients are made before
// the nodes start (the soft power driver's among them).
func (d *Demo) agent(node string, timeout time.Duration) (*agentapi.Client, bool) {
	for _, m := range d.members {
		if m.Name == node {
			c := agentapi.NewClient(m.Address, cluster.AgentPort, d.clusterToken)
			c.HTTP.Timeout = timeout
			return c, true
		}
	}
	return nil, false
}

// Forks returns the head node's fork service.
func (d *Demo) Forks() *forks.Service { return d.Service.Forks }

// Faults returns the head node's fault manager. Close recovers every
// fault still active.
func (d *Demo) Faults() *faults.Manager { return d.Service.Faults }

// Events returns every event recorded so far, including those read back
// from the journal of an earlier run of the same data dir.
func (d *Demo) Events() []journal.Event { return d.History.Events() }

// Record appends an event (a scenario step, a fault) to the journal.
func (d *Demo) Record(e journal.Event) (journal.Event, error) { return d.History.Append(e) }

// Log is the demo's event log, for parts composed around it.
func (d *Demo) Log() *headnode.EventLog { return d.History }
