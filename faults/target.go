package faults

import (
	"errors"
	"fmt"
	"sort"

	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/headnodeapi"
)

// ErrNoCandidate is a selector that matches no node right now (no
// primary during a failover, no replica left).
var ErrNoCandidate = errors.New("no node matches the target now")

// ErrUnknownTarget is a node name the cluster does not have.
var ErrUnknownTarget = errors.New("unknown target")

// Resolve turns a request's target into a node name (or "etcd") against
// the head node's state. pick chooses among n candidates for any.
func Resolve(st headnodeapi.State, target string, info Info, pick func(n int) int) (string, error) {
	if target == "" || target == TargetEtcd {
		if info.EtcdTarget {
			return TargetEtcd, nil
		}
		return "", bad("target: %s needs a node", info.Kind)
	}
	var up, replicas []string
	for _, n := range st.Nodes {
		if n.Power == "off" {
			continue
		}
		up = append(up, n.Name)
		if n.Name != st.Leader && n.Role == cluster.RoleReplica {
			replicas = append(replicas, n.Name)
		}
	}
	sort.Strings(up)
	sort.Strings(replicas)
	switch target {
	case TargetPrimary:
		if info.ReplicaOnly {
			return "", bad("target primary: %s acts on replicas only", info.Kind)
		}
		if st.Leader == "" {
			return "", fmt.Errorf("%w: primary: no member holds the leader key", ErrNoCandidate)
		}
		return st.Leader, nil
	case TargetReplica:
		if len(replicas) == 0 {
			return "", fmt.Errorf("%w: replica: no running replica", ErrNoCandidate)
		}
		return replicas[0], nil
	case TargetAny:
		cands := up
		if info.ReplicaOnly {
			cands = replicas
		}
		if len(cands) == 0 {
			return "", fmt.Errorf("%w: any: no running node", ErrNoCandidate)
		}
		return cands[pick(len(cands))], nil
	}
	for _, n := range st.Nodes {
		if n.Name != target {
			continue
		}
		if info.ReplicaOnly && target == st.Leader {
			return "", fmt.Errorf("%w: %s acts on replicas only and %s is the primary", ErrNoCandidate, info.Kind, target)
		}
		// Refused at once: the node's agent or container cannot answer
		// (the caller would wait out a timeout), and a fault on a node
		// that is off would be undone by its power-on anyway.
		if n.Power == "off" {
			return "", fmt.Errorf("%w: %s has no power", ErrNoCandidate, target)
		}
		return target, nil
	}
	names := make([]string, len(st.Nodes))
	for i, n := range st.Nodes {
		names[i] = n.Name
	}
	return "", fmt.Errorf("%w: %q is not a node of the cluster (nodes: %v)", ErrUnknownTarget, target, names)
}
