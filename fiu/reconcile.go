package fiu

import "sort"

// NodePower is what the head node believes about one node's power.
type NodePower struct {
	Node    string
	Powered bool
}

// Action is a power change the head node must make so that a node's
// power matches its switches.
type Action struct {
	Node string `json:"node"`
	// PowerOn is true to power the node on, false to cut it.
	PowerOn bool `json:"power_on"`
	// Switches are the IDs of the switches that decided it: for a cut,
	// the switches that are off.
	Switches []int `json:"switches"`
}

// Reconcile compares switch positions with node power, as read once at
// start, and returns the changes needed, ordered by node. A node is meant
// to be powered only when every switch mapped to it is On, so a node whose
// switch was left off while the head node was down stays off. Nodes without
// switches and switches for nodes not in nodes are left alone.
func Reconcile(positions []Switch, nodes []NodePower) []Action {
	type want struct {
		on  bool
		off []int
		all []int
	}
	wants := map[string]*want{}
	for _, p := range positions {
		w := wants[p.Node]
		if w == nil {
			w = &want{on: true}
			wants[p.Node] = w
		}
		w.all = append(w.all, p.ID)
		if !p.On {
			w.on = false
			w.off = append(w.off, p.ID)
		}
	}
	var out []Action
	for _, n := range nodes {
		w := wants[n.Node]
		if w == nil || w.on == n.Powered {
			continue
		}
		ids := w.off
		if w.on {
			ids = w.all
		}
		ids = append([]int(nil), ids...)
		sort.Ints(ids)
		out = append(out, Action{Node: n.Node, PowerOn: w.on, Switches: ids})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Node < out[j].Node })
	return out
}
