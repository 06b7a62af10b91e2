package faults

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redswitch/redswitch/agentapi"
	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/headnodeapi"
	"github.com/redswitch/redswitch/journal"
)

// fakeAgent records calls; fail makes the named call fail, and "cut "
// before a call's name cuts the node's power during that call. The agent
// of a node without power does not answer.
type fakeAgent struct {
	mu    *sync.Mutex
	node  string
	calls *[]string
	fail  string
	rig   *fakeRig
}

// errNoAnswer is what a client of an agent that is gone gets, late.
var errNoAnswer = errors.New("agent does not answer: context deadline exceeded")

func (a fakeAgent) note(call string) error {
	a.mu.Lock()
	*a.calls = append(*a.calls, a.node+":"+call)
	a.mu.Unlock()
	switch {
	case a.rig.isOff(a.node):
		return errNoAnswer
	case a.fail == "cut "+call:
		_ = a.rig.SetPower(context.Background(), a.node, false, "test")
		return errNoAnswer
	case a.fail == call:
		return &agentapi.StatusError{Code: 409, Msg: call + " refused"}
	}
	return nil
}
func (a fakeAgent) Block(_ context.Context, name string, peers []agentapi.Peer) error {
	return a.note("block " + name)
}
func (a fakeAgent) Unblock(_ context.Context, name string) error { return a.note("unblock " + name) }
func (a fakeAgent) CrashPostgres(context.Context) (agentapi.KillResponse, error) {
	return agentapi.KillResponse{PID: 7}, a.note("crash postgres")
}
func (a fakeAgent) CrashPatroni(context.Context, bool) (agentapi.KillResponse, error) {
	return agentapi.KillResponse{PID: 8}, a.note("crash patroni")
}
func (a fakeAgent) ReleasePatroni(context.Context) error { return a.note("release patroni") }
func (a fakeAgent) FillDisk(context.Context, agentapi.FillRequest) (agentapi.FillResponse, error) {
	return agentapi.FillResponse{}, a.note("fill")
}
func (a fakeAgent) ReleaseDisk(context.Context) error        { return a.note("release disk") }
func (a fakeAgent) PauseReplay(context.Context) error        { return a.note("pause") }
func (a fakeAgent) ResumeReplay(context.Context) error       { return a.note("resume") }
func (a fakeAgent) GenerateWAL(context.Context, int64) error { return a.note("wal") }

type fakeRig struct {
	mu    sync.Mutex
	calls []string
	files map[string][]byte
	off   map[string]bool
}

func (r *fakeRig) SetPower(_ context.Context, node string, on bool, _ string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, node+":power "+map[bool]string{true: "on", false: "off"}[on])
	if r.off == nil {
		r.off = map[string]bool{}
	}
	r.off[node] = !on
	return nil
}

func (r *fakeRig) isOff(node string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.off[node]
}

// state is the head node's view: three nodes, with the power the rig has.
func (r *fakeRig) state() headnodeapi.State {
	st := threeNodes()
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range st.Nodes {
		if r.off[st.Nodes[i].Name] {
			st.Nodes[i].Power = "off"
		}
	}
	return st
}
func (r *fakeRig) Pause(_ context.Context, node string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, node+":pause")
	return nil
}
func (r *fakeRig) Unpause(_ context.Context, node string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, node+":unpause")
	return nil
}
func (r *fakeRig) Starve(_ context.Context, node string, percent float64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, fmt.Sprintf("%s:starve %g", node, percent))
	return nil
}
func (r *fakeRig) Unstarve(_ context.Context, node string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, node+":unstarve")
	return nil
}
func (r *fakeRig) ReadFile(_ context.Context, node, path string) ([]byte, cluster.FileInfo, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, ok := r.files[node+":"+path]
	if !ok {
		return nil, cluster.FileInfo{}, errors.New("no such file")
	}
	return b, cluster.FileInfo{UID: 100, Mode: 0o600}, nil
}
func (r *fakeRig) WriteFile(_ context.Context, node, path string, data []byte, _ cluster.FileInfo) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.files[node+":"+path] = data
	r.calls = append(r.calls, node+":write "+path)
	return nil
}

type memRecorder struct {
	mu sync.Mutex
	ev []journal.Event
}

func (m *memRecorder) Append(e journal.Event) (journal.Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ev = append(m.ev, e)
	return e, nil
}

func (m *memRecorder) kinds() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, e := range m.ev {
		out = append(out, string(e.Kind)+" "+e.Detail+" "+e.Node)
	}
	return out
}

func threeNodes() headnodeapi.State {
	// The replicas lag far behind: replica_lag finds its lag published.
	lag := int64(1 << 30)
	return headnodeapi.State{Leader: "n1", Nodes: []headnodeapi.NodeState{
		{Name: "n1", Address: "10.0.0.11", Power: "on", Role: cluster.RolePrimary},
		{Name: "n2", Address: "10.0.0.12", Power: "on", Role: cluster.RoleReplica, LagBytes: &lag},
		{Name: "n3", Address: "10.0.0.13", Power: "on", Role: cluster.RoleReplica, LagBytes: &lag},
	}}
}

type harness struct {
	m      *Manager
	rig    *fakeRig
	rec    *memRecorder
	mu     sync.Mutex
	calls  *[]string
	failOn map[string]string
}

// newHarness returns a manager over fakes; its background heal loop is
// slowed to a crawl unless opts speed it up, so tests decide when pending
// nodes are healed.
func newHarness(failOn map[string]string, opts ...func(*Options)) *harness {
	if failOn == nil {
		failOn = map[string]string{}
	}
	h := &harness{rig: &fakeRig{files: map[string][]byte{}}, rec: &memRecorder{}, calls: &[]string{}, failOn: failOn}
	o := Options{
		Env: Env{Power: h.rig, Freezer: h.rig, Starver: h.rig, Files: h.rig,
			Agent: func(node string) (Agent, error) {
				h.mu.Lock()
				defer h.mu.Unlock()
				return fakeAgent{mu: &h.mu, node: node, calls: h.calls, fail: h.failOn[node], rig: h.rig}, nil
			},
			State: h.rig.state, Etcd: agentapi.Peer{Address: "10.0.0.1", Port: 2379}},
		Record:    h.rec,
		HealEvery: time.Hour,
	}
	for _, opt := range opts {
		opt(&o)
	}
	h.m = New(o)
	return h
}

// setFail makes node's agent fail call (or answer again for "").
func (h *harness) setFail(node, call string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failOn[node] = call
}

// take returns and forgets the calls made so far: the agents', then the
// rig's other than power.
func (h *harness) take() []string {
	h.mu.Lock()
	out := slices.Clone(*h.calls)
	*h.calls = nil
	h.mu.Unlock()
	h.rig.mu.Lock()
	for _, c := range h.rig.calls {
		if !strings.Contains(c, ":power ") {
			out = append(out, c)
		}
	}
	h.rig.calls = nil
	h.rig.mu.Unlock()
	return out
}

func TestManagerLifecycle(t *testing.T) {
	h := newHarness(nil)
	ctx := context.Background()
	f, err := h.m.Inject(ctx, Request{Kind: KindFreeze, Target: "primary"})
	if err != nil {
		t.Fatal(err)
	}
	if f.Node != "n1" || f.State != StateActive {
		t.Fatalf("fault %+v: want active on n1", f)
	}
	if _, err := h.m.Inject(ctx, Request{Kind: KindFreeze, Target: "n1"}); !errors.Is(err, ErrAlreadyActive) || statusOf(err) != http.StatusConflict {
		t.Fatalf("double injection: %v", err)
	}
	// Another kind on the same node, and the same kind elsewhere, are fine.
	if _, err := h.m.Inject(ctx, Request{Kind: KindPartition, Target: "n1", From: FromNodes}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.m.Inject(ctx, Request{Kind: KindFreeze, Target: "n2"}); err != nil {
		t.Fatal(err)
	}
	if n := len(h.m.Active()); n != 3 {
		t.Fatalf("%d active, want 3", n)
	}
	if _, err := h.m.Recover(ctx, f.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := h.m.Recover(ctx, f.ID); !errors.Is(err, ErrNotActive) {
		t.Fatalf("second recover: %v", err)
	}
	if _, err := h.m.Recover(ctx, "nope"); !errors.Is(err, ErrUnknownFault) || statusOf(err) != 404 {
		t.Fatalf("unknown id: %v", err)
	}
	// Re-injection after recovery is allowed.
	if _, err := h.m.Inject(ctx, Request{Kind: KindFreeze, Target: "n1"}); err != nil {
		t.Fatal(err)
	}
	if err := h.m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(h.m.Active()); n != 0 {
		t.Fatalf("%d active after Close", n)
	}
	if _, err := h.m.Inject(ctx, Request{Kind: KindFreeze, Target: "n3"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("inject after close: %v", err)
	}
	want := []string{"n1:pause", "n2:pause", "n1:unpause", "n1:pause", "n1:unpause", "n2:unpause"}
	if !reflect.DeepEqual(h.rig.calls, want) {
		t.Errorf("rig calls %v, want %v", h.rig.calls, want)
	}
	if got := *h.calls; !reflect.DeepEqual(got, []string{"n1:block partition", "n1:unblock partition"}) {
		t.Errorf("agent calls %v", got)
	}
	var injects, recovers int
	for _, e := range h.rec.ev {
		switch e.Kind {
		case journal.KindFaultInject:
			injects++
		case journal.KindFaultRecover:
			recovers++
		}
		if e.ID == "" || e.Detail == "" || e.Node == "" || e.At.IsZero() {
			t.Errorf("event missing id, kind, node or time: %+v", e)
		}
	}
	if injects != 4 || recovers != 4 {
		t.Errorf("recorded %d injections and %d recoveries, want 4 and 4", injects, recovers)
	}
}

func TestManagerSelfHealingAndFailures(t *testing.T) {
	h := newHarness(map[string]string{"n3": "block etcd"})
	ctx := context.Background()
	f, err := h.m.Inject(ctx, Request{Kind: KindPGCrash, Target: "primary"})
	if err != nil || f.State != StateDone {
		t.Fatalf("pg_crash: %+v %v", f, err)
	}
	if _, err := h.m.Recover(ctx, f.ID); !errors.Is(err, ErrNotRecoverable) {
		t.Fatalf("recover pg_crash: %v", err)
	}
	// A second crash is a new fault, not a double injection.
	if _, err := h.m.Inject(ctx, Request{Kind: KindPGCrash, Target: "n1"}); err != nil {
		t.Fatal(err)
	}
	// etcd outage fails on n3: everything it did is undone and recorded.
	*h.calls = nil
	f, err = h.m.Inject(ctx, Request{Kind: KindEtcdOutage})
	if err == nil || f.State != StateFailed || statusOf(err) != http.StatusConflict {
		t.Fatalf("half-failed etcd outage: %+v %v", f, err)
	}
	want := []string{"n1:block etcd", "n2:block etcd", "n3:block etcd", "n1:unblock etcd", "n2:unblock etcd", "n3:unblock etcd"}
	if !reflect.DeepEqual(*h.calls, want) {
		t.Errorf("calls %v, want %v", *h.calls, want)
	}
	if len(h.m.Active()) != 0 {
		t.Errorf("failed injection is active: %+v", h.m.Active())
	}
	last := h.rec.kinds()[len(h.rec.kinds())-2:]
	if !reflect.DeepEqual(last, []string{"fault.inject etcd_outage etcd", "fault.recover etcd_outage etcd"}) {
		t.Errorf("failed injection recorded %v", last)
	}
}

func TestManagerBadRequestsChangeNothing(t *testing.T) {
	h := newHarness(nil)
	ctx := context.Background()
	for _, c := range []struct {
		req    Request
		status int
	}{
		{Request{Kind: "meltdown", Target: "n1"}, 400},
		{Request{Kind: KindFreeze}, 400},
		{Request{Kind: KindFreeze, Target: "n9"}, 404},
		{Request{Kind: KindReplicaLag, Target: "primary", Lag: 10}, 400},
		{Request{Kind: KindReplicaLag, Target: "n1", Lag: 10}, 409},
	} {
		_, err := h.m.Inject(ctx, c.req)
		if err == nil || statusOf(err) != c.status {
			t.Errorf("%+v: %v (status %d), want %d", c.req, err, statusOf(err), c.status)
		}
	}
	if len(h.rec.ev) != 0 || len(*h.calls) != 0 || len(h.rig.calls) != 0 {
		t.Errorf("bad requests acted: events %v, agent %v, rig %v", h.rec.ev, *h.calls, h.rig.calls)
	}
}

func TestCorruptDamagesControlFileWithPowerOff(t *testing.T) {
	h := newHarness(nil)
	orig := make([]byte, 8192)
	for i := range orig {
		orig[i] = byte(i)
	}
	h.rig.files["n2:/data/pg/global/pg_control"] = orig
	f, err := h.m.Inject(context.Background(), Request{Kind: KindCorrupt, Target: "n2"})
	if err != nil || f.State != StateDone {
		t.Fatalf("corrupt: %+v %v", f, err)
	}
	want := []string{"n2:power off", "n2:write /data/pg/global/pg_control", "n2:power on"}
	if !reflect.DeepEqual(h.rig.calls, want) {
		t.Errorf("calls %v, want %v", h.rig.calls, want)
	}
	got := h.rig.files["n2:/data/pg/global/pg_control"]
	if len(got) != len(orig) || reflect.DeepEqual(got[:72], orig[:72]) || !reflect.DeepEqual(got[72:], orig[72:]) || !reflect.DeepEqual(got[:8], orig[:8]) {
		t.Errorf("damage not confined to bytes 8..72")
	}
}

func TestDamageControlFile(t *testing.T) {
	if _, err := damageControlFile(make([]byte, 100)); err == nil {
		t.Error("a 100-byte pg_control was accepted")
	}
	b := make([]byte, 8192)
	d1, _ := damageControlFile(b)
	d2, _ := damageControlFile(d1)
	if !reflect.DeepEqual(d2, b) {
		t.Error("damage is not the bounded inversion it claims (twice should restore)")
	}
}

func TestResolve(t *testing.T) {
	st := threeNodes()
	st.Nodes[2].Power = "off"
	freeze := freeze{}.Info()
	lag := replicaLag{}.Info()
	outage := etcdOutage{}.Info()
	first := func(int) int { return 0 }
	last := func(n int) int { return n - 1 }
	for _, c := range []struct {
		name   string
		target string
		info   Info
		pick   func(int) int
		want   string
		err    error
	}{
		{"primary", "primary", freeze, first, "n1", nil},
		{"replica skips powered off", "replica", freeze, first, "n2", nil},
		{"any picks among powered", "any", freeze, last, "n2", nil},
		{"node", "n2", freeze, first, "n2", nil},
		{"powered-off node", "n3", freeze, first, "", ErrNoCandidate},
		{"unknown node", "n7", freeze, first, "", ErrUnknownTarget},
		{"etcd kind", "", outage, first, "etcd", nil},
		{"replica-only on primary", "n1", lag, first, "", ErrNoCandidate},
		{"replica-only any", "any", lag, last, "n2", nil},
		{"replica-only selector primary", "primary", lag, first, "", ErrBadRequest},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := Resolve(st, c.target, c.info, c.pick)
			if got != c.want || (c.err == nil) != (err == nil) || (c.err != nil && !errors.Is(err, c.err)) {
				t.Errorf("got %q, %v; want %q, %v", got, err, c.want, c.err)
			}
		})
	}
	if _, err := Resolve(headnodeapi.State{Nodes: st.Nodes}, "primary", freeze, first); !errors.Is(err, ErrNoCandidate) {
		t.Errorf("no leader: %v", err)
	}
}

func TestPartitionPeers(t *testing.T) {
	st := threeNodes()
	etcd := agentapi.Peer{Address: "10.0.0.1", Port: 2379}
	for _, c := range []struct {
		from string
		want []agentapi.Peer
	}{
		{FromEtcd, []agentapi.Peer{etcd}},
		{FromNodes, []agentapi.Peer{{Address: "10.0.0.12"}, {Address: "10.0.0.13"}}},
		{FromAll, []agentapi.Peer{{Address: "10.0.0.1"}, {Address: "10.0.0.12"}, {Address: "10.0.0.13"}}},
		{"", []agentapi.Peer{{Address: "10.0.0.1"}, {Address: "10.0.0.12"}, {Address: "10.0.0.13"}}},
	} {
		got, err := partitionPeers(st, "n1", c.from, etcd)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("from %q: %v %v, want %v", c.from, got, err, c.want)
		}
	}
	if _, err := partitionPeers(st, "n1", "moon", etcd); err == nil {
		t.Error("bad mode accepted")
	}
	if got := lagPeers(st, "n2"); !reflect.DeepEqual(got, []agentapi.Peer{{Address: "10.0.0.11", Port: 5432}, {Address: "10.0.0.13", Port: 5432}}) {
		t.Errorf("lag peers %v", got)
	}
}

func TestNodeEventToJournal(t *testing.T) {
	e, ok := nodeEventToJournal([]byte(`{"node":"n2","detail":"reinitialised","at":"2024-01-01T00:00:00Z"}`))
	if !ok || e.Kind != journal.KindNode || e.Node != "n2" || e.Detail != "reinitialised" {
		t.Errorf("got %+v %v", e, ok)
	}
	for _, bad := range []string{`{`, `{"node":"n2"}`, `{"detail":"x"}`} {
		if _, ok := nodeEventToJournal([]byte(bad)); ok {
			t.Errorf("accepted %s", bad)
		}
	}
}

func TestAPI(t *testing.T) {
	h := newHarness(nil)
	mux := http.NewServeMux()
	guard := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer op" {
				w.WriteHeader(401)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	h.m.Mount(mux, guard)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	do := func(method, path, token, body string) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var sb strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			sb.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return resp.StatusCode, sb.String()
	}
	for _, c := range []struct {
		method, path, token, body string
		status                    int
		contains                  string
	}{
		{"POST", "/api/v1/faults", "", `{"kind":"freeze","target":"n1"}`, 401, ""},
		{"POST", "/api/v1/faults", "op", `{"kind":"nope","target":"n1"}`, 400, `"error"`},
		{"POST", "/api/v1/faults", "op", `{"kind":"freeze","target":"n1"}`, 201, `"state": "active"`},
		{"POST", "/api/v1/faults", "op", `{"kind":"freeze","target":"n1"}`, 409, "already active"},
		{"GET", "/api/v1/faults", "op", ``, 200, `"node": "n1"`},
		{"DELETE", "/api/v1/faults/freeze-x", "op", ``, 404, "freeze-x"},
	} {
		code, out := do(c.method, c.path, c.token, c.body)
		if code != c.status || !strings.Contains(out, c.contains) {
			t.Errorf("%s %s %s: %d %s; want %d with %q", c.method, c.path, c.body, code, out, c.status, c.contains)
		}
	}
	id := h.m.Active()[0].ID
	if code, out := do("DELETE", "/api/v1/faults/"+id, "op", ""); code != 200 || !strings.Contains(out, "recovered") {
		t.Errorf("recover: %d %s", code, out)
	}
	if code, out := do("GET", "/api/v1/faults", "op", ""); code != 200 || strings.TrimSpace(out) != "[]" {
		t.Errorf("list after recover: %d %s", code, out)
	}
	// One fault is there in any state, with the nodes still to heal.
	code, out := do("POST", "/api/v1/faults", "op", `{"kind":"etcd_outage"}`)
	if code != 201 {
		t.Fatalf("inject etcd_outage: %d %s", code, out)
	}
	_ = h.rig.SetPower(context.Background(), "n2", false, "test")
	id = h.m.Active()[0].ID
	for _, c := range []struct {
		method, path string
		status       int
		contains     string
	}{
		{"GET", "/api/v1/faults/" + id, 200, `"state": "active"`},
		{"DELETE", "/api/v1/faults/" + id, 200, `"pending": [
    "n2"
  ]`},
		{"GET", "/api/v1/faults/" + id, 200, `"state": "recovered"`},
		{"GET", "/api/v1/faults/nope", 404, "nope"},
	} {
		if code, out := do(c.method, c.path, "op", ""); code != c.status || !strings.Contains(out, c.contains) {
			t.Errorf("%s %s: %d %s; want %d with %q", c.method, c.path, code, out, c.status, c.contains)
		}
	}
	if code, _ := do("GET", "/api/v1/faults/"+id, "", ""); code != 401 {
		t.Errorf("GET one fault without a token: %d", code)
	}
	_ = time.Second
}
