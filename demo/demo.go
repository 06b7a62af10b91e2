// Package demo brings up a whole rig on one machine: the node containers on
// a private network, the head node's embedded etcd, HAProxy and the head
// node itself with its API. `redswitch demo`, the integration tests, the
// scenario runner and the benchmarks all start clusters through it.
package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"

	"github.com/redswitch/redswitch/agentapi"
	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/dashboard"
	"github.com/redswitch/redswitch/faults"
	"github.com/redswitch/redswitch/fiu"
	"github.com/redswitch/redswitch/forks"
	"github.com/redswitch/redswitch/headnode"
	"github.com/redswitch/redswitch/headnode/etcd"
	"github.com/redswitch/redswitch/journal"
	"github.com/redswitch/redswitch/power"
	"github.com/redswitch/redswitch/probe"
	"github.com/redswitch/redswitch/rig"
)

// DefaultImage is the node image `make image` tags.
const DefaultImage = "redswitch-node:latest"

// Options configure a demo rig.
type Options struct {
	Nodes   int
	Timings cluster.Timings
	Scope   string
	Image   string
	// DataDir keeps etcd's data, the journal and HAProxy's config.
	DataDir string
	// Listen is the API and dashboard address; "127.0.0.1:0" picks a port.
	Listen string
	// OperatorToken; generated when empty.
	OperatorToken string
	// HAProxy listeners on 127.0.0.1; 0 picks free ports.
	PrimaryPort, ReplicaPort, StatsPort int
	// Ephemeral rigs (tests) are swept by later runs once this process is gone.
	Ephemeral             bool
	SynchronousMode       bool
	SynchronousModeStrict bool
	FailsafeMode          bool
	MaximumLagOnFailover  int64
	Tags                  map[string][]string
	// Probe starts the commit probe writing through HAProxy's primary port.
	Probe bool
	// ProbeInterval between probe writes (10 ms).
	ProbeInterval time.Duration
	// PostmortemForks has each agent keep a running fork of a crashed
	// primary's data directory before pg_rewind discards what only it had.
	PostmortemForks bool
	// VolumeSize gives each node a loop-mounted btrfs data volume of its
	// own of this many bytes, so a full disk stays in one node and forks
	// are snapshots. 0 means DefaultVolumeSize where the machine allows it
	// (root, mkfs.btrfs), none elsewhere; negative means none.
	VolumeSize int64
	// Power is how a node's power is cut: PowerContainer (default) kills
	// its container, PowerAgent asks its agent for a soft cut, as on a
	// machine with neither relay nor container.
	Power string
	// Mount adds routes (dashboard, probe, metrics) to the API server.
	Mount func(mux *http.ServeMux, d *Demo)
	Log   *slog.Logger
}

// DefaultVolumeSize is each node's data volume: sparse, so it costs only
// what the database writes.
const DefaultVolumeSize = 2 << 30

// The power modes of a demo rig.
const (
	PowerContainer = "container"
	PowerAgent     = "agent"
)

// Demo is a running rig.
type Demo struct {
	Opts     Options
	Rig      *rig.Rig
	Etcd     *etcd.Server
	Head     *headnode.HeadNode
	Journal  *journal.Journal
	History  []journal.Event
	URL      string
	Token    string
	DSN      string
	Replicas string
	Clock    *journal.Clock
	// Probe is the commit probe, when Options.Probe is set.
	Probe *probe.Probe
	// Observer analyses the history for the API, metrics and dashboard.
	Observer *headnode.Observer
	// Switches are the virtual Failure Injection Unit; Virtual flips them.
	Switches *headnode.Switches
	Virtual  *fiu.Virtual
	Hub      *dashboard.Hub

	faults *faults.Manager
	forks  *forks.Service
	// clusterToken is what the node agents accept from this run.
	clusterToken string

	rec    *headnode.EventLog
	docker *testcontainers.DockerClient
	srv    *http.Server
	cancel context.CancelFunc
	done   chan error
	keep   bool
	// running is set once the background goroutines' waiter runs.
	running   bool
	closeOnce sync.Once
	closeErr  error
}

// stateFile records what a restarted head node needs to adopt a running rig.
type stateFile struct {
	RigID      string `json:"rig_id"`
	Scope      string `json:"scope"`
	Nodes      int    `json:"nodes"`
	Gateway    string `json:"gateway"`
	EtcdPort   int    `json:"etcd_port"`
	PeerPort   int    `json:"peer_port"`
	Timings    string `json:"timings"`
	NetworkCID string `json:"network"`
	VolumeSize int64  `json:"volume_size,omitempty"`
}

func (o *Options) defaults() error {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Nodes == 0 {
		o.Nodes = 3
	}
	if o.Timings.Name == "" {
		t, _ := cluster.ParseTimings("aggressive")
		o.Timings = t
	}
	if err := o.Timings.Validate(); err != nil {
		return fmt.Errorf("timings: %w", err)
	}
	if o.Scope == "" {
		o.Scope = "redswitch"
	}
	if o.Image == "" {
		o.Image = DefaultImage
	}
	if o.DataDir == "" {
		return errors.New("demo: data dir is required")
	}
	abs, err := filepath.Abs(o.DataDir)
	if err != nil {
		return fmt.Errorf("demo: data dir: %w", err)
	}
	o.DataDir = abs
	if o.Listen == "" {
		o.Listen = "127.0.0.1:8080"
	}
	if o.VolumeSize == 0 {
		if err := rig.VolumesSupported(); err != nil {
			o.Log.Warn("nodes keep their data in the container: disk-full faults and snapshot forks are unavailable", "why", err)
			o.VolumeSize = -1
		} else {
			o.VolumeSize = DefaultVolumeSize
		}
	}
	switch o.Power {
	case "":
		o.Power = PowerContainer
	case PowerContainer, PowerAgent:
	default:
		return fmt.Errorf("demo: power %q: want %s or %s", o.Power, PowerContainer, PowerAgent)
	}
	return nil
}

// Start brings the rig up. On error everything already started is torn
// down again, and the error says which step failed.
func Start(ctx context.Context, o Options) (d *Demo, err error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("demo: data dir: %w", err)
	}
	cli, err := rig.Docker(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := cli.ImageInspect(ctx, o.Image); err != nil {
		cli.Close()
		return nil, fmt.Errorf("demo: node image %s is missing: build it with `make image` (%w)", o.Image, err)
	}
	d = &Demo{Opts: o, docker: cli, done: make(chan error, 1)}
	defer func() {
		if err != nil {
			err = errors.Join(err, d.Close(context.WithoutCancel(ctx)))
			d = nil
		}
	}()

	state, adopt := d.adoptable(ctx)
	keep := ""
	if adopt {
		keep = state.RigID
	}
	if n, err := rig.SweepLeftovers(ctx, cli, o.DataDir, keep, o.Log); err != nil {
		o.Log.Warn("could not remove all leftovers", "err", err)
	} else if n > 0 {
		o.Log.Info("removed leftovers of earlier runs", "rigs", n)
	}

	if adopt {
		o.Log.Info("adopting the running cluster", "rig", state.RigID)
		d.Rig, err = rig.Adopt(ctx, cli, state.RigID, rigOptions(o, state.RigID))
		if err != nil {
			return d, err
		}
	} else {
		// A fresh cluster needs a fresh etcd: stale Patroni keys would
		// claim a leader that does not exist.
		_ = os.RemoveAll(filepath.Join(o.DataDir, "etcd"))
		d.Rig, err = rig.CreateNetwork(ctx, cli, rigOptions(o, ""))
		if err != nil {
			return d, err
		}
		var ep, pp int
		if err := fillPorts(&ep, &pp); err != nil {
			return d, err
		}
		state = stateFile{RigID: d.Rig.ID(), Scope: o.Scope, Nodes: o.Nodes, Gateway: d.Rig.Gateway(),
			EtcdPort: ep, PeerPort: pp, Timings: o.Timings.Name, VolumeSize: max(o.VolumeSize, 0)}
	}
	d.Etcd, err = etcd.Start(ctx, etcd.Options{
		Dir:         filepath.Join(o.DataDir, "etcd"),
		ClientAddrs: []string{net.JoinHostPort("127.0.0.1", strconv.Itoa(state.EtcdPort)), net.JoinHostPort(state.Gateway, strconv.Itoa(state.EtcdPort))},
		PeerAddr:    net.JoinHostPort("127.0.0.1", strconv.Itoa(state.PeerPort)),
		Log:         o.Log,
	})
	if err != nil {
		return d, fmt.Errorf("demo: %w", err)
	}
	if err := writeState(o.DataDir, state); err != nil {
		return d, err
	}
	if !adopt {
		if err := d.Rig.StartNodes(ctx, []string{net.JoinHostPort(state.Gateway, strconv.Itoa(state.EtcdPort))}); err != nil {
			return d, err
		}
	}

	d.Clock = journal.NewClock()
	d.Journal, d.History, err = journal.Open(filepath.Join(o.DataDir, "journal.jsonl"), o.Log, journal.Options{Clock: d.Clock})
	if err != nil {
		return d, fmt.Errorf("demo: %w", err)
	}
	d.rec = headnode.NewEventLog(d.Journal, d.History)
	if err := fillPorts(&o.PrimaryPort, &o.ReplicaPort, &o.StatsPort); err != nil {
		return d, err
	}
	d.Opts = o
	d.Token = o.OperatorToken
	if d.Token == "" {
		d.Token = newToken()
	}
	// The agents accept the faults and soft power cuts of whoever holds
	// this run's cluster token.
	d.clusterToken = newToken()
	tctx, tcancel := context.WithTimeout(ctx, 30*time.Second)
	err = d.Rig.SetClusterToken(tctx, agentapi.TokenFile, d.clusterToken)
	tcancel()
	if err != nil {
		return d, fmt.Errorf("demo: give the agents their token: %w", err)
	}
	var members []headnode.Member
	for _, n := range d.Rig.Nodes() {
		members = append(members, headnode.Member{Name: n.Name, Address: n.Address})
	}
	var drv headnode.Power = d.Rig
	if o.Power == PowerAgent {
		agents := map[string]power.AgentClient{}
		for _, m := range members {
			// Polled every second: a node that does not answer must not
			// hold the poll up for long.
			if c, ok := d.agent(m.Name, 5*time.Second); ok {
				agents[m.Name] = c
			}
		}
		drv = power.NewAgent(agents)
	}
	d.Head, err = headnode.New(headnode.Options{
		Scope: o.Scope, Timings: o.Timings, Members: members,
		Etcd: d.Etcd.Endpoints()[:1], Power: drv, Journal: d.rec, Clock: d.Clock.Now,
		HAProxyDir: o.DataDir, HAProxyBind: "127.0.0.1",
		PrimaryPort: o.PrimaryPort, ReplicaPort: o.ReplicaPort, StatsPort: o.StatsPort,
		OperatorToken: d.Token, Log: o.Log.With("component", "headnode"),
	})
	if err != nil {
		return d, err
	}
	d.DSN = fmt.Sprintf("postgres://postgres:postgres@127.0.0.1:%d/postgres", o.PrimaryPort)
	d.Replicas = fmt.Sprintf("postgres://postgres:postgres@127.0.0.1:%d/postgres", o.ReplicaPort)

	if err := d.Head.StartHAProxy(ctx); err != nil {
		return d, err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	d.cancel = cancel
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := d.Head.Run(runCtx); err != nil {
			o.Log.Error("head node stopped", "err", err)
		}
	}()
	if o.Probe {
		d.Probe = probe.New(probe.Options{DSN: d.DSN, Interval: o.ProbeInterval, Clock: d.Clock,
			StartAfter: probe.LastSeq(d.History), Log: o.Log.With("component", "probe")})
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := d.Probe.Run(runCtx, d.rec); err != nil {
				o.Log.Error("probe stopped", "err", err)
			}
		}()
	}
	err = d.startObservers(runCtx, &wg)
	d.running = true
	go func() {
		wg.Wait()
		d.done <- nil
	}()
	if err != nil {
		return d, err
	}

	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return d, fmt.Errorf("demo: listen %s: %w", o.Listen, err)
	}
	mux := d.Head.Handler()
	d.mountExtras(mux)
	if o.Mount != nil {
		o.Mount(mux, d)
	}
	d.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = d.srv.Serve(ln) }()
	d.URL = "http://" + ln.Addr().String()
	return d, nil
}

func rigOptions(o Options, id string) rig.Options {
	return rig.Options{ID: id, Scope: o.Scope, Nodes: o.Nodes, Image: o.Image, Timings: o.Timings,
		SynchronousMode: o.SynchronousMode, SynchronousModeStrict: o.SynchronousModeStrict,
		FailsafeMode: o.FailsafeMode, MaximumLagOnFailover: o.MaximumLagOnFailover, Tags: o.Tags,
		DataDir: o.DataDir, Ephemeral: o.Ephemeral, VolumeSize: max(o.VolumeSize, 0), PostmortemForks: o.PostmortemForks, Log: o.Log}
}

// adoptable reports whether the data dir describes a rig whose containers
// still exist: a head node restarted while its nodes run.
func (d *Demo) adoptable(ctx context.Context) (stateFile, bool) {
	b, err := os.ReadFile(filepath.Join(d.Opts.DataDir, "rig.json"))
	if err != nil {
		return stateFile{}, false
	}
	var s stateFile
	if err := json.Unmarshal(b, &s); err != nil || s.RigID == "" {
		return stateFile{}, false
	}
	if s.Scope != d.Opts.Scope || s.Nodes != d.Opts.Nodes || s.VolumeSize != max(d.Opts.VolumeSize, 0) {
		return stateFile{}, false
	}
	f := client.Filters{}
	f.Add("label", rig.LabelRig+"="+s.RigID)
	res, err := d.docker.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
	if err != nil || len(res.Items) != s.Nodes {
		return stateFile{}, false
	}
	return s, true
}

func writeState(dir string, s stateFile) error {
	b, _ := json.MarshalIndent(s, "", "  ")
	tmp := filepath.Join(dir, "rig.json.tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("demo: write rig state: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "rig.json")); err != nil {
		return fmt.Errorf("demo: write rig state: %w", err)
	}
	return nil
}

// Detach makes Close leave the containers running, so a restarted head
// node can adopt them.
func (d *Demo) Detach() { d.keep = true }

// Close stops the head node and etcd and removes every container and
// network the rig created, collecting all errors. Closing twice is safe.
func (d *Demo) Close(ctx context.Context) error {
	d.closeOnce.Do(func() { d.closeErr = d.close(ctx) })
	return d.closeErr
}

func (d *Demo) close(ctx context.Context) error {
	var errs []error
	if d.faults != nil {
		// Recover every fault still active before the nodes go away.
		if err := d.faults.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("recover faults: %w", err))
		}
	}
	if d.srv != nil {
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_ = d.srv.Shutdown(sctx)
		cancel()
	}
	if d.cancel != nil {
		d.cancel()
		if d.running {
			<-d.done
		}
	}
	if d.Journal != nil {
		if err := d.Journal.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if d.Rig != nil && !d.keep {
		if err := d.Rig.Close(ctx); err != nil {
			errs = append(errs, err)
		}
		_ = os.Remove(filepath.Join(d.Opts.DataDir, "rig.json"))
	}
	if d.Etcd != nil {
		d.Etcd.Close()
	}
	if d.docker != nil {
		d.docker.Close()
	}
	return errors.Join(errs...)
}

// fillPorts sets every zero port to a free one, holding all the listeners
// until every port is chosen so no two get the same number.
func fillPorts(ports ...*int) error {
	var open []net.Listener
	defer func() {
		for _, l := range open {
			l.Close()
		}
	}()
	for _, p := range ports {
		if *p != 0 {
			continue
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("demo: find a free port: %w", err)
		}
		open = append(open, l)
		*p = l.Addr().(*net.TCPAddr).Port
	}
	return nil
}

func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
