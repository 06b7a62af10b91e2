package demo

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/redswitch/redswitch/agentapi"
	"github.com/redswitch/redswitch/faults"
)

// faultKinds serves the list of fault kinds.
type faultKinds struct{ m *faults.Manager }

func (h faultKinds) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	var out []faults.Info
	for _, k := range h.m.Kinds() {
		out = append(out, k.Info())
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// mountFaults builds the fault manager and mounts its API behind the
// operator token. The node agents get a fresh cluster token.
func (d *Demo) mountFaults(mux *http.ServeMux) {
	m, err := d.newFaults()
	if err != nil {
		d.Opts.Log.Error("faults unavailable", "err", err)
		return
	}
	d.faults = m
	m.Mount(mux, d.Head.RequireOperator)
	mux.Handle("GET /api/v1/fault-kinds", faultKinds{m})
}

// Faults returns the demo's fault manager, or nil when it could not be
// built. Close recovers every fault still active.
func (d *Demo) Faults() *faults.Manager { return d.faults }

func (d *Demo) newFaults() (*faults.Manager, error) {
	eps := d.Etcd.Endpoints()
	if len(eps) < 2 {
		return nil, fmt.Errorf("etcd has no endpoint on the rig network: %v", eps)
	}
	u, err := url.Parse(eps[1])
	if err != nil {
		return nil, fmt.Errorf("etcd endpoint %q: %w", eps[1], err)
	}
	host, portS, err := net.SplitHostPort(u.Host)
	if err != nil {
		return nil, fmt.Errorf("etcd endpoint %q: %w", eps[1], err)
	}
	port, _ := strconv.Atoi(portS)
	cli, err := clientv3.New(clientv3.Config{Endpoints: eps[:1], DialTimeout: 3 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return nil, fmt.Errorf("etcd client: %w", err)
	}
	// A node with a bounded volume of its own may be filled whole; one
	// whose data shares the host's disk keeps the faults' default bound,
	// which refuses.
	var maxFill int64
	if d.Rig.Volumes() {
		maxFill = d.Opts.VolumeSize
	}
	return faults.New(faults.Options{
		Env: faults.Env{
			MaxFill: maxFill,
			Power:   d.Head,
			Freezer: d.Rig,
			Files:   d.Rig,
			Agent: func(node string) (faults.Agent, error) {
				c, ok := d.agent(node, 30*time.Second)
				if !ok {
					return nil, fmt.Errorf("%w: %q", faults.ErrUnknownTarget, node)
				}
				return c, nil
			},
			State: d.Head.State,
			Etcd:  agentapi.Peer{Address: host, Port: port},
		},
		Record: d.rec,
		Clock:  d.Clock.Now,
		Etcd:   cli,
		Scope:  d.Opts.Scope,
		Log:    d.Opts.Log.With("component", "faults"),
	}), nil
}
