package probe

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redswitch/redswitch/journal"
	"github.com/redswitch/redswitch/probe/analysis"
)

// TestCompactErrors checks the shared core on hand-made journals: what
// stays, what is folded, and where a run ends.
func TestCompactErrors(t *testing.T) {
	ack := func(at int) journal.Event {
		return journal.Event{At: ms(at), Kind: journal.KindProbeAck, Node: "n1", First: uint64(at), Last: uint64(at), FirstAt: ms(at), LastAt: ms(at)}
	}
	fail := func(at int, sqlstate, msg, phase string) journal.Event {
		return journal.Event{At: ms(at), Kind: journal.KindProbeError, Seqno: uint64(at), SQLState: sqlstate, Error: msg,
			Detail: phase, SentAt: ms(at - 1)}
	}
	refused := func(at int) journal.Event { return fail(at, "", "connection refused", "connect") }
	readOnly := func(at int) journal.Event { return fail(at, "25006", "read-only", "insert") }
	refusedRun := func(from, to int) []journal.Event {
		var out []journal.Event
		for at := from; at <= to; at += 10 {
			out = append(out, refused(at))
		}
		return out
	}
	start := journal.Event{At: ms(5000), Kind: journal.KindMark, Source: analysis.ProbeSource, Detail: analysis.ProbeStartDetail}
	leader := journal.Event{At: ms(35), Kind: journal.KindLeader, Node: "n2"}
	cat := func(parts ...[]journal.Event) []journal.Event { return slices.Concat(parts...) }
	one := func(es ...journal.Event) []journal.Event { return es }
	tests := []struct {
		name       string
		in         []journal.Event
		flushEvery time.Duration
		want       []string // see str below
	}{
		{"a single error stays as it is", one(ack(0), refused(10), ack(20)), 0,
			[]string{"ack@0", "err connection refused@10 seq 10", "ack@20"}},
		{"repeats fold into one event", cat(one(ack(0)), refusedRun(10, 100), one(ack(110))), 0,
			[]string{"ack@0", "err connection refused@10 seq 10", "err connection refused@20..100 seq 20..100 x9", "ack@110"}},
		{"two repeats", cat(refusedRun(10, 30), one(ack(40))), 0,
			[]string{"err connection refused@10 seq 10", "err connection refused@20..30 seq 20..30 x2", "ack@40"}},
		{"another error ends the run", cat(refusedRun(10, 30), one(readOnly(40), readOnly(50), refused(60))), 0,
			[]string{"err connection refused@10 seq 10", "err connection refused@20..30 seq 20..30 x2",
				"err 25006 read-only@40 seq 40", "err 25006 read-only@50 seq 50", "err connection refused@60 seq 60"}},
		{"another phase ends the run", one(refused(10), fail(20, "", "connection refused", "insert"), fail(30, "", "connection refused", "insert")), 0,
			[]string{"err connection refused@10 seq 10", "err connection refused@20 seq 20", "err connection refused@30 seq 30"}},
		{"other events pass through without ending the run", cat(refusedRun(10, 30), one(leader), refusedRun(40, 50)), 0,
			[]string{"err connection refused@10 seq 10", "leader@35", "err connection refused@20..50 seq 20..50 x4"}},
		{"a probe start ends the run", cat(refusedRun(10, 30), one(start), refusedRun(5010, 5030)), 0,
			[]string{"err connection refused@10 seq 10", "err connection refused@20..30 seq 20..30 x2", "mark@5000",
				"err connection refused@5010 seq 5010", "err connection refused@5020..5030 seq 5020..5030 x2"}},
		{"repeats are flushed every flushEvery", refusedRun(10, 100), 30 * time.Millisecond,
			[]string{"err connection refused@10 seq 10", "err connection refused@20..40 seq 20..40 x3",
				"err connection refused@50..70 seq 50..70 x3", "err connection refused@80..100 seq 80..100 x3"}},
		{"time going back starts a new run", one(refused(50), refused(60), refused(20), refused(30)), 0,
			[]string{"err connection refused@50 seq 50", "err connection refused@60 seq 60",
				"err connection refused@20 seq 20", "err connection refused@30 seq 30"}},
		{"compacting twice changes nothing", CompactErrors(cat(refusedRun(10, 100), one(ack(110))), 0), 0,
			[]string{"err connection refused@10 seq 10", "err connection refused@20..100 seq 20..100 x9", "ack@110"}},
	}
	str := func(e journal.Event) string {
		at := e.At.Sub(t0).Milliseconds()
		switch e.Kind {
		case journal.KindProbeError:
			msg := strings.TrimSpace(e.SQLState + " " + e.Error)
			if e.Count == 0 {
				return fmt.Sprintf("err %s@%d seq %d", msg, at, e.Seqno)
			}
			return fmt.Sprintf("err %s@%d..%d seq %d..%d x%d", msg, at, e.LastAt.Sub(t0).Milliseconds(), e.Seqno, e.Last, e.Count)
		case journal.KindProbeAck:
			return fmt.Sprintf("ack@%d", at)
		}
		return fmt.Sprintf("%s@%d", e.Kind, at)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			out := CompactErrors(tt.in, tt.flushEvery)
			for _, e := range out {
				got = append(got, str(e))
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("compacted:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if in, out := errorTotal(tt.in), errorTotal(out); in != out {
				t.Errorf("%d failures compacted into %d", in, out)
			}
			for _, e := range out {
				if e.Kind == journal.KindProbeError && e.Count > 1 && (e.SentAt.IsZero() || e.Last <= e.Seqno || !e.LastAt.After(e.At)) {
					t.Errorf("compacted event %+v lacks SentAt, Last or LastAt", e)
				}
			}
		})
	}
}

func errorTotal(events []journal.Event) int {
	n := 0
	for _, e := range events {
		n += e.ErrorCount()
	}
	return n
}

// failure is one way a probe write fails, as classify reports it.
type failure struct {
	sqlstate, msg, phase string
	took                 time.Duration // from sending to failing
}

var failures = []failure{
	{"", "connection refused", "connect", time.Millisecond},
	{"", "timeout", "connect", time.Second},
	{"", "connection reset", "insert", 2 * time.Millisecond},
	{ReadOnly, "cannot execute INSERT in a read-only transaction", "insert", 3 * time.Millisecond},
	{"57P01", "terminating connection due to administrator command", "insert", time.Millisecond},
	{InvalidPassword, "password authentication failed", "connect", 4 * time.Millisecond},
}

// step is one instruction of a history script.
type step struct {
	op    byte // see the sim methods
	node  string
	arg   int // failure index, timeline, ...
	ticks int
}

const (
	opUp      = iota // acks from node on timeline arg for ticks attempts
	opFail           // failures[arg] for ticks attempts
	opCut            // power off node, and the cluster's reaction over 5.3 s
	opRestart        // the probe stops for ticks*10 ms and starts again
	opLose           // the last acknowledged commit will be missing
	opReplica        // power off a replica: no outage
	opCount
)

// sim writes a journal as today's probe (one event per failure) and the head
// node's watchers do: ack ranges from the probe's own compactor, failures as
// they happen, cluster events when their time comes.
type sim struct {
	now     time.Time
	seq     uint64
	acks    compactor
	ev      []journal.Event
	pending []journal.Event // cluster events not yet due, by time
	lastAck uint64
	lost    []uint64
}

func (s *sim) add(e journal.Event) {
	e.Seq = uint64(len(s.ev) + 1)
	s.ev = append(s.ev, e)
}

// at schedules a cluster event d after now.
func (s *sim) at(d time.Duration, e journal.Event) {
	e.At = s.now.Add(d)
	s.pending = append(s.pending, e)
	slices.SortStableFunc(s.pending, func(a, b journal.Event) int { return a.At.Compare(b.At) })
}

func (s *sim) due() {
	for len(s.pending) > 0 && !s.pending[0].At.After(s.now) {
		s.add(s.pending[0])
		s.pending = s.pending[1:]
	}
}

// attempt runs one probe step at now and moves now to the next tick after
// the attempt ended, as the probe's ticker does.
func (s *sim) attempt(took time.Duration, do func(end time.Time)) {
	s.due()
	if s.acks.due(s.now) {
		if e, ok := s.acks.flush(); ok {
			s.add(e)
		}
	}
	s.seq++
	end := s.now.Add(took)
	do(end)
	next := s.now.Add(10 * time.Millisecond)
	for next.Before(end) {
		next = next.Add(10 * time.Millisecond)
	}
	s.now = next
}

func (s *sim) run(script []step) []journal.Event {
	s.acks = compactor{gap: 50 * time.Millisecond, flushEvery: time.Second}
	s.now = t0
	s.add(journal.Event{At: s.now, Kind: journal.KindMark, Source: analysis.ProbeSource, Detail: analysis.ProbeStartDetail})
	for _, st := range script {
		switch st.op {
		case opUp:
			for range st.ticks {
				s.attempt(2*time.Millisecond, func(end time.Time) {
					if e, ok := s.acks.ack(st.node, st.arg, s.seq, s.now, end); ok {
						s.add(e)
					}
					s.lastAck = s.seq
				})
			}
		case opFail:
			f := failures[st.arg%len(failures)]
			for range st.ticks {
				s.attempt(f.took, func(end time.Time) {
					if e, ok := s.acks.flush(); ok {
						s.add(e)
					}
					s.add(journal.Event{At: end, Kind: journal.KindProbeError, Seqno: s.seq, SQLState: f.sqlstate,
						Error: f.msg, Detail: f.phase, SentAt: s.now})
				})
			}
		case opCut:
			s.add(journal.Event{At: s.now, Kind: journal.KindPower, Node: st.node, On: journal.Bool(false), Source: "switch"})
			next := fmt.Sprintf("n%d", st.arg%3+1)
			s.at(560*time.Millisecond, journal.Event{Kind: journal.KindHAProxy, Node: st.node, Detail: "primary", On: journal.Bool(false)})
			s.at(4790*time.Millisecond, journal.Event{Kind: journal.KindLeader})
			s.at(4870*time.Millisecond, journal.Event{Kind: journal.KindLeader, Node: next})
			s.at(5050*time.Millisecond, journal.Event{Kind: journal.KindRole, Node: next, Role: "master", State: "running"})
			s.at(5330*time.Millisecond, journal.Event{Kind: journal.KindHAProxy, Node: next, Detail: "primary", On: journal.Bool(true)})
		case opRestart:
			if e, ok := s.acks.flush(); ok {
				s.add(e)
			}
			s.now = s.now.Add(time.Duration(st.ticks) * 10 * time.Millisecond)
			s.due()
			s.add(journal.Event{At: s.now, Kind: journal.KindMark, Source: analysis.ProbeSource, Detail: analysis.ProbeStartDetail})
		case opLose:
			if s.lastAck > 0 {
				s.lost = append(s.lost, s.lastAck)
			}
		case opReplica:
			s.add(journal.Event{At: s.now, Kind: journal.KindPower, Node: st.node, On: journal.Bool(false), Source: "switch"})
		}
	}
	if e, ok := s.acks.flush(); ok {
		s.add(e)
	}
	s.due()
	s.now = s.now.Add(100 * time.Millisecond)
	s.add(journal.Event{At: s.now, Kind: journal.KindProbeReadback, Missing: s.lost, Last: s.lastAck})
	return s.ev
}

// failoverScript is a run of failovers shaped like the rig's: a cut, the
// connection refused while HAProxy still routes to the dead node, timeouts
// or resets, read-only answers while the new leader promotes, commits on
// the new primary; sometimes a lost commit, a blip below the outage
// threshold, a replica cut, a probe restart in the middle of an outage, and
// an outage still open at the end.
func failoverScript(rng *rand.Rand) []step {
	node, tl := 1, 1
	script := []step{{op: opUp, node: "n1", arg: 1, ticks: 100 + rng.IntN(300)}}
	for i := range 1 + rng.IntN(4) {
		old := fmt.Sprintf("n%d", node)
		next := node%3 + 1
		if rng.IntN(3) == 0 {
			script = append(script, step{op: opLose})
		}
		script = append(script, step{op: opCut, node: old, arg: next - 1})
		// About 5.4 s of failures of two to four kinds, with flapping.
		var fails []step
		for range 2 + rng.IntN(3) {
			fails = append(fails, step{op: opFail, arg: rng.IntN(len(failures)), ticks: 1 + rng.IntN(150)})
		}
		if rng.IntN(4) == 0 {
			for range 5 {
				fails = append(fails, step{op: opFail, arg: 0, ticks: 1}, step{op: opFail, arg: 2, ticks: 1 + rng.IntN(2)})
			}
		}
		if rng.IntN(5) == 0 {
			fails = slices.Insert(fails, rng.IntN(len(fails)+1), step{op: opRestart, ticks: 50 + rng.IntN(200)})
		}
		fails = append(fails, step{op: opFail, arg: 3, ticks: 20 + rng.IntN(30)})
		script = append(script, fails...)
		node, tl = next, tl+1
		if i > 0 && rng.IntN(6) == 0 {
			break // an outage still open at the end of the history
		}
		script = append(script, step{op: opUp, node: fmt.Sprintf("n%d", node), arg: tl, ticks: 50 + rng.IntN(400)})
		if rng.IntN(2) == 0 { // a blip: a few failures, far below the threshold
			script = append(script, step{op: opFail, arg: 2, ticks: 1 + rng.IntN(3)},
				step{op: opUp, node: fmt.Sprintf("n%d", node), arg: tl, ticks: 50 + rng.IntN(100)})
		}
		if rng.IntN(3) == 0 {
			script = append(script, step{op: opReplica, node: fmt.Sprintf("n%d", node%3+1)},
				step{op: opUp, node: fmt.Sprintf("n%d", node), arg: tl, ticks: 100})
		}
	}
	return script
}

// sameAnalysis fails t when the analysis of the compacted history differs
// from that of the raw one in anything: outages (times, errors inside),
// failovers (cause, phases, durations, lost commits), split brain, totals
// (errors by SQLSTATE).
func sameAnalysis(t *testing.T, raw, compacted []journal.Event) analysis.Report {
	t.Helper()
	opts := analysis.Options{}
	want, got := analysis.Analyze(raw, opts), analysis.Analyze(compacted, opts)
	if !reflect.DeepEqual(want, got) {
		w, _ := json.MarshalIndent(want, "", " ")
		g, _ := json.MarshalIndent(got, "", " ")
		t.Fatalf("analysis differs after compaction\nraw:\n%s\ncompacted:\n%s", w, g)
	}
	return want
}

// TestCompactionKeepsAnalysis is the proof that compacting the probe's
// errors loses nothing the analysis judges: histories written as the probe
// wrote them before (one event per failure) and their compacted form give
// the same report, for every flush interval.
func TestCompactionKeepsAnalysis(t *testing.T) {
	var failovers, outages, rawErrs, compErrs int
	for seed := range uint64(40) {
		rng := rand.New(rand.NewPCG(seed, 17))
		script := failoverScript(rng)
		raw := (&sim{}).run(script)
		for _, flushEvery := range []time.Duration{0, 150 * time.Millisecond, time.Second} {
			t.Run(fmt.Sprintf("seed %d flush %v", seed, flushEvery), func(t *testing.T) {
				compacted := CompactErrors(raw, flushEvery)
				rep := sameAnalysis(t, raw, compacted)
				if len(rep.Totals.Errors) == 0 {
					t.Fatalf("bad test: history without errors: %+v", rep)
				}
				r, c := errorEvents(raw), errorEvents(compacted)
				if c*2 > r {
					t.Errorf("%d error events compacted only to %d", r, c)
				}
				if flushEvery == time.Second {
					failovers += len(rep.Failovers)
					outages += len(rep.Outages)
					rawErrs += r
					compErrs += c
				}
			})
		}
	}
	t.Logf("%d failovers, %d outages; %d error events compacted to %d (1 s flush)", failovers, outages, rawErrs, compErrs)
	// The histories must exercise what they claim to (a restart in the
	// middle of an outage hides that failover, so not every seed has one).
	if failovers < 40 || outages <= failovers || compErrs*5 > rawErrs {
		t.Errorf("bad test: %d failovers, %d outages, %d error events compacted to %d", failovers, outages, rawErrs, compErrs)
	}
}

func errorEvents(events []journal.Event) int {
	n := 0
	for _, e := range events {
		if e.Kind == journal.KindProbeError {
			n++
		}
	}
	return n
}

// FuzzCompactErrors: for any script of probe steps, the compacted history
// analyses as the raw one. Three bytes a step: op, argument, attempts.
func FuzzCompactErrors(f *testing.F) {
	f.Add([]byte{opUp, 1, 100, opCut, 1, 0, opFail, 0, 200, opFail, 3, 50, opUp, 2, 100}, uint16(1000))
	f.Add([]byte{opUp, 1, 100, opLose, 0, 0, opCut, 1, 0, opFail, 1, 3, opRestart, 0, 90, opFail, 4, 20, opUp, 2, 50}, uint16(0))
	f.Add([]byte{opUp, 1, 10, opFail, 0, 1, opFail, 2, 1, opFail, 0, 1, opUp, 1, 10, opFail, 5, 255}, uint16(30))
	f.Fuzz(func(t *testing.T, data []byte, flushMS uint16) {
		var script []step
		for i := 0; i+3 <= len(data) && len(script) < 60; i += 3 {
			op, arg, ticks := data[i]%opCount, int(data[i+1]), int(data[i+2])
			script = append(script, step{op: op, node: fmt.Sprintf("n%d", arg%3+1), arg: arg % 4, ticks: ticks})
		}
		raw := (&sim{}).run(script)
		compacted := CompactErrors(raw, time.Duration(flushMS)*time.Millisecond)
		sameAnalysis(t, raw, compacted)
		if r, c := errorTotal(raw), errorTotal(compacted); r != c {
			t.Fatalf("%d failures compacted into %d", r, c)
		}
	})
}
