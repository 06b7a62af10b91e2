package faults_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/demo"
	"github.com/redswitch/redswitch/faults"
	"github.com/redswitch/redswitch/journal"
	"github.com/redswitch/redswitch/probe/analysis"
	"github.com/redswitch/redswitch/rig"
)

const operator = "test-operator"

// startCluster boots a 3-node aggressive cluster with the probe, or skips
// without docker or the node image.
func startCluster(t *testing.T, o demo.Options) *demo.Demo {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test needs docker and the node image; skipped with -short")
	}
	t.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	ctx := context.Background()
	cli, err := rig.Docker(ctx)
	if err != nil {
		t.Skipf("needs docker: %v", err)
	}
	if _, err := cli.ImageInspect(ctx, demo.DefaultImage); err != nil {
		cli.Close()
		t.Skipf("needs docker image %s (make image): %v", demo.DefaultImage, err)
	}
	cli.Close()
	o.Timings, _ = cluster.ParseTimings("aggressive")
	o.DataDir = t.TempDir()
	o.Listen = "127.0.0.1:0"
	o.Ephemeral = true
	o.OperatorToken = operator
	o.Probe = true
	o.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	d, err := demo.Start(ctx, o)
	if err != nil {
		t.Fatalf("start rig: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if m := d.Faults(); m != nil {
			if err := m.Close(ctx); err != nil {
				t.Errorf("close faults: %v", err)
			}
		}
		if err := d.Close(ctx); err != nil {
			t.Errorf("close rig: %v", err)
		}
	})
	wctx, cancel := context.WithTimeout(ctx, 6*time.Minute)
	defer cancel()
	if _, err := d.WaitHealthy(wctx); err != nil {
		t.Fatalf("cluster never healthy: %v", err)
	}
	if d.Faults() == nil {
		t.Fatal("demo has no fault manager")
	}
	return d
}

func call(t *testing.T, d *demo.Demo, method, path, token, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, d.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func inject(t *testing.T, d *demo.Demo, body string) faults.Fault {
	t.Helper()
	code, out := call(t, d, http.MethodPost, "/api/v1/faults", operator, body)
	if code != http.StatusCreated {
		t.Fatalf("inject %s: %d %s", body, code, out)
	}
	var f faults.Fault
	if err := json.Unmarshal([]byte(out), &f); err != nil {
		t.Fatalf("inject answer %s: %v", out, err)
	}
	return f
}

func recoverFault(t *testing.T, d *demo.Demo, id string) {
	t.Helper()
	if code, out := call(t, d, http.MethodDelete, "/api/v1/faults/"+id, operator, ""); code != http.StatusOK {
		t.Fatalf("recover %s: %d %s", id, code, out)
	}
}

func waitHealthy(t *testing.T, d *demo.Demo, limit time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	if _, err := d.WaitHealthy(ctx); err != nil {
		t.Fatalf("cluster not healthy again within %s: %v", limit, err)
	}
}

// waitFor polls cond every 200 ms until it holds or limit passes.
func waitFor(limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(200 * time.Millisecond)
	}
	return cond()
}

// leaderEvents returns the nodes that took the leader key after since.
func leaderEvents(evs []journal.Event, since time.Time) []string {
	var out []string
	for _, e := range evs {
		if e.Kind == journal.KindLeader && e.Node != "" && !e.At.Before(since) {
			out = append(out, e.Node)
		}
	}
	return out
}

func faultEvents(evs []journal.Event) int {
	n := 0
	for _, e := range evs {
		if e.Kind == journal.KindFaultInject || e.Kind == journal.KindFaultRecover {
			n++
		}
	}
	return n
}

// row is one line of the closing table.
type row struct {
	kind, patroni string
	outage        time.Duration
	lost          int
}

// measure finds the write outage that began within a few seconds of at.
func measure(evs []journal.Event, at time.Time) time.Duration {
	var worst time.Duration
	for _, o := range analysis.Outages(evs, 300*time.Millisecond) {
		if o.End.After(at) && o.Start.Before(at.Add(15*time.Second)) && o.Duration > worst {
			worst = o.Duration
		}
	}
	return worst
}

// TestFaultsOnCluster injects every kind it can into one running cluster,
// one after another, healing in between, and judges Patroni's behaviour
// from the recorded history.
func TestFaultsOnCluster(t *testing.T) {
	d := startCluster(t, demo.Options{})
	var table []row

	t.Run("bad requests change nothing", func(t *testing.T) {
		before := faultEvents(d.Events())
		for _, c := range []struct {
			token, body string
			want        int
			mention     string
		}{
			{"", `{"kind":"freeze","target":"n1"}`, 401, "token"},
			{operator, `{"kind":"meltdown","target":"n1"}`, 400, "meltdown"},
			{operator, `{"kind":"freeze"}`, 400, "target"},
			{operator, `{"kind":"freeze","target":"n9"}`, 404, "n9"},
			{operator, `{"kind":"freeze","target":"n1","lag":5}`, 400, "lag"},
			{operator, `{"kind":"etcd_outage","target":"n1"}`, 400, "etcd only"},
			{operator, `{"kind":"partition","target":"n1","from":"moon"}`, 400, "moon"},
		} {
			code, out := call(t, d, http.MethodPost, "/api/v1/faults", c.token, c.body)
			if code != c.want || !strings.Contains(out, c.mention) || !strings.Contains(out, `"error"`) {
				t.Errorf("POST %s: %d %s, want %d naming %q", c.body, code, out, c.want, c.mention)
			}
		}
		if code, out := call(t, d, http.MethodDelete, "/api/v1/faults/freeze-00000000", operator, ""); code != 404 || !strings.Contains(out, "freeze-00000000") {
			t.Errorf("DELETE unknown id: %d %s", code, out)
		}
		if got := faultEvents(d.Events()); got != before {
			t.Errorf("bad requests recorded %d fault events", got-before)
		}
		if a := d.Faults().Active(); len(a) != 0 {
			t.Errorf("bad requests left active faults: %+v", a)
		}
	})

	t.Run("pg_crash of the primary: restarted in place, no failover", func(t *testing.T) {
		primary := d.Head.State().Leader
		start := time.Now()
		f := inject(t, d, `{"kind":"pg_crash","target":"primary"}`)
		if f.Node != primary || f.State != faults.StateDone {
			t.Fatalf("fault %+v: want done on %s", f, primary)
		}
		if code, out := call(t, d, http.MethodDelete, "/api/v1/faults/"+f.ID, operator, ""); code != http.StatusConflict {
			t.Errorf("recovering a self-healing fault: %d %s, want 409", code, out)
		}
		waitHealthy(t, d, 4*time.Minute)
		time.Sleep(2 * time.Second)
		if l := d.Head.State().Leader; l != primary {
			t.Errorf("leader moved from %s to %s after a postmaster crash", primary, l)
		}
		evs := d.Events()
		table = append(table, row{"pg_crash primary", fmt.Sprintf("restarted PostgreSQL in place; leaders taken since: %v", leaderEvents(evs, start)), measure(evs, start), -1})
	})

	t.Run("freeze of the primary: failover, thaw demotes it", func(t *testing.T) {
		primary := d.Head.State().Leader
		start := time.Now()
		f := inject(t, d, `{"kind":"freeze","target":"primary"}`)
		if code, _ := call(t, d, http.MethodPost, "/api/v1/faults", operator, `{"kind":"freeze","target":"`+primary+`"}`); code != http.StatusConflict {
			t.Errorf("double freeze: %d, want 409", code)
		}
		if !waitFor(30*time.Second, func() bool { l := d.Head.State().Leader; return l != "" && l != primary }) {
			t.Fatalf("no failover within 30 s of freezing %s", primary)
		}
		recoverFault(t, d, f.ID)
		waitHealthy(t, d, 4*time.Minute)
		evs := d.Events()
		if sb := analysis.SplitBrain(evs); len(sb) > 0 {
			t.Errorf("split brain after thaw: %+v", sb)
		}
		table = append(table, row{"freeze primary", fmt.Sprintf("failover to %s; thawed %s rejoined as replica", d.Head.State().Leader, primary), measure(evs, start), -1})
	})

	t.Run("partition of the primary from etcd: it demotes, a replica leads", func(t *testing.T) {
		primary := d.Head.State().Leader
		start := time.Now()
		f := inject(t, d, `{"kind":"partition","target":"primary","from":"etcd"}`)
		if !waitFor(30*time.Second, func() bool { l := d.Head.State().Leader; return l != "" && l != primary }) {
			t.Fatalf("no failover within 30 s of partitioning %s from etcd", primary)
		}
		recoverFault(t, d, f.ID)
		waitHealthy(t, d, 4*time.Minute)
		evs := d.Events()
		if sb := analysis.SplitBrain(evs); len(sb) > 0 {
			t.Errorf("split brain: %+v", sb)
		}
		table = append(table, row{"partition primary from etcd", "old primary demoted within ttl; " + d.Head.State().Leader + " took over", measure(evs, start), -1})
	})

	t.Run("etcd outage without failsafe: the primary stops accepting writes", func(t *testing.T) {
		primary := d.Head.State().Leader
		start := time.Now()
		f := inject(t, d, `{"kind":"etcd_outage"}`)
		if f.Node != "etcd" || len(f.Nodes) != 3 {
			t.Errorf("etcd outage acted on %v, want all 3 nodes", f.Nodes)
		}
		time.Sleep(15 * time.Second)
		recoverFault(t, d, f.ID)
		waitHealthy(t, d, 4*time.Minute)
		evs := d.Events()
		out := measure(evs, start)
		if out < 3*time.Second {
			t.Errorf("write outage during a 15 s etcd outage without failsafe: %s, want the primary to demote", out)
		}
		table = append(table, row{"etcd_outage (failsafe off)", fmt.Sprintf("primary %s demoted itself (read-only); leader after heal %s", primary, d.Head.State().Leader), out, -1})
	})

	t.Run("patroni_crash of the primary: failover while PostgreSQL runs on", func(t *testing.T) {
		primary := d.Head.State().Leader
		start := time.Now()
		f := inject(t, d, `{"kind":"patroni_crash","target":"primary"}`)
		if !waitFor(30*time.Second, func() bool { l := d.Head.State().Leader; return l != "" && l != primary }) {
			t.Fatalf("no failover within 30 s of killing Patroni on %s", primary)
		}
		recoverFault(t, d, f.ID)
		waitHealthy(t, d, 4*time.Minute)
		evs := d.Events()
		if sb := analysis.SplitBrain(evs); len(sb) > 0 {
			t.Errorf("split brain: %+v", sb)
		}
		table = append(table, row{"patroni_crash primary", "leader key expired, " + d.Head.State().Leader + " promoted; old primary rejoined when Patroni returned", measure(evs, start), -1})
	})

	t.Run("replica_lag holds a replica back and releases it", func(t *testing.T) {
		f := inject(t, d, `{"kind":"replica_lag","target":"replica","lag":16777216}`)
		lagged := waitFor(20*time.Second, func() bool {
			for _, n := range d.Head.State().Nodes {
				if n.Name == f.Node && n.LagBytes != nil && *n.LagBytes >= 16<<20 {
					return true
				}
			}
			return false
		})
		if !lagged {
			t.Errorf("replica %s never showed 16 MB of lag: %+v", f.Node, d.Head.State().Nodes)
		}
		recoverFault(t, d, f.ID)
		if !waitFor(60*time.Second, func() bool {
			for _, n := range d.Head.State().Nodes {
				if n.Name == f.Node && n.LagBytes != nil && *n.LagBytes < 1<<20 {
					return true
				}
			}
			return false
		}) {
			t.Errorf("replica %s did not catch up after recovery", f.Node)
		}
		table = append(table, row{"replica_lag 16MB", "replica held 16 MB behind, caught up on release; no failover", measure(d.Events(), f.InjectedAt), -1})
	})

	t.Run("disk_full refuses a data volume on the host's disk", func(t *testing.T) {
		code, out := call(t, d, http.MethodPost, "/api/v1/faults", operator, `{"kind":"disk_full","target":"replica","max_fill":1048576}`)
		if code != http.StatusConflict || !strings.Contains(out, "max_bytes") {
			t.Errorf("disk_full with a 1 MB bound on an unbounded volume: %d %s, want 409 naming max_bytes", code, out)
		}
		if a := d.Faults().Active(); len(a) != 0 {
			t.Errorf("refused disk_full left active faults: %+v", a)
		}
	})

	t.Run("corrupt replica: re-initialised by itself", func(t *testing.T) {
		waitHealthy(t, d, 4*time.Minute)
		start := time.Now()
		f := inject(t, d, `{"kind":"corrupt","target":"replica"}`)
		reinit := waitFor(150*time.Second, func() bool {
			for _, e := range d.Events() {
				if e.Kind == journal.KindNode && e.Detail == "reinitialised" && e.Node == f.Node && !e.At.Before(f.InjectedAt) {
					return true
				}
			}
			return false
		})
		if !reinit {
			logs, _ := d.Rig.Logs(context.Background(), f.Node)
			if len(logs) > 4000 {
				logs = logs[len(logs)-4000:]
			}
			t.Fatalf("no reinitialised event for %s within 150 s; log tail:\n%s", f.Node, logs)
		}
		waitHealthy(t, d, 4*time.Minute)
		table = append(table, row{"corrupt replica", "agent wiped the data dir, Patroni re-initialised it from the primary; no failover", measure(d.Events(), start), -1})
	})

	// Lost commits over the whole run, read back from the primary.
	rctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if ev, err := d.Probe.ReadBack(rctx, d.Events()); err != nil {
		t.Errorf("read back: %v", err)
	} else if _, err := d.Record(ev); err != nil {
		t.Errorf("record read back: %v", err)
	} else if len(ev.Missing) > 0 {
		t.Errorf("acknowledged commits lost: %v", ev.Missing)
	}
	rep := analysis.Analyze(d.Events(), analysis.Options{})
	t.Logf("%-30s | %-90s | %-12s", "fault", "what Patroni did", "write outage")
	for _, r := range table {
		t.Logf("%-30s | %-90s | %-12s", r.kind, r.patroni, r.outage.Round(10*time.Millisecond))
	}
	t.Logf("lost commits over the whole run: %d; split brains: %d; failovers: %d", len(rep.Lost), len(rep.SplitBrains), len(rep.Failovers))
	for _, f := range rep.Failovers {
		t.Logf("failover %s: %s → %s in %s, cause %s, lost %d", f.ID, f.OldPrimary, f.NewPrimary, f.Duration.Round(10*time.Millisecond), f.Cause, len(f.Lost))
	}
}
