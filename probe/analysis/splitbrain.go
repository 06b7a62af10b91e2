package analysis

import (
	"slices"
	"time"

	"github.com/redswitch/redswitch/journal"
)

// Reign is the time one node on one timeline acknowledged commits: from its
// first to its last ack range.
type Reign struct {
	Node     string    `json:"node"`
	Timeline int       `json:"timeline"`
	First    uint64    `json:"first"`
	Last     uint64    `json:"last"`
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
}

// Overlap is split brain: two reigns whose windows intersect in From..To,
// so two primaries accepted commits at the same time.
type Overlap struct {
	A    Reign     `json:"a"`
	B    Reign     `json:"b"`
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

type reignKey struct {
	node string
	tl   int
}

// Reigns groups the ack ranges by node and timeline, ordered by start. A
// promotion always starts a new timeline, so a node that acknowledges on
// the same timeline before and after another node did was never demoted.
func Reigns(events []journal.Event) []Reign {
	idx := map[reignKey]int{}
	var out []Reign
	for _, a := range acks(events) {
		k := reignKey{a.Node, a.Timeline}
		i, ok := idx[k]
		if !ok {
			idx[k] = len(out)
			out = append(out, Reign{Node: a.Node, Timeline: a.Timeline, First: a.First, Last: a.Last, From: a.FirstAt, To: a.LastAt})
			continue
		}
		r := &out[i]
		r.First, r.Last = min(r.First, a.First), max(r.Last, a.Last)
		if a.FirstAt.Before(r.From) {
			r.From = a.FirstAt
		}
		if a.LastAt.After(r.To) {
			r.To = a.LastAt
		}
	}
	slices.SortStableFunc(out, func(a, b Reign) int { return a.From.Compare(b.From) })
	return out
}

// SplitBrain returns every pair of reigns (different node or timeline)
// whose windows overlap. Windows that only touch do not overlap.
func SplitBrain(events []journal.Event) []Overlap {
	return overlaps(Reigns(events))
}

// overlaps is SplitBrain over reigns ordered by From.
func overlaps(rs []Reign) []Overlap {
	var out []Overlap
	for i, a := range rs {
		for _, b := range rs[i+1:] {
			if !b.From.Before(a.To) {
				break // sorted by From: no later reign overlaps a either
			}
			to := a.To
			if b.To.Before(to) {
				to = b.To
			}
			if to.After(b.From) {
				out = append(out, Overlap{A: a, B: b, From: b.From, To: to})
			}
		}
	}
	return out
}
