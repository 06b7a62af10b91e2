package analysis

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/redswitch/redswitch/journal"
)

// DefaultSettleLag is how much of the newest history an Incremental keeps
// open by default.
const DefaultSettleLag = time.Minute

// IncrementalOptions tune an Incremental; zero values take the defaults.
type IncrementalOptions struct {
	// Analysis are the options of the analysis carried forward.
	Analysis Options
	// SettleLag is how far behind the time given to Settle the settled
	// part stays (DefaultSettleLag). An event journaled with a time
	// further back than that can no longer be judged exactly (see Late);
	// the head node stamps events as they happen, within a second or two.
	SettleLag time.Duration
}

// Incremental is Analyze carried forward: it takes a history as it grows,
// event by event in journal order, and its Report equals Analyze over
// every event added, at a cost that does not grow with the history.
//
// It wraps Analyze's own functions rather than repeating them. The ack
// sweep of Outages is cut at a boundary: an ack range that ends after every
// range before it, so the sweep from it on is the sweep of the whole
// history from it on. Outages and failovers decided before the boundary
// are settled and kept as results; the events after it (the tail: minutes
// normally, the whole of an outage still open) are judged again by
// Outages and Failovers whenever the history grew. A boundary is moved on
// only where no outage before it is still open to events: every window the
// analysis reads for a settled outage (cuts, phases, errors) ends before
// the events the tail keeps. What needs the whole history is kept in
// compact form: totals and reigns as they add up, every ack range
// delta-coded (ackIndex) for read-backs that report a commit missing hours
// after it was acknowledged.
//
// An event that arrives with a time before what was settled (a damaged
// or merged journal; never a live head node) cannot be judged exactly any
// more: Late counts them, and the owner should rebuild from the journal.
// An Incremental is not safe for concurrent use.
type Incremental struct {
	opts Options
	lag  time.Duration

	events int // added so far; the next event's journal position

	settledOut []Outage
	settledFo  []Failover
	// tail holds the events the settled part does not decide, ordered
	// as byTime orders them (by time, journal order among equals), with
	// their journal positions; tailAcks are their ack ranges ordered as
	// acks orders them. Both are kept in order as events arrive, so a
	// tick sorts and copies nothing.
	tail     []journal.Event
	tailPos  []int
	tailAcks []posAck
	// Once something is settled, an ack range starting before ackFloor or
	// another event before horizon comes too late (read-backs aside:
	// they only feed the lost commits, which are kept whole).
	settling          bool
	ackFloor, horizon time.Time
	late              int

	totals  Totals
	reigns  []reignState
	reignAt map[reignKey]int
	acks    int // ack ranges added: the position among them
	index   ackIndex
	lost    []lostRef // every number a read-back reported, by number

	cache *tailAnalysis
}

type reignState struct {
	Reign
	// pos is the position of the range that set From, which orders
	// reigns starting at the same time as Reigns does.
	pos int
}

// lostRef is a number reported missing and the range that acknowledged
// it, if any did.
type lostRef struct {
	seq uint64
	ack Ack
	ok  bool
	// fo is the settled failover it is attributed to, once settled
	// (foOK): no failover can come before a settled one, so a tick
	// looks up only the losses of the newest failovers.
	fo   int
	foOK bool
}

// tailAnalysis is the tail judged by Outages and Failovers.
type tailAnalysis struct {
	acks      []posAck // ordered as acks orders them
	outages   []Outage
	failovers []Failover // numbered after the settled ones
}

type posAck struct {
	Ack
	pos int
}

// NewIncremental returns an analysis of the empty history.
func NewIncremental(o IncrementalOptions) *Incremental {
	if o.SettleLag <= 0 {
		o.SettleLag = DefaultSettleLag
	}
	return &Incremental{opts: o.Analysis.withDefaults(), lag: o.SettleLag, reignAt: map[reignKey]int{}}
}

// Add takes the next events of the history, in journal order.
func (in *Incremental) Add(events ...journal.Event) {
	for _, e := range events {
		pos := in.events
		in.events++
		in.fold(e)
		switch {
		case e.Kind == journal.KindProbeReadback:
			continue // only the lost commits read it, folded whole
		case e.Kind == journal.KindProbeAck:
			if in.settling && ackOf(e).FirstAt.Before(in.ackFloor) {
				in.late++
				continue
			}
		case in.settling && e.At.Before(in.horizon):
			in.late++
			continue
		}
		// After every event at the same time: they came first.
		i := sort.Search(len(in.tail), func(i int) bool { return in.tail[i].At.After(e.At) })
		in.tail, in.tailPos = slices.Insert(in.tail, i, e), slices.Insert(in.tailPos, i, pos)
		if e.Kind == journal.KindProbeAck {
			a := posAck{ackOf(e), pos}
			i := sort.Search(len(in.tailAcks), func(i int) bool { return in.tailAcks[i].FirstAt.After(a.FirstAt) })
			in.tailAcks = slices.Insert(in.tailAcks, i, a)
		}
		in.cache = nil
	}
}

// fold adds e to what is kept of the whole history.
func (in *Incremental) fold(e journal.Event) {
	switch e.Kind {
	case journal.KindProbeAck:
		a := ackOf(e)
		pos := in.acks
		in.acks++
		t := &in.totals
		t.Acks += a.Last - a.First + 1
		// Analyze takes the earliest FirstAt that is not zero.
		if !a.FirstAt.IsZero() && (t.FirstAck.IsZero() || a.FirstAt.Before(t.FirstAck)) {
			t.FirstAck = a.FirstAt
		}
		if a.LastAt.After(t.LastAck) {
			t.LastAck = a.LastAt
		}
		in.foldReign(a, pos)
		in.index.add(a)
		// A number reported missing before this range arrived, or held by
		// an earlier-starting range than the one found so far.
		lo := sort.Search(len(in.lost), func(i int) bool { return in.lost[i].seq >= a.First })
		for i := lo; i < len(in.lost) && in.lost[i].seq <= a.Last; i++ {
			if l := &in.lost[i]; !l.ok || a.FirstAt.Before(l.ack.FirstAt) {
				l.ack, l.ok, l.foOK = a, true, false
			}
		}
	case journal.KindProbeError:
		if in.totals.Errors == nil {
			in.totals.Errors = map[string]int{}
		}
		in.totals.Errors[ErrorKey(e.SQLState)] += e.ErrorCount()
	case journal.KindProbeReadback:
		in.totals.Readbacks++
		for _, s := range e.Missing {
			i, found := slices.BinarySearchFunc(in.lost, s, func(l lostRef, s uint64) int {
				switch {
				case l.seq < s:
					return -1
				case l.seq > s:
					return 1
				}
				return 0
			})
			if found {
				continue
			}
			a, ok := in.index.find(s)
			in.lost = slices.Insert(in.lost, i, lostRef{seq: s, ack: a, ok: ok})
		}
	}
}

func (in *Incremental) foldReign(a Ack, pos int) {
	k := reignKey{a.Node, a.Timeline}
	i, ok := in.reignAt[k]
	if !ok {
		in.reignAt[k] = len(in.reigns)
		in.reigns = append(in.reigns, reignState{Reign: Reign{Node: a.Node, Timeline: a.Timeline, First: a.First, Last: a.Last,
			From: a.FirstAt, To: a.LastAt}, pos: pos})
		return
	}
	r := &in.reigns[i]
	r.First, r.Last = min(r.First, a.First), max(r.Last, a.Last)
	if a.FirstAt.Before(r.From) {
		r.From, r.pos = a.FirstAt, pos
	}
	if a.LastAt.After(r.To) {
		r.To = a.LastAt
	}
}

// analyzeTail judges the tail, once per change of it.
func (in *Incremental) analyzeTail() *tailAnalysis {
	if in.cache != nil {
		return in.cache
	}
	ta := &tailAnalysis{acks: in.tailAcks}
	if len(ta.acks) > 0 {
		sorted := in.tail // read only, and the cache goes with any change
		as := make([]Ack, len(ta.acks))
		for i, a := range ta.acks {
			as[i] = a.Ack
		}
		ta.outages = outages(as, sorted, in.opts.Threshold)
		ta.failovers = explain(sorted, ta.outages, in.opts)
		for i := range ta.failovers {
			ta.failovers[i].ID = fmt.Sprintf("failover-%d", len(in.settledFo)+i+1)
		}
	}
	in.cache = ta
	return ta
}

// Settle moves what can no longer change out of the tail: the outages
// and failovers decided by the history up to SettleLag before now.
// Call it every so often with the head node's clock; Report is the same
// whether it was called or not.
func (in *Incremental) Settle(now time.Time) {
	limit := now.Add(-in.lag)
	defer in.foldOpenErrors(limit)
	ta := in.analyzeTail()
	if len(ta.acks) == 0 {
		// No ack yet (no probe): whichever range comes first, the
		// windows the analysis reads start at most CutSlack before it.
		if !in.settling || limit.After(in.ackFloor) {
			in.settle(limit, limit.Add(-in.opts.CutSlack), func(journal.Event, int) bool { return false })
		}
		return
	}
	// The boundary: the latest range that ends after every range before
	// it (so the sweep restarted there is the same), ends before limit,
	// and leaves every outage before it closed to later events.
	k, nOut := -1, 0
	maxLast := ta.acks[0].LastAt
	o := 0
	for j := 1; j < len(ta.acks); j++ {
		a := ta.acks[j]
		if !a.LastAt.After(maxLast) {
			continue
		}
		maxLast = a.LastAt
		if a.LastAt.After(limit) {
			break // later records end later still
		}
		// The outages the sweep emitted up to a end by its start; those
		// after it start after its end.
		for o < len(ta.outages) && !ta.outages[o].End.After(a.FirstAt) {
			o++
		}
		horizon := a.LastAt.Add(-in.opts.CutSlack)
		if o > 0 && ta.outages[o-1].End.Add(in.opts.PhaseSlack).After(horizon) {
			continue // its phases may still come
		}
		k, nOut = j, o
	}
	if k < 0 {
		return
	}
	b := ta.acks[k]
	in.settledOut = append(in.settledOut, ta.outages[:nOut]...)
	nf := 0
	for nf < len(ta.failovers) && !ta.failovers[nf].Outage.End.After(b.FirstAt) {
		nf++
	}
	in.settledFo = append(in.settledFo, ta.failovers[:nf]...)
	in.settle(b.FirstAt, b.LastAt.Add(-in.opts.CutSlack), func(e journal.Event, pos int) bool {
		a := ackOf(e)
		return a.FirstAt.After(b.FirstAt) || (a.FirstAt.Equal(b.FirstAt) && pos >= b.pos)
	})
}

// foldOpenErrors folds each run of probe errors of the gap after the last
// ack range, older than limit, into one event (the count of all, the end
// of the last), so an outage that stays open for an hour costs a tick no
// more than one of a minute. The analysis reads such errors only as counts
// between two ack ranges and as the end of the last one; no range may
// start inside a folded run any more (ackFloor), and no other event
// arrive with a time inside it (horizon: an error or a probe start there
// would change which error is the last), so both stay the same. A probe
// start or any other event ends a run.
func (in *Incremental) foldOpenErrors(limit time.Time) {
	if len(in.tailAcks) == 0 {
		return
	}
	var gap time.Time // the open gap starts at the latest ack's end
	for _, a := range in.tailAcks {
		if a.LastAt.After(gap) {
			gap = a.LastAt
		}
	}
	from := sort.Search(len(in.tail), func(i int) bool { return in.tail[i].At.After(gap) })
	n := from
	var end time.Time // of the folded events
	for i := from; i < len(in.tail); i++ {
		e := in.tail[i]
		if n > from && e.Kind == journal.KindProbeError && in.tail[n-1].Kind == journal.KindProbeError && e.At.Before(limit) {
			last := &in.tail[n-1]
			last.Count = last.ErrorCount() + e.ErrorCount()
			last.LastAt, last.Last = e.ErrorEnd(), max(e.Last, e.Seqno)
			end = e.At
			continue
		}
		in.tail[n], in.tailPos[n] = e, in.tailPos[i]
		n++
	}
	if end.IsZero() {
		return
	}
	clear(in.tail[n:])
	in.tail, in.tailPos = in.tail[:n], in.tailPos[:n]
	if end.After(in.ackFloor) {
		in.ackFloor = end
	}
	if end.After(in.horizon) {
		in.horizon = end
	}
	in.settling = true
	in.cache = nil
}

// settle sets the floors and keeps in the tail the ack ranges keepAck
// accepts and the other events from horizon on.
func (in *Incremental) settle(ackFloor, horizon time.Time, keepAck func(journal.Event, int) bool) {
	in.settling, in.ackFloor, in.horizon = true, ackFloor, horizon
	// Filtering keeps both orders.
	n := 0
	for i, e := range in.tail {
		if e.Kind == journal.KindProbeAck && !keepAck(e, in.tailPos[i]) || e.Kind != journal.KindProbeAck && e.At.Before(horizon) {
			continue
		}
		in.tail[n], in.tailPos[n] = e, in.tailPos[i]
		n++
	}
	clear(in.tail[n:])
	in.tail, in.tailPos = in.tail[:n], in.tailPos[:n]
	in.tailAcks = slices.DeleteFunc(in.tailAcks, func(a posAck) bool {
		return !keepAck(journal.Event{Kind: journal.KindProbeAck, First: a.First, Last: a.Last, FirstAt: a.FirstAt, LastAt: a.LastAt}, a.pos)
	})
	if cap(in.tail) > 2*n+256 {
		// The end of a long outage: give its events back.
		in.tail, in.tailPos = slices.Clip(slices.Clone(in.tail)), slices.Clip(slices.Clone(in.tailPos))
	}
	in.cache = nil
}

// Report is Analyze over every event added.
func (in *Incremental) Report() Report {
	ta := in.analyzeTail()
	var r Report
	if len(in.settledOut)+len(ta.outages) > 0 {
		r.Outages = slices.Concat(in.settledOut, ta.outages)
	}
	r.Open = in.Open()
	r.Failovers = in.Failovers(0, in.FailoverCount())
	r.Lost = in.Lost()
	rs := make([]reignState, len(in.reigns))
	copy(rs, in.reigns)
	slices.SortStableFunc(rs, func(a, b reignState) int {
		if c := a.From.Compare(b.From); c != 0 {
			return c
		}
		return a.pos - b.pos
	})
	reigns := make([]Reign, len(rs))
	for i, s := range rs {
		reigns[i] = s.Reign
	}
	r.SplitBrains = overlaps(reigns)
	r.Totals = in.Totals()
	return r
}

// FailoverCount is how many failovers Report lists.
func (in *Incremental) FailoverCount() int {
	return len(in.settledFo) + len(in.analyzeTail().failovers)
}

// failover is the i-th failover, without its lost commits.
func (in *Incremental) failover(i int) *Failover {
	if i < len(in.settledFo) {
		return &in.settledFo[i]
	}
	return &in.analyzeTail().failovers[i-len(in.settledFo)]
}

// Failovers returns Report's failovers from index from up to to, with
// their lost commits: a page of the list without building all of it.
func (in *Incremental) Failovers(from, to int) []Failover {
	n := in.FailoverCount()
	from, to = max(from, 0), min(to, n)
	if from >= to {
		return nil
	}
	out := make([]Failover, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, *in.failover(i))
	}
	for i := range in.lost {
		l := &in.lost[i]
		if !l.ok {
			continue
		}
		if i := in.lostIn(l, n); i >= from && i < to {
			f := &out[i-from]
			f.Lost = append(f.Lost, l.seq)
		}
	}
	return out
}

// FailoverAt is Report's i-th failover without its lost commits (which
// Failovers attaches).
func (in *Incremental) FailoverAt(i int) Failover { return *in.failover(i) }

// lostIn is the index of the failover a lost commit is attributed to
// (LostCommits: the first to start after its ack), n when none.
func (in *Incremental) lostIn(l *lostRef, n int) int {
	if l.foOK {
		return l.fo
	}
	// Failovers come in the order of their outages, whose starts never
	// go back.
	i := sort.Search(n, func(i int) bool { return !in.failover(i).Outage.Start.Before(l.ack.LastAt) })
	if i < len(in.settledFo) {
		l.fo, l.foOK = i, true
	}
	return i
}

// Lost is Report's lost commits.
func (in *Incremental) Lost() []LostCommit {
	var out []LostCommit
	n := in.FailoverCount()
	for i := range in.lost {
		l := &in.lost[i]
		if !l.ok {
			continue
		}
		lc := LostCommit{Seq: l.seq, Node: l.ack.Node, Timeline: l.ack.Timeline, AckedFrom: l.ack.FirstAt, AckedTo: l.ack.LastAt}
		if i := in.lostIn(l, n); i < n {
			lc.Failover = in.failover(i).ID
		}
		out = append(out, lc)
	}
	return out
}

// Open is the outage in progress at the end of the history, if any.
func (in *Incremental) Open() *Outage {
	ta := in.analyzeTail()
	if n := len(ta.outages); n > 0 && ta.outages[n-1].Open {
		o := ta.outages[n-1]
		return &o
	}
	return nil
}

// Totals is Report's totals.
func (in *Incremental) Totals() Totals {
	t := in.totals
	t.Errors = maps.Clone(in.totals.Errors)
	return t
}

// Late counts the events that came too late to be judged exactly.
func (in *Incremental) Late() int { return in.late }

// IncrementalStats tell what an Incremental holds, for benchmarks.
type IncrementalStats struct {
	// Events were added; Tail of them are held as events.
	Events, Tail int
	// Settled counts the settled outages and failovers.
	SettledOutages, SettledFailovers int
	// AckRanges are indexed in IndexBytes.
	AckRanges, IndexBytes int
}

// Stats tells what the analysis holds.
func (in *Incremental) Stats() IncrementalStats {
	return IncrementalStats{Events: in.events, Tail: len(in.tail), SettledOutages: len(in.settledOut),
		SettledFailovers: len(in.settledFo), AckRanges: in.index.n, IndexBytes: in.index.bytes()}
}

// LostByFailover counts Report's lost commits by the index of the
// failover they are attributed to; those of no failover are left out.
func (in *Incremental) LostByFailover() map[int]int {
	out := map[int]int{}
	n := in.FailoverCount()
	for i := range in.lost {
		l := &in.lost[i]
		if !l.ok {
			continue
		}
		if i := in.lostIn(l, n); i < n {
			out[i]++
		}
	}
	return out
}

// ClosedOutageCount is how many of Report's outages are closed: all but
// the one still open, if any. Closed outages keep their place in the list.
func (in *Incremental) ClosedOutageCount() int {
	n := len(in.settledOut) + len(in.analyzeTail().outages)
	if in.Open() != nil {
		n--
	}
	return n
}

// OutageAt is Report's i-th outage, i below ClosedOutageCount.
func (in *Incremental) OutageAt(i int) Outage {
	if i < len(in.settledOut) {
		return in.settledOut[i]
	}
	return in.analyzeTail().outages[i-len(in.settledOut)]
}
