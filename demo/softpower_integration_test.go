package demo

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/redswitch/redswitch/agentapi"
	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/journal"
	"github.com/redswitch/redswitch/probe/analysis"
)

// TestSoftPowerCutThroughAgent cuts the primary the way a machine with
// neither relay nor container is cut: its agent stops and kills every
// Patroni and PostgreSQL process at once. The container keeps running, the
// cluster fails over, and restoring power brings the node back as a
// replica.
func TestSoftPowerCutThroughAgent(t *testing.T) {
	d := startRig(t, Options{Nodes: 3, Probe: true, Power: PowerAgent})
	ctx := context.Background()
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	h, err := d.WaitHealthy(wctx)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	victim := h.Leader
	var addr string
	for _, n := range d.Rig.Nodes() {
		if n.Name == victim {
			addr = n.Address
		}
	}
	agent := agentapi.NewClient(addr, cluster.AgentPort, d.clusterToken)
	deadline := time.Now().Add(30 * time.Second)
	for d.Probe.Stats().Rate < 20 {
		if time.Now().After(deadline) {
			t.Fatalf("probe rate stays at %.1f/s", d.Probe.Stats().Rate)
		}
		time.Sleep(200 * time.Millisecond)
	}

	if code, body := powerRequest(t, d, victim, d.Token, `{"on": false}`); code != http.StatusOK {
		t.Fatalf("cut %s: %d %s", victim, code, body)
	}
	st, err := agent.Status(ctx)
	if err != nil {
		t.Fatalf("the agent must keep answering through a soft cut: %v", err)
	}
	if !st.SoftPowerOff || !st.PatroniHeld {
		t.Errorf("agent status after the cut: %+v, want soft_power_off and patroni held", st)
	}
	if running, err := d.Rig.Powered(ctx, victim); err != nil || !running {
		t.Errorf("a soft cut must leave the container running (running %v, err %v)", running, err)
	}
	// The head node polls its driver every second: the agent's answer must
	// keep the node off, not flip it back on.
	time.Sleep(2500 * time.Millisecond)
	for _, n := range getState(t, d).Nodes {
		if n.Name == victim && n.Power != "off" {
			t.Errorf("head node state of %s after the cut: power %q, want off", victim, n.Power)
		}
	}

	var f analysis.Failover
	for start := time.Now(); ; time.Sleep(250 * time.Millisecond) {
		rep := d.Observer.Report()
		if len(rep.Failovers) > 0 && !rep.Failovers[0].Outage.Open {
			f = rep.Failovers[0]
			break
		}
		if time.Since(start) > time.Minute {
			t.Fatalf("no failover within a minute: %+v", rep)
		}
	}
	t.Logf("soft cut of %s: failover to %s in %.2f s, cause %q, phases %+v", f.OldPrimary, f.NewPrimary,
		f.Duration.Seconds(), f.Cause, f.Phases)
	if f.OldPrimary != victim || f.NewPrimary == victim || f.NewPrimary == "" {
		t.Errorf("failover %s → %s, want from %s to another node", f.OldPrimary, f.NewPrimary, victim)
	}
	if f.Duration > 15*time.Second {
		t.Errorf("failover took %.1f s with ttl 5", f.Duration.Seconds())
	}

	if code, body := powerRequest(t, d, victim, d.Token, `{"on": true}`); code != http.StatusOK {
		t.Fatalf("restore %s: %d %s", victim, code, body)
	}
	waitEvent(t, d, "power restored", func(e journal.Event) bool {
		return e.Kind == journal.KindPower && e.Node == victim && e.On != nil && *e.On
	})
	wctx, cancel = context.WithTimeout(ctx, 3*time.Minute)
	h2, err := d.WaitHealthy(wctx)
	cancel()
	if err != nil {
		t.Fatalf("%s did not rejoin after the soft cut: %v", victim, err)
	}
	if h2.Leader == victim || h2.Streaming != 2 {
		t.Errorf("after restore: %+v, want %s back as a streaming replica", h2, victim)
	}
	if st, err := agent.Status(ctx); err != nil || st.SoftPowerOff || st.PatroniHeld || st.PatroniPID == 0 {
		t.Errorf("agent after restore: %+v %v", st, err)
	}
}
