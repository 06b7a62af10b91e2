package demo

import (
	"fmt"
	"net/http"
	"time"

	"github.com/redswitch/redswitch/agentapi"
	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/forks"
)

// mountExtras adds the routes of the parts composed around the head node:
// probe, failovers, metrics, dashboard, switches, faults, forks.
func (d *Demo) mountExtras(mux *http.ServeMux) {
	d.mountObservers(mux)
	d.mountFaults(mux)
	d.mountForks(mux)
}

// mountForks serves the fork API: the nodes' agents make the forks.
func (d *Demo) mountForks(mux *http.ServeMux) {
	d.forks = forks.New(forks.Options{
		Agent: func(node string) (forks.Agent, error) {
			// A copy fallback on a big database takes minutes.
			c, ok := d.agent(node, 6*time.Minute)
			if !ok {
				return nil, fmt.Errorf("%w: %q", forks.ErrUnknownNode, node)
			}
			return c, nil
		},
		State:  d.Head.State,
		Record: d.rec.Append,
		Log:    d.Opts.Log.With("component", "forks"),
	})
	d.forks.Mount(mux, d.Head.RequireOperator)
}

// agent returns a client of a node's agent carrying this run's cluster
// token, with the given request timeout; false for a node the rig lacks.
func (d *Demo) agent(node string, timeout time.Duration) (*agentapi.Client, bool) {
	for _, n := range d.Rig.Nodes() {
		if n.Name == node {
			c := agentapi.NewClient(n.Address, cluster.AgentPort, d.clusterToken)
			c.HTTP.Timeout = timeout
			return c, true
		}
	}
	return nil, false
}

// Forks returns the demo's fork service.
func (d *Demo) Forks() *forks.Service { return d.forks }
