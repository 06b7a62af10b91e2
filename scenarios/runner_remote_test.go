package scenarios

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/headnodeapi"
	"github.com/redswitch/redswitch/journal"
)

// fakeHead is a head node's API with a settable state, recording the
// changing requests it gets.
type fakeHead struct {
	mu       sync.Mutex
	st       headnodeapi.State
	requests []string
}

func (f *fakeHead) handler(t *testing.T) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/state", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		_ = json.NewEncoder(w).Encode(f.st)
	})
	mux.HandleFunc("GET /api/v1/fault-kinds", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `[{"Kind":"power"},{"Kind":"freeze","Recoverable":true}]`)
	})
	changing := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer tok" {
				http.Error(w, `{"error":"operator token required"}`, http.StatusUnauthorized)
				return
			}
			body, _ := io.ReadAll(r.Body)
			f.mu.Lock()
			f.requests = append(f.requests, r.Method+" "+r.URL.Path+" "+strings.TrimSpace(string(body)))
			f.mu.Unlock()
			h(w, r)
		}
	}
	mux.HandleFunc("POST /api/v1/nodes/{name}/power", changing(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{}`)
	}))
	mux.HandleFunc("POST /api/v1/faults", changing(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"id":"freeze-1"}`)
	}))
	mux.HandleFunc("DELETE /api/v1/faults/{id}", changing(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{}`)
	}))
	return mux
}

func (f *fakeHead) set(leader string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.st.Leader = leader
}

func TestRemoteBackend(t *testing.T) {
	head := &fakeHead{st: headnodeapi.State{Leader: "n1", DSN: "postgres://postgres@127.0.0.1:1/postgres?connect_timeout=1", Nodes: []headnodeapi.NodeState{
		{Name: "n1", Power: "on", Role: cluster.RolePrimary, State: "running", Timeline: 1},
		{Name: "n2", Power: "on", Role: cluster.RoleReplica, State: "running", Timeline: 1},
		{Name: "n3", Power: "on", Role: cluster.RoleReplica, State: "running", Timeline: 1},
		{Name: "n4", Power: "on", Role: cluster.RoleReplica, State: "running", Timeline: 2},
	}}}
	srv := httptest.NewServer(head.handler(t))
	defer srv.Close()
	b := &RemoteBackend{URL: srv.URL, OperatorToken: "tok"}
	if !b.Supports(FaultFreeze) || b.Supports(FaultCorrupt) {
		t.Errorf("Supports: want freeze (listed) and not corrupt (not listed)")
	}
	ctx := context.Background()
	c, err := b.Start(ctx, &Scenario{Name: "remote"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetPower(ctx, "n1", false, "scenario"); err != nil {
		t.Fatal(err)
	}
	head.set("n2")
	id, err := c.Faults().Inject(ctx, FaultFreeze, "n3", FaultStep{})
	if err != nil || id != "freeze-1" {
		t.Fatalf("inject = %q, %v", id, err)
	}
	if err := c.Faults().Recover(ctx, id); err != nil {
		t.Fatal(err)
	}
	st, err := c.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// n2 leads now; n4 is on another timeline, so it cannot be streaming.
	if streaming, _ := c.Streaming(ctx, st); !slices.Equal(streaming, []string{"n3"}) {
		t.Errorf("streaming = %v, want [n3]", streaming)
	}
	if _, err := c.RewindCount(ctx, "n1"); err == nil {
		t.Errorf("RewindCount on a remote head node succeeded; want not available")
	}
	// Wait for the poller to see the new leader.
	deadline := time.Now().Add(5 * time.Second)
	for leaderAt(c.Events(), c.Now()) != "n2" && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if got := leaderAt(c.Events(), c.Now()); got != "n2" {
		t.Errorf("leader in the runner's history = %q, want n2", got)
	}
	if v := judgePowerCuts(c.Events(), time.Time{}, 1); !v.OK {
		t.Errorf("power cuts: %s", v.Detail)
	}
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`POST /api/v1/nodes/n1/power {"on":false}`,
		`POST /api/v1/faults {"kind":"freeze","target":"n3"}`,
		`DELETE /api/v1/faults/freeze-1 `,
		`POST /api/v1/nodes/n1/power {"on":true}`, // Close restores what the run cut
	}
	head.mu.Lock()
	got := slices.Clone(head.requests)
	head.mu.Unlock()
	for i := range got {
		got[i] = strings.TrimSpace(got[i])
	}
	for i := range want {
		want[i] = strings.TrimSpace(want[i])
	}
	if !slices.Equal(got, want) {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var kinds []journal.Kind
	for _, e := range c.Events() {
		kinds = append(kinds, e.Kind)
	}
	if !slices.Contains(kinds, journal.KindProbeError) && !slices.Contains(kinds, journal.KindMark) {
		t.Errorf("the runner's probe recorded nothing: %v", kinds)
	}
}

func TestRemoteBackendRefusals(t *testing.T) {
	head := &fakeHead{st: headnodeapi.State{Leader: "n1", DSN: "postgres://x@127.0.0.1:1/postgres"}}
	srv := httptest.NewServer(head.handler(t))
	defer srv.Close()
	ctx := context.Background()
	c, err := (&RemoteBackend{URL: srv.URL, OperatorToken: "wrong"}).Start(ctx, &Scenario{Name: "remote"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if err := c.SetPower(ctx, "n1", false, "scenario"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("power with a wrong token = %v, want a 401 error", err)
	}
	if _, err := (&RemoteBackend{URL: srv.URL + "/nothing-here"}).Start(ctx, &Scenario{}); err == nil {
		t.Errorf("start against a URL without the API succeeded")
	}
}

// TestRemoteRunCancelledRestores cancels a run against a head node while
// it sleeps with a replica cut and a fault injected: the run's teardown
// must still recover the fault and restore the power, or the booth stays
// broken for the next visitor.
func TestRemoteRunCancelledRestores(t *testing.T) {
	head := &fakeHead{st: headnodeapi.State{Leader: "n1", DSN: "postgres://postgres@127.0.0.1:1/postgres?connect_timeout=1", Nodes: []headnodeapi.NodeState{
		{Name: "n1", Power: "on", Role: cluster.RolePrimary, State: "running", Timeline: 1},
		{Name: "n2", Power: "on", Role: cluster.RoleReplica, State: "running", Timeline: 1},
		{Name: "n3", Power: "on", Role: cluster.RoleReplica, State: "running", Timeline: 1},
	}}}
	srv := httptest.NewServer(head.handler(t))
	defer srv.Close()
	sc, err := Parse("cancel-me.yaml", []byte(`name: cancel-me
description: cut a replica, freeze the primary, then wait for a cancel
cluster: {nodes: 3}
steps:
  - power: {off: replica}
  - fault: {inject: freeze, target: primary}
  - sleep: 1h
`))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan Result, 1)
	go func() {
		done <- RunScenario(ctx, sc, RunOptions{
			Backend: &RemoteBackend{URL: srv.URL, OperatorToken: "tok"},
			Progress: func(_, line string) {
				if strings.Contains(line, "sleep 1h") {
					cancel()
				}
			},
		})
	}()
	var res Result
	select {
	case res = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the cancelled run did not return")
	}
	if res.Passed() || res.Err == nil {
		t.Errorf("a cancelled run passed: %+v", res)
	}
	want := []string{
		`POST /api/v1/nodes/n2/power {"on":false}`,
		`POST /api/v1/faults {"kind":"freeze","target":"n1"}`,
		`DELETE /api/v1/faults/freeze-1`, // teardown recovers what the run left injected
		`POST /api/v1/nodes/n2/power {"on":true}`,
	}
	head.mu.Lock()
	got := slices.Clone(head.requests)
	head.mu.Unlock()
	for i := range got {
		got[i] = strings.TrimSpace(got[i])
	}
	if !slices.Equal(got, want) {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
