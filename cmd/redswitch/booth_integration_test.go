package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/redswitch/redswitch/booth"
	"github.com/redswitch/redswitch/boothcheck"
	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/credentials"
	"github.com/redswitch/redswitch/demo"
	"github.com/redswitch/redswitch/headnodeapi"
	"github.com/redswitch/redswitch/journal"
	"github.com/redswitch/redswitch/prereq"
	"github.com/redswitch/redswitch/probe"
	"github.com/redswitch/redswitch/rig"
	"github.com/redswitch/redswitch/rig/rigtest"
)

// shippedBooth is the booth configuration we ship; the end-to-end test
// starts from it so the example cannot rot.
const shippedBooth = "../../deploy/booth/booth.yaml"

const boothOperatorToken = "booth-e2e-operator-token"

// TestBoothEndToEnd runs the booth path as `make booth` does: node
// containers running only the agent, `redswitch booth up` deriving the
// head node's configuration from the shipped booth.yaml, and `redswitch
// headnode --config` as a process of its own. It checks the probe commits
// at its rate, a virtual switch cuts the primary and the failover is
// measured, a library scenario and a fault run through the API, the head
// node survives SIGKILL without losing its journal or an acknowledged
// commit, and the container power driver really kills a node.
func TestBoothEndToEnd(t *testing.T) {
	requireBoothRig(t)
	ctx := context.Background()
	bin := buildRedswitch(t)
	dir := t.TempDir()
	ports := map[string]int{}
	for _, f := range []string{"api", "primary", "replicas", "stats", "etcd_client", "etcd_peer"} {
		ports[f] = freePort(t)
	}
	// The head node's listeners on the node network's gateway: a
	// container on that network is then a laptop on the booth LAN.
	args := []string{"booth", "up", "--from", shippedBooth, "--dir", dir, "--host", "gateway"}
	for f, p := range ports {
		args = append(args, "--"+flagName(f)+"-port", fmt.Sprint(p))
	}
	t.Cleanup(func() {
		out, err := exec.Command(bin, "booth", "down", "--dir", dir).CombinedOutput()
		if err != nil {
			t.Errorf("booth down: %v\n%s", err, out)
		}
		if left := rigtest.Containers(t, rig.LabelDataDir, dir); len(left) != 0 {
			t.Errorf("booth down left %d containers", len(left))
		}
	})
	if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		t.Fatalf("booth up: %v\n%s", err, out)
	}
	conf := filepath.Join(dir, "booth.yaml")
	cfg, err := booth.Load(conf)
	if err != nil {
		t.Fatalf("derived configuration: %v", err)
	}
	if cfg.Power != booth.PowerAgent || cfg.GPIO.Backend != "virtual" {
		t.Fatalf("derived configuration: power %s, gpio %s; want agent and virtual", cfg.Power, cfg.GPIO.Backend)
	}
	token, err := os.ReadFile(filepath.Join(dir, "cluster-token"))
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"REDSWITCH_CLUSTER_TOKEN=" + strings.TrimSpace(string(token)),
		"REDSWITCH_OPERATOR_TOKEN=" + boothOperatorToken}
	headHost, _, err := net.SplitHostPort(cfg.Listen.API)
	if err != nil {
		t.Fatal(err)
	}
	secrets, err := credentials.Ensure(filepath.Join(cfg.DataDir, "secrets"), nil)
	if err != nil {
		t.Fatal(err)
	}
	api := &headnodeapi.Client{BaseURL: fmt.Sprintf("http://%s:%d", headHost, ports["api"]), Token: boothOperatorToken,
		HTTP: &http.Client{Timeout: 10 * time.Second}}

	top := t
	head := startBoothHead(t, top, bin, conf, env, dir)
	st := waitBoothHealthy(t, api, 3*time.Minute)
	containers := rigtest.Containers(t, rig.LabelDataDir, dir)
	if len(containers) != len(cfg.Nodes) {
		t.Fatalf("%d node containers, want %d", len(containers), len(cfg.Nodes))
	}

	t.Run("probe commits at its rate", func(t *testing.T) {
		rate := probeRate(t, api, 3*time.Second)
		t.Logf("probe: %.1f commits/s through HAProxy on %s:%d", rate, headHost, ports["primary"])
		// 10 ms interval: 100/s; half of it still shows the probe is
		// writing through HAProxy and not stuck in retries.
		if rate < 50 {
			t.Fatalf("probe rate %.1f commits/s, want at least 50", rate)
		}
	})

	t.Run("switch flip fails over", func(t *testing.T) {
		sw := switchOf(t, api, st.Leader)
		before := len(failovers(t, api))
		if err := api.SetSwitch(ctx, sw, false); err != nil {
			t.Fatal(err)
		}
		fo := waitFailover(t, api, before, time.Minute)
		t.Logf("failover %s → %s in %.2f s, %d lost, cause %q, phases %v", fo.OldPrimary, fo.NewPrimary, fo.DurationS, fo.LostCommits, fo.Cause, fo.Phases)
		if fo.OldPrimary != st.Leader || fo.NewPrimary == "" || fo.NewPrimary == st.Leader {
			t.Errorf("failover %s → %s, want away from %s", fo.OldPrimary, fo.NewPrimary, st.Leader)
		}
		if !strings.Contains(fo.Cause, fmt.Sprintf("switch %d", sw)) {
			t.Errorf("cause %q does not name switch %d", fo.Cause, sw)
		}
		if fo.LostCommits != 0 {
			t.Errorf("%d acknowledged commits lost", fo.LostCommits)
		}
		if fo.DurationS <= 0 || fo.DurationS > 30 {
			t.Errorf("failover took %.2f s", fo.DurationS)
		}
		have := map[string]bool{}
		for _, p := range fo.Phases {
			have[p.Name] = true
		}
		for _, p := range []string{"leader_expired", "new_leader", "writable", "first_commit"} {
			if !have[p] {
				t.Errorf("phase %s missing from %v", p, fo.Phases)
			}
		}
		// The head node polls the nodes' PostgreSQL directly, so the rig's
		// own share of the failover is measured.
		if fo.RigShareS == nil || *fo.RigShareS > 1 {
			t.Errorf("rig_share_s %v, want a measured share under 1 s", fo.RigShareS)
		}
		if err := api.SetSwitch(ctx, sw, true); err != nil {
			t.Fatal(err)
		}
		waitBoothHealthy(t, api, 2*time.Minute)
	})

	t.Run("scenario run primary-power-cut", func(t *testing.T) {
		var run boothRun
		if err := api.Do(ctx, http.MethodPost, "/api/v1/scenarios/run", map[string]string{"name": "primary-power-cut"}, &run); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(4 * time.Minute)
		for run.State == "running" && time.Now().Before(deadline) {
			time.Sleep(time.Second)
			if err := api.Do(ctx, http.MethodGet, "/api/v1/scenarios/runs/"+run.ID, nil, &run); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("scenario %s: %s, measurements %v", run.Name, run.State, run.Result.Measurements)
		if run.State != "passed" || !run.Result.Passed {
			b, _ := json.MarshalIndent(run, "", "  ")
			t.Fatalf("scenario run did not pass:\n%s", b)
		}
		waitBoothHealthy(t, api, 2*time.Minute)
	})

	t.Run("fault inject and recover", func(t *testing.T) {
		var f faultJSON
		if err := api.Do(ctx, http.MethodPost, "/api/v1/faults", map[string]string{"kind": "partition", "target": "replica"}, &f); err != nil {
			t.Fatal(err)
		}
		if f.ID == "" || f.State != "active" || f.Node == "" {
			t.Fatalf("injected fault = %+v", f)
		}
		// Cut off from everyone, the replica fails HAProxy's checks.
		waitRouted(t, api, f.Node, "replicas", false, 30*time.Second)
		var got []faultJSON
		if err := api.Do(ctx, http.MethodGet, "/api/v1/faults", nil, &got); err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].ID != f.ID {
			t.Fatalf("active faults = %+v, want %s", got, f.ID)
		}
		var rec faultJSON
		if err := api.Do(ctx, http.MethodDelete, "/api/v1/faults/"+f.ID, nil, &rec); err != nil {
			t.Fatal(err)
		}
		if rec.State != "recovered" {
			t.Fatalf("recovered fault = %+v", rec)
		}
		err := api.Do(ctx, http.MethodDelete, "/api/v1/faults/"+f.ID, nil, nil)
		var se *headnodeapi.StatusError
		if !errors.As(err, &se) || se.Code != http.StatusConflict {
			t.Errorf("second recovery answered %v, want 409", err)
		}
		waitRouted(t, api, f.Node, "replicas", true, 30*time.Second)
		waitBoothHealthy(t, api, 2*time.Minute)
	})

	t.Run("head node SIGKILL and restart", func(t *testing.T) {
		fo := failovers(t, api)
		time.Sleep(time.Second) // more acknowledgements into the journal
		path := filepath.Join(cfg.DataDir, "journal")
		_, before := journalRecords(t, path)
		if err := head.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = head.Wait()
		head = startBoothHead(t, top, bin, conf, env, dir)
		waitBoothHealthy(t, api, 2*time.Minute)
		if after := rigtest.Containers(t, rig.LabelDataDir, dir); strings.Join(after, ",") != strings.Join(containers, ",") {
			t.Errorf("node containers changed across the restart: %v, were %v", after, containers)
		}
		if rate := probeRate(t, api, 2*time.Second); rate < 50 {
			t.Errorf("probe rate after the restart %.1f commits/s", rate)
		}
		events, after := journalRecords(t, path)
		if len(after) < len(before) {
			t.Fatalf("journal shrank from %d to %d records", len(before), len(after))
		}
		for i := range before {
			if after[i] != before[i] {
				t.Fatalf("journal record %d changed across the crash:\n%s\n%s", i+1, before[i], after[i])
			}
		}
		fo2 := failovers(t, api)
		if len(fo2) < len(fo) || len(fo) == 0 || fo2[0].StartedAt != fo[0].StartedAt {
			t.Errorf("failovers after the restart %d (first %+v), before %d", len(fo2), fo2, len(fo))
		}
		acked := probe.AckedRanges(events)
		var n uint64
		for _, r := range acked {
			n += r.Last - r.First + 1
		}
		dsn := (&url.URL{Scheme: "postgres", User: url.UserPassword(credentials.SuperuserName, secrets.Superuser),
			Host: net.JoinHostPort(headHost, strconv.Itoa(ports["primary"])), Path: "/postgres"}).String()
		rctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		missing, err := probe.ReadBack(rctx, dsn, probe.DefaultTable, acked)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("journal: %d records before the kill kept; %d acknowledged commits in it, %d missing from the primary", len(before), n, len(missing))
		if n == 0 || len(missing) != 0 {
			t.Errorf("%d acknowledged commits journaled, missing from the database: %v", n, missing)
		}
	})

	t.Run("container power is SIGKILL", func(t *testing.T) {
		stopBoothHead(t, head)
		src, err := os.ReadFile(shippedBooth)
		if err != nil {
			t.Fatal(err)
		}
		var st boothState
		b, err := os.ReadFile(filepath.Join(dir, "rig.json"))
		if err == nil {
			err = json.Unmarshal(b, &st)
		}
		if err != nil {
			t.Fatal(err)
		}
		reh := booth.Rehearsal{Power: booth.PowerContainer, Host: headHost, Ports: ports, DataDir: cfg.DataDir}
		etcdHost, _, _ := net.SplitHostPort(cfg.Listen.EtcdClient)
		reh.EtcdHost = etcdHost
		for _, n := range cfg.Nodes {
			reh.Nodes = append(reh.Nodes, booth.RehearsalNode{Address: n.Address, Agent: n.Agent, Container: st.RigID + "-" + n.Name})
		}
		out, err := booth.Rehearse(shippedBooth, src, reh)
		if err != nil {
			t.Fatal(err)
		}
		conf2 := filepath.Join(dir, "booth-container.yaml")
		if err := os.WriteFile(conf2, out, 0o600); err != nil {
			t.Fatal(err)
		}
		head = startBoothHead(t, top, bin, conf2, env, dir)
		st2 := waitBoothHealthy(t, api, 2*time.Minute)
		var replica string
		for _, n := range st2.Nodes {
			if n.Name != st2.Leader {
				replica = n.Name
				break
			}
		}
		if err := api.SetPower(ctx, replica, false); err != nil {
			t.Fatal(err)
		}
		if running := rigtest.Running(t, st.RigID+"-"+replica); running {
			t.Errorf("container of %s still running after its power was cut", replica)
		}
		if err := api.SetPower(ctx, replica, true); err != nil {
			t.Fatal(err)
		}
		if !rigtest.Running(t, st.RigID+"-"+replica) {
			t.Errorf("container of %s not running after power on", replica)
		}
		waitBoothHealthy(t, api, 2*time.Minute)
	})

	t.Run("a second rehearsal in the same directory", func(t *testing.T) {
		// New nodes, the old head node's data cleared: the nodes must not
		// find the earlier cluster in etcd and wait for its leader.
		stopBoothHead(t, head)
		if out, err := exec.Command(bin, "booth", "down", "--dir", dir).CombinedOutput(); err != nil {
			t.Fatalf("booth down: %v\n%s", err, out)
		}
		if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
			t.Fatalf("booth up again: %v\n%s", err, out)
		}
		cfg, err = booth.Load(conf)
		if err != nil {
			t.Fatal(err)
		}
		// A new network, maybe a new gateway; new secrets too.
		if headHost, _, err = net.SplitHostPort(cfg.Listen.API); err != nil {
			t.Fatal(err)
		}
		api.BaseURL = fmt.Sprintf("http://%s:%d", headHost, ports["api"])
		if secrets, err = credentials.Ensure(filepath.Join(cfg.DataDir, "secrets"), nil); err != nil {
			t.Fatal(err)
		}
		token, err := os.ReadFile(filepath.Join(dir, "cluster-token"))
		if err != nil {
			t.Fatal(err)
		}
		env[0] = "REDSWITCH_CLUSTER_TOKEN=" + strings.TrimSpace(string(token))
		head = startBoothHead(t, top, bin, conf, env, dir)
		waitBoothHealthy(t, api, 3*time.Minute)
		if fo := failovers(t, api); len(fo) != 0 {
			t.Errorf("a new rehearsal starts with %d failovers of the old one", len(fo))
		}
	})

	t.Run("an outsider on the booth LAN gets nothing but the public API", func(t *testing.T) {
		src, err := os.ReadFile(conf)
		if err != nil {
			t.Fatal(err)
		}
		results, exit := outsiderCheck(t, cfg, src, headHost)
		byTarget := map[string]boothcheck.ResultJSON{}
		for _, r := range results {
			byTarget[r.Target] = r
			if r.Public && r.Outcome != boothcheck.Open {
				t.Errorf("%s (%s) is public but %s: %s", r.Target, r.Addr, r.Outcome, r.Detail)
			}
			if !r.Public && r.Outcome != boothcheck.Refused && r.Outcome != boothcheck.Unreachable {
				t.Errorf("%s (%s): %s (%s), want refused or unreachable", r.Target, r.Addr, r.Outcome, r.Detail)
			}
		}
		// Each kind of door was tried and refused, not merely missed.
		for _, target := range []string{"head node API without token", "etcd", "HAProxy primary", "HAProxy replicas",
			"n1 Patroni REST", "n2 PostgreSQL", "n1 agent"} {
			if got := byTarget[target].Outcome; got != boothcheck.Refused {
				t.Errorf("%s: %s (%s), want refused", target, got, byTarget[target].Detail)
			}
		}
		if exit != 0 {
			t.Errorf("booth check exited %d on a closed booth", exit)
		}
	})

	t.Run("with the booth's credentials each door opens", func(t *testing.T) {
		insiderChecks(t, cfg, secrets)
	})
	stopBoothHead(t, head)
}

// outsiderCheck runs `redswitch booth check --json` in a container of the
// node image on the booth's node network, not on the head node: the
// laptop of a visitor on the booth LAN. It returns the results and the
// command's exit code.
func outsiderCheck(t *testing.T, cfg *booth.Config, conf []byte, headHost string) ([]boothcheck.ResultJSON, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cli, err := rig.Docker(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	var st boothState
	b, err := os.ReadFile(filepath.Join(filepath.Dir(cfg.DataDir), "rig.json"))
	if err == nil {
		err = json.Unmarshal(b, &st)
	}
	if err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code, err := rig.RunOutsider(ctx, cli, rig.Outsider{Rig: st.RigID, Image: demo.DefaultImage,
		Cmd:   []string{"/usr/local/bin/redswitch", "booth", "check", "--json", "--config", "/tmp/booth.yaml", "--head", headHost},
		Files: map[string][]byte{"/tmp/booth.yaml": conf}})
	if err != nil {
		t.Fatal(err)
	}
	var results []boothcheck.ResultJSON
	if err := json.Unmarshal([]byte(stdout), &results); err != nil || len(results) == 0 {
		t.Fatalf("booth check in the outsider container: %v (exit %d)\n%s\n%s", err, code, stdout, stderr)
	}
	for _, r := range results {
		t.Logf("outsider: %-28s %-22s %-11s %s", r.Target, r.Addr, r.Outcome, r.Detail)
	}
	return results, code
}

// insiderChecks shows each door the outsider found shut opens with the
// booth's own credentials: the superuser on a node's PostgreSQL, Patroni's
// REST login, and etcd's root over TLS.
func insiderChecks(t *testing.T, cfg *booth.Config, secrets credentials.Booth) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n := cfg.Nodes[1]
	dsn := (&url.URL{Scheme: "postgres", User: url.UserPassword(credentials.SuperuserName, secrets.Superuser),
		Host: net.JoinHostPort(n.Address, strconv.Itoa(cluster.PostgresPort)), Path: "/postgres"}).String()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Errorf("superuser login on %s with the booth's password: %v", n.Name, err)
	} else {
		conn.Close(ctx)
	}
	for _, auth := range []bool{false, true} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost,
			fmt.Sprintf("http://%s:%d/restart", n.Address, cluster.PatroniPort), strings.NewReader(`{"schedule": "not a time"}`))
		if auth {
			req.SetBasicAuth(credentials.RESTUser, secrets.REST)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		// Past the login Patroni rejects the schedule: 400 or 422.
		if opened := resp.StatusCode != http.StatusUnauthorized; opened != auth {
			t.Errorf("Patroni POST /restart (login %v): %d", auth, resp.StatusCode)
		}
	}
}

// boothRun is the part of a scenario run's JSON the test reads.
type boothRun struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	State  string `json:"state"`
	Error  string `json:"error"`
	Result struct {
		Passed       bool               `json:"passed"`
		Measurements map[string]float64 `json:"measurements"`
	} `json:"result"`
}

// faultJSON is the part of a fault's JSON the test reads.
type faultJSON struct {
	ID    string `json:"id"`
	Node  string `json:"node"`
	State string `json:"state"`
}

func requireBoothRig(t *testing.T) {
	t.Helper()
	rigtest.Require(t, demo.DefaultImage)
	t.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
	if _, err := exec.LookPath("haproxy"); err != nil {
		prereq.Missing(t, "needs haproxy (scripts/install-deps.sh installs it): %v", err)
	}
}

func buildRedswitch(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "redswitch")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build redswitch: %v\n%s", err, out)
	}
	return bin
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startBoothHead runs `redswitch headnode --config conf` as its own
// process, so the test can kill it like a crash; its log goes to dir.
// The process outlives the (sub)test t that starts it: owner, the whole
// test, ends it and shows its log if owner failed.
func startBoothHead(t, owner testing.TB, bin, conf string, env []string, dir string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "headnode", "--config", conf)
	cmd.Env = append(os.Environ(), env...)
	logf, err := os.Create(filepath.Join(dir, fmt.Sprintf("headnode-%d.log", time.Now().UnixNano())))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	owner.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		logf.Close()
		if owner.Failed() {
			b, _ := os.ReadFile(logf.Name())
			if len(b) > 6000 {
				b = b[len(b)-6000:]
			}
			owner.Logf("head node log %s (tail):\n%s", logf.Name(), b)
		}
	})
	return cmd
}

// stopBoothHead stops the head node as Ctrl-C does and wants a clean exit.
func stopBoothHead(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if cmd.ProcessState != nil {
		return
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("head node exited with %v after Ctrl-C", err)
		}
	case <-time.After(90 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Errorf("head node still running 90 s after Ctrl-C")
	}
}

// waitBoothHealthy waits for a leader, every node powered and running,
// and the replicas streaming.
func waitBoothHealthy(t *testing.T, api *headnodeapi.Client, within time.Duration) headnodeapi.State {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	var last error
	for {
		st, err := api.State(ctx)
		if err == nil {
			var h demo.Health
			h, err = demo.CheckHealth(ctx, st)
			if err == nil && h.Healthy() && h.Powered == len(st.Nodes) {
				return st
			}
			if err == nil {
				err = fmt.Errorf("not yet healthy: %+v", h)
			}
		}
		last = err
		select {
		case <-ctx.Done():
			t.Fatalf("booth not healthy within %s: %v", within, last)
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// probeRate is the probe's acknowledged commits per second over window.
func probeRate(t *testing.T, api *headnodeapi.Client, window time.Duration) float64 {
	t.Helper()
	type stats struct {
		Acks uint64 `json:"acks"`
	}
	ctx := context.Background()
	var a, b stats
	if err := api.Do(ctx, http.MethodGet, "/api/v1/probe", nil, &a); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	time.Sleep(window)
	if err := api.Do(ctx, http.MethodGet, "/api/v1/probe", nil, &b); err != nil {
		t.Fatal(err)
	}
	if b.Acks < a.Acks {
		t.Fatalf("probe acks went back from %d to %d", a.Acks, b.Acks)
	}
	return float64(b.Acks-a.Acks) / time.Since(start).Seconds()
}

// waitRouted waits until HAProxy routes (or no longer routes) listener
// to node.
func waitRouted(t *testing.T, api *headnodeapi.Client, node, listener string, want bool, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		st, err := api.State(context.Background())
		if err == nil {
			for _, n := range st.Nodes {
				if n.Name == node && slices.Contains(n.Routed, listener) == want {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("HAProxy's %s routing to %s is not %v within %s (%v)", listener, node, want, within, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func switchOf(t *testing.T, api *headnodeapi.Client, node string) int {
	t.Helper()
	sws, err := api.Switches(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sws {
		if s.Node == node {
			if !s.On || !s.Known {
				t.Fatalf("switch %d of %s: on %v known %v", s.ID, node, s.On, s.Known)
			}
			return s.ID
		}
	}
	t.Fatalf("no switch for %s in %+v", node, sws)
	return 0
}

func failovers(t *testing.T, api *headnodeapi.Client) []headnodeapi.Failover {
	t.Helper()
	fo, err := api.Failovers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return fo
}

// waitFailover waits for failover number n+1 to end (first commit on
// the new primary) and returns it.
func waitFailover(t *testing.T, api *headnodeapi.Client, n int, within time.Duration) headnodeapi.Failover {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		fo := failovers(t, api)
		if len(fo) > n && fo[n].NewPrimary != "" && fo[n].DurationS > 0 {
			return fo[n]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no failover measured within %s: %+v", within, fo)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// journalRecords reads the journal's complete records from every segment,
// oldest first (a line still being written is not yet a record), each
// also re-encoded so records compare as strings across a crash.
func journalRecords(t *testing.T, dir string) ([]journal.Event, []string) {
	t.Helper()
	events, err := journal.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	lines := make([]string, len(events))
	for i, e := range events {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		lines[i] = string(b)
	}
	return events, lines
}
