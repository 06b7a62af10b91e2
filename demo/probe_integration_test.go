package demo

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/redswitch/redswitch/probe/analysis"
)

// clientOp is one call the second client made, a connect or an insert,
// with its call and return times on the head node's clock and its error.
type clientOp struct {
	what      string
	call, ret time.Time
	err       error
}

// secondClient writes through the same port as the probe, independently,
// and records every call it makes with its call and return times.
type secondClient struct {
	now func() time.Time // the probe's clock, so both histories compare
	mu  sync.Mutex
	ops []clientOp
}

func (c *secondClient) record(what string, call time.Time, err error) {
	op := clientOp{what: what, call: call, ret: c.now(), err: err}
	c.mu.Lock()
	c.ops = append(c.ops, op)
	c.mu.Unlock()
}

func (c *secondClient) run(ctx context.Context, dsn string) {
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			conn.Close(context.Background())
		}
	}()
	for i := 1; ctx.Err() == nil; i++ {
		if conn == nil {
			call := c.now()
			cctx, cancel := context.WithTimeout(ctx, time.Second)
			var err error
			conn, err = pgx.Connect(cctx, dsn)
			cancel()
			if ctx.Err() != nil {
				return // stopped: not a failure the comparison should see
			}
			c.record("connect", call, err)
			if err != nil {
				conn = nil
				time.Sleep(5 * time.Millisecond)
				continue
			}
		}
		call := c.now()
		sctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		_, err := conn.Exec(sctx, "INSERT INTO second_client(v) VALUES ($1)", i)
		cancel()
		if ctx.Err() != nil {
			return
		}
		c.record("insert", call, err)
		if err != nil {
			conn.Close(context.Background())
			conn = nil
			continue
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// history returns a copy of the calls made so far.
func (c *secondClient) history() []clientOp {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]clientOp(nil), c.ops...)
}

// ackedAfter reports whether an insert was acknowledged after t.
func (c *secondClient) ackedAfter(t time.Time) bool {
	for _, op := range c.history() {
		if op.what == "insert" && op.err == nil && op.ret.After(t) {
			return true
		}
	}
	return false
}

// compareOutage checks the probe's outage o against the second client's
// calls and returns every disagreement beyond tol.
//
// Comparing the two outages' lengths within 100 ms, as this test once
// did, blamed the probe for the second client's retry loop: that client
// can sit up to 1 s in a connect started before the new primary took
// writes, so its outage may end a second late although the probe measured
// right. A commit is a fact, though: each of the client's commits happened
// at some instant between its insert's call and return, whatever the
// client did before. So (the probe has the same 1 s connect timeout: if it
// sits in one while the client commits, the probe did overstate the
// outage, and the first check says so):
//
//   - No client commit lies inside the probe's outage: an insert called
//     after o.Start+tol that returned before o.End-tol committed while the
//     probe saw nothing, so the probe overstates the outage at one end.
//     This is the probe's outage lying within the client's window from
//     the last commit before to the first commit after, bracketed by the
//     inserts' call and return times, give or take tol.
//   - The client committed before and after the outage, and failed inside
//     it: it was writing throughout, so its window means something.
//   - No client call that started tol or more after o.End failed before
//     the client's own first commit after the outage: the probe's first
//     commit says the primary takes writes again, and a client starting
//     afresh then must succeed; a failure means the probe called the
//     outage over too early. Calls already in flight at o.End may still
//     fail or time out; they prove nothing.
func compareOutage(o analysis.Outage, ops []clientOp, tol time.Duration) []string {
	var problems []string
	start, end := o.Start.Add(tol), o.End.Add(-tol)
	rel := func(t time.Time) float64 { return t.Sub(o.Start).Seconds() }
	var before, after, failedInside bool
	for _, op := range ops { // in call order: the client makes one call at a time
		switch {
		case op.what == "insert" && op.err == nil:
			if op.call.After(start) && op.ret.Before(end) {
				problems = append(problems, fmt.Sprintf("the client committed between %+.3f s and %+.3f s into the probe's %.3f s outage",
					rel(op.call), rel(op.ret), o.Duration.Seconds()))
			}
			before = before || !op.call.After(start)
			after = after || !op.ret.Before(end)
		case op.err != nil:
			if !op.call.Before(o.Start.Add(-tol)) && !op.call.After(o.End) {
				failedInside = true
			}
			// Only until the client's own first commit after the outage:
			// a later hiccup is another event, not this outage's end.
			if !after && !op.call.Before(o.End.Add(tol)) {
				problems = append(problems, fmt.Sprintf("the client's %s called %.3f s after the probe's first commit failed: %v",
					op.what, op.call.Sub(o.End).Seconds(), op.err))
			}
		}
	}
	if !before || !after {
		problems = append(problems, fmt.Sprintf("the client has no commit before (%v) or after (%v) the probe's outage", before, after))
	}
	if !failedInside {
		problems = append(problems, "no call of the client failed during the probe's outage")
	}
	return problems
}

// clientWindow describes the client's own outage for the log: from the
// return of its last commit before o to the call of its first after.
func clientWindow(o analysis.Outage, ops []clientOp) string {
	var lastRet, firstCall time.Time
	for _, op := range ops {
		if op.what != "insert" || op.err != nil {
			continue
		}
		if !op.ret.After(o.Start.Add(o.Duration / 2)) {
			lastRet = op.ret
		} else if firstCall.IsZero() {
			firstCall = op.call
		}
	}
	if lastRet.IsZero() || firstCall.IsZero() {
		return "none"
	}
	return fmt.Sprintf("%.3f s (%+.3f s to %+.3f s from the probe's)", firstCall.Sub(lastRet).Seconds(),
		lastRet.Sub(o.Start).Seconds(), firstCall.Sub(o.End).Seconds())
}

// TestProbeMeasuresFailover cuts the primary under the commit probe and
// checks the recorded failover as the client sees it.
func TestProbeMeasuresFailover(t *testing.T) {
	d := startRig(t, Options{Nodes: 3, Probe: true})
	ctx := context.Background()
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	h, err := d.WaitHealthy(wctx)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, d.DSN)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE second_client (v int)"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	// Let the probe settle into a steady rate first.
	deadline := time.Now().Add(30 * time.Second)
	for d.Probe.Stats().Rate < 20 {
		if time.Now().After(deadline) {
			t.Fatalf("probe rate stays at %.1f/s", d.Probe.Stats().Rate)
		}
		time.Sleep(200 * time.Millisecond)
	}
	sc := &secondClient{now: d.Clock.Now}
	cctx, stopClient := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); sc.run(cctx, d.DSN) }()
	time.Sleep(time.Second)

	cut := time.Now()
	if err := d.Head.SetPower(ctx, h.Leader, false, "test"); err != nil {
		t.Fatal(err)
	}
	var f analysis.Failover
	for {
		rep := d.Observer.Report()
		if len(rep.Failovers) > 0 && !rep.Failovers[0].Outage.Open {
			f = rep.Failovers[0]
			break
		}
		if time.Since(cut) > time.Minute {
			t.Fatalf("no failover recorded within a minute; report: %+v", rep)
		}
		time.Sleep(250 * time.Millisecond)
	}
	// Both clients must have written again before the second one stops.
	for wait := time.Now(); time.Since(wait) < 30*time.Second; time.Sleep(50 * time.Millisecond) {
		if sc.ackedAfter(f.Outage.End) {
			break
		}
	}
	time.Sleep(500 * time.Millisecond)
	stopClient()
	wg.Wait()

	// Lost commits: read the table back from the new primary, once writes
	// resumed and again after the old primary rejoined.
	rb, err := d.Probe.ReadBack(ctx, d.Events())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Record(rb); err != nil {
		t.Fatal(err)
	}
	if err := d.Head.SetPower(ctx, h.Leader, true, "test"); err != nil {
		t.Fatal(err)
	}
	wctx, cancel = context.WithTimeout(ctx, 4*time.Minute)
	_, err = d.WaitHealthy(wctx)
	cancel()
	if err != nil {
		t.Fatalf("old primary did not rejoin: %v", err)
	}
	rb2, err := d.Probe.ReadBack(ctx, d.Events())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Record(rb2); err != nil {
		t.Fatal(err)
	}

	rep := analysis.Analyze(d.Events(), analysis.Options{})
	if len(rep.Failovers) != 1 {
		t.Fatalf("analysis found %d failovers, want 1: %+v", len(rep.Failovers), rep.Failovers)
	}
	f = rep.Failovers[0]
	t.Logf("failover %s → %s: %.2f s, cause %q, lost %d, phases %+v", f.OldPrimary, f.NewPrimary,
		f.Duration.Seconds(), f.Cause, len(f.Lost), f.Phases)
	if f.Duration < 3*time.Second || f.Duration > 10*time.Second {
		t.Errorf("failover took %.2f s, want between 3 and 10 s", f.Duration.Seconds())
	}
	if f.OldPrimary != h.Leader || f.NewPrimary == h.Leader || f.NewPrimary == "" {
		t.Errorf("failover %s → %s, want from %s to another node", f.OldPrimary, f.NewPrimary, h.Leader)
	}
	if f.NewTimeline <= f.OldTimeline {
		t.Errorf("timeline %d → %d did not advance", f.OldTimeline, f.NewTimeline)
	}
	// The phases that happen in a fixed order must be recorded in it.
	// writable (the head node's own poll of the new primary) may come a
	// poll after the first commit, so it is checked against the new leader.
	order := []string{"leader_expired", "new_leader", "first_commit"}
	if w, ok := phaseAt(f.Phases, analysis.PhaseWritable); !ok {
		t.Errorf("phase writable not observed: %+v", f.Phases)
	} else if nl, ok := phaseAt(f.Phases, analysis.PhaseNewLeader); ok && w < nl {
		t.Errorf("writable at %.2f s before the new leader at %.2f s", w, nl)
	}
	if f.RigShare == nil || *f.RigShare < -50*time.Millisecond || *f.RigShare > time.Second {
		t.Errorf("rig share (first commit − writable) %v, want between −50 ms and 1 s", f.RigShare)
	}
	at := map[string]float64{}
	for _, p := range f.Phases {
		at[p.Name] = p.Seconds
		if p.Seconds < 0 || p.Seconds > f.Duration.Seconds()+2 {
			t.Errorf("phase %s at %.2f s lies outside the failover", p.Name, p.Seconds)
		}
	}
	for i, name := range order {
		if _, ok := at[name]; !ok {
			t.Errorf("phase %s not observed: %+v", name, f.Phases)
			continue
		}
		if i > 0 && at[name] < at[order[i-1]] {
			t.Errorf("phase %s (%.2f s) before %s (%.2f s)", name, at[name], order[i-1], at[order[i-1]])
		}
	}
	if rep.Totals.Readbacks < 2 {
		t.Errorf("recorded %d read-backs, want 2", rep.Totals.Readbacks)
	}
	lost := analysis.LostCommits(d.Events(), rep.Failovers)
	if len(lost) != len(f.Lost) {
		t.Errorf("lost commits disagree: %d vs %d", len(lost), len(f.Lost))
	}
	if len(rep.SplitBrains) != 0 {
		t.Errorf("split brain reported: %+v", rep.SplitBrains)
	}
	// The probe's outage against what the second client saw (see
	// compareOutage): not a match of lengths, which the clients' own
	// retries blur by up to a second, but of the commits the client made.
	ops := sc.history()
	t.Logf("probe outage %.3f s; second client's window %s", f.Outage.Duration.Seconds(), clientWindow(f.Outage, ops))
	for _, p := range compareOutage(f.Outage, ops, 100*time.Millisecond) {
		t.Error(p)
	}
}

// phaseAt is the offset of the named phase.
func phaseAt(ps []analysis.Phase, name string) (float64, bool) {
	for _, p := range ps {
		if p.Name == name {
			return p.Seconds, true
		}
	}
	return 0, false
}
