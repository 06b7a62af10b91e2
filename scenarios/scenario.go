package scenarios

import (
	"fmt"
	"strings"
	"time"

	"github.com/redswitch/redswitch/cluster"
)

// Scenario is one parsed and validated chaos script.
type Scenario struct {
	// Name identifies the scenario in reports; by convention it is the
	// file name without ".yaml".
	Name string
	// Description says what a Patroni user learns from the scenario.
	Description string
	// File is the name the scenario was parsed from, for reports.
	File    string
	Cluster ClusterSpec
	Steps   []Step
}

// Default values of a cluster section that leaves them out.
const (
	DefaultNodes                = 3
	DefaultTimings              = "aggressive"
	DefaultProbeInterval        = 10 * time.Millisecond
	DefaultMaximumLagOnFailover = 1 << 20 // Patroni's own default, 1 MiB
	// MaxNodes bounds a cluster so n1..n9 stay one character wide and the
	// booth's switch panel can show every node.
	MaxNodes = 9
)

// ClusterSpec is the shape of the cluster a scenario runs against.
type ClusterSpec struct {
	// Nodes is the number of database nodes, named n1..nN.
	Nodes   int
	Timings cluster.Timings
	// SynchronousMode and SynchronousModeStrict are Patroni's settings of
	// the same names; strict requires synchronous mode.
	SynchronousMode       bool
	SynchronousModeStrict bool
	// FailsafeMode lets a primary that can still reach every member keep
	// accepting writes while etcd is unreachable.
	FailsafeMode bool
	// PostmortemForks has the agents fork a crashed primary before it
	// rejoins (expect postmortem reads the fork).
	PostmortemForks bool
	// MaximumLagOnFailover is in bytes: a replica further behind than this
	// is not promoted.
	MaximumLagOnFailover int64
	// Tags holds per-node Patroni tags, keyed by node name.
	Tags map[string]NodeTags
	// ProbeInterval is how often the commit probe writes a numbered row.
	ProbeInterval time.Duration
	// ExternalEtcd asks for the consensus store to run apart from the
	// database nodes, so cutting nodes cannot take etcd's quorum with them.
	ExternalEtcd bool
}

// NodeTags are the Patroni member tags a scenario may set on a node.
type NodeTags struct {
	// NoFailover keeps the node from ever being promoted.
	NoFailover bool
	// NoLoadBalance takes the node out of the replica read pool.
	NoLoadBalance bool
}

// NodeNames returns n1..nN for the spec's node count.
func (c ClusterSpec) NodeNames() []string {
	names := make([]string, c.Nodes)
	for i := range names {
		names[i] = NodeName(i + 1)
	}
	return names
}

// PatroniTags returns the tags of one node in the form
// cluster.PatroniOptions.Tags wants; nil when the node has none.
func (c ClusterSpec) PatroniTags(node string) map[string]bool {
	t, ok := c.Tags[node]
	if !ok {
		return nil
	}
	return map[string]bool{"nofailover": t.NoFailover, "noloadbalance": t.NoLoadBalance}
}

// NodeName is the name of the i-th node (1-based): "n1", "n2", ...
func NodeName(i int) string { return fmt.Sprintf("n%d", i) }

// StepKind names what a step does.
type StepKind string

// The kinds of step, in the order the documentation introduces them.
const (
	StepWait   StepKind = "wait"
	StepPower  StepKind = "power"
	StepSwitch StepKind = "switch"
	StepFault  StepKind = "fault"
	StepFork   StepKind = "fork"
	StepSleep  StepKind = "sleep"
	StepExpect StepKind = "expect"
)

// stepKinds lists every step kind for error messages and dispatch.
func stepKinds() []StepKind {
	return []StepKind{StepWait, StepPower, StepSwitch, StepFault, StepFork, StepSleep, StepExpect}
}

// Step is one line of a scenario. Exactly one of the typed fields is set,
// matching Kind.
type Step struct {
	// Kind says which field is set.
	Kind StepKind
	// Line and Column locate the step in its file, for reports.
	Line, Column int

	Wait   *WaitStep
	Power  *PowerStep
	Switch *SwitchStep
	Fault  *FaultStep
	Fork   *ForkStep
	Sleep  *SleepStep
	Expect *ExpectStep
}

// String renders the step as one line for reports, e.g.
// "power off primary" or "expect failover within 10s, lost_commits <= 0".
func (s Step) String() string {
	switch {
	case s.Wait != nil:
		return "wait " + s.Wait.String()
	case s.Power != nil:
		return "power " + s.Power.String()
	case s.Switch != nil:
		return "switch " + s.Switch.String()
	case s.Fault != nil:
		return "fault " + s.Fault.String()
	case s.Fork != nil:
		return "fork " + s.Fork.String()
	case s.Sleep != nil:
		return "sleep " + s.Sleep.Duration.String()
	case s.Expect != nil:
		return "expect " + s.Expect.String()
	}
	return "(empty step)"
}

// WaitFor names what a wait step waits for.
type WaitFor string

// The things a wait step can wait for.
const (
	// WaitHealthy: every node is up, exactly one is primary, the others are
	// replicas, and the probe commits through HAProxy.
	WaitHealthy WaitFor = "healthy"
	// WaitStreaming: healthy, and every replica streams from the primary.
	WaitStreaming WaitFor = "streaming"
	// WaitDuration: a fixed pause, like sleep.
	WaitDuration WaitFor = "duration"
	// WaitRole: the node selected by Node has Role.
	WaitRole WaitFor = "role"
)

// WaitStep waits for a cluster condition, a node's role, or a duration.
type WaitStep struct {
	For WaitFor
	// Duration is set for WaitDuration.
	Duration time.Duration
	// Role (primary or replica) and Node are set for WaitRole; Node is
	// "any" unless the script names one.
	Role cluster.Role
	Node Selector
	// Within bounds how long the runner waits; zero means the runner's
	// default for the cluster's timings.
	Within time.Duration
}

// String renders the wait step's argument.
func (w WaitStep) String() string {
	var s string
	switch w.For {
	case WaitDuration:
		return w.Duration.String()
	case WaitRole:
		if w.Node.Kind == SelectAny {
			s = fmt.Sprintf("until a node is %s", w.Role)
		} else {
			s = fmt.Sprintf("until %s is %s", w.Node, w.Role)
		}
	default:
		s = string(w.For)
	}
	if w.Within > 0 {
		s += " within " + w.Within.String()
	}
	return s
}

// PowerStep switches one or more nodes off or on at the same instant: a
// simultaneous cut is what a real power failure looks like.
type PowerStep struct {
	On      bool
	Targets []Selector
}

// String renders the power step's argument.
func (p PowerStep) String() string {
	return onOff(p.On) + " " + joinSelectors(p.Targets)
}

// SwitchStep flips a switch of the Failure Injection Unit through its
// virtual backend, so the whole path from debounce to power driver runs.
type SwitchStep struct {
	// ID is the switch number; switch N powers node nN.
	ID int
	// On is the final position.
	On bool
	// Bounce is how many extra back-and-forth flips to make within Window
	// before settling, as a worn toggle switch does; a sound debounce turns
	// them into exactly one change.
	Bounce int
	// Window is the span the bounces are spread over.
	Window time.Duration
}

// DefaultBounceWindow is the bounce window when a switch step sets bounce
// but no window: real toggle switches bounce for under 10 ms.
const DefaultBounceWindow = 10 * time.Millisecond

// String renders the switch step's argument.
func (s SwitchStep) String() string {
	out := fmt.Sprintf("%d %s", s.ID, onOff(s.On))
	if s.Bounce > 0 {
		out += fmt.Sprintf(" (bounce %d within %s)", s.Bounce, s.Window)
	}
	return out
}

// FaultStep injects a fault or recovers one injected earlier.
type FaultStep struct {
	// Inject is true for inject, false for recover.
	Inject bool
	Kind   FaultKind
	// Target is where an injected fault goes. A recover step leaves it
	// zero: it acts where the fault was injected (see Injected).
	Target Selector
	// Injected is, for a recover step, the line of the inject step whose
	// fault it ends, so the runner finds the node the fault really hit.
	Injected int
	// From is, for a partition, what the target is cut off from.
	From PartitionFrom
	// Lag is, for replica_lag, how many bytes of WAL the replica must
	// trail by before the step is done.
	Lag int64
	// Pause is, for replica_lag, true to pause WAL replay (the replica
	// still receives WAL) instead of holding back the WAL stream.
	Pause bool
	// CPUPercent is, for cpu_starve, the node's share of one CPU, 0.1 to
	// 100 (the parser fills in faults.DefaultCPUPercent).
	CPUPercent float64
	// For, when set, recovers the fault by itself after this long.
	For time.Duration
}

// String renders the fault step's argument.
func (f FaultStep) String() string {
	if !f.Inject {
		return fmt.Sprintf("recover %s (injected at line %d)", f.Kind, f.Injected)
	}
	s := fmt.Sprintf("inject %s on %s", f.Kind, f.Target)
	if f.From != "" {
		s += " from " + string(f.From)
	}
	if f.Lag > 0 {
		s += " lag " + formatBytes(f.Lag)
	}
	if f.Pause {
		s += " (replay paused)"
	}
	if f.CPUPercent > 0 {
		s += fmt.Sprintf(" to %g%% of a CPU", f.CPUPercent)
	}
	if f.For > 0 {
		s += " for " + f.For.String()
	}
	return s
}

// PartitionFrom names what a partitioned node is cut off from.
type PartitionFrom string

// What a partition can cut a node off from.
const (
	FromEtcd  PartitionFrom = "etcd"
	FromNodes PartitionFrom = "nodes"
	FromAll   PartitionFrom = "all"
)

// ForkStep takes a copy-on-write fork of a node's database.
type ForkStep struct {
	From Selector
	Name string
}

// String renders the fork step's argument.
func (f ForkStep) String() string { return fmt.Sprintf("%s as %s", f.From, f.Name) }

// SleepStep pauses the script while the probe keeps writing.
type SleepStep struct {
	Duration time.Duration
}

// ExpectStep is a set of checks judged over the recorded history. Unset
// fields are not checked.
type ExpectStep struct {
	// Failover: a new primary took writes after the latest disruptive step.
	Failover *FailoverExpect
	// NoFailover: the primary did not change.
	NoFailover bool
	// LostCommits is the most acknowledged commits allowed to be missing.
	LostCommits *int
	// SplitBrain, when set, is false: never two nodes accepting writes.
	SplitBrain *bool
	// Writes checks whether the probe's writes succeed.
	Writes *WritesExpect
	// Primary checks who the primary is.
	Primary *PrimaryExpect
	// TimelineAdvanced checks whether the primary's timeline moved on.
	TimelineAdvanced *bool
	// Rejoined names node(s) that must be streaming replicas again;
	// Rewound, when set, says whether pg_rewind had to run for that.
	Rejoined *Selector
	Rewound  *bool
	// Reinitialised names a node that must have been rebuilt from a
	// fresh base backup.
	Reinitialised *Selector
	// Postmortem names a node whose post-mortem fork must exist and hold
	// every commit the node acknowledged as primary.
	Postmortem *Selector
	// PowerCuts is how many times a node lost power since the scenario
	// began: a bouncing switch must still cut only once.
	PowerCuts *int
	// Within bounds how long the state checks (Primary, TimelineAdvanced,
	// Rejoined, Reinitialised) may take to come true; zero means the
	// runner's default.
	Within time.Duration
}

// FailoverExpect bounds the failover time: from the disruption to the
// first commit acknowledged by a new primary.
type FailoverExpect struct {
	// Within is the bound; zero means the runner's default.
	Within time.Duration
}

// WritesExpect says whether the probe's writes go through.
type WritesExpect struct {
	Available bool
	// During is how long the runner watches from the moment the expect
	// step starts; zero means "at this moment".
	During time.Duration
}

// PrimaryExpect checks the primary's identity: set exactly one.
type PrimaryExpect struct {
	Is    *Selector
	IsNot *Selector
}

// String renders the expectations in the order they are checked.
func (e ExpectStep) String() string {
	var parts []string
	if e.Failover != nil {
		s := "failover"
		if e.Failover.Within > 0 {
			s += " within " + e.Failover.Within.String()
		}
		parts = append(parts, s)
	}
	if e.NoFailover {
		parts = append(parts, "no failover")
	}
	if e.LostCommits != nil {
		parts = append(parts, fmt.Sprintf("lost_commits <= %d", *e.LostCommits))
	}
	if e.SplitBrain != nil {
		parts = append(parts, fmt.Sprintf("split_brain %t", *e.SplitBrain))
	}
	if e.Writes != nil {
		s := "writes unavailable"
		if e.Writes.Available {
			s = "writes available"
		}
		if e.Writes.During > 0 {
			s += " during " + e.Writes.During.String()
		}
		parts = append(parts, s)
	}
	if e.Primary != nil {
		if e.Primary.Is != nil {
			parts = append(parts, "primary is "+e.Primary.Is.String())
		}
		if e.Primary.IsNot != nil {
			parts = append(parts, "primary is not "+e.Primary.IsNot.String())
		}
	}
	if e.TimelineAdvanced != nil {
		parts = append(parts, fmt.Sprintf("timeline_advanced %t", *e.TimelineAdvanced))
	}
	if e.Rejoined != nil {
		s := e.Rejoined.String() + " rejoined"
		if e.Rewound != nil {
			if *e.Rewound {
				s += " (rewound)"
			} else {
				s += " (not rewound)"
			}
		}
		parts = append(parts, s)
	}
	if e.Reinitialised != nil {
		parts = append(parts, e.Reinitialised.String()+" reinitialised")
	}
	if e.Postmortem != nil {
		parts = append(parts, "post-mortem fork of "+e.Postmortem.String())
	}
	if e.PowerCuts != nil {
		parts = append(parts, fmt.Sprintf("power_cuts = %d", *e.PowerCuts))
	}
	s := strings.Join(parts, ", ")
	if e.Within > 0 {
		s += " within " + e.Within.String()
	}
	return s
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}

func joinSelectors(sels []Selector) string {
	out := make([]string, len(sels))
	for i, s := range sels {
		out[i] = s.String()
	}
	return strings.Join(out, ", ")
}
