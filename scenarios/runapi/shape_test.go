package runapi

import (
	"slices"
	"strings"
	"testing"

	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/scenarios"
)

func mustTimings(t *testing.T, s string) cluster.Timings {
	t.Helper()
	tm, err := cluster.ParseTimings(s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func parse(t *testing.T, yaml string) *scenarios.Scenario {
	t.Helper()
	sc, err := scenarios.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// demoShape is what `redswitch demo` runs by default.
func demoShape(t *testing.T) Shape {
	return Shape{Nodes: 3, Timings: mustTimings(t, "aggressive"), EtcdApart: true, Forks: true,
		FaultKinds: []string{"power", "freeze", "partition", "etcd_outage"}}
}

func TestUnmet(t *testing.T) {
	head := "name: s\ndescription: d\n"
	steps := "steps:\n  - wait: streaming\n"
	tests := []struct {
		name  string
		shape func(*Shape)
		yaml  string
		want  []string // substrings, one per reason, in order
	}{
		{"fits", nil, head + "cluster: {nodes: 3}\n" + steps, nil},
		{"default cluster section fits", nil, head + steps, nil},
		{"node count", nil, head + "cluster: {nodes: 2}\n" + steps, []string{"needs 2 nodes; this cluster has 3"}},
		{"more nodes than the cluster", func(s *Shape) { s.Nodes = 2 }, head + steps, []string{"needs 3 nodes; this cluster has 2"}},
		{"timings", nil, head + "cluster: {timings: default}\n" + steps,
			[]string{"needs default (ttl 30, loop_wait 10, retry_timeout 10) timings; this cluster runs aggressive (ttl 5"}},
		{"same values under another name", func(s *Shape) { s.Timings = mustTimings(t, "5/1/2") }, head + steps, nil},
		{"synchronous", nil, head + "cluster: {synchronous_mode: true, synchronous_mode_strict: true}\n" + steps,
			[]string{"needs synchronous_mode: true; this cluster runs with false", "synchronous_mode_strict: true"}},
		{"cluster is synchronous, scenario not", func(s *Shape) { s.SynchronousMode = true }, head + steps,
			[]string{"needs synchronous_mode: false; this cluster runs with true"}},
		{"failsafe", nil, head + "cluster: {failsafe_mode: true}\n" + steps, []string{"failsafe_mode: true"}},
		{"lag default equals zero", func(s *Shape) { s.MaximumLagOnFailover = 0 }, head + "cluster: {maximum_lag_on_failover: 1MB}\n" + steps, nil},
		{"lag", nil, head + "cluster: {maximum_lag_on_failover: 64MB}\n" + steps,
			[]string{"needs maximum_lag_on_failover 64MB; this cluster has 1MB"}},
		{"tags wanted", nil, head + "cluster: {tags: {n3: {nofailover: true}}}\n" + steps,
			[]string{"needs n3 tagged nofailover; this cluster's n3 is tagged with nothing"}},
		{"tags present but not wanted", func(s *Shape) { s.Tags = map[string]scenarios.NodeTags{"n1": {NoLoadBalance: true}} }, head + steps,
			[]string{"needs n1 tagged with nothing; this cluster's n1 is tagged noloadbalance"}},
		{"tags match", func(s *Shape) { s.Tags = map[string]scenarios.NodeTags{"n3": {NoFailover: true}} },
			head + "cluster: {tags: {n3: {nofailover: true}}}\n" + steps, nil},
		{"external etcd", func(s *Shape) { s.EtcdApart = false }, head + "cluster: {external_etcd: true}\n" + steps,
			[]string{"needs etcd apart from the database nodes"}},
		{"external etcd on a head node", nil, head + "cluster: {external_etcd: true}\n" + steps, nil},
		{"fault kind missing", nil, head + steps + "  - fault: {inject: corrupt, target: replica}\n  - fault: {inject: corrupt, target: primary}\n",
			[]string{"fault kind corrupt: the head node does not inject it (line 5)"}},
		{"fault kinds unknown", func(s *Shape) { s.FaultKinds = nil }, head + steps + "  - fault: {inject: corrupt, target: replica}\n", nil},
		{"power faults need no fault API", func(s *Shape) { s.FaultKinds = []string{} }, head + steps + "  - fault: {inject: power, target: replica}\n", nil},
		{"fork", nil, head + steps + "  - fork: {from: replica, name: snap}\n", nil},
		{"postmortem forks wanted", nil, head + "cluster: {postmortem_forks: true}\n" + steps, []string{"needs postmortem_forks"}},
		{"postmortem forks on", func(s *Shape) { s.PostmortemForks = true }, head + "cluster: {postmortem_forks: true}\n" + steps, nil},
		{"fork without a fork API", func(s *Shape) { s.Forks = false }, head + steps + "  - fork: {from: replica, name: snap}\n",
			[]string{"fork steps: this head node serves no fork API (line 5)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := demoShape(t)
			if tt.shape != nil {
				tt.shape(&s)
			}
			got := s.Unmet(parse(t, tt.yaml))
			if len(got) != len(tt.want) {
				t.Fatalf("Unmet = %q, want %d reason(s) %q", got, len(tt.want), tt.want)
			}
			for i := range got {
				if !strings.Contains(got[i], tt.want[i]) {
					t.Errorf("reason %d = %q, want it to contain %q", i, got[i], tt.want[i])
				}
			}
		})
	}
}

// TestUnmetLibrary runs the check over the real library against the
// demo's default cluster: the plain 3-node scenarios run, the ones that
// need another shape do not.
func TestUnmetLibrary(t *testing.T) {
	lib, err := scenarios.LoadAll(scenarios.Library(), ".")
	if err != nil {
		t.Fatal(err)
	}
	s := demoShape(t)
	s.FaultKinds = nil
	var runnable, not []string
	for _, sc := range lib {
		if len(s.Unmet(sc)) == 0 {
			runnable = append(runnable, sc.Name)
		} else {
			not = append(not, sc.Name)
		}
	}
	for _, name := range []string{"primary-power-cut", "replica-power-cut", "negative-control", "two-nodes-cut", "switch-flapping", "etcd-outage", "fork-from-replica"} {
		if !slices.Contains(runnable, name) {
			t.Errorf("%s is not runnable on the demo's cluster", name)
		}
	}
	for _, name := range []string{"cold-start", "default-timings", "lagging-replica-not-promoted",
		"nofailover-node", "synchronous-primary-cut", "etcd-outage-failsafe"} {
		if !slices.Contains(not, name) {
			t.Errorf("%s is listed runnable on the demo's cluster", name)
		}
	}
}
