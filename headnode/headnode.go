// Package headnode is the composition root of the head node: it watches the
// cluster through etcd and HAProxy, records what happens in the journal,
// drives node power, renders and reloads HAProxy, and serves the API. It
// has little logic of its own; the parts live in their packages.
package headnode

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/url"
	"sort"
	"strconv"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/etcdaccess"
	"github.com/redswitch/redswitch/headnode/haproxy"
	"github.com/redswitch/redswitch/headnodeapi"
	"github.com/redswitch/redswitch/journal"
	"github.com/redswitch/redswitch/probe/analysis"
)

// Power cuts and restores a node's power.
type Power interface {
	PowerOff(ctx context.Context, node string) error
	PowerOn(ctx context.Context, node string) error
	Powered(ctx context.Context, node string) (bool, error)
}

// Recorder appends events to the journal.
type Recorder interface {
	Append(e journal.Event) (journal.Event, error)
}

// Member is a database node the head node was configured with.
type Member struct {
	Name    string
	Address string
}

// Options configure the head node.
type Options struct {
	Scope   string
	Timings cluster.Timings
	Members []Member
	// Etcd is how the head node reaches the consensus store: the embedded
	// server's root access, or an external cluster's.
	Etcd  etcdaccess.Access
	Power Power
	// Journal receives every event.
	Journal Recorder
	// JournalErr reports the journal's sticky failure for the state
	// (journal.Journal.Err); nil when nobody can tell.
	JournalErr func() error
	// Clock timestamps events; one monotonic base for the whole run.
	Clock func() time.Time
	// HAProxy settings; HAProxy is not run when HAProxyDir is empty.
	HAProxyBin  string
	HAProxyDir  string
	HAProxyBind string
	// StatsBind is HAProxy's stats page's address (default HAProxyBind).
	StatsBind   string
	PrimaryPort int
	ReplicaPort int
	StatsPort   int
	// OperatorToken guards every request that changes something.
	OperatorToken string
	// DBUser names the user in the DSNs the state shows (default
	// postgres). They carry no password: the state is public.
	DBUser string
	Log    *slog.Logger
}

// HeadNode watches and drives one cluster.
type HeadNode struct {
	o       Options
	log     *slog.Logger
	etcd    *clientv3.Client
	haproxy *haproxy.Process

	mu       sync.Mutex
	members  map[string]member
	agents   map[string]bool
	leader   string
	syncs    map[string]bool // synchronous standbys per Patroni's /sync key
	leaseTTL int64
	config   *dcsConfig
	powered  map[string]bool
	setting  map[string]int             // SetPower calls in flight per node
	routed   map[string]map[string]bool // node → listener → up
	ready    chan struct{}
	once     sync.Once
}

// New connects to etcd and prepares the head node; Run starts it.
func New(o Options) (*HeadNode, error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		base := time.Now()
		o.Clock = func() time.Time { return base.Add(time.Since(base)) }
	}
	if o.DBUser == "" {
		o.DBUser = "postgres"
	}
	if o.Scope == "" || len(o.Etcd.Endpoints) == 0 || o.Power == nil || o.Journal == nil {
		return nil, errors.New("headnode: scope, etcd endpoints, power driver and journal are required")
	}
	cli, err := o.Etcd.New(3 * time.Second)
	if err != nil {
		return nil, fmt.Errorf("headnode: %w", err)
	}
	h := &HeadNode{o: o, log: o.Log, etcd: cli, members: map[string]member{}, agents: map[string]bool{},
		powered: map[string]bool{}, setting: map[string]int{}, routed: map[string]map[string]bool{}, ready: make(chan struct{})}
	if o.HAProxyDir != "" {
		if h.haproxy, err = haproxy.NewProcess(o.HAProxyBin, o.HAProxyDir, o.Log.With("component", "haproxy")); err != nil {
			cli.Close()
			return nil, fmt.Errorf("headnode: %w", err)
		}
	}
	for _, m := range o.Members {
		h.powered[m.Name] = true
	}
	return h, nil
}

func (h *HeadNode) record(e journal.Event) {
	if e.At.IsZero() {
		e.At = h.o.Clock()
	}
	if _, err := h.o.Journal.Append(e); err != nil {
		h.log.Error("journal append failed", "kind", e.Kind, "err", err)
	}
}

// Run starts HAProxy and the watchers and blocks until ctx ends.
func (h *HeadNode) Run(ctx context.Context) error {
	defer h.etcd.Close()
	if h.haproxy != nil {
		if err := h.StartHAProxy(ctx); err != nil {
			return err
		}
		defer h.haproxy.Stop()
	}
	h.record(journal.Event{Kind: journal.KindMark, Detail: "head node started"})
	var wg sync.WaitGroup
	for _, f := range []func(context.Context){h.watchEtcd, h.pollHAProxy, h.pollPower} {
		wg.Add(1)
		go func(f func(context.Context)) {
			defer wg.Done()
			f(ctx)
		}(f)
	}
	<-ctx.Done()
	wg.Wait()
	return nil
}

// Ready is closed once the head node has read the cluster's state once.
func (h *HeadNode) Ready() <-chan struct{} { return h.ready }

func (h *HeadNode) haproxyConfig() haproxy.Config {
	ms := make([]haproxy.Member, 0, len(h.o.Members))
	for _, m := range h.o.Members {
		ms = append(ms, haproxy.Member{Name: m.Name, Address: m.Address})
	}
	return haproxy.Config{Members: ms, Bind: h.o.HAProxyBind, StatsBind: h.o.StatsBind, PrimaryPort: h.o.PrimaryPort, ReplicaPort: h.o.ReplicaPort,
		StatsPort: h.o.StatsPort, StatsSocket: h.statsSocket(), Timings: h.o.Timings}
}

// statsSocket is HAProxy's admin socket: in the data dir when the path
// fits a unix socket, else in a short runtime directory (haproxy.SocketPlace).
func (h *HeadNode) statsSocket() string {
	if h.haproxy == nil {
		return ""
	}
	return h.haproxy.Socket()
}

// StartHAProxy renders the configuration and starts HAProxy (or leaves it
// running when the configuration did not change). Run calls it; calling it
// before Run makes a bad configuration fail at start-up.
func (h *HeadNode) StartHAProxy(ctx context.Context) error {
	if h.haproxy == nil {
		return nil
	}
	return h.applyHAProxy(ctx)
}

func (h *HeadNode) applyHAProxy(ctx context.Context) error {
	cfg, err := haproxy.Render(h.haproxyConfig())
	if err != nil {
		return fmt.Errorf("headnode: %w", err)
	}
	if err := h.haproxy.Apply(ctx, cfg); err != nil {
		return fmt.Errorf("headnode: %w", err)
	}
	return nil
}

// watchEtcd follows Patroni's keys and the agents' keys. Watches give each
// change its own timestamp, which the failover phases need; when etcd goes
// away it re-reads everything and watches again.
func (h *HeadNode) watchEtcd(ctx context.Context) {
	service := "/service/" + h.o.Scope + "/"
	agents := cluster.AgentPrefix(h.o.Scope)
	// failing journals a failure of the watch once, and its end: the
	// outage analysis reads them as etcd unavailable to the head node.
	failing := false
	for ctx.Err() == nil {
		err := h.watchOnce(ctx, service, agents, func() {
			if failing {
				failing = false
				h.record(journal.Event{Kind: journal.KindMark, Source: journal.SourceEtcdWatch, Detail: analysis.EtcdWatchRestored})
			}
		})
		if ctx.Err() != nil {
			return
		}
		h.log.Warn("etcd watch interrupted; retrying", "err", err)
		if !failing {
			failing = true
			h.record(journal.Event{Kind: journal.KindMark, Source: journal.SourceEtcdWatch,
				Detail: etcdWatchFailure(err)})
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// etcdWatchFailure is the mark's detail for a failed watch, the error
// bounded: it goes to the journal and the public screen.
func etcdWatchFailure(err error) string {
	msg := "unknown error"
	if err != nil {
		msg = err.Error()
	}
	if r := []rune(msg); len(r) > 160 {
		msg = string(r[:160]) + "…"
	}
	return analysis.EtcdWatchFailed + ": " + msg
}

// watchOnce reads the keys, calls read once it could, and watches them
// until the watch fails or ctx ends.
func (h *HeadNode) watchOnce(ctx context.Context, service, agents string, read func()) error {
	gctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	svc, err := h.etcd.Get(gctx, service, clientv3.WithPrefix())
	if err != nil {
		cancel()
		return fmt.Errorf("read %s: %w", service, err)
	}
	ag, err := h.etcd.Get(gctx, agents, clientv3.WithPrefix())
	cancel()
	if err != nil {
		return fmt.Errorf("read %s: %w", agents, err)
	}
	// Reconcile with what was known before the interruption.
	seenKeys := map[string]bool{}
	for _, kv := range svc.Kvs {
		seenKeys[string(kv.Key)] = true
		h.applyKV(ctx, service, agents, string(kv.Key), kv.Value, metaOf(kv), false)
	}
	for _, kv := range ag.Kvs {
		seenKeys[string(kv.Key)] = true
		h.applyKV(ctx, service, agents, string(kv.Key), kv.Value, metaOf(kv), false)
	}
	for _, k := range h.knownKeys(service, agents) {
		if !seenKeys[k] {
			h.applyKV(ctx, service, agents, k, nil, kvMeta{}, true)
		}
	}
	h.once.Do(func() { close(h.ready) })
	read()

	wctx, wcancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer wcancel()
	wsvc := h.etcd.Watch(wctx, service, clientv3.WithPrefix(), clientv3.WithRev(svc.Header.Revision+1))
	wag := h.etcd.Watch(wctx, agents, clientv3.WithPrefix(), clientv3.WithRev(ag.Header.Revision+1))
	for {
		var resp clientv3.WatchResponse
		var ok bool
		select {
		case <-ctx.Done():
			return ctx.Err()
		case resp, ok = <-wsvc:
		case resp, ok = <-wag:
		}
		if !ok {
			return errors.New("watch channel closed")
		}
		if err := resp.Err(); err != nil {
			return err
		}
		for _, ev := range resp.Events {
			del := ev.Type == clientv3.EventTypeDelete
			h.applyKV(ctx, service, agents, string(ev.Kv.Key), ev.Kv.Value, metaOf(ev.Kv), del)
		}
	}
}

func (h *HeadNode) knownKeys(service, agents string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var keys []string
	for n := range h.members {
		keys = append(keys, service+"members/"+n)
	}
	for n, ok := range h.agents {
		if ok {
			keys = append(keys, agents+n)
		}
	}
	if h.leader != "" {
		keys = append(keys, service+"leader")
	}
	if len(h.syncs) > 0 {
		keys = append(keys, service+"sync")
	}
	sort.Strings(keys)
	return keys
}

// kvMeta is what etcd says of a key's write besides its value.
type kvMeta struct {
	Lease                       int64
	CreateRevision, ModRevision int64
}

func metaOf(kv *mvccpb.KeyValue) kvMeta {
	if kv == nil {
		return kvMeta{}
	}
	return kvMeta{Lease: kv.Lease, CreateRevision: kv.CreateRevision, ModRevision: kv.ModRevision}
}

// leaderEvent records a new holder of the leader key (name, "" when the
// key is gone) with the lease it was written under and whether the write
// created the key or overwrote a live one: what tells a member taking a
// free key from one taking another member's.
func leaderEvent(at time.Time, name string, m kvMeta, deleted bool) journal.Event {
	e := journal.Event{At: at, Kind: journal.KindLeader, Node: name}
	switch {
	case deleted:
		e.Node, e.Detail = "", "expired"
	case m.ModRevision > 0 && m.CreateRevision < m.ModRevision:
		e.Detail = journal.LeaderOverwritten
	case m.ModRevision > 0:
		e.Detail = journal.LeaderCreated
	}
	if !deleted && m.Lease != 0 {
		e.ID = strconv.FormatInt(m.Lease, 16)
	}
	return e
}

// applyKV folds one key change into the state and records what it means.
func (h *HeadNode) applyKV(ctx context.Context, service, agents, key string, val []byte, m kvMeta, deleted bool) {
	now := h.o.Clock()
	switch {
	case len(key) > len(agents) && key[:len(agents)] == agents:
		name := key[len(agents):]
		h.mu.Lock()
		was := h.agents[name]
		h.agents[name] = !deleted
		h.mu.Unlock()
		if was != !deleted {
			h.record(journal.Event{At: now, Kind: journal.KindAgent, Node: name, On: journal.Bool(!deleted)})
		}
	case key == service+"leader":
		name := string(val)
		if deleted {
			name = ""
		}
		h.mu.Lock()
		was := h.leader
		h.leader = name
		h.mu.Unlock()
		if was != name {
			h.record(leaderEvent(now, name, m, deleted))
		}
		if !deleted && m.Lease != 0 {
			go h.readLease(ctx, m.Lease)
		}
	case key == service+"sync":
		syncs := map[string]bool{}
		if !deleted {
			var err error
			if syncs, err = parseSync(val); err != nil {
				h.log.Warn("unreadable synchronous standby key", "key", key, "err", err)
				return
			}
		}
		h.mu.Lock()
		h.syncs = syncs
		h.mu.Unlock()
	case key == service+"config":
		var c dcsConfig
		if !deleted && json.Unmarshal(val, &c) == nil {
			h.mu.Lock()
			h.config = &c
			h.mu.Unlock()
		}
	case len(key) > len(service+"members/") && key[:len(service+"members/")] == service+"members/":
		name := key[len(service+"members/"):]
		h.mu.Lock()
		old, had := h.members[name]
		if deleted {
			delete(h.members, name)
		} else if m, ok := parseMember(val); ok {
			h.members[name] = m
		}
		cur, has := h.members[name]
		h.mu.Unlock()
		if had != has || old.Role != cur.Role || old.State != cur.State || old.Timeline != cur.Timeline {
			e := journal.Event{At: now, Kind: journal.KindRole, Node: name, Role: cur.Role, State: cur.State, Timeline: cur.Timeline}
			if !has {
				e.State = "gone"
			}
			h.record(e)
		}
	}
}

func (h *HeadNode) readLease(ctx context.Context, id int64) {
	lctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	resp, err := h.etcd.TimeToLive(lctx, clientv3.LeaseID(id))
	if err != nil || resp.GrantedTTL <= 0 {
		return
	}
	h.mu.Lock()
	h.leaseTTL = resp.GrantedTTL
	h.mu.Unlock()
}

// pollHAProxy reads backend states every 100 ms and records changes: the
// "routed" phase of a failover.
func (h *HeadNode) pollHAProxy(ctx context.Context) {
	if h.haproxy == nil {
		return
	}
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		sctx, cancel := context.WithTimeout(ctx, time.Second)
		states, err := haproxy.ReadStats(sctx, h.statsSocket())
		cancel()
		if err != nil {
			continue
		}
		now := h.o.Clock()
		for _, s := range states {
			h.mu.Lock()
			m := h.routed[s.Server]
			if m == nil {
				m = map[string]bool{}
				h.routed[s.Server] = m
			}
			was, known := m[s.Listener]
			m[s.Listener] = s.Up
			h.mu.Unlock()
			if !known && !s.Up {
				continue
			}
			if was != s.Up {
				h.record(journal.Event{At: now, Kind: journal.KindHAProxy, Node: s.Server, Detail: s.Listener, On: journal.Bool(s.Up)})
			}
		}
	}
}

// pollPower notices power changes made behind the head node's back (a
// container stopped by hand) so the state stays true.
func (h *HeadNode) pollPower(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		for _, m := range h.o.Members {
			pctx, cancel := context.WithTimeout(ctx, time.Second)
			on, err := h.o.Power.Powered(pctx, m.Name)
			cancel()
			if err != nil {
				continue
			}
			h.mu.Lock()
			if h.setting[m.Name] > 0 {
				h.mu.Unlock()
				continue
			}
			was := h.powered[m.Name]
			h.powered[m.Name] = on
			h.mu.Unlock()
			if was != on {
				h.record(journal.Event{Kind: journal.KindPower, Node: m.Name, On: journal.Bool(on), Source: "observed"})
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// SetPower switches a node's power and records it with its source.
func (h *HeadNode) SetPower(ctx context.Context, node string, on bool, source string) error {
	return h.setPower(ctx, node, on, source, false)
}

// ChangePower is SetPower for a person's request (the power API, a
// switch): like the fault manager's state machine, which refuses to
// inject a fault twice, it refuses to cut a node that is already off or
// power one that is already on (ErrPowerUnchanged) and a change while
// another is under way on the node (ErrPowerBusy), so a double flip never
// acts twice and nothing is journaled for it.
func (h *HeadNode) ChangePower(ctx context.Context, node string, on bool, source string) error {
	return h.setPower(ctx, node, on, source, true)
}

// ErrPowerUnchanged is a power change to the state the node is in.
var ErrPowerUnchanged = errors.New("power unchanged")

// ErrPowerBusy is a power change while another is under way on the node.
var ErrPowerBusy = errors.New("power change under way")

func (h *HeadNode) setPower(ctx context.Context, node string, on bool, source string, guard bool) error {
	if !h.hasMember(node) {
		return fmt.Errorf("%w: %q", ErrUnknownNode, node)
	}
	// Record the intent first: the cut's timestamp is the start of the
	// failover, and the journal must hold it even if the head node dies
	// during the call. pollPower leaves the node alone meanwhile, so it
	// does not record the old state as a change.
	h.mu.Lock()
	was, known := h.powered[node]
	if guard && h.setting[node] > 0 {
		h.mu.Unlock()
		return fmt.Errorf("%w: %s: another power change is under way", ErrPowerBusy, node)
	}
	if guard && known && was == on {
		h.mu.Unlock()
		return fmt.Errorf("%w: %s is already %s", ErrPowerUnchanged, node, onOff(on))
	}
	h.setting[node]++
	h.powered[node] = on
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		h.setting[node]--
		h.mu.Unlock()
	}()
	h.record(journal.Event{At: h.o.Clock(), Kind: journal.KindPower, Node: node, On: journal.Bool(on), Source: source})
	var err error
	if on {
		err = h.o.Power.PowerOn(ctx, node)
	} else {
		err = h.o.Power.PowerOff(ctx, node)
	}
	if err != nil {
		// The driver did not act: say so, so the analysis does not take
		// the recorded intent for a cut.
		h.mu.Lock()
		h.powered[node] = was
		h.mu.Unlock()
		h.record(journal.Event{Kind: journal.KindPower, Node: node, On: journal.Bool(was), Source: PowerFailedSource,
			Detail: fmt.Sprintf("power %s by %s failed: %v", onOff(on), source, err)})
		return fmt.Errorf("power %s %s: %w", onOff(on), node, err)
	}
	return nil
}

// PowerFailedSource is the source of the power event that takes back a
// recorded intent whose driver call failed.
const PowerFailedSource = "failed"

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}

func (h *HeadNode) hasMember(name string) bool {
	for _, m := range h.o.Members {
		if m.Name == name {
			return true
		}
	}
	return false
}

// ErrUnknownNode is returned for a node name the head node does not manage.
var ErrUnknownNode = errors.New("unknown node")

// State returns the current state of the cluster.
func (h *HeadNode) State() headnodeapi.State {
	var journalErr string
	if h.o.JournalErr != nil {
		if err := h.o.JournalErr(); err != nil {
			journalErr = err.Error()
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	names := make([]string, 0, len(h.o.Members))
	addrs := map[string]string{}
	for _, m := range h.o.Members {
		names = append(names, m.Name)
		addrs[m.Name] = m.Address
	}
	routed := map[string][]string{}
	for n, ls := range h.routed {
		for l, up := range ls {
			if up {
				routed[n] = append(routed[n], l)
			}
		}
		sort.Strings(routed[n])
	}
	members := make(map[string]member, len(h.members))
	version := ""
	for n, m := range h.members {
		members[n] = m
		if m.Version != "" {
			version = m.Version
		}
	}
	agents := make(map[string]bool, len(h.agents))
	for n, a := range h.agents {
		agents[n] = a
	}
	powered := make(map[string]bool, len(h.powered))
	for n, p := range h.powered {
		powered[n] = p
	}
	st := headnodeapi.State{
		Scope:     h.o.Scope,
		Leader:    h.leader,
		Nodes:     buildNodes(names, addrs, powered, agents, members, h.leader, maps.Clone(h.syncs), routed),
		Timings:   effective(h.o.Timings, h.config, version, h.leaseTTL),
		Etcd:      h.o.Etcd.URLs(),
		UpdatedAt: h.o.Clock(),
		// Read before h.mu: the journal's lock is not taken under ours.
		JournalError: journalErr,
	}
	if h.o.PrimaryPort != 0 {
		st.DSN = publicDSN(h.o.DBUser, h.o.HAProxyBind, h.o.PrimaryPort)
		st.ReplicaDSN = publicDSN(h.o.DBUser, h.o.HAProxyBind, h.o.ReplicaPort)
	}
	return st
}

// publicDSN is a DSN through HAProxy as GET /api/v1/state shows it: user,
// host and port, no password, since anyone on the LAN reads the state. A
// client supplies the password the libpq way (PGPASSWORD, ~/.pgpass),
// which pgx and psql read when the DSN has none; "xxxxx" in its place
// (url.URL.Redacted) would be sent as a wrong password.
func publicDSN(user, host string, port int) string {
	u := url.URL{Scheme: "postgres", User: url.User(user), Host: net.JoinHostPort(host, strconv.Itoa(port)), Path: "/postgres"}
	return u.String()
}
