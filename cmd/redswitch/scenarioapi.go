package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/redswitch/redswitch/demo"
	"github.com/redswitch/redswitch/faults"
	"github.com/redswitch/redswitch/scenarios"
	"github.com/redswitch/redswitch/scenarios/runapi"
)

// scenarioRuns mounts the scenario-run API on a demo rig's mux (from
// demo.Options.Mount) and keeps the service so the demo can stop a
// running scenario, and let it restore the cluster, before the rig goes.
type scenarioRuns struct {
	log *slog.Logger
	svc *runapi.Service
}

// mount builds the service from the embedded library and the rig's shape.
// The runner calls the head node back at the address each run's request
// reached, so it does not need d.URL (set only after Mount runs).
func (s *scenarioRuns) mount(mux *http.ServeMux, d *demo.Demo) {
	lib, err := scenarios.LoadAll(scenarios.Library(), ".")
	if err != nil {
		s.log.Error("scenario runs unavailable: the library does not load", "err", err)
		return
	}
	var kinds []faults.Injector
	if m := d.Faults(); m != nil {
		kinds = m.Kinds()
	}
	log := s.log.With("component", "scenario-runs")
	svc, err := runapi.New(runapi.Options{
		Scenarios: lib,
		Shape:     demoShape(d.Opts, kinds),
		Runner:    runapi.Remote(runapi.RemoteOptions{Token: d.Token, ProbeDSN: d.DSN, Log: log}),
		Log:       log,
	})
	if err != nil {
		s.log.Error("scenario runs unavailable", "err", err)
		return
	}
	svc.Mount(mux, d.Head.RequireOperator)
	s.svc = svc
}

// close cancels a running scenario and waits a while for its teardown.
func (s *scenarioRuns) close() error {
	if s.svc == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.svc.Close(ctx); err != nil {
		return fmt.Errorf("scenario runs: %w", err)
	}
	return nil
}

// demoShape is the cluster a demo rig runs, for checking scenarios
// against: its etcd is the head node's, apart from the nodes, and its
// fault kinds are its fault manager's (none without one).
func demoShape(o demo.Options, kinds []faults.Injector) runapi.Shape {
	s := runapi.Shape{Nodes: o.Nodes, Timings: o.Timings, SynchronousMode: o.SynchronousMode,
		SynchronousModeStrict: o.SynchronousModeStrict, FailsafeMode: o.FailsafeMode,
		MaximumLagOnFailover: o.MaximumLagOnFailover, EtcdApart: true, Forks: true, PostmortemForks: o.PostmortemForks, FaultKinds: []string{}}
	for node, tags := range o.Tags {
		var t scenarios.NodeTags
		for _, tag := range tags {
			switch tag {
			case "nofailover":
				t.NoFailover = true
			case "noloadbalance":
				t.NoLoadBalance = true
			}
		}
		if t != (scenarios.NodeTags{}) {
			if s.Tags == nil {
				s.Tags = map[string]scenarios.NodeTags{}
			}
			s.Tags[node] = t
		}
	}
	for _, k := range kinds {
		s.FaultKinds = append(s.FaultKinds, string(k.Info().Kind))
	}
	return s
}
