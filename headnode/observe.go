package headnode

import (
	"cmp"
	"context"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/redswitch/redswitch/dashboard"
	"github.com/redswitch/redswitch/headnodeapi"
	"github.com/redswitch/redswitch/journal"
	"github.com/redswitch/redswitch/probe"
	"github.com/redswitch/redswitch/probe/analysis"
)

// ProbeStats is the probe as the observer sees it.
type ProbeStats interface {
	Stats() probe.Stats
}

// SwitchPositions lists the switches of the Failure Injection Unit.
type SwitchPositions interface {
	Positions() []headnodeapi.Switch
}

// ObserverOptions wire the observer.
type ObserverOptions struct {
	// Head gives the state, the clock and the operator check; a
	// benchmark without a head node sets State and Clock instead.
	Head   *HeadNode
	Events *EventLog
	// History is what the journal held at start (journal.Open's
	// events): the analysis starts from it, then follows Events.
	History []journal.Event
	// ReadJournal reads the whole journal back; the observer rebuilds
	// its analysis from it in the rare case an event arrives too late
	// to be judged incrementally (analysis.Incremental.Late). Nil: no
	// rebuild, a warning instead.
	ReadJournal func() ([]journal.Event, error)
	// State and Clock default to Head's.
	State func() headnodeapi.State
	Clock func() time.Time
	// Probe may be nil when no probe runs.
	Probe    ProbeStats
	Switches SwitchPositions
	Hub      *dashboard.Hub
	// Analysis tunes the incremental analysis (SettleLag 0: its default).
	Analysis analysis.IncrementalOptions
	// PatroniLogs fetches a node's Patroni output for the outages as they
	// close; nil: outages carry no log.
	PatroniLogs PatroniLogs
	// Full turns the incremental analysis off: every tick copies the
	// history in memory (Events; keep all of it, EventLogOptions.Keep < 0)
	// and re-analyses it since the last reset with analysis.Analyze, as the
	// observer did before. Only the soak bench sets it, to measure the
	// difference.
	Full bool
	Log  *slog.Logger
}

// Observer turns the recorded history into what people look at: the
// failover list and probe figures of the API, Prometheus metrics, and the
// dashboard's view, lines and commit-rate strip. It judges the history
// since the last reset with analysis.Incremental, which equals Analyze
// over the whole of it (the verdicts are still those of a pure function
// over the whole history) at a cost per tick that does not grow with it:
// a booth's third day costs what its first hour did.
type Observer struct {
	o       ObserverOptions
	reg     *prometheus.Registry
	metrics *probe.Metrics

	// pmu guards pending, filled by the event log's listener under the
	// log's lock: it must never wait for an analysis.
	pmu     sync.Mutex
	pending []journal.Event

	// amu guards the analysis and what is derived from it.
	amu sync.Mutex
	inc *analysis.Incremental
	// lastSeq is the last event taken into the analysis.
	lastSeq  uint64
	observed int // failovers of inc counted in the metrics
	stats    failoverStats
	// lateSeen is the count of late events the last rebuild (or its
	// failure) answered, so a failing rebuild is not retried each tick.
	lateSeen int
	// out keeps the explained outages.
	out *outageStore
	// bg is Run's context: the Patroni log fetches end with it.
	bg context.Context
}

// NewObserver registers the metrics, analyses the history and subscribes
// to the event log.
func NewObserver(o ObserverOptions) *Observer {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.State == nil && o.Head != nil {
		o.State = o.Head.State
	}
	if o.Clock == nil {
		if o.Head != nil {
			o.Clock = o.Head.o.Clock
		} else {
			o.Clock = time.Now
		}
	}
	reg := prometheus.NewRegistry()
	ob := &Observer{o: o, reg: reg, metrics: probe.NewMetrics(reg), bg: context.Background()}
	ob.restart(o.History)
	ob.o.History = nil // analysed: the journal keeps it, not memory
	o.Events.ListenAfter(ob.lastSeq, func(e journal.Event) {
		ob.metrics.Observe(e)
		if o.Hub != nil {
			_ = o.Hub.PublishEvent(e)
		}
		ob.pmu.Lock()
		ob.pending = append(ob.pending, e)
		ob.pmu.Unlock()
	})
	return ob
}

func isReset(e journal.Event) bool {
	return e.Kind == journal.KindMark && e.Detail == historyResetDetail
}

const historyResetDetail = "history reset"

// restart analyses history afresh: the events after its last reset.
func (ob *Observer) restart(history []journal.Event) {
	from := 0
	for i, e := range history {
		if isReset(e) {
			from = i + 1
		}
	}
	ob.reset()
	ob.add(history[from:])
	if !ob.o.Full {
		ob.restartOutages(history[from:])
	}
	if n := len(history); n > 0 {
		ob.lastSeq = history[n-1].Seq
	}
}

// reset starts the analysis of an empty history (a history reset).
func (ob *Observer) reset() {
	ob.inc = analysis.NewIncremental(ob.o.Analysis)
	ob.observed = 0
	ob.stats = failoverStats{}
	ob.lateSeen = 0
	ob.out = newOutageStore()
}

func (ob *Observer) add(events []journal.Event) {
	if !ob.o.Full {
		ob.inc.Add(events...)
		for _, e := range events {
			ob.out.add(e)
		}
	}
}

// fullReport is the Full mode's analysis: of a copy of the history in
// memory since its last reset.
func (ob *Observer) fullReport() analysis.Report {
	events := ob.o.Events.Events()
	for i := len(events) - 1; i >= 0; i-- {
		if isReset(events[i]) {
			events = events[i+1:]
			break
		}
	}
	return analysis.Analyze(events, ob.o.Analysis.Analysis)
}

// Run refreshes the analysis and the dashboard until ctx ends.
func (ob *Observer) Run(ctx context.Context) {
	ob.amu.Lock()
	ob.bg = ctx
	ob.amu.Unlock()
	fast := time.NewTicker(250 * time.Millisecond)
	defer fast.Stop()
	slow := time.NewTicker(time.Second)
	defer slow.Stop()
	ob.Tick()
	for {
		select {
		case <-ctx.Done():
			return
		case <-fast.C:
			if ob.o.Hub != nil && ob.o.Probe != nil {
				st := ob.o.Probe.Stats()
				rate := st.Rate
				if st.Outage {
					rate = 0
				}
				_ = ob.o.Hub.Publish(dashboard.RateMessage(dashboard.RateSample{T: ob.o.Clock(), Rate: rate}))
			}
		case <-slow.C:
			ob.Tick()
		}
	}
}

// Tick takes the events recorded since the last tick into the analysis
// and refreshes the metrics and the dashboard's view. Run calls it every
// second; a benchmark calls it on its own clock.
func (ob *Observer) Tick() {
	ob.pmu.Lock()
	batch := ob.pending
	ob.pending = nil
	ob.pmu.Unlock()

	ob.amu.Lock()
	from := 0
	for i, e := range batch {
		if isReset(e) {
			ob.add(batch[from:i])
			ob.reset()
			from = i + 1
		}
	}
	ob.add(batch[from:])
	if n := len(batch); n > 0 {
		ob.lastSeq = batch[n-1].Seq
	}
	if !ob.o.Full {
		if late := ob.inc.Late(); late > ob.lateSeen {
			ob.lateSeen = late
			ob.rebuild()
		}
		ob.inc.Settle(ob.o.Clock())
	}
	sum, latest, lost := ob.observe()
	fresh := ob.explainOutages()
	outs := slices.Clone(ob.out.kept[max(0, len(ob.out.kept)-dashboard.ShownOutages):])
	bg := ob.bg
	ob.amu.Unlock()

	for _, x := range fresh {
		go ob.fetchLogs(bg, x)
	}

	if ob.o.Hub != nil {
		v := ob.view(analysis.Report{Failovers: latest}, sum)
		v.Outages = viewOutages(outs)
		_ = ob.o.Hub.SetView(v)
	}
	ob.metrics.ObserveLost(lost)
}

// rebuild analyses the whole journal afresh: an event came too late for
// the incremental analysis to judge it exactly (never from a live head
// node, whose events are stamped as they happen).
func (ob *Observer) rebuild() {
	if ob.o.ReadJournal == nil {
		ob.o.Log.Warn("observer: an event arrived too late to be analysed exactly and the journal cannot be read back",
			"late", ob.inc.Late())
		return
	}
	history, err := ob.o.ReadJournal()
	if err != nil {
		ob.o.Log.Error("observer: rebuild the analysis: read the journal back", "err", err)
		return
	}
	ob.o.Log.Warn("observer: an event arrived too late to be analysed incrementally: analysing the whole journal again",
		"late", ob.inc.Late(), "events", len(history))
	// The journal holds at least what was analysed so far; the listener
	// brings what comes after.
	var upTo []journal.Event
	for _, e := range history {
		if e.Seq <= ob.lastSeq {
			upTo = append(upTo, e)
		}
	}
	observed := ob.observed
	ob.restart(upTo)
	ob.observed = min(observed, ob.inc.FailoverCount())
	ob.lateSeen = 0
}

// observe feeds the metrics with the failovers they have not counted and
// returns the view's summary, its latest failovers and the lost commits.
func (ob *Observer) observe() (dashboard.FailoverSummary, []analysis.Failover, []analysis.LostCommit) {
	if ob.o.Full {
		rep := ob.fullReport()
		for _, f := range rep.Failovers[min(ob.observed, len(rep.Failovers)):] {
			ob.metrics.ObserveFailover(f)
		}
		ob.observed = len(rep.Failovers)
		latest := rep.Failovers // as before: every failover in every frame
		byFo := map[int]int{}
		for i, f := range rep.Failovers {
			if len(f.Lost) > 0 {
				byFo[i] = len(f.Lost)
			}
		}
		return summarize(rep.Failovers, byFo, len(rep.Lost)), latest, rep.Lost
	}
	n := ob.inc.FailoverCount()
	for _, f := range ob.inc.Failovers(ob.observed, n) {
		ob.metrics.ObserveFailover(f)
	}
	ob.observed = n
	settled := ob.inc.Stats().SettledFailovers
	if settled > ob.stats.n {
		ob.stats.fold(ob.inc.Failovers(ob.stats.n, settled))
	}
	lost := ob.inc.Lost()
	sum := ob.stats.summary(ob.inc.Failovers(settled, n), ob.inc.LostByFailover(), len(lost), func(i int) float64 {
		return ob.inc.FailoverAt(i).Duration.Seconds()
	})
	return sum, ob.inc.Failovers(n-dashboard.ShownFailovers, n), lost
}

// Report is the analysis of the history since the last reset, in full.
func (ob *Observer) Report() analysis.Report {
	ob.amu.Lock()
	defer ob.amu.Unlock()
	if ob.o.Full {
		return ob.fullReport()
	}
	return ob.inc.Report()
}

// failoverPage returns the failovers from index from up to to (clamped)
// and how many there are.
func (ob *Observer) failoverPage(from, to int) ([]analysis.Failover, int) {
	ob.amu.Lock()
	defer ob.amu.Unlock()
	if ob.o.Full {
		fs := ob.fullReport().Failovers
		from, to = max(from, 0), min(to, len(fs))
		if from >= to {
			return nil, len(fs)
		}
		return fs[from:to], len(fs)
	}
	return ob.inc.Failovers(from, to), ob.inc.FailoverCount()
}

// totals are the probe's totals since the last reset.
func (ob *Observer) totals() analysis.Totals {
	ob.amu.Lock()
	defer ob.amu.Unlock()
	if ob.o.Full {
		return ob.fullReport().Totals
	}
	return ob.inc.Totals()
}

// AnalysisStats tell what the analysis holds, for benchmarks.
func (ob *Observer) AnalysisStats() analysis.IncrementalStats {
	ob.amu.Lock()
	defer ob.amu.Unlock()
	if ob.o.Full {
		return analysis.IncrementalStats{}
	}
	return ob.inc.Stats()
}

// Failovers converts the analysis to the API's shape.
func Failovers(rep analysis.Report) []headnodeapi.Failover {
	out := make([]headnodeapi.Failover, 0, len(rep.Failovers))
	for _, f := range rep.Failovers {
		fj := headnodeapi.Failover{ID: f.ID, StartedAt: f.StartedAt, DurationS: f.Duration.Seconds(), LostCommits: len(f.Lost),
			Lost: f.Lost, OldPrimary: f.OldPrimary, NewPrimary: f.NewPrimary, OldTimeline: f.OldTimeline,
			NewTimeline: f.NewTimeline, Cause: f.Cause, Phases: []headnodeapi.Phase{}}
		for _, p := range f.Phases {
			fj.Phases = append(fj.Phases, headnodeapi.Phase{Name: p.Name, OffsetS: p.Seconds})
		}
		if f.RigShare != nil {
			s := f.RigShare.Seconds()
			fj.RigShareS = &s
		}
		out = append(out, fj)
	}
	return out
}

// view is the dashboard's screen; rep holds the latest failovers, sum
// summarises all of them.
func (ob *Observer) view(rep analysis.Report, sum dashboard.FailoverSummary) dashboard.View {
	var st headnodeapi.State
	if ob.o.State != nil {
		st = ob.o.State()
	}
	v := dashboard.View{
		Cluster: dashboard.Cluster{Scope: st.Scope, Leader: st.Leader, Timings: dashboard.Timings{
			Name: st.Timings.Requested.Name, TTL: st.Timings.Requested.TTL, LoopWait: st.Timings.Requested.LoopWait,
			RetryTimeout: st.Timings.Requested.RetryTimeout, EffectiveTTL: st.Timings.TTL,
			EffectiveRetryTimeout: st.Timings.RetryTimeout, PatroniVersion: st.Timings.PatroniVersion}},
		Reference:    dashboard.DefaultReference(),
		Failovers:    []dashboard.Failover{},
		Outages:      []dashboard.Outage{},
		Summary:      sum,
		JournalError: st.JournalError,
	}
	switches := map[string]*dashboard.Switch{}
	if ob.o.Switches != nil {
		for _, s := range ob.o.Switches.Positions() {
			switches[s.Node] = &dashboard.Switch{ID: s.ID, On: s.On}
		}
	}
	for _, n := range st.Nodes {
		v.Nodes = append(v.Nodes, dashboard.Node{Name: n.Name, Power: n.Power, Agent: n.Agent, Role: n.Role,
			State: n.State, Timeline: n.Timeline, Sync: n.Sync, LagBytes: n.LagBytes, Switch: switches[n.Name]})
	}
	for _, f := range Failovers(rep) {
		df := dashboard.Failover{ID: f.ID, StartedAt: f.StartedAt, DurationS: f.DurationS, LostCommits: f.LostCommits,
			OldPrimary: f.OldPrimary, NewPrimary: f.NewPrimary, Cause: f.Cause, RigShareS: f.RigShareS}
		df.Phases, df.RolePublishedS = barPhases(f)
		v.Failovers = append(v.Failovers, df)
	}
	if ob.o.Probe != nil {
		ps := ob.o.Probe.Stats()
		v.Probe = dashboard.Probe{Rate: ps.Rate, LastAck: ps.LastAck, OutageInProgress: ps.Outage,
			OutageSince: ps.OutageSince, Acks: ps.Acks, Errors: ps.Errors}
	}
	return v
}

// barPhases are the phases the dashboard stacks in its bar: in time order
// and up to the first commit, without Patroni's role publication
// (`promoted`), which comes about a second after the first commit and
// delayed nothing; its offset is returned apart.
func barPhases(f headnodeapi.Failover) (bar []dashboard.Phase, published *float64) {
	for _, p := range f.Phases {
		if p.Name == analysis.PhasePromoted {
			s := p.OffsetS
			published = &s
			continue
		}
		if p.OffsetS > f.DurationS {
			continue
		}
		bar = append(bar, dashboard.Phase{Name: p.Name, OffsetS: p.OffsetS})
	}
	slices.SortStableFunc(bar, func(a, b dashboard.Phase) int { return cmp.Compare(a.OffsetS, b.OffsetS) })
	return bar, published
}

// ProbeJSON is the answer of GET /api/v1/probe.
type ProbeJSON struct {
	probe.Stats
	Totals analysis.Totals `json:"totals"`
	// OpenOutageS is how long the outage in progress has lasted.
	OpenOutageS float64 `json:"open_outage_s,omitempty"`
}

// Mount adds the observer's routes: failovers, probe, metrics, history
// reset, and the dashboard (page and websocket).
func (ob *Observer) Mount(mux *http.ServeMux, origins []string) {
	mux.HandleFunc("GET /api/v1/failovers", ob.handleFailovers)
	mux.HandleFunc("GET /api/v1/outages", ob.handleOutages)
	mux.HandleFunc("GET /api/v1/probe", func(w http.ResponseWriter, r *http.Request) {
		pj := ProbeJSON{Totals: ob.totals()}
		if ob.o.Probe != nil {
			pj.Stats = ob.o.Probe.Stats()
			if pj.Outage && !pj.OutageSince.IsZero() {
				pj.OpenOutageS = ob.o.Clock().Sub(pj.OutageSince).Seconds()
			}
		}
		writeJSON(w, http.StatusOK, pj)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(ob.reg, promhttp.HandlerOpts{}))
	mux.Handle("POST /api/v1/history/reset", ob.o.Head.RequireOperator(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := ob.o.Events.Append(journal.Event{Kind: journal.KindMark, Detail: historyResetDetail, Source: "api"}); err != nil {
			writeError(w, err)
			return
		}
		ob.Tick()
		writeJSON(w, http.StatusOK, map[string]any{"reset": true})
	})))
	if ob.o.Hub != nil {
		mux.Handle("GET /ws", dashboard.Handler(ob.o.Hub, dashboard.HandlerOptions{AllowedOrigins: origins, Log: ob.o.Log}))
		mux.Handle("GET /", dashboard.Static())
	}
}
