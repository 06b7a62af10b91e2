// Package service is the one composition root of the head node, shared by
// `redswitch demo` (a container rig) and `redswitch headnode` (a booth):
// etcd (embedded or external), the cluster watcher and HAProxy, the commit
// probe, the journal, the Failure Injection Unit's switches, the power
// driver, faults, forks, scenario runs, the API, metrics and the
// dashboard. Everything long-lived runs in one run group: the first part
// that fails stops the others, and Close stops them in order.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/redswitch/redswitch/agentapi"
	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/dashboard"
	"github.com/redswitch/redswitch/dirlock"
	"github.com/redswitch/redswitch/etcdaccess"
	"github.com/redswitch/redswitch/faults"
	"github.com/redswitch/redswitch/fiu"
	"github.com/redswitch/redswitch/forks"
	"github.com/redswitch/redswitch/headnode"
	"github.com/redswitch/redswitch/headnode/etcd"
	"github.com/redswitch/redswitch/headnode/writable"
	"github.com/redswitch/redswitch/httpserver"
	"github.com/redswitch/redswitch/journal"
	"github.com/redswitch/redswitch/probe"
	"github.com/redswitch/redswitch/scenarios"
	"github.com/redswitch/redswitch/scenarios/runapi"
)

// Timeouts of the API server (read, header and idle ones are
// httpserver's defaults).
const (
	// apiWriteTimeout bounds a request's handling and answer: the slowest
	// answers besides a fork's inject or recover a fault through agents
	// (30 s a call, see startFaults); scenario runs answer at once and go
	// on in the background; the websocket is hijacked and clears it.
	apiWriteTimeout = 2 * time.Minute
	// forkAgentTimeout is how long the head node waits for an agent to
	// make or destroy a fork: a copy fallback on a big database takes
	// minutes.
	forkAgentTimeout = 6 * time.Minute
	// forkRequestTimeout is the fork routes' write timeout: the agent's
	// time and a minute to spare.
	forkRequestTimeout = forkAgentTimeout + time.Minute
)

// newAPIServer is the head node's API and dashboard server.
func newAPIServer(h http.Handler, log *slog.Logger) *http.Server {
	return httpserver.New(h, httpserver.Timeouts{Write: apiWriteTimeout}, log)
}

// Options are everything one head node is made of.
type Options struct {
	Scope   string
	Timings cluster.Timings
	Members []headnode.Member
	// DataDir keeps the journal (journal/), HAProxy's configuration and
	// the embedded etcd's data (etcd/).
	DataDir string

	// Etcd, when it has endpoints, is an external etcd cluster and the
	// head node's way into it; otherwise an embedded one serves on
	// EtcdClientAddrs (host:port; the first must be one the head node
	// itself reaches, and be in the TLS certificate) and EtcdPeerAddr,
	// guarded by EtcdSecurity (zero: plain HTTP, no authentication).
	Etcd            etcdaccess.Access
	EtcdClientAddrs []string
	EtcdPeerAddr    string
	EtcdSecurity    etcd.Security
	// Lock is the data directory's lock when the caller took it (the
	// demo, before it sweeps leftovers); nil: Start takes it and Close
	// gives it up. One head node per data directory.
	Lock *dirlock.Lock

	// FreshEtcd removes the embedded etcd's data first: a new cluster must
	// not find the keys of an old one.
	FreshEtcd bool
	// StartNodes, when set, runs once etcd serves and before anything
	// watches the nodes: a container rig starts its nodes here, so the
	// head node never sees them as cut.
	StartNodes func(ctx context.Context) error
	// NodeEtcd is etcd as the database nodes reach it, which an etcd
	// outage blocks; the etcd_outage fault is off when it has no host.
	NodeEtcd agentapi.Peer

	// HAProxy's listeners.
	HAProxyBind string
	// StatsBind is the stats page's address (default HAProxyBind).
	StatsBind                           string
	PrimaryPort, ReplicaPort, StatsPort int

	// ProbeDSN, when set, runs the commit probe through it, every
	// ProbeInterval (10 ms).
	ProbeDSN      string
	ProbeInterval time.Duration
	// ProbeSetupDSN, when set, is a superuser login through which the
	// probe makes its own role (ProbeDSN's user) before it writes: see
	// probe.Options.SetupDSN.
	ProbeSetupDSN string
	// ProbeSource names where the DSN came from in errors (a booth file's
	// line).
	ProbeSource string
	// WritableOff turns off the watcher that polls each member's
	// PostgreSQL directly (port 5432, the probe DSN's credentials) for the
	// moment it accepts writes, the failovers' writable phase. It runs
	// wherever the probe runs.
	WritableOff bool

	// Power cuts and restores nodes.
	Power headnode.Power
	// Switches is the Failure Injection Unit; without Pins there are none.
	Switches Switches

	// Agent returns a client of a node's agent with a request timeout;
	// nil when the head node cannot talk to agents (no cluster token):
	// then forks and the agent-side faults are off.
	Agent func(node string, timeout time.Duration) (*agentapi.Client, bool)
	// Freezer, Starver and Files give the freeze, cpu_starve and corrupt
	// faults their means (containers); MaxFill bounds disk_full (0: the
	// faults' default).
	Freezer faults.Freezer
	Starver faults.Starver
	Files   faults.Files
	MaxFill int64
	// Logs returns a node's log for scenario checks (containers); nil
	// where the head node cannot read them.
	Logs func(ctx context.Context, node string) (string, error)

	// Shape is the cluster as scenario runs check it; Nodes, Timings,
	// Forks and FaultKinds are filled in here.
	Shape runapi.Shape

	// Listen is the API and dashboard address ("127.0.0.1:0" picks a
	// port); OperatorToken guards every change.
	Listen        string
	OperatorToken string
	// Mount adds routes to the API server (tests, extras).
	Mount func(mux *http.ServeMux)
	Log   *slog.Logger
}

// Switches configure the Failure Injection Unit.
type Switches struct {
	Pins fiu.Pins
	// Virtual is set when the pins are virtual switches: the API flips
	// them.
	Virtual *fiu.Virtual
	Config  []fiu.SwitchConfig
	Window  time.Duration
	Poll    time.Duration
	// Observe: the switches cut DC power themselves; only the cause is
	// recorded.
	Observe bool
}

// Service is a running head node.
type Service struct {
	o Options
	// URL is the API's base URL.
	URL string
	// Access is how the head node reaches etcd: root on the embedded
	// server, Options.Etcd on an external one.
	Access  etcdaccess.Access
	Etcd    *etcd.Server // nil with external etcd
	Clock   *journal.Clock
	Journal *journal.Journal
	// Log is the event log every part records into: the one history.
	History  *headnode.EventLog
	Head     *headnode.HeadNode
	Probe    *probe.Probe // nil without ProbeDSN
	Switches *headnode.Switches
	Hub      *dashboard.Hub
	Observer *headnode.Observer
	Faults   *faults.Manager
	Forks    *forks.Service // nil without agents
	Runs     *runapi.Service

	// Writable watches the members' PostgreSQL for the writable phase;
	// nil without the probe or with WritableOff.
	Writable *writable.Watcher

	group *group
	srv   *http.Server
	etcdc *clientv3.Client
	lock  *dirlock.Lock // taken by Start, nil when the caller holds it
}

// Start brings the head node up: etcd, journal, HAProxy (a bad
// configuration fails here), the run group, then the API. On error what
// was started is closed again.
func Start(ctx context.Context, o Options) (s *Service, err error) {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	var missing []string
	for _, m := range []struct {
		name string
		gone bool
	}{{"scope", o.Scope == ""}, {"data dir", o.DataDir == ""}, {"power driver", o.Power == nil}, {"members", len(o.Members) == 0}} {
		if m.gone {
			missing = append(missing, m.name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("headnode: %s required", strings.Join(missing, ", "))
	}
	if o.Listen == "" {
		o.Listen = "127.0.0.1:8080"
	}
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("headnode: data dir: %w", err)
	}
	log := o.Log
	s = &Service{o: o}
	if o.Lock == nil {
		s.lock, err = dirlock.Acquire(o.DataDir)
		if err != nil {
			return nil, fmt.Errorf("headnode: %w", err)
		}
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, s.Close(context.WithoutCancel(ctx)))
			s = nil
		}
	}()

	s.Access = o.Etcd
	if len(s.Access.Endpoints) == 0 {
		dir := filepath.Join(o.DataDir, "etcd")
		if o.FreshEtcd {
			if err := os.RemoveAll(dir); err != nil {
				return s, fmt.Errorf("headnode: fresh etcd: %w", err)
			}
		}
		s.Etcd, err = etcd.Start(ctx, etcd.Options{Dir: dir, ClientAddrs: o.EtcdClientAddrs, PeerAddr: o.EtcdPeerAddr,
			Security: o.EtcdSecurity, Log: log})
		if err != nil {
			return s, fmt.Errorf("headnode: %w", err)
		}
		s.Access = s.Etcd.Root()
	} else if len(o.EtcdSecurity.Users) > 0 {
		// An external etcd: its TLS and its authentication switch are
		// its operator's; the users Patroni and the agents log in as are
		// ours to make.
		switch err := etcd.EnsureUsers(ctx, s.Access, o.EtcdSecurity.Users, log); {
		case errors.Is(err, etcd.ErrAuthOff):
			log.Warn("external etcd: users made, but "+err.Error(), "endpoints", s.Access.Endpoints)
		case err != nil:
			return s, fmt.Errorf("headnode: external etcd: %w", err)
		}
	}

	if o.StartNodes != nil {
		if err := o.StartNodes(ctx); err != nil {
			return s, err
		}
	}
	s.Clock = journal.NewClock()
	var history []journal.Event
	// <data-dir>/journal/ holds the segments; a journal.jsonl of an
	// earlier version moves in as the first one.
	s.Journal, history, err = journal.Open(filepath.Join(o.DataDir, "journal"), log,
		journal.Options{Clock: s.Clock, Legacy: filepath.Join(o.DataDir, "journal.jsonl")})
	if err != nil {
		return s, fmt.Errorf("headnode: %w", err)
	}
	s.History = headnode.NewEventLog(s.Journal, history)
	s.Head, err = headnode.New(headnode.Options{
		Scope: o.Scope, Timings: o.Timings, Members: o.Members, Etcd: s.Access,
		Power: o.Power, Journal: s.History, JournalErr: s.Journal.Err, Clock: s.Clock.Now,
		HAProxyDir: o.DataDir, HAProxyBind: o.HAProxyBind, StatsBind: o.StatsBind,
		PrimaryPort: o.PrimaryPort, ReplicaPort: o.ReplicaPort, StatsPort: o.StatsPort,
		OperatorToken: o.OperatorToken, Log: log.With("component", "headnode"),
	})
	if err != nil {
		return s, err
	}
	if err := s.Head.StartHAProxy(ctx); err != nil {
		return s, err
	}
	if o.ProbeDSN != "" {
		if err := reachable(ctx, o.ProbeDSN); err != nil {
			return s, fmt.Errorf("headnode: probe %s: %w", o.ProbeSource, err)
		}
		s.Probe = probe.New(probe.Options{DSN: o.ProbeDSN, SetupDSN: o.ProbeSetupDSN, Interval: o.ProbeInterval, Clock: s.Clock,
			StartAfter: probe.LastSeq(history), Log: log.With("component", "probe")})
	}
	s.Writable, err = writableWatcher(o, s.History, s.Clock.Now)
	if err != nil {
		return s, err
	}
	s.Hub = dashboard.NewHub(dashboard.HubOptions{Log: log.With("component", "dashboard")})
	if o.Switches.Pins != nil {
		sw := o.Switches
		s.Switches, err = headnode.NewSwitches(headnode.SwitchesOptions{Head: s.Head, Events: s.History, Pins: sw.Pins,
			Virtual: sw.Virtual, Config: sw.Config, Window: sw.Window, Poll: sw.Poll, Observe: sw.Observe,
			Log: log.With("component", "fiu")})
		if err != nil {
			return s, err
		}
	}
	var ps headnode.ProbeStats
	if s.Probe != nil {
		ps = s.Probe
	}
	var positions headnode.SwitchPositions
	if s.Switches != nil {
		positions = s.Switches
	}
	journalDir := s.Journal.Dir()
	s.Observer = headnode.NewObserver(headnode.ObserverOptions{Head: s.Head, Events: s.History, History: history,
		ReadJournal: func() ([]journal.Event, error) { return journal.ReadDir(journalDir) },
		PatroniLogs: patroniLogs(o.Agent),
		Probe:       ps, Switches: positions, Hub: s.Hub, Log: log.With("component", "observer")})
	if err := s.startFaults(); err != nil {
		return s, err
	}
	if o.Agent != nil {
		s.Forks = forks.New(forks.Options{
			Agent: func(node string) (forks.Agent, error) {
				c, ok := o.Agent(node, forkAgentTimeout)
				if !ok {
					return nil, fmt.Errorf("%w: %q", forks.ErrUnknownNode, node)
				}
				return c, nil
			},
			State: s.Head.State, Record: s.History.Append, Log: log.With("component", "forks")})
	}
	if err := s.startRuns(); err != nil {
		return s, err
	}

	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return s, fmt.Errorf("headnode: listen %s: %w", o.Listen, err)
	}
	s.URL = "http://" + ln.Addr().String()
	s.srv = newAPIServer(s.handler(), log.With("component", "api"))

	s.group = newGroup(ctx, log)
	s.group.run("head node", s.Head.Run)
	if s.Probe != nil {
		s.group.run("probe", func(ctx context.Context) error { return s.Probe.Run(ctx, s.History) })
	}
	if s.Writable != nil {
		s.group.run("writable watcher", s.Writable.Run)
	}
	if s.Switches != nil {
		s.group.run("switches", s.Switches.Run)
	}
	s.group.run("dashboard hub", s.Hub.Run)
	s.group.run("observer", func(ctx context.Context) error { s.Observer.Run(ctx); return nil })
	if s.Etcd != nil {
		s.group.run("etcd", func(ctx context.Context) error {
			select {
			case <-ctx.Done():
				return nil
			case err := <-s.Etcd.Err():
				return fmt.Errorf("embedded etcd: %w", err)
			}
		})
	}
	s.group.run("api", func(ctx context.Context) error {
		if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("api: %w", err)
		}
		// Close shut the server down before it stops the group: that is
		// the end of the API, not a failure of it.
		<-ctx.Done()
		return nil
	})
	return s, nil
}

// handler is the one API of the head node, the same on a booth and in the
// demo; README's API table lists it.
func (s *Service) handler() http.Handler {
	mux := s.Head.Handler()
	s.Observer.Mount(mux, nil)
	if s.Switches != nil {
		s.Switches.Mount(mux)
	}
	s.Faults.Mount(mux, s.Head.RequireOperator)
	mux.Handle("GET /api/v1/fault-kinds", faultKinds{s.Faults})
	if s.Forks != nil {
		// The operator check first: only an operator's request may
		// hold its connection for minutes.
		s.Forks.Mount(mux, func(h http.Handler) http.Handler {
			return s.Head.RequireOperator(httpserver.Long(forkRequestTimeout, h))
		})
	}
	if s.Runs != nil {
		s.Runs.Mount(mux, s.Head.RequireOperator)
	}
	if s.o.Mount != nil {
		s.o.Mount(mux)
	}
	return mux
}

// Done is closed once a part of the run group stopped (or Close ran);
// Err then says why.
func (s *Service) Done() <-chan struct{} { return s.group.stopped }

// Err is the first error of the run group, nil while all parts run or
// after a clean stop.
func (s *Service) Err() error { return s.group.Err() }

// Close stops the head node in order: scenario runs (each restores what
// it changed while the head node still serves), faults (recovered), the
// API, the run group, the journal, etcd, and the power driver (a relay
// board releases every node). Closing twice is safe.
func (s *Service) Close(ctx context.Context) error {
	var errs []error
	if s.Runs != nil {
		if err := s.Runs.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("scenario runs: %w", err))
		}
		s.Runs = nil
	}
	if s.Faults != nil {
		if err := s.Faults.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("recover faults: %w", err))
		}
	}
	if s.srv != nil {
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_ = s.srv.Shutdown(sctx)
		cancel()
	}
	if s.group != nil {
		if err := s.group.stop(); err != nil {
			errs = append(errs, err)
		}
	}
	if s.etcdc != nil {
		s.etcdc.Close()
		s.etcdc = nil
	}
	if s.Journal != nil {
		if err := s.Journal.Close(); err != nil {
			errs = append(errs, err)
		}
		s.Journal = nil
	}
	if s.Etcd != nil {
		s.Etcd.Close()
		s.Etcd = nil
	}
	if r, ok := s.o.Power.(releaser); ok {
		if err := r.Release(ctx); err != nil {
			errs = append(errs, fmt.Errorf("release power: %w", err))
		}
	}
	// Last: nothing of this head node writes to the directory any more.
	if err := s.lock.Release(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// releaser is a power driver whose outputs outlive the process (relays):
// Close de-energises them so no node stays cut by a head node that is
// gone.
type releaser interface {
	Release(ctx context.Context) error
}

// patroniLogs fetches a node's Patroni output from its agent for the
// outage records; nil without agents.
func patroniLogs(agent func(node string, timeout time.Duration) (*agentapi.Client, bool)) headnode.PatroniLogs {
	if agent == nil {
		return nil
	}
	return func(ctx context.Context, node string, from, to time.Time, max int) ([]journal.LogLine, error) {
		c, ok := agent(node, 10*time.Second)
		if !ok {
			return nil, fmt.Errorf("patroni log of %q: no agent known", node)
		}
		l, err := c.PatroniLog(ctx, agentapi.LogQuery{Since: from, Until: to, Max: max})
		if err != nil {
			return nil, fmt.Errorf("patroni log of %q: %w", node, err)
		}
		out := make([]journal.LogLine, 0, len(l.Lines))
		for _, line := range l.Lines {
			out = append(out, journal.LogLine{At: line.At, Text: line.Text})
		}
		return out, nil
	}
}

// startFaults builds the fault manager over the head node's power, the
// agents and the rig's means.
func (s *Service) startFaults() error {
	o := s.o
	cli, err := s.Access.New(3 * time.Second)
	if err != nil {
		return fmt.Errorf("headnode: fault manager: %w", err)
	}
	s.etcdc = cli
	env := faults.Env{Power: s.Head, Freezer: o.Freezer, Starver: o.Starver, Files: o.Files, MaxFill: o.MaxFill,
		State: s.Head.State, Etcd: o.NodeEtcd}
	if o.Agent != nil {
		env.Agent = func(node string) (faults.Agent, error) {
			c, ok := o.Agent(node, 30*time.Second)
			if !ok {
				return nil, fmt.Errorf("%w: %q", faults.ErrUnknownTarget, node)
			}
			return c, nil
		}
	}
	var kinds []faults.Injector
	for _, k := range faults.Kinds() {
		if !usable(k.Info().Kind, env) {
			continue
		}
		kinds = append(kinds, k)
	}
	s.Faults = faults.New(faults.Options{Env: env, Kinds: kinds, Record: s.History, Clock: s.Clock.Now,
		Etcd: cli, Scope: o.Scope, Log: o.Log.With("component", "faults")})
	return nil
}

// usable says whether the head node has what a fault kind acts through,
// so the kinds it lists are the kinds it can inject.
func usable(k faults.Kind, env faults.Env) bool {
	switch k {
	case faults.KindPower:
		return true
	case faults.KindFreeze:
		return env.Freezer != nil
	case faults.KindCPUStarve:
		return env.Starver != nil
	case faults.KindCorrupt:
		return env.Files != nil
	case faults.KindEtcdOutage:
		return env.Agent != nil && env.Etcd.Address != "" && env.Etcd.Port != 0
	}
	return env.Agent != nil
}

// startRuns serves scenario runs from the embedded library, played in
// this process against the one history.
func (s *Service) startRuns() error {
	lib, err := scenarios.LoadAll(scenarios.Library(), ".")
	if err != nil {
		return fmt.Errorf("headnode: scenario library: %w", err)
	}
	shape := s.o.Shape
	shape.Nodes, shape.Timings, shape.Forks = len(s.o.Members), s.o.Timings, s.Forks != nil
	shape.FaultKinds = []string{}
	for _, k := range s.Faults.Kinds() {
		shape.FaultKinds = append(shape.FaultKinds, string(k.Info().Kind))
	}
	log := s.o.Log.With("component", "scenario-runs")
	backend := &scenarios.LocalBackend{Head: s.Local()}
	s.Runs, err = runapi.New(runapi.Options{
		Scenarios: lib,
		Shape:     shape,
		Runner: func(ctx context.Context, job runapi.Job) scenarios.Result {
			return scenarios.RunScenario(ctx, job.Scenario, scenarios.RunOptions{Backend: backend, Log: log,
				Progress: func(_, line string) { job.Progress(line) }})
		},
		Clock: s.Clock.Now,
		Log:   log,
	})
	if err != nil {
		return fmt.Errorf("headnode: scenario runs: %w", err)
	}
	return nil
}

// Local is the head node as an in-process scenario run drives it.
func (s *Service) Local() scenarios.Local {
	l := scenarios.Local{Now: s.Clock.Now, State: s.Head.State, SetPower: s.Head.SetPower,
		Events: s.History.Events, Record: s.History.Append, Hold: s.History.Hold,
		Faults: s.Faults, Forks: s.Forks, Logs: s.o.Logs}
	if s.Probe != nil {
		// Over the whole journal's acknowledged numbers, which the
		// event log keeps in ranges: its events are only the recent ones.
		l.ReadBack = func(ctx context.Context) (journal.Event, error) {
			return s.Probe.ReadBackRanges(ctx, s.History.Acked())
		}
	}
	return l
}

// writableWatcher is the watcher of the members' PostgreSQL where the
// probe runs (it borrows the probe DSN's credentials), nil elsewhere.
func writableWatcher(o Options, rec writable.Recorder, clock func() time.Time) (*writable.Watcher, error) {
	if o.ProbeDSN == "" || o.WritableOff {
		return nil, nil
	}
	var nodes []writable.Node
	for _, m := range o.Members {
		nodes = append(nodes, writable.Node{Name: m.Name, Address: m.Address, Port: cluster.PostgresPort})
	}
	w, err := writable.New(writable.Options{Nodes: nodes, DSN: o.ProbeDSN, Record: rec, Clock: clock,
		Log: o.Log.With("component", "writable")})
	if err != nil {
		return nil, fmt.Errorf("headnode: probe %s: %w", o.ProbeSource, err)
	}
	return w, nil
}

// reachable checks the probe's DSN parses and its host answers on TCP: a
// probe pointed at nothing would only ever record errors.
func reachable(ctx context.Context, dsn string) error {
	host, port, err := dsnHostPort(dsn)
	if err != nil {
		return err
	}
	// HAProxy, just started, binds its listeners in a few milliseconds.
	deadline := time.Now().Add(5 * time.Second)
	for {
		d := net.Dialer{Timeout: 2 * time.Second}
		c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, port))
		if err == nil {
			return c.Close()
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("unreachable: %w", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// dsnHostPort reads the host and port of a postgres:// URL; a DSN without
// a host would make pgx dial a unix socket, never HAProxy.
func dsnHostPort(dsn string) (string, string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		// url.Error quotes the whole URL, password included: keep only
		// the reason.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return "", "", fmt.Errorf("DSN: not a valid URL: %w", err)
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return "", "", fmt.Errorf("DSN %q: want a postgres:// URL", redact(u))
	}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		return "", "", fmt.Errorf("DSN %q has no host", redact(u))
	}
	if port == "" {
		port = "5432"
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return "", "", fmt.Errorf("DSN %q: port %q out of range", redact(u), port)
	}
	return host, port, nil
}

func redact(u *url.URL) string { return u.Redacted() }
