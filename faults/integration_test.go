package faults_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/demo"
	"github.com/redswitch/redswitch/faults"
	"github.com/redswitch/redswitch/journal"
	"github.com/redswitch/redswitch/probe/analysis"
	"github.com/redswitch/redswitch/rig/rigtest"
)

const operator = "test-operator"

// startCluster boots a 3-node aggressive cluster with the probe; without
// docker or the node image it fails under CI=true and skips elsewhere.
func startCluster(t *testing.T, o demo.Options) *demo.Demo {
	t.Helper()
	rigtest.Require(t, demo.DefaultImage)
	ctx := context.Background()
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

func faultEvents(evs []journal.Event) int {
	n := 0
	for _, e := range evs {
		if e.Kind == journal.KindFaultInject || e.Kind == journal.KindFaultRecover {
			n++
		}
	}
	return n
}

// TestFaultsOnCluster injects every kind it can into one running cluster,
// one after another, healing in between, and judges Patroni's behaviour
// from the recorded history.
// TestFaultsOnCluster checks the fault API on a real cluster: refused
// requests change nothing. Every fault kind's effect on Patroni is tested
// as a scenario of the library (scenarios/library), not by a harness of
// its own.
func TestFaultsOnCluster(t *testing.T) {
	d := startCluster(t, demo.Options{})

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

	t.Run("disk_full refuses a data volume on the host's disk", func(t *testing.T) {
		code, out := call(t, d, http.MethodPost, "/api/v1/faults", operator, `{"kind":"disk_full","target":"replica","max_fill":1048576}`)
		if code != http.StatusConflict || !strings.Contains(out, "max_bytes") {
			t.Errorf("disk_full with a 1 MB bound on an unbounded volume: %d %s, want 409 naming max_bytes", code, out)
		}
		if a := d.Faults().Active(); len(a) != 0 {
			t.Errorf("refused disk_full left active faults: %+v", a)
		}
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
	t.Logf("lost commits over the whole run: %d; split brains: %d; failovers: %d", len(rep.Lost), len(rep.SplitBrains), len(rep.Failovers))
	for _, f := range rep.Failovers {
		t.Logf("failover %s: %s → %s in %s, cause %s, lost %d", f.ID, f.OldPrimary, f.NewPrimary, f.Duration.Round(10*time.Millisecond), f.Cause, len(f.Lost))
	}
}

// TestEtcdOutageRecoveredWithAReplicaCut: an etcd outage is healed node by
// node through the agents, and a replica cut during the outage has no
// agent to answer. The recovery must heal the others at once and list the
// replica as pending instead of waiting out the agent client's 30 s and
// failing; powered on again, the replica is healed, its Patroni reaches
// etcd again and it streams from the primary.
func TestEtcdOutageRecoveredWithAReplicaCut(t *testing.T) {
	d := startCluster(t, demo.Options{})
	st := d.Head.State()
	replica := ""
	for _, n := range st.Nodes {
		if n.Name != st.Leader && n.Role == cluster.RoleReplica {
			replica = n.Name
			break
		}
	}
	if replica == "" {
		t.Fatalf("no replica to cut: leader %q, nodes %+v", st.Leader, st.Nodes)
	}
	decode := func(what, out string) faults.Fault {
		t.Helper()
		var f faults.Fault
		if err := json.Unmarshal([]byte(out), &f); err != nil {
			t.Fatalf("%s: %v: %s", what, err, out)
		}
		return f
	}

	code, out := call(t, d, http.MethodPost, "/api/v1/faults", operator, `{"kind":"etcd_outage"}`)
	if code != http.StatusCreated {
		t.Fatalf("inject etcd_outage: %d %s", code, out)
	}
	f := decode("inject", out)
	if !slices.Contains(f.Nodes, replica) {
		t.Fatalf("the outage did not reach %s: nodes %v", replica, f.Nodes)
	}
	// Long enough for Patroni's etcd requests to hang, shorter than ttl.
	time.Sleep(2 * time.Second)
	if code, out := call(t, d, http.MethodPost, "/api/v1/nodes/"+replica+"/power", operator, `{"on":false}`); code != http.StatusOK {
		t.Fatalf("cut %s: %d %s", replica, code, out)
	}

	start := time.Now()
	code, out = call(t, d, http.MethodDelete, "/api/v1/faults/"+f.ID, operator, "")
	took := time.Since(start)
	if code != http.StatusOK {
		t.Fatalf("recover with %s cut: %d %s (after %v)", replica, code, out, took)
	}
	rec := decode("recover", out)
	if rec.State != faults.StateRecovered || !reflect.DeepEqual(rec.Pending, []string{replica}) {
		t.Errorf("recovered fault: state %s, pending %v; want recovered, pending [%s]", rec.State, rec.Pending, replica)
	}
	if took > 10*time.Second {
		t.Errorf("recovery took %v: it waited for the cut replica's agent", took.Round(time.Millisecond))
	}
	t.Logf("recovered in %v with %s pending", took.Round(time.Millisecond), replica)

	if code, out := call(t, d, http.MethodPost, "/api/v1/nodes/"+replica+"/power", operator, `{"on":true}`); code != http.StatusOK {
		t.Fatalf("power on %s: %d %s", replica, code, out)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		code, out := call(t, d, http.MethodGet, "/api/v1/faults/"+f.ID, operator, "")
		if code != http.StatusOK {
			t.Fatalf("GET fault: %d %s", code, out)
		}
		if g := decode("get", out); len(g.Pending) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still pending 2 min after its power returned: %s", replica, out)
		}
		time.Sleep(500 * time.Millisecond)
	}
	healed := false
	for _, e := range d.Events() {
		if e.Kind == journal.KindFaultRecover && e.ID == f.ID && e.Node == replica && e.Source == journal.SourcePowerOn {
			healed = true
		}
	}
	if !healed {
		t.Errorf("no fault.recover event for %s after power-on", replica)
	}

	// Back without the outage's rules: the agent and Patroni reach etcd,
	// and the replica streams from the primary.
	wctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, err := d.WaitHealthy(wctx); err != nil {
		t.Fatalf("cluster not whole after the replica came back: %v", err)
	}
	for _, n := range d.Head.State().Nodes {
		if n.Name == replica && (!n.Agent || n.Role != cluster.RoleReplica || n.State != "running") {
			t.Errorf("%s after power-on: agent %t, role %s, state %q; want its agent registered and a running replica", replica, n.Agent, n.Role, n.State)
		}
	}
}
