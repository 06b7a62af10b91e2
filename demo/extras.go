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
	addrs := map[string]string{}
	for _, n := range d.Rig.Nodes() {
		addrs[n.Name] = n.Address
	}
	d.forks = forks.New(forks.Options{
		Agent: func(node string) (forks.Agent, error) {
			a, ok := addrs[node]
			if !ok {
				return nil, fmt.Errorf("%w: %q", forks.ErrUnknownNode, node)
			}
			c := agentapi.NewClient(a, cluster.AgentPort, d.clusterToken)
			// A copy fallback on a big database takes minutes.
			c.HTTP.Timeout = 6 * time.Minute
			return c, nil
		},
		State:  d.Head.State,
		Record: d.rec.Append,
		Log:    d.Opts.Log.With("component", "forks"),
	})
	d.forks.Mount(mux, d.Head.RequireOperator)
}

// Forks returns the demo's fork service.
func (d *Demo) Forks() *forks.Service { return d.forks }
