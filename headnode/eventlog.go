package headnode

import (
	"cmp"
	"slices"
	"sync"
	"time"

	"github.com/redswitch/redswitch/journal"
	"github.com/redswitch/redswitch/probe"
	"github.com/redswitch/redswitch/probe/analysis"
)

// DefaultKeep is how much recent history an EventLog keeps in memory by
// default.
const DefaultKeep = time.Hour

// EventLogOptions tune an EventLog; zero values take the defaults.
type EventLogOptions struct {
	// Keep is how far back, in event time, Events reaches at least
	// (DefaultKeep); older events stay in the journal on disk. Negative
	// keeps everything, as before the log was bounded (benchmarks
	// comparing the two).
	Keep time.Duration
}

// EventLog appends to the journal and keeps the recent history in memory:
// the last Keep of events, more while a scenario run holds its start (Hold),
// and the latest event of each piece of state from before (who led, each
// node's role and power, HAProxy's view, active faults, the last probe
// start and history reset), so that a reader of Events still knows the
// state the window starts in. What needs the whole history is folded in as
// it is appended: the acknowledged probe numbers (Acked) for read-backs;
// the analysis keeps its own (headnode.Observer). The full history stays
// in the journal.
type EventLog struct {
	j    *journal.Journal
	keep time.Duration

	mu sync.Mutex
	ev []journal.Event
	// carry holds, by state key, the latest event dropped from ev.
	carry  map[string]journal.Event
	newest time.Time
	holds  map[int]time.Time
	nextID int
	acked  probe.AckSet
	total  int
	// listeners get every event once it is written, in order.
	listeners []func(journal.Event)
}

// NewEventLog wraps an open journal and the history read back from it;
// opts, at most one, tune it (the defaults without).
func NewEventLog(j *journal.Journal, history []journal.Event, opts ...EventLogOptions) *EventLog {
	var o EventLogOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.Keep == 0 {
		o.Keep = DefaultKeep
	}
	l := &EventLog{j: j, keep: o.Keep, carry: map[string]journal.Event{}, holds: map[int]time.Time{}}
	for _, e := range history {
		l.fold(e)
	}
	l.ev = slices.Clone(history)
	l.trim(true)
	return l
}

// Append records e: it writes it to the journal, keeps it in memory and
// tells the listeners, all in sequence order, then waits until it is as
// durable as its kind asks (journal.Journal.Append's guarantee). An
// event whose fsync failed stays in memory, since it was written; the
// journal refuses everything after it and the state says so.
func (l *EventLog) Append(e journal.Event) (journal.Event, error) {
	l.mu.Lock()
	// Held for the write, not the fsync: memory, file and listeners keep
	// one order, and an unsynced probe ack does not wait behind a power
	// or role event's fsync at failover time.
	e, err := l.j.Write(e)
	if err != nil {
		l.mu.Unlock()
		return e, err
	}
	l.fold(e)
	l.ev = append(l.ev, e)
	l.trim(false)
	for _, f := range l.listeners {
		f(e)
	}
	l.mu.Unlock()
	return e, l.j.WaitDurable(e)
}

func (l *EventLog) fold(e journal.Event) {
	l.total++
	l.acked.Add(e)
	if e.At.After(l.newest) {
		l.newest = e.At
	}
}

// trim drops the events older than Keep (and than every hold) into the
// carried state. It runs when the oldest event is a quarter of Keep past
// due, so each event is copied a few times at most.
func (l *EventLog) trim(force bool) {
	if l.keep < 0 || len(l.ev) == 0 {
		return
	}
	cutoff := l.newest.Add(-l.keep)
	for _, h := range l.holds {
		if h.Before(cutoff) {
			cutoff = h
		}
	}
	if !force && !l.ev[0].At.Before(cutoff.Add(-l.keep/4)) {
		return
	}
	i := 0
	for i < len(l.ev) && l.ev[i].At.Before(cutoff) {
		carry(l.carry, l.ev[i])
		i++
	}
	if i > 0 {
		l.ev = slices.Clone(l.ev[i:])
	}
}

// carry keeps e in m if it is the latest of a piece of state.
func carry(m map[string]journal.Event, e journal.Event) {
	k := string(e.Kind) + "|" + e.Node
	switch e.Kind {
	case journal.KindProbeAck, journal.KindProbeError, journal.KindProbeReadback, journal.KindNode, journal.KindPatroniLog:
		return // the analysis, Acked and the outages keep what counts of these
	case journal.KindMark:
		if e.Detail != historyResetDetail && (e.Source != analysis.ProbeSource || e.Detail != analysis.ProbeStartDetail) {
			return // scenario steps and the like
		}
		k = string(e.Kind) + "|" + e.Source + "|" + e.Detail
	case journal.KindFaultInject:
		k = "fault|" + e.ID
	case journal.KindFaultRecover:
		delete(m, "fault|"+e.ID) // only faults still active matter
		return
	case journal.KindHAProxy:
		k += "|" + e.Detail
	case journal.KindSwitch:
		k += "|" + e.ID
	}
	m[k] = e
}

// Events returns the history in memory, in journal order: the carried
// state, then every event of the last Keep (and of any hold).
func (l *EventLog) Events() []journal.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]journal.Event, 0, len(l.carry)+len(l.ev))
	for _, e := range l.carry {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b journal.Event) int { return cmp.Compare(a.Seq, b.Seq) })
	return append(out, l.ev...)
}

// Acked is every acknowledged probe number of the whole journal, as
// probe.AckedRanges over all of it would say: what a read-back checks.
func (l *EventLog) Acked() []probe.Range {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.acked.Ranges()
}

// Hold keeps every event from from on in memory until release is called:
// a scenario run holds its start, so its verdicts see its whole history
// however long it runs.
func (l *EventLog) Hold(from time.Time) (release func()) {
	l.mu.Lock()
	defer l.mu.Unlock()
	id := l.nextID
	l.nextID++
	l.holds[id] = from
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		delete(l.holds, id)
	}
}

// Listen calls f for every event recorded from now on. f runs under the
// log's lock: it must be quick and must not append.
func (l *EventLog) Listen(f func(journal.Event)) {
	l.ListenAfter(^uint64(0), f)
}

// ListenAfter calls f at once for the events in memory numbered after
// seq, then for every event recorded from now on, with nothing missed or
// repeated in between. f runs under the log's lock: it must be quick and
// must not append.
func (l *EventLog) ListenAfter(seq uint64, f func(journal.Event)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.ev {
		if e.Seq > seq {
			f(e)
		}
	}
	l.listeners = append(l.listeners, f)
}

// EventLogStats tell what an EventLog holds.
type EventLogStats struct {
	// Total events went through the log; Window and Carried of them are
	// in memory.
	Total, Window, Carried int
	// AckedRanges is the size of Acked.
	AckedRanges int
}

// Stats tells what the log holds, for benchmarks.
func (l *EventLog) Stats() EventLogStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return EventLogStats{Total: l.total, Window: len(l.ev), Carried: len(l.carry), AckedRanges: len(l.acked.Ranges())}
}
