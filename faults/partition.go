package faults

import (
	"context"
	"fmt"

	"github.com/redswitch/redswitch/agentapi"
	"github.com/redswitch/redswitch/headnodeapi"
)

// blockPartition names the partition's iptables block inside a node.
const blockPartition = "partition"

// partition cuts a node off the network inside the node (iptables through
// its agent): from everyone, from etcd only, or from the other nodes only.
// Heal removes the rules. The agent's own port stays open so the head node
// can heal it.
type partition struct{}

func (partition) Info() Info {
	return Info{Kind: KindPartition, Recoverable: true, NodeTarget: true, InNode: true}
}

// partitionPeers builds what a partitioned node must not reach. "all"
// drops the head node's address entirely (etcd, HAProxy's checks, the
// probe's connections) and every other node.
func partitionPeers(st headnodeapi.State, node, from string, etcd agentapi.Peer) ([]agentapi.Peer, error) {
	var others []agentapi.Peer
	for _, n := range st.Nodes {
		if n.Name != node && n.Address != "" {
			others = append(others, agentapi.Peer{Address: n.Address})
		}
	}
	switch from {
	case FromEtcd:
		return []agentapi.Peer{etcd}, nil
	case FromNodes:
		if len(others) == 0 {
			return nil, fmt.Errorf("%w: partition from nodes: %s has no other nodes", ErrNoCandidate, node)
		}
		return others, nil
	case FromAll, "":
		return append([]agentapi.Peer{{Address: etcd.Address}}, others...), nil
	}
	return nil, bad("from %q: want all, etcd or nodes", from)
}

func (partition) Inject(ctx context.Context, env *Env, f *Fault) error {
	peers, err := partitionPeers(env.State(), f.Node, f.Request.From, env.Etcd)
	if err != nil {
		return err
	}
	a, err := env.Agent(f.Node)
	if err != nil {
		return err
	}
	return a.Block(ctx, blockPartition, peers)
}

func (partition) Recover(ctx context.Context, env *Env, _ *Fault, node string) error {
	a, err := env.Agent(node)
	if err != nil {
		return err
	}
	return a.Unblock(ctx, blockPartition)
}
