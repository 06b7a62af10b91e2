package dashbench

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redswitch/redswitch/dashboard"
)

func TestQuantiles(t *testing.T) {
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
		p50, p99, max time.Duration
	}{
		{"empty", nil, 0, 0, 0},
		{"one", ms(7), 7 * time.Millisecond, 7 * time.Millisecond, 7 * time.Millisecond},
		{"unsorted", ms(5, 1, 4, 2, 3), 3 * time.Millisecond, 5 * time.Millisecond, 5 * time.Millisecond},
		{"hundred", func() []time.Duration {
			var d []time.Duration
			for i := 100; i >= 1; i-- {
				d = append(d, time.Duration(i)*time.Millisecond)
			}
			return d
		}(), 50 * time.Millisecond, 99 * time.Millisecond, 100 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p50, p99, max := quantiles(tt.in)
			if p50 != tt.p50 || p99 != tt.p99 || max != tt.max {
				t.Fatalf("quantiles = %v %v %v, want %v %v %v", p50, p99, max, tt.p50, tt.p99, tt.max)
			}
		})
	}
}

func TestResultString(t *testing.T) {
	r := Result{Viewers: 2, Messages: 3, Received: 6, P50: 150 * time.Microsecond, HeapBefore: 1 << 20, HeapConnected: 1<<20 + 2<<10}
	s := r.String()
	for _, want := range []string{"2 viewers × 3 messages", "received 6", "p50 150µs", "1 KiB per viewer"} {
		if !strings.Contains(s, want) {
			t.Fatalf("%q lacks %q", s, want)
		}
	}
}

// TestMeasure runs the measurements and reports them; it fails when a
// message is lost, a viewer is dropped at the booth's rates, or latency or
// memory per viewer are far beyond what a booth needs.
func TestMeasure(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement skipped in -short mode")
	}
	tests := []struct {
		name      string
		o         Options
		maxP99    time.Duration
		maxPerKiB uint64
	}{
		{"one viewer", Options{Viewers: 1, Messages: 1000, Interval: 2 * time.Millisecond}, 50 * time.Millisecond, 0},
		{"250 viewers", Options{Viewers: 250, Messages: 200, Interval: 20 * time.Millisecond}, 500 * time.Millisecond, 256},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			r, err := Run(ctx, tt.o)
			t.Log(r)
			if err != nil {
				t.Fatal(err)
			}
			if r.Received != tt.o.Viewers*tt.o.Messages || r.Dropped != 0 {
				t.Fatalf("received %d of %d, dropped %d", r.Received, tt.o.Viewers*tt.o.Messages, r.Dropped)
			}
			if r.P99 > tt.maxP99 {
				t.Errorf("p99 %v exceeds %v", r.P99, tt.maxP99)
			}
			if tt.maxPerKiB > 0 && r.PerViewer() > tt.maxPerKiB<<10 {
				t.Errorf("%d bytes per viewer exceeds %d KiB", r.PerViewer(), tt.maxPerKiB)
			}
			// Memory comes back once the viewers leave (within 1 MiB).
			if r.HeapAfter > r.HeapBefore+1<<20 {
				t.Errorf("heap after %d > before %d + 1 MiB: viewers leak", r.HeapAfter, r.HeapBefore)
			}
			if out := os.Getenv("REDSWITCH_ARTIFACTS"); out != "" {
				line := time.Now().UTC().Format(time.RFC3339) + " " + tt.name + ": " + r.String() + "\n"
				f, err := os.OpenFile(out+"/dashbench.txt", os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
				if err == nil {
					_, _ = f.WriteString(line)
					f.Close()
				}
			}
		})
	}
}

// BenchmarkEventToScreen times one message from Publish to a websocket
// client's decoded copy, one at a time, and reports p50 and p99.
func BenchmarkEventToScreen(b *testing.B) {
	r, err := Run(context.Background(), Options{Viewers: 1, Messages: max(b.N, 10), Interval: 200 * time.Microsecond})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(r.P50.Microseconds()), "p50-µs")
	b.ReportMetric(float64(r.P99.Microseconds()), "p99-µs")
}

// BenchmarkHubPublish200 is the hub's fan-out cost alone: one publish to
// 200 subscribers that keep up.
func BenchmarkHubPublish200(b *testing.B) {
	hub := dashboard.NewHub(dashboard.HubOptions{SendBuffer: 1024})
	var subs []*dashboard.Subscription
	for range 200 {
		s, err := hub.Subscribe()
		if err != nil {
			b.Fatal(err)
		}
		subs = append(subs, s)
	}
	msg := dashboard.RateMessage(dashboard.RateSample{T: time.Now(), Rate: 97})
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := hub.Publish(msg); err != nil {
			b.Fatal(err)
		}
		if i%512 == 511 {
			for _, s := range subs {
				for len(s.Frames()) > 0 {
					<-s.Frames()
				}
			}
		}
	}
}
