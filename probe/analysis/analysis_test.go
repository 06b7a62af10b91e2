package analysis

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/redswitch/redswitch/journal"
)

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func sec(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

// history builds synthetic journals the way the probe and head node write
// them: acks every 10 ms compacted into ranges of at most one second.
type history struct {
	ev    []journal.Event
	probe uint64 // last probe seq used
}

func (h *history) add(e journal.Event) {
	e.Seq = uint64(len(h.ev) + 1)
	h.ev = append(h.ev, e)
}

// acks acknowledges one commit every 10 ms in [from, to] seconds.
func (h *history) acks(node string, tl int, from, to float64) {
	for start := from; start <= to+1e-9; start += 1 {
		end := math.Min(start+0.99, to)
		n := uint64(math.Round((end-start)/0.01)) + 1
		h.add(journal.Event{At: sec(end), Kind: journal.KindProbeAck, Node: node, Timeline: tl,
			First: h.probe + 1, Last: h.probe + n, FirstAt: sec(start), LastAt: sec(end)})
		h.probe += n
	}
}

func (h *history) errs(from, to float64, sqlstate string) {
	for t := from; t <= to+1e-9; t += 0.1 {
		h.probe++
		h.add(journal.Event{At: sec(t), Kind: journal.KindProbeError, Seqno: h.probe, SQLState: sqlstate, Error: "x"})
	}
}

func (h *history) power(at float64, node string, on bool) {
	h.add(journal.Event{At: sec(at), Kind: journal.KindPower, Node: node, On: journal.Bool(on), Source: "switch"})
}

func (h *history) leader(at float64, node string) {
	h.add(journal.Event{At: sec(at), Kind: journal.KindLeader, Node: node})
}

func (h *history) haproxy(at float64, node string, up bool) {
	h.add(journal.Event{At: sec(at), Kind: journal.KindHAProxy, Node: node, Detail: "primary", On: journal.Bool(up)})
}

func (h *history) role(at float64, node, role string) {
	h.add(journal.Event{At: sec(at), Kind: journal.KindRole, Node: node, Role: role, State: "running"})
}

func (h *history) readback(at float64, missing ...uint64) {
	h.add(journal.Event{At: sec(at), Kind: journal.KindProbeReadback, Missing: missing, Last: h.probe})
}

// failover scripts a primary power cut at cut seconds with the measured
// shape of one: old primary down, lease expiry, new leader, promotion,
// routing, first commit.
func (h *history) failover(oldNode, newNode string, newTL int, cut, resume, until float64) {
	h.power(cut, oldNode, false)
	h.errs(cut+0.05, resume-0.1, "")
	h.haproxy(cut+0.56, oldNode, false)
	h.leader(cut+4.79, "")
	h.leader(cut+4.87, newNode)
	h.role(cut+5.05, newNode, "master")
	h.haproxy(cut+5.33, newNode, true)
	h.acks(newNode, newTL, resume, until)
}

type want struct {
	outages     int
	open        bool
	failovers   []string // "old>new cause"
	phases      [][]string
	lost        []uint64
	lostIn      []string
	splitBrains int
	errors      map[string]int
}

func TestAnalyze(t *testing.T) {
	var lastBeforeCut uint64
	tests := []struct {
		name  string
		build func(h *history)
		want  want
	}{
		{
			name:  "clean run",
			build: func(h *history) { h.acks("n1", 1, 0, 10) },
			want:  want{},
		},
		{
			name: "negative control: replica cut, readback of unacknowledged seq",
			build: func(h *history) {
				h.acks("n1", 1, 0, 3)
				h.power(3.5, "n2", false) // a replica: no write gap
				h.acks("n1", 1, 3.01, 6)
				h.probe++ // attempted, never acknowledged
				h.readback(6.5, h.probe)
			},
			want: want{},
		},
		{
			name: "gap without a cut",
			build: func(h *history) {
				h.acks("n1", 1, 0, 2)
				h.errs(2.1, 3, "57P01")
				h.acks("n1", 1, 3.1, 5)
			},
			want: want{outages: 1, errors: map[string]int{"57P01": 10}},
		},
		{
			name: "probe restart is not an outage",
			build: func(h *history) {
				h.acks("n1", 1, 0, 2)
				h.add(journal.Event{At: sec(30), Kind: journal.KindMark, Source: ProbeSource, Detail: ProbeStartDetail})
				h.acks("n1", 1, 30.01, 31)
			},
			want: want{},
		},
		{
			name: "cut with failover",
			build: func(h *history) {
				h.acks("n1", 1, 0, 2)
				h.failover("n1", "n2", 2, 2.005, 7.375, 9)
			},
			want: want{
				outages:   1,
				failovers: []string{"n1>n2 power off n1 (switch)"},
				phases:    [][]string{{PhaseHAProxyDown, PhaseLeaderExpired, PhaseNewLeader, PhasePromoted, PhaseHAProxyUp, PhaseFirstCommit}},
				errors:    map[string]int{ConnectionError: 53},
			},
		},
		{
			name: "cut with a lost commit",
			build: func(h *history) {
				h.acks("n1", 1, 0, 2)
				lastBeforeCut = h.probe
				h.failover("n1", "n2", 2, 2.005, 7.375, 9)
				h.readback(9.5, lastBeforeCut)
				h.readback(9.6, lastBeforeCut) // reported twice, lost once
			},
			want: want{
				outages:   1,
				failovers: []string{"n1>n2 power off n1 (switch)"},
				phases:    [][]string{{PhaseHAProxyDown, PhaseLeaderExpired, PhaseNewLeader, PhasePromoted, PhaseHAProxyUp, PhaseFirstCommit}},
				lost:      []uint64{201},
				lostIn:    []string{"failover-1"},
				errors:    map[string]int{ConnectionError: 53},
			},
		},
		{
			name: "observed power loss after the ordered cut is not a second cause",
			build: func(h *history) {
				h.acks("n1", 1, 0, 2)
				h.add(journal.Event{At: sec(2.3), Kind: journal.KindPower, Node: "n1", On: journal.Bool(false), Source: "observed"})
				h.failover("n1", "n2", 2, 2.005, 7.375, 9)
				h.add(journal.Event{At: sec(3), Kind: journal.KindFaultInject, Node: "n3", Detail: "partition"})
			},
			want: want{
				outages:   1,
				failovers: []string{"n1>n2 power off n1 (switch); fault partition n3"},
				phases:    [][]string{{PhaseHAProxyDown, PhaseLeaderExpired, PhaseNewLeader, PhasePromoted, PhaseHAProxyUp, PhaseFirstCommit}},
				errors:    map[string]int{ConnectionError: 53},
			},
		},
		{
			name: "leader change without a cut",
			build: func(h *history) {
				h.acks("n1", 1, 0, 2)
				h.leader(2.5, "")
				h.leader(2.6, "n2")
				h.acks("n2", 2, 3, 4)
			},
			want: want{outages: 1, failovers: []string{"n1>n2 unknown"},
				phases: [][]string{{PhaseLeaderExpired, PhaseNewLeader, PhaseFirstCommit}}},
		},
		{
			name: "split brain",
			build: func(h *history) {
				h.acks("n1", 1, 0, 3)
				h.acks("n2", 2, 2, 5) // a second primary while n1 still acknowledges
			},
			want: want{splitBrains: 1},
		},
		{
			name: "old primary acknowledges again after the new one",
			build: func(h *history) {
				h.acks("n1", 1, 0, 2)
				h.acks("n2", 2, 2.01, 3)
				h.acks("n1", 1, 3.01, 4)
			},
			want: want{splitBrains: 1},
		},
		{
			name: "two failovers back to back",
			build: func(h *history) {
				h.acks("n1", 1, 0, 2)
				h.failover("n1", "n2", 2, 2.005, 7.375, 9)
				h.failover("n2", "n3", 3, 9.01, 14.4, 16)
			},
			want: want{
				outages:   2,
				failovers: []string{"n1>n2 power off n1 (switch)", "n2>n3 power off n2 (switch)"},
				phases: [][]string{
					{PhaseHAProxyDown, PhaseLeaderExpired, PhaseNewLeader, PhasePromoted, PhaseHAProxyUp, PhaseFirstCommit},
					{PhaseHAProxyDown, PhaseLeaderExpired, PhaseNewLeader, PhasePromoted, PhaseHAProxyUp, PhaseFirstCommit},
				},
				errors: map[string]int{ConnectionError: 106},
			},
		},
		{
			name: "outage in progress",
			build: func(h *history) {
				h.acks("n1", 1, 0, 2)
				h.power(2.005, "n1", false)
				h.errs(2.1, 5, "25006")
			},
			want: want{outages: 1, open: true, errors: map[string]int{"25006": 30}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h history
			tt.build(&h)
			r := Analyze(h.ev, Options{})
			if len(r.Outages) != tt.want.outages {
				t.Errorf("outages = %d %+v, want %d", len(r.Outages), r.Outages, tt.want.outages)
			}
			if (r.Open != nil) != tt.want.open {
				t.Errorf("open outage = %+v, want open %v", r.Open, tt.want.open)
			}
			var fs []string
			var phases [][]string
			for _, f := range r.Failovers {
				fs = append(fs, fmt.Sprintf("%s>%s %s", f.OldPrimary, f.NewPrimary, f.Cause))
				var names []string
				for _, p := range f.Phases {
					names = append(names, p.Name)
				}
				phases = append(phases, names)
			}
			if fmt.Sprint(fs) != fmt.Sprint(tt.want.failovers) {
				t.Errorf("failovers = %q, want %q", fs, tt.want.failovers)
			}
			if fmt.Sprint(phases) != fmt.Sprint(tt.want.phases) {
				t.Errorf("phases = %v, want %v", phases, tt.want.phases)
			}
			var lost []uint64
			var lostIn []string
			for _, l := range r.Lost {
				lost = append(lost, l.Seq)
				lostIn = append(lostIn, l.Failover)
			}
			if fmt.Sprint(lost) != fmt.Sprint(tt.want.lost) || fmt.Sprint(lostIn) != fmt.Sprint(tt.want.lostIn) {
				t.Errorf("lost = %v in %v, want %v in %v", lost, lostIn, tt.want.lost, tt.want.lostIn)
			}
			if len(r.SplitBrains) != tt.want.splitBrains {
				t.Errorf("split brains = %+v, want %d", r.SplitBrains, tt.want.splitBrains)
			}
			if fmt.Sprint(r.Totals.Errors) != fmt.Sprint(tt.want.errors) {
				t.Errorf("errors = %v, want %v", r.Totals.Errors, tt.want.errors)
			}
			// Every acknowledged probe seq is counted once.
			var acked uint64
			for _, e := range h.ev {
				if e.Kind == journal.KindProbeAck {
					acked += e.Last - e.First + 1
				}
			}
			if r.Totals.Acks != acked {
				t.Errorf("acks = %d, want %d", r.Totals.Acks, acked)
			}
		})
	}
}

// TestFailoverTimes checks the numbers of one failover against the script.
func TestFailoverTimes(t *testing.T) {
	var h history
	h.acks("n1", 1, 0, 2)
	last := h.probe
	h.failover("n1", "n2", 2, 2.005, 7.375, 9)
	h.readback(9.5, last)
	r := Analyze(h.ev, Options{})
	if len(r.Failovers) != 1 {
		t.Fatalf("failovers = %d, want 1", len(r.Failovers))
	}
	f := r.Failovers[0]
	if f.ID != "failover-1" || !f.StartedAt.Equal(sec(2.005)) {
		t.Errorf("id %s started %v, want failover-1 at %v", f.ID, f.StartedAt, sec(2.005))
	}
	if d := f.Duration.Seconds(); math.Abs(d-5.37) > 1e-6 {
		t.Errorf("duration = %.3fs, want 5.370s", d)
	}
	if f.OldTimeline != 1 || f.NewTimeline != 2 {
		t.Errorf("timelines %d>%d, want 1>2", f.OldTimeline, f.NewTimeline)
	}
	want := map[string]float64{PhaseHAProxyDown: 0.56, PhaseLeaderExpired: 4.79, PhaseNewLeader: 4.87, PhasePromoted: 5.05, PhaseHAProxyUp: 5.33, PhaseFirstCommit: 5.37}
	for _, p := range f.Phases {
		if math.Abs(p.Seconds-want[p.Name]) > 1e-6 {
			t.Errorf("phase %s at %.3fs, want %.3fs", p.Name, p.Seconds, want[p.Name])
		}
	}
	if !slices.Equal(f.Lost, []uint64{last}) {
		t.Errorf("lost = %v, want [%d]", f.Lost, last)
	}
	if f.Outage.Errors == 0 {
		t.Error("outage counted no errors")
	}
}

// TestDefaults: a threshold above the gap hides it.
func TestThreshold(t *testing.T) {
	var h history
	h.acks("n1", 1, 0, 2)
	h.acks("n1", 1, 2.3, 3)
	for _, tt := range []struct {
		threshold time.Duration
		want      int
	}{{100 * time.Millisecond, 1}, {0, 0}, {time.Second, 0}} {
		if got := len(Outages(h.ev, tt.threshold)); got != tt.want {
			t.Errorf("threshold %v: %d outages, want %d", tt.threshold, got, tt.want)
		}
	}
}

// TestCountedErrors: an error event stands for ErrorCount failures; counts
// per outage and in the totals add them up, and an open outage ends at the
// last failure (LastAt), not at the event's time.
func TestCountedErrors(t *testing.T) {
	errAt := func(h *history, at float64, sqlstate string) {
		h.probe++
		h.add(journal.Event{At: sec(at), Kind: journal.KindProbeError, Seqno: h.probe, SQLState: sqlstate, Error: "x"})
	}
	repeats := func(h *history, from, to float64, n int, sqlstate string) {
		h.add(journal.Event{At: sec(from), Kind: journal.KindProbeError, Seqno: h.probe + 1, SQLState: sqlstate, Error: "x",
			Count: n, LastAt: sec(to), Last: h.probe + uint64(n)})
		h.probe += uint64(n)
	}
	tests := []struct {
		name       string
		build      func(h *history)
		wantErrors []int // per outage
		wantOpen   bool
		wantEnd    float64 // of the last outage, seconds
		wantTotals map[string]int
	}{
		{
			name: "closed outage",
			build: func(h *history) {
				h.acks("n1", 1, 0, 2)
				errAt(h, 2.1, "")
				repeats(h, 2.2, 3, 80, "")
				errAt(h, 3.1, "25006")
				repeats(h, 3.2, 3.4, 3, "25006")
				h.acks("n2", 2, 3.5, 4)
			},
			wantErrors: []int{85}, wantEnd: 3.5, wantTotals: map[string]int{ConnectionError: 81, "25006": 4},
		},
		{
			name: "open outage ends at the last failure",
			build: func(h *history) {
				h.acks("n1", 1, 0, 2)
				errAt(h, 2.1, "")
				repeats(h, 2.2, 3.2, 100, "")
				repeats(h, 3.21, 4.2, 100, "")
			},
			wantErrors: []int{201}, wantOpen: true, wantEnd: 4.2, wantTotals: map[string]int{ConnectionError: 201},
		},
		{
			name: "repeats alone past the threshold open an outage",
			build: func(h *history) {
				h.acks("n1", 1, 0, 2)
				errAt(h, 2.01, "")
				repeats(h, 2.02, 2.9, 80, "")
			},
			wantErrors: []int{81}, wantOpen: true, wantEnd: 2.9, wantTotals: map[string]int{ConnectionError: 81},
		},
		{
			name: "old journal: one event per failure",
			build: func(h *history) {
				h.acks("n1", 1, 0, 2)
				h.errs(2.1, 3, "57P01")
				h.acks("n1", 1, 3.1, 5)
			},
			wantErrors: []int{10}, wantEnd: 3.1, wantTotals: map[string]int{"57P01": 10},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h history
			tt.build(&h)
			r := Analyze(h.ev, Options{})
			var got []int
			for _, o := range r.Outages {
				got = append(got, o.Errors)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.wantErrors) {
				t.Fatalf("errors per outage = %v, want %v", got, tt.wantErrors)
			}
			last := r.Outages[len(r.Outages)-1]
			if last.Open != tt.wantOpen || !last.End.Equal(sec(tt.wantEnd)) {
				t.Errorf("last outage open %v ending %v, want open %v ending %v", last.Open, last.End, tt.wantOpen, sec(tt.wantEnd))
			}
			if fmt.Sprint(r.Totals.Errors) != fmt.Sprint(tt.wantTotals) {
				t.Errorf("totals = %v, want %v", r.Totals.Errors, tt.wantTotals)
			}
		})
	}
}
