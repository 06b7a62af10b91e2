package demo

import (
	"context"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/redswitch/redswitch/probe/analysis"
)

// secondClient writes through the same port as the probe, independently,
// and remembers when each write was acknowledged.
type secondClient struct {
	mu   sync.Mutex
	acks []time.Time
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
			cctx, cancel := context.WithTimeout(ctx, time.Second)
			var err error
			conn, err = pgx.Connect(cctx, dsn)
			cancel()
			if err != nil {
				conn = nil
				time.Sleep(5 * time.Millisecond)
				continue
			}
		}
		sctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		_, err := conn.Exec(sctx, "INSERT INTO second_client(v) VALUES ($1)", i)
		cancel()
		if err != nil {
			conn.Close(context.Background())
			conn = nil
			continue
		}
		c.mu.Lock()
		c.acks = append(c.acks, time.Now())
		c.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
}

// ackedAfter reports whether a write was acknowledged after t.
func (c *secondClient) ackedAfter(t time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.acks) > 0 && c.acks[len(c.acks)-1].After(t)
}

// longestGapAfter returns the longest gap between consecutive acks that
// ends after t: the outage the client saw.
func (c *secondClient) longestGapAfter(t time.Time) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	var longest time.Duration
	for i := 1; i < len(c.acks); i++ {
		if c.acks[i].After(t) {
			longest = max(longest, c.acks[i].Sub(c.acks[i-1]))
		}
	}
	return longest
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
	sc := &secondClient{}
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
	gap := sc.longestGapAfter(cut)
	outage := f.Outage.Duration
	t.Logf("probe outage %.3f s, second client outage %.3f s", outage.Seconds(), gap.Seconds())
	if math.Abs((gap - outage).Seconds()) > 0.1 {
		t.Errorf("second client saw a %.3f s outage, the probe %.3f s: more than 100 ms apart", gap.Seconds(), outage.Seconds())
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
