package scenarios

import (
	"fmt"
	"slices"

	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/headnodeapi"
)

// resolve turns the selectors of one step into node names against the
// cluster as it is when the step runs. Several selectors in one step pick
// distinct nodes ("[primary, replica]" never names one node twice), and
// the picks are deterministic (lowest name first) so a run can be
// repeated. last is what @last means at this step.
func resolve(sels []Selector, st headnodeapi.State, last []string) ([]string, error) {
	var out []string
	taken := map[string]bool{}
	add := func(n string) {
		if !taken[n] {
			taken[n] = true
			out = append(out, n)
		}
	}
	nodes := slices.Clone(st.Nodes)
	slices.SortFunc(nodes, func(a, b headnodeapi.NodeState) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	for _, sel := range sels {
		switch sel.Kind {
		case SelectPrimary:
			if st.Leader == "" {
				return nil, fmt.Errorf("selector primary: the cluster has no primary (no node holds the leader key)")
			}
			if taken[st.Leader] {
				return nil, fmt.Errorf("selector primary: %s is already selected in this step", st.Leader)
			}
			add(st.Leader)
		case SelectReplica:
			pick := ""
			for _, n := range nodes {
				if n.Power == "on" && n.Name != st.Leader && n.Role == cluster.RoleReplica && !taken[n.Name] {
					pick = n.Name
					break
				}
			}
			if pick == "" {
				return nil, fmt.Errorf("selector replica: no powered replica left to pick (leader %q, nodes %s)", st.Leader, describeNodes(nodes))
			}
			add(pick)
		case SelectAny:
			pick := ""
			for _, n := range nodes {
				if n.Power == "on" && !taken[n.Name] {
					pick = n.Name
					break
				}
			}
			if pick == "" {
				return nil, fmt.Errorf("selector any: no powered node left to pick (nodes %s)", describeNodes(nodes))
			}
			add(pick)
		case SelectLast:
			if len(last) == 0 {
				return nil, fmt.Errorf("selector @last: no earlier step targeted a node")
			}
			for _, n := range last {
				add(n)
			}
		case SelectAll:
			if len(nodes) == 0 {
				return nil, fmt.Errorf("selector all: the cluster reports no nodes")
			}
			for _, n := range nodes {
				add(n.Name)
			}
		case SelectEtcd:
			add("etcd")
		case SelectNode:
			if !slices.ContainsFunc(nodes, func(n headnodeapi.NodeState) bool { return n.Name == sel.Node }) {
				return nil, fmt.Errorf("node %s: the cluster has no such node (nodes %s)", sel.Node, describeNodes(nodes))
			}
			add(sel.Node)
		default:
			return nil, fmt.Errorf("selector %q: unknown kind", sel.Kind)
		}
	}
	return out, nil
}

// describeNodes renders nodes as "n1 primary on, n2 down off" for errors.
func describeNodes(nodes []headnodeapi.NodeState) string {
	if len(nodes) == 0 {
		return "(none)"
	}
	s := ""
	for i, n := range nodes {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s %s %s", n.Name, n.Role, n.Power)
	}
	return s
}

// namesOf resolves a named selector (@last, all or a node) without
// looking at roles, for checks that must not depend on the state they
// judge.
func namesOf(sel Selector, nodes []string, last []string) []string {
	switch sel.Kind {
	case SelectLast:
		return slices.Clone(last)
	case SelectAll:
		return slices.Clone(nodes)
	case SelectNode:
		return []string{sel.Node}
	}
	return nil
}
