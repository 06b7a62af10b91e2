package faults

import (
	"context"
	"errors"
	"fmt"

	"github.com/redswitch/redswitch/agentapi"
	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/headnode"
)

// blockLag names replica_lag's iptables block inside the replica.
const blockLag = "lag"

// replicaLag makes a replica fall Lag bytes behind: it holds back the WAL
// stream (the replica drops traffic with the other nodes' PostgreSQL port),
// or with Pause pauses its replay, and then has the primary write Lag bytes
// (and a quarter more) of WAL, so the distance is there at once instead of
// after hours of probe writes. Recover resumes the stream or the replay.
type replicaLag struct{}

func (replicaLag) Info() Info {
	return Info{Kind: KindReplicaLag, Recoverable: true, NodeTarget: true, ReplicaOnly: true}
}

// lagPeers is the PostgreSQL port of every other node: where the replica
// streams from.
func lagPeers(st headnode.State, node string) []agentapi.Peer {
	var out []agentapi.Peer
	for _, n := range st.Nodes {
		if n.Name != node && n.Address != "" {
			out = append(out, agentapi.Peer{Address: n.Address, Port: cluster.PostgresPort})
		}
	}
	return out
}

func (replicaLag) Inject(ctx context.Context, env *Env, f *Fault) error {
	st := env.State()
	if st.Leader == "" || st.Leader == f.Node {
		return fmt.Errorf("%w: replica_lag needs a primary other than %s to write WAL", ErrNoCandidate, f.Node)
	}
	a, err := env.Agent(f.Node)
	if err != nil {
		return err
	}
	if f.Request.Pause {
		err = a.PauseReplay(ctx)
	} else {
		peers := lagPeers(st, f.Node)
		if len(peers) == 0 {
			return errors.New("replica_lag: no other node to hold the stream back from")
		}
		err = a.Block(ctx, blockLag, peers)
	}
	if err != nil {
		return err
	}
	p, err := env.Agent(st.Leader)
	if err != nil {
		return err
	}
	return p.GenerateWAL(ctx, f.Request.Lag+f.Request.Lag/4)
}

func (replicaLag) Recover(ctx context.Context, env *Env, f *Fault) error {
	a, err := env.Agent(f.Node)
	if err != nil {
		return err
	}
	if f.Request.Pause {
		return a.ResumeReplay(ctx)
	}
	return a.Unblock(ctx, blockLag)
}
