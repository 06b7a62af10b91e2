package journal

import "time"

// Kind names what an Event records.
type Kind string

// The kinds of event the head node records. Analysis judges the history of
// these after the fact; nothing asserts in the middle of chaos.
const (
	// KindProbeAck is a compacted run of acknowledged probe commits served by
	// one node on one timeline: sequence numbers First..Last, acknowledged
	// between FirstAt and LastAt.
	KindProbeAck Kind = "probe.ack"
	// KindProbeError is a run of Count failed probe writes (one when Count
	// is zero) that failed alike: the same SQLState, Error and phase
	// (Detail: "connect" or "insert"). The first failed at At with probe
	// number Seqno (sent at SentAt), the last at LastAt with number Last;
	// LastAt and Last are empty for a single failure. The probe journals
	// the first failure of a run at once, on its own, and its repeats as
	// later events of the same kind (see ErrorCount).
	KindProbeError Kind = "probe.error"
	// KindProbeReadback is the result of reading the probe table back from
	// the current primary: Missing lists acknowledged sequence numbers that
	// are not there, Last the highest acknowledged number checked.
	KindProbeReadback Kind = "probe.readback"
	// KindPower is a power change of Node (On) with its Source.
	KindPower Kind = "power"
	// KindFaultInject and KindFaultRecover bracket a fault (Detail names the
	// fault kind, ID its id) on Node.
	KindFaultInject  Kind = "fault.inject"
	KindFaultRecover Kind = "fault.recover"
	// KindRole is a Patroni role or state change of Node (Role, State, Timeline).
	KindRole Kind = "role"
	// KindLeader is a change of the leader key: Node holds it, or Node is
	// empty when the key expired or was deleted. When Node holds it, ID is
	// the key's etcd lease in hex (as etcdctl prints it) and Detail is
	// LeaderCreated or LeaderOverwritten.
	KindLeader Kind = "leader"
	// KindHAProxy is a backend server going up (On true) or down for
	// listener Detail ("primary" or "replica").
	KindHAProxy Kind = "haproxy"
	// KindAgent is an agent appearing (On true) or vanishing.
	KindAgent Kind = "agent"
	// KindSwitch is a switch of the Failure Injection Unit changing position.
	KindSwitch Kind = "switch"
	// KindNode is a node-reported event such as "reinitialised" or "rewound" (Detail).
	KindNode Kind = "node"
	// KindMark is a free-form marker (scenario step, head node start).
	KindMark Kind = "mark"
	// KindPatroniLog holds Node's Patroni output around outage ID (as
	// the analysis numbers outages: "outage-3"), fetched from the node's
	// agent once the outage closed: Lines, with the agent's timestamps;
	// FirstAt is the outage's start, which tells it from an outage of the
	// same number before a history reset.
	// It is journaled so that an outage's log survives a restart of the
	// head node, when the agent's ring may have moved on; At is when it
	// was fetched, not when the lines were written.
	KindPatroniLog Kind = "patroni.log"
)

// SourceEtcdWatch is the source of the KindMark events the head node
// journals when its watch of etcd fails and when it works again: the
// consensus store as the head node sees it.
const SourceEtcdWatch = "etcd-watch"

// LogLine is one line of a node's log with the time it was read.
type LogLine struct {
	At   time.Time `json:"at"`
	Text string    `json:"text"`
}

// Details of a KindLeader event whose Node holds the key: whether the write
// created the key or replaced one that still existed. Patroni takes a free
// key with a create-only transaction; a write over a live key is a member
// taking the key from its holder (the etcd3 steal-back of Patroni < 3.0.3).
const (
	LeaderCreated     = "created"
	LeaderOverwritten = "overwritten"
)

// SourcePowerOn is the source of the KindFaultRecover event of a node a
// recovery had left pending, healed after its power returned.
const SourcePowerOn = "power-on"

// KindWritable is Node's PostgreSQL accepting writes, seen by the head
// node polling pg_is_in_recovery() on it directly (headnode/writable),
// apart from Patroni. At and SentAt are the send time of the first poll
// that saw it out of recovery, LastAt when that answer arrived; FirstAt
// is the send time of the poll before (in recovery, or a failed attempt),
// so the switch happened between FirstAt and LastAt. Detail says what the
// node was before: in recovery, or unknown after a reconnect.
const KindWritable Kind = "writable"

// Event is one record of the journal. Fields that a kind does not use stay
// empty and are omitted from the JSON line.
type Event struct {
	// Seq is assigned by the journal on append: 1, 2, 3...
	Seq uint64 `json:"seq"`
	// At is when it happened: a wall-clock time derived from one monotonic
	// base, so differences between events are immune to clock steps.
	At   time.Time `json:"at"`
	Kind Kind      `json:"kind"`

	Node     string `json:"node,omitempty"`
	Source   string `json:"source,omitempty"`
	On       *bool  `json:"on,omitempty"`
	Role     string `json:"role,omitempty"`
	State    string `json:"state,omitempty"`
	Timeline int    `json:"timeline,omitempty"`
	ID       string `json:"id,omitempty"`
	Detail   string `json:"detail,omitempty"`
	// Pending lists the nodes a fault's recovery left to heal when their
	// power returns (KindFaultRecover); each is healed later by an event
	// of its own with Source SourcePowerOn.
	Pending []string `json:"pending,omitempty"`

	// Lines are log lines (KindPatroniLog).
	Lines []LogLine `json:"lines,omitempty"`

	// Probe fields. First..Last and FirstAt..LastAt bound an ack range;
	// for a probe error Last and LastAt are its last failure.
	First   uint64    `json:"first,omitempty"`
	Last    uint64    `json:"last,omitempty"`
	FirstAt time.Time `json:"first_at,omitzero"`
	LastAt  time.Time `json:"last_at,omitzero"`
	// SentAt is when the probe sent the statement: of the first commit of
	// an ack range, or of the failed write.
	SentAt   time.Time `json:"sent_at,omitzero"`
	Seqno    uint64    `json:"seqno,omitempty"`
	SQLState string    `json:"sqlstate,omitempty"`
	Error    string    `json:"error,omitempty"`
	Missing  []uint64  `json:"missing,omitempty"`
	// Count is how many failed probe writes a KindProbeError event stands
	// for; zero (omitted) means one, as in journals written before the
	// probe compacted its errors.
	Count int `json:"count,omitempty"`
}

// ErrorCount is how many failed probe writes e stands for: Count, at least
// one, for a KindProbeError event and zero for any other kind. Count the
// probe's errors with it, never by counting events.
func (e Event) ErrorCount() int {
	if e.Kind != KindProbeError {
		return 0
	}
	return max(e.Count, 1)
}

// ErrorEnd is when the last failure of a KindProbeError event happened:
// LastAt, or At when LastAt is unset or (in a damaged journal) earlier.
func (e Event) ErrorEnd() time.Time {
	if e.LastAt.After(e.At) {
		return e.LastAt
	}
	return e.At
}

// Bool returns a pointer to b, for Event.On.
func Bool(b bool) *bool { return &b }
