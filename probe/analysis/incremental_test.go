package analysis

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/redswitch/redswitch/journal"
	"github.com/redswitch/redswitch/probe/synth"
)

// replay feeds events to an Incremental as the observer does: every event
// in journal order, Settle once a second of journal time, and compares its
// Report with Analyze over the same prefix at checks points and at the end.
// It returns the analysis for further checks.
func replay(t *testing.T, events []journal.Event, checks int, opts IncrementalOptions) *Incremental {
	t.Helper()
	in := NewIncremental(opts)
	var now, settled time.Time
	step := max(1, len(events)/max(checks, 1))
	for i, e := range events {
		in.Add(e)
		if e.At.After(now) {
			now = e.At
		}
		if now.Sub(settled) >= time.Second {
			in.Settle(now)
			settled = now
		}
		if (i+1)%step == 0 || i == len(events)-1 {
			if diff := reportDiff(in.Report(), Analyze(events[:i+1], opts.Analysis)); diff != "" {
				t.Fatalf("after %d of %d events the incremental report differs from Analyze: %s", i+1, len(events), diff)
			}
		}
	}
	if in.Late() != 0 {
		t.Fatalf("%d events came too late to be judged", in.Late())
	}
	return in
}

// reportDiff compares two reports as the API and dashboard see them (JSON:
// instants, not clock readings or locations) and describes the first
// difference, "" when there is none.
func reportDiff(got, want Report) string {
	g, err := json.Marshal(got)
	if err != nil {
		return err.Error()
	}
	w, err := json.Marshal(want)
	if err != nil {
		return err.Error()
	}
	if bytes.Equal(g, w) {
		return ""
	}
	i := 0
	for i < len(g) && i < len(w) && g[i] == w[i] {
		i++
	}
	ctx := func(b []byte) string { return string(b[max(0, i-160):min(len(b), i+160)]) }
	return fmt.Sprintf("at byte %d:\n got  …%s…\n want …%s…\n(%d outages, %d failovers, %d lost vs %d, %d, %d)", i, ctx(g), ctx(w),
		len(got.Outages), len(got.Failovers), len(got.Lost), len(want.Outages), len(want.Failovers), len(want.Lost))
}

// booth scripts cycles of the history builder: failovers with lost
// commits and read-backs, stalls, unknown leader changes and a restart
// of the probe, in the builder's order (not time order).
func booth(cycles int) []journal.Event {
	h := &history{}
	nodes := []string{"n1", "n2", "n3"}
	at := 0.0
	h.add(journal.Event{At: sec(at), Kind: journal.KindMark, Source: ProbeSource, Detail: ProbeStartDetail})
	for c := range cycles {
		old, nw := nodes[c%3], nodes[(c+1)%3]
		h.acks(old, c+1, at, at+100)
		at += 100
		switch c % 4 {
		case 0:
			last := h.probe
			h.failover(old, nw, c+2, at+0.005, at+5.375, at+20)
			h.readback(at+21, last)
		case 1:
			h.errs(at+0.1, at+1, "57P01") // an outage, not a failover
			h.acks(old, c+1, at+1.1, at+10)
			h.leader(at+10.5, "")
			h.leader(at+10.6, nw)
			h.acks(nw, c+2, at+11, at+20)
		case 2:
			h.failover(old, nw, c+2, at+0.005, at+5.375, at+20)
			h.add(journal.Event{At: sec(at + 20.5), Kind: journal.KindMark, Source: ProbeSource, Detail: ProbeStartDetail})
		case 3:
			h.add(journal.Event{At: sec(at + 0.2), Kind: journal.KindFaultInject, Node: old, Detail: "freeze"})
			h.failover(old, nw, c+2, at+0.3, at+6, at+20)
		}
		at += 20
	}
	// An outage still open at the end.
	h.errs(at+0.5, at+3, "")
	return h.ev
}

func generated(o synth.Options, d time.Duration) []journal.Event {
	b := synth.New(o)
	ev := b.Until(b.Now().Add(d))
	for i := range ev {
		ev[i].Seq = uint64(i + 1)
	}
	return ev
}

func TestIncrementalEqualsAnalyze(t *testing.T) {
	stealback, err := os.ReadFile(filepath.Join("..", "..", "scenarios", "testdata", "primary-freeze-stealback.journal"))
	if err != nil {
		t.Fatal(err)
	}
	recorded, err := journal.Read(bytes.NewReader(stealback))
	if err != nil || len(recorded.Problems) > 0 {
		t.Fatalf("read the recorded journal: %v %v", err, recorded.Problems)
	}
	fast := synth.Options{FailoverEvery: 20 * time.Second, StallEvery: 3 * time.Minute, DeadAt: 25 * time.Minute,
		DeadFor: 10 * time.Minute, DeadEvery: time.Hour, RestartEvery: 37 * time.Minute, LostEvery: 3, ReadbackEvery: 4}
	tests := []struct {
		name   string
		events []journal.Event
		opts   IncrementalOptions
		// settles: the analysis must have settled failovers and kept a
		// short tail, or it is Analyze again in disguise.
		settles bool
	}{
		{name: "recorded primary freeze with steal-back", events: recorded.Events},
		{name: "scripted booth", events: booth(12), settles: true},
		{name: "scripted booth, tight options", events: booth(12),
			opts: IncrementalOptions{Analysis: Options{Threshold: 200 * time.Millisecond, CutSlack: 3 * time.Second, PhaseSlack: 5 * time.Second},
				SettleLag: 10 * time.Second}, settles: true}, // the script journals a failover's events up to 6 s late
		{name: "generated booth, 2 h", events: generated(fast, 2*time.Hour), settles: true},
		{name: "generated booth, another seed, tiny lag", events: generated(func() synth.Options { o := fast; o.Seed = 7; o.SplitChance = 0.6; return o }(), 90*time.Minute),
			opts: IncrementalOptions{SettleLag: time.Millisecond}, settles: true},
		{name: "generated booth at its own pace, 3 h", events: generated(synth.Options{DeadAt: 90 * time.Minute, DeadFor: 20 * time.Minute}, 3*time.Hour), settles: true},
		{name: "no probe at all", events: slices.DeleteFunc(generated(fast, 30*time.Minute), func(e journal.Event) bool {
			return e.Kind == journal.KindProbeAck || e.Kind == journal.KindProbeError
		})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := replay(t, tc.events, 40, tc.opts)
			st := in.Stats()
			t.Logf("%d events: %d failovers, %d settled; tail %d events; %d ack ranges in %d bytes",
				st.Events, in.FailoverCount(), st.SettledFailovers, st.Tail, st.AckRanges, st.IndexBytes)
			if tc.settles && (st.SettledFailovers == 0 || st.Tail > len(tc.events)/5) {
				t.Errorf("settled %d failovers, tail of %d of %d events: nothing carried forward", st.SettledFailovers, st.Tail, len(tc.events))
			}
		})
	}
}

// The comparison bites: a history without one of its cuts is judged
// differently.
func TestIncrementalDiffersWithoutACut(t *testing.T) {
	ev := booth(4)
	i := slices.IndexFunc(ev, func(e journal.Event) bool { return e.Kind == journal.KindPower })
	in := NewIncremental(IncrementalOptions{})
	in.Add(slices.Delete(slices.Clone(ev), i, i+1)...)
	if reportDiff(in.Report(), Analyze(ev, Options{})) == "" {
		t.Fatal("a history without a power cut was judged the same as with it")
	}
}

// A late event is counted, so the owner knows to rebuild.
func TestIncrementalLate(t *testing.T) {
	ev := booth(4)
	in := NewIncremental(IncrementalOptions{SettleLag: time.Second})
	in.Add(ev...)
	in.Settle(ev[len(ev)-1].At)
	if in.Stats().SettledFailovers == 0 {
		t.Fatal("nothing settled")
	}
	for _, tc := range []struct {
		name string
		e    journal.Event
		late bool
	}{
		{"a cut back in time", journal.Event{At: sec(1), Kind: journal.KindPower, Node: "n1", On: journal.Bool(false)}, true},
		{"an ack range back in time", journal.Event{At: sec(2), Kind: journal.KindProbeAck, Node: "n1", First: 1, Last: 2, FirstAt: sec(1), LastAt: sec(2)}, true},
		{"a read-back, whenever", journal.Event{At: sec(1), Kind: journal.KindProbeReadback, Missing: []uint64{3}}, false},
		{"a cut now", journal.Event{At: ev[len(ev)-1].At, Kind: journal.KindPower, Node: "n1", On: journal.Bool(false)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := in.Late()
			in.Add(tc.e)
			if got := in.Late() > before; got != tc.late {
				t.Errorf("late = %v, want %v", got, tc.late)
			}
		})
	}
}

// The ack index finds the range LostCommits picks: the earliest start,
// the first journaled among equals, across blocks, node changes,
// overlapping and damaged ranges.
func TestAckIndexFind(t *testing.T) {
	var events []journal.Event
	at := sec(0)
	seq := uint64(1)
	for i := range 3 * ackBlockSize {
		n := uint64(i%17 + 1)
		e := journal.Event{At: at, Kind: journal.KindProbeAck, Node: fmt.Sprint("n", i/100%3), Timeline: i / 100,
			First: seq, Last: seq + n - 1, FirstAt: at, LastAt: at.Add(time.Duration(n) * 10 * time.Millisecond)}
		switch i % 50 {
		case 7: // damaged: no times, Last before First
			e.FirstAt, e.LastAt, e.Last = time.Time{}, time.Time{}, 0
		case 11: // a zero time altogether
			e.At, e.FirstAt, e.LastAt = time.Time{}, time.Time{}, time.Time{}
		case 13: // overlaps earlier numbers, starting earlier
			e.First, e.FirstAt = seq-5, at.Add(-time.Hour)
		case 17: // same start as the one before
			e.FirstAt = at.Add(-20 * time.Millisecond)
		}
		events = append(events, e)
		seq += n
		at = at.Add(time.Duration(n)*10*time.Millisecond + time.Duration(i%5)*time.Millisecond)
	}
	var x ackIndex
	for _, e := range events {
		x.add(ackOf(e))
	}
	as := acks(events)
	for s := uint64(0); s <= seq+1; s++ {
		i := slices.IndexFunc(as, func(a Ack) bool { return a.First <= s && s <= a.Last })
		got, ok := x.find(s)
		if (i >= 0) != ok {
			t.Fatalf("seq %d: found %v, want %v", s, ok, i >= 0)
		}
		if ok {
			w := as[i]
			if got.Node != w.Node || got.Timeline != w.Timeline || got.First != w.First || got.Last != w.Last ||
				!got.FirstAt.Equal(w.FirstAt) || !got.LastAt.Equal(w.LastAt) {
				t.Fatalf("seq %d: found %+v, want %+v", s, got, w)
			}
		}
	}
	if per := float64(x.bytes()) / float64(len(events)); per > 24 {
		t.Errorf("%.1f bytes a range: not compact", per)
	}
}

func FuzzIncremental(f *testing.F) {
	f.Add([]byte{0, 1, 0x10, 0, 10, 0, 1, 100, 4, 1, 0, 0, 5, 0, 0, 0, 0, 2, 0x20, 19, 136, 0, 101, 50})
	f.Add([]byte{0, 1, 0x10, 0, 10, 0, 1, 100, 0, 2, 0x20, 0, 0, 0, 50, 100, 3, 0, 0, 0, 1, 0, 60, 0})
	f.Add(make([]byte, 64))
	f.Add([]byte("0000000000A00000800\x00000000000000"))
	f.Fuzz(func(t *testing.T, data []byte) {
		opts := IncrementalOptions{Analysis: Options{Threshold: 200 * time.Millisecond}, SettleLag: 50 * time.Millisecond}
		check := func(events []journal.Event, mayBeLate bool) {
			in := NewIncremental(opts)
			var now time.Time
			for _, e := range events {
				in.Add(e)
				if e.At.After(now) {
					now = e.At
				}
				in.Settle(now)
			}
			if in.Late() > 0 {
				if !mayBeLate {
					t.Fatalf("%d events late in a history whose time never goes back", in.Late())
				}
				return // the owner rebuilds: nothing to compare
			}
			if diff := reportDiff(in.Report(), Analyze(events, opts.Analysis)); diff != "" {
				t.Fatal(diff)
			}
		}
		events := decodeEvents(data)
		check(events, true)
		// The same history as a live head node journals it: time never
		// goes back, and no event comes too late.
		var now time.Time
		for i := range events {
			e := &events[i]
			if e.At.Before(now) {
				d := now.Sub(e.At)
				e.At = now
				if e.Kind == journal.KindProbeAck && !e.FirstAt.IsZero() {
					e.FirstAt, e.LastAt = e.FirstAt.Add(d), e.LastAt.Add(d)
				}
			}
			now = e.At
		}
		check(events, false)
	})
}
