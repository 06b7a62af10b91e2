package analysis

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/journal"
)

// CauseKind classifies what made an outage, so that a list of outages can
// be counted and coloured by cause; ExplainedOutage.Cause says it in words.
type CauseKind string

// The causes ExplainOutage recognises, in the order it tries them: the
// first that the journal supports wins.
const (
	// CausePower is a power cut (by a switch, the API, a scenario or a
	// power fault: the power event's source says which).
	CausePower CauseKind = "power"
	// CauseFault is an injected fault without a cause kind of its own
	// (freeze, partition, disk_full, corrupt, replica_lag).
	CauseFault CauseKind = "fault"
	// CauseEtcd is the consensus store unavailable: an etcd_outage fault,
	// or the head node's own watch of etcd failing.
	CauseEtcd CauseKind = "etcd"
	// CauseCrash is PostgreSQL or Patroni crashing: a pg_crash or
	// patroni_crash fault, or Patroni reporting PostgreSQL crashed.
	CauseCrash CauseKind = "crash"
	// CauseSwitchover is a switchover that a mark in the journal names
	// (Patroni's own switchovers are not journaled as such).
	CauseSwitchover CauseKind = "switchover"
	// CauseSelfDemotion is the primary's Patroni not renewing the leader
	// key while its node had power and no fault or etcd trouble explains
	// it: the key expired (or was overwritten) and a node, the same one or
	// another, took it.
	CauseSelfDemotion CauseKind = "self_demotion"
	// CauseUnknown is none of the above: the evidence is all there is.
	CauseUnknown CauseKind = "unknown"
)

// Fault kinds as the fault manager journals them (the Detail of its
// events, faults.Kind*). The analysis reads the journal, not the faults
// package; the head node's tests check that every fault kind is known.
const (
	faultPower        = "power"
	faultEtcdOutage   = "etcd_outage"
	faultPGCrash      = "pg_crash"
	faultPatroniCrash = "patroni_crash"
)

// FaultCause is the cause kind of an outage caused by a fault of kind
// (journal Detail of its events).
func FaultCause(kind string) CauseKind {
	switch kind {
	case faultPower:
		return CausePower
	case faultEtcdOutage:
		return CauseEtcd
	case faultPGCrash, faultPatroniCrash:
		return CauseCrash
	}
	return CauseFault
}

// Marks the head node journals about its watch of etcd (Source
// journal.SourceEtcdWatch): a failure begins with EtcdWatchFailed.
const (
	EtcdWatchFailed   = "etcd watch failed"
	EtcdWatchRestored = "etcd watch restored"
)

// OutageOptions tune ExplainOutage; zero values take the defaults.
type OutageOptions struct {
	// Options are the failover analysis's: its Threshold makes an
	// outage, its CutSlack lets a cut come just before the last ack.
	Options
	// LeaseTTL is Patroni's effective ttl (default 30 s, Patroni's own):
	// a fault that stops the leader key's renewal may stop writes up to a
	// lease after it began, so causes are looked for that far back, and
	// evidence reaches back as far.
	LeaseTTL time.Duration
	// EvidenceAfter is how long after the first commit evidence is still
	// collected (default 1 s): watchers notice the recovery late.
	EvidenceAfter time.Duration
	// MaxEvidence bounds the evidence of one outage (default 60).
	MaxEvidence int
	// MaxLogLines bounds the Patroni log lines kept per node (default 50).
	MaxLogLines int
}

func (o OutageOptions) withDefaults() OutageOptions {
	o.Options = o.Options.withDefaults()
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = 30 * time.Second
	}
	if o.EvidenceAfter <= 0 {
		o.EvidenceAfter = time.Second
	}
	if o.MaxEvidence <= 0 {
		o.MaxEvidence = 60
	}
	if o.MaxLogLines <= 0 {
		o.MaxLogLines = 50
	}
	return o
}

// EvidenceWindow is the time span whose events are an outage's evidence
// and whose Patroni log lines are fetched for it.
func (o OutageOptions) EvidenceWindow(start, end time.Time) (from, to time.Time) {
	o = o.withDefaults()
	return start.Add(-o.LeaseTTL), end.Add(o.EvidenceAfter)
}

// EvidenceEvent is a journal event shown as evidence for an outage.
type EvidenceEvent struct {
	At     time.Time    `json:"at"`
	Kind   journal.Kind `json:"kind"`
	Node   string       `json:"node,omitempty"`
	Detail string       `json:"detail,omitempty"`
	// Cause marks the events the cause was read from.
	Cause bool `json:"cause,omitempty"`
}

// NodeLog is a node's Patroni output around an outage.
type NodeLog struct {
	Node  string            `json:"node"`
	Lines []journal.LogLine `json:"lines"`
}

// ExplainedOutage is an outage the probe saw, failover or not, with its
// cause and the evidence it was read from.
type ExplainedOutage struct {
	// ID numbers the closed outages of a history: outage-1, outage-2...
	ID string `json:"id"`
	// Start is the last ack before the gap, End the first after.
	Start    time.Time     `json:"start"`
	End      time.Time     `json:"end"`
	Duration time.Duration `json:"duration"`
	// Errors counts the probe's failed writes in the gap.
	Errors int `json:"errors"`
	// From served the commits before, To after.
	From         string `json:"from"`
	To           string `json:"to"`
	FromTimeline int    `json:"from_timeline,omitempty"`
	ToTimeline   int    `json:"to_timeline,omitempty"`
	// Failover is set when another node serves the commits after.
	Failover bool `json:"failover"`
	// FailoverID is the failover of the failover analysis this outage
	// is, when it lists it (it also lists a cut whose primary came back).
	FailoverID string    `json:"failover_id,omitempty"`
	Cause      string    `json:"cause"`
	CauseKind  CauseKind `json:"cause_kind"`
	// Evidence are the journal's events around the gap (probe acks left
	// out, alike probe errors shown once), in time order.
	Evidence []EvidenceEvent `json:"evidence"`
	// Omitted counts evidence left out beyond OutageOptions.MaxEvidence.
	Omitted int `json:"omitted,omitempty"`
	// PatroniLog is the Patroni output of the nodes involved around the
	// gap, once the head node fetched it from their agents.
	PatroniLog []NodeLog `json:"patroni_log,omitempty"`
}

// OutageID names the i-th closed outage of a history (from 0).
func OutageID(i int) string { return "outage-" + strconv.Itoa(i+1) }

// ExplainOutages explains every closed outage of a history: Outages
// over Options.Threshold, each with ExplainOutage's cause and evidence,
// the failover it is (Failovers) and the Patroni log journaled for it.
func ExplainOutages(events []journal.Event, opts OutageOptions) []ExplainedOutage {
	opts = opts.withDefaults()
	sorted := byTime(events)
	outs := Outages(events, opts.Threshold)
	foID := map[time.Time]string{}
	for _, f := range explain(sorted, outs, opts.Options) {
		foID[f.Outage.Start] = f.ID
	}
	var out []ExplainedOutage
	byID := map[string]int{}
	var prevEnd time.Time
	for _, o := range outs {
		if o.Open {
			continue
		}
		x := ExplainOutage(sorted, o, prevEnd, opts)
		prevEnd = o.End
		x.ID, x.FailoverID = OutageID(len(out)), foID[o.Start]
		byID[x.ID] = len(out)
		out = append(out, x)
	}
	for _, e := range events {
		if i, ok := byID[e.ID]; ok && e.Kind == journal.KindPatroniLog {
			out[i].AddLog(e, opts.MaxLogLines)
		}
	}
	return out
}

// AddLog attaches the lines of a journal.KindPatroniLog event, at most
// limit per node (a damaged or hostile journal must not grow a record).
func (x *ExplainedOutage) AddLog(e journal.Event, limit int) {
	if e.Kind != journal.KindPatroniLog || e.ID != x.ID || (!e.FirstAt.IsZero() && !e.FirstAt.Equal(x.Start)) {
		return // another outage's, or one of the same number before a reset
	}
	i := slices.IndexFunc(x.PatroniLog, func(l NodeLog) bool { return l.Node == e.Node })
	if i < 0 {
		x.PatroniLog = append(x.PatroniLog, NodeLog{Node: e.Node, Lines: []journal.LogLine{}})
		i = len(x.PatroniLog) - 1
	}
	l := &x.PatroniLog[i]
	l.Lines = append(l.Lines, e.Lines[:min(len(e.Lines), max(0, limit-len(l.Lines)))]...)
}

// cause is what ExplainOutage decided and the events it read it from.
type cause struct {
	kind   CauseKind
	text   string
	events []journal.Event
}

// ExplainOutage explains one closed outage o of a history whose events
// sorted holds ordered by time: at least those from a lease before the
// gap to a second after it, and the injections of faults still active
// then. The cause is the first of these the events support:
//
//   - a power cut of a node from CutSlack before the gap to its end (the
//     old primary's first, others listed after it), as Failovers reads it;
//   - a fault injected from a lease before the gap to its end, or active
//     at its start and healed in it, or still active on the old primary
//     or on etcd (the old primary's and etcd's first, then the latest):
//     an etcd_outage is CauseEtcd, a crash CauseCrash, a power fault
//     CausePower;
//   - the head node's watch of etcd failing from a lease before the gap;
//   - Patroni reporting the old primary's PostgreSQL crashed;
//   - a mark naming a switchover;
//   - the leader key expired, deleted or overwritten from CutSlack before
//     the gap to EvidenceAfter after it, while the old primary had power and
//     its agent was alive: a Patroni self-demotion, also when the same
//     node takes the key again ("n3 → n3");
//   - otherwise unknown.
//
// Causes are looked for a lease back at most, and not before prevEnd,
// the end of the outage before (zero for none): what happened before it
// explained that one. The result has no ID: ExplainOutages numbers them.
func ExplainOutage(sorted []journal.Event, o Outage, prevEnd time.Time, opts OutageOptions) ExplainedOutage {
	opts = opts.withDefaults()
	x := ExplainedOutage{Start: o.Start, End: o.End, Duration: o.Duration, Errors: o.Errors,
		From: o.Before.Node, To: o.After.Node, FromTimeline: o.Before.Timeline, ToTimeline: o.After.Timeline}
	x.Failover = x.To != "" && x.From != x.To
	look := o.Start.Add(-opts.LeaseTTL - opts.CutSlack)
	if prevEnd.After(look) {
		look = prevEnd
	}
	c, ok := powerCause(inWindow(sorted, o.Start.Add(-opts.CutSlack), o.End), x.From)
	if !ok {
		c, ok = faultCause(sorted, o, look, opts.CutSlack, x.From)
	}
	if !ok {
		c, ok = etcdWatchCause(inWindow(sorted, look, o.End))
	}
	if !ok {
		c, ok = crashReported(inWindow(sorted, o.Start.Add(-opts.CutSlack), o.End), x.From)
	}
	if !ok {
		c, ok = switchoverCause(inWindow(sorted, look, o.End))
	}
	if !ok {
		// Patroni demotes as soon as it fails to renew the key, before the
		// key expires: the expiry comes in the gap or just after it.
		c, ok = selfDemotion(inWindow(sorted, laterOf(look, o.Start.Add(-opts.CutSlack)), o.End.Add(opts.EvidenceAfter)), x.From)
	}
	if !ok {
		c = cause{kind: CauseUnknown, text: "unknown"}
	}
	x.Cause, x.CauseKind = c.text, c.kind
	from, to := opts.EvidenceWindow(o.Start, o.End)
	x.Evidence, x.Omitted = evidence(inWindow(sorted, from, to), c.events, opts.MaxEvidence)
	return x
}

// powerCause reads a power cut among the events around the gap.
func powerCause(window []journal.Event, from string) (cause, bool) {
	var cuts []journal.Event
	seen := map[string]bool{}
	for _, e := range window {
		// The first cut of a node counts; the head node observing the
		// loss it ordered does not add another.
		if e.Kind == journal.KindPower && e.On != nil && !*e.On && !seen[e.Node] {
			seen[e.Node] = true
			cuts = append(cuts, e)
		}
	}
	if len(cuts) == 0 {
		return cause{}, false
	}
	slices.SortStableFunc(cuts, func(a, b journal.Event) int {
		return cmp.Compare(boolRank(a.Node != from), boolRank(b.Node != from))
	})
	return cause{kind: CausePower, text: describeCuts(cuts), events: cuts}, true
}

func describeCuts(cuts []journal.Event) string {
	names := make([]string, 0, len(cuts))
	for _, c := range cuts {
		names = append(names, describeCut(c))
	}
	return strings.Join(names, "; ")
}

// faultCause reads an injected fault: one injected from look to the end
// of the gap; one injected before, active at the gap's start and healed
// in it; or one still active on the old primary or on etcd. A fault whose
// injection failed (undone at once) does not count, and a crash, which
// heals by itself and has no recovery, counts only when injected in time.
func faultCause(sorted []journal.Event, o Outage, look time.Time, slack time.Duration, from string) (cause, bool) {
	type fault struct {
		inject    journal.Event
		recovered time.Time
	}
	var order []string
	faults := map[string]*fault{}
	i, _ := slices.BinarySearchFunc(sorted, o.End, func(e journal.Event, t time.Time) int { return e.At.Compare(t) })
	for _, e := range sorted[:i+countAt(sorted[i:], o.End)] {
		switch {
		case e.Kind == journal.KindFaultInject && e.Error == "":
			if _, ok := faults[e.ID]; !ok {
				order = append(order, e.ID)
			}
			faults[e.ID] = &fault{inject: e}
		case e.Kind == journal.KindFaultRecover && e.Source != journal.SourcePowerOn:
			if f, ok := faults[e.ID]; ok && f.recovered.IsZero() {
				f.recovered = e.At
			}
		}
	}
	startSlack := o.Start.Add(-slack)
	var hits []journal.Event
	for _, id := range order {
		f := faults[id]
		e := f.inject
		healed := !f.recovered.IsZero()
		switch {
		case !e.At.Before(look):
		case healed && !f.recovered.Before(startSlack):
		case !healed && FaultCause(e.Detail) != CauseCrash && (e.Node == from || e.Node == "etcd"):
		default:
			continue
		}
		if healed && f.recovered.Before(startSlack) {
			continue // over before the gap
		}
		hits = append(hits, e)
	}
	if len(hits) == 0 {
		return cause{}, false
	}
	// The old primary's and etcd's first, then the latest injected.
	slices.SortStableFunc(hits, func(a, b journal.Event) int {
		ra, rb := boolRank(a.Node != from && a.Node != "etcd"), boolRank(b.Node != from && b.Node != "etcd")
		if ra != rb {
			return cmp.Compare(ra, rb)
		}
		return b.At.Compare(a.At)
	})
	kind := FaultCause(hits[0].Detail)
	text := describeCuts(hits)
	switch kind {
	case CauseEtcd:
		text = "etcd unavailable: " + text
	case CauseCrash:
		text = "crash: " + text
	}
	return cause{kind: kind, text: text, events: hits}, true
}

func laterOf(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// countAt counts the events at time t at the head of a time-sorted slice.
func countAt(sorted []journal.Event, t time.Time) int {
	n := 0
	for n < len(sorted) && sorted[n].At.Equal(t) {
		n++
	}
	return n
}

// etcdWatchCause reads the head node's watch of etcd failing.
func etcdWatchCause(window []journal.Event) (cause, bool) {
	for _, e := range window {
		if e.Kind == journal.KindMark && e.Source == journal.SourceEtcdWatch && strings.HasPrefix(e.Detail, EtcdWatchFailed) {
			return cause{kind: CauseEtcd, text: "etcd unavailable: the head node's " + bounded(e.Detail, 160),
				events: []journal.Event{e}}, true
		}
	}
	return cause{}, false
}

// crashReported reads Patroni (or the agent) reporting the old primary's
// PostgreSQL crashed.
func crashReported(window []journal.Event, from string) (cause, bool) {
	for _, e := range window {
		if e.Node != from {
			continue
		}
		if e.Kind == journal.KindRole && e.State == "crashed" {
			return cause{kind: CauseCrash, text: "crash: PostgreSQL on " + from + " crashed (Patroni reports it)",
				events: []journal.Event{e}}, true
		}
		if e.Kind == journal.KindNode && strings.Contains(strings.ToLower(e.Detail), "crash") {
			return cause{kind: CauseCrash, text: "crash: " + from + " reports " + bounded(e.Detail, 120),
				events: []journal.Event{e}}, true
		}
	}
	return cause{}, false
}

// switchoverCause reads a mark that names a switchover (a scenario step
// or an operator's note).
func switchoverCause(window []journal.Event) (cause, bool) {
	for _, e := range window {
		if e.Kind == journal.KindMark && strings.Contains(strings.ToLower(e.Detail), "switchover") {
			return cause{kind: CauseSwitchover, text: "switchover: " + bounded(e.Detail, 120), events: []journal.Event{e}}, true
		}
	}
	return cause{}, false
}

// selfDemotion reads the leader key leaving the old primary while it had
// power: expired or deleted, or overwritten by another member, then taken.
// A node that lost power or whose agent went silent did not demote itself.
func selfDemotion(window []journal.Event, from string) (cause, bool) {
	if from == "" {
		return cause{}, false
	}
	for _, e := range window {
		if e.Node == from && (e.Kind == journal.KindPower || e.Kind == journal.KindAgent) && e.On != nil && !*e.On {
			return cause{}, false
		}
	}
	for i, e := range window {
		if e.Kind != journal.KindLeader {
			continue
		}
		if e.Node != "" && e.Node != from && e.Detail == journal.LeaderOverwritten {
			return cause{kind: CauseSelfDemotion, events: []journal.Event{e},
				text: fmt.Sprintf("%s overwrote %s's live leader key (etcd3 steal-back): %s demoted itself", e.Node, from, from)}, true
		}
		if e.Node != "" {
			continue
		}
		c := cause{kind: CauseSelfDemotion, events: []journal.Event{e}}
		c.text = fmt.Sprintf("Patroni self-demotion: the leader key %s while %s had power; ", leaderGone(e), from)
		j := slices.IndexFunc(window[i+1:], func(t journal.Event) bool { return t.Kind == journal.KindLeader && t.Node != "" })
		switch {
		case j < 0:
			c.text += "no node took it in time"
		case window[i+1+j].Node == from:
			c.events = append(c.events, window[i+1+j])
			c.text += from + " took it again"
		default:
			c.events = append(c.events, window[i+1+j])
			c.text += window[i+1+j].Node + " took it"
		}
		return c, true
	}
	return cause{}, false
}

func leaderGone(e journal.Event) string {
	if e.Detail == "" || e.Detail == "expired" {
		return "expired"
	}
	return "went (" + bounded(e.Detail, 40) + ")"
}

// evidence lists the window's events worth reading, the cause's first,
// at most limit: probe acks, read-backs and logs left out, alike probe
// errors (the same SQLSTATE, phase and message) shown once, the first.
// Cause events from before the window (a fault injected earlier) are
// always kept. It returns how many were left out.
func evidence(window, causes []journal.Event, limit int) ([]EvidenceEvent, int) {
	isCause := func(e journal.Event) bool {
		return slices.ContainsFunc(causes, func(c journal.Event) bool { return sameEvent(c, e) })
	}
	var pick []journal.Event
	for _, c := range causes {
		if len(window) == 0 || c.At.Before(window[0].At) {
			pick = append(pick, c)
		}
	}
	var rest []journal.Event
	seenErr := map[[3]string]bool{}
	for _, e := range window {
		switch e.Kind {
		case journal.KindProbeAck, journal.KindProbeReadback, journal.KindPatroniLog:
			continue
		case journal.KindProbeError:
			k := [3]string{e.SQLState, e.Detail, e.Error}
			if seenErr[k] {
				continue
			}
			seenErr[k] = true
		}
		if isCause(e) {
			pick = append(pick, e)
		} else {
			rest = append(rest, e)
		}
	}
	omitted := 0
	if room := limit - len(pick); len(rest) > room {
		omitted = len(rest) - max(room, 0)
		rest = rest[:max(room, 0)]
	}
	all := append(pick, rest...)
	slices.SortStableFunc(all, func(a, b journal.Event) int { return a.At.Compare(b.At) })
	out := make([]EvidenceEvent, 0, len(all))
	for _, e := range all {
		out = append(out, EvidenceEvent{At: e.At, Kind: e.Kind, Node: e.Node, Detail: evidenceDetail(e), Cause: isCause(e)})
	}
	return out, omitted
}

// sameEvent tells the same journal event: by its number when journaled,
// else by its content (synthetic histories).
func sameEvent(a, b journal.Event) bool {
	if a.Seq != 0 || b.Seq != 0 {
		return a.Seq == b.Seq
	}
	return a.At.Equal(b.At) && a.Kind == b.Kind && a.Node == b.Node && a.ID == b.ID && a.Detail == b.Detail && a.Source == b.Source
}

// evidenceDetail says what an event records besides its kind and node,
// in a few words.
func evidenceDetail(e journal.Event) string {
	var parts []string
	add := func(s string) {
		if s != "" {
			parts = append(parts, s)
		}
	}
	onOff := func(up, down string) {
		if e.On != nil {
			add(map[bool]string{true: up, false: down}[*e.On])
		}
	}
	switch e.Kind {
	case journal.KindPower:
		onOff("on", "off")
		if e.Source != "" {
			add("by " + e.Source)
		}
	case journal.KindFaultInject, journal.KindFaultRecover:
		add(e.Detail)
		if e.ID != "" {
			add("id " + e.ID)
		}
		if e.Source != "" {
			add("(" + e.Source + ")")
		}
		if e.Error != "" {
			add("error: " + e.Error)
		}
	case journal.KindLeader:
		if e.Node == "" {
			add("key " + leaderGone(e))
			break
		}
		add("took the key")
		add(e.Detail)
		if e.ID != "" {
			add("lease " + e.ID)
		}
	case journal.KindRole:
		if r := cluster.RoleFromPatroni(e.Role, e.State); r != "" {
			add(string(r))
		}
		if e.Role != "" || e.State != "" {
			add("(patroni " + e.Role + "/" + e.State + ")")
		}
		if e.Timeline > 0 {
			add("timeline " + strconv.Itoa(e.Timeline))
		}
	case journal.KindHAProxy:
		add(e.Detail)
		onOff("up", "down")
	case journal.KindAgent:
		onOff("up", "silent")
	case journal.KindProbeError:
		if e.SQLState != "" {
			add("sqlstate " + e.SQLState)
		}
		add(e.Detail)
		if n := e.ErrorCount(); n > 1 {
			add("×" + strconv.Itoa(n))
		}
		add(e.Error)
	default:
		if e.Source != "" {
			add(e.Source + ":")
		}
		add(e.Detail)
	}
	return bounded(strings.Join(parts, " "), 200)
}

// bounded cuts s to at most n runes, marking the cut.
func bounded(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
