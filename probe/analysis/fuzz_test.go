package analysis

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/redswitch/redswitch/journal"
)

var fuzzKinds = []journal.Kind{
	journal.KindProbeAck, journal.KindProbeAck, journal.KindProbeError, journal.KindProbeReadback,
	journal.KindPower, journal.KindFaultInject, journal.KindLeader, journal.KindHAProxy,
	journal.KindRole, journal.KindMark, journal.KindSwitch, "bogus",
}

var fuzzNodes = []string{"", "n1", "n2", "n3"}

// decodeEvents turns fuzz bytes into events, 8 bytes each: kind, node,
// flags, time step (ms, may go backwards), seq and length.
func decodeEvents(data []byte) []journal.Event {
	var out []journal.Event
	at := t0
	for i := 0; i+8 <= len(data); i += 8 {
		b := data[i : i+8]
		step := time.Duration(int16(binary.BigEndian.Uint16(b[3:5]))) * time.Millisecond
		at = at.Add(step)
		seq := uint64(binary.BigEndian.Uint16(b[5:7]))
		n := uint64(b[7])
		e := journal.Event{
			Seq: uint64(len(out) + 1), At: at,
			Kind: fuzzKinds[int(b[0])%len(fuzzKinds)], Node: fuzzNodes[int(b[1])%len(fuzzNodes)],
			On: journal.Bool(b[2]&1 == 1), Timeline: int(b[2] >> 4),
		}
		switch e.Kind {
		case journal.KindProbeAck:
			e.First, e.Last = seq, seq+n-1 // n == 0 makes Last < First
			if b[2]&2 == 0 {
				e.FirstAt, e.LastAt = at, at.Add(time.Duration(n)*10*time.Millisecond)
			}
		case journal.KindProbeError:
			e.Seqno = seq
			if b[2]&2 == 0 {
				e.SQLState = "25006"
			}
		case journal.KindProbeReadback:
			e.Missing = []uint64{seq, seq + n}
		case journal.KindHAProxy:
			e.Detail = "primary"
		case journal.KindRole:
			e.Role = "master"
		case journal.KindMark:
			e.Source, e.Detail = ProbeSource, ProbeStartDetail
		}
		if b[2]&8 == 8 {
			e.At = time.Time{}
		}
		out = append(out, e)
	}
	return out
}

func FuzzAnalyze(f *testing.F) {
	f.Add([]byte{0, 1, 0x10, 0, 10, 0, 1, 100, 4, 1, 0, 0, 5, 0, 0, 0, 0, 2, 0x20, 19, 136, 0, 101, 50})
	f.Add([]byte{0, 1, 0x10, 0, 10, 0, 1, 100, 0, 2, 0x20, 0, 0, 0, 50, 100, 3, 0, 0, 0, 1, 0, 60, 0})
	f.Add(make([]byte, 64))
	f.Fuzz(func(t *testing.T, data []byte) {
		events := decodeEvents(data)
		opts := Options{Threshold: 200 * time.Millisecond}
		r := Analyze(events, opts)
		for _, o := range r.Outages {
			if o.Duration <= opts.Threshold || !o.End.After(o.Start) {
				t.Fatalf("outage %+v not longer than the threshold", o)
			}
		}
		for _, fo := range r.Failovers {
			if fo.Duration < 0 {
				t.Fatalf("failover %s has negative duration %v", fo.ID, fo.Duration)
			}
			for _, p := range fo.Phases {
				if p.Seconds < 0 {
					t.Fatalf("failover %s phase %s before the cut", fo.ID, p.Name)
				}
			}
			first := -1.0
			for _, p := range fo.Phases {
				if p.Name == PhaseFirstCommit {
					first = p.Seconds
				}
			}
			if first != fo.Duration.Seconds() {
				t.Fatalf("failover %s: first commit phase %v, duration %v", fo.ID, first, fo.Duration)
			}
		}
		for _, l := range r.Lost {
			acked := false
			for _, e := range events {
				if e.Kind == journal.KindProbeAck && e.First <= l.Seq && l.Seq <= max(e.First, e.Last) {
					acked = true
				}
			}
			if !acked {
				t.Fatalf("lost seq %d was never acknowledged", l.Seq)
			}
		}
		for _, o := range r.SplitBrains {
			if !o.To.After(o.From) || (o.A.Node == o.B.Node && o.A.Timeline == o.B.Timeline) {
				t.Fatalf("bad overlap %+v", o)
			}
		}
	})
}
