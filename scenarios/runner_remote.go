package scenarios

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redswitch/redswitch/agentapi"
	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/headnodeapi"
	"github.com/redswitch/redswitch/journal"
	"github.com/redswitch/redswitch/probe"
)

// RemoteBackend plays scenarios against a running head node (the booth on
// autoplay) over its HTTP API: state from GET /api/v1/state, power through
// POST /api/v1/nodes/{name}/power, faults through /api/v1/faults when the
// head node serves them. The runner keeps its own history: it polls the
// state into leader, role and power events and runs its own commit probe
// (table ProbeTable) through the head node's primary DSN, so verdicts are
// judged exactly as on containers. The cluster's shape is the head
// node's; the scenario's cluster section is not applied.
type RemoteBackend struct {
	// URL of the head node, e.g. http://127.0.0.1:8080.
	URL string
	// OperatorToken authorises power and fault requests.
	OperatorToken string
	// ProbeDSN is the runner's own primary DSN for its probe. Empty: the
	// one the head node reports (which may name its own loopback address)
	// and which carries no password, since the state is public; pgx then
	// takes the password from this process's PGPASSWORD or ~/.pgpass.
	ProbeDSN string
	// Client is the HTTP client (http.DefaultClient when nil).
	Client *http.Client
	Log    *slog.Logger

	once  sync.Once
	kinds []string
}

// ProbeTable is the table the runner's own probe writes on a remote
// cluster, apart from the head node's probe.
const ProbeTable = "redswitch_scenario_probe"

// Name implements Backend.
func (b *RemoteBackend) Name() string { return "head node at " + b.URL }

// Forks implements Backend: the head node's fork API makes them; the run
// destroys its forks when it ends.
func (b *RemoteBackend) Forks() bool { return true }

// Supports implements Backend: the kinds GET /api/v1/fault-kinds lists.
func (b *RemoteBackend) Supports(kind FaultKind) bool {
	b.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var infos []struct {
			Kind string `json:"Kind"`
		}
		if err := b.call(ctx, http.MethodGet, "/api/v1/fault-kinds", nil, &infos); err == nil {
			for _, i := range infos {
				b.kinds = append(b.kinds, i.Kind)
			}
		}
	})
	return slices.Contains(b.kinds, string(kind))
}

func (b *RemoteBackend) client() *http.Client {
	if b.Client != nil {
		return b.Client
	}
	return http.DefaultClient
}

// call makes one API request with the operator token and decodes the
// JSON answer into out (when not nil).
func (b *RemoteBackend) call(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		buf, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(b.URL, "/")+path, rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if b.OperatorToken != "" {
		req.Header.Set("Authorization", "Bearer "+b.OperatorToken)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := b.client().Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode == http.StatusNotFound && strings.Contains(string(msg), "404 page not found") {
		return fmt.Errorf("%s %s: the head node does not serve it: %w", method, path, ErrNotAvailable)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(msg)))
	}
	if out != nil {
		if err := json.Unmarshal(msg, out); err != nil {
			return fmt.Errorf("%s %s: decode: %w", method, path, err)
		}
	}
	return nil
}

// Start implements Backend: it checks the head node answers, starts
// polling its state and starts the runner's probe.
func (b *RemoteBackend) Start(ctx context.Context, sc *Scenario) (Cluster, error) {
	if _, err := url.Parse(b.URL); err != nil || b.URL == "" {
		return nil, fmt.Errorf("head node URL %q: %v", b.URL, err)
	}
	log := b.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var st headnodeapi.State
	if err := b.call(ctx, http.MethodGet, "/api/v1/state", nil, &st); err != nil {
		return nil, err
	}
	dsn := b.ProbeDSN
	if dsn == "" {
		dsn = st.DSN
		log.Info("the probe uses the head node's primary DSN; its password comes from PGPASSWORD or ~/.pgpass",
			"dsn", st.DSN)
	}
	if dsn == "" {
		return nil, errors.New("the head node reports no primary DSN; pass one for the probe")
	}
	c := &remoteCluster{b: b, clock: journal.NewClock(), off: map[string]bool{}}
	c.observe(st)
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.cancel = cancel
	c.probe = probe.New(probe.Options{DSN: dsn, Table: ProbeTable, Clock: c.clock, Log: log.With("component", "probe")})
	c.wg.Add(2)
	go func() {
		defer c.wg.Done()
		if err := c.probe.Run(runCtx, c); err != nil {
			log.Error("scenario probe stopped", "err", err)
		}
	}()
	go func() {
		defer c.wg.Done()
		c.poll(runCtx)
	}()
	return c, nil
}

// remoteCluster is a head node seen through its API, with a history of
// the runner's own.
type remoteCluster struct {
	b      *RemoteBackend
	clock  *journal.Clock
	probe  *probe.Probe
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu   sync.Mutex
	ev   []journal.Event
	seq  uint64
	last headnodeapi.State
	seen bool
	off  map[string]bool // nodes this run powered off
	// injected lists the faults this run injected and has not recovered,
	// oldest first, by id.
	injected []string
	// forks this run made, destroyed at Close.
	forks  []string
	lastAt time.Time
}

// Append records an event in the history (the probe's Recorder).
func (c *remoteCluster) Append(e journal.Event) (journal.Event, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.At.IsZero() {
		e.At = c.clock.Now()
	}
	c.seq++
	e.Seq = c.seq
	c.ev = append(c.ev, e)
	return e, nil
}

func (c *remoteCluster) poll(ctx context.Context) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		var st headnodeapi.State
		err := c.b.call(sctx, http.MethodGet, "/api/v1/state", nil, &st)
		cancel()
		if err == nil {
			c.observe(st)
		}
	}
}

// observe records what changed since the previous state as the head node
// itself would: leader, role and power events.
func (c *remoteCluster) observe(st headnodeapi.State) {
	c.mu.Lock()
	prev, seen := c.last, c.seen
	c.last, c.seen, c.lastAt = st, true, c.clock.Now()
	c.mu.Unlock()
	if !seen || prev.Leader != st.Leader {
		e := journal.Event{Kind: journal.KindLeader, Node: st.Leader}
		if st.Leader == "" {
			e.Detail = "expired"
		}
		_, _ = c.Append(e)
	}
	old := map[string]headnodeapi.NodeState{}
	for _, n := range prev.Nodes {
		old[n.Name] = n
	}
	for _, n := range st.Nodes {
		o, had := old[n.Name]
		if !had || o.PatroniRole != n.PatroniRole || o.State != n.State || o.Timeline != n.Timeline {
			_, _ = c.Append(journal.Event{Kind: journal.KindRole, Node: n.Name, Role: n.PatroniRole, State: n.State, Timeline: n.Timeline})
		}
		if had && o.Power != n.Power {
			_, _ = c.Append(journal.Event{Kind: journal.KindPower, Node: n.Name, On: journal.Bool(n.Power == "on"), Source: "observed"})
		}
	}
}

func (c *remoteCluster) Now() time.Time { return c.clock.Now() }

func (c *remoteCluster) State(ctx context.Context) (headnodeapi.State, error) {
	var st headnodeapi.State
	if err := c.b.call(ctx, http.MethodGet, "/api/v1/state", nil, &st); err != nil {
		return st, err
	}
	return st, nil
}

func (c *remoteCluster) SetPower(ctx context.Context, node string, on bool, source string) error {
	at := c.clock.Now()
	if err := c.b.call(ctx, http.MethodPost, "/api/v1/nodes/"+url.PathEscape(node)+"/power", map[string]bool{"on": on}, nil); err != nil {
		return err
	}
	c.mu.Lock()
	c.off[node] = !on
	c.mu.Unlock()
	_, err := c.Append(journal.Event{At: at, Kind: journal.KindPower, Node: node, On: journal.Bool(on), Source: source})
	return err
}

func (c *remoteCluster) Events() []journal.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.ev)
}

func (c *remoteCluster) Record(e journal.Event) error {
	_, err := c.Append(e)
	return err
}

// Streaming: without access to the nodes' Patroni APIs, a running
// replica on the primary's timeline counts as streaming.
func (c *remoteCluster) Streaming(ctx context.Context, st headnodeapi.State) ([]string, error) {
	tl := 0
	for _, n := range st.Nodes {
		if n.Name == st.Leader {
			tl = n.Timeline
		}
	}
	var out []string
	for _, n := range st.Nodes {
		if n.Name != st.Leader && n.Power == "on" && n.Role == cluster.RoleReplica && n.State == "running" &&
			(tl == 0 || n.Timeline == tl) {
			out = append(out, n.Name)
		}
	}
	return out, nil
}

func (c *remoteCluster) RewindCount(ctx context.Context, node string) (int, error) {
	return 0, fmt.Errorf("node logs of a remote head node: %w", ErrNotAvailable)
}

func (c *remoteCluster) ReadBack(ctx context.Context) error {
	e, err := c.probe.ReadBack(ctx, c.Events())
	if err != nil {
		return err
	}
	_, err = c.Append(e)
	return err
}

func (c *remoteCluster) Faults() FaultInjector { return remoteFaults{b: c.b, c: c} }

func (c *remoteCluster) Fork(ctx context.Context, node, name string) (agentapi.ForkInfo, error) {
	var f agentapi.ForkInfo
	if err := c.b.call(ctx, http.MethodPost, "/api/v1/forks", map[string]string{"from": node, "name": name}, &f); err != nil {
		return f, err
	}
	c.mu.Lock()
	c.forks = append(c.forks, name)
	c.mu.Unlock()
	return f, nil
}

func (c *remoteCluster) Forks(ctx context.Context) ([]agentapi.ForkInfo, error) {
	var fl []agentapi.ForkInfo
	err := c.b.call(ctx, http.MethodGet, "/api/v1/forks", nil, &fl)
	return fl, err
}

// Close stops the probe and the polling, recovers every fault this run
// left injected (a scenario stopped or cancelled between inject and
// recover), destroys the forks it made and powers on every node it left
// off, so the booth is whole again for the next visitor. A recovery that
// fails while its node is off is tried once more after power returns.
func (c *remoteCluster) Close(ctx context.Context) error {
	c.cancel()
	c.wg.Wait()
	c.mu.Lock()
	faults := slices.Clone(c.injected)
	var off []string
	for n, isOff := range c.off {
		if isOff {
			off = append(off, n)
		}
	}
	made := slices.Clone(c.forks)
	c.mu.Unlock()
	slices.Reverse(faults) // newest first, as the faults manager closes
	inj := remoteFaults{b: c.b, c: c}
	var retry []string
	for _, id := range faults {
		if err := inj.Recover(ctx, id); err != nil {
			retry = append(retry, id)
		}
	}
	var errs []error
	slices.Sort(off)
	for _, name := range made {
		if err := c.b.call(ctx, http.MethodDelete, "/api/v1/forks/"+url.PathEscape(name), nil, nil); err != nil {
			errs = append(errs, err)
		}
	}
	for _, n := range off {
		if err := c.b.call(ctx, http.MethodPost, "/api/v1/nodes/"+url.PathEscape(n)+"/power", map[string]bool{"on": true}, nil); err != nil {
			errs = append(errs, err)
		}
	}
	for _, id := range retry {
		if err := inj.Recover(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("recover fault %s left by the run: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

// remoteFaults injects through the head node's faults API and keeps the
// cluster's list of faults still injected up to date.
type remoteFaults struct {
	b *RemoteBackend
	c *remoteCluster
}

func (f remoteFaults) Supports(kind FaultKind) bool { return f.b.Supports(kind) }

func (f remoteFaults) Inject(ctx context.Context, kind FaultKind, target string, step FaultStep) (string, error) {
	req := map[string]any{"kind": string(kind), "target": target}
	if step.From != "" {
		req["from"] = string(step.From)
	}
	if step.Lag > 0 {
		req["lag"] = step.Lag
	}
	if step.Pause {
		req["pause"] = true
	}
	if step.CPUPercent > 0 {
		req["cpu_percent"] = step.CPUPercent
	}
	var out struct {
		ID string `json:"id"`
	}
	if err := f.b.call(ctx, http.MethodPost, "/api/v1/faults", req, &out); err != nil {
		return "", err
	}
	f.c.mu.Lock()
	f.c.injected = append(f.c.injected, out.ID)
	f.c.mu.Unlock()
	return out.ID, nil
}

func (f remoteFaults) Recover(ctx context.Context, id string) error {
	if err := f.b.call(ctx, http.MethodDelete, "/api/v1/faults/"+url.PathEscape(id), nil, nil); err != nil {
		return err
	}
	f.c.mu.Lock()
	if i := slices.Index(f.c.injected, id); i >= 0 {
		f.c.injected = slices.Delete(f.c.injected, i, i+1)
	}
	f.c.mu.Unlock()
	return nil
}
