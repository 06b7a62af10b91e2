package faults

import (
	"context"
	"errors"
	"fmt"

	"github.com/redswitch/redswitch/agentapi"
)

// blockEtcd names the etcd outage's iptables block inside every node.
const blockEtcd = "etcd"

// etcdOutage makes the consensus store stop answering for every node: each
// node's agent drops its traffic with the etcd endpoint. The store itself
// keeps running, so the head node still sees (an unchanging) etcd, the
// outage is exactly what Patroni meets (requests that hang, then time out),
// and healing is removing the rules. Stopping the embedded etcd instead
// would also blind the head node and could not be undone without
// restarting it. A node powered on during the outage starts without the
// rules: a container gets a new network namespace, and an agent clears
// its rules when it starts and when a soft cut ends.
type etcdOutage struct{}

func (etcdOutage) Info() Info {
	return Info{Kind: KindEtcdOutage, Recoverable: true, EtcdTarget: true, InNode: true}
}

func (etcdOutage) Inject(ctx context.Context, env *Env, f *Fault) error {
	// The nodes it acts on replace the target "etcd", which no agent serves.
	f.Nodes = nil
	if env.Etcd.Address == "" {
		return errors.New("etcd_outage: the etcd endpoint of the nodes is not known")
	}
	for _, n := range env.State().Nodes {
		if n.Power == "off" {
			continue
		}
		a, err := env.Agent(n.Name)
		if err != nil {
			return err
		}
		// Listed before the call: a half-made block is removed on recover.
		f.Nodes = append(f.Nodes, n.Name)
		if err := a.Block(ctx, blockEtcd, []agentapi.Peer{env.Etcd}); err != nil {
			return fmt.Errorf("etcd_outage on %s: %w", n.Name, err)
		}
	}
	if len(f.Nodes) == 0 {
		return fmt.Errorf("%w: etcd_outage: no running node", ErrNoCandidate)
	}
	return nil
}

func (etcdOutage) Recover(ctx context.Context, env *Env, _ *Fault, node string) error {
	a, err := env.Agent(node)
	if err != nil {
		return err
	}
	return a.Unblock(ctx, blockEtcd)
}
