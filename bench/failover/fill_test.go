package failover

import (
	"reflect"
	"testing"
	"time"

	"github.com/redswitch/redswitch/journal"
	"github.com/redswitch/redswitch/probe"
	"github.com/redswitch/redswitch/probe/analysis"
)

// benchHistory is one failover as the probe wrote it before compaction:
// acks on n1, the cut, refused connections, read-only answers while n2
// promotes, a blip of a reset after the first commit (outside the outage),
// acks on n2. Times are ms from t.
func benchHistory(t0 time.Time) []journal.Event {
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	var ev []journal.Event
	seq := uint64(0)
	add := func(e journal.Event) {
		e.Seq = uint64(len(ev) + 1)
		ev = append(ev, e)
	}
	acks := func(node string, tl, from, to int) {
		for start := from; start <= to; start += 1000 {
			end := min(start+990, to)
			n := uint64((end-start)/10 + 1)
			add(journal.Event{At: at(end), Kind: journal.KindProbeAck, Node: node, Timeline: tl,
				First: seq + 1, Last: seq + n, FirstAt: at(start), LastAt: at(end)})
			seq += n
		}
	}
	errs := func(from, to int, sqlstate, msg, phase string) {
		for ms := from; ms <= to; ms += 10 {
			seq++
			add(journal.Event{At: at(ms), Kind: journal.KindProbeError, Seqno: seq, SQLState: sqlstate, Error: msg,
				Detail: phase, SentAt: at(ms - 1)})
		}
	}
	acks("n1", 1, 0, 2000)
	add(journal.Event{At: at(2005), Kind: journal.KindPower, Node: "n1", On: journal.Bool(false), Source: "switch"})
	errs(2010, 2560, "", "connection refused", "insert")
	add(journal.Event{At: at(2565), Kind: journal.KindHAProxy, Node: "n1", Detail: "primary", On: journal.Bool(false)})
	errs(2570, 6790, "", "connection refused", "connect")
	add(journal.Event{At: at(6795), Kind: journal.KindLeader})
	add(journal.Event{At: at(6875), Kind: journal.KindLeader, Node: "n2"})
	errs(6880, 7050, "", "connection refused", "connect")
	add(journal.Event{At: at(7055), Kind: journal.KindRole, Node: "n2", Role: "master", State: "running"})
	errs(7060, 7250, probe.ReadOnly, "cannot execute INSERT in a read-only transaction", "insert")
	add(journal.Event{At: at(7335), Kind: journal.KindHAProxy, Node: "n2", Detail: "primary", On: journal.Bool(true)})
	errs(7260, 7370, probe.ReadOnly, "cannot execute INSERT in a read-only transaction", "insert")
	acks("n2", 2, 7380, 8000)
	errs(8010, 8010, "", "connection reset", "insert")
	acks("n2", 2, 8020, 9000)
	return ev
}

// TestFillCountsCompactedErrors: a trial filled from the compacted journal
// equals the one filled from the journal as the probe wrote it before.
func TestFillCountsCompactedErrors(t *testing.T) {
	t0 := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	raw := benchHistory(t0)
	trial := func(events []journal.Event) Trial {
		fs := analysis.Failovers(events, analysis.Options{})
		if len(fs) != 1 {
			t.Fatalf("failovers = %+v, want one", fs)
		}
		var tr Trial
		fill(&tr, fs[0], events)
		return tr
	}
	want := trial(raw)
	if want.ProbeErrors["connection"] != 497 || want.ProbeErrors[probe.ReadOnly] != 32 || want.FirstReadOnlyS != 5.055 {
		t.Fatalf("bad test: raw trial %+v", want)
	}
	for _, flushEvery := range []time.Duration{0, 100 * time.Millisecond, time.Second} {
		t.Run(flushEvery.String(), func(t *testing.T) {
			compacted := probe.CompactErrors(raw, flushEvery)
			if len(compacted) >= len(raw)/4 {
				t.Fatalf("bad test: %d events compacted to %d", len(raw), len(compacted))
			}
			if got := trial(compacted); !reflect.DeepEqual(got, want) {
				t.Errorf("trial from the compacted journal:\n%+v\nwant:\n%+v", got, want)
			}
		})
	}
}
