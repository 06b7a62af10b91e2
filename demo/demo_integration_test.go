package demo

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/moby/moby/client"

	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/headnodeapi"
	"github.com/redswitch/redswitch/rig"
	"github.com/redswitch/redswitch/rig/rigtest"
)

// requireRig stops the test unless Docker and the node image are here
// (a failure under CI=true, a skip elsewhere and under -short).
func requireRig(t *testing.T) {
	t.Helper()
	rigtest.Require(t, DefaultImage)
}

// startRig brings up a 3-node aggressive cluster for a test, or stops it
// as requireRig does when this machine has no Docker or no node image.
func startRig(t *testing.T, o Options) *Demo {
	t.Helper()
	requireRig(t)
	if o.Timings.Name == "" {
		o.Timings, _ = cluster.ParseTimings("aggressive")
	}
	o.DataDir = t.TempDir()
	o.Listen = "127.0.0.1:0"
	o.Ephemeral = true
	o.OperatorToken = "test-token"
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	d, err := Start(context.Background(), o)
	if err != nil {
		t.Fatalf("start rig: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := d.Close(ctx); err != nil {
			t.Errorf("close rig: %v", err)
		}
	})
	return d
}

func powerRequest(t *testing.T, d *Demo, node, token, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, d.URL+"/api/v1/nodes/"+node+"/power", strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("power request: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func getState(t *testing.T, d *Demo) headnodeapi.State {
	t.Helper()
	resp, err := http.Get(d.URL + "/api/v1/state")
	if err != nil {
		t.Fatalf("state: %v", err)
	}
	defer resp.Body.Close()
	var st headnodeapi.State
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatalf("state: %v", err)
	}
	return st
}

// write inserts one row through HAProxy's primary port and returns the
// node that served it.
func write(ctx context.Context, dsn string, v int) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn+"?connect_timeout=1")
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	var node string
	err = conn.QueryRow(ctx, "INSERT INTO spine(v) VALUES ($1) RETURNING current_setting('redswitch.node')", v).Scan(&node)
	return node, err
}

func TestSpinePrimaryPowerCut(t *testing.T) {
	d := startRig(t, Options{Nodes: 3})
	ctx := context.Background()
	bootStart := time.Now()
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	h, err := d.WaitHealthy(wctx)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("healthy after %.1f s: leader %s, %d streaming", time.Since(bootStart).Seconds(), h.Leader, h.Streaming)

	st := getState(t, d)
	if len(st.Nodes) != 3 {
		t.Fatalf("state has %d nodes, want 3: %+v", len(st.Nodes), st.Nodes)
	}
	if st.Timings.TTL != 5 || st.Timings.LoopWait != 1 || st.Timings.RetryTimeout != 2 || st.Timings.Mismatch != "" {
		t.Errorf("effective timings = %+v, want 5/1/2 without mismatch", st.Timings)
	}
	for _, n := range st.Nodes {
		if !n.Agent || n.Power != "on" {
			t.Errorf("node %s: agent %v power %s, want agent seen and power on", n.Name, n.Agent, n.Power)
		}
	}

	conn, err := pgx.Connect(ctx, d.DSN)
	if err != nil {
		t.Fatalf("connect through HAProxy: %v", err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE spine (v int primary key)"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	// Healthy means every node runs; on a loaded machine the first
	// connection through HAProxy may still be slow, so allow a few tries.
	var served string
	for start := time.Now(); ; {
		if served, err = write(ctx, d.DSN, 1); err == nil {
			break
		}
		if time.Since(start) > 30*time.Second {
			t.Fatalf("write through :primary: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if served != h.Leader {
		t.Errorf("write served by %s, want the leader %s", served, h.Leader)
	}

	// Requests that must change nothing.
	for _, c := range []struct {
		name, node, token, body string
		status                  int
		msg                     string
	}{
		{"no token", h.Leader, "", `{"on": false}`, http.StatusUnauthorized, "operator token required"},
		{"wrong token", h.Leader, "nope", `{"on": false}`, http.StatusUnauthorized, "operator token required"},
		{"malformed", h.Leader, "test-token", `{"on": "off"`, http.StatusBadRequest, "body"},
		{"missing field", h.Leader, "test-token", `{}`, http.StatusBadRequest, `field \"on\" is required`},
		{"unknown node", "n9", "test-token", `{"on": false}`, http.StatusNotFound, "unknown node"},
		{"already on", h.Leader, "test-token", `{"on": true}`, http.StatusConflict, "is already on"},
	} {
		status, body := powerRequest(t, d, c.node, c.token, c.body)
		if status != c.status || !strings.Contains(body, c.msg) || !strings.Contains(body, `"error"`) {
			t.Errorf("%s: status %d body %s, want %d with %q", c.name, status, body, c.status, c.msg)
		}
	}
	for _, n := range getState(t, d).Nodes {
		if n.Power != "on" {
			t.Errorf("after refused requests node %s has power %s", n.Name, n.Power)
		}
	}
	if got := getState(t, d).Leader; got != h.Leader {
		t.Errorf("after refused requests leader is %q, want %q", got, h.Leader)
	}

	// The power cut.
	old := h.Leader
	if status, body := powerRequest(t, d, old, "test-token", `{"on": false}`); status != http.StatusOK {
		t.Fatalf("power off %s: %d %s", old, status, body)
	}
	cut := time.Now()
	var newPrimary string
	for i := 2; ; i++ {
		if time.Since(cut) > 60*time.Second {
			t.Fatalf("no write succeeded within 60 s of cutting %s", old)
		}
		node, err := write(ctx, d.DSN, i)
		if err == nil {
			newPrimary = node
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("primary %s cut; first write on %s after %.2f s", old, newPrimary, time.Since(cut).Seconds())
	if newPrimary == old {
		t.Fatalf("write served by the powered-off node %s", old)
	}
	if st := getState(t, d); st.Leader != newPrimary {
		t.Errorf("leader key names %q, but %s served the write", st.Leader, newPrimary)
	}

	// Power back: the old primary must rejoin as a streaming replica,
	// after pg_rewind.
	if status, body := powerRequest(t, d, old, "test-token", `{"on": true}`); status != http.StatusOK {
		t.Fatalf("power on %s: %d %s", old, status, body)
	}
	wctx, cancel = context.WithTimeout(ctx, 2*time.Minute)
	h, err = d.WaitHealthy(wctx)
	cancel()
	if err != nil {
		t.Fatalf("old primary did not rejoin: %v", err)
	}
	if h.Leader != newPrimary || h.Streaming != 2 {
		t.Errorf("after rejoin: leader %s with %d streaming, want %s with 2", h.Leader, h.Streaming, newPrimary)
	}
	logs, err := d.Rig.Logs(ctx, old)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs, "pg_rewind") {
		t.Errorf("%s's log does not show pg_rewind; tail:\n%s", old, tail(logs, 40))
	}
	for _, n := range getState(t, d).Nodes {
		if n.Name == old && (n.Role != cluster.RoleReplica || n.Power != "on") {
			t.Errorf("old primary %s: role %s power %s, want replica, on", old, n.Role, n.Power)
		}
	}
}

// TestSpineLeavesNothingBehind checks the rig removes every container and
// network it created.
func TestSpineLeavesNothingBehind(t *testing.T) {
	d := startRig(t, Options{Nodes: 1})
	id := d.Rig.ID()
	ctx := context.Background()
	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}
	cli, err := rig.Docker(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	f := client.Filters{}
	f.Add("label", rig.LabelRig+"="+id)
	ctrs, err := cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	nets, err := cli.NetworkList(ctx, client.NetworkListOptions{Filters: f})
	if err != nil {
		t.Fatal(err)
	}
	if len(ctrs.Items) != 0 || len(nets.Items) != 0 {
		t.Errorf("left behind: %d containers, %d networks labelled %s", len(ctrs.Items), len(nets.Items), id)
	}
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
