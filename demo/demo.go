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
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"

	"github.com/redswitch/redswitch/agentapi"
	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/credentials"
	"github.com/redswitch/redswitch/dirlock"
	"github.com/redswitch/redswitch/fiu"
	"github.com/redswitch/redswitch/headnode"
	"github.com/redswitch/redswitch/headnode/etcd"
	"github.com/redswitch/redswitch/headnode/service"
	"github.com/redswitch/redswitch/power"
	"github.com/redswitch/redswitch/rig"
	"github.com/redswitch/redswitch/scenarios"
	"github.com/redswitch/redswitch/scenarios/runapi"
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
	// machine with neither relay nor container, PowerPaired offers both,
	// chosen before each cut through Demo.PowerChoice.
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
	// PowerPaired cuts with either, PowerContainer until told otherwise:
	// a bench compares silent and soft cuts on one cluster.
	PowerPaired = "paired"
)

// Demo is a running rig: the node containers and the head node service
// composed as on a booth.
type Demo struct {
	*service.Service
	Opts     Options
	Rig      *rig.Rig
	Token    string
	DSN      string
	Replicas string
	// Virtual flips the virtual Failure Injection Unit's switches.
	Virtual *fiu.Virtual
	// PowerChoice picks the driver of the next cut (PowerContainer or
	// PowerAgent); nil unless Options.Power is PowerPaired.
	PowerChoice *power.Choice

	// clusterToken is what the node agents accept from this run.
	clusterToken string

	docker    *testcontainers.DockerClient
	lock      *dirlock.Lock     // the data directory, held from before the sweep to the end of Close
	members   []headnode.Member // the nodes as planned, known before they start
	keep      bool
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
	case PowerContainer, PowerAgent, PowerPaired:
	default:
		return fmt.Errorf("demo: power %q: want %s, %s or %s", o.Power, PowerContainer, PowerAgent, PowerPaired)
	}
	return nil
}

// Start brings the rig up. On error everything already started is torn
// down again, and the error says which step failed.
func Start(ctx context.Context, o Options) (d *Demo, err error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	// The lock comes before the sweep: a second demo on this directory
	// would take the first one's live rig for a leftover.
	lock, err := dirlock.Acquire(o.DataDir)
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	cli, err := rig.Docker(ctx)
	if err != nil {
		return nil, errors.Join(err, lock.Release())
	}
	if _, err := cli.ImageInspect(ctx, o.Image); err != nil {
		cli.Close()
		return nil, errors.Join(fmt.Errorf("demo: node image %s is missing: build it with `make image` (%w)", o.Image, err), lock.Release())
	}
	d = &Demo{Opts: o, docker: cli, lock: lock}
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

	// The nodes' passwords live with the data dir: an adopted cluster
	// keeps the ones it was made with.
	names := make([]string, max(o.Nodes, state.Nodes))
	for i := range names {
		names[i] = rig.NodeName(i + 1)
	}
	// etcd speaks TLS with logins as on the booth: the demo measures
	// what the booth runs. The CA first (the nodes need it); the
	// certificate names the gateway once the network has one.
	secretsDir := filepath.Join(o.DataDir, "secrets")
	set, err := credentials.EnsureSet(secretsDir, names, nil)
	if err != nil {
		return d, fmt.Errorf("demo: %w", err)
	}
	creds := set.Booth
	if adopt {
		o.Log.Info("adopting the running cluster", "rig", state.RigID)
		d.Rig, err = rig.Adopt(ctx, cli, state.RigID, rigOptions(o, state.RigID, creds, set.CA))
		if err != nil {
			return d, err
		}
	} else {
		d.Rig, err = rig.CreateNetwork(ctx, cli, rigOptions(o, "", creds, set.CA))
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
	// The nodes start only once etcd serves (StartNodes below): their
	// names and addresses are known from the rig's plan, not its
	// containers.
	count := o.Nodes
	if adopt {
		count = state.Nodes
	}
	var members []headnode.Member
	for i := 1; i <= count; i++ {
		members = append(members, headnode.Member{Name: rig.NodeName(i), Address: d.Rig.NodeAddress(i)})
	}
	d.members = members
	var drv headnode.Power = d.Rig
	if o.Power == PowerAgent || o.Power == PowerPaired {
		agents := map[string]power.AgentClient{}
		for _, m := range members {
			// Polled every second: a node that does not answer must not
			// hold the poll up for long.
			if c, ok := d.agent(m.Name, 5*time.Second); ok {
				agents[m.Name] = c
			}
		}
		drv = power.NewAgent(agents)
		if o.Power == PowerPaired {
			d.PowerChoice, err = power.NewChoice([]string{PowerContainer, PowerAgent},
				map[string]power.Driver{PowerContainer: d.Rig, PowerAgent: drv})
			if err != nil {
				return d, fmt.Errorf("demo: %w", err)
			}
			drv = d.PowerChoice
		}
	}
	sw, err := d.switches(ctx, members, adopt)
	if err != nil {
		return d, err
	}
	// A node with a bounded volume of its own may be filled whole; one
	// whose data shares the host's disk keeps the faults' default bound,
	// which refuses.
	var maxFill int64
	if d.Rig.Volumes() {
		maxFill = o.VolumeSize
	}
	if set, err = credentials.EnsureSet(secretsDir, names, []string{state.Gateway}); err != nil {
		return d, fmt.Errorf("demo: %w", err)
	}
	nodeNames := make([]string, len(members))
	for i, m := range members {
		nodeNames[i] = m.Name
	}
	d.DSN = localDSN(credentials.SuperuserName, creds.Superuser, o.PrimaryPort)
	d.Replicas = localDSN(credentials.SuperuserName, creds.Superuser, o.ReplicaPort)
	so := service.Options{
		Scope: o.Scope, Timings: o.Timings, Members: members, DataDir: o.DataDir, Lock: d.lock,
		EtcdClientAddrs: []string{net.JoinHostPort("127.0.0.1", strconv.Itoa(state.EtcdPort)), net.JoinHostPort(state.Gateway, strconv.Itoa(state.EtcdPort))},
		EtcdPeerAddr:    net.JoinHostPort("127.0.0.1", strconv.Itoa(state.PeerPort)),
		EtcdSecurity:    etcd.BoothSecurity(set.PKI, creds, o.Scope, nodeNames),
		// A fresh cluster needs a fresh etcd: stale Patroni keys would
		// claim a leader that does not exist.
		FreshEtcd: !adopt,
		NodeEtcd:  agentapi.Peer{Address: state.Gateway, Port: state.EtcdPort},
		StartNodes: func(ctx context.Context) error {
			if err := writeState(o.DataDir, state); err != nil {
				return err
			}
			if !adopt {
				if err := d.Rig.StartNodes(ctx, []string{net.JoinHostPort(state.Gateway, strconv.Itoa(state.EtcdPort))}); err != nil {
					return err
				}
			}
			tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			if err := d.Rig.SetClusterToken(tctx, agentapi.TokenFile, d.clusterToken); err != nil {
				return fmt.Errorf("demo: give the agents their token: %w", err)
			}
			return nil
		},
		HAProxyBind: "127.0.0.1", PrimaryPort: o.PrimaryPort, ReplicaPort: o.ReplicaPort, StatsPort: o.StatsPort,
		ProbeInterval: o.ProbeInterval,
		Power:         drv, Switches: sw,
		Agent: d.agent, Freezer: d.Rig, Starver: d.Rig, Files: d.Rig, MaxFill: maxFill, Logs: d.Rig.Logs,
		Shape:  shape(o),
		Listen: o.Listen, OperatorToken: d.Token,
		Log: o.Log,
	}
	if o.Probe {
		// The probe writes as its own role, made through the superuser.
		so.ProbeDSN, so.ProbeSetupDSN = localDSN(credentials.ProbeRole, creds.Probe, o.PrimaryPort), d.DSN
	}
	if o.Mount != nil {
		so.Mount = func(mux *http.ServeMux) { o.Mount(mux, d) }
	}
	d.Service, err = service.Start(ctx, so)
	if err != nil {
		return d, fmt.Errorf("demo: %w", err)
	}
	return d, nil
}

// switches is the virtual Failure Injection Unit: switch i powers node
// ni, as on the booth. A node that is off when the rig is adopted keeps
// its switch off.
func (d *Demo) switches(ctx context.Context, members []headnode.Member, adopted bool) (service.Switches, error) {
	var cfg []fiu.SwitchConfig
	for i, n := range members {
		cfg = append(cfg, fiu.SwitchConfig{ID: i + 1, Node: n.Name, Pin: i + 1, ActiveHigh: true})
	}
	virt, err := fiu.NewVirtual(cfg, nil)
	if err != nil {
		return service.Switches{}, fmt.Errorf("demo: virtual switches: %w", err)
	}
	if adopted {
		for i, n := range members {
			if on, err := d.Rig.Powered(ctx, n.Name); err == nil && !on {
				_ = virt.Set(i+1, false)
			}
		}
	}
	d.Virtual = virt
	return service.Switches{Pins: virt, Virtual: virt, Config: cfg}, nil
}

// shape is the cluster the rig runs, for checking scenarios against:
// its etcd is the head node's, apart from the nodes.
func shape(o Options) runapi.Shape {
	s := runapi.Shape{SynchronousMode: o.SynchronousMode, SynchronousModeStrict: o.SynchronousModeStrict,
		FailsafeMode: o.FailsafeMode, MaximumLagOnFailover: o.MaximumLagOnFailover, EtcdApart: true,
		PostmortemForks: o.PostmortemForks}
	for node, tags := range o.Tags {
		var t scenarios.NodeTags
		for _, tag := range tags {
			switch tag {
			case "nofailover":
				t.NoFailover = true
			case "noloadbalance":
				t.NoLoadBalance = true
			}
		}
		if t != (scenarios.NodeTags{}) {
			if s.Tags == nil {
				s.Tags = map[string]scenarios.NodeTags{}
			}
			s.Tags[node] = t
		}
	}
	return s
}

// localDSN is a login through HAProxy's listener on port.
func localDSN(user, password string, port int) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(user, password),
		Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Path: "/postgres"}
	return u.String()
}

func rigOptions(o Options, id string, creds credentials.Booth, caPEM string) rig.Options {
	return rig.Options{ID: id, Scope: o.Scope, Nodes: o.Nodes, Image: o.Image, Timings: o.Timings,
		SynchronousMode: o.SynchronousMode, SynchronousModeStrict: o.SynchronousModeStrict,
		FailsafeMode: o.FailsafeMode, MaximumLagOnFailover: o.MaximumLagOnFailover, Tags: o.Tags,
		DataDir: o.DataDir, Ephemeral: o.Ephemeral, VolumeSize: max(o.VolumeSize, 0), PostmortemForks: o.PostmortemForks,
		Credentials: creds, EtcdCA: caPEM, Log: o.Log}
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
	if d.Service != nil {
		// Faults are recovered before the nodes go away.
		if err := d.Service.Close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if d.Rig != nil && !d.keep {
		if err := d.Rig.Close(ctx); err != nil {
			errs = append(errs, err)
		}
		_ = os.Remove(filepath.Join(d.Opts.DataDir, "rig.json"))
	}
	if d.docker != nil {
		d.docker.Close()
	}
	if err := d.lock.Release(); err != nil {
		errs = append(errs, err)
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
