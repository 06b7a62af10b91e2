// Package synth makes long booth histories without a booth: the journal a
// head node would write over hours or days of visitors cutting the
// primary's power, with the probe's compacted ack ranges and error runs,
// Patroni's leader and role changes, HAProxy's checks, lost commits and
// read-backs, stalls that are outages but no failovers, an hour with the
// primary port dead, and restarts of the probe. Tests compare analyses of
// such histories; the soak bench drives the head node's pipeline with them.
// Everything is decided by the options and a seed: the same options give
// the same history.
package synth

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/redswitch/redswitch/journal"
)

// Options shape a booth. Zero values take the defaults; a negative
// interval turns its episode off.
type Options struct {
	// Start is when the history begins (2026-12-07 08:00 UTC).
	Start time.Time
	// Nodes are the database nodes (n1, n2, n3); the first is primary.
	Nodes []string
	// Rate is the probe's commits per second (100).
	Rate int
	// FlushEvery is how long an ack range lasts without a stall (1 s), as
	// the probe's own FlushEvery.
	FlushEvery time.Duration
	// SplitChance is the chance that a range is cut short by a stall of
	// 60-150 ms, over the probe's compaction gap (0.2).
	SplitChance float64
	// FailoverEvery is the time between cuts (2 min); Failover is how
	// long one takes from the cut to the first commit (5 s).
	FailoverEvery, Failover time.Duration
	// FaultEvery makes every n-th cut a fault injection (7), UnknownEvery
	// every n-th a leader change without any cut (13), LostEvery every
	// n-th lose its last acknowledged commits (10) and ReadbackEvery
	// every n-th followed by a read-back of the probe table (5).
	FaultEvery, UnknownEvery, LostEvery, ReadbackEvery int
	// StallEvery is the time between stalls of 0.8 s without any error:
	// outages without a failover (30 min).
	StallEvery time.Duration
	// DeadEvery, DeadAt and DeadFor: every DeadEvery (24 h), from DeadAt
	// into it (6 h) for DeadFor (1 h), the primary's port refuses every
	// connection: no cut, only a long run of compacted errors.
	DeadEvery, DeadAt, DeadFor time.Duration
	// RestartEvery is the time between restarts of the head node's probe
	// (12 h): 10 s without events, then a probe start mark.
	RestartEvery time.Duration
	// Seed seeds the randomness (1).
	Seed uint64
}

func (o Options) withDefaults() Options {
	if o.Start.IsZero() {
		o.Start = time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	}
	if len(o.Nodes) == 0 {
		o.Nodes = []string{"n1", "n2", "n3"}
	}
	if o.Rate <= 0 {
		o.Rate = 100
	}
	dur := func(d *time.Duration, def time.Duration) {
		if *d == 0 {
			*d = def
		}
	}
	dur(&o.FlushEvery, time.Second)
	dur(&o.FailoverEvery, 2*time.Minute)
	dur(&o.Failover, 5*time.Second)
	dur(&o.StallEvery, 30*time.Minute)
	dur(&o.DeadEvery, 24*time.Hour)
	dur(&o.DeadAt, 6*time.Hour)
	dur(&o.DeadFor, time.Hour)
	dur(&o.RestartEvery, 12*time.Hour)
	if o.SplitChance == 0 {
		o.SplitChance = 0.2
	}
	every := func(n *int, def int) {
		if *n == 0 {
			*n = def
		}
	}
	every(&o.FaultEvery, 7)
	every(&o.UnknownEvery, 13)
	every(&o.LostEvery, 10)
	every(&o.ReadbackEvery, 5)
	if o.Seed == 0 {
		o.Seed = 1
	}
	return o
}

// Booth generates one history, in journal order, as far as asked.
type Booth struct {
	o   Options
	rng *rand.Rand

	// cur is how far the probe's activity is generated.
	cur       time.Time
	seq       uint64 // the probe's last sequence number
	primary   int
	timeline  int
	cuts      int // failovers so far
	lease     int
	lost      []uint64
	nextCut   time.Time
	nextStall time.Time
	nextStart time.Time // of a restart
	// pending are generated events not yet returned, with the time the
	// head node journals them.
	pending []timed
	emitted int
	// dead is the run of failures of the hour with the port dead.
	dead failing
}

type timed struct {
	jt time.Time
	n  int // generation order, for ties
	e  journal.Event
}

// New returns the booth at its start: the first node leads on timeline 1.
func New(o Options) *Booth {
	o = o.withDefaults()
	b := &Booth{o: o, rng: rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15)), cur: o.Start, timeline: 1}
	b.nextCut = next(o.Start, o.FailoverEvery)
	// Off the beat of the cuts, so no episode hides another.
	b.nextStall = next(o.Start.Add(o.StallEvery/3+7*time.Second), o.StallEvery)
	b.nextStart = next(o.Start.Add(13*time.Second), o.RestartEvery)
	p := o.Nodes[0]
	b.emit(o.Start, journal.Event{Kind: journal.KindMark, Source: "probe", Detail: "probe started"})
	b.emit(o.Start, journal.Event{Kind: journal.KindLeader, Node: p, ID: b.newLease(), Detail: journal.LeaderCreated})
	for i, n := range o.Nodes {
		b.emit(o.Start, journal.Event{Kind: journal.KindAgent, Node: n, On: journal.Bool(true)})
		if i == 0 {
			b.emit(o.Start, journal.Event{Kind: journal.KindRole, Node: n, Role: "master", State: "running", Timeline: 1})
			b.emit(o.Start, journal.Event{Kind: journal.KindHAProxy, Node: n, Detail: "primary", On: journal.Bool(true)})
		} else {
			b.emit(o.Start, journal.Event{Kind: journal.KindRole, Node: n, Role: "replica", State: "streaming", Timeline: 1})
		}
	}
	return b
}

// next is the first multiple of every after start, or never when every is
// negative.
func next(start time.Time, every time.Duration) time.Time {
	if every < 0 {
		return time.Time{}
	}
	return start.Add(every)
}

// Now is how far the booth's history is generated.
func (b *Booth) Now() time.Time { return b.cur }

// Until returns the events the head node journals up to t that were not
// returned yet, in journal order. At is set; Seq is left to the journal.
func (b *Booth) Until(t time.Time) []journal.Event {
	// Generate past t: an episode journals some events late (an ack
	// range when it closes, a run of errors when it ends), and none
	// earlier than just before it starts.
	for b.cur.Before(t.Add(time.Minute)) {
		b.step()
	}
	slices.SortStableFunc(b.pending, func(x, y timed) int {
		return cmp.Or(x.jt.Compare(y.jt), cmp.Compare(x.n, y.n))
	})
	i := 0
	for i < len(b.pending) && !b.pending[i].jt.After(t) {
		i++
	}
	out := make([]journal.Event, i)
	for j := range i {
		out[j] = b.pending[j].e
	}
	b.pending = slices.Delete(b.pending, 0, i)
	if cap(b.pending) > 2*len(b.pending)+1024 {
		b.pending = slices.Clone(b.pending) // give a long episode's room back
	}
	return out
}

func (b *Booth) emitAt(jt time.Time, e journal.Event) {
	b.emitted++
	b.pending = append(b.pending, timed{jt: jt, n: b.emitted, e: e})
}

// emit journals e as it happens, at at.
func (b *Booth) emit(at time.Time, e journal.Event) {
	e.At = at
	b.emitAt(at, e)
}

func (b *Booth) newLease() string {
	b.lease++
	return fmt.Sprintf("694d7c1a%08x", b.lease)
}

func (b *Booth) node() string { return b.o.Nodes[b.primary] }

// inDead reports whether t is in the hour with the port dead, and when
// that hour ends.
func (b *Booth) inDead(t time.Time) (bool, time.Time) {
	if b.o.DeadEvery < 0 {
		return false, time.Time{}
	}
	into := t.Sub(b.o.Start) % b.o.DeadEvery
	if into >= b.o.DeadAt && into < b.o.DeadAt+b.o.DeadFor {
		return true, t.Add(b.o.DeadAt + b.o.DeadFor - into)
	}
	return false, time.Time{}
}

// step generates the next stretch: commits up to the next episode, then
// the episode.
func (b *Booth) step() {
	// Episodes that fell in a dead hour or a failover are skipped.
	for _, n := range []struct {
		t     *time.Time
		every time.Duration
	}{{&b.nextCut, b.o.FailoverEvery}, {&b.nextStall, b.o.StallEvery}, {&b.nextStart, b.o.RestartEvery}} {
		for !n.t.IsZero() && n.t.Before(b.cur) {
			*n.t = n.t.Add(n.every)
		}
	}
	if dead, end := b.inDead(b.cur); dead {
		// A minute at a time: the generator holds little more than the
		// head node would.
		upTo := minTime(end, b.cur.Add(time.Minute))
		b.fail(&b.dead, b.cur, upTo, "", "connect", "connection refused")
		if upTo.Equal(end) {
			b.endRun(&b.dead, end)
		}
		b.cur = upTo
		return
	}
	upTo := b.cur.Add(time.Minute)
	for _, t := range []time.Time{b.nextCut, b.nextStall, b.nextStart} {
		if !t.IsZero() && t.Before(upTo) {
			upTo = t
		}
	}
	if b.o.DeadEvery > 0 {
		into := b.cur.Sub(b.o.Start) % b.o.DeadEvery
		if into < b.o.DeadAt && b.cur.Add(b.o.DeadAt-into).Before(upTo) {
			upTo = b.cur.Add(b.o.DeadAt - into)
		}
	}
	b.commits(b.cur, upTo)
	b.cur = upTo
	switch {
	case upTo.Equal(b.nextCut):
		b.nextCut = b.nextCut.Add(b.o.FailoverEvery)
		if dead, _ := b.inDead(upTo.Add(b.o.Failover)); !dead {
			b.failover(upTo)
		}
	case upTo.Equal(b.nextStall):
		b.nextStall = b.nextStall.Add(b.o.StallEvery)
		b.cur = upTo.Add(800 * time.Millisecond)
		b.seq += 2 // two slow attempts that never answered in time
	case upTo.Equal(b.nextStart):
		b.nextStart = b.nextStart.Add(b.o.RestartEvery)
		b.cur = upTo.Add(10 * time.Second)
		b.emit(b.cur, journal.Event{Kind: journal.KindMark, Source: "probe", Detail: "probe started"})
		b.emit(b.cur, journal.Event{Kind: journal.KindMark, Source: "headnode", Detail: "head node started"})
	}
}

// commits acknowledges one commit per probe interval in [from, to), in
// ranges of FlushEvery cut short by stalls.
func (b *Booth) commits(from, to time.Time) {
	every := time.Second / time.Duration(b.o.Rate)
	t := from
	for t.Before(to) {
		end := t.Add(b.o.FlushEvery)
		split := b.rng.Float64() < b.o.SplitChance
		if split {
			end = t.Add(time.Duration(b.rng.Int64N(int64(b.o.FlushEvery))))
		}
		end = minTime(end, to)
		first := b.seq + 1
		last := t
		for c := t; c.Before(end); c = c.Add(every) {
			b.seq++
			last = c
		}
		if b.seq >= first {
			b.emitAt(last.Add(every), journal.Event{At: last, Kind: journal.KindProbeAck, Node: b.node(), Timeline: b.timeline,
				First: first, Last: b.seq, FirstAt: t, LastAt: last, SentAt: t.Add(-2 * time.Millisecond)})
		}
		t = end
		if split && end.Before(to) {
			// A stall over the compaction gap.
			t = end.Add(time.Duration(60+b.rng.IntN(90)) * time.Millisecond)
		}
	}
}

// errorRun fails one attempt per probe interval in [from, to), journaled
// as the probe compacts them: the first at once, the repeats counted, one
// event per FlushEvery and one at the end.
func (b *Booth) errorRun(from, to time.Time, sqlstate, phase, msg string) {
	var r failing
	b.fail(&r, from, to, sqlstate, phase, msg)
	b.endRun(&r, to)
}

// failing is a run of failures alike, open across calls of fail, so an
// hour of them is generated a minute at a time.
type failing struct {
	open bool
	next time.Time     // the next attempt
	rep  journal.Event // repeats not journaled yet, when Count > 0
}

// fail continues run r with the attempts in [from, to).
func (b *Booth) fail(r *failing, from, to time.Time, sqlstate, phase, msg string) {
	every := time.Second / time.Duration(b.o.Rate)
	if !r.open {
		if !from.Before(to) {
			return
		}
		b.seq++
		b.emit(from, journal.Event{Kind: journal.KindProbeError, Seqno: b.seq, SentAt: from, SQLState: sqlstate, Error: msg, Detail: phase})
		r.open, r.next = true, from.Add(every)
	}
	for ; r.next.Before(to); r.next = r.next.Add(every) {
		t := r.next
		b.seq++
		if r.rep.Count > 0 && t.Sub(r.rep.At) >= b.o.FlushEvery {
			b.flushRun(r, t)
		}
		if r.rep.Count == 0 {
			r.rep = journal.Event{At: t, Kind: journal.KindProbeError, Seqno: b.seq, SentAt: t, SQLState: sqlstate, Error: msg, Detail: phase}
		}
		r.rep.Count++
		r.rep.LastAt, r.rep.Last = t, b.seq
	}
}

func (b *Booth) flushRun(r *failing, jt time.Time) {
	if r.rep.Count == 0 {
		return
	}
	if r.rep.Count == 1 {
		r.rep.Count, r.rep.LastAt, r.rep.Last = 0, time.Time{}, 0
	}
	b.emitAt(jt, r.rep)
	r.rep = journal.Event{}
}

// endRun journals what r holds at the end of its run, at.
func (b *Booth) endRun(r *failing, at time.Time) {
	b.flushRun(r, at)
	*r = failing{}
}

// failover plays one cut at t: the primary loses power (or a fault, or
// nothing but its lease), the probe fails until a replica is promoted on
// a new timeline, and the old primary comes back as a replica.
func (b *Booth) failover(t time.Time) {
	b.cuts++
	old := b.node()
	oldIdx := b.primary
	b.primary = (b.primary + 1) % len(b.o.Nodes)
	newNode := b.node()
	scale := func(s float64) time.Duration {
		return time.Duration(s / 5.37 * float64(b.o.Failover))
	}
	resume := t.Add(b.o.Failover)
	unknown := b.cuts%b.o.UnknownEvery == 0
	fault := !unknown && b.cuts%b.o.FaultEvery == 0
	switch {
	case unknown:
		// Patroni gives the key up (a demotion nobody ordered).
	case fault:
		b.emit(t, journal.Event{Kind: journal.KindFaultInject, Node: old, ID: fmt.Sprintf("f%d", b.cuts), Detail: "freeze", Source: "api"})
		b.emit(t.Add(30*time.Second), journal.Event{Kind: journal.KindFaultRecover, Node: old, ID: fmt.Sprintf("f%d", b.cuts), Detail: "freeze", Source: "api"})
	default:
		sw := fmt.Sprint(oldIdx + 1)
		b.emit(t.Add(-20*time.Millisecond), journal.Event{Kind: journal.KindSwitch, Node: old, ID: sw, On: journal.Bool(false)})
		b.emit(t, journal.Event{Kind: journal.KindPower, Node: old, On: journal.Bool(false), Source: "switch"})
		b.emit(t.Add(30*time.Second), journal.Event{Kind: journal.KindSwitch, Node: old, ID: sw, On: journal.Bool(true)})
		b.emit(t.Add(30*time.Second), journal.Event{Kind: journal.KindPower, Node: old, On: journal.Bool(true), Source: "switch"})
		b.emit(t.Add(31*time.Second), journal.Event{Kind: journal.KindAgent, Node: old, On: journal.Bool(true)})
		b.emit(t.Add(44*time.Second), journal.Event{Kind: journal.KindNode, Node: old, Detail: "rewound"})
	}
	if b.cuts%b.o.LostEvery == 0 {
		// The last commits acked by the old primary never reached a replica.
		for s := b.seq - 1; s <= b.seq; s++ {
			b.lost = append(b.lost, s)
		}
	}
	b.errorRun(t.Add(scale(0.05)), t.Add(scale(4.95)), "", "connect", "connection refused")
	b.errorRun(t.Add(scale(4.95)), resume.Add(-10*time.Millisecond), "25006", "insert", "cannot execute INSERT in a read-only transaction")
	b.emit(t.Add(scale(0.56)), journal.Event{Kind: journal.KindHAProxy, Node: old, Detail: "primary", On: journal.Bool(false)})
	b.emit(t.Add(scale(4.79)), journal.Event{Kind: journal.KindLeader})
	b.timeline++
	b.emit(t.Add(scale(4.87)), journal.Event{Kind: journal.KindLeader, Node: newNode, ID: b.newLease(), Detail: journal.LeaderCreated})
	b.emit(t.Add(scale(5.05)), journal.Event{Kind: journal.KindRole, Node: newNode, Role: "master", State: "running", Timeline: b.timeline})
	b.emit(t.Add(scale(5.33)), journal.Event{Kind: journal.KindHAProxy, Node: newNode, Detail: "primary", On: journal.Bool(true)})
	b.emit(t.Add(40*time.Second), journal.Event{Kind: journal.KindRole, Node: old, Role: "replica", State: "starting", Timeline: b.timeline})
	b.emit(t.Add(45*time.Second), journal.Event{Kind: journal.KindRole, Node: old, Role: "replica", State: "streaming", Timeline: b.timeline})
	if b.cuts%b.o.ReadbackEvery == 0 {
		b.emit(resume.Add(20*time.Second), journal.Event{Kind: journal.KindProbeReadback, Missing: slices.Clone(b.lost), Last: b.seq})
	}
	b.cur = resume
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
