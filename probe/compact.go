package probe

import (
	"time"

	"github.com/redswitch/redswitch/journal"
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
