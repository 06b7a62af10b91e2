package probe

import (
	"time"

	"github.com/redswitch/redswitch/journal"
	"github.com/redswitch/redswitch/probe/analysis"
)

// compactor folds single acknowledged commits into ack ranges. A range only
// ever holds consecutive sequence numbers served by one node on one
// timeline with no gap above gap between acks, so the analysis can treat
// the gaps between ranges as the only gaps in acknowledgement.
type compactor struct {
	gap        time.Duration
	flushEvery time.Duration
	open       bool
	cur        journal.Event
}

// ack adds one commit and returns the range it closed, if any.
func (c *compactor) ack(node string, tl int, seq uint64, sent, at time.Time) (journal.Event, bool) {
	var closed journal.Event
	var ok bool
	if c.open && (node != c.cur.Node || tl != c.cur.Timeline || seq != c.cur.Last+1 ||
		at.Sub(c.cur.LastAt) > c.gap || at.Sub(c.cur.FirstAt) >= c.flushEvery) {
		closed, ok = c.flush()
	}
	if !c.open {
		c.open = true
		c.cur = journal.Event{Kind: journal.KindProbeAck, Node: node, Timeline: tl,
			First: seq, Last: seq, FirstAt: at, LastAt: at, SentAt: sent}
		return closed, ok
	}
	c.cur.Last = seq
	c.cur.LastAt = at
	return closed, ok
}

// due reports whether the open range is old enough to be flushed now, so
// the journal stays current even while commits flow without a break.
func (c *compactor) due(now time.Time) bool {
	return c.open && now.Sub(c.cur.FirstAt) >= c.flushEvery
}

// flush closes the open range; At is the time of its last ack.
func (c *compactor) flush() (journal.Event, bool) {
	if !c.open {
		return journal.Event{}, false
	}
	c.open = false
	e := c.cur
	e.At = e.LastAt
	return e, true
}

// errorKey is what makes two failed writes alike: the same SQLSTATE, the
// same message (for connection errors the message is the error class
// classify chose) and the same phase (connect or insert).
type errorKey struct {
	sqlstate, msg, phase string
}

func keyOf(e journal.Event) errorKey { return errorKey{e.SQLState, e.Error, e.Detail} }

// lastSeqOf is the probe number of the last failure e stands for.
func lastSeqOf(e journal.Event) uint64 { return max(e.Seqno, e.Last) }

// errorRuns folds the repeats of a failing write into counted events: with
// the primary port dead the probe fails a hundred times a second, and one
// journal line each would flood the journal (60 MB an hour).
//
// The first failure of a run is returned at once, on its own: it is the
// evidence that an outage started and must not wait. Its repeats are held
// in memory and returned as one KindProbeError event with Count, LastAt and
// Last when the run ends (a different error, an ack, the probe stopping) or
// when they are flushEvery old. A crash thus loses at most flushEvery's
// worth of the count, never the start, and an outage in progress still
// shows in the journal as it grows. Since a run ends before the next ack
// is journaled, every event stands for failures between the same two acks,
// which keeps the analysis' error counts per outage exact.
//
// The live probe and CompactErrors share this one core.
type errorRuns struct {
	flushEvery time.Duration // 0: repeats are held until the run ends
	open       bool
	key        errorKey
	last       time.Time     // the run's latest failure
	pending    journal.Event // repeats not returned yet, when Count > 0
}

// add takes one failed write (or an event that already stands for several)
// and returns the events to journal now, in order.
func (c *errorRuns) add(e journal.Event) []journal.Event {
	if c.open && keyOf(e) == c.key && !e.At.Before(c.last) {
		c.last = e.ErrorEnd()
		if c.pending.Count == 0 {
			c.pending = e
			c.pending.Count = e.ErrorCount()
		} else {
			c.pending.Count += e.ErrorCount()
		}
		c.pending.LastAt, c.pending.Last = e.ErrorEnd(), lastSeqOf(e)
		return nil
	}
	// A new run; time going back (a damaged or merged history) starts one
	// too, so an event never spans more than its own stretch of time.
	var out []journal.Event
	if closed, ok := c.end(); ok {
		out = append(out, closed)
	}
	c.open, c.key, c.last = true, keyOf(e), e.ErrorEnd()
	return append(out, e)
}

// due reports whether the held repeats are old enough to be journaled now.
func (c *errorRuns) due(now time.Time) bool {
	return c.flushEvery > 0 && c.pending.Count > 0 && now.Sub(c.pending.At) >= c.flushEvery
}

// flush returns the held repeats as one event; the run stays open, so the
// next failure alike is held again rather than journaled at once.
func (c *errorRuns) flush() (journal.Event, bool) {
	if c.pending.Count == 0 {
		return journal.Event{}, false
	}
	e := c.pending
	c.pending = journal.Event{}
	if e.Count == 1 {
		// A single failure reads exactly as it did before compaction.
		e.Count, e.LastAt, e.Last = 0, time.Time{}, 0
	}
	return e, true
}

// end closes the run and returns its held repeats, if any.
func (c *errorRuns) end() (journal.Event, bool) {
	c.open = false
	return c.flush()
}

// CompactErrors returns events with the probe errors compacted as the live
// probe compacts them (one core, errorRuns): in a run of failures alike,
// the first stays as it is and the repeats become events carrying Count,
// LastAt and Last, at most flushEvery apart (one event per run when
// flushEvery <= 0). A run ends at an error of another kind, an ack range
// or a start of the probe; other events pass through unchanged and in
// order. Events must be in journal order, as the probe appended them. A
// compacted event keeps the Seq of the first event it stands for. The
// split points may differ from the live probe's by a failure, since the
// live probe also looks at the clock between failures; the analysis
// cannot tell.
func CompactErrors(events []journal.Event, flushEvery time.Duration) []journal.Event {
	c := errorRuns{flushEvery: flushEvery}
	out := make([]journal.Event, 0, len(events))
	emit := func(e journal.Event, ok bool) {
		if ok {
			out = append(out, e)
		}
	}
	for _, e := range events {
		switch {
		case e.Kind == journal.KindProbeError:
			if c.due(e.At) {
				emit(c.flush())
			}
			out = append(out, c.add(e)...)
		case e.Kind == journal.KindProbeAck || isProbeStart(e):
			emit(c.end())
			out = append(out, e)
		default:
			out = append(out, e)
		}
	}
	emit(c.end())
	return out
}

func isProbeStart(e journal.Event) bool {
	return e.Kind == journal.KindMark && e.Source == analysis.ProbeSource && e.Detail == analysis.ProbeStartDetail
}
