package demo

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/redswitch/redswitch/agentapi"
	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/journal"
	"github.com/redswitch/redswitch/prereq"
	"github.com/redswitch/redswitch/rig"
)

func forkRequest(t *testing.T, d *Demo, method, path, token, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, d.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: 6 * time.Minute}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func scalar(ctx context.Context, t *testing.T, dsn, sql string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect %s: %v", dsn, err)
	}
	defer conn.Close(context.Background())
	var s string
	if err := conn.QueryRow(ctx, sql).Scan(&s); err != nil {
		t.Fatalf("%s on %s: %v", sql, dsn, err)
	}
	return s
}

// TestForkReplicaUnderProbeLoad forks a replica through the head node's
// API while the probe writes: the fork is a btrfs snapshot, writable on a
// new timeline, independent of the cluster in both directions, and the
// cluster sees no outage. Bad requests change nothing.
func TestForkReplicaUnderProbeLoad(t *testing.T) {
	// Synchronous mode: one replica is the synchronous standby, and the
	// fork must come from the other (forks.PickSource).
	requireRig(t)
	// Root and btrfs-progs are what scripts/install-deps.sh and CI
	// provide: missing under CI=true, they fail the test. Checked before
	// a cluster boots for nothing.
	if err := rig.VolumesSupported(); err != nil {
		prereq.Missing(t, "this machine cannot give nodes btrfs volumes: %v", err)
	}
	d := startRig(t, Options{Nodes: 3, Probe: true, SynchronousMode: true})
	if !d.Rig.Volumes() {
		t.Fatal("the machine supports node volumes but the rig's nodes have none")
	}
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
	if _, err := conn.Exec(ctx, "CREATE TABLE parcels (v text); INSERT INTO parcels VALUES ('before')"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	// The replica must have the row before the fork is taken.
	time.Sleep(2 * time.Second)
	primaryTL, syncStandby := 0, ""
	for deadline := time.Now().Add(time.Minute); syncStandby == "" && time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		for _, n := range getState(t, d).Nodes {
			if n.Name == h.Leader {
				primaryTL = n.Timeline
			}
			if n.Sync {
				syncStandby = n.Name
			}
		}
	}
	if syncStandby == "" {
		t.Fatal("no node became the synchronous standby within a minute")
	}
	before := len(d.Observer.Report().Outages)

	for _, c := range []struct {
		body, token string
		status      int
		contains    string
	}{
		{`{"name":"staging"}`, "", http.StatusUnauthorized, "token"},
		{`{"name":"staging","from":"n9"}`, d.Token, http.StatusNotFound, "unknown node"},
		{`{"name":"Not A Name"}`, d.Token, http.StatusBadRequest, "fork name"},
		{`{"nom":"x"}`, d.Token, http.StatusBadRequest, "unknown field"},
	} {
		if code, out := forkRequest(t, d, "POST", "/api/v1/forks", c.token, c.body); code != c.status || !strings.Contains(out, c.contains) {
			t.Errorf("POST %s: %d %s, want %d with %q", c.body, code, out, c.status, c.contains)
		}
	}

	start := time.Now()
	code, out := forkRequest(t, d, "POST", "/api/v1/forks", d.Token, `{"name":"staging"}`)
	if code != http.StatusCreated {
		t.Fatalf("create fork: %d %s", code, out)
	}
	var f agentapi.ForkInfo
	if err := json.Unmarshal([]byte(out), &f); err != nil {
		t.Fatal(err)
	}
	t.Logf("synchronous standby %s; fork %s of %s: %s, writable in %.2f s (checkpoint %.2f, copy %.2f, start %.2f, promote %.2f) after replaying %d bytes of WAL, request %.2f s, timeline %d (cluster %d)",
		syncStandby, f.Name, f.Node, f.Method, f.ToWritableS, f.CheckpointS, f.CopyS, f.StartS, f.PromoteS, f.ReplayBytes, time.Since(start).Seconds(), f.Timeline, primaryTL)
	if f.ReplayBytes <= 0 {
		t.Errorf("replay_bytes %d: the agent did not report the WAL its snapshot fork replayed", f.ReplayBytes)
	}
	if f.Node == h.Leader {
		t.Errorf("forked the primary %s; the default source is a replica", f.Node)
	}
	if f.Node == syncStandby {
		t.Errorf("forked the synchronous standby %s; an asynchronous replica was there", f.Node)
	}
	if f.Method != "snapshot" {
		t.Errorf("method %s on a btrfs volume, want snapshot", f.Method)
	}
	if f.Timeline <= primaryTL {
		t.Errorf("fork timeline %d, want above the cluster's %d", f.Timeline, primaryTL)
	}
	if code, out := forkRequest(t, d, "POST", "/api/v1/forks", d.Token, `{"name":"staging"}`); code != http.StatusConflict {
		t.Errorf("second fork of the same name: %d %s", code, out)
	}

	if got := scalar(ctx, t, f.DSN, "SELECT string_agg(v, ',') FROM parcels"); got != "before" {
		t.Errorf("fork holds %q, want the row written before the fork", got)
	}
	scalar(ctx, t, f.DSN, "INSERT INTO parcels VALUES ('in fork') RETURNING v")
	scalar(ctx, t, d.DSN, "INSERT INTO parcels VALUES ('in cluster') RETURNING v")
	if got := scalar(ctx, t, d.DSN, "SELECT string_agg(v, ',' ORDER BY v) FROM parcels"); got != "before,in cluster" {
		t.Errorf("cluster holds %q: the fork's write leaked in, or the cluster's is missing", got)
	}
	if got := scalar(ctx, t, f.DSN, "SELECT string_agg(v, ',' ORDER BY v) FROM parcels"); got != "before,in fork" {
		t.Errorf("fork holds %q: the cluster's write leaked in, or the fork's is missing", got)
	}
	if got := scalar(ctx, t, f.DSN, "SELECT current_setting('cluster_name', true) || '|' || pg_is_in_recovery()::text"); strings.HasSuffix(got, "true") {
		t.Errorf("fork still in recovery: %s", got)
	}

	code, out = forkRequest(t, d, "GET", "/api/v1/forks", d.Token, "")
	if code != http.StatusOK || !strings.Contains(out, `"staging"`) {
		t.Errorf("list: %d %s", code, out)
	}
	time.Sleep(time.Second)
	rep := d.Observer.Report()
	if len(rep.Outages) != before || len(rep.Failovers) != 0 {
		t.Errorf("the cluster saw outages or failovers during the fork: %+v %+v", rep.Outages, rep.Failovers)
	}
	waitEvent(t, d, "fork recorded", func(e journal.Event) bool {
		return e.ID == "staging" && strings.Contains(e.Detail, "forked as staging")
	})

	if code, out := forkRequest(t, d, "DELETE", "/api/v1/forks/staging", d.Token, ""); code != http.StatusOK {
		t.Fatalf("destroy: %d %s", code, out)
	}
	if code, out := forkRequest(t, d, "DELETE", "/api/v1/forks/staging", d.Token, ""); code != http.StatusNotFound {
		t.Errorf("destroy twice: %d %s", code, out)
	}
	var addr string
	for _, n := range d.Rig.Nodes() {
		if n.Name == f.Node {
			addr = n.Address
		}
	}
	left, err := agentapi.NewClient(addr, cluster.AgentPort, d.clusterToken).Forks(ctx)
	if err != nil || len(left) != 0 {
		t.Errorf("forks left on %s: %+v %v", f.Node, left, err)
	}
}
