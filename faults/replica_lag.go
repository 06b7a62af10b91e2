package faults

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redswitch/redswitch/agentapi"
	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/headnodeapi"
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
	return Info{Kind: KindReplicaLag, Recoverable: true, NodeTarget: true, ReplicaOnly: true, InNode: true}
}

// lagPeers is the PostgreSQL port of every other node: where the replica
// streams from.
func lagPeers(st headnodeapi.State, node string) []agentapi.Peer {
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
	if err := p.GenerateWAL(ctx, f.Request.Lag+f.Request.Lag/4); err != nil {
		return err
	}
	return waitLag(ctx, env.State, f.Node, f.Request.Lag, lagPublishTimeout)
}

// lagPublishTimeout bounds the wait for Patroni to publish the lag: the
// members write their WAL positions to etcd once per loop_wait, and until
// then Patroni's own failover check still sees the replica as current
// (measured: a cut right after the WAL was written promoted the "lagging"
// replica and lost 17 commits).
const lagPublishTimeout = 30 * time.Second

// waitLag waits until the head node's state, read from the same etcd keys
// Patroni decides on, shows node at least lag bytes behind the leader.
func waitLag(ctx context.Context, state func() headnodeapi.State, node string, lag int64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var seen int64 = -1
	for {
		for _, n := range state().Nodes {
			if n.Name == node && n.LagBytes != nil {
				seen = *n.LagBytes
			}
		}
		if seen >= lag {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("replica_lag: %s is %d bytes behind after %v, want %d: Patroni's members have not published the lag", node, seen, timeout, lag)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (replicaLag) Recover(ctx context.Context, env *Env, f *Fault, node string) error {
	a, err := env.Agent(node)
	if err != nil {
		return err
	}
	if f.Request.Pause {
		return a.ResumeReplay(ctx)
	}
	return a.Unblock(ctx, blockLag)
}

// HealPoweredOn leaves a paused replay alone: the pause lived in the
// killed PostgreSQL's memory, and asking a server still in crash recovery,
// or one that became the primary since, to resume would fail for ever.
// The held-back stream's rules may outlive the cut (a soft one), so they go.
func (l replicaLag) HealPoweredOn(ctx context.Context, env *Env, f *Fault, node string) error {
	if f.Request.Pause {
		return nil
	}
	return l.Recover(ctx, env, f, node)
}
