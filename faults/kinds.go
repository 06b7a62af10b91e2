package faults

import (
	"context"

	"github.com/redswitch/redswitch/agentapi"
	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/headnodeapi"
)

// Info describes a kind: what it may target and whether it is recovered
// by a call or heals by itself (a crash, a corruption).
type Info struct {
	Kind        Kind
	Recoverable bool
	NodeTarget  bool
	EtcdTarget  bool
	ReplicaOnly bool
	// InNode is a fault that lives inside the nodes it acts on, reached
	// through their agents or containers: a node without power cannot be
	// healed, so its recovery waits until the node runs again.
	InNode bool
}

// Injector is one kind of fault.
type Injector interface {
	Info() Info
	// Inject breaks f.Node. On error it leaves what it can undone; the
	// manager calls Recover after a failed injection anyway.
	Inject(ctx context.Context, env *Env, f *Fault) error
	// Recover undoes Inject on node, one of f.Nodes; recovering what is
	// already healed succeeds. The manager calls it node by node, so it
	// can leave a node without power for later and name a node that fails.
	Recover(ctx context.Context, env *Env, f *Fault, node string) error
}

// powerOnHealer is a kind of which a power cut undoes a part itself, so
// what is left to heal on a node that runs again is less than Recover.
// Kinds without it are healed with Recover.
type powerOnHealer interface {
	HealPoweredOn(ctx context.Context, env *Env, f *Fault, node string) error
}

// healPoweredOn heals f on node, powered on again after the recovery
// passed it by.
func healPoweredOn(ctx context.Context, inj Injector, env *Env, f *Fault, node string) error {
	if h, ok := inj.(powerOnHealer); ok {
		return h.HealPoweredOn(ctx, env, f, node)
	}
	return inj.Recover(ctx, env, f, node)
}

// Kinds is the one list of fault kinds.
func Kinds() []Injector {
	return []Injector{power{}, freeze{}, partition{}, etcdOutage{}, pgCrash{}, patroniCrash{},
		diskFull{}, corrupt{}, replicaLag{}, cpuStarve{}}
}

// Power switches a node's power and records it (the head node).
type Power interface {
	SetPower(ctx context.Context, node string, on bool, source string) error
}

// Freezer stops and resumes every process of a node at once.
type Freezer interface {
	Pause(ctx context.Context, node string) error
	Unpause(ctx context.Context, node string) error
}

// Starver caps a node's CPU at percent of one CPU and lifts the cap.
// Lifting a cap that is not there succeeds, so recovery is idempotent.
type Starver interface {
	Starve(ctx context.Context, node string, percent float64) error
	Unstarve(ctx context.Context, node string) error
}

// Files reads and writes a node's files while it is powered off.
type Files interface {
	ReadFile(ctx context.Context, node, path string) ([]byte, cluster.FileInfo, error)
	WriteFile(ctx context.Context, node, path string, data []byte, fi cluster.FileInfo) error
}

// Agent is the part of a node agent's API the faults use; *agentapi.Client
// implements it.
type Agent interface {
	Block(ctx context.Context, name string, peers []agentapi.Peer) error
	Unblock(ctx context.Context, name string) error
	CrashPostgres(ctx context.Context) (agentapi.KillResponse, error)
	CrashPatroni(ctx context.Context, hold bool) (agentapi.KillResponse, error)
	ReleasePatroni(ctx context.Context) error
	FillDisk(ctx context.Context, req agentapi.FillRequest) (agentapi.FillResponse, error)
	ReleaseDisk(ctx context.Context) error
	PauseReplay(ctx context.Context) error
	ResumeReplay(ctx context.Context) error
	GenerateWAL(ctx context.Context, n int64) error
}

// Env is what the kinds act through.
type Env struct {
	Power   Power
	Freezer Freezer
	// Starver caps a node's CPU (cpu_starve); nil where nothing can.
	Starver Starver
	Files   Files
	// Agent returns the client of a node's agent.
	Agent func(node string) (Agent, error)
	// State is the head node's current view of the cluster.
	State func() headnodeapi.State
	// Etcd is the consensus store's endpoint as the nodes reach it.
	Etcd agentapi.Peer
	// DataDir is PostgreSQL's data directory inside a node.
	DataDir string
	// MaxFill bounds disk_full when the request does not (default 1 GiB).
	MaxFill int64
}

// poweredOff reports whether the state shows node without power. A node
// the state does not know, or whose power is not known, is not off.
func poweredOff(st headnodeapi.State, node string) bool {
	for _, n := range st.Nodes {
		if n.Name == node {
			return n.Power == "off"
		}
	}
	return false
}

// nodeAddress finds a node's address in the state.
func nodeAddress(st headnodeapi.State, node string) string {
	for _, n := range st.Nodes {
		if n.Name == node {
			return n.Address
		}
	}
	return ""
}
