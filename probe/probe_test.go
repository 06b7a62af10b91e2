package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/redswitch/redswitch/journal"
	"github.com/redswitch/redswitch/probe/analysis"
)

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func ms(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }

func TestCompactor(t *testing.T) {
	type ack struct {
		node string
		tl   int
		seq  uint64
		at   int // ms
	}
	// steady is n acks of n1/1 every 10 ms from seq 1 at 0 ms.
	steady := func(n int) []ack {
		var as []ack
		for i := range n {
			as = append(as, ack{"n1", 1, uint64(i + 1), i * 10})
		}
		return as
	}
	tests := []struct {
		name string
		acks []ack
		want []string // closed ranges "node/tl first-last", then the flushed open one
	}{
		{"one range", []ack{{"n1", 1, 1, 0}, {"n1", 1, 2, 10}, {"n1", 1, 3, 20}}, []string{"n1/1 1-3"}},
		{"node change", []ack{{"n1", 1, 1, 0}, {"n2", 1, 2, 10}}, []string{"n1/1 1-1", "n2/1 2-2"}},
		{"timeline change", []ack{{"n1", 1, 1, 0}, {"n1", 2, 2, 10}}, []string{"n1/1 1-1", "n1/2 2-2"}},
		{"gap above 50ms", []ack{{"n1", 1, 1, 0}, {"n1", 1, 2, 61}}, []string{"n1/1 1-1", "n1/1 2-2"}},
		{"gap of exactly 50ms", []ack{{"n1", 1, 1, 0}, {"n1", 1, 2, 50}}, []string{"n1/1 1-2"}},
		{"skipped seq", []ack{{"n1", 1, 1, 0}, {"n1", 1, 3, 10}}, []string{"n1/1 1-1", "n1/1 3-3"}},
		{"flushed every second", steady(250), []string{"n1/1 1-100", "n1/1 101-200", "n1/1 201-250"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := compactor{gap: 50 * time.Millisecond, flushEvery: time.Second}
			var got []string
			str := func(e journal.Event) string { return fmt.Sprintf("%s/%d %d-%d", e.Node, e.Timeline, e.First, e.Last) }
			last := 0
			for i, a := range tt.acks {
				if e, ok := c.ack(a.node, a.tl, a.seq, ms(a.at-1), ms(a.at)); ok {
					got = append(got, str(e))
					if !e.At.Equal(e.LastAt) || e.Kind != journal.KindProbeAck || e.SentAt.IsZero() {
						t.Errorf("closed range %+v: At must be LastAt, kind probe.ack, SentAt set", e)
					}
				}
				if i > 0 && tt.acks[i-1].at > a.at {
					t.Fatal("bad test: time goes back")
				}
				last = a.at
			}
			if c.due(ms(last)) && c.cur.FirstAt.Add(time.Second).After(ms(last)) {
				t.Error("due before a second passed")
			}
			if e, ok := c.flush(); ok {
				got = append(got, str(e))
			}
			if _, ok := c.flush(); ok {
				t.Error("second flush returned a range")
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("ranges = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		wantState string
		wantMsg   string
	}{
		{"read only", fmt.Errorf("insert: %w", &pgconn.PgError{Code: "25006", Message: "cannot execute INSERT in a read-only transaction"}), "25006", "cannot execute INSERT in a read-only transaction"},
		{"wrong password", &pgconn.PgError{Code: "28P01", Message: "password authentication failed for user \"x\""}, "28P01", "password authentication failed for user \"x\""},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), "", "timeout"},
		{"refused", &net.OpError{Op: "dial", Err: &net.OpError{Err: syscall.ECONNREFUSED}}, "", "connection refused"},
		{"reset", fmt.Errorf("read: %w", syscall.ECONNRESET), "", "connection reset"},
		{"eof", fmt.Errorf("receive message: %w", io.ErrUnexpectedEOF), "", "connection closed"},
		{"other keeps the innermost cause", errors.New("failed to connect to `user=a database=b`: 127.0.0.1:1: server error: boom"), "", "boom"},
		{"long message is cut", errors.New(strings.Repeat("x", 500)), "", strings.Repeat("x", 120)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			state, msg := classify(tt.err)
			if state != tt.wantState || msg != tt.wantMsg {
				t.Errorf("classify = %q %q, want %q %q", state, msg, tt.wantState, tt.wantMsg)
			}
		})
	}
}

func TestCheckShape(t *testing.T) {
	tests := []struct {
		name string
		cols map[string]string
		want string // "" for no error
	}{
		{"as created", map[string]string{"seq": "bigint", "node": "text", "tl": "integer", "at": "timestamp with time zone"}, ""},
		{"wrong type", map[string]string{"seq": "integer", "node": "text", "tl": "integer"}, "column seq is integer, want bigint"},
		{"missing columns", map[string]string{"seq": "bigint"}, "column node is missing; column tl is missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkShape(tt.cols)
			if got := fmt.Sprint(err); (tt.want == "" && err != nil) || (tt.want != "" && got != tt.want) {
				t.Errorf("checkShape = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestRate(t *testing.T) {
	var r rate
	for i := range 300 { // 100/s for 3 s
		r.add(ms(i * 10))
	}
	tests := []struct {
		at   time.Time
		want float64
	}{
		{ms(3000), 100},             // 3 s of history at 100/s
		{ms(5000), 300.0 / 5},       // window now 5 s wide, 300 acks
		{ms(7000), 100.0 * 1.0 / 5}, // only the last second of acks left in the window
		{ms(9000), 0},               // all aged out
		{ms(60000), 0},              // long after: stale buckets ignored
	}
	for _, tt := range tests {
		if got := r.perSecond(tt.at); got < tt.want*0.9-0.5 || got > tt.want*1.1+0.5 {
			t.Errorf("rate at %v = %.1f, want about %.1f", tt.at.Sub(t0), got, tt.want)
		}
	}
}

func TestAckedRangesAndLastSeq(t *testing.T) {
	ev := []journal.Event{
		{Kind: journal.KindProbeAck, First: 5, Last: 9},
		{Kind: journal.KindProbeAck, First: 1, Last: 3},
		{Kind: journal.KindProbeError, Seqno: 4},
		{Kind: journal.KindProbeAck, First: 10, Last: 12},
		{Kind: journal.KindProbeAck, First: 7, Last: 8}, // duplicate inside
		{Kind: journal.KindProbeError, Seqno: 20},
		{Kind: journal.KindProbeError, Seqno: 21, Last: 30, Count: 10}, // compacted repeats
		{Kind: journal.KindProbeAck, First: 9, Last: 2},                // damaged: ignored
	}
	if got := fmt.Sprint(AckedRanges(ev)); got != "[{1 3} {5 12}]" {
		t.Errorf("AckedRanges = %s, want [{1 3} {5 12}]", got)
	}
	if got := LastSeq(ev); got != 30 {
		t.Errorf("LastSeq = %d, want 30", got)
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	for _, e := range []journal.Event{
		{Kind: journal.KindProbeAck, First: 1, Last: 100},
		{Kind: journal.KindProbeError, SQLState: "25006"},
		{Kind: journal.KindProbeError},
		{Kind: journal.KindProbeError, Count: 87}, // compacted repeats
		{Kind: journal.KindRole, Node: "n1", Role: "master", State: "running"},
		{Kind: journal.KindRole, Node: "n1", Role: "", State: "stopped"},
	} {
		m.Observe(e)
	}
	report := analysis.Report{
		Failovers: []analysis.Failover{{ID: "failover-1", Duration: 5300 * time.Millisecond, Cause: "power off n1"}},
		Lost:      []analysis.LostCommit{{Seq: 7}},
	}
	m.ObserveReport(report)
	m.ObserveReport(report) // again: nothing counted twice
	got := gather(t, reg)
	checks := []struct {
		series string
		want   float64
	}{
		{"redswitch_probe_commits_total", 100},
		{`redswitch_probe_errors_total{sqlstate="25006"}`, 1},
		{`redswitch_probe_errors_total{sqlstate="connection"}`, 88},
		{"redswitch_probe_outage_in_progress", 1},
		{`redswitch_node_role{node="n1",role="primary"}`, 0},
		{`redswitch_node_role{node="n1",role="down"}`, 1},
		{"redswitch_lost_commits_total", 1},
		{`redswitch_failover_duration_seconds_count{cause="cut"}`, 1},
		{`redswitch_failover_duration_seconds_sum{cause="cut"}`, 5.3},
	}
	for _, c := range checks {
		if v, ok := got[c.series]; !ok || v != c.want {
			t.Errorf("%s = %v (present %v), want %v", c.series, v, ok, c.want)
		}
	}
}

// gather renders every series of reg as name{labels} -> value.
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			name := mf.GetName()
			suffix := ""
			if len(labels) > 0 {
				suffix = "{" + strings.Join(labels, ",") + "}"
			}
			switch {
			case m.Counter != nil:
				out[name+suffix] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				out[name+suffix] = m.GetGauge().GetValue()
			case m.Histogram != nil:
				out[name+"_count"+suffix] = float64(m.GetHistogram().GetSampleCount())
				out[name+"_sum"+suffix] = m.GetHistogram().GetSampleSum()
			}
		}
	}
	return out
}

// AckSet, folding one event at a time, always equals AckedRanges over
// every event so far: random ranges that overlap, touch, nest, repeat,
// arrive out of order, reach the top of the numbers or are damaged.
func TestAckSetEqualsAckedRanges(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3, 4} {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, seed))
			var set AckSet
			var ev []journal.Event
			for i := range 2000 {
				first := rng.Uint64N(400) + 1
				last := first + rng.Uint64N(12)
				switch rng.IntN(40) {
				case 0:
					last = first - 1 // damaged: ignored
				case 1:
					first, last = math.MaxUint64-rng.Uint64N(3), math.MaxUint64
				case 2:
					first = 0 // never a probe number
				}
				e := journal.Event{Kind: journal.KindProbeAck, First: first, Last: last}
				if i%7 == 0 {
					e = journal.Event{Kind: journal.KindProbeError, Seqno: first}
				}
				ev = append(ev, e)
				set.Add(e)
				if got, want := set.Ranges(), AckedRanges(ev); !slices.Equal(got, want) {
					t.Fatalf("after %d events: AckSet %v, AckedRanges %v", i+1, got, want)
				}
			}
		})
	}
}
