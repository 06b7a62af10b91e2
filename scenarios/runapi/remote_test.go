package runapi

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

	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/headnodeapi"
	"github.com/redswitch/redswitch/scenarios"
)

// fakeHead is the head node's own API as a run calls it back: state,
// fault kinds and power, recording the power requests.
type fakeHead struct {
	mu    sync.Mutex
	power []string
}

func (f *fakeHead) mount(mux *http.ServeMux) {
	st := headnodeapi.State{Leader: "n1", DSN: "postgres://postgres:postgres@127.0.0.1:1/postgres?connect_timeout=1", Nodes: []headnodeapi.NodeState{
		{Name: "n1", Power: "on", Role: cluster.RolePrimary, State: "running", Timeline: 1},
		{Name: "n2", Power: "on", Role: cluster.RoleReplica, State: "running", Timeline: 1},
		{Name: "n3", Power: "on", Role: cluster.RoleReplica, State: "running", Timeline: 1},
	}}
	mux.HandleFunc("GET /api/v1/state", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(st)
	})
	mux.HandleFunc("GET /api/v1/fault-kinds", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `[{"Kind":"power"}]`)
	})
	mux.Handle("POST /api/v1/nodes/{name}/power", guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.power = append(f.power, r.PathValue("name")+" "+strings.TrimSpace(string(body)))
		f.mu.Unlock()
		_, _ = io.WriteString(w, `{}`)
	})))
}

func (f *fakeHead) seen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.power)
}

// TestRemoteRunner plays real scenarios through Remote against a fake
// head node that also serves the run API: the runner finds the head node
// at the address the POST came in on, acts with the operator token, and a
// cancelled run still powers its node back on.
func TestRemoteRunner(t *testing.T) {
	lib := []*scenarios.Scenario{
		parse(t, "name: blink\ndescription: d\ncluster: {nodes: 3}\nsteps:\n  - power: {off: replica}\n  - sleep: 50ms\n  - power: {on: \"@last\"}\n"),
		parse(t, "name: stuck\ndescription: d\ncluster: {nodes: 3}\nsteps:\n  - power: {off: replica}\n  - sleep: 1h\n"),
	}
	svc, err := New(Options{Scenarios: lib, Shape: demoShape(t), Runner: Remote(RemoteOptions{Token: "tok"})})
	if err != nil {
		t.Fatal(err)
	}
	head := &fakeHead{}
	mux := http.NewServeMux()
	head.mount(mux)
	svc.Mount(mux, guard)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer svc.Close(context.Background())
	e := &env{svc: svc, srv: srv}

	var run Run
	if code := e.do(t, "POST", "/api/v1/scenarios/run", "tok", `{"name":"blink"}`, &run); code != http.StatusAccepted {
		t.Fatalf("POST: %d", code)
	}
	done := e.waitRun(t, run.ID, func(r Run) bool { return r.State != StateRunning })
	if done.State != StatePassed {
		t.Fatalf("blink ended %s: %s\n%+v", done.State, done.Error, done.Progress)
	}
	var texts []string
	for _, l := range done.Progress {
		texts = append(texts, l.Text)
	}
	if !slices.ContainsFunc(texts, func(s string) bool { return strings.Contains(s, "line 5: power off replica") }) ||
		!strings.Contains(texts[0], srv.URL) {
		t.Errorf("progress = %q", texts)
	}
	if got, want := head.seen(), []string{`n2 {"on":false}`, `n2 {"on":true}`}; !slices.Equal(got, want) {
		t.Errorf("power requests = %q, want %q", got, want)
	}

	if code := e.do(t, "POST", "/api/v1/scenarios/run", "tok", `{"name":"stuck"}`, &run); code != http.StatusAccepted {
		t.Fatalf("POST: %d", code)
	}
	e.waitRun(t, run.ID, func(r Run) bool {
		return slices.ContainsFunc(r.Progress, func(l Line) bool { return strings.Contains(l.Text, "sleep 1h") })
	})
	if code := e.do(t, "DELETE", "/api/v1/scenarios/runs/"+run.ID, "tok", "", nil); code != http.StatusAccepted {
		t.Fatalf("DELETE: %d", code)
	}
	done = e.waitRun(t, run.ID, func(r Run) bool { return r.State != StateRunning })
	if done.State != StateError || !done.Cancelled {
		t.Errorf("cancelled run = %s (cancelled %t): %s", done.State, done.Cancelled, done.Error)
	}
	if got, want := head.seen()[2:], []string{`n2 {"on":false}`, `n2 {"on":true}`}; !slices.Equal(got, want) {
		t.Errorf("power requests of the cancelled run = %q, want %q: the teardown must restore power", got, want)
	}
}
