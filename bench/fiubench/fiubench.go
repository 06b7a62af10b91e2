// Package fiubench measures the booth's reaction time: from the moment a
// switch contact settles to the moment the power driver is called, through
// the real polling loop, debouncer and relay driver on fake pins.
package fiubench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/redswitch/redswitch/fiu"
	"github.com/redswitch/redswitch/power"
)

// Options configure a measurement.
type Options struct {
	// Trials is how many flips to time (default 20).
	Trials int
	// Window is the debounce window (default fiu.DefaultWindow).
	Window time.Duration
	// PollInterval is the sampling period (default fiu.DefaultPollInterval).
	PollInterval time.Duration
	// Bounces and BounceGap shape the contact bounce before it settles
	// (default 3 bounces 1 ms apart; negative Bounces for a clean edge).
	Bounces   int
	BounceGap time.Duration
	Log       *slog.Logger
}

// Result is the latency distribution from settled contact to power call.
type Result struct {
	Window  time.Duration   `json:"window"`
	Poll    time.Duration   `json:"poll"`
	Samples []time.Duration `json:"samples"`
	// FromEdge is each flip's latency from the first edge of its bounce
	// train. Under load the poller can skip the bounces and take a bounce
	// that already shows the final level as the start of a stable run, so a
	// sample can be shorter than the window; no flip can beat the window
	// counted from the first edge.
	FromEdge []time.Duration `json:"from_edge"`
	P50      time.Duration   `json:"p50"`
	P95      time.Duration   `json:"p95"`
	Max      time.Duration   `json:"max"`
}

// String is a one-line summary.
func (r Result) String() string {
	return fmt.Sprintf("switch settled -> power driver: n=%d p50 %v p95 %v max %v (window %v, poll %v; target <= window + 5ms = %v)",
		len(r.Samples), r.P50.Round(10*time.Microsecond), r.P95.Round(10*time.Microsecond), r.Max.Round(10*time.Microsecond),
		r.Window, r.Poll, r.Window+5*time.Millisecond)
}

// Summarize computes nearest-rank percentiles of samples.
func Summarize(samples []time.Duration) (p50, p95, max time.Duration) {
	if len(samples) == 0 {
		return 0, 0, 0
	}
	s := append([]time.Duration(nil), samples...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	rank := func(p float64) time.Duration {
		i := int(p*float64(len(s))+0.999999) - 1
		if i < 0 {
			i = 0
		}
		return s[i]
	}
	return rank(0.50), rank(0.95), s[len(s)-1]
}

// Run times o.Trials flips and returns the distribution. Each trial is a
// fresh unit on fake pins read against the real clock, so polling and
// scheduling delays are real.
func Run(ctx context.Context, o Options) (Result, error) {
	if o.Trials <= 0 {
		o.Trials = 20
	}
	if o.Window <= 0 {
		o.Window = fiu.DefaultWindow
	}
	if o.PollInterval <= 0 {
		o.PollInterval = fiu.DefaultPollInterval
	}
	switch {
	case o.Bounces < 0:
		o.Bounces = 0
	case o.Bounces == 0:
		o.Bounces = 3
	}
	if o.BounceGap <= 0 {
		o.BounceGap = time.Millisecond
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	res := Result{Window: o.Window, Poll: o.PollInterval}
	for i := 0; i < o.Trials; i++ {
		lat, fromEdge, err := trial(ctx, o)
		if err != nil {
			return res, fmt.Errorf("fiubench: trial %d: %w", i+1, err)
		}
		res.Samples = append(res.Samples, lat)
		res.FromEdge = append(res.FromEdge, fromEdge)
	}
	res.P50, res.P95, res.Max = Summarize(res.Samples)
	return res, nil
}

// stampOutputs records when the relay driver writes a pin.
type stampOutputs struct {
	once sync.Once
	at   chan time.Time
}

// Write stamps the first write.
func (s *stampOutputs) Write(int, bool) error {
	now := time.Now()
	s.once.Do(func() { s.at <- now })
	return nil
}

const (
	pin  = 17
	node = "n1"
)

// trial returns the latency from the settled contact and from the first edge.
func trial(ctx context.Context, o Options) (time.Duration, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second+4*o.Window)
	defer cancel()
	start := time.Now()
	f := fiu.NewFake(start, time.Now)
	// On (active low) at first; flipped Off after the unit has settled.
	flipAt := 2*o.Window + 20*time.Millisecond
	f.Script(pin, append([]fiu.Step{{At: 0, High: false}}, fiu.Bounce(flipAt, true, o.Bounces, o.BounceGap)...)...)
	edge := start.Add(flipAt)
	settled := edge.Add(time.Duration(2*o.Bounces) * o.BounceGap)

	u, err := fiu.NewUnit(fiu.Options{Pins: f, Switches: []fiu.SwitchConfig{{ID: 1, Node: node, Pin: pin}},
		Window: o.Window, PollInterval: o.PollInterval, Log: o.Log})
	if err != nil {
		return 0, 0, err
	}
	pos, err := u.Settle(ctx)
	if err != nil {
		return 0, 0, err
	}
	if !pos[0].On {
		return 0, 0, errors.New("settling took longer than the flip delay: the machine is too loaded to measure")
	}
	out := &stampOutputs{at: make(chan time.Time, 1)}
	relay := power.NewRelay(out, map[string]power.RelayPin{node: {Pin: 5}}, o.Log)
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	errc := make(chan error, 1)
	go func() {
		errc <- u.Run(runCtx, func(s fiu.Switch) {
			if !s.On {
				if err := relay.PowerOff(runCtx, s.Node); err != nil {
					o.Log.Error("power off", "err", err)
				}
			}
		})
	}()
	select {
	case at := <-out.at:
		stop()
		<-errc
		return at.Sub(settled), at.Sub(edge), nil
	case <-ctx.Done():
		stop()
		<-errc
		return 0, 0, fmt.Errorf("no power call: %w", ctx.Err())
	}
}

// Markdown renders the result as a small table for reports.
func (r Result) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "| flips | window | poll | p50 | p95 | max | target |\n|---|---|---|---|---|---|---|\n")
	fmt.Fprintf(&b, "| %d | %v | %v | %v | %v | %v | %v |\n", len(r.Samples), r.Window, r.Poll,
		r.P50.Round(10*time.Microsecond), r.P95.Round(10*time.Microsecond), r.Max.Round(10*time.Microsecond),
		r.Window+5*time.Millisecond)
	return b.String()
}
