// Package rig runs a Patroni cluster's nodes as containers on a private
// Docker network (through testcontainers-go), and cuts and restores their
// power. Every container and network it creates carries labels, so a later
// run can find and remove leftovers, or adopt a cluster that is still
// running after the head node restarted.
package rig

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	mcontainer "github.com/moby/moby/api/types/container"
	mmount "github.com/moby/moby/api/types/mount"
	mnetwork "github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tcnetwork "github.com/testcontainers/testcontainers-go/network"

	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/credentials"
)

// Labels every rig resource carries.
const (
	LabelRig     = "org.redswitch.rig"
	LabelScope   = "org.redswitch.scope"
	LabelNode    = "org.redswitch.node"
	LabelOwner   = "org.redswitch.owner"
	LabelDataDir = "org.redswitch.datadir"
	LabelManaged = "org.redswitch"
	// LabelEphemeral marks rigs of tests and scenario runs: removed by any
	// later run once their owner process is gone.
	LabelEphemeral = "org.redswitch.ephemeral"
)

// Options describe a containerized cluster.
type Options struct {
	// ID names this rig; random when empty.
	ID string
	// Scope is the Patroni scope.
	Scope string
	// Nodes is how many database nodes to run (named n1..nN).
	Nodes int
	// Image is the node image (see deploy/image).
	Image   string
	Timings cluster.Timings
	// SynchronousMode and the rest are passed to every agent.
	SynchronousMode       bool
	SynchronousModeStrict bool
	FailsafeMode          bool
	MaximumLagOnFailover  int64
	// Tags per node name, e.g. {"n3": {"nofailover"}}.
	Tags map[string][]string
	// DataDir is the head node's data dir, recorded as a label so leftovers
	// of earlier runs from the same data dir can be told apart.
	DataDir string
	// Ephemeral rigs (tests, scenario runs) are swept by any later run once
	// their owner process has exited.
	Ephemeral bool
	// PostmortemForks has every agent fork a crashed primary's data
	// directory before it rejoins (see agent.Options).
	PostmortemForks bool
	// VolumeSize, when positive, gives every node a data volume of its
	// own of this many bytes (see volumes.go): a full disk stays inside
	// one node, and forks are snapshots. Needs root and DataDir.
	VolumeSize int64
	// Credentials are the cluster's secrets (default: new random ones).
	// Each node gets its bundle (credentials.Node) as a file, never in
	// its environment, which `docker inspect` shows.
	Credentials credentials.Booth
	// EtcdCA is the PEM of the CA of etcd's certificate; empty when etcd
	// speaks plain HTTP.
	EtcdCA string
	Log    *slog.Logger
}

// NodeCredentialsPath is where a node container finds its credentials.
const NodeCredentialsPath = "/etc/redswitch/credentials.json"

// Credentials are the rig's secrets.
func (r *Rig) Credentials() credentials.Booth { return r.opts.Credentials }

// Node is one database node of the rig.
type Node struct {
	Name        string
	Address     string
	ContainerID string
}

// Rig is a running containerized cluster.
type Rig struct {
	opts    Options
	cli     *testcontainers.DockerClient
	netID   string
	netName string
	subnet  netip.Prefix
	gateway netip.Addr

	// attached rigs drive containers made elsewhere and never remove them.
	attached bool

	mu    sync.Mutex
	nodes map[string]*Node
	ctrs  map[string]*testcontainers.DockerContainer
}

// Docker connects to the Docker daemon and says in one line what is
// missing when it cannot; the daemon has 5 s to answer its ping.
func Docker(ctx context.Context) (*testcontainers.DockerClient, error) {
	return DockerWithin(ctx, 5*time.Second)
}

// DockerWithin is Docker with patience for the ping: a daemon that is
// there but busy (a loaded machine) can take longer than 5 s to answer,
// and a test must not mistake that for no daemon at all.
func DockerWithin(ctx context.Context, patience time.Duration) (*testcontainers.DockerClient, error) {
	if v := os.Getenv("TESTCONTAINERS_RYUK_DISABLED"); v != "true" {
		return nil, errors.New("TESTCONTAINERS_RYUK_DISABLED must be exactly \"true\": the rig cleans up by label itself and no reaper image can be pulled")
	}
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return nil, fmt.Errorf("docker: cannot connect to the Docker daemon (is it running, and may this user use /var/run/docker.sock?): %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, patience)
	defer cancel()
	if _, err := cli.Ping(pctx, client.PingOptions{}); err != nil {
		cli.Close()
		return nil, fmt.Errorf("docker: the daemon does not answer within %s (is it running, and may this user use /var/run/docker.sock?): %w", patience, err)
	}
	return cli, nil
}

// NewID returns a random rig id.
func NewID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "rs" + hex.EncodeToString(b[:])
}

// NodeName is the name of the i-th node, from 1.
func NodeName(i int) string { return "n" + strconv.Itoa(i) }

// CreateNetwork creates the rig's private network. Its gateway address is
// where the nodes reach the head node's etcd.
func CreateNetwork(ctx context.Context, cli *testcontainers.DockerClient, o Options) (*Rig, error) {
	if o.ID == "" {
		o.ID = NewID()
	}
	if o.Nodes < 1 || o.Nodes > 9 {
		return nil, fmt.Errorf("rig: nodes %d: want 1 to 9", o.Nodes)
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Credentials.Superuser == "" {
		names := make([]string, o.Nodes)
		for i := range names {
			names[i] = NodeName(i + 1)
		}
		o.Credentials = credentials.New(names)
	}
	if o.VolumeSize > 0 && o.DataDir == "" {
		return nil, errors.New("rig: node volumes need the data dir to keep their images in")
	}
	r := &Rig{opts: o, cli: cli, nodes: map[string]*Node{}, ctrs: map[string]*testcontainers.DockerContainer{}}
	var lastErr error
	// Static addresses need a subnet of our own; try candidates until one
	// does not overlap an existing network (parallel rigs, other projects).
	for _, subnet := range candidateSubnets(o.ID) {
		gw := subnet.Addr().Next()
		nw, err := tcnetwork.New(ctx,
			tcnetwork.WithLabels(r.labels("")),
			tcnetwork.WithIPAM(&mnetwork.IPAM{Driver: "default", Config: []mnetwork.IPAMConfig{{Subnet: subnet, Gateway: gw}}}),
		)
		if err != nil {
			lastErr = err
			if strings.Contains(err.Error(), "overlap") || strings.Contains(err.Error(), "in use") {
				continue
			}
			return nil, fmt.Errorf("rig: create network: %w", err)
		}
		r.netID, r.netName, r.subnet, r.gateway = nw.ID, nw.Name, subnet, gw
		o.Log.Info("rig network created", "rig", o.ID, "network", nw.Name, "subnet", subnet)
		return r, nil
	}
	return nil, fmt.Errorf("rig: no free subnet for the network: %w", lastErr)
}

// candidateSubnets returns /24 subnets in 172.30.0.0/15, starting at one
// derived from the rig id so parallel rigs rarely collide.
func candidateSubnets(id string) []netip.Prefix {
	start := 0
	for _, c := range id {
		start = (start*31 + int(c)) % 512
	}
	out := make([]netip.Prefix, 0, 512)
	for i := 0; i < 512; i++ {
		k := (start + i) % 512
		a := netip.AddrFrom4([4]byte{172, byte(30 + k/256), byte(k % 256), 0})
		out = append(out, netip.PrefixFrom(a, 24))
	}
	return out
}

// ID is the rig's id.
func (r *Rig) ID() string { return r.opts.ID }

// Gateway is the host's address on the rig network.
func (r *Rig) Gateway() string { return r.gateway.String() }

// NetworkName is the Docker network's name.
func (r *Rig) NetworkName() string { return r.netName }

// NodeAddress is the fixed address of the i-th node (from 1): nodes keep
// their address across power cycles, so HAProxy's config stays valid.
func (r *Rig) NodeAddress(i int) string {
	a := r.subnet.Addr().As4()
	a[3] = byte(10 + i)
	return netip.AddrFrom4(a).String()
}

func (r *Rig) labels(node string) map[string]string {
	l := map[string]string{
		LabelManaged: "1",
		LabelRig:     r.opts.ID,
		LabelScope:   r.opts.Scope,
		LabelOwner:   strconv.Itoa(os.Getpid()),
	}
	if r.opts.DataDir != "" {
		l[LabelDataDir] = r.opts.DataDir
	}
	if r.opts.Ephemeral {
		l[LabelEphemeral] = "1"
	}
	if node != "" {
		l[LabelNode] = node
	}
	return l
}

// StartNodes starts every node's container, pointing its agent at etcd.
// It does not wait for Patroni: see WaitHealthy.
func (r *Rig) StartNodes(ctx context.Context, etcd []string) error {
	errs := make([]error, r.opts.Nodes)
	var wg sync.WaitGroup
	for i := 1; i <= r.opts.Nodes; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs[i-1] = r.startNode(ctx, i, etcd)
		}(i)
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (r *Rig) startNode(ctx context.Context, i int, etcd []string) error {
	name := NodeName(i)
	addr := r.NodeAddress(i)
	env := map[string]string{
		"REDSWITCH_SCOPE":                   r.opts.Scope,
		"REDSWITCH_NAME":                    name,
		"REDSWITCH_ETCD":                    strings.Join(etcd, ","),
		"REDSWITCH_TIMINGS":                 fmt.Sprintf("%d/%d/%d", r.opts.Timings.TTL, r.opts.Timings.LoopWait, r.opts.Timings.RetryTimeout),
		"REDSWITCH_ADDRESS":                 addr,
		"REDSWITCH_CREDENTIALS":             NodeCredentialsPath,
		"REDSWITCH_SYNCHRONOUS_MODE":        strconv.FormatBool(r.opts.SynchronousMode),
		"REDSWITCH_SYNCHRONOUS_MODE_STRICT": strconv.FormatBool(r.opts.SynchronousModeStrict),
		"REDSWITCH_FAILSAFE_MODE":           strconv.FormatBool(r.opts.FailsafeMode),
		"REDSWITCH_TAGS":                    strings.Join(r.opts.Tags[name], ","),
		"REDSWITCH_POSTMORTEM_FORKS":        strconv.FormatBool(r.opts.PostmortemForks),
	}
	if r.opts.Timings.Name == "aggressive" || r.opts.Timings.Name == "default" {
		env["REDSWITCH_TIMINGS"] = r.opts.Timings.Name
	}
	bundle, err := json.Marshal(r.opts.Credentials.Node(name, r.opts.EtcdCA))
	if err != nil {
		return fmt.Errorf("rig: %s credentials: %w", name, err)
	}
	ctrName := r.opts.ID + "-" + name
	var mounts []mmount.Mount
	if r.opts.VolumeSize > 0 {
		mnt, err := createVolume(ctx, r.opts.DataDir, r.opts.ID, name, r.opts.VolumeSize)
		if err != nil {
			return err
		}
		mounts = append(mounts, mmount.Mount{Type: mmount.TypeBind, Source: mnt, Target: NodeDataDir})
	}
	c, err := testcontainers.Run(ctx, r.opts.Image,
		testcontainers.WithName(ctrName),
		testcontainers.WithLabels(r.labels(name)),
		testcontainers.WithEnv(env),
		testcontainers.WithFiles(testcontainers.ContainerFile{Reader: bytes.NewReader(bundle),
			ContainerFilePath: NodeCredentialsPath, FileMode: 0o600}),
		testcontainers.WithCmdArgs(maxLagArgs(r.opts.MaximumLagOnFailover)...),
		tcnetwork.WithNetworkName([]string{name}, r.netName),
		testcontainers.WithEndpointSettingsModifier(func(m map[string]*mnetwork.EndpointSettings) {
			if s, ok := m[r.netName]; ok {
				s.IPAMConfig = &mnetwork.EndpointIPAMConfig{IPv4Address: netip.MustParseAddr(addr)}
			}
		}),
		testcontainers.WithConfigModifier(func(c *mcontainer.Config) { c.Hostname = name }),
		testcontainers.WithHostConfigModifier(func(h *mcontainer.HostConfig) {
			// iptables inside the node for partitions.
			h.CapAdd = append(h.CapAdd, "NET_ADMIN")
			h.Mounts = append(h.Mounts, mounts...)
		}),
	)
	if c != nil {
		r.mu.Lock()
		r.ctrs[name] = c
		r.nodes[name] = &Node{Name: name, Address: addr, ContainerID: c.GetContainerID()}
		r.mu.Unlock()
	}
	if err != nil {
		return fmt.Errorf("rig: start %s (image %s): %w", name, r.opts.Image, err)
	}
	r.opts.Log.Info("node container started", "node", name, "address", addr, "container", ctrName)
	return nil
}

func maxLagArgs(lag int64) []string {
	if lag == 0 {
		return nil
	}
	return []string{"--maximum-lag-on-failover", strconv.FormatInt(lag, 10)}
}

// Nodes lists the rig's nodes by name.
func (r *Rig) Nodes() []Node {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Node, 0, len(r.nodes))
	for _, n := range r.nodes {
		out = append(out, *n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (r *Rig) node(name string) (*Node, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n, ok := r.nodes[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownNode, name)
	}
	return n, nil
}

// ErrUnknownNode is returned for a node name the rig does not have.
var ErrUnknownNode = errors.New("unknown node")

// PowerOff cuts the node's power: SIGKILL to the container's init, which
// takes every process of its PID namespace down at the same instant. A
// graceful stop or a staggered kill is not a power cut.
func (r *Rig) PowerOff(ctx context.Context, name string) error {
	n, err := r.node(name)
	if err != nil {
		return err
	}
	if _, err := r.cli.ContainerKill(ctx, n.ContainerID, client.ContainerKillOptions{Signal: "KILL"}); err != nil {
		if strings.Contains(err.Error(), "is not running") {
			return nil
		}
		return fmt.Errorf("rig: power off %s: %w", name, err)
	}
	return nil
}

// PowerOn starts the node's container again with its data intact.
func (r *Rig) PowerOn(ctx context.Context, name string) error {
	n, err := r.node(name)
	if err != nil {
		return err
	}
	if _, err := r.cli.ContainerStart(ctx, n.ContainerID, client.ContainerStartOptions{}); err != nil {
		return fmt.Errorf("rig: power on %s: %w", name, err)
	}
	return nil
}

// Powered reports whether the node's container is running.
func (r *Rig) Powered(ctx context.Context, name string) (bool, error) {
	n, err := r.node(name)
	if err != nil {
		return false, err
	}
	res, err := r.cli.ContainerInspect(ctx, n.ContainerID, client.ContainerInspectOptions{})
	if err != nil {
		return false, fmt.Errorf("rig: inspect %s: %w", name, err)
	}
	return res.Container.State != nil && res.Container.State.Running, nil
}

// Logs returns the node container's log (agent, Patroni and PostgreSQL).
func (r *Rig) Logs(ctx context.Context, name string) (string, error) {
	n, err := r.node(name)
	if err != nil {
		return "", err
	}
	rc, err := r.cli.ContainerLogs(ctx, n.ContainerID, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true})
	if err != nil {
		return "", fmt.Errorf("rig: logs of %s: %w", name, err)
	}
	defer rc.Close()
	return demux(rc)
}

// Close removes every container, the network and the volumes of the rig;
// an attached rig's belong to whoever made them.
func (r *Rig) Close(ctx context.Context) error {
	if r.attached {
		return nil
	}
	err := Remove(ctx, r.cli, map[string]string{LabelRig: r.opts.ID}, r.opts.Log)
	return errors.Join(err, RemoveVolumes(ctx, r.opts.DataDir, r.opts.ID, r.opts.Log))
}

// Volumes reports whether the nodes have volumes of their own.
func (r *Rig) Volumes() bool { return r.opts.VolumeSize > 0 }
