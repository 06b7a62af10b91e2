package scenarios

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/redswitch/redswitch/journal"
)

// expect runs one expect step: it waits as long as the checks need (for a
// failover to happen, a window of writes to pass, a node to rejoin),
// recording what it sees, and then judges every check on the recorded
// history with the pure judge functions.
func (r *run) expect(ctx context.Context, e ExpectStep) StepResult {
	at := r.c.Now()
	type named struct {
		name string
		v    verdict
	}
	var out []named
	add := func(name string, v verdict) {
		out = append(out, named{name, v})
		r.measure(v.Measures)
	}

	if e.Failover != nil {
		within := e.Failover.Within
		bound := within
		if bound <= 0 {
			bound = r.defaultFailoverBound()
		}
		if !r.disruptAt.IsZero() {
			// Wait for any failover (the bound is judged afterwards), so a
			// slow one is measured instead of reported as missing.
			r.pollUntil(ctx, r.disruptAt.Add(bound+settle+2*time.Second), func() bool {
				return judgeFailover(r.c.Events(), r.disruptAt, 0).OK
			})
		}
		add("failover", judgeFailover(r.c.Events(), r.disruptAt, within))
	}

	if e.Writes != nil {
		from, to := at, at.Add(e.Writes.During)
		if e.Writes.During <= 0 {
			// "Now": a short window around this moment.
			from, to = at.Add(-AvailableGap), at.Add(AvailableGap)
		}
		_ = r.sleepUntil(ctx, to.Add(settle))
		add("writes", judgeWrites(r.c.Events(), e.Writes.Available, from, to))
	}

	if e.Primary != nil || e.TimelineAdvanced != nil || e.Rejoined != nil || e.Reinitialised != nil {
		within := e.Within
		if within <= 0 {
			within = DefaultWithin
		}
		deadline := at.Add(within)
		var rejoin []string
		if e.Rejoined != nil {
			rejoin = namesOf(*e.Rejoined, r.sc.Cluster.NodeNames(), r.last)
		}
		base := r.disruptAt
		if base.IsZero() {
			base = r.start
		}
		judge := func() []named {
			now := r.c.Now()
			ev := r.c.Events()
			var vs []named
			if e.Primary != nil {
				if e.Primary.Is != nil {
					vs = append(vs, named{"primary", judgePrimary(ev, now, true, namesOf(*e.Primary.Is, r.sc.Cluster.NodeNames(), r.last))})
				}
				if e.Primary.IsNot != nil {
					vs = append(vs, named{"primary", judgePrimary(ev, now, false, namesOf(*e.Primary.IsNot, r.sc.Cluster.NodeNames(), r.last))})
				}
			}
			if e.TimelineAdvanced != nil {
				// The probe's acks reach the history up to a second late.
				vs = append(vs, named{"timeline_advanced", judgeTimeline(ev, base, now.Add(-settle), *e.TimelineAdvanced)})
			}
			if e.Rejoined != nil {
				vs = append(vs, named{"rejoined", judgeRejoined(ev, rejoin, at, e.Rewound)})
			}
			if e.Reinitialised != nil {
				vs = append(vs, named{"reinitialised", judgeReinitialised(ev, namesOf(*e.Reinitialised, r.sc.Cluster.NodeNames(), r.last), base)})
			}
			return vs
		}
		var last []named
		seen := map[string]bool{}
		r.pollUntil(ctx, deadline, func() bool {
			if len(rejoin) > 0 {
				r.observeRejoin(ctx, rejoin, seen)
			}
			last = judge()
			for _, n := range last {
				if !n.v.OK {
					return false
				}
			}
			return true
		})
		if e.TimelineAdvanced != nil && !*e.TimelineAdvanced {
			// "Did not advance" holds trivially early: judge it once the
			// history has caught up with now.
			_ = r.pause(ctx, settle)
			last = judge()
		}
		for _, n := range last {
			if n.name == "rejoined" && !n.v.OK {
				n.v.Detail += "; " + r.describe(ctx, rejoin)
			}
			add(n.name, n.v)
		}
		if e.Rejoined != nil {
			// A node that rejoined may have brought back, or thrown
			// away, commits: count again.
			r.readBack(ctx, at)
		}
	}

	if e.Postmortem != nil {
		within := e.Within
		if within <= 0 {
			within = DefaultWithin
		}
		for _, n := range namesOf(*e.Postmortem, r.sc.Cluster.NodeNames(), r.last) {
			add("postmortem", r.postmortem(ctx, n, at.Add(within)))
		}
	}

	if e.LostCommits != nil {
		if err := r.readBack(ctx, at); err != nil {
			add("lost_commits", fail("%v", err))
		} else {
			add("lost_commits", judgeLostCommits(r.c.Events(), *e.LostCommits))
		}
	}
	if e.NoFailover {
		add("no_failover", judgeNoFailover(r.c.Events(), r.sinceExpect, r.c.Now()))
	}
	if e.SplitBrain != nil {
		add("split_brain", judgeSplitBrain(r.c.Events()))
	}
	if e.PowerCuts != nil {
		add("power_cuts", judgePowerCuts(r.c.Events(), r.start, *e.PowerCuts))
	}

	sr := StepResult{OK: true}
	var lines []string
	for _, n := range out {
		mark := ""
		if !n.v.OK {
			sr.OK = false
			sr.FailedChecks = append(sr.FailedChecks, n.name)
			mark = " FAILED"
		}
		lines = append(lines, fmt.Sprintf("%s%s: %s", n.name, mark, n.v.Detail))
	}
	sr.Detail = strings.Join(lines, "\n")
	return sr
}

// defaultFailoverBound is used for `failover: true`: two leases, a loop
// and the time HAProxy and the probe need.
func (r *run) defaultFailoverBound() time.Duration {
	t := r.sc.Cluster.Timings
	return time.Duration(2*t.TTL+t.LoopWait)*time.Second + 10*time.Second
}

// readBack waits for writes to resume after `after` (a read-back needs a
// primary) and records a read-back of every acknowledged commit.
func (r *run) readBack(ctx context.Context, after time.Time) error {
	ok := r.pollUntil(ctx, r.c.Now().Add(ResumeWithin), func() bool {
		t, ok := lastAck(r.c.Events())
		return ok && t.After(after)
	})
	if !ok {
		return fmt.Errorf("writes did not resume within %s, so the probe table could not be read back", ResumeWithin)
	}
	// Let the acks in flight reach the history, so the read-back checks
	// the commits acknowledged up to now.
	_ = r.pause(ctx, settle)
	// The primary may still be restarting (a crash recovery behind
	// HAProxy refuses connections): keep trying for as long as writes
	// may take to resume.
	var err error
	deadline := r.c.Now().Add(ResumeWithin)
	r.pollUntil(ctx, deadline, func() bool {
		rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		err = r.c.ReadBack(rctx)
		cancel()
		return err == nil
	})
	if err != nil {
		return fmt.Errorf("read back the probe table: %w", err)
	}
	return nil
}

// observeRejoin records, for each node not yet seen in this step, that it
// streams from the primary and, if its log shows a pg_rewind run newer
// than its cut, that it was rewound.
func (r *run) observeRejoin(ctx context.Context, nodes []string, seen map[string]bool) {
	st, err := r.state(ctx)
	if err != nil {
		return
	}
	sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	streaming, err := r.c.Streaming(sctx, st)
	cancel()
	if err != nil {
		return
	}
	for _, n := range nodes {
		if seen[n] {
			continue
		}
		if n == st.Leader {
			// The primary has rejoined when it leads a running cluster
			// again (after a cold start, say).
			for _, ns := range st.Nodes {
				if ns.Name == n && ns.Power == "on" && ns.State == "running" {
					seen[n] = true
					r.record(journal.Event{Kind: journal.KindNode, Node: n, Source: ObserverSource, Detail: ObservedLeading})
				}
			}
			continue
		}
		if !slices.Contains(streaming, n) {
			continue
		}
		seen[n] = true
		lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		k, err := r.c.RewindCount(lctx, n)
		cancel()
		if errors.Is(err, ErrNotAvailable) {
			r.record(journal.Event{Kind: journal.KindNode, Node: n, Source: ObserverSource, Detail: ObservedRewindUnknown})
		}
		if err == nil && k > r.rewindBase[n] {
			r.record(journal.Event{Kind: journal.KindNode, Node: n, Source: ObserverSource, Detail: ObservedRewound,
				ID: fmt.Sprintf("%d pg_rewind run(s) in its log, %d before the cut", k, r.rewindBase[n])})
		}
		r.record(journal.Event{Kind: journal.KindNode, Node: n, Source: ObserverSource, Detail: ObservedStreaming})
	}
}

// describe says how the nodes look now, for the detail of a failed check.
func (r *run) describe(ctx context.Context, nodes []string) string {
	st, err := r.state(ctx)
	if err != nil {
		return "state unknown: " + err.Error()
	}
	var parts []string
	for _, n := range st.Nodes {
		if slices.Contains(nodes, n.Name) || n.Name == st.Leader {
			p := fmt.Sprintf("%s: power %s, role %s, patroni %s/%s, timeline %d", n.Name, n.Power, n.Role, n.PatroniRole, n.State, n.Timeline)
			if n.LagBytes != nil {
				p += fmt.Sprintf(", lag %d bytes", *n.LagBytes)
			}
			parts = append(parts, p)
		}
	}
	sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	streaming, err := r.c.Streaming(sctx, st)
	cancel()
	if err != nil {
		parts = append(parts, "streaming unknown: "+err.Error())
	} else {
		parts = append(parts, fmt.Sprintf("streaming from %s: %v", st.Leader, streaming))
	}
	return "now " + strings.Join(parts, "; ")
}
