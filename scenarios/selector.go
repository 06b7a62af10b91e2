package scenarios

import (
	"fmt"
	"strconv"
	"strings"
)

// SelectKind says how a selector picks its node(s).
type SelectKind string

// The selector kinds. Primary, replica and any are resolved by the runner
// when the step runs, against the cluster as it is at that moment.
const (
	SelectPrimary SelectKind = "primary"
	SelectReplica SelectKind = "replica"
	SelectAny     SelectKind = "any"
	// SelectLast is "@last": the node or nodes the latest power, switch or
	// fault injection acted on (a recover step does not move it). After a
	// step with several targets it means all of them: "primary is_not
	// @last" then means none of them.
	SelectLast SelectKind = "@last"
	// SelectAll is every database node, for a simultaneous power cut.
	SelectAll SelectKind = "all"
	// SelectEtcd is the consensus store, a target for some faults only.
	SelectEtcd SelectKind = "etcd"
	// SelectNode names one node, n1..nN.
	SelectNode SelectKind = "node"
)

// Selector picks the node(s) a step acts on.
type Selector struct {
	Kind SelectKind
	// Node is the node's name when Kind is SelectNode.
	Node string
}

// String renders the selector as a script would write it.
func (s Selector) String() string {
	if s.Kind == SelectNode {
		return s.Node
	}
	return string(s.Kind)
}

// IsZero reports whether the selector is unset.
func (s Selector) IsZero() bool { return s.Kind == "" }

// selectorSet is the selectors a field accepts, so each field's error
// message lists exactly what it would take.
type selectorSet struct {
	kinds []SelectKind // in the order the message lists them
	nodes bool         // n1..nN
}

func (set selectorSet) allows(k SelectKind) bool {
	if k == SelectNode {
		return set.nodes
	}
	for _, x := range set.kinds {
		if x == k {
			return true
		}
	}
	return false
}

// want renders the accepted selectors for an error message, e.g.
// "primary, replica, any, @last or a node name n1..n3".
func (set selectorSet) want(nodes int) string {
	var parts []string
	for _, k := range set.kinds {
		parts = append(parts, string(k))
	}
	if set.nodes {
		parts = append(parts, "a node name "+nodeRange(nodes))
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " or " + parts[len(parts)-1]
}

func nodeRange(nodes int) string {
	if nodes <= 1 {
		return "n1"
	}
	return fmt.Sprintf("n1..n%d", nodes)
}

// The selector sets of the fields that take selectors. They are functions,
// not variables, so no caller can change what another field accepts.

// targetSelectors: acting on a node picked now.
func targetSelectors() selectorSet {
	return selectorSet{kinds: []SelectKind{SelectPrimary, SelectReplica, SelectAny, SelectLast}, nodes: true}
}

// powerSelectors: power may also cut every node at once.
func powerSelectors() selectorSet {
	return selectorSet{kinds: []SelectKind{SelectPrimary, SelectReplica, SelectAny, SelectLast, SelectAll}, nodes: true}
}

// faultSelectors: faults may also hit the consensus store.
func faultSelectors() selectorSet {
	return selectorSet{kinds: []SelectKind{SelectPrimary, SelectReplica, SelectAny, SelectLast, SelectEtcd}, nodes: true}
}

// namedSelectors: a node whose state is checked; role-based picks would
// make the check circular.
func namedSelectors() selectorSet {
	return selectorSet{kinds: []SelectKind{SelectLast}, nodes: true}
}

// waitSelectors: waiting for a role, where "any" means some node.
func waitSelectors() selectorSet {
	return selectorSet{kinds: []SelectKind{SelectAny, SelectLast}, nodes: true}
}

// rejoinSelectors: rejoining can be checked for every node after a cold start.
func rejoinSelectors() selectorSet {
	return selectorSet{kinds: []SelectKind{SelectLast, SelectAll}, nodes: true}
}

// parseSelector turns a script word into a selector accepted by set, for a
// cluster of the given size. It does not check @last's history: the parser
// does that, since it knows the steps before.
func parseSelector(s string, set selectorSet, nodes int) (Selector, error) {
	var sel Selector
	switch k := SelectKind(s); k {
	case SelectPrimary, SelectReplica, SelectAny, SelectLast, SelectAll, SelectEtcd:
		sel = Selector{Kind: k}
	default:
		n, ok := nodeNumber(s)
		if !ok {
			return Selector{}, fmt.Errorf("unknown selector %q (want %s)", s, set.want(nodes))
		}
		if n < 1 || n > nodes {
			return Selector{}, fmt.Errorf("node %q does not exist: the cluster has %d node(s), %s", s, nodes, nodeRange(nodes))
		}
		sel = Selector{Kind: SelectNode, Node: s}
	}
	if !set.allows(sel.Kind) {
		return Selector{}, fmt.Errorf("selector %q is not allowed here (want %s)", s, set.want(nodes))
	}
	if sel.Kind == SelectReplica && nodes < 2 {
		return Selector{}, fmt.Errorf("selector \"replica\": a %d-node cluster has no replica", nodes)
	}
	return sel, nil
}

// nodeNumber recognises "n<digits>" without leading zeros.
func nodeNumber(s string) (int, bool) {
	if len(s) < 2 || s[0] != 'n' || s[1] == '0' || len(s) > 4 {
		return 0, false
	}
	n, err := strconv.Atoi(s[1:])
	if err != nil || n < 1 {
		return 0, false
	}
	return n, true
}
