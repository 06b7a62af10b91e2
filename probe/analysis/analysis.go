package analysis

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/journal"
)

// The probe marks its start with a KindMark event of this Source and Detail,
// so that the time the probe was not running is not mistaken for an outage.
const (
	ProbeSource      = "probe"
	ProbeStartDetail = "probe started"
)

// ConnectionError is the key under which errors without a SQLSTATE
// (connection refused, timeouts, resets) are counted.
const ConnectionError = "connection"

// Phase names, in the order they usually happen.
const (
	PhaseHAProxyDown   = "haproxy_down"   // HAProxy marks the old primary down
	PhaseLeaderExpired = "leader_expired" // the leader key expires or is deleted
	PhaseNewLeader     = "new_leader"     // a node takes the leader key
	PhasePromoted      = "promoted"       // Patroni reports the new node as primary
	PhaseHAProxyUp     = "haproxy_up"     // HAProxy routes the primary listener to it
	PhaseFirstCommit   = "first_commit"   // the probe's first acknowledged commit
)

// Options tune the analysis; zero values take the defaults.
type Options struct {
	// Threshold is the shortest gap between acknowledged commits that
	// counts as an outage (default 500 ms).
	Threshold time.Duration
	// CutSlack lets a cut recorded up to this long before the last ack
	// still count as the cause: the cut is recorded when it is ordered,
	// and an in-flight commit may still be acknowledged (default 1 s).
	CutSlack time.Duration
	// PhaseSlack is how long after the first commit phase events are still
	// attributed to the failover, since watchers may notice late (default 2 s).
	PhaseSlack time.Duration
}

func (o Options) withDefaults() Options {
	if o.Threshold <= 0 {
		o.Threshold = 500 * time.Millisecond
	}
	if o.CutSlack <= 0 {
		o.CutSlack = time.Second
	}
	if o.PhaseSlack <= 0 {
		o.PhaseSlack = 2 * time.Second
	}
	return o
}

// Ack is a compacted range of acknowledged probe commits.
type Ack struct {
	Node     string    `json:"node"`
	Timeline int       `json:"timeline"`
	First    uint64    `json:"first"`
	Last     uint64    `json:"last"`
	FirstAt  time.Time `json:"first_at"`
	LastAt   time.Time `json:"last_at"`
}

// Outage is a gap in acknowledged commits longer than the threshold.
type Outage struct {
	// Start is the last ack before, End the first ack after (or the last
	// probe error when Open).
	Start    time.Time     `json:"start"`
	End      time.Time     `json:"end"`
	Duration time.Duration `json:"duration"`
	// Before and After are the ack ranges around the gap; After is empty
	// when Open.
	Before Ack `json:"before"`
	After  Ack `json:"after"`
	// Errors counts the failed probe writes recorded inside the gap (the
	// sum of the error events' ErrorCount).
	Errors int `json:"errors"`
	// Open is set when no commit has been acknowledged since.
	Open bool `json:"open,omitempty"`
}

// Phase is a step of a failover, Seconds after the cut.
type Phase struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
}

// Failover is an outage explained by a cut (power off or fault) or, failing
// that, by a change of leader.
type Failover struct {
	ID string `json:"id"`
	// StartedAt is the cut, or the last ack before when the cause is unknown.
	StartedAt time.Time `json:"started_at"`
	// Duration runs from StartedAt to the first acknowledged commit after.
	Duration    time.Duration `json:"duration"`
	Outage      Outage        `json:"outage"`
	OldPrimary  string        `json:"old_primary"`
	NewPrimary  string        `json:"new_primary"`
	OldTimeline int           `json:"old_timeline"`
	NewTimeline int           `json:"new_timeline"`
	// Cause names the cut, e.g. "power off n1 (switch)", or "unknown".
	Cause string `json:"cause"`
	// Phases are the observed steps, in time order.
	Phases []Phase `json:"phases,omitempty"`
	// Lost are acknowledged commits later found missing, lost in this failover.
	Lost []uint64 `json:"lost,omitempty"`
	// RigShare is first_commit − writable, the rig's own part of the
	// failover; nil without a writable phase.
	RigShare *time.Duration `json:"rig_share,omitempty"`
}

// acks returns the ack ranges of events, normalised and ordered by FirstAt.
// Malformed ranges (from a damaged journal) are repaired, never trusted to
// be ordered.
func acks(events []journal.Event) []Ack {
	var out []Ack
	for _, e := range events {
		if e.Kind != journal.KindProbeAck {
			continue
		}
		out = append(out, ackOf(e))
	}
	slices.SortStableFunc(out, func(a, b Ack) int { return a.FirstAt.Compare(b.FirstAt) })
	return out
}

// ackOf is the ack range of a KindProbeAck event, repaired as acks says.
func ackOf(e journal.Event) Ack {
	a := Ack{Node: e.Node, Timeline: e.Timeline, First: e.First, Last: e.Last, FirstAt: e.FirstAt, LastAt: e.LastAt}
	if a.Last < a.First {
		a.Last = a.First
	}
	if a.FirstAt.IsZero() {
		a.FirstAt = e.At
	}
	if a.LastAt.IsZero() || a.LastAt.Before(a.FirstAt) {
		a.LastAt = a.FirstAt
	}
	return a
}

// byTime returns a copy of events ordered by At, stable for equal times.
func byTime(events []journal.Event) []journal.Event {
	out := slices.Clone(events)
	slices.SortStableFunc(out, func(a, b journal.Event) int { return a.At.Compare(b.At) })
	return out
}

func isProbeStart(e journal.Event) bool {
	return e.Kind == journal.KindMark && e.Source == ProbeSource && e.Detail == ProbeStartDetail
}

// Outages returns the gaps between consecutive acknowledged commits longer
// than threshold, in time order. A gap across a restart of the probe is not
// an outage (the probe was not looking). If probe errors follow the last ack
// by more than threshold, the last outage is Open; it ends at the last
// failure recorded (ErrorEnd of the last error event).
func Outages(events []journal.Event, threshold time.Duration) []Outage {
	if threshold <= 0 {
		threshold = Options{}.withDefaults().Threshold
	}
	as := acks(events)
	if len(as) == 0 {
		return nil
	}
	return outages(as, byTime(events), threshold)
}

// outages is Outages over the ordered ack ranges (as acks returns them,
// at least one) and the events ordered by time (byTime).
func outages(as []Ack, sorted []journal.Event, threshold time.Duration) []Outage {
	var out []Outage
	prev := as[0] // the range with the latest LastAt so far
	for _, a := range as[1:] {
		if gap := a.FirstAt.Sub(prev.LastAt); gap > threshold && !restartedWithin(sorted, prev.LastAt, a.FirstAt) {
			out = append(out, Outage{
				Start: prev.LastAt, End: a.FirstAt, Duration: gap,
				Before: prev, After: a,
				Errors: countErrors(sorted, prev.LastAt, a.FirstAt),
			})
		}
		if a.LastAt.After(prev.LastAt) {
			prev = a
		}
	}
	var lastErr time.Time
	for _, e := range sorted {
		if e.Kind == journal.KindProbeError && e.At.After(prev.LastAt) {
			lastErr = e.ErrorEnd()
		}
		if isProbeStart(e) && e.At.After(prev.LastAt) {
			lastErr = time.Time{} // errors before a restart belong to the old run
		}
	}
	if gap := lastErr.Sub(prev.LastAt); !lastErr.IsZero() && gap > threshold {
		out = append(out, Outage{
			Start: prev.LastAt, End: lastErr, Duration: gap, Before: prev, Open: true,
			Errors: countErrors(sorted, prev.LastAt, lastErr.Add(time.Nanosecond)),
		})
	}
	return out
}

// inWindow returns the events with from <= At < to from a time-sorted slice.
func inWindow(sorted []journal.Event, from, to time.Time) []journal.Event {
	i, _ := slices.BinarySearchFunc(sorted, from, func(e journal.Event, t time.Time) int { return e.At.Compare(t) })
	j, _ := slices.BinarySearchFunc(sorted, to, func(e journal.Event, t time.Time) int { return e.At.Compare(t) })
	if j < i {
		return nil
	}
	return sorted[i:j]
}

func restartedWithin(sorted []journal.Event, from, to time.Time) bool {
	return slices.ContainsFunc(inWindow(sorted, from, to), isProbeStart)
}

// countErrors counts the failed writes of the error events starting in the
// window. The probe closes a run of errors before it journals the next ack,
// so a run never straddles the edge of an outage.
func countErrors(sorted []journal.Event, from, to time.Time) int {
	n := 0
	for _, e := range inWindow(sorted, from, to) {
		n += e.ErrorCount()
	}
	return n
}

// isCut reports whether e takes a node away: a power off or an injected fault.
func isCut(e journal.Event) bool {
	return (e.Kind == journal.KindPower && e.On != nil && !*e.On) || e.Kind == journal.KindFaultInject
}

func describeCut(e journal.Event) string {
	var s string
	if e.Kind == journal.KindPower {
		s = "power off " + e.Node
		if e.Source != "" {
			s += " (" + e.Source + ")"
		}
		return s
	}
	s = "fault"
	if e.Detail != "" {
		s += " " + e.Detail
	}
	return s + " " + e.Node
}

// Failovers explains outages: one that contains a cut (power off or fault
// injection, up to Options.CutSlack before its start) is a failover caused
// by it; one without a cut but with a change of leader or of the serving
// node is a failover of unknown cause; others are not failovers. Open
// outages are not failovers yet.
func Failovers(events []journal.Event, opts Options) []Failover {
	opts = opts.withDefaults()
	return explain(byTime(events), Outages(events, opts.Threshold), opts)
}

// explain is Failovers over the outages of a history and its events
// ordered by time; opts has its defaults.
func explain(sorted []journal.Event, outages []Outage, opts Options) []Failover {
	var out []Failover
	for i, o := range outages {
		if o.Open {
			continue
		}
		var cuts []journal.Event
		seen := map[string]bool{}
		for _, e := range inWindow(sorted, o.Start.Add(-opts.CutSlack), o.End) {
			// The first cut of a node counts; a later report of the same
			// (the head node observing the power loss it ordered) does not.
			if k := string(e.Kind) + "/" + e.Node; isCut(e) && !seen[k] {
				seen[k] = true
				cuts = append(cuts, e)
			}
		}
		f := Failover{
			Outage: o, OldPrimary: o.Before.Node, NewPrimary: o.After.Node,
			OldTimeline: o.Before.Timeline, NewTimeline: o.After.Timeline,
			StartedAt: o.Start, Cause: "unknown",
		}
		if len(cuts) > 0 {
			// The cut of the serving primary explains the outage best; the
			// others are listed after it.
			slices.SortStableFunc(cuts, func(a, b journal.Event) int {
				return cmp.Compare(boolRank(a.Node != f.OldPrimary), boolRank(b.Node != f.OldPrimary))
			})
			f.StartedAt = cuts[0].At
			var names []string
			for _, c := range cuts {
				names = append(names, describeCut(c))
			}
			f.Cause = strings.Join(names, "; ")
		} else if !leaderChanged(inWindow(sorted, o.Start, o.End)) && o.Before.Node == o.After.Node && o.Before.Timeline == o.After.Timeline {
			continue
		}
		f.Duration = o.End.Sub(f.StartedAt)
		until := o.End.Add(opts.PhaseSlack)
		if i+1 < len(outages) && outages[i+1].Start.Before(until) {
			until = outages[i+1].Start
		}
		f.Phases = phases(inWindow(sorted, f.StartedAt, until), f)
		f.RigShare = rigShare(f)
		f.ID = fmt.Sprintf("failover-%d", len(out)+1)
		out = append(out, f)
	}
	return out
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

func leaderChanged(window []journal.Event) bool {
	return slices.ContainsFunc(window, func(e journal.Event) bool { return e.Kind == journal.KindLeader })
}

// phases finds the observed steps of failover f among the events of its
// window, which starts at the cut.
func phases(window []journal.Event, f Failover) []Phase {
	var ps []Phase
	at := func(name string, t time.Time) {
		ps = append(ps, Phase{Name: name, Seconds: t.Sub(f.StartedAt).Seconds()})
	}
	first := func(match func(journal.Event) bool) (journal.Event, bool) {
		for _, e := range window {
			if match(e) {
				return e, true
			}
		}
		return journal.Event{}, false
	}
	haproxy := func(node string, up bool) func(journal.Event) bool {
		return func(e journal.Event) bool {
			return e.Kind == journal.KindHAProxy && e.Detail == "primary" && e.Node == node && e.On != nil && *e.On == up
		}
	}
	if e, ok := first(haproxy(f.OldPrimary, false)); ok && f.OldPrimary != f.NewPrimary {
		at(PhaseHAProxyDown, e.At)
	}
	expired, hasExpired := first(func(e journal.Event) bool { return e.Kind == journal.KindLeader && e.Node == "" })
	if hasExpired {
		at(PhaseLeaderExpired, expired.At)
	}
	afterExpiry := func(e journal.Event) bool { return !hasExpired || !e.At.Before(expired.At) }
	leader, ok := first(func(e journal.Event) bool {
		return e.Kind == journal.KindLeader && e.Node != "" && e.Node == f.NewPrimary && afterExpiry(e)
	})
	if !ok {
		leader, ok = first(func(e journal.Event) bool {
			return e.Kind == journal.KindLeader && e.Node != "" && e.Node != f.OldPrimary && afterExpiry(e)
		})
	}
	if ok {
		at(PhaseNewLeader, leader.At)
	}
	if e, ok := first(func(e journal.Event) bool {
		return e.Kind == journal.KindRole && e.Node == f.NewPrimary && cluster.RoleFromPatroni(e.Role, e.State) == cluster.RolePrimary
	}); ok {
		at(PhasePromoted, e.At)
	}
	if e, ok := first(haproxy(f.NewPrimary, true)); ok {
		at(PhaseHAProxyUp, e.At)
	}
	if p, ok := writablePhase(window, f); ok {
		ps = append(ps, p)
	}
	at(PhaseFirstCommit, f.Outage.End)
	slices.SortStableFunc(ps, func(a, b Phase) int { return cmp.Compare(a.Seconds, b.Seconds) })
	return ps
}
