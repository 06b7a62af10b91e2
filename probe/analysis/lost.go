package analysis

import (
	"slices"
	"time"

	"github.com/redswitch/redswitch/journal"
)

// LostCommit is an acknowledged probe commit that a read-back did not find.
type LostCommit struct {
	Seq uint64 `json:"seq"`
	// Node and Timeline acknowledged it, within the range AckedFrom..AckedTo.
	Node      string    `json:"node"`
	Timeline  int       `json:"timeline"`
	AckedFrom time.Time `json:"acked_from"`
	AckedTo   time.Time `json:"acked_to"`
	// Failover is the ID of the first failover after the ack, empty if the
	// commit vanished without one.
	Failover string `json:"failover,omitempty"`
}

// LostCommits returns the acknowledged sequence numbers that read-backs
// (KindProbeReadback) reported missing, each once and in order, attributed
// to the first of failovers that began after it was acknowledged. Numbers
// reported missing that were never acknowledged are not losses.
func LostCommits(events []journal.Event, failovers []Failover) []LostCommit {
	missing := map[uint64]bool{}
	for _, e := range events {
		if e.Kind == journal.KindProbeReadback {
			for _, s := range e.Missing {
				missing[s] = true
			}
		}
	}
	if len(missing) == 0 {
		return nil
	}
	seqs := make([]uint64, 0, len(missing))
	for s := range missing {
		seqs = append(seqs, s)
	}
	slices.Sort(seqs)
	as := acks(events)
	var out []LostCommit
	for _, s := range seqs {
		i := slices.IndexFunc(as, func(a Ack) bool { return a.First <= s && s <= a.Last })
		if i < 0 {
			continue
		}
		a := as[i]
		l := LostCommit{Seq: s, Node: a.Node, Timeline: a.Timeline, AckedFrom: a.FirstAt, AckedTo: a.LastAt}
		for _, f := range failovers {
			if !f.Outage.Start.Before(a.LastAt) {
				l.Failover = f.ID
				break
			}
		}
		out = append(out, l)
	}
	return out
}
