package scenarios

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redswitch/redswitch/cluster"
)

// header is a valid scenario start; tests append steps to it.
const header = "name: t\ndescription: d\ncluster: {nodes: 3}\nsteps:\n"

func intp(i int) *int           { return &i }
func boolp(b bool) *bool        { return &b }
func selp(s Selector) *Selector { return &s }

var (
	primary = Selector{Kind: SelectPrimary}
	replica = Selector{Kind: SelectReplica}
	last    = Selector{Kind: SelectLast}
	etcd    = Selector{Kind: SelectEtcd}
	all     = Selector{Kind: SelectAll}
	anyNode = Selector{Kind: SelectAny}
)

func node(n string) Selector { return Selector{Kind: SelectNode, Node: n} }

func TestParseExample(t *testing.T) {
	src := `name: primary-power-cut
description: Cut the primary's power; Patroni fails over and the old primary rejoins after pg_rewind.
cluster: {nodes: 3, timings: aggressive}
steps:
  - wait: healthy
  - power: {off: primary}
  - expect: {failover: {within: 10s}, lost_commits: 0}
  - power: {on: "@last"}
  - expect: {rejoined: "@last", rewound: true, within: 60s}
`
	sc, err := Parse("primary-cut.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	aggressive, _ := cluster.ParseTimings("aggressive")
	want := &Scenario{
		Name:        "primary-power-cut",
		Description: "Cut the primary's power; Patroni fails over and the old primary rejoins after pg_rewind.",
		File:        "primary-cut.yaml",
		Cluster: ClusterSpec{Nodes: 3, Timings: aggressive, ProbeInterval: 10 * time.Millisecond,
			MaximumLagOnFailover: 1 << 20},
		Steps: []Step{
			{Kind: StepWait, Line: 5, Column: 5, Wait: &WaitStep{For: WaitHealthy}},
			{Kind: StepPower, Line: 6, Column: 5, Power: &PowerStep{Targets: []Selector{primary}}},
			{Kind: StepExpect, Line: 7, Column: 5, Expect: &ExpectStep{Failover: &FailoverExpect{Within: 10 * time.Second}, LostCommits: intp(0)}},
			{Kind: StepPower, Line: 8, Column: 5, Power: &PowerStep{On: true, Targets: []Selector{last}}},
			{Kind: StepExpect, Line: 9, Column: 5, Expect: &ExpectStep{Rejoined: selp(last), Rewound: boolp(true), Within: time.Minute}},
		},
	}
	if !reflect.DeepEqual(sc, want) {
		t.Errorf("got  %+v\nwant %+v", sc, want)
	}
	var texts []string
	for _, st := range sc.Steps {
		texts = append(texts, st.String())
	}
	wantTexts := []string{
		"wait healthy",
		"power off primary",
		"expect failover within 10s, lost_commits <= 0",
		"power on @last",
		"expect @last rejoined (rewound) within 1m0s",
	}
	if !reflect.DeepEqual(texts, wantTexts) {
		t.Errorf("step texts:\ngot  %q\nwant %q", texts, wantTexts)
	}
}

func TestParseCluster(t *testing.T) {
	custom, _ := cluster.ParseTimings("10/2/3")
	def, _ := cluster.ParseTimings("default")
	aggressive, _ := cluster.ParseTimings("aggressive")
	tests := []struct {
		name, cluster string
		want          ClusterSpec
	}{
		{"defaults", "", ClusterSpec{Nodes: 3, Timings: aggressive, ProbeInterval: 10 * time.Millisecond, MaximumLagOnFailover: 1 << 20}},
		{"custom timings", "cluster: {nodes: 5, timings: 10/2/3}\n",
			ClusterSpec{Nodes: 5, Timings: custom, ProbeInterval: 10 * time.Millisecond, MaximumLagOnFailover: 1 << 20}},
		{"everything", `cluster:
  nodes: 2
  timings: default
  synchronous_mode: true
  synchronous_mode_strict: true
  failsafe_mode: true
  maximum_lag_on_failover: 16MB
  probe_interval: 50ms
  external_etcd: true
  tags: {n2: {nofailover: true, noloadbalance: true}, n1: {noloadbalance: true}}
`, ClusterSpec{Nodes: 2, Timings: def, SynchronousMode: true, SynchronousModeStrict: true, FailsafeMode: true,
			MaximumLagOnFailover: 16 << 20, ProbeInterval: 50 * time.Millisecond, ExternalEtcd: true,
			Tags: map[string]NodeTags{"n2": {NoFailover: true, NoLoadBalance: true}, "n1": {NoLoadBalance: true}}}},
		{"lag in bytes", "cluster: {maximum_lag_on_failover: 0}\n",
			ClusterSpec{Nodes: 3, Timings: aggressive, ProbeInterval: 10 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "name: t\ndescription: d\n" + tt.cluster + "steps:\n  - wait: healthy\n"
			sc, err := Parse("c.yaml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(sc.Cluster, tt.want) {
				t.Errorf("got  %+v\nwant %+v", sc.Cluster, tt.want)
			}
		})
	}
}

func TestPatroniTags(t *testing.T) {
	spec := ClusterSpec{Nodes: 3, Tags: map[string]NodeTags{"n3": {NoFailover: true}}}
	if got := spec.PatroniTags("n3"); !reflect.DeepEqual(got, map[string]bool{"nofailover": true, "noloadbalance": false}) {
		t.Errorf("n3 tags = %v", got)
	}
	if got := spec.PatroniTags("n1"); got != nil {
		t.Errorf("n1 tags = %v, want nil", got)
	}
	if got := spec.NodeNames(); !reflect.DeepEqual(got, []string{"n1", "n2", "n3"}) {
		t.Errorf("NodeNames = %v", got)
	}
}

// TestParseSteps checks each step form's typed value and its rendering.
func TestParseSteps(t *testing.T) {
	tests := []struct {
		name  string
		steps string // appended to header; the step under test is the last
		want  Step   // Line and Column are filled in from the position
		text  string
	}{
		{"wait streaming", "  - wait: streaming\n", Step{Kind: StepWait, Wait: &WaitStep{For: WaitStreaming}}, "wait streaming"},
		{"wait duration", "  - wait: 1m30s\n", Step{Kind: StepWait, Wait: &WaitStep{For: WaitDuration, Duration: 90 * time.Second}}, "wait 1m30s"},
		{"wait role", "  - wait: {role: primary, within: 30s}\n",
			Step{Kind: StepWait, Wait: &WaitStep{For: WaitRole, Role: cluster.RolePrimary, Node: anyNode, Within: 30 * time.Second}},
			"wait until a node is primary within 30s"},
		{"wait node role", "  - wait: {role: replica, node: n2}\n",
			Step{Kind: StepWait, Wait: &WaitStep{For: WaitRole, Role: cluster.RoleReplica, Node: node("n2")}},
			"wait until n2 is replica"},
		{"power list", "  - power: {off: [primary, replica]}\n",
			Step{Kind: StepPower, Power: &PowerStep{Targets: []Selector{primary, replica}}}, "power off primary, replica"},
		{"power all", "  - power: {off: all}\n", Step{Kind: StepPower, Power: &PowerStep{Targets: []Selector{all}}}, "power off all"},
		{"switch bounce default window", "  - switch: {id: 2, on: false, bounce: 4}\n",
			Step{Kind: StepSwitch, Switch: &SwitchStep{ID: 2, Bounce: 4, Window: DefaultBounceWindow}},
			"switch 2 off (bounce 4 within 10ms)"},
		{"switch plain", "  - switch: {id: 3, on: true}\n", Step{Kind: StepSwitch, Switch: &SwitchStep{ID: 3, On: true}}, "switch 3 on"},
		{"partition default from", "  - fault: {inject: partition, target: primary}\n",
			Step{Kind: StepFault, Fault: &FaultStep{Inject: true, Kind: FaultPartition, Target: primary, From: FromAll}},
			"fault inject partition on primary from all"},
		{"partition from etcd for", "  - fault: {inject: partition, target: n1, from: etcd, for: 20s}\n",
			Step{Kind: StepFault, Fault: &FaultStep{Inject: true, Kind: FaultPartition, Target: node("n1"), From: FromEtcd, For: 20 * time.Second}},
			"fault inject partition on n1 from etcd for 20s"},
		{"etcd outage defaults to etcd", "  - fault: {inject: etcd_outage}\n",
			Step{Kind: StepFault, Fault: &FaultStep{Inject: true, Kind: FaultEtcdOutage, Target: etcd}},
			"fault inject etcd_outage on etcd"},
		{"replica lag", "  - fault: {inject: replica_lag, target: replica, lag: 16MB, pause: true}\n",
			Step{Kind: StepFault, Fault: &FaultStep{Inject: true, Kind: FaultReplicaLag, Target: replica, Lag: 16 << 20, Pause: true}},
			"fault inject replica_lag on replica lag 16MB (replay paused)"},
		{"cpu starve default share", "  - fault: {inject: cpu_starve, target: primary}\n",
			Step{Kind: StepFault, Fault: &FaultStep{Inject: true, Kind: FaultCPUStarve, Target: primary, CPUPercent: 1}},
			"fault inject cpu_starve on primary to 1% of a CPU"},
		{"cpu starve under one percent", "  - fault: {inject: cpu_starve, target: primary, cpu_percent: 0.5}\n",
			Step{Kind: StepFault, Fault: &FaultStep{Inject: true, Kind: FaultCPUStarve, Target: primary, CPUPercent: 0.5}},
			"fault inject cpu_starve on primary to 0.5% of a CPU"},
		{"cpu starve share for", "  - fault: {inject: cpu_starve, target: n2, cpu_percent: 3, for: 40s}\n",
			Step{Kind: StepFault, Fault: &FaultStep{Inject: true, Kind: FaultCPUStarve, Target: node("n2"), CPUPercent: 3, For: 40 * time.Second}},
			"fault inject cpu_starve on n2 to 3% of a CPU for 40s"},
		{"recover by kind", "  - fault: {inject: freeze, target: primary}\n  - fault: {recover: freeze}\n",
			Step{Kind: StepFault, Fault: &FaultStep{Kind: FaultFreeze, Injected: 5}}, "fault recover freeze (injected at line 5)"},
		{"recover @last picks the latest", "  - fault: {inject: freeze, target: n1}\n  - fault: {inject: disk_full, target: n2}\n  - fault: {recover: \"@last\"}\n",
			Step{Kind: StepFault, Fault: &FaultStep{Kind: FaultDiskFull, Injected: 6}}, "fault recover disk_full (injected at line 6)"},
		{"recover by target", "  - fault: {inject: freeze, target: n1}\n  - fault: {inject: freeze, target: n2}\n  - fault: {recover: freeze, target: n1}\n",
			Step{Kind: StepFault, Fault: &FaultStep{Kind: FaultFreeze, Injected: 5}}, "fault recover freeze (injected at line 5)"},
		{"fork", "  - fork: {from: replica, name: demo}\n", Step{Kind: StepFork, Fork: &ForkStep{From: replica, Name: "demo"}}, "fork replica as demo"},
		{"sleep", "  - sleep: 500ms\n", Step{Kind: StepSleep, Sleep: &SleepStep{Duration: 500 * time.Millisecond}}, "sleep 500ms"},
		{"expect writes flow key", "  - expect: {writes: {unavailable, during: 10s}}\n",
			Step{Kind: StepExpect, Expect: &ExpectStep{Writes: &WritesExpect{During: 10 * time.Second}}}, "expect writes unavailable during 10s"},
		{"expect writes scalar", "  - expect: {writes: available}\n",
			Step{Kind: StepExpect, Expect: &ExpectStep{Writes: &WritesExpect{Available: true}}}, "expect writes available"},
		{"expect writes true", "  - expect: {writes: {available: true, during: 1s}}\n",
			Step{Kind: StepExpect, Expect: &ExpectStep{Writes: &WritesExpect{Available: true, During: time.Second}}}, "expect writes available during 1s"},
		{"expect many", "  - power: {off: n1}\n  - expect: {no_failover: true, split_brain: false, primary: {is_not: \"@last\"}, timeline_advanced: false, reinitialised: n2, power_cuts: 1, within: 5s}\n",
			Step{Kind: StepExpect, Expect: &ExpectStep{NoFailover: true, SplitBrain: boolp(false), Primary: &PrimaryExpect{IsNot: selp(last)},
				TimelineAdvanced: boolp(false), Reinitialised: selp(node("n2")), PowerCuts: intp(1), Within: 5 * time.Second}},
			"expect no failover, split_brain false, primary is not @last, timeline_advanced false, n2 reinitialised, power_cuts = 1 within 5s"},
		{"expect failover true", "  - power: {off: primary}\n  - expect: {failover: true, primary: {is: n2}}\n",
			Step{Kind: StepExpect, Expect: &ExpectStep{Failover: &FailoverExpect{}, Primary: &PrimaryExpect{Is: selp(node("n2"))}}},
			"expect failover, primary is n2"},
		{"rejoined all", "  - power: {off: all}\n  - expect: {rejoined: all, rewound: false}\n",
			Step{Kind: StepExpect, Expect: &ExpectStep{Rejoined: selp(all), Rewound: boolp(false)}}, "expect all rejoined (not rewound)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := header + tt.steps
			sc, err := Parse("s.yaml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			got := sc.Steps[len(sc.Steps)-1]
			want := tt.want
			want.Line, want.Column = strings.Count(src, "\n"), 5
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
			if got.String() != tt.text {
				t.Errorf("String() = %q, want %q", got.String(), tt.text)
			}
		})
	}
}

// TestParseErrors checks exact messages: they are the user interface.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string // a whole file, or steps after header when it starts with "  -"
		want []string
	}{
		{"brief example", "  - wait: healthy\n  - power: {off: primry}\n",
			[]string{`x.yaml:6:18: steps[1].power.off: unknown selector "primry" (want primary, replica, any, @last, all or a node name n1..n3)`}},
		{"node out of range", "  - power: {off: n4}\n",
			[]string{`x.yaml:5:18: steps[0].power.off: node "n4" does not exist: the cluster has 3 node(s), n1..n3`}},
		{"empty file", "", []string{"x.yaml:1: empty file: want a mapping with name, description, cluster and steps"}},
		{"syntax error", "name: [\n", []string{"x.yaml:1: invalid YAML: did not find expected node content"}},
		{"two documents", header + "  - wait: healthy\n---\nname: u\n", []string{"x.yaml:6:1: a scenario file holds exactly one YAML document"}},
		{"not a mapping", "- 1\n", []string{"x.yaml:1:1: want a mapping with keys name, description, cluster, steps, got a list"}},
		{"missing fields", "cluster: {nodes: 2}\n", []string{
			"x.yaml:1:1: name: missing: every scenario needs a name such as primary-power-cut",
			"x.yaml:1:1: description: missing: say what a Patroni user learns from this scenario",
			"x.yaml:1:1: steps: missing: a scenario needs at least one step"}},
		{"unknown top key", "name: t\ndescription: d\nstep: []\nsteps: [{wait: healthy}]\n",
			[]string{`x.yaml:3:1: unknown key "step" (want name, description, cluster, steps)`}},
		{"bad name", "name: Primary Cut\ndescription: d\nsteps: [{wait: healthy}]\n",
			[]string{`x.yaml:1:7: name: "Primary Cut": use lower-case letters, digits, '-' and '_', starting with a letter`}},
		{"duplicate key", "name: t\nname: u\ndescription: d\nsteps: [{wait: healthy}]\n",
			[]string{"x.yaml:2:1: name: appears twice (first at line 1)"}},
		{"alias", "name: &n t\ndescription: *n\nsteps: [{wait: healthy}]\n",
			[]string{"x.yaml:2:14: aliases (*n) are not supported in scenarios; write the value out"}},
		{"cluster errors", "name: t\ndescription: d\ncluster: {nodes: 12, timings: 5/1/1, synchronous_mode_strict: true, nodez: 1, probe_interval: 10}\nsteps: [{wait: healthy}]\n",
			[]string{
				"x.yaml:3:18: cluster.nodes: 12 is out of range 1..9",
				`x.yaml:3:31: cluster.timings: timings "5/1/1": retry_timeout 1 s is below 2 s: with etcd3 Patroni never acquires the leader key, so no failover happens`,
				"x.yaml:3:63: cluster.synchronous_mode_strict: needs synchronous_mode: true",
				`x.yaml:3:69: cluster: unknown key "nodez" (want nodes, timings, synchronous_mode, synchronous_mode_strict, failsafe_mode, maximum_lag_on_failover, tags, probe_interval, external_etcd, postmortem_forks)`,
				"x.yaml:3:95: cluster.probe_interval: 10 has no unit (want a duration such as 10s or 500ms)"}},
		{"tags", "name: t\ndescription: d\ncluster: {nodes: 2, tags: {n3: {nofailover: true}, n1: {nofailover: yes}}}\nsteps: [{wait: healthy}]\n",
			[]string{
				`x.yaml:3:28: cluster.tags: node "n3" does not exist: the cluster has 2 node(s), n1..n2`,
				`x.yaml:3:69: cluster.tags.n1.nofailover: want true or false, got "yes"`}},
		{"lag size", "name: t\ndescription: d\ncluster: {maximum_lag_on_failover: 16 MiB}\nsteps: [{wait: healthy}]\n",
			[]string{`x.yaml:3:36: cluster.maximum_lag_on_failover: want a size in bytes such as 1048576 or 16MB, got "16 MiB"`}},
		{"empty steps", "name: t\ndescription: d\nsteps: []\n", []string{"x.yaml:3:8: steps: empty: a scenario needs at least one step"}},
		{"step with two keys", "  - {wait: healthy, sleep: 1s}\n",
			[]string{"x.yaml:5:5: steps[0]: a step is a mapping with one key such as `power: {off: primary}`, got 2 keys (wait, sleep)"}},
		{"step scalar", "  - sleep\n",
			[]string{"x.yaml:5:5: steps[0]: a step is a mapping with one key such as `power: {off: primary}`, got \"sleep\""}},
		{"unknown step", "  - powr: {off: primary}\n",
			[]string{`x.yaml:5:5: steps[0]: unknown step "powr" (want wait, power, switch, fault, fork, sleep, expect)`}},
		{"wait unknown", "  - wait: forever\n",
			[]string{`x.yaml:5:11: steps[0].wait: unknown wait "forever" (want healthy, streaming, a duration such as 5s, or {role: primary, node: n1, within: 30s})`}},
		{"wait role", "  - wait: {role: leader, node: primary}\n", []string{
			`x.yaml:5:18: steps[0].wait.role: unknown role "leader" (want primary or replica)`,
			`x.yaml:5:32: steps[0].wait.node: selector "primary" is not allowed here (want any, @last or a node name n1..n3)`}},
		{"negative duration", "  - sleep: -5s\n", []string{"x.yaml:5:12: steps[0].sleep: duration must be positive, got -5s"}},
		{"huge duration", "  - sleep: 2h\n", []string{"x.yaml:5:12: steps[0].sleep: 2h is longer than 1h0m0s"}},
		{"bad duration", "  - sleep: soon\n", []string{`x.yaml:5:12: steps[0].sleep: "soon" is not a duration (want e.g. 10s or 500ms)`}},
		{"power both", "  - power: {off: n1, on: n2}\n", []string{"x.yaml:5:12: steps[0].power: want exactly one of off or on, such as {off: primary}"}},
		{"power on role", "  - power: {on: primary}\n",
			[]string{`x.yaml:5:17: steps[0].power.on: selector "primary" is not allowed here (want @last, all or a node name n1..n3)`}},
		{"power list repeats", "  - power: {off: [n1, n1]}\n  - power: {off: [all, n2]}\n  - power: {off: []}\n", []string{
			`x.yaml:5:23: steps[0].power.off[1]: "n1" is listed twice`,
			`x.yaml:6:19: steps[1].power.off[0]: "all" already means every node; list nothing else with it`,
			"x.yaml:7:18: steps[2].power.off: empty list: name at least one target"}},
		{"@last first", "  - expect: {rejoined: \"@last\"}\n",
			[]string{`x.yaml:5:24: steps[0].expect.rejoined: "@last" has nothing to refer to: no power, switch or fault step before this one targets a node`}},
		{"@last is etcd", "  - fault: {inject: etcd_outage}\n  - expect: {rejoined: \"@last\"}\n",
			[]string{`x.yaml:6:24: steps[1].expect.rejoined: "@last" refers to etcd here, not to a node`}},
		{"switch", "  - switch: {id: 4, on: off, window: 5ms}\n  - switch: {on: true}\n", []string{
			"x.yaml:5:18: steps[0].switch.id: 4 is out of range 1..3",
			`x.yaml:5:25: steps[0].switch.on: want true or false, got "off"`,
			"x.yaml:5:38: steps[0].switch.window: a window only makes sense with bounce: N",
			"x.yaml:6:13: steps[1].switch.id: missing: which switch (1..3; switch N powers node nN)"}},
		{"fault unknown kind", "  - fault: {inject: meteor, target: primary}\n",
			[]string{`x.yaml:5:21: steps[0].fault.inject: unknown fault kind "meteor" (want freeze, partition, etcd_outage, pg_crash, patroni_crash, disk_full, corrupt, replica_lag, power, cpu_starve)`}},
		{"fault params", "  - fault: {inject: freeze, target: primary, lag: 1MB, from: etcd}\n  - fault: {inject: pg_crash, target: n1, for: 5s}\n", []string{
			`x.yaml:5:46: steps[0].fault.lag: freeze takes no "lag" (it takes for)`,
			`x.yaml:5:56: steps[0].fault.from: freeze takes no "from" (it takes for)`,
			`x.yaml:6:43: steps[1].fault.for: pg_crash takes no "for" (it takes no parameters)`}},
		{"fault targets", "  - fault: {inject: freeze}\n  - fault: {inject: pg_crash, target: etcd}\n  - fault: {inject: etcd_outage, target: n1}\n  - fault: {inject: replica_lag, target: primary, lag: 1MB}\n  - fault: {inject: freeze, target: etcd}\n", []string{
			"x.yaml:5:12: steps[0].fault.target: missing: where freeze goes (want primary, replica, any, @last, etcd or a node name n1..n3)",
			`x.yaml:6:39: steps[1].fault.target: selector "etcd" is not allowed here (want primary, replica, any, @last or a node name n1..n3)`,
			`x.yaml:7:42: steps[2].fault.target: selector "n1" is not allowed here (want etcd)`,
			"x.yaml:8:42: steps[3].fault.target: replica_lag needs a replica, not the primary",
			"x.yaml:9:37: steps[4].fault.target: freeze of etcd needs cluster.external_etcd: true (the head node's embedded etcd cannot be cut alone; use etcd_outage)"}},
		{"cpu starve share", "  - fault: {inject: cpu_starve, target: n1, cpu_percent: 0, for: 5s}\n  - fault: {inject: cpu_starve, target: n2, cpu_percent: 101}\n  - fault: {inject: cpu_starve, target: n3, cpu_percent: 5%}\n  - fault: {inject: cpu_starve, target: etcd}\n  - fault: {inject: freeze, target: n1, cpu_percent: 5}\n  - fault: {recover: cpu_starve, cpu_percent: 5}\n  - fault: {inject: cpu_starve, target: n2, cpu_percent: .nan}\n  - fault: {inject: cpu_starve, target: n3, cpu_percent: 0.05}\n", []string{
			"x.yaml:5:58: steps[0].fault.cpu_percent: 0 is out of range 0.1..100",
			"x.yaml:6:58: steps[1].fault.cpu_percent: 101 is out of range 0.1..100",
			`x.yaml:7:58: steps[2].fault.cpu_percent: want a number, got "5%"`,
			`x.yaml:8:41: steps[3].fault.target: selector "etcd" is not allowed here (want primary, replica, any, @last or a node name n1..n3)`,
			`x.yaml:9:41: steps[4].fault.cpu_percent: freeze takes no "cpu_percent" (it takes for)`,
			`x.yaml:10:34: steps[5].fault.cpu_percent: recover takes only target; "cpu_percent" belongs on the inject step`,
			"x.yaml:11:58: steps[6].fault.cpu_percent: NaN is out of range 0.1..100",
			"x.yaml:12:58: steps[7].fault.cpu_percent: 0.05 is out of range 0.1..100"}},
		{"replica lag needs lag", "  - fault: {inject: replica_lag, target: replica}\n  - fault: {inject: replica_lag, target: n2, lag: 0}\n", []string{
			"x.yaml:5:12: steps[0].fault.lag: missing: how far behind the replica must fall, such as 16MB (maximum_lag_on_failover is 1MB)",
			"x.yaml:6:51: steps[1].fault.lag: must be more than 0 bytes"}},
		{"partition from", "  - fault: {inject: partition, target: n1, from: moon}\n",
			[]string{`x.yaml:5:50: steps[0].fault.from: unknown "moon" (want etcd, nodes or all)`}},
		{"inject and recover", "  - fault: {inject: freeze, recover: freeze}\n",
			[]string{"x.yaml:5:12: steps[0].fault: want exactly one of inject or recover, such as {inject: freeze, target: primary}"}},
		{"recover nothing", "  - fault: {recover: \"@last\"}\n  - fault: {inject: freeze, target: n1, for: 5s}\n  - fault: {recover: freeze}\n", []string{
			`x.yaml:5:22: steps[0].fault.recover: no fault is active to recover (active: none; faults with "for" recover by themselves)`,
			`x.yaml:7:22: steps[2].fault.recover: no freeze fault is active to recover (active: none; faults with "for" recover by themselves)`}},
		{"recover wrong target", "  - fault: {inject: freeze, target: n1}\n  - fault: {recover: freeze, target: n2}\n",
			[]string{`x.yaml:6:22: steps[1].fault.recover: no freeze fault on n2 is active to recover (active: freeze on n1 (line 5); faults with "for" recover by themselves)`}},
		{"recover twice", "  - fault: {inject: freeze, target: n1}\n  - fault: {recover: freeze}\n  - fault: {recover: freeze}\n",
			[]string{`x.yaml:7:22: steps[2].fault.recover: no freeze fault is active to recover (active: none; faults with "for" recover by themselves)`}},
		{"recover unrecoverable", "  - fault: {inject: pg_crash, target: n1}\n  - fault: {recover: pg_crash}\n  - fault: {recover: corrupt, lag: 1MB}\n", []string{
			"x.yaml:6:22: steps[1].fault.recover: pg_crash heals by itself; there is nothing to recover",
			"x.yaml:7:22: steps[2].fault.recover: corrupt is healed by the cluster re-initialising the node; expect {reinitialised: NODE} instead",
			`x.yaml:7:31: steps[2].fault.lag: recover takes only target; "lag" belongs on the inject step`}},
		{"fork", "  - fork: {from: primary, name: a}\n  - fork: {from: etcd, name: a}\n  - fork: {name: Bad}\n", []string{
			`x.yaml:6:18: steps[1].fork.from: selector "etcd" is not allowed here (want primary, replica, any, @last or a node name n1..n3)`,
			`x.yaml:6:30: steps[1].fork.name: fork "a" already made at line 5`,
			"x.yaml:7:11: steps[2].fork.from: missing: which node to fork (want primary, replica, any, @last or a node name n1..n3)",
			`x.yaml:7:18: steps[2].fork.name: "Bad": use lower-case letters, digits, '-' and '_', starting with a letter`}},
		{"expect nothing", "  - expect: {within: 5s}\n",
			[]string{"x.yaml:5:13: steps[0].expect: checks nothing (want at least one of failover, no_failover, lost_commits, split_brain, writes, primary, timeline_advanced, rejoined, reinitialised, postmortem, power_cuts)"}},
		{"expect failover first", "  - expect: {failover: {within: 10s}}\n",
			[]string{"x.yaml:5:14: steps[0].expect.failover: failover after what? no power, switch or fault step comes before this one"}},
		{"expect contradictions", "  - power: {off: primary}\n  - expect: {failover: {within: 10s}, no_failover: true, split_brain: true, lost_commits: -1}\n", []string{
			"x.yaml:6:39: steps[1].expect.no_failover: contradicts failover in the same step",
			"x.yaml:6:71: steps[1].expect.split_brain: only split_brain: false can be expected: two writable primaries is always a failure",
			"x.yaml:6:91: steps[1].expect.lost_commits: -1 is out of range 0..2147483647"}},
		{"expect misc", "  - power: {off: n1}\n  - expect: {failover: false, no_failover: false, rewound: true, primary: {is: primary}, writes: {available: false}}\n", []string{
			"x.yaml:6:24: steps[1].expect.failover: failover: false is spelled no_failover: true",
			"x.yaml:6:44: steps[1].expect.no_failover: no_failover: false checks nothing; expect failover instead",
			"x.yaml:6:51: steps[1].expect.rewound: needs rejoined: NODE in the same step",
			`x.yaml:6:80: steps[1].expect.primary.is: selector "primary" is not allowed here (want @last or a node name n1..n3)`,
			"x.yaml:6:110: steps[1].expect.writes.available: available: false is confusing; write the opposite word"}},
		{"within without state check", "  - expect: {lost_commits: 0, within: 5s}\n",
			[]string{"x.yaml:5:31: steps[0].expect.within: bounds primary, timeline_advanced, rejoined, reinitialised or postmortem, and this step has none (failover takes its own {within: ...})"}},
		{"replica in one node", "name: t\ndescription: d\ncluster: {nodes: 1}\nsteps: [{power: {off: replica}}]\n",
			[]string{`x.yaml:4:23: steps[0].power.off: selector "replica": a 1-node cluster has no replica`}},
		{"bad nodes does not cascade", "name: t\ndescription: d\ncluster: {nodes: zero}\nsteps: [{power: {off: n5}}]\n",
			[]string{`x.yaml:3:18: cluster.nodes: want a whole number, got "zero"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := tt.src
			if strings.HasPrefix(src, "  -") {
				src = header + src
			}
			sc, err := Parse("x.yaml", []byte(src))
			if err == nil {
				t.Fatalf("no error; parsed %+v", sc)
			}
			if sc != nil {
				t.Errorf("got a scenario with an error")
			}
			got := strings.Split(err.Error(), "\n")
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("errors:\n got: %s\nwant: %s", strings.Join(got, "\n      "), strings.Join(tt.want, "\n      "))
			}
			checkErrors(t, "x.yaml", err)
		})
	}
}

// checkErrors asserts the invariant every parse error keeps: it is an
// *Error, or a join of them, each with the file name and a line.
func checkErrors(t *testing.T, file string, err error) {
	t.Helper()
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	for _, e := range errs {
		var pe *Error
		if !errors.As(e, &pe) {
			t.Errorf("error %q (%T) is not a *Error", e, e)
			continue
		}
		if pe.File != file || pe.Line < 1 {
			t.Errorf("error %q has file %q line %d", e, pe.File, pe.Line)
		}
		if !strings.HasPrefix(pe.Error(), file+":") {
			t.Errorf("error %q does not start with %s:", pe, file)
		}
	}
}

func TestTooManyErrors(t *testing.T) {
	var b strings.Builder
	b.WriteString(header)
	for range 80 {
		b.WriteString("  - sleep: x\n")
	}
	_, err := Parse("x.yaml", []byte(b.String()))
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != maxErrors+1 {
		t.Fatalf("%d errors, want %d", len(lines), maxErrors+1)
	}
	if want := "x.yaml:55:12: more than 50 errors; stopping here"; lines[maxErrors] != want {
		t.Errorf("last error %q, want %q", lines[maxErrors], want)
	}
}

func TestFileTooLarge(t *testing.T) {
	data := []byte(header + strings.Repeat("#", MaxFileSize))
	_, err := Parse("big.yaml", data)
	if err == nil || !strings.HasPrefix(err.Error(), "big.yaml:1: file is larger than") {
		t.Errorf("err = %v", err)
	}
}

// wantHeader reads the "# error: ..." lines a bad testdata file starts with.
var wantHeader = regexp.MustCompile(`(?m)^# error: (.*)$`)

// TestBadFiles parses testdata/*.bad.yaml; each names its expected errors
// in "# error: " comment lines, in order.
func TestBadFiles(t *testing.T) {
	files, err := filepath.Glob("testdata/*.bad.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 5 {
		t.Fatalf("only %d bad files", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, m := range wantHeader.FindAllStringSubmatch(string(data), -1) {
				want = append(want, m[1])
			}
			if len(want) == 0 {
				t.Fatal("no # error: lines")
			}
			_, perr := Load(f)
			if perr == nil {
				t.Fatal("parsed without error")
			}
			if got := strings.Split(perr.Error(), "\n"); !reflect.DeepEqual(got, want) {
				t.Errorf("errors:\n got: %s\nwant: %s", strings.Join(got, "\n      "), strings.Join(want, "\n      "))
			}
			checkErrors(t, f, perr)
		})
	}
}

func TestParseBytes(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"16MB", 16 << 20, true}, {"512kB", 512 << 10, true}, {"1GB", 1 << 30, true}, {"100B", 100, true},
		{"1TB", 1 << 40, true}, {"2TB", 0, false}, {"16 MB", 16 << 20, true}, {"MB", 0, false},
		{"-1MB", 0, false}, {"1.5MB", 0, false}, {"16mb", 0, false}, {"99999999999999MB", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := parseBytes(tt.in)
			if got != tt.want || ok != tt.ok {
				t.Errorf("parseBytes(%q) = %d, %t; want %d, %t", tt.in, got, ok, tt.want, tt.ok)
			}
			if ok && got > 0 {
				back, _ := parseBytes(formatBytes(got))
				if back != got {
					t.Errorf("formatBytes(%d) = %q does not parse back", got, formatBytes(got))
				}
			}
		})
	}
}

func TestFaultKindsComplete(t *testing.T) {
	consts := []FaultKind{FaultFreeze, FaultPartition, FaultEtcdOutage, FaultPGCrash, FaultPatroniCrash,
		FaultDiskFull, FaultCorrupt, FaultReplicaLag, FaultPower, FaultCPUStarve}
	infos := FaultKinds()
	if len(infos) != len(consts) {
		t.Fatalf("FaultKinds has %d entries, %d constants", len(infos), len(consts))
	}
	for i, k := range consts {
		info := infos[i]
		if info.Kind != k {
			t.Errorf("FaultKinds()[%d] = %s, want %s", i, info.Kind, k)
		}
		if info.Summary == "" || !(info.NodeTarget || info.EtcdTarget) {
			t.Errorf("%s: needs a summary and a target", k)
		}
		if info.takes("for") != info.Recoverable {
			t.Errorf("%s: takes for = %t but recoverable = %t", k, info.takes("for"), info.Recoverable)
		}
	}
}

func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("library/*.yaml")
	more, _ := filepath.Glob("testdata/*.yaml")
	for _, s := range append(seeds, more...) {
		if data, err := os.ReadFile(s); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(header + "  - power: {off: [primary, \"@last\", all]}\n"))
	f.Add([]byte(header + "  - fault: {inject: cpu_starve, target: n1, cpu_percent: 101}\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sc, err := Parse("fuzz.yaml", data)
		if err != nil {
			if sc != nil {
				t.Fatal("scenario returned with an error")
			}
			checkErrors(t, "fuzz.yaml", err)
			return
		}
		if sc.Name == "" || sc.Description == "" || len(sc.Steps) == 0 {
			t.Fatalf("accepted an incomplete scenario: %+v", sc)
		}
		for _, st := range sc.Steps {
			if st.Line < 1 || st.String() == "(empty step)" {
				t.Fatalf("step without line or content: %+v", st)
			}
		}
	})
}
