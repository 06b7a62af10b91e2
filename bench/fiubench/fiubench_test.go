package fiubench

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redswitch/redswitch/fiu"
)

func TestSummarize(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var out []time.Duration
		for _, x := range v {
			out = append(out, time.Duration(x)*time.Millisecond)
		}
		return out
	}
	tests := []struct {
		name          string
		in            []time.Duration
		p50, p95, max time.Duration
	}{
		{"empty", nil, 0, 0, 0},
		{"one", ms(7), 7 * time.Millisecond, 7 * time.Millisecond, 7 * time.Millisecond},
		{"unsorted ten", ms(10, 1, 9, 2, 8, 3, 7, 4, 6, 5), 5 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond},
		{"twenty", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 100),
			10 * time.Millisecond, 19 * time.Millisecond, 100 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p50, p95, max := Summarize(tc.in)
			if p50 != tc.p50 || p95 != tc.p95 || max != tc.max {
				t.Fatalf("Summarize = %v %v %v, want %v %v %v", p50, p95, max, tc.p50, tc.p95, tc.max)
			}
		})
	}
}

// TestRun checks the measurement itself: no flip can be seen sooner than a
// debounce window after the first edge of its bounce train, and none should
// take outrageously long even on a loaded machine.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test skipped in -short mode")
	}
	window := 10 * time.Millisecond
	res, err := Run(context.Background(), Options{Trials: 5, Window: window})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(res)
	if len(res.Samples) != 5 {
		t.Fatalf("%d samples, want 5", len(res.Samples))
	}
	if len(res.FromEdge) != len(res.Samples) {
		t.Fatalf("%d from-edge latencies for %d samples", len(res.FromEdge), len(res.Samples))
	}
	for i, s := range res.Samples {
		if e := res.FromEdge[i]; e < window || e < s {
			t.Errorf("trial %d: %v from the first edge (%v from settling), faster than the %v debounce window", i, e, s, window)
		}
		if s > window+200*time.Millisecond {
			t.Errorf("trial %d: %v, far beyond the window", i, s)
		}
	}
	if !strings.Contains(res.Markdown(), "| 5 | 10ms | 1ms |") {
		t.Errorf("markdown:\n%s", res.Markdown())
	}
}

// BenchmarkSwitchToPower times flips end to end and reports the latency
// distribution from settled contact to relay write.
func BenchmarkSwitchToPower(b *testing.B) {
	var all []time.Duration
	for i := 0; i < b.N; i++ {
		res, err := Run(context.Background(), Options{Trials: 1})
		if err != nil {
			b.Fatal(err)
		}
		all = append(all, res.Samples...)
	}
	p50, p95, max := Summarize(all)
	b.ReportMetric(float64(p50)/1e6, "p50-ms")
	b.ReportMetric(float64(p95)/1e6, "p95-ms")
	b.ReportMetric(float64(max)/1e6, "max-ms")
	b.ReportMetric(float64(p95-fiu.DefaultWindow)/1e6, "p95-over-window-ms")
}

// BenchmarkDebouncerFeed is the cost of one sample of one pin.
func BenchmarkDebouncerFeed(b *testing.B) {
	d := &fiu.Debouncer{}
	t0 := time.Now()
	for i := 0; i < b.N; i++ {
		d.Feed(t0.Add(time.Duration(i)*time.Millisecond), i%64 < 40)
	}
}
