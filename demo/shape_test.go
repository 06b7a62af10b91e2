package demo

import (
	"slices"
	"strings"
	"testing"

	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/faults"
	"github.com/redswitch/redswitch/scenarios"
)

func TestDemoShape(t *testing.T) {
	aggressive, err := cluster.ParseTimings("aggressive")
	if err != nil {
		t.Fatal(err)
	}
	lib, err := scenarios.LoadAll(scenarios.Library(), ".")
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*scenarios.Scenario{}
	for _, sc := range lib {
		byName[sc.Name] = sc
	}
	tests := []struct {
		name     string
		o        Options
		kinds    []faults.Injector
		runs     []string
		runsNot  []string
		unmetHas string // for the first of runsNot
	}{
		{"default demo", Options{Nodes: 3, Timings: aggressive}, faults.Kinds(),
			[]string{"primary-power-cut", "etcd-outage", "two-nodes-cut", "primary-freeze", "fork-from-replica"},
			[]string{"synchronous-primary-cut", "nofailover-node"}, "synchronous_mode: true"},
		{"no fault manager", Options{Nodes: 3, Timings: aggressive}, nil,
			[]string{"primary-power-cut", "switch-flapping"},
			[]string{"primary-freeze"}, "fault kind freeze"},
		{"synchronous demo", Options{Nodes: 3, Timings: aggressive, SynchronousMode: true}, faults.Kinds(),
			[]string{"synchronous-primary-cut", "cold-start"},
			[]string{"primary-power-cut"}, "synchronous_mode: false"},
		{"tagged demo", Options{Nodes: 3, Timings: aggressive, Tags: map[string][]string{"n3": {"nofailover"}, "n1": {"other"}}}, faults.Kinds(),
			[]string{"nofailover-node"},
			[]string{"primary-power-cut"}, "n3 tagged with nothing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The head node service fills in what it runs itself.
			s := shape(tt.o)
			s.Nodes, s.Timings, s.Forks, s.FaultKinds = tt.o.Nodes, tt.o.Timings, true, []string{}
			for _, k := range tt.kinds {
				s.FaultKinds = append(s.FaultKinds, string(k.Info().Kind))
			}
			if !s.EtcdApart {
				t.Error("a demo's etcd is the head node's, apart from the nodes")
			}
			for _, name := range tt.runs {
				if u := s.Unmet(byName[name]); len(u) > 0 {
					t.Errorf("%s cannot run: %q", name, u)
				}
			}
			for i, name := range tt.runsNot {
				u := s.Unmet(byName[name])
				if len(u) == 0 {
					t.Errorf("%s listed runnable", name)
				}
				if i == 0 && !slices.ContainsFunc(u, func(r string) bool { return strings.Contains(r, tt.unmetHas) }) {
					t.Errorf("%s: unmet %q, want a reason with %q", name, u, tt.unmetHas)
				}
			}
		})
	}
}
