package demo

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redswitch/redswitch/faults"
	"github.com/redswitch/redswitch/headnodeapi"
	"github.com/redswitch/redswitch/probe/analysis"
)

// TestOutageCauses cuts the primary's power, brings it back, then makes
// etcd unavailable to every node for a while: GET /api/v1/outages lists
// both outages with their causes (power, etcd) and none of unknown cause.
// The etcd outage carries the Patroni output of its nodes, forwarded by
// their agents.
func TestOutageCauses(t *testing.T) {
	d := startRig(t, Options{Nodes: 3, Probe: true})
	ctx := context.Background()
	c := &headnodeapi.Client{BaseURL: d.URL, Token: d.Token, HTTP: &http.Client{Timeout: 30 * time.Second}}
	healthy := func() string {
		t.Helper()
		wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
		defer cancel()
		h, err := d.WaitHealthy(wctx)
		if err != nil {
			t.Fatal(err)
		}
		// Steady commits, so the next gap is the fault's.
		deadline := time.Now().Add(time.Minute)
		for d.Probe.Stats().Rate < 20 || d.Probe.Stats().Outage {
			if time.Now().After(deadline) {
				t.Fatalf("probe rate stays at %.1f/s", d.Probe.Stats().Rate)
			}
			time.Sleep(200 * time.Millisecond)
		}
		return h.Leader
	}
	// waitOutages polls until an outage that started after since is listed
	// (explained once its evidence is in, a few seconds after it closed).
	waitOutages := func(since time.Time) []headnodeapi.Outage {
		t.Helper()
		deadline := time.Now().Add(2 * time.Minute)
		for {
			page, err := c.Outages(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range page.Outages {
				if !o.StartedAt.Before(since.Add(-2 * time.Second)) {
					return page.Outages
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("no outage after %v listed within 2 min: %+v", since, page)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}

	victim := healthy()
	cut := time.Now()
	if err := c.SetPower(ctx, victim, false); err != nil {
		t.Fatalf("cut %s: %v", victim, err)
	}
	waitOutages(cut)
	if err := c.SetPower(ctx, victim, true); err != nil {
		t.Fatalf("restore %s: %v", victim, err)
	}
	healthy()

	injected := time.Now()
	var f faults.Fault
	if err := c.Do(ctx, http.MethodPost, "/api/v1/faults", faults.Request{Kind: faults.KindEtcdOutage, Target: "etcd"}, &f); err != nil {
		t.Fatalf("inject etcd_outage: %v", err)
	}
	// Longer than the lease (ttl 5 s): the primary demotes itself.
	time.Sleep(12 * time.Second)
	if err := c.Do(ctx, http.MethodDelete, "/api/v1/faults/"+f.ID, nil, nil); err != nil {
		t.Fatalf("recover %s: %v", f.ID, err)
	}
	outs := waitOutages(injected)

	var power, etcd int
	for _, o := range outs {
		t.Logf("%s %s→%s %.2f s failover=%v %s: %s (%d evidence)", o.ID, o.From, o.To, o.DurationS, o.Failover,
			o.CauseKind, o.Cause, len(o.Evidence))
		switch o.CauseKind {
		case string(analysis.CausePower):
			power++
			if o.StartedAt.Before(injected) && (o.From != victim || !strings.Contains(o.Cause, "power off "+victim)) {
				t.Errorf("power outage %s: from %s, cause %q; cut %s", o.ID, o.From, o.Cause, victim)
			}
		case string(analysis.CauseEtcd):
			etcd++
			if o.StartedAt.Before(injected.Add(-2 * time.Second)) {
				t.Errorf("etcd outage %s before the injection", o.ID)
			}
		case string(analysis.CauseUnknown):
			for _, e := range o.Evidence {
				t.Logf("  %+.2f s %s %s %s", e.OffsetS, e.Kind, e.Node, e.Detail)
			}
			t.Errorf("outage %s of unknown cause", o.ID)
		}
		if len(o.Evidence) == 0 {
			t.Errorf("outage %s without evidence", o.ID)
		}
	}
	if power == 0 || etcd == 0 {
		t.Errorf("outages by power %d, by etcd %d: want both", power, etcd)
	}
	// The agents' Patroni lines arrive a few seconds after the outage
	// closed: every node was up, so some answer.
	deadline := time.Now().Add(time.Minute)
	for {
		page, err := c.Outages(ctx)
		if err != nil {
			t.Fatal(err)
		}
		lines := 0
		for _, o := range page.Outages {
			if o.CauseKind != string(analysis.CauseEtcd) {
				continue
			}
			for _, nl := range o.PatroniLog {
				lines += len(nl.Lines)
				for i, l := range nl.Lines {
					if i < 3 {
						t.Logf("  %s %s %s", nl.Node, l.At.Format("15:04:05.000"), l.Text)
					}
				}
			}
		}
		if lines > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no Patroni log line forwarded for the etcd outage within a minute")
		}
		time.Sleep(time.Second)
	}
}
