package probe

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/journal"
	"github.com/redswitch/redswitch/probe/analysis"
)

// Metrics are the Prometheus series of the probe and its analysis.
type Metrics struct {
	failover *prometheus.HistogramVec
	commits  prometheus.Counter
	errors   *prometheus.CounterVec
	lost     prometheus.Counter
	outage   prometheus.Gauge
	role     *prometheus.GaugeVec

	mu        sync.Mutex
	failovers map[string]bool // IDs already observed
	lostSeqs  map[uint64]bool // lost numbers already counted
	roles     map[string]cluster.Role
}

// NewMetrics creates the series and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		failover: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "redswitch_failover_duration_seconds",
			Help:    "Time from the cut to the first acknowledged commit on the new primary.",
			Buckets: []float64{0.5, 1, 2, 3, 4, 4.5, 5, 5.5, 6, 7, 8, 10, 15, 20, 30, 60},
		}, []string{"cause"}),
		commits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "redswitch_probe_commits_total", Help: "Acknowledged probe commits.",
		}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "redswitch_probe_errors_total", Help: "Failed probe writes by SQLSTATE (\"connection\" when there is none).",
		}, []string{"sqlstate"}),
		lost: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "redswitch_lost_commits_total", Help: "Acknowledged probe commits later found missing.",
		}),
		outage: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "redswitch_probe_outage_in_progress", Help: "1 while probe writes fail since the last acknowledged commit.",
		}),
		role: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "redswitch_node_role", Help: "1 for the current role of each node, 0 for its other roles.",
		}, []string{"node", "role"}),
		failovers: map[string]bool{},
		lostSeqs:  map[uint64]bool{},
		roles:     map[string]cluster.Role{},
	}
	reg.MustRegister(m.failover, m.commits, m.errors, m.lost, m.outage, m.role)
	return m
}

// Observe updates the live series from one journal event.
func (m *Metrics) Observe(e journal.Event) {
	switch e.Kind {
	case journal.KindProbeAck:
		if e.Last >= e.First {
			m.commits.Add(float64(e.Last - e.First + 1))
		}
		m.outage.Set(0)
	case journal.KindProbeError:
		m.errors.WithLabelValues(analysis.ErrorKey(e.SQLState)).Add(float64(e.ErrorCount()))
		m.outage.Set(1)
	case journal.KindRole:
		if e.Node == "" {
			return
		}
		role := cluster.RoleFromPatroni(e.Role, e.State)
		m.mu.Lock()
		prev, ok := m.roles[e.Node]
		m.roles[e.Node] = role
		m.mu.Unlock()
		if ok && prev != role {
			m.role.WithLabelValues(e.Node, string(prev)).Set(0)
		}
		m.role.WithLabelValues(e.Node, string(role)).Set(1)
	}
}

// ObserveFailover records one failover's duration. The caller counts
// each failover once (ObserveReport counts them by ID instead, which a
// history reset starts again).
func (m *Metrics) ObserveFailover(f analysis.Failover) {
	cause := "cut"
	if f.Cause == "unknown" {
		cause = "unknown"
	}
	m.failover.WithLabelValues(cause).Observe(f.Duration.Seconds())
}

// ObserveLost counts the lost commits not counted yet.
func (m *Metrics) ObserveLost(lost []analysis.LostCommit) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, l := range lost {
		if !m.lostSeqs[l.Seq] {
			m.lostSeqs[l.Seq] = true
			m.lost.Inc()
		}
	}
}

// ObserveReport records failover durations and lost commits from an
// analysis. It may be called again with a report of a longer history: each
// failover and lost number is counted once.
func (m *Metrics) ObserveReport(r analysis.Report) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, f := range r.Failovers {
		if m.failovers[f.ID] {
			continue
		}
		m.failovers[f.ID] = true
		cause := "cut"
		if f.Cause == "unknown" {
			cause = "unknown"
		}
		m.failover.WithLabelValues(cause).Observe(f.Duration.Seconds())
	}
	for _, l := range r.Lost {
		if !m.lostSeqs[l.Seq] {
			m.lostSeqs[l.Seq] = true
			m.lost.Inc()
		}
	}
}
