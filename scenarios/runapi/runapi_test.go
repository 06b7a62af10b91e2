package runapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redswitch/redswitch/scenarios"
)

// fakeRunner plays a job until the test releases it with a result or the
// run's context is cancelled, like scenarios.RunScenario: on a cancel it
// reports its teardown before it returns.
type fakeRunner struct {
	started chan Job
	release chan scenarios.Result
	mu      sync.Mutex
	torn    []string // scenarios whose teardown ran after a cancel
}

func newFakeRunner() *fakeRunner {
	return &fakeRunner{started: make(chan Job, 16), release: make(chan scenarios.Result)}
}

func (f *fakeRunner) run(ctx context.Context, job Job) scenarios.Result {
	job.Progress("starting a cluster (fake)")
	job.Progress("line 1: wait streaming")
	f.started <- job
	select {
	case res := <-f.release:
		res.Scenario = job.Scenario
		return res
	case <-ctx.Done():
		job.Progress("teardown: power restored")
		f.mu.Lock()
		f.torn = append(f.torn, job.Scenario.Name)
		f.mu.Unlock()
		return scenarios.Result{Scenario: job.Scenario, Err: fmt.Errorf("interrupted before line 2: %w", ctx.Err())}
	}
}

func (f *fakeRunner) waitStarted(t *testing.T) Job {
	t.Helper()
	select {
	case j := <-f.started:
		return j
	case <-time.After(5 * time.Second):
		t.Fatal("the runner was not started")
	}
	return Job{}
}

// guard lets through only "Bearer tok", as the head node's operator
// check does.
func guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"error":"operator token required"}`)
			return
		}
		next.ServeHTTP(w, r)
	})
}

const testLibrary = `name: quick-cut
description: cut the primary
cluster: {nodes: 3}
steps:
  - wait: streaming
  - power: {off: primary}
---
name: two-node
description: needs two nodes
cluster: {nodes: 2}
steps:
  - wait: streaming
`

type env struct {
	svc    *Service
	runner *fakeRunner
	srv    *httptest.Server
}

func newEnv(t *testing.T, keep int) *env {
	t.Helper()
	var scs []*scenarios.Scenario
	for i, doc := range strings.Split(testLibrary, "---\n") {
		sc, err := scenarios.Parse(fmt.Sprintf("lib%d.yaml", i), []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		scs = append(scs, sc)
	}
	fr := newFakeRunner()
	svc, err := New(Options{Scenarios: scs, Shape: demoShape(t), Runner: fr.run, Keep: keep})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	svc.Mount(mux, guard)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := svc.Close(ctx); err != nil {
			t.Error(err)
		}
		srv.Close()
	})
	return &env{svc: svc, runner: fr, srv: srv}
}

// do makes one request and decodes a JSON answer into out (when not nil).
func (e *env) do(t *testing.T, method, path, token, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode
}

// waitRun polls a run until cond holds.
func (e *env) waitRun(t *testing.T, id string, cond func(Run) bool) Run {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var r Run
		if code := e.do(t, "GET", "/api/v1/scenarios/runs/"+id, "", "", &r); code != http.StatusOK {
			t.Fatalf("GET run %s: %d", id, code)
		}
		if cond(r) {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s never got there: %+v", id, r)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestListScenarios(t *testing.T) {
	e := newEnv(t, 0)
	var list []ScenarioInfo
	if code := e.do(t, "GET", "/api/v1/scenarios", "", "", &list); code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	if len(list) != 2 {
		t.Fatalf("got %d scenarios: %+v", len(list), list)
	}
	if l := list[0]; l.Name != "quick-cut" || !l.Runnable || len(l.Unmet) != 0 || l.Description != "cut the primary" || l.Nodes != 3 || l.Steps != 2 {
		t.Errorf("quick-cut = %+v", l)
	}
	if l := list[1]; l.Name != "two-node" || l.Runnable || len(l.Unmet) != 1 || !strings.Contains(l.Unmet[0], "needs 2 nodes") {
		t.Errorf("two-node = %+v", l)
	}
}

func TestRunLifecycle(t *testing.T) {
	e := newEnv(t, 0)
	var run Run
	if code := e.do(t, "POST", "/api/v1/scenarios/run", "tok", `{"name": "quick-cut"}`, &run); code != http.StatusAccepted {
		t.Fatalf("POST: %d %+v", code, run)
	}
	if run.ID == "" || run.Name != "quick-cut" || run.State != StateRunning || run.StartedAt.IsZero() {
		t.Fatalf("started run = %+v", run)
	}
	job := e.runner.waitStarted(t)
	// The runner is told where to reach the head node: the address the
	// request came in on.
	if job.Self != e.srv.URL {
		t.Errorf("Job.Self = %q, want %q", job.Self, e.srv.URL)
	}
	got := e.waitRun(t, run.ID, func(r Run) bool { return len(r.Progress) == 2 })
	if got.State != StateRunning || got.Progress[1].Text != "line 1: wait streaming" || got.Progress[1].At.IsZero() {
		t.Errorf("running run = %+v", got)
	}

	// One at a time: the second request is refused and told which run
	// is in the way.
	var busy errorBody
	if code := e.do(t, "POST", "/api/v1/scenarios/run", "tok", `{"name": "quick-cut"}`, &busy); code != http.StatusConflict {
		t.Fatalf("second POST: %d %+v", code, busy)
	}
	if !strings.Contains(busy.Error, "quick-cut") || !strings.Contains(busy.Error, run.ID) || busy.Run == nil || busy.Run.ID != run.ID {
		t.Errorf("busy answer = %+v", busy)
	}

	e.runner.release <- scenarios.Result{
		Steps:        []scenarios.StepResult{{Line: 5, Text: "wait streaming", OK: true}, {Line: 6, Text: "power off primary", OK: true, Detail: "power off n1"}},
		Measurements: map[string]float64{"failover_s": 5.25, "lost_commits": 0},
		Duration:     12 * time.Second,
	}
	done := e.waitRun(t, run.ID, func(r Run) bool { return r.State != StateRunning })
	if done.State != StatePassed || done.EndedAt.IsZero() || done.Error != "" || done.Cancelled {
		t.Errorf("finished run = %+v", done)
	}
	// The result is in the JSON report's form.
	var raw struct {
		Result struct {
			Name         string             `json:"name"`
			Passed       bool               `json:"passed"`
			Duration     float64            `json:"duration_seconds"`
			Measurements map[string]float64 `json:"measurements"`
			Steps        []struct {
				Line   int    `json:"line"`
				OK     bool   `json:"ok"`
				Detail string `json:"detail"`
			} `json:"steps"`
		} `json:"result"`
	}
	e.do(t, "GET", "/api/v1/scenarios/runs/"+run.ID, "", "", &raw)
	r := raw.Result
	if r.Name != "quick-cut" || !r.Passed || r.Duration != 12 || r.Measurements["failover_s"] != 5.25 || len(r.Steps) != 2 || r.Steps[1].Detail != "power off n1" {
		t.Errorf("result JSON = %+v", r)
	}

	// Free again: a new run starts, and the list shows both, newest first.
	var second Run
	if code := e.do(t, "POST", "/api/v1/scenarios/run", "tok", `{"name":"quick-cut"}`, &second); code != http.StatusAccepted {
		t.Fatalf("POST after the first ended: %d", code)
	}
	e.runner.waitStarted(t)
	e.runner.release <- scenarios.Result{Steps: []scenarios.StepResult{{Line: 5, OK: false, Detail: "no failover"}}}
	e.waitRun(t, second.ID, func(r Run) bool { return r.State == StateFailed })
	var list []Run
	e.do(t, "GET", "/api/v1/scenarios/runs", "", "", &list)
	if len(list) != 2 || list[0].ID != second.ID || list[1].ID != run.ID || list[0].State != StateFailed {
		t.Errorf("runs = %+v", list)
	}
}

func TestRunRefusals(t *testing.T) {
	e := newEnv(t, 0)
	tests := []struct {
		name, method, path, token, body string
		status                          int
		err                             string
	}{
		{"no token", "POST", "/api/v1/scenarios/run", "", `{"name":"quick-cut"}`, 401, "operator token"},
		{"wrong token", "POST", "/api/v1/scenarios/run", "nope", `{"name":"quick-cut"}`, 401, "operator token"},
		{"bad JSON", "POST", "/api/v1/scenarios/run", "tok", `{"name":`, 400, "want {\"name\""},
		{"unknown field", "POST", "/api/v1/scenarios/run", "tok", `{"name":"quick-cut","nodes":2}`, 400, `unknown field "nodes"`},
		{"trailing data", "POST", "/api/v1/scenarios/run", "tok", `{"name":"quick-cut"} {}`, 400, "trailing data"},
		{"no name", "POST", "/api/v1/scenarios/run", "tok", `{}`, 400, `"name" is required`},
		{"unknown scenario", "POST", "/api/v1/scenarios/run", "tok", `{"name":"no-such-thing"}`, 404, `unknown scenario "no-such-thing"`},
		{"wrong shape", "POST", "/api/v1/scenarios/run", "tok", `{"name":"two-node"}`, 422, "needs 2 nodes; this cluster has 3"},
		{"unknown run", "GET", "/api/v1/scenarios/runs/run-00000000", "", ``, 404, `unknown run "run-00000000"`},
		{"cancel without token", "DELETE", "/api/v1/scenarios/runs/run-00000000", "", ``, 401, "operator token"},
		{"cancel unknown run", "DELETE", "/api/v1/scenarios/runs/run-00000000", "tok", ``, 404, "unknown run"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body errorBody
			if code := e.do(t, tt.method, tt.path, tt.token, tt.body, &body); code != tt.status {
				t.Fatalf("status %d (%s), want %d", code, body.Error, tt.status)
			}
			if !strings.Contains(body.Error, tt.err) {
				t.Fatalf("error %q, want it to contain %q", body.Error, tt.err)
			}
		})
	}
	// Nothing was started by any of them.
	var list []Run
	e.do(t, "GET", "/api/v1/scenarios/runs", "", "", &list)
	if len(list) != 0 {
		t.Errorf("refused requests left runs: %+v", list)
	}
	select {
	case j := <-e.runner.started:
		t.Errorf("a refused request started %s", j.Scenario.Name)
	default:
	}
}

func TestCancel(t *testing.T) {
	e := newEnv(t, 0)
	var run Run
	e.do(t, "POST", "/api/v1/scenarios/run", "tok", `{"name":"quick-cut"}`, &run)
	e.runner.waitStarted(t)
	var cancelled Run
	if code := e.do(t, "DELETE", "/api/v1/scenarios/runs/"+run.ID, "tok", "", &cancelled); code != http.StatusAccepted {
		t.Fatalf("DELETE: %d %+v", code, cancelled)
	}
	if !cancelled.Cancelled || cancelled.ID != run.ID {
		t.Errorf("DELETE answered %+v", cancelled)
	}
	done := e.waitRun(t, run.ID, func(r Run) bool { return r.State != StateRunning })
	if done.State != StateError || !done.Cancelled || !strings.Contains(done.Error, "context canceled") {
		t.Errorf("cancelled run = %+v", done)
	}
	// The runner's teardown ran before the run was reported ended.
	if last := done.Progress[len(done.Progress)-1].Text; last != "teardown: power restored" {
		t.Errorf("last progress line = %q, want the teardown", last)
	}
	e.runner.mu.Lock()
	torn := e.runner.torn
	e.runner.mu.Unlock()
	if len(torn) != 1 {
		t.Errorf("teardowns = %v", torn)
	}
	var again errorBody
	if code := e.do(t, "DELETE", "/api/v1/scenarios/runs/"+run.ID, "tok", "", &again); code != http.StatusConflict ||
		!strings.Contains(again.Error, "already finished") {
		t.Errorf("second DELETE: %d %+v", code, again)
	}
}

func TestHistoryBounded(t *testing.T) {
	const keep = 3
	e := newEnv(t, keep)
	var ids []string
	for i := range keep + 2 {
		var run Run
		if code := e.do(t, "POST", "/api/v1/scenarios/run", "tok", `{"name":"quick-cut"}`, &run); code != http.StatusAccepted {
			t.Fatalf("run %d: %d", i, code)
		}
		e.runner.waitStarted(t)
		e.runner.release <- scenarios.Result{}
		e.waitRun(t, run.ID, func(r Run) bool { return r.State == StatePassed })
		ids = append(ids, run.ID)
	}
	var list []Run
	e.do(t, "GET", "/api/v1/scenarios/runs", "", "", &list)
	if len(list) != keep {
		t.Fatalf("kept %d runs, want %d", len(list), keep)
	}
	for i, r := range list {
		if want := ids[len(ids)-1-i]; r.ID != want {
			t.Errorf("runs[%d] = %s, want %s (newest first)", i, r.ID, want)
		}
	}
	var gone errorBody
	if code := e.do(t, "GET", "/api/v1/scenarios/runs/"+ids[0], "", "", &gone); code != http.StatusNotFound {
		t.Errorf("the oldest run is still served: %d", code)
	}
}

func TestProgressBounded(t *testing.T) {
	svc, err := New(Options{Runner: func(ctx context.Context, job Job) scenarios.Result {
		for i := range MaxProgressLines + 7 {
			job.Progress(fmt.Sprint("line ", i))
		}
		return scenarios.Result{}
	}, Scenarios: []*scenarios.Scenario{{Name: "chatty", Cluster: scenarios.ClusterSpec{Nodes: 3, Timings: mustTimings(t, "aggressive")}}},
		Shape: demoShape(t)})
	if err != nil {
		t.Fatal(err)
	}
	run, err := svc.Start("chatty", "http://x")
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, err := svc.Get(run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Progress) != MaxProgressLines || got.ProgressDropped != 7 || got.Progress[0].Text != "line 7" {
		t.Errorf("progress: %d lines, %d dropped, first %q", len(got.Progress), got.ProgressDropped, got.Progress[0].Text)
	}
}

func TestCloseCancelsAndRefuses(t *testing.T) {
	e := newEnv(t, 0)
	var run Run
	e.do(t, "POST", "/api/v1/scenarios/run", "tok", `{"name":"quick-cut"}`, &run)
	e.runner.waitStarted(t)
	if err := e.svc.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.Get(run.ID)
	if err != nil || got.State != StateError || !got.Cancelled {
		t.Errorf("after Close: %+v, %v", got, err)
	}
	var body errorBody
	if code := e.do(t, "POST", "/api/v1/scenarios/run", "tok", `{"name":"quick-cut"}`, &body); code != http.StatusServiceUnavailable {
		t.Errorf("POST after Close: %d %+v", code, body)
	}
}

func TestRunnerPanic(t *testing.T) {
	svc, err := New(Options{Runner: func(context.Context, Job) scenarios.Result { panic("boom") },
		Scenarios: []*scenarios.Scenario{{Name: "p", Cluster: scenarios.ClusterSpec{Nodes: 3, Timings: mustTimings(t, "aggressive")}}},
		Shape:     demoShape(t)})
	if err != nil {
		t.Fatal(err)
	}
	run, err := svc.Start("p", "")
	if err != nil {
		t.Fatal(err)
	}
	_ = svc.Close(context.Background())
	got, _ := svc.Get(run.ID)
	if got.State != StateError || !strings.Contains(got.Error, "boom") {
		t.Errorf("after a panic: %+v", got)
	}
}

func TestStateOf(t *testing.T) {
	tests := []struct {
		name string
		res  scenarios.Result
		want State
	}{
		{"no steps", scenarios.Result{}, StatePassed},
		{"all ok", scenarios.Result{Steps: []scenarios.StepResult{{OK: true}}}, StatePassed},
		{"a step failed", scenarios.Result{Steps: []scenarios.StepResult{{OK: true}, {OK: false}}}, StateFailed},
		{"run broke", scenarios.Result{Steps: []scenarios.StepResult{{OK: true}}, Err: errors.New("x")}, StateError},
		{"skipped", scenarios.Result{Err: &scenarios.SkipError{Line: 3, Reason: "fork"}}, StateError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := stateOf(tt.res); got != tt.want {
				t.Errorf("stateOf = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestNewRefuses(t *testing.T) {
	sc := &scenarios.Scenario{Name: "a"}
	tests := []struct {
		name string
		o    Options
	}{
		{"no runner", Options{}},
		{"duplicate names", Options{Runner: newFakeRunner().run, Scenarios: []*scenarios.Scenario{sc, sc}}},
		{"unnamed scenario", Options{Runner: newFakeRunner().run, Scenarios: []*scenarios.Scenario{{}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(tt.o); err == nil {
				t.Error("New accepted it")
			}
		})
	}
}

// TestErrorJSON checks every error status comes with a JSON body the
// dashboard can show.
func TestErrorJSON(t *testing.T) {
	for _, err := range []error{ErrBadRequest, ErrUnknownScenario, ErrUnknownRun, ErrBusy, ErrShape, ErrFinished, ErrClosed, errors.New("other")} {
		w := httptest.NewRecorder()
		writeError(w, fmt.Errorf("wrapped: %w", err))
		var body errorBody
		if jerr := json.NewDecoder(bytes.NewReader(w.Body.Bytes())).Decode(&body); jerr != nil || body.Error == "" {
			t.Errorf("%v: body %q", err, w.Body.String())
		}
		if w.Code < 400 {
			t.Errorf("%v: status %d", err, w.Code)
		}
	}
}
