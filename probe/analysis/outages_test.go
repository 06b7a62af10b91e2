package analysis

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redswitch/redswitch/journal"
)

// outageHistory is a history with one outage: n1 serves until 10 s, and
// from resume on the node after serves on timeline tl; between them the
// probe fails. events add what the journal recorded around the gap.
func outageHistory(after string, tl int, resume float64, events func(h *history)) []journal.Event {
	h := &history{}
	h.acks("n1", 1, 0, 10)
	if events != nil {
		events(h)
	}
	h.errs(10.1, resume-0.1, "")
	h.acks(after, tl, resume, resume+5)
	return byTime(h.ev)
}

func TestExplainOutages(t *testing.T) {
	fault := func(at float64, node, kind, id string) journal.Event {
		return journal.Event{At: sec(at), Kind: journal.KindFaultInject, Node: node, Detail: kind, ID: id, Source: node}
	}
	recovered := func(at float64, node, kind, id string) journal.Event {
		return journal.Event{At: sec(at), Kind: journal.KindFaultRecover, Node: node, Detail: kind, ID: id}
	}
	leaderTaken := func(at float64, node, detail string) journal.Event {
		return journal.Event{At: sec(at), Kind: journal.KindLeader, Node: node, ID: "1a2b", Detail: detail}
	}
	tests := []struct {
		name     string
		after    string
		tl       int
		resume   float64
		events   func(h *history)
		kind     CauseKind
		cause    string // a part of the cause in words
		failover bool
		// evidence kinds that must be marked as the cause
		causeKinds []journal.Kind
	}{
		{
			name: "power cut by a switch", after: "n2", tl: 2, resume: 17,
			events: func(h *history) {
				h.add(journal.Event{At: sec(10.02), Kind: journal.KindPower, Node: "n1", On: journal.Bool(false), Source: "switch 1"})
				h.leader(14.8, "")
				h.leader(14.9, "n2")
			},
			kind: CausePower, cause: "power off n1 (switch 1)", failover: true, causeKinds: []journal.Kind{journal.KindPower},
		},
		{
			name: "power cut by the API, observed again later", after: "n2", tl: 2, resume: 17,
			events: func(h *history) {
				h.add(journal.Event{At: sec(10.02), Kind: journal.KindPower, Node: "n1", On: journal.Bool(false), Source: "api"})
				h.add(journal.Event{At: sec(11), Kind: journal.KindPower, Node: "n1", On: journal.Bool(false), Source: "observed"})
			},
			kind: CausePower, cause: "power off n1 (api)", failover: true,
		},
		{
			name: "power fault", after: "n3", tl: 2, resume: 17,
			events: func(h *history) {
				h.add(fault(10.01, "n1", "power", "f-1"))
				h.add(journal.Event{At: sec(10.02), Kind: journal.KindPower, Node: "n1", On: journal.Bool(false), Source: "fault f-1"})
			},
			kind: CausePower, cause: "power off n1 (fault f-1)", failover: true,
		},
		{
			name: "etcd outage pauses writes without a leader change", after: "n1", tl: 1, resume: 16,
			events: func(h *history) {
				h.add(fault(6, "etcd", "etcd_outage", "f-2")) // a lease before the gap
				h.add(recovered(15.5, "etcd", "etcd_outage", "f-2"))
			},
			kind: CauseEtcd, cause: "etcd unavailable: fault etcd_outage etcd", failover: false,
			causeKinds: []journal.Kind{journal.KindFaultInject},
		},
		{
			name: "etcd outage active long before, healed in the gap", after: "n1", tl: 1, resume: 16,
			events: func(h *history) {
				h.add(fault(-100, "etcd", "etcd_outage", "f-3"))
				h.add(recovered(15.5, "etcd", "etcd_outage", "f-3"))
			},
			kind: CauseEtcd, cause: "etcd_outage", causeKinds: []journal.Kind{journal.KindFaultInject},
		},
		{
			name: "the head node's etcd watch fails", after: "n1", tl: 1, resume: 16,
			events: func(h *history) {
				h.add(journal.Event{At: sec(9), Kind: journal.KindMark, Source: journal.SourceEtcdWatch,
					Detail: EtcdWatchFailed + ": context deadline exceeded"})
			},
			kind: CauseEtcd, cause: "the head node's etcd watch failed", causeKinds: []journal.Kind{journal.KindMark},
		},
		{
			name: "postgres crash fault", after: "n1", tl: 1, resume: 13,
			events: func(h *history) { h.add(fault(10.05, "n1", "pg_crash", "f-4")) },
			kind:   CauseCrash, cause: "crash: fault pg_crash n1",
		},
		{
			name: "patroni crash fault with a failover", after: "n2", tl: 2, resume: 16,
			events: func(h *history) {
				h.add(fault(10, "n1", "patroni_crash", "f-5"))
				h.leader(15, "")
				h.add(leaderTaken(15.1, "n2", journal.LeaderCreated))
			},
			kind: CauseCrash, cause: "patroni_crash", failover: true,
		},
		{
			name: "an old crash fault does not count", after: "n1", tl: 1, resume: 13,
			events: func(h *history) { h.add(fault(-100, "n1", "pg_crash", "f-6")) },
			kind:   CauseUnknown, cause: "unknown",
		},
		{
			name: "a fault healed before the gap does not count", after: "n1", tl: 1, resume: 13,
			events: func(h *history) {
				h.add(fault(-100, "n1", "freeze", "f-7"))
				h.add(recovered(-90, "n1", "freeze", "f-7"))
			},
			kind: CauseUnknown, cause: "unknown",
		},
		{
			name: "a failed injection does not count", after: "n1", tl: 1, resume: 13,
			events: func(h *history) {
				e := fault(10, "n1", "freeze", "f-8")
				e.Error = "no freezer"
				h.add(e)
			},
			kind: CauseUnknown, cause: "unknown",
		},
		{
			name: "freeze of the primary", after: "n2", tl: 2, resume: 17,
			events: func(h *history) { h.add(fault(10.01, "n1", "freeze", "f-9")) },
			kind:   CauseFault, cause: "fault freeze n1", failover: true,
		},
		{
			name: "Patroni reports PostgreSQL crashed", after: "n1", tl: 1, resume: 13,
			events: func(h *history) {
				h.add(journal.Event{At: sec(10.3), Kind: journal.KindRole, Node: "n1", Role: "primary", State: "crashed"})
			},
			kind: CauseCrash, cause: "PostgreSQL on n1 crashed",
		},
		{
			name: "switchover marked", after: "n2", tl: 2, resume: 12,
			events: func(h *history) {
				h.add(journal.Event{At: sec(9.9), Kind: journal.KindMark, Source: "scenario", Detail: "step 2: switchover to n2"})
				h.leader(10.2, "")
				h.add(leaderTaken(10.3, "n2", journal.LeaderCreated))
			},
			kind: CauseSwitchover, cause: "switchover to n2", failover: true,
		},
		{
			name: "self-demotion, the same node leads again (n1 → n1)", after: "n1", tl: 2, resume: 15,
			events: func(h *history) {
				h.leader(10.2, "")
				h.add(leaderTaken(13, "n1", journal.LeaderCreated))
			},
			kind: CauseSelfDemotion, cause: "the leader key expired while n1 had power; n1 took it again",
			causeKinds: []journal.Kind{journal.KindLeader},
		},
		{
			name: "self-demotion, another node takes over", after: "n3", tl: 2, resume: 15,
			events: func(h *history) {
				h.leader(10.2, "")
				h.add(leaderTaken(13, "n3", journal.LeaderCreated))
			},
			kind: CauseSelfDemotion, cause: "n3 took it", failover: true,
		},
		{
			name: "steal-back: the key overwritten while live", after: "n2", tl: 2, resume: 13,
			events: func(h *history) { h.add(leaderTaken(10.1, "n2", journal.LeaderOverwritten)) },
			kind:   CauseSelfDemotion, cause: "n2 overwrote n1's live leader key", failover: true,
		},
		{
			name: "leader expiry with a silent agent is not a self-demotion", after: "n2", tl: 2, resume: 17,
			events: func(h *history) {
				h.add(journal.Event{At: sec(10.5), Kind: journal.KindAgent, Node: "n1", On: journal.Bool(false)})
				h.leader(14.8, "")
				h.add(leaderTaken(14.9, "n2", journal.LeaderCreated))
			},
			kind: CauseUnknown, cause: "unknown", failover: true,
		},
		{
			name: "nothing journaled: unknown", after: "n1", tl: 1, resume: 12,
			kind: CauseUnknown, cause: "unknown",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := ExplainOutages(outageHistory(tc.after, tc.tl, tc.resume, tc.events), OutageOptions{LeaseTTL: 5 * time.Second})
			if len(got) != 1 {
				t.Fatalf("want 1 outage, got %d: %+v", len(got), got)
			}
			x := got[0]
			if x.CauseKind != tc.kind || !strings.Contains(x.Cause, tc.cause) {
				t.Errorf("cause = %s %q, want %s containing %q", x.CauseKind, x.Cause, tc.kind, tc.cause)
			}
			if x.Failover != tc.failover {
				t.Errorf("failover = %v, want %v", x.Failover, tc.failover)
			}
			if x.ID != "outage-1" || x.From != "n1" || x.To != tc.after || x.Start != sec(10) || x.End != sec(tc.resume) {
				t.Errorf("outage = %s %s→%s %v..%v", x.ID, x.From, x.To, x.Start, x.End)
			}
			if x.Errors == 0 {
				t.Errorf("no probe errors counted")
			}
			for _, k := range tc.causeKinds {
				if !slices.ContainsFunc(x.Evidence, func(e EvidenceEvent) bool { return e.Cause && e.Kind == k }) {
					t.Errorf("no %s evidence marked as the cause: %+v", k, x.Evidence)
				}
			}
			if tc.kind == CauseUnknown && len(x.Evidence) == 0 {
				t.Errorf("unknown without evidence")
			}
			if !slices.IsSortedFunc(x.Evidence, func(a, b EvidenceEvent) int { return a.At.Compare(b.At) }) {
				t.Errorf("evidence out of order: %+v", x.Evidence)
			}
			for _, e := range x.Evidence {
				if e.Kind == journal.KindProbeAck {
					t.Errorf("a probe ack as evidence: %+v", e)
				}
			}
		})
	}
}

// The failover analysis and the outage list agree: a failover's outage
// names it, and a cut whose primary came back is listed by both.
func TestExplainOutagesFailoverID(t *testing.T) {
	h := &history{}
	h.acks("n1", 1, 0, 10)
	h.failover("n1", "n2", 2, 10, 15, 20)
	h.errs(20.1, 24, "")
	h.acks("n2", 2, 25, 30)
	got := ExplainOutages(h.ev, OutageOptions{})
	if len(got) != 2 {
		t.Fatalf("want 2 outages, got %+v", got)
	}
	if got[0].FailoverID != "failover-1" || !got[0].Failover || got[0].CauseKind != CausePower {
		t.Errorf("first outage: %+v", got[0])
	}
	if got[1].FailoverID != "" || got[1].Failover || got[1].CauseKind != CauseUnknown || got[1].ID != "outage-2" {
		t.Errorf("second outage: %+v", got[1])
	}
}

func TestExplainOutagesEvidence(t *testing.T) {
	evs := outageHistory("n1", 1, 14, func(h *history) {
		for i := range 100 {
			h.add(journal.Event{At: sec(10.2 + float64(i)*0.01), Kind: journal.KindMark, Detail: "noise"})
		}
		h.add(journal.Event{At: sec(13.9), Kind: journal.KindFaultInject, Node: "n1", Detail: "freeze", ID: "f-1"})
		// A run of alike errors is shown once; a different one again.
		h.add(journal.Event{At: sec(11), Kind: journal.KindProbeError, SQLState: "25006", Error: "read-only", Count: 3})
		h.add(journal.Event{At: sec(11.5), Kind: journal.KindProbeError, SQLState: "25006", Error: "read-only", Count: 3})
		// Outside the window: no evidence.
		h.add(journal.Event{At: sec(-30), Kind: journal.KindMark, Detail: "long before"})
	})
	x := ExplainOutages(evs, OutageOptions{LeaseTTL: 5 * time.Second, MaxEvidence: 10})[0]
	if x.CauseKind != CauseFault || len(x.Evidence) != 10 || x.Omitted == 0 {
		t.Fatalf("cause %s, %d evidence, %d omitted", x.CauseKind, len(x.Evidence), x.Omitted)
	}
	if !slices.ContainsFunc(x.Evidence, func(e EvidenceEvent) bool { return e.Cause && e.Detail == "freeze id f-1" }) {
		t.Errorf("the cause was cut from the evidence: %+v", x.Evidence)
	}
	x = ExplainOutages(evs, OutageOptions{LeaseTTL: 5 * time.Second, MaxEvidence: 500})[0]
	n := 0
	for _, e := range x.Evidence {
		if e.Kind == journal.KindProbeError && strings.Contains(e.Detail, "25006") {
			n++
		}
		if e.Detail == "long before" {
			t.Errorf("evidence from outside the window: %+v", e)
		}
	}
	if n != 1 {
		t.Errorf("alike probe errors shown %d times, want once: %+v", n, x.Evidence)
	}
}

func TestExplainOutagesPatroniLog(t *testing.T) {
	evs := outageHistory("n2", 2, 17, func(h *history) {
		h.power(10.02, "n1", false)
	})
	lines := func(n int) []journal.LogLine {
		out := make([]journal.LogLine, n)
		for i := range out {
			out[i] = journal.LogLine{At: sec(12), Text: "INFO: no action. I am (n2), a secondary"}
		}
		return out
	}
	evs = append(evs,
		journal.Event{At: sec(20), Kind: journal.KindPatroniLog, Node: "n2", ID: "outage-1", Lines: lines(3)},
		journal.Event{At: sec(20), Kind: journal.KindPatroniLog, Node: "n1", ID: "outage-1", Lines: lines(80)},
		journal.Event{At: sec(20), Kind: journal.KindPatroniLog, Node: "n3", ID: "outage-9", Lines: lines(1)})
	x := ExplainOutages(evs, OutageOptions{})[0]
	if len(x.PatroniLog) != 2 || x.PatroniLog[0].Node != "n2" || len(x.PatroniLog[0].Lines) != 3 || len(x.PatroniLog[1].Lines) != 50 {
		t.Fatalf("patroni log: %+v", x.PatroniLog)
	}
}

func TestFaultCause(t *testing.T) {
	for kind, want := range map[string]CauseKind{"power": CausePower, "etcd_outage": CauseEtcd, "pg_crash": CauseCrash,
		"patroni_crash": CauseCrash, "freeze": CauseFault, "partition": CauseFault, "": CauseFault} {
		if got := FaultCause(kind); got != want {
			t.Errorf("FaultCause(%q) = %s, want %s", kind, got, want)
		}
	}
}

// FuzzExplainOutages feeds arbitrary histories (decodeEvents) with fault
// recoveries, leader details and logs: every closed outage is explained,
// in order, with bounded evidence from around it.
func FuzzExplainOutages(f *testing.F) {
	f.Add([]byte{0, 1, 0x10, 0, 10, 0, 1, 100, 5, 1, 0, 0, 5, 0, 0, 0, 6, 0, 0x20, 19, 136, 0, 101, 50, 0, 2, 0, 0, 10, 0, 200, 50})
	f.Add(make([]byte, 64))
	f.Fuzz(func(t *testing.T, data []byte) {
		events := decodeEvents(data)
		for i := range events {
			e := &events[i]
			switch data[i*8+7] % 4 {
			case 1:
				e.Kind, e.ID, e.Detail = journal.KindFaultRecover, "f-1", "etcd_outage"
			case 2:
				if e.Kind == journal.KindFaultInject {
					e.ID, e.Detail = "f-1", "etcd_outage"
				}
				if e.Kind == journal.KindLeader {
					e.Detail = journal.LeaderOverwritten
				}
			case 3:
				e.Kind, e.ID, e.Lines = journal.KindPatroniLog, "outage-1", []journal.LogLine{{At: e.At, Text: "x"}}
			}
		}
		opts := OutageOptions{Options: Options{Threshold: 200 * time.Millisecond}, LeaseTTL: 2 * time.Second, MaxEvidence: 5, MaxLogLines: 3}
		got := ExplainOutages(events, opts)
		closed := 0
		for _, o := range Outages(events, opts.Threshold) {
			if !o.Open {
				closed++
			}
		}
		if len(got) != closed {
			t.Fatalf("%d explained, %d closed outages", len(got), closed)
		}
		for i, x := range got {
			if x.ID != OutageID(i) || x.Cause == "" || x.CauseKind == "" || !x.End.After(x.Start) {
				t.Fatalf("outage %d: %+v", i, x)
			}
			if i > 0 && x.Start.Before(got[i-1].Start) {
				t.Fatalf("outages out of order: %+v", got)
			}
			if x.CauseKind == CauseUnknown && x.Cause != "unknown" {
				t.Fatalf("unknown cause in words %q", x.Cause)
			}
			nonCause := 0
			for _, e := range x.Evidence {
				if !e.Cause {
					nonCause++
				}
			}
			if nonCause > opts.MaxEvidence {
				t.Fatalf("%d evidence events over the bound", nonCause)
			}
			for _, l := range x.PatroniLog {
				if len(l.Lines) > opts.MaxLogLines {
					t.Fatalf("%d log lines over the bound", len(l.Lines))
				}
			}
		}
	})
}

// The incremental analysis lists the closed outages Outages does, settled
// or not, and leaves the open one out.
func TestIncrementalClosedOutages(t *testing.T) {
	h := &history{}
	h.acks("n1", 1, 0, 10)
	h.failover("n1", "n2", 2, 10, 15, 100)
	h.errs(100.1, 104, "")
	h.acks("n2", 2, 105, 110)
	h.errs(110.1, 113, "") // open
	in := NewIncremental(IncrementalOptions{SettleLag: 5 * time.Second})
	for i, e := range h.ev {
		in.Add(e)
		if i%10 == 0 {
			in.Settle(e.At)
		}
	}
	var want []Outage
	for _, o := range Outages(h.ev, 0) {
		if !o.Open {
			want = append(want, o)
		}
	}
	if in.ClosedOutageCount() != 2 || len(want) != 2 {
		t.Fatalf("closed outages: incremental %d, Outages %d", in.ClosedOutageCount(), len(want))
	}
	for i, o := range want {
		if got := in.OutageAt(i); got.Start != o.Start || got.End != o.End {
			t.Errorf("outage %d: %+v, want %+v", i, got, o)
		}
	}
}
