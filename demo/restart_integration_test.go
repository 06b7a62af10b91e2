package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redswitch/redswitch/headnodeapi"
	"github.com/redswitch/redswitch/journal"
	"github.com/redswitch/redswitch/rig"
	"github.com/redswitch/redswitch/rig/rigtest"
)

// headProcess is `redswitch demo` run as a separate process, so the test
// can SIGKILL it like a crash.
type headProcess struct {
	cmd *exec.Cmd
	url string
}

func startHeadProcess(t *testing.T, bin, dataDir string, ports [4]int) *headProcess {
	t.Helper()
	cmd := exec.Command(bin, "demo", "--data-dir", dataDir, "--listen", fmt.Sprintf("127.0.0.1:%d", ports[0]),
		"--primary-port", fmt.Sprint(ports[1]), "--replica-port", fmt.Sprint(ports[2]), "--stats-port", fmt.Sprint(ports[3]),
		"--operator-token", "restart-token", "--open=false")
	cmd.Env = append(os.Environ(), "TESTCONTAINERS_RYUK_DISABLED=true")
	var out bytes.Buffer
	cmd.Stdout = &out
	logf, err := os.Create(filepath.Join(dataDir, fmt.Sprintf("head-%d.log", time.Now().UnixNano())))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return &headProcess{cmd: cmd, url: fmt.Sprintf("http://127.0.0.1:%d", ports[0])}
}

func (p *headProcess) state(ctx context.Context) (headnodeapi.State, error) {
	var st headnodeapi.State
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.url+"/api/v1/state", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

func (p *headProcess) failovers(t *testing.T) []headnodeapi.Failover {
	t.Helper()
	resp, err := http.Get(p.url + "/api/v1/failovers")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Failovers []headnodeapi.Failover `json:"failovers"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return body.Failovers
}

func (p *headProcess) waitHealthy(t *testing.T, within time.Duration) headnodeapi.State {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for {
		st, err := p.state(ctx)
		if err == nil {
			h, err := CheckHealth(ctx, st)
			if err == nil && h.Healthy() && h.Powered == len(st.Nodes) {
				return st
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("head node at %s not healthy within %s (last error %v)", p.url, within, err)
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// journalLines reads the journal's complete records from every segment,
// oldest first (a line still being written is not yet a record), each
// re-encoded so records compare as strings across a crash.
func journalLines(t *testing.T, dir string) []string {
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
	return lines
}

// TestHeadNodeCrashAndRestart kills the head node with SIGKILL after a
// failover and starts it again on the same data dir: it adopts the running
// nodes instead of starting a second cluster, the journal keeps every
// complete record, and the failover list is intact.
func TestHeadNodeCrashAndRestart(t *testing.T) {
	requireRig(t)
	ctx := context.Background()
	bin := filepath.Join(t.TempDir(), "redswitch")
	build := exec.Command("go", "build", "-o", bin, "github.com/redswitch/redswitch/cmd/redswitch")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build redswitch: %v\n%s", err, out)
	}
	dataDir := t.TempDir()
	var ports [4]int
	if err := fillPorts(&ports[0], &ports[1], &ports[2], &ports[3]); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := rig.Docker(context.Background())
		if err == nil {
			_ = rig.Remove(context.Background(), c, map[string]string{rig.LabelDataDir: dataDir}, nil)
			c.Close()
		}
	})

	first := startHeadProcess(t, bin, dataDir, ports)
	defer first.cmd.Process.Kill()
	st := first.waitHealthy(t, 3*time.Minute)
	before := rigtest.Containers(t, rig.LabelDataDir, dataDir)
	if len(before) != 3 {
		t.Fatalf("%d containers before the crash, want 3", len(before))
	}
	req, _ := http.NewRequest(http.MethodPost, first.url+"/api/v1/nodes/"+st.Leader+"/power", strings.NewReader(`{"on":false}`))
	req.Header.Set("Authorization", "Bearer restart-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("power off %s: %v %v", st.Leader, resp, err)
	}
	resp.Body.Close()
	deadline := time.Now().Add(time.Minute)
	var fo []headnodeapi.Failover
	for len(fo) == 0 || fo[0].NewPrimary == "" {
		if time.Now().After(deadline) {
			t.Fatalf("no failover listed within a minute")
		}
		time.Sleep(500 * time.Millisecond)
		fo = first.failovers(t)
	}
	time.Sleep(1500 * time.Millisecond) // let some more acks reach the journal
	linesBefore := journalLines(t, filepath.Join(dataDir, "journal"))

	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.cmd.Wait()
	time.Sleep(500 * time.Millisecond)

	second := startHeadProcess(t, bin, dataDir, ports)
	defer func() {
		_ = second.cmd.Process.Signal(syscall.SIGINT)
		done := make(chan error, 1)
		go func() { done <- second.cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(90 * time.Second):
			_ = second.cmd.Process.Kill()
		}
		if left := rigtest.Containers(t, rig.LabelDataDir, dataDir); len(left) != 0 {
			t.Errorf("%d containers left after the restarted head node stopped", len(left))
		}
	}()
	// The powered-off old primary stays off; the other two must serve.
	ctx2, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		st2, err := second.state(ctx2)
		if err == nil && st2.Leader != "" && len(st2.Nodes) == 3 {
			break
		}
		if ctx2.Err() != nil {
			t.Fatalf("restarted head node shows no leader: %v", err)
		}
		time.Sleep(300 * time.Millisecond)
	}
	after := rigtest.Containers(t, rig.LabelDataDir, dataDir)
	if strings.Join(after, ",") != strings.Join(before, ",") {
		t.Errorf("containers changed across the restart:\nbefore %v\nafter  %v", before, after)
	}
	linesAfter := journalLines(t, filepath.Join(dataDir, "journal"))
	if len(linesAfter) < len(linesBefore) {
		t.Fatalf("journal shrank from %d to %d records", len(linesBefore), len(linesAfter))
	}
	for i := range linesBefore {
		if linesAfter[i] != linesBefore[i] {
			t.Fatalf("journal record %d changed across the crash:\n%s\n%s", i+1, linesBefore[i], linesAfter[i])
		}
	}
	deadline = time.Now().Add(10 * time.Second)
	var fo2 []headnodeapi.Failover
	for {
		fo2 = second.failovers(t)
		if len(fo2) > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if len(fo2) == 0 || fo2[0].StartedAt != fo[0].StartedAt || fo2[0].OldPrimary != fo[0].OldPrimary {
		t.Errorf("failover list after restart = %+v, want it to start with %+v", fo2, fo[0])
	}
}
