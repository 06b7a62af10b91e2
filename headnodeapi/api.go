// Package headnodeapi holds the head node's wire types: what its HTTP API
// answers and accepts. Clients (scenario runs, faults, forks, tests) import
// it instead of the server.
package headnodeapi

import (
	"time"

	"github.com/redswitch/redswitch/cluster"
)

// NodeState is what the head node knows of one node.
type NodeState struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	// Power is "on" or "off".
	Power string `json:"power"`
	// Agent is true while the node's agent keeps its etcd key alive.
	Agent bool `json:"agent"`
	// Role is the role in redswitch's words; PatroniRole and State are
	// Patroni's own.
	Role        cluster.Role `json:"role"`
	PatroniRole string       `json:"patroni_role,omitempty"`
	State       string       `json:"state,omitempty"`
	Timeline    int          `json:"timeline,omitempty"`
	// Sync is true for a replica that Patroni's /sync key names as a
	// synchronous standby: the primary's commits wait for its flush.
	Sync bool `json:"sync,omitempty"`
	// LagBytes is how far the node's WAL position is behind the leader's.
	LagBytes *int64 `json:"lag_bytes,omitempty"`
	// Routed lists HAProxy listeners currently routing to the node.
	Routed []string `json:"routed,omitempty"`
	// Tags are the node's Patroni tags.
	Tags map[string]any `json:"tags,omitempty"`
	// PatroniVersion as the member reports it.
	PatroniVersion string `json:"patroni_version,omitempty"`
}

// EffectiveTimings are the values Patroni runs with, read back from the
// cluster rather than assumed from the requested profile.
type EffectiveTimings struct {
	Requested cluster.Timings `json:"requested"`
	// TTL, LoopWait and RetryTimeout are from Patroni's configuration key,
	// corrected for the clamping of the running Patroni version.
	TTL          int `json:"ttl"`
	LoopWait     int `json:"loop_wait"`
	RetryTimeout int `json:"retry_timeout"`
	// LeaseTTL is the granted TTL of the leader key's lease in etcd: the
	// lease Patroni really takes.
	LeaseTTL       int64  `json:"lease_ttl,omitempty"`
	PatroniVersion string `json:"patroni_version,omitempty"`
	// Mismatch explains when the effective values differ from the requested
	// profile, e.g. a Patroni 3.2+ that raised ttl to 20 s.
	Mismatch string `json:"mismatch,omitempty"`
}

// State is the answer of GET /api/v1/state.
type State struct {
	Scope   string           `json:"scope"`
	Leader  string           `json:"leader"`
	Nodes   []NodeState      `json:"nodes"`
	Timings EffectiveTimings `json:"timings"`
	// Etcd lists the consensus store's client endpoints.
	Etcd []string `json:"etcd"`
	// DSN is the primary's connection string through HAProxy and
	// ReplicaDSN the replicas'. They carry no password, since the state
	// is public: a client brings its own (PGPASSWORD, ~/.pgpass).
	DSN        string    `json:"dsn"`
	ReplicaDSN string    `json:"replica_dsn"`
	UpdatedAt  time.Time `json:"updated_at"`
	// JournalError is set once a write or fsync of the journal failed
	// ("journal failed: ..."): nothing more is recorded until the head
	// node restarts.
	JournalError string `json:"journal_error,omitempty"`
}

// Failover is one failover as GET /api/v1/failovers reports it.
type Failover struct {
	ID          string    `json:"id"`
	StartedAt   time.Time `json:"started_at"`
	DurationS   float64   `json:"duration_s"`
	LostCommits int       `json:"lost_commits"`
	Lost        []uint64  `json:"lost,omitempty"`
	OldPrimary  string    `json:"old_primary"`
	NewPrimary  string    `json:"new_primary"`
	OldTimeline int       `json:"old_timeline,omitempty"`
	NewTimeline int       `json:"new_timeline,omitempty"`
	Cause       string    `json:"cause"`
	// Phases are in time order; `writable` is the new primary's
	// PostgreSQL leaving recovery, seen directly, and `promoted` Patroni
	// publishing its role, usually after first_commit.
	Phases []Phase `json:"phases"`
	// RigShareS is first_commit − writable: what the rig (HAProxy, the
	// probe) adds once the new primary takes writes; absent without a
	// writable phase.
	RigShareS *float64 `json:"rig_share_s,omitempty"`
}

// FailoverPage is the answer of GET /api/v1/failovers: every failover
// since the last history reset, oldest first, or with ?limit=N the N
// before ?before=ID (the newest N without it).
type FailoverPage struct {
	Failovers []Failover `json:"failovers"`
	// Total is how many failovers there are in all.
	Total int `json:"total"`
	// NextBefore is the before of the page of older failovers, empty
	// when this page reaches the first.
	NextBefore string `json:"next_before,omitempty"`
}

// Outage is one outage as GET /api/v1/outages reports it: a gap in the
// probe's acknowledged commits longer than the analysis's threshold,
// failover or not, with its cause and the evidence it was read from.
type Outage struct {
	ID        string    `json:"id"`
	StartedAt time.Time `json:"started_at"`
	EndedAt   time.Time `json:"ended_at"`
	DurationS float64   `json:"duration_s"`
	// Errors counts the probe's failed writes in the gap.
	Errors int `json:"errors"`
	// From served the commits before the gap, To after it; Failover is
	// set when they differ.
	From         string `json:"from"`
	To           string `json:"to"`
	FromTimeline int    `json:"from_timeline,omitempty"`
	ToTimeline   int    `json:"to_timeline,omitempty"`
	Failover     bool   `json:"failover"`
	// FailoverID is the entry of GET /api/v1/failovers this outage is,
	// if it is one.
	FailoverID string `json:"failover_id,omitempty"`
	// Cause says it in words; CauseKind is one of power, fault, etcd,
	// crash, switchover, self_demotion, unknown.
	Cause     string `json:"cause"`
	CauseKind string `json:"cause_kind"`
	// Evidence are the journal's events around the gap, in time order.
	Evidence []Evidence `json:"evidence"`
	// EvidenceOmitted counts evidence left out beyond the bound.
	EvidenceOmitted int `json:"evidence_omitted,omitempty"`
	// PatroniLog is the Patroni output of the nodes involved around the
	// gap, fetched from their agents once the outage closed; empty until
	// then, or when no agent answered.
	PatroniLog []NodeLog `json:"patroni_log,omitempty"`
}

// Evidence is a journal event shown as evidence for an outage.
type Evidence struct {
	At time.Time `json:"at"`
	// OffsetS is seconds from the start of the outage (negative before).
	OffsetS float64 `json:"offset_s"`
	Kind    string  `json:"kind"`
	Node    string  `json:"node,omitempty"`
	Detail  string  `json:"detail,omitempty"`
	// Cause marks the events the cause was read from.
	Cause bool `json:"cause,omitempty"`
}

// NodeLog is a node's Patroni output around an outage.
type NodeLog struct {
	Node  string    `json:"node"`
	Lines []LogLine `json:"lines"`
}

// LogLine is one line of a node's output, with when its agent read it.
type LogLine struct {
	At   time.Time `json:"at"`
	Text string    `json:"text"`
}

// OutagePage is the answer of GET /api/v1/outages: the outages the head
// node keeps (the latest MaxKeptOutages since the last history reset),
// oldest first, or with ?limit=N the N before ?before=ID (the newest N
// without it).
type OutagePage struct {
	Outages []Outage `json:"outages"`
	// Total is how many outages there were since the last history reset,
	// kept or not.
	Total int `json:"total"`
	// NextBefore is the before of the page of older outages, empty when
	// this page reaches the oldest kept.
	NextBefore string `json:"next_before,omitempty"`
}

// MaxKeptOutages is how many of the latest outages the head node keeps
// in full: it runs for days, and each carries its evidence and logs.
const MaxKeptOutages = 100

// Phase is a phase's offset in seconds from the start of the failover.
type Phase struct {
	Name    string  `json:"name"`
	OffsetS float64 `json:"offset_s"`
}

// Switch is one switch as GET /api/v1/switches lists it.
type Switch struct {
	ID   int    `json:"id"`
	Node string `json:"node"`
	On   bool   `json:"on"`
	// Known is false until the switch's level has been stable for one
	// debounce window.
	Known bool `json:"known"`
}

// PowerRequest is the body of POST /api/v1/nodes/{name}/power.
type PowerRequest struct {
	On *bool `json:"on"`
}

// SwitchRequest is the body of POST /api/v1/switches/{id}.
type SwitchRequest struct {
	On *bool `json:"on"`
}
