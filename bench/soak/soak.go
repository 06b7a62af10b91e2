// Package soak runs the head node's recording and analysis pipeline over
// simulated booth days on a compressed clock: a generated booth (probe/synth:
// 100 commits a second, a failover every 2 minutes, an hour a day with the
// primary port dead) appends to a real journal on disk through
// headnode.EventLog, the observer analyses it each simulated second, and
// dashboard viewers subscribed to the hub read every frame. Each simulated
// hour it records the heap, the tick times, the largest view frame and the
// journal's size, so a booth's third day can be compared with its first
// hour before a booth ever runs that long.
package soak

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/dashboard"
	"github.com/redswitch/redswitch/headnode"
	"github.com/redswitch/redswitch/headnodeapi"
	"github.com/redswitch/redswitch/journal"
	"github.com/redswitch/redswitch/probe/synth"
)

// Options configure a soak run; zero values take the defaults.
type Options struct {
	// Hours of booth to simulate (72).
	Hours int
	// Out is where results.json, report.md and the plots go; nothing is
	// written when empty.
	Out string
	// TickEvery is the simulated time between observer ticks (1 s, as the
	// head node ticks).
	TickEvery time.Duration
	// Viewers is how many dashboard viewers read the hub's frames (50).
	Viewers int
	// Full measures the observer as it was before the incremental
	// analysis: the whole history in memory, copied and analysed on every
	// tick. Use a TickEvery of a minute or so: at hour 8 a tick takes
	// about half a second.
	Full bool
	// Fsync keeps the journal's fsyncs of power, role and leader events
	// (off: the disk is shared, and the analysis is what is measured).
	Fsync bool
	// Booth shapes the simulated booth (probe/synth's defaults).
	Booth synth.Options
	// Before is an earlier run's results (a Full one) for the report's
	// comparison; nil for none.
	Before *Results
	// Progress hears of every finished hour; nil for silence.
	Progress func(Row)
	Log      *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Hours <= 0 {
		o.Hours = 72
	}
	if o.TickEvery <= 0 {
		o.TickEvery = time.Second
	}
	if o.Viewers <= 0 {
		o.Viewers = 50
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o
}

// Row is one simulated hour.
type Row struct {
	Hour int `json:"hour"`
	// Events journaled so far.
	Events int `json:"events"`
	// HeapMB is the live heap after a collection at the end of the hour.
	HeapMB float64 `json:"heap_mb"`
	// TickP50Ms, TickP99Ms and TickMaxMs are over the hour's ticks.
	TickP50Ms float64 `json:"tick_p50_ms"`
	TickP99Ms float64 `json:"tick_p99_ms"`
	TickMaxMs float64 `json:"tick_max_ms"`
	// ViewBytes is the largest view frame a viewer received this hour.
	ViewBytes int `json:"view_bytes"`
	// JournalMB is the size of the journal's segments on disk so far.
	JournalMB float64 `json:"journal_mb"`
	// Failovers since the start; WindowEvents are in the event log's
	// memory, TailEvents in the analysis' open tail.
	Failovers    int `json:"failovers"`
	WindowEvents int `json:"window_events"`
	TailEvents   int `json:"tail_events"`
	// IndexKB holds every ack range for late read-backs.
	IndexKB float64 `json:"index_kb"`
	// Dropped counts viewers the hub dropped as too slow so far.
	Dropped uint64 `json:"dropped"`
}

// Results are a whole run.
type Results struct {
	Hours int `json:"hours"`
	// Mode is "incremental", or "full" for the observer before it.
	Mode      string  `json:"mode"`
	TickEvery float64 `json:"tick_every_s"`
	Viewers   int     `json:"viewers"`
	CPUs      int     `json:"cpus"`
	// WallS is how long the run took.
	WallS float64 `json:"wall_s"`
	Rows  []Row   `json:"rows"`
	// Targets are the targets, judged on the rows.
	Targets []Target `json:"targets"`
}

// Target is one goal of the soak and whether the run met it.
type Target struct {
	Name string `json:"name"`
	Want string `json:"want"`
	Got  string `json:"got"`
	OK   bool   `json:"ok"`
}

// Run simulates the booth for o.Hours and writes the results to o.Out.
func Run(ctx context.Context, o Options) (Results, error) {
	o = o.withDefaults()
	begin := time.Now()
	res := Results{Hours: o.Hours, Mode: "incremental", TickEvery: o.TickEvery.Seconds(), Viewers: o.Viewers, CPUs: runtime.GOMAXPROCS(0)}
	if o.Full {
		res.Mode = "full"
	}
	tmp, err := os.MkdirTemp("", "redswitch-soak-")
	if err != nil {
		return res, fmt.Errorf("soak: %w", err)
	}
	defer os.RemoveAll(tmp)

	booth := synth.New(o.Booth)
	var now atomic.Pointer[time.Time]
	setNow := func(t time.Time) { now.Store(&t) }
	clock := func() time.Time { return *now.Load() }
	setNow(booth.Now())
	jo := journal.Options{Now: clock}
	if !o.Fsync {
		jo.SyncKinds = []journal.Kind{}
	}
	dir := filepath.Join(tmp, "journal")
	j, _, err := journal.Open(dir, o.Log, jo)
	if err != nil {
		return res, fmt.Errorf("soak: %w", err)
	}
	defer j.Close()
	elo := headnode.EventLogOptions{}
	if o.Full {
		elo.Keep = -1 // the event log as it was: everything in memory
	}
	events := headnode.NewEventLog(j, nil, elo)
	hub := dashboard.NewHub(dashboard.HubOptions{MaxSubscribers: o.Viewers + 1, Log: o.Log})
	hctx, stopHub := context.WithCancel(ctx)
	defer stopHub()
	go func() { _ = hub.Run(hctx) }()
	st, err := newState()
	if err != nil {
		return res, fmt.Errorf("soak: %w", err)
	}
	events.Listen(st.observe)
	ob := headnode.NewObserver(headnode.ObserverOptions{Events: events, Hub: hub, State: st.state, Clock: clock, Full: o.Full,
		ReadJournal: func() ([]journal.Event, error) { return journal.ReadDir(dir) }, Log: o.Log})

	vs := &viewers{hub: hub}
	if err := vs.start(hctx, o.Viewers); err != nil {
		return res, fmt.Errorf("soak: %w", err)
	}
	defer vs.wait()

	start := booth.Now()
	var ticks []time.Duration
	var failed error
	for hour := 1; hour <= o.Hours && failed == nil; hour++ {
		end := start.Add(time.Duration(hour) * time.Hour)
		ticks = ticks[:0]
		for t := clock(); t.Before(end); {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			t = t.Add(o.TickEvery)
			setNow(t)
			for _, e := range booth.Until(t) {
				if _, err := events.Append(e); err != nil {
					failed = fmt.Errorf("soak: hour %d: %w", hour, err)
					break
				}
			}
			t0 := time.Now()
			ob.Tick()
			ticks = append(ticks, time.Since(t0))
			// A second is long for a browser: let the viewers read the
			// frames before the next one, as they would, rather than
			// compete with the next tick for the CPUs.
			vs.drain(ctx)
		}
		row := Row{Hour: hour, TickP50Ms: ms(quantile(ticks, 0.5)), TickP99Ms: ms(quantile(ticks, 0.99)), TickMaxMs: ms(slices.Max(ticks)), ViewBytes: vs.takeMax(),
			Dropped: hub.Stats().Dropped}
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		row.HeapMB = float64(m.HeapAlloc) / (1 << 20)
		es := events.Stats()
		row.Events, row.WindowEvents = es.Total, es.Window
		as := ob.AnalysisStats()
		row.TailEvents, row.IndexKB = as.Tail, float64(as.IndexBytes)/1024
		row.Failovers = len(ob.Report().Failovers)
		if row.JournalMB, err = dirMB(dir); err != nil {
			return res, fmt.Errorf("soak: %w", err)
		}
		res.Rows = append(res.Rows, row)
		if o.Progress != nil {
			o.Progress(row)
		}
	}
	stopHub()
	res.WallS = time.Since(begin).Seconds()
	res.Targets = Judge(res)
	if failed != nil {
		return res, failed
	}
	if vs.err() != nil {
		return res, fmt.Errorf("soak: %w", vs.err())
	}
	if o.Out != "" {
		if err := Write(o.Out, res, o.Before); err != nil {
			return res, err
		}
	}
	return res, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// quantile is the nearest-rank quantile of ds (which it sorts).
func quantile(ds []time.Duration, q float64) time.Duration {
	slices.Sort(ds)
	return ds[max(0, int(math.Ceil(q*float64(len(ds))))-1)]
}

func dirMB(dir string) (float64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("journal size: %w", err)
	}
	var n int64
	for _, e := range ents {
		info, err := e.Info()
		if err != nil {
			return 0, fmt.Errorf("journal size: %w", err)
		}
		n += info.Size()
	}
	return float64(n) / (1 << 20), nil
}

// state is the head node's state as the booth's events tell it: who leads
// and each node's role, enough for the view's node cards.
type state struct {
	mu    sync.Mutex
	st    headnodeapi.State
	nodes map[string]int
}

func newState() (*state, error) {
	s := &state{nodes: map[string]int{}}
	s.st.Scope = "soak"
	t, err := cluster.ParseTimings("aggressive")
	if err != nil {
		return nil, err
	}
	s.st.Timings.Requested = t
	for i, n := range []string{"n1", "n2", "n3"} {
		s.nodes[n] = i
		lag := int64(0)
		s.st.Nodes = append(s.st.Nodes, headnodeapi.NodeState{Name: n, Power: "on", Agent: true, Role: cluster.RoleReplica, LagBytes: &lag})
	}
	return s, nil
}

func (s *state) observe(e journal.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.nodes[e.Node]
	switch {
	case e.Kind == journal.KindLeader && e.Node != "":
		s.st.Leader = e.Node
	case e.Kind == journal.KindRole && ok:
		s.st.Nodes[i].Role = cluster.RoleFromPatroni(e.Role, e.State)
		s.st.Nodes[i].State, s.st.Nodes[i].Timeline = e.State, e.Timeline
	case e.Kind == journal.KindPower && ok && e.On != nil:
		s.st.Nodes[i].Power = map[bool]string{true: "on", false: "off"}[*e.On]
	}
}

func (s *state) state() headnodeapi.State {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	st.Nodes = slices.Clone(s.st.Nodes)
	return st
}

// viewers read every frame the hub sends, as browsers would, and keep the
// largest view frame; one dropped as too slow subscribes again.
type viewers struct {
	hub     *dashboard.Hub
	wg      sync.WaitGroup
	maxView atomic.Int64
	mu      sync.Mutex
	subs    map[*dashboard.Subscription]bool
	failed  error
}

func (v *viewers) start(ctx context.Context, n int) error {
	v.subs = map[*dashboard.Subscription]bool{}
	for range n {
		sub, err := v.hub.Subscribe()
		if err != nil {
			return fmt.Errorf("subscribe a viewer: %w", err)
		}
		v.track(nil, sub)
		v.wg.Add(1)
		go v.read(ctx, sub)
	}
	return nil
}

func (v *viewers) read(ctx context.Context, sub *dashboard.Subscription) {
	defer v.wg.Done()
	viewPrefix := []byte(`{"type":"view"`)
	for {
		select {
		case f := <-sub.Frames():
			if len(f) >= len(viewPrefix) && string(f[:len(viewPrefix)]) == string(viewPrefix) {
				for {
					cur := v.maxView.Load()
					if int64(len(f)) <= cur || v.maxView.CompareAndSwap(cur, int64(len(f))) {
						break
					}
				}
			}
		case <-sub.Done():
			if !errors.Is(sub.Err(), dashboard.ErrSlowViewer) || ctx.Err() != nil {
				return
			}
			next, err := v.hub.Subscribe()
			if err != nil {
				if ctx.Err() == nil {
					v.mu.Lock()
					v.failed = fmt.Errorf("a dropped viewer could not subscribe again: %w", err)
					v.mu.Unlock()
				}
				return
			}
			v.track(sub, next)
			sub = next
		}
	}
}

// track replaces a viewer's old subscription by its new one.
func (v *viewers) track(old, sub *dashboard.Subscription) {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.subs, old)
	v.subs[sub] = true
}

// drain waits until every viewer has taken its queued frames.
func (v *viewers) drain(ctx context.Context) {
	for ctx.Err() == nil {
		v.mu.Lock()
		queued := 0
		for s := range v.subs {
			queued += len(s.Frames())
		}
		v.mu.Unlock()
		if queued == 0 {
			return
		}
		time.Sleep(20 * time.Microsecond)
	}
}

// takeMax returns the largest view frame since the last call.
func (v *viewers) takeMax() int { return int(v.maxView.Swap(0)) }

func (v *viewers) wait() { v.wg.Wait() }

func (v *viewers) err() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.failed
}
