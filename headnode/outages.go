package headnode

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/redswitch/redswitch/dashboard"
	"github.com/redswitch/redswitch/headnodeapi"
	"github.com/redswitch/redswitch/journal"
	"github.com/redswitch/redswitch/probe/analysis"
)

// PatroniLogs returns node's Patroni output read between from and to, at
// most max lines; the service asks the node's agent.
type PatroniLogs func(ctx context.Context, node string, from, to time.Time, max int) ([]journal.LogLine, error)

// Bounds of the outage store.
const (
	// recentKeep is how much of the recent history the store keeps to
	// explain the next outage: its evidence reaches a lease back from the
	// gap, and an outage longer than this loses the start of its evidence
	// (the fault injections still active are kept apart, whatever their age).
	recentKeep = 15 * time.Minute
	// recentMax bounds the events kept whatever their age.
	recentMax = 20000
	// outageSettle is how long after the evidence window closes an
	// outage waits to be explained: events are journaled a little after
	// they happen (watchers poll, the probe flushes its runs).
	outageSettle = 2 * time.Second
	// logFetchTimeout bounds the fetch of one node's Patroni log: the
	// old primary of a power cut does not answer.
	logFetchTimeout = 5 * time.Second
)

// outageStore keeps the latest explained outages and what the next one
// needs: the recent events and the faults still active. Memory stays
// bounded however long the head node runs.
type outageStore struct {
	kept  []analysis.ExplainedOutage // oldest first, at most MaxKeptOutages
	total int                        // explained since the last reset
	// recent are the events of the last recentKeep but the probe's acks
	// and read-backs, in journal order.
	recent []journal.Event
	newest time.Time
	// active are the injections of faults not recovered yet, by id.
	active map[string]journal.Event
}

func newOutageStore() *outageStore { return &outageStore{active: map[string]journal.Event{}} }

// add takes the next event of the history.
func (s *outageStore) add(e journal.Event) {
	switch e.Kind {
	case journal.KindProbeAck, journal.KindProbeReadback:
		return // the outage itself carries what counts of them
	case journal.KindPatroniLog:
		s.attach(e)
		return
	case journal.KindFaultInject:
		s.active[e.ID] = e
	case journal.KindFaultRecover:
		if e.Source != journal.SourcePowerOn {
			delete(s.active, e.ID)
		}
	}
	s.recent = append(s.recent, e)
	if e.At.After(s.newest) {
		s.newest = e.At
	}
	if len(s.recent) > recentMax+recentMax/4 || s.recent[0].At.Before(s.newest.Add(-recentKeep-recentKeep/4)) {
		s.trim()
	}
}

// trim drops what is older than recentKeep, and the oldest beyond
// recentMax; each event is copied a few times at most.
func (s *outageStore) trim() {
	cutoff := s.newest.Add(-recentKeep)
	i := 0
	for i < len(s.recent) && (s.recent[i].At.Before(cutoff) || len(s.recent)-i > recentMax) {
		i++
	}
	s.recent = slices.Clone(s.recent[i:])
}

// events are what ExplainOutage reads, ordered by time: the active
// faults' injections that fell out of recent, then recent.
func (s *outageStore) events() []journal.Event {
	out := make([]journal.Event, 0, len(s.active)+len(s.recent))
	for _, e := range s.active {
		if len(s.recent) == 0 || e.At.Before(s.recent[0].At) {
			out = append(out, e)
		}
	}
	out = append(out, s.recent...)
	slices.SortStableFunc(out, func(a, b journal.Event) int { return a.At.Compare(b.At) })
	return out
}

// push keeps x, the next outage, dropping the oldest beyond the bound.
func (s *outageStore) push(x analysis.ExplainedOutage) {
	s.total++
	s.kept = append(s.kept, x)
	if n := len(s.kept) - headnodeapi.MaxKeptOutages; n > 0 {
		s.kept = slices.Delete(s.kept, 0, n)
	}
}

// attach adds the Patroni log lines of e to the kept outage it names.
func (s *outageStore) attach(e journal.Event) {
	for i := range s.kept {
		s.kept[i].AddLog(e, maxLogLines)
	}
}

// maxLogLines is how many Patroni log lines an outage keeps per node.
const maxLogLines = 50

// outageOptions are the analysis's options with the lease Patroni
// really runs with, which sets how far back causes are looked for.
func (ob *Observer) outageOptions() analysis.OutageOptions {
	o := analysis.OutageOptions{Options: ob.o.Analysis.Analysis, MaxLogLines: maxLogLines}
	if ob.o.State != nil {
		t := ob.o.State().Timings
		switch {
		case t.TTL > 0:
			o.LeaseTTL = time.Duration(t.TTL) * time.Second
		case t.Requested.TTL > 0:
			o.LeaseTTL = time.Duration(t.Requested.TTL) * time.Second
		}
	}
	return o
}

// restartOutages explains every outage of history (the events since the
// last reset) afresh, keeping the latest: a restart of the head node
// finds its outages, and the Patroni logs journaled with them, again.
func (ob *Observer) restartOutages(history []journal.Event) {
	xs := analysis.ExplainOutages(history, ob.outageOptions())
	for _, x := range xs[max(0, len(xs)-headnodeapi.MaxKeptOutages):] {
		ob.out.kept = append(ob.out.kept, x)
	}
	ob.out.total = len(xs)
}

// explainOutages explains the outages closed since the last tick whose
// evidence is in, and returns them. The caller holds amu. The Full mode,
// for the soak bench only, lists none.
func (ob *Observer) explainOutages() []analysis.ExplainedOutage {
	if ob.o.Full {
		return nil
	}
	opts := ob.outageOptions()
	now := ob.o.Clock()
	var fresh []analysis.ExplainedOutage
	var events []journal.Event
	for n := ob.inc.ClosedOutageCount(); ob.out.total < n; {
		i := ob.out.total
		o := ob.inc.OutageAt(i)
		if _, to := opts.EvidenceWindow(o.Start, o.End); now.Before(to.Add(outageSettle)) {
			break
		}
		if events == nil {
			events = ob.out.events()
		}
		var prevEnd time.Time
		if i > 0 {
			prevEnd = ob.inc.OutageAt(i - 1).End
		}
		x := analysis.ExplainOutage(events, o, prevEnd, opts)
		x.ID = analysis.OutageID(i)
		// Failovers come in the order of their outages.
		nf := ob.inc.FailoverCount()
		if j := sort.Search(nf, func(j int) bool { return !ob.inc.FailoverAt(j).Outage.Start.Before(o.Start) }); j < nf {
			if f := ob.inc.FailoverAt(j); f.Outage.Start.Equal(o.Start) {
				x.FailoverID = f.ID
			}
		}
		ob.out.push(x)
		fresh = append(fresh, x)
	}
	return fresh
}

// fetchLogs asks the agents of the nodes an outage involves for their
// Patroni output around it and journals it with the outage's ID, so that
// it survives a restart; the next tick attaches it. It runs apart from
// the tick: the old primary of a power cut does not answer.
func (ob *Observer) fetchLogs(ctx context.Context, x analysis.ExplainedOutage) {
	if ob.o.PatroniLogs == nil || ob.o.Events == nil {
		return
	}
	from, to := ob.outageOptions().EvidenceWindow(x.Start, x.End)
	var nodes []string
	for _, n := range []string{x.From, x.To} {
		if n != "" && !slices.Contains(nodes, n) {
			nodes = append(nodes, n)
		}
	}
	for _, e := range x.Evidence {
		if e.Cause && e.Node != "" && e.Node != "etcd" && !slices.Contains(nodes, e.Node) {
			nodes = append(nodes, e.Node)
		}
	}
	for _, n := range nodes {
		fctx, cancel := context.WithTimeout(ctx, logFetchTimeout)
		lines, err := ob.o.PatroniLogs(fctx, n, from, to, maxLogLines)
		cancel()
		if err != nil {
			ob.o.Log.Info("outage: no Patroni log from the node", "outage", x.ID, "node", n, "err", err)
			continue
		}
		if len(lines) == 0 {
			continue
		}
		if _, err := ob.o.Events.Append(journal.Event{At: ob.o.Clock(), Kind: journal.KindPatroniLog, Node: n, ID: x.ID,
			FirstAt: x.Start, Source: "agent", Lines: lines}); err != nil {
			ob.o.Log.Error("outage: journal the Patroni log", "outage", x.ID, "node", n, "err", err)
		}
	}
}

// outagePage returns the kept outages from index from up to to (clamped,
// counted over every outage since the reset) and how many there were.
func (ob *Observer) outagePage(from, to int) ([]analysis.ExplainedOutage, int) {
	ob.amu.Lock()
	defer ob.amu.Unlock()
	first := ob.out.total - len(ob.out.kept)
	from, to = max(from, first), min(to, ob.out.total)
	if from >= to {
		return nil, ob.out.total
	}
	return slices.Clone(ob.out.kept[from-first : to-first]), ob.out.total
}

// Outages converts explained outages to the API's shape.
func Outages(xs []analysis.ExplainedOutage) []headnodeapi.Outage {
	out := make([]headnodeapi.Outage, 0, len(xs))
	for _, x := range xs {
		o := headnodeapi.Outage{ID: x.ID, StartedAt: x.Start, EndedAt: x.End, DurationS: x.Duration.Seconds(), Errors: x.Errors,
			From: x.From, To: x.To, FromTimeline: x.FromTimeline, ToTimeline: x.ToTimeline, Failover: x.Failover,
			FailoverID: x.FailoverID, Cause: x.Cause, CauseKind: string(x.CauseKind), Evidence: []headnodeapi.Evidence{},
			EvidenceOmitted: x.Omitted}
		for _, e := range x.Evidence {
			o.Evidence = append(o.Evidence, headnodeapi.Evidence{At: e.At, OffsetS: e.At.Sub(x.Start).Seconds(),
				Kind: string(e.Kind), Node: e.Node, Detail: e.Detail, Cause: e.Cause})
		}
		for _, l := range x.PatroniLog {
			nl := headnodeapi.NodeLog{Node: l.Node, Lines: make([]headnodeapi.LogLine, 0, len(l.Lines))}
			for _, line := range l.Lines {
				nl.Lines = append(nl.Lines, headnodeapi.LogLine{At: line.At, Text: line.Text})
			}
			o.PatroniLog = append(o.PatroniLog, nl)
		}
		out = append(out, o)
	}
	return out
}

// viewOutages is the dashboard's outage list: the cause of each, and the
// evidence of those whose cause is unknown, the journal's events first,
// then the Patroni log lines, bounded.
func viewOutages(xs []analysis.ExplainedOutage) []dashboard.Outage {
	out := make([]dashboard.Outage, 0, len(xs))
	for _, x := range xs {
		o := dashboard.Outage{ID: x.ID, StartedAt: x.Start, DurationS: x.Duration.Seconds(), From: x.From, To: x.To,
			Failover: x.Failover, Cause: x.Cause, CauseKind: string(x.CauseKind)}
		if x.CauseKind == analysis.CauseUnknown {
			for _, e := range x.Evidence {
				line := fmt.Sprintf("%+.2f s %s", e.At.Sub(x.Start).Seconds(), e.Kind)
				if e.Node != "" {
					line += " " + e.Node
				}
				if e.Detail != "" {
					line += ": " + e.Detail
				}
				o.Evidence = append(o.Evidence, line)
			}
			for _, l := range x.PatroniLog {
				for _, line := range l.Lines {
					o.Evidence = append(o.Evidence, fmt.Sprintf("%+.2f s %s log: %s", line.At.Sub(x.Start).Seconds(), l.Node, line.Text))
				}
			}
			if n := len(o.Evidence); n > dashboard.ShownEvidence {
				o.Evidence = append(o.Evidence[:dashboard.ShownEvidence-1], fmt.Sprintf("… %d more: GET /api/v1/outages", n-dashboard.ShownEvidence+1))
			}
		}
		out = append(out, o)
	}
	return out
}
