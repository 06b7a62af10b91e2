package probe

import (
	"maps"
	"time"
)

// Stats is the probe's state for the API and dashboard.
type Stats struct {
	Running   bool `json:"running"`
	Connected bool `json:"connected"`
	// Seq is the last sequence number attempted.
	Seq    uint64 `json:"seq"`
	Acks   uint64 `json:"acks"`
	Errors uint64 `json:"errors"`
	// ErrorsBySQLState counts errors; connection errors under "".
	ErrorsBySQLState map[string]uint64 `json:"errors_by_sqlstate,omitempty"`
	// Rate is acknowledged commits per second over the last RateWindow.
	Rate float64 `json:"rate"`
	// LastAck is when the last commit was acknowledged, by Node on Timeline.
	LastAck  time.Time `json:"last_ack,omitzero"`
	Node     string    `json:"node,omitempty"`
	Timeline int       `json:"timeline,omitempty"`
	// Outage is set when nothing was acknowledged for longer than
	// Options.OutageAfter; OutageSince is the last ack before (or the start).
	Outage       bool      `json:"outage"`
	OutageSince  time.Time `json:"outage_since,omitzero"`
	LastError    string    `json:"last_error,omitempty"`
	LastSQLState string    `json:"last_sqlstate,omitempty"`
}

// RateWindow is the span Stats.Rate averages over.
const RateWindow = 5 * time.Second

const bucketWidth = 100 * time.Millisecond

// rate counts acks in fixed 100 ms buckets over RateWindow: bounded memory
// however long the probe runs.
type rate struct {
	base    time.Time
	ids     [RateWindow / bucketWidth]int64
	counts  [RateWindow / bucketWidth]uint64
	started bool
}

func (r *rate) add(at time.Time) {
	if !r.started {
		r.base, r.started = at, true
	}
	id := int64(at.Sub(r.base) / bucketWidth)
	i := int(id % int64(len(r.ids)))
	if i < 0 {
		return // before the base: cannot happen with a monotonic clock
	}
	if r.ids[i] != id {
		r.ids[i], r.counts[i] = id, 0
	}
	r.counts[i]++
}

func (r *rate) perSecond(now time.Time) float64 {
	if !r.started {
		return 0
	}
	cur := int64(now.Sub(r.base) / bucketWidth)
	var n uint64
	for i, id := range r.ids {
		if id > cur-int64(len(r.ids)) && id <= cur {
			n += r.counts[i]
		}
	}
	span := min(RateWindow, now.Sub(r.base))
	if span < bucketWidth {
		span = bucketWidth
	}
	return float64(n) / span.Seconds()
}

// state is what Stats reports, guarded by Probe.mu.
type state struct {
	running, connected bool
	seq, acks, errors  uint64
	bySQLState         map[string]uint64
	rate               rate
	lastAck, started   time.Time
	node               string
	tl                 int
	lastErr, lastState string
}

func (s *state) snapshot(now time.Time, outageAfter time.Duration) Stats {
	st := Stats{
		Running: s.running, Connected: s.connected, Seq: s.seq, Acks: s.acks, Errors: s.errors,
		ErrorsBySQLState: maps.Clone(s.bySQLState), Rate: s.rate.perSecond(now),
		LastAck: s.lastAck, Node: s.node, Timeline: s.tl, LastError: s.lastErr, LastSQLState: s.lastState,
	}
	since := s.lastAck
	if since.IsZero() {
		since = s.started
	}
	if s.running && !since.IsZero() && now.Sub(since) > outageAfter {
		st.Outage, st.OutageSince = true, since
	}
	return st
}
