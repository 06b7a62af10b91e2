// Package dashboard shows the booth to its visitors and its operator: a hub
// that fans screen state out to websocket viewers (dropping slow ones), the
// websocket handler, the embedded page, and the pure translation of journal
// events into plain words.
//
// The page is read-only over the websocket. Everything an operator does goes
// through the head node's HTTP API with a bearer token, never through here.
package dashboard

import (
	"time"

	"github.com/redswitch/redswitch/cluster"
)

// View is the whole screen state. The head node builds it and hands it to
// Hub.SetView whenever something visible changes.
type View struct {
	Cluster Cluster `json:"cluster"`
	Nodes   []Node  `json:"nodes"`
	Probe   Probe   `json:"probe"`
	// Failovers are the latest failovers (at most ShownFailovers), oldest
	// first; Summary aggregates all of them, so a frame stays small on
	// the third day of a booth.
	Failovers []Failover      `json:"failovers"`
	Summary   FailoverSummary `json:"summary"`
	// Outages are the latest outages the probe saw (at most
	// ShownOutages), failover or not, oldest first, each with its cause.
	Outages   []Outage  `json:"outages"`
	Reference Reference `json:"reference"`
	// JournalError is set once the head node's journal failed: the page
	// shows it in a banner, since nothing is recorded any more.
	JournalError string `json:"journal_error,omitempty"`
}

// Cluster names the Patroni cluster, its leader and its timings.
type Cluster struct {
	Scope   string  `json:"scope"`
	Leader  string  `json:"leader"`
	Timings Timings `json:"timings"`
}

// Timings are the requested Patroni timings next to the ones it really runs
// with, so the screen can say when a newer Patroni clamped the demo's ttl.
type Timings struct {
	Name                  string `json:"name"`
	TTL                   int    `json:"ttl"`
	LoopWait              int    `json:"loop_wait"`
	RetryTimeout          int    `json:"retry_timeout"`
	EffectiveTTL          int    `json:"effective_ttl"`
	EffectiveRetryTimeout int    `json:"effective_retry_timeout"`
	PatroniVersion        string `json:"patroni_version"`
}

// Node is one node card.
type Node struct {
	Name string `json:"name"`
	// Power is "on" or "off".
	Power string `json:"power"`
	// Agent is true while the node's agent is alive.
	Agent bool         `json:"agent"`
	Role  cluster.Role `json:"role"`
	// State is Patroni's own state string, shown small under the role.
	State    string `json:"state"`
	Timeline int    `json:"timeline"`
	// Sync marks a synchronous standby: the primary's commits wait for it.
	Sync bool `json:"sync"`
	// LagBytes is null when unknown (node down, no leader).
	LagBytes *int64 `json:"lag_bytes"`
	// Switch is the red switch wired to the node, null when it has none.
	Switch *Switch `json:"switch"`
}

// Switch is a switch of the Failure Injection Unit in its real position.
type Switch struct {
	ID int  `json:"id"`
	On bool `json:"on"`
}

// Probe is the commit probe's running summary.
type Probe struct {
	// Rate is acknowledged commits per second, recently.
	Rate    float64   `json:"rate"`
	LastAck time.Time `json:"last_ack,omitzero"`
	// OutageInProgress is true while writes fail; OutageSince is when the
	// last acknowledged commit before the outage was made, so the page can
	// count the outage up without another message.
	OutageInProgress bool      `json:"outage_in_progress"`
	OutageSince      time.Time `json:"outage_since,omitzero"`
	Acks             uint64    `json:"acks"`
	Errors           uint64    `json:"errors"`
}

// Failover is one measured failover, as the analysis judged it.
type Failover struct {
	ID        string    `json:"id"`
	StartedAt time.Time `json:"started_at"`
	// DurationS is seconds from the cut to the first acknowledged commit on
	// the new primary.
	DurationS   float64 `json:"duration_s"`
	LostCommits int     `json:"lost_commits"`
	OldPrimary  string  `json:"old_primary"`
	NewPrimary  string  `json:"new_primary"`
	Cause       string  `json:"cause"`
	// Phases are in time order up to the first commit; each OffsetS is
	// when the phase ended, in seconds after StartedAt. The page draws
	// segments between consecutive offsets.
	Phases []Phase `json:"phases"`
	// RolePublishedS is when Patroni published the new primary's role
	// (the `promoted` phase), shown apart from the bar: it usually comes
	// after the first commit and delays nothing.
	RolePublishedS *float64 `json:"role_published_s,omitempty"`
	// RigShareS is first commit − writable: what the rig adds once the new
	// primary's PostgreSQL takes writes.
	RigShareS *float64 `json:"rig_share_s,omitempty"`
}

// Outage is a gap in the probe's commits and its cause. Only an outage of
// unknown cause carries its evidence: the screen shows what is known
// instead of a guess.
type Outage struct {
	ID        string    `json:"id"`
	StartedAt time.Time `json:"started_at"`
	DurationS float64   `json:"duration_s"`
	From      string    `json:"from"`
	To        string    `json:"to"`
	Failover  bool      `json:"failover"`
	Cause     string    `json:"cause"`
	// CauseKind is the analysis's class: power, fault, etcd, crash,
	// switchover, self_demotion or unknown.
	CauseKind string `json:"cause_kind"`
	// Evidence are lines in words, "+4.79 s leader: key expired", at
	// most ShownEvidence, then the node's Patroni log lines.
	Evidence []string `json:"evidence,omitempty"`
}

// ShownOutages is how many of the latest outages a View carries.
const ShownOutages = 10

// ShownEvidence bounds the evidence lines of one outage on the screen.
const ShownEvidence = 24

// ShownFailovers is how many of the latest failovers a View carries in
// full.
const ShownFailovers = 20

// FailoverSummary aggregates every failover since the last history reset.
type FailoverSummary struct {
	Count int `json:"count"`
	// WithLoss failovers lost LostCommits acknowledged commits between
	// them; LostCommits also counts losses no failover explains.
	WithLoss    int `json:"with_loss"`
	LostCommits int `json:"lost_commits"`
	// Durations in seconds; percentiles by nearest rank.
	MinS  float64 `json:"min_s"`
	MeanS float64 `json:"mean_s"`
	P50S  float64 `json:"p50_s"`
	P90S  float64 `json:"p90_s"`
	P99S  float64 `json:"p99_s"`
	MaxS  float64 `json:"max_s"`
	// Buckets count failovers by whole seconds of duration, the empty
	// ones left out, longer ones in the last (BucketCap).
	Buckets []Bucket `json:"buckets,omitempty"`
}

// BucketCap is the last histogram bucket: it holds every failover that
// took this many seconds or more.
const BucketCap = 120

// Bucket is one bar of the failover histogram.
type Bucket struct {
	// S is the bucket's start: failovers of S to S+1 seconds.
	S int `json:"s"`
	N int `json:"n"`
	// Lost is how many of them lost commits.
	Lost int `json:"lost,omitempty"`
}

// Phase is one step of a failover, e.g. "lease expiry", "promotion", "routing".
type Phase struct {
	Name    string  `json:"name"`
	OffsetS float64 `json:"offset_s"`
}

// Reference holds the marks drawn on the failover histogram.
type Reference struct {
	// AggressiveS is what the aggressive profile should stay under.
	AggressiveS float64 `json:"aggressive_s"`
	// DefaultS is about what Patroni's default timings take.
	DefaultS float64 `json:"default_s"`
}

// DefaultReference returns the marks the booth shows: under 10 s with the
// aggressive profile, about 40 s with Patroni's defaults.
func DefaultReference() Reference { return Reference{AggressiveS: 10, DefaultS: 40} }

// Line is one event-log line in plain words.
type Line struct {
	At   time.Time `json:"at"`
	Text string    `json:"text"`
	// Kind colours the line; one of the Line* constants.
	Kind string `json:"kind"`
}

// Line kinds, so the page can colour them.
const (
	LineInfo    = "info"    // something worth knowing
	LineFault   = "fault"   // something broke or was broken on purpose
	LineRecover = "recover" // the cluster healed a step
	LineAlarm   = "alarm"   // data was lost or the harness is in trouble
)

// RateSample is one point of the commits-per-second strip. A zero rate is
// drawn as a red gap.
type RateSample struct {
	T    time.Time `json:"t"`
	Rate float64   `json:"rate"`
}

// Message types on the websocket.
const (
	TypeView = "view"
	TypeLine = "line"
	TypeRate = "rate"
)

// Message is one websocket message: a full View, a Line or a RateSample,
// named by Type.
type Message struct {
	Type   string      `json:"type"`
	View   *View       `json:"view,omitempty"`
	Line   *Line       `json:"line,omitempty"`
	Sample *RateSample `json:"sample,omitempty"`
}

// ViewMessage wraps a View for Publish.
func ViewMessage(v View) Message { return Message{Type: TypeView, View: &v} }

// LineMessage wraps a Line for Publish.
func LineMessage(l Line) Message { return Message{Type: TypeLine, Line: &l} }

// RateMessage wraps a RateSample for Publish.
func RateMessage(s RateSample) Message { return Message{Type: TypeRate, Sample: &s} }
