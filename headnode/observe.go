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
	Head   *HeadNode
	Events *EventLog
	// Probe may be nil when no probe runs.
	Probe    ProbeStats
	Switches SwitchPositions
	Hub      *dashboard.Hub
	Log      *slog.Logger
}

// Observer turns the recorded history into what people look at: the
// failover list and probe figures of the API, Prometheus metrics, and the
// dashboard's view, lines and commit-rate strip. The analysis is redone
// over the whole history every second: it is a pure function, and judging
// the whole history is what makes the verdicts trustworthy.
type Observer struct {
	o       ObserverOptions
	reg     *prometheus.Registry
	metrics *probe.Metrics

	mu     sync.Mutex
	report analysis.Report
}

// NewObserver registers the metrics and subscribes to the event log.
func NewObserver(o ObserverOptions) *Observer {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	reg := prometheus.NewRegistry()
	ob := &Observer{o: o, reg: reg, metrics: probe.NewMetrics(reg)}
	o.Events.Listen(func(e journal.Event) {
		ob.metrics.Observe(e)
		if o.Hub != nil {
			_ = o.Hub.PublishEvent(e)
		}
	})
	return ob
}

// sinceReset drops what came before the last history reset.
func sinceReset(events []journal.Event) []journal.Event {
	for i := len(events) - 1; i >= 0; i-- {
		if events[i].Kind == journal.KindMark && events[i].Detail == historyResetDetail {
			return events[i+1:]
		}
	}
	return events
}

const historyResetDetail = "history reset"

// Run refreshes the analysis and the dashboard until ctx ends.
func (ob *Observer) Run(ctx context.Context) {
	fast := time.NewTicker(250 * time.Millisecond)
	defer fast.Stop()
	slow := time.NewTicker(time.Second)
	defer slow.Stop()
	ob.refresh()
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
				_ = ob.o.Hub.Publish(dashboard.RateMessage(dashboard.RateSample{T: ob.o.Head.o.Clock(), Rate: rate}))
			}
		case <-slow.C:
			ob.refresh()
		}
	}
}

func (ob *Observer) refresh() {
	rep := analysis.Analyze(sinceReset(ob.o.Events.Events()), analysis.Options{})
	ob.metrics.ObserveReport(rep)
	ob.mu.Lock()
	ob.report = rep
	ob.mu.Unlock()
	if ob.o.Hub != nil {
		_ = ob.o.Hub.SetView(ob.view(rep))
	}
}

// Report is the latest analysis of the history since the last reset.
func (ob *Observer) Report() analysis.Report {
	ob.mu.Lock()
	defer ob.mu.Unlock()
	return ob.report
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

func (ob *Observer) view(rep analysis.Report) dashboard.View {
	st := ob.o.Head.State()
	v := dashboard.View{
		Cluster: dashboard.Cluster{Scope: st.Scope, Leader: st.Leader, Timings: dashboard.Timings{
			Name: st.Timings.Requested.Name, TTL: st.Timings.Requested.TTL, LoopWait: st.Timings.Requested.LoopWait,
			RetryTimeout: st.Timings.Requested.RetryTimeout, EffectiveTTL: st.Timings.TTL,
			EffectiveRetryTimeout: st.Timings.RetryTimeout, PatroniVersion: st.Timings.PatroniVersion}},
		Reference:    dashboard.DefaultReference(),
		Failovers:    []dashboard.Failover{},
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
	mux.HandleFunc("GET /api/v1/failovers", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"failovers": Failovers(ob.Report())})
	})
	mux.HandleFunc("GET /api/v1/probe", func(w http.ResponseWriter, r *http.Request) {
		rep := ob.Report()
		pj := ProbeJSON{Totals: rep.Totals}
		if ob.o.Probe != nil {
			pj.Stats = ob.o.Probe.Stats()
			if pj.Outage && !pj.OutageSince.IsZero() {
				pj.OpenOutageS = ob.o.Head.o.Clock().Sub(pj.OutageSince).Seconds()
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
		ob.refresh()
		writeJSON(w, http.StatusOK, map[string]any{"reset": true})
	})))
	if ob.o.Hub != nil {
		mux.Handle("GET /ws", dashboard.Handler(ob.o.Hub, dashboard.HandlerOptions{AllowedOrigins: origins, Log: ob.o.Log}))
		mux.Handle("GET /", dashboard.Static())
	}
}
