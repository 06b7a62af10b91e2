package analysis

import (
	"time"

	"github.com/redswitch/redswitch/journal"
)

// Totals count what the probe saw over the whole history.
type Totals struct {
	// Acks is the number of acknowledged commits.
	Acks uint64 `json:"acks"`
	// Errors counts failed probe writes (not events: see
	// journal.Event.ErrorCount) by SQLSTATE; errors without one are
	// counted under ConnectionError.
	Errors    map[string]int `json:"errors,omitempty"`
	Readbacks int            `json:"readbacks"`
	FirstAck  time.Time      `json:"first_ack,omitzero"`
	LastAck   time.Time      `json:"last_ack,omitzero"`
}

// Report is the judgement of a whole history.
type Report struct {
	Outages   []Outage   `json:"outages,omitempty"`
	Failovers []Failover `json:"failovers,omitempty"`
	// Lost are all lost commits, including those without a failover.
	Lost        []LostCommit `json:"lost,omitempty"`
	SplitBrains []Overlap    `json:"split_brains,omitempty"`
	// Open is the outage in progress at the end of the history, if any.
	Open   *Outage `json:"open,omitempty"`
	Totals Totals  `json:"totals"`
}

// Analyze judges a history: outages, failovers with the commits they lost,
// split brain and totals.
func Analyze(events []journal.Event, opts Options) Report {
	opts = opts.withDefaults()
	var r Report
	r.Outages = Outages(events, opts.Threshold)
	if n := len(r.Outages); n > 0 && r.Outages[n-1].Open {
		o := r.Outages[n-1]
		r.Open = &o
	}
	r.Failovers = Failovers(events, opts)
	r.Lost = LostCommits(events, r.Failovers)
	for _, l := range r.Lost {
		for i := range r.Failovers {
			if r.Failovers[i].ID == l.Failover {
				r.Failovers[i].Lost = append(r.Failovers[i].Lost, l.Seq)
			}
		}
	}
	r.SplitBrains = SplitBrain(events)
	for _, a := range acks(events) {
		r.Totals.Acks += a.Last - a.First + 1
		if r.Totals.FirstAck.IsZero() || a.FirstAt.Before(r.Totals.FirstAck) {
			r.Totals.FirstAck = a.FirstAt
		}
		if a.LastAt.After(r.Totals.LastAck) {
			r.Totals.LastAck = a.LastAt
		}
	}
	for _, e := range events {
		switch e.Kind {
		case journal.KindProbeError:
			if r.Totals.Errors == nil {
				r.Totals.Errors = map[string]int{}
			}
			r.Totals.Errors[ErrorKey(e.SQLState)] += e.ErrorCount()
		case journal.KindProbeReadback:
			r.Totals.Readbacks++
		}
	}
	return r
}

// ErrorKey is the name under which an error with this SQLSTATE is counted.
func ErrorKey(sqlstate string) string {
	if sqlstate == "" {
		return ConnectionError
	}
	return sqlstate
}
