package forks

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/redswitch/redswitch/agentapi"
	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/headnodeapi"
	"github.com/redswitch/redswitch/journal"
)

func lag(n int64) *int64 { return &n }

func state() headnodeapi.State {
	return headnodeapi.State{Nodes: []headnodeapi.NodeState{
		{Name: "n1", Power: "on", Role: cluster.RolePrimary, State: "running"},
		{Name: "n2", Power: "on", Role: cluster.RoleReplica, State: "running", LagBytes: lag(4096)},
		{Name: "n3", Power: "on", Role: cluster.RoleReplica, State: "streaming", LagBytes: lag(0)},
		{Name: "n4", Power: "off", Role: cluster.RoleDown},
	}}
}

func TestPickSource(t *testing.T) {
	lagless := state()
	lagless.Nodes[2].State = "starting"
	noReplica := headnodeapi.State{Nodes: state().Nodes[:1]}
	// n3 lags least but is the synchronous standby: n2 is forked instead,
	// unless it is the only replica left.
	syncN3 := state()
	syncN3.Nodes[2].Sync = true
	onlySync := state()
	onlySync.Nodes[1].Sync, onlySync.Nodes[2].Sync = true, true
	syncOnly := headnodeapi.State{Nodes: []headnodeapi.NodeState{syncN3.Nodes[0], syncN3.Nodes[2]}}
	tests := []struct {
		name string
		st   headnodeapi.State
		from string
		want string
		err  error
	}{
		{"least lagging streaming replica", state(), "", "n3", nil},
		{"only streaming replicas count", lagless, "", "n2", nil},
		{"asynchronous before synchronous", syncN3, "", "n2", nil},
		{"least lagging of synchronous standbys", onlySync, "", "n3", nil},
		{"a synchronous standby when no other", syncOnly, "", "n3", nil},
		{"named synchronous standby", syncN3, "n3", "n3", nil},
		{"named primary", state(), "n1", "n1", nil},
		{"named replica", state(), "n2", "n2", nil},
		{"named node powered off", state(), "n4", "", ErrNoSource},
		{"unknown node", state(), "n9", "", ErrUnknownNode},
		{"no replica", noReplica, "", "", ErrNoSource},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := PickSource(tc.st, tc.from)
			if tc.err != nil {
				if err == nil || !strings.Contains(err.Error(), tc.err.Error()) {
					t.Fatalf("got %q %v, want %v", got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q %v, want %q", got, err, tc.want)
			}
		})
	}
}

func TestDecodeCreateRequest(t *testing.T) {
	for body, want := range map[string]string{
		`{"name":"staging"}`:             "",
		`{"name":"staging","from":"n2"}`: "",
		`{"name":"s","port":6000}`:       "",
		``:                               "empty body",
		`{"from":"n2"}`:                  "name: required",
		`{"name":"s","node":"n2"}`:       "unknown field",
		`{"name":"s"} x`:                 "trailing data",
		`{"name":"s"}}`:                  "trailing data",
		`{"name":"s"}]`:                  "trailing data",
		`{"name":"s","port":99999}`:      "port 99999",
	} {
		t.Run(body, func(t *testing.T) {
			_, err := DecodeCreateRequest(strings.NewReader(body))
			if want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("err %v, want %q", err, want)
			}
		})
	}
}

func FuzzDecodeCreateRequest(f *testing.F) {
	f.Add(`{"name":"a","from":"n1"}`)
	f.Add(`{"name":""}`)
	f.Fuzz(func(t *testing.T, body string) {
		req, err := DecodeCreateRequest(strings.NewReader(body))
		if err == nil && (req.Name == "" || req.Port < 0 || req.Port > 65535) {
			t.Fatalf("accepted %+v", req)
		}
	})
}

// memAgent keeps forks in memory: the API's routing and errors are tested
// here; making real forks is tested against the cluster in package demo.
type memAgent struct {
	node  string
	forks map[string]agentapi.ForkInfo
}

func (m *memAgent) CreateFork(_ context.Context, req agentapi.ForkRequest) (agentapi.ForkInfo, error) {
	if strings.ToUpper(req.Name) == req.Name {
		return agentapi.ForkInfo{}, &agentapi.StatusError{Code: 400, Msg: "fork name " + req.Name}
	}
	f := agentapi.ForkInfo{Name: req.Name, Node: m.node, Port: 5440 + len(m.forks), Method: "snapshot", Timeline: 2, Running: true}
	m.forks[req.Name] = f
	return f, nil
}

func (m *memAgent) Forks(context.Context) ([]agentapi.ForkInfo, error) {
	var out []agentapi.ForkInfo
	for _, f := range m.forks {
		out = append(out, f)
	}
	return out, nil
}

func (m *memAgent) DestroyFork(_ context.Context, name string) error {
	delete(m.forks, name)
	return nil
}

func TestAPI(t *testing.T) {
	agents := map[string]*memAgent{}
	for _, n := range []string{"n1", "n2", "n3"} {
		agents[n] = &memAgent{node: n, forks: map[string]agentapi.ForkInfo{}}
	}
	var events []journal.Event
	st := state()
	st.Nodes = st.Nodes[:3]
	s := New(Options{
		Agent: func(node string) (Agent, error) {
			a, ok := agents[node]
			if !ok {
				return nil, fmt.Errorf("%w: %q", ErrUnknownNode, node)
			}
			return a, nil
		},
		State:  func() headnodeapi.State { return st },
		Record: func(e journal.Event) (journal.Event, error) { events = append(events, e); return e, nil },
	})
	mux := http.NewServeMux()
	guard := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer op" {
				http.Error(w, `{"error":"operator token required"}`, http.StatusUnauthorized)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
	s.Mount(mux, guard)
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
		b := new(strings.Builder)
		_, _ = fmt.Fprint(b, readAll(resp))
		return resp.StatusCode, b.String()
	}
	steps := []struct {
		method, path, token, body string
		status                    int
		contains                  string
	}{
		{"POST", "/api/v1/forks", "", `{"name":"a"}`, 401, "token"},
		{"GET", "/api/v1/forks", "", "", 401, "token"},
		{"POST", "/api/v1/forks", "op", `{"name":"staging"}`, 201, `"node": "n3"`},
		{"POST", "/api/v1/forks", "op", `{"name":"staging","from":"n2"}`, 409, "taken"},
		{"POST", "/api/v1/forks", "op", `{"name":"pm","from":"n1"}`, 201, `"node": "n1"`},
		{"POST", "/api/v1/forks", "op", `{"name":"x","from":"n9"}`, 404, "unknown node"},
		{"POST", "/api/v1/forks", "op", `{"name":"BAD"}`, 400, "fork name"},
		{"POST", "/api/v1/forks", "op", `{"nom":"x"}`, 400, "unknown field"},
		{"GET", "/api/v1/forks", "op", "", 200, `"name": "pm"`},
		{"DELETE", "/api/v1/forks/nope", "op", "", 404, "unknown fork"},
		{"DELETE", "/api/v1/forks/staging", "op", "", 200, "destroyed"},
	}
	for _, c := range steps {
		code, out := do(c.method, c.path, c.token, c.body)
		if code != c.status || !strings.Contains(out, c.contains) {
			t.Errorf("%s %s %s: %d %s; want %d with %q", c.method, c.path, c.body, code, out, c.status, c.contains)
		}
	}
	if len(agents["n3"].forks) != 0 || len(agents["n1"].forks) != 1 {
		t.Errorf("forks left: n1 %v n3 %v", agents["n1"].forks, agents["n3"].forks)
	}
	if len(events) != 3 || !strings.Contains(events[0].Detail, "forked as staging") || events[0].Node != "n3" {
		t.Errorf("journal: %+v", events)
	}
}

func readAll(resp *http.Response) string {
	b := new(strings.Builder)
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String()
		}
	}
}
