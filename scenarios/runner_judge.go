package scenarios

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/redswitch/redswitch/journal"
	"github.com/redswitch/redswitch/probe/analysis"
)

// The runner's own observations, recorded in the history as KindNode
// events with Source ObserverSource so that every verdict is a pure
// function of the history: the runner looks, records what it saw, and the
// judges below read it back.
const (
	ObserverSource = "scenario"
	// ObservedStreaming: the node streams from the primary (seen in the
	// primary's replication list).
	ObservedStreaming = "streaming"
	// ObservedLeading: the node is the running primary (a node that
	// "rejoined" by winning the leader race after a cold start).
	ObservedLeading = "leading"
	// ObservedRewound: the node's log shows a pg_rewind run it did not
	// show when the node was last cut.
	ObservedRewound = "rewound"
	// ObservedReinitialised: the node was rebuilt from a base backup.
	ObservedReinitialised = "reinitialised"
	// ObservedRewindUnknown: the node's log cannot be read here (a remote
	// head node), so whether pg_rewind ran is not known.
	ObservedRewindUnknown = "rewind unknown"
)

// Judging constants. AvailableGap is the longest pause between
// acknowledged commits that still counts as "writes available": a probe
// writing every 10 ms that misses a whole second is an outage.
const (
	AvailableGap = time.Second
)

// verdict is the judgement of one expectation.
type verdict struct {
	OK     bool
	Detail string
	// Measures are numbers worth keeping in the report, in order.
	Measures []measure
}

type measure struct {
	Name  string
	Value float64
}

func pass(format string, args ...any) verdict {
	return verdict{OK: true, Detail: fmt.Sprintf(format, args...)}
}

func fail(format string, args ...any) verdict {
	return verdict{OK: false, Detail: fmt.Sprintf(format, args...)}
}

func (v verdict) with(name string, value float64) verdict {
	v.Measures = append(v.Measures, measure{name, value})
	return v
}

// sortedByTime returns the events ordered by At (stable).
func sortedByTime(events []journal.Event) []journal.Event {
	out := slices.Clone(events)
	slices.SortStableFunc(out, func(a, b journal.Event) int { return a.At.Compare(b.At) })
	return out
}

// leaderAt is the holder of the leader key at t ("" when nobody holds it
// or nothing was recorded yet).
func leaderAt(events []journal.Event, t time.Time) string {
	leader := ""
	for _, e := range sortedByTime(events) {
		if e.At.After(t) {
			break
		}
		if e.Kind == journal.KindLeader {
			leader = e.Node
		}
	}
	return leader
}

// ackBefore returns the last acknowledged commit range that started at or
// before t: who served writes then, on which timeline.
func ackBefore(events []journal.Event, t time.Time) (journal.Event, bool) {
	var best journal.Event
	found := false
	for _, e := range events {
		if e.Kind != journal.KindProbeAck || e.FirstAt.After(t) {
			continue
		}
		if !found || e.FirstAt.After(best.FirstAt) {
			best, found = e, true
		}
	}
	return best, found
}

func secondsSince(from, to time.Time) float64 { return to.Sub(from).Seconds() }

// judgeFailover: a new primary acknowledged a commit within `within` of the
// disruption at disruptAt.
func judgeFailover(events []journal.Event, disruptAt time.Time, within time.Duration) verdict {
	if disruptAt.IsZero() {
		return fail("no power cut, switch or fault before this step: nothing to fail over from")
	}
	for _, f := range analysis.Failovers(events, analysis.Options{}) {
		if !f.Outage.End.After(disruptAt) || f.NewPrimary == f.OldPrimary {
			continue
		}
		took := f.Outage.End.Sub(disruptAt)
		detail := fmt.Sprintf("failover %s → %s (timeline %d → %d) took %.2fs after the disruption", f.OldPrimary, f.NewPrimary,
			f.OldTimeline, f.NewTimeline, took.Seconds())
		if len(f.Phases) > 0 {
			var ps []string
			for _, p := range f.Phases {
				ps = append(ps, fmt.Sprintf("%s +%.2fs", p.Name, p.Seconds))
			}
			detail += "; phases: " + strings.Join(ps, ", ")
		}
		if f.RigShare != nil {
			detail += fmt.Sprintf("; rig share (writable → first commit) %.3fs", f.RigShare.Seconds())
		}
		v := verdict{OK: within <= 0 || took <= within, Detail: detail}
		if !v.OK {
			v.Detail += fmt.Sprintf(" (bound %s)", within)
		}
		v = v.with("failover_s", took.Seconds())
		if f.RigShare != nil {
			v = v.with("rig_share_s", f.RigShare.Seconds())
		}
		return v
	}
	d := fmt.Sprintf("no failover found after the disruption at %s", disruptAt.Format("15:04:05.000"))
	if o := analysis.Outages(events, 0); len(o) > 0 && o[len(o)-1].Open {
		d += fmt.Sprintf("; writes have been failing since %s", o[len(o)-1].Start.Format("15:04:05.000"))
	}
	return fail("%s", d)
}

// judgeNoFailover: the primary did not change between since and until.
// A restart of the same primary (an outage served before and after by one
// node) is not a failover.
func judgeNoFailover(events []journal.Event, since, until time.Time) verdict {
	for _, f := range analysis.Failovers(events, analysis.Options{}) {
		if f.Outage.End.Before(since) || f.Outage.Start.After(until) || f.NewPrimary == f.OldPrimary {
			continue
		}
		return fail("failover %s → %s: writes resumed on %s %.2fs after %s", f.OldPrimary, f.NewPrimary, f.NewPrimary,
			f.Duration.Seconds(), f.Cause)
	}
	ref := leaderAt(events, since)
	for _, e := range sortedByTime(events) {
		if e.Kind != journal.KindLeader || e.At.Before(since) || e.At.After(until) || e.Node == "" {
			continue
		}
		if ref == "" {
			ref = e.Node
			continue
		}
		if e.Node != ref {
			return fail("the leader key moved from %s to %s at +%.2fs", ref, e.Node, secondsSince(since, e.At))
		}
	}
	if ref == "" {
		return pass("no node held the leader key, so no failover")
	}
	return pass("%s stayed primary", ref)
}

// judgeLostCommits: at most max acknowledged commits were reported missing
// by the read-backs recorded so far.
func judgeLostCommits(events []journal.Event, max int) verdict {
	readbacks := 0
	var last journal.Event
	for _, e := range events {
		if e.Kind == journal.KindProbeReadback {
			readbacks++
			last = e
		}
	}
	if readbacks == 0 {
		return fail("no read-back of the probe table was recorded, so lost commits cannot be counted")
	}
	lost := analysis.LostCommits(events, analysis.Failovers(events, analysis.Options{}))
	n := len(lost)
	detail := fmt.Sprintf("%d acknowledged commit(s) missing of %d checked (%d read-back(s))", n, last.Last, readbacks)
	if n > 0 {
		var seqs []string
		for i, l := range lost {
			if i == 5 {
				seqs = append(seqs, "...")
				break
			}
			seqs = append(seqs, fmt.Sprintf("%d (acked by %s tl %d)", l.Seq, l.Node, l.Timeline))
		}
		detail += ": " + strings.Join(seqs, ", ")
	}
	v := verdict{OK: n <= max, Detail: detail}
	if !v.OK {
		v.Detail += fmt.Sprintf(" (at most %d allowed)", max)
	}
	return v.with("lost_commits", float64(n))
}

// judgeSplitBrain: never two primaries acknowledging commits at once, over
// the whole history.
func judgeSplitBrain(events []journal.Event) verdict {
	overlaps := analysis.SplitBrain(events)
	if len(overlaps) == 0 {
		return pass("never two writable primaries (%d reign(s))", len(analysis.Reigns(events)))
	}
	o := overlaps[0]
	return fail("split brain: %s (tl %d) and %s (tl %d) both acknowledged commits for %.3fs (%d overlap(s))",
		o.A.Node, o.A.Timeline, o.B.Node, o.B.Timeline, o.To.Sub(o.From).Seconds(), len(overlaps))
}

// judgeWrites: the probe's writes succeeded (available) or failed
// (unavailable) throughout from..to. Available means no pause between
// acknowledged commits longer than AvailableGap, counting the edges of
// the window; unavailable means no commit was acknowledged in it.
func judgeWrites(events []journal.Event, available bool, from, to time.Time) verdict {
	type span struct{ a, b time.Time }
	var spans []span
	var acked uint64
	for _, e := range events {
		if e.Kind != journal.KindProbeAck {
			continue
		}
		a, b := e.FirstAt, e.LastAt
		if a.IsZero() {
			a = e.At
		}
		if b.Before(a) {
			b = a
		}
		if b.Before(from) || a.After(to) {
			continue
		}
		spans = append(spans, span{a, b})
		if e.Last >= e.First {
			acked += e.Last - e.First + 1
		}
	}
	window := to.Sub(from)
	if !available {
		if len(spans) == 0 {
			return pass("no commit acknowledged for %s", window).with("writes_acked", 0)
		}
		return fail("%d commit(s) acknowledged in the %s window where writes should fail (first at +%.2fs)",
			acked, window, spans[0].a.Sub(from).Seconds()).with("writes_acked", float64(acked))
	}
	slices.SortFunc(spans, func(x, y span) int { return x.a.Compare(y.a) })
	cursor := from
	var worst time.Duration
	var worstAt time.Time
	for _, s := range spans {
		if gap := s.a.Sub(cursor); gap > worst {
			worst, worstAt = gap, cursor
		}
		if s.b.After(cursor) {
			cursor = s.b
		}
	}
	if gap := to.Sub(cursor); gap > worst {
		worst, worstAt = gap, cursor
	}
	v := verdict{OK: worst <= AvailableGap && len(spans) > 0,
		Detail: fmt.Sprintf("%d commit(s) acknowledged in %s; longest pause %.3fs", acked, window, worst.Seconds())}
	if !v.OK {
		v.Detail += fmt.Sprintf(" from +%.2fs (at most %s allowed)", worstAt.Sub(from).Seconds(), AvailableGap)
	}
	return v.with("writes_max_gap_s", worst.Seconds())
}

// judgePrimary: at t the leader is (is) or is not (!is) one of names.
func judgePrimary(events []journal.Event, t time.Time, is bool, names []string) verdict {
	leader := leaderAt(events, t)
	in := slices.Contains(names, leader)
	shown := leader
	if shown == "" {
		shown = "nobody"
	}
	want := strings.Join(names, " or ")
	switch {
	case is && in:
		return pass("primary is %s", leader)
	case is:
		return fail("primary is %s, want %s", shown, want)
	case !in:
		return pass("primary is %s, not %s", shown, strings.Join(names, " nor "))
	}
	return fail("primary is %s, want anyone else", leader)
}

// judgeTimeline: the timeline the probe writes on at t moved on (want) or
// stayed (!want) since the one it wrote on at base.
func judgeTimeline(events []journal.Event, base, t time.Time, want bool) verdict {
	before, ok := ackBefore(events, base)
	if !ok {
		// No ack before the baseline: take the first ack of the history.
		for _, e := range events {
			if e.Kind == journal.KindProbeAck && (!ok || e.FirstAt.Before(before.FirstAt)) {
				before, ok = e, true
			}
		}
	}
	now, ok2 := ackBefore(events, t)
	if !ok || !ok2 {
		return fail("no acknowledged commit recorded to read the timeline from")
	}
	advanced := now.Timeline > before.Timeline
	d := fmt.Sprintf("timeline %d on %s, was %d on %s", now.Timeline, now.Node, before.Timeline, before.Node)
	v := verdict{OK: advanced == want, Detail: d}
	if !v.OK && want {
		v.Detail += " (want it advanced)"
	} else if !v.OK {
		v.Detail += " (want it unchanged)"
	}
	return v.with("timeline", float64(now.Timeline))
}

// observed reports whether the runner recorded observation what for node
// at or after since, and when first.
func observed(events []journal.Event, node, what string, since time.Time) (time.Time, bool) {
	for _, e := range sortedByTime(events) {
		if e.Kind == journal.KindNode && e.Node == node && e.Detail == what && !e.At.Before(since) {
			return e.At, true
		}
	}
	return time.Time{}, false
}

// poweredOnAt is the last time node was powered on at or before t.
func poweredOnAt(events []journal.Event, node string, t time.Time) (time.Time, bool) {
	var at time.Time
	found := false
	for _, e := range events {
		if e.Kind == journal.KindPower && e.Node == node && e.On != nil && *e.On && !e.At.After(t) && (!found || e.At.After(at)) {
			at, found = e.At, true
		}
	}
	return at, found
}

// judgeRejoined: every node in names was seen streaming from the primary
// at or after since; rewound, when set, says whether a pg_rewind run must
// (or must not) have been observed for it since since.
func judgeRejoined(events []journal.Event, names []string, since time.Time, rewound *bool) verdict {
	if len(names) == 0 {
		return fail("no node to check")
	}
	v := verdict{OK: true}
	var parts []string
	for _, n := range names {
		at, ok := observed(events, n, ObservedStreaming, since)
		p := n + " streams from the primary"
		if lead, leads := observed(events, n, ObservedLeading, since); !ok && leads {
			at, ok, p = lead, true, n+" is the running primary"
		}
		if !ok {
			v.OK = false
			parts = append(parts, n+" not seen streaming from the primary")
			continue
		}
		if on, ok := poweredOnAt(events, n, at); ok && !on.Before(since.Add(-time.Hour)) {
			p += fmt.Sprintf(" %.1fs after power on", at.Sub(on).Seconds())
			if len(names) == 1 {
				v = v.with("rejoin_s", at.Sub(on).Seconds())
			}
		}
		if rewound != nil {
			_, rw := observed(events, n, ObservedRewound, since)
			_, unknown := observed(events, n, ObservedRewindUnknown, since)
			switch {
			case unknown && !rw:
				p += ", pg_rewind not observable here (not judged)"
			case rw && *rewound:
				p += ", after pg_rewind"
			case !rw && !*rewound:
				p += ", without pg_rewind"
			case rw:
				v.OK = false
				p += ", but pg_rewind ran (want none)"
			default:
				v.OK = false
				p += ", but no pg_rewind was seen (want one)"
			}
		}
		parts = append(parts, p)
	}
	v.Detail = strings.Join(parts, "; ")
	return v
}

// judgeReinitialised: every node in names was rebuilt from a base backup
// at or after since: Patroni reported it "creating replica", or a node
// event says so.
func judgeReinitialised(events []journal.Event, names []string, since time.Time) verdict {
	v := verdict{OK: true}
	var parts []string
	for _, n := range names {
		seen := false
		for _, e := range events {
			if e.Node != n || e.At.Before(since) {
				continue
			}
			if (e.Kind == journal.KindRole && e.State == "creating replica") ||
				(e.Kind == journal.KindNode && strings.HasPrefix(e.Detail, "reinit")) {
				seen = true
				break
			}
		}
		if seen {
			parts = append(parts, n+" was re-initialised from a base backup")
		} else {
			v.OK = false
			parts = append(parts, n+" was not seen re-initialising")
		}
	}
	v.Detail = strings.Join(parts, "; ")
	return v
}

// judgePowerCuts: exactly want power cuts were ordered since since
// (whatever their source; the head node's own observation of a cut it
// ordered is not a second cut).
func judgePowerCuts(events []journal.Event, since time.Time, want int) verdict {
	n := 0
	var who []string
	for _, e := range sortedByTime(events) {
		if e.Kind == journal.KindPower && e.On != nil && !*e.On && e.Source != "observed" && !e.At.Before(since) {
			n++
			who = append(who, fmt.Sprintf("%s by %s", e.Node, e.Source))
		}
	}
	d := fmt.Sprintf("%d power cut(s)", n)
	if n > 0 {
		d += ": " + strings.Join(who, ", ")
	}
	v := verdict{OK: n == want, Detail: d}
	if !v.OK {
		v.Detail += fmt.Sprintf(" (want exactly %d)", want)
	}
	return v.with("power_cuts", float64(n))
}
