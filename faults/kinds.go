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
}

// Injector is one kind of fault.
type Injector interface {
	Info() Info
	// Inject breaks f.Node. On error it leaves what it can undone; the
	// manager calls Recover after a failed injection anyway.
	Inject(ctx context.Context, env *Env, f *Fault) error
	// Recover undoes Inject; recovering what is already healed succeeds.
	Recover(ctx context.Context, env *Env, f *Fault) error
}

// Kinds is the one list of fault kinds.
func Kinds() []Injector {
	return []Injector{power{}, freeze{}, partition{}, etcdOutage{}, pgCrash{}, patroniCrash{},
		diskFull{}, corrupt{}, replicaLag{}}
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

// nodeAddress finds a node's address in the state.
func nodeAddress(st headnodeapi.State, node string) string {
	for _, n := range st.Nodes {
		if n.Name == node {
			return n.Address
		}
	}
	return ""
}
