package fiu

import (
	"reflect"
	"testing"
)

func TestReconcile(t *testing.T) {
	tests := []struct {
		name      string
		positions []Switch
		nodes     []NodePower
		want      []Action
	}{
		{name: "all agree",
			positions: []Switch{{ID: 1, Node: "n1", On: true}, {ID: 2, Node: "n2", On: false}},
			nodes:     []NodePower{{"n1", true}, {"n2", false}}},
		{name: "switch left off keeps the node off",
			positions: []Switch{{ID: 1, Node: "n1", On: true}, {ID: 2, Node: "n2", On: false}},
			nodes:     []NodePower{{"n1", true}, {"n2", true}},
			want:      []Action{{Node: "n2", PowerOn: false, Switches: []int{2}}}},
		{name: "switch on powers a node that is off",
			positions: []Switch{{ID: 3, Node: "n3", On: true}},
			nodes:     []NodePower{{"n3", false}},
			want:      []Action{{Node: "n3", PowerOn: true, Switches: []int{3}}}},
		{name: "any switch off keeps a node with two switches off",
			positions: []Switch{{ID: 5, Node: "n1", On: true}, {ID: 4, Node: "n1", On: false}},
			nodes:     []NodePower{{"n1", true}},
			want:      []Action{{Node: "n1", PowerOn: false, Switches: []int{4}}}},
		{name: "both switches on power it, ordered ids",
			positions: []Switch{{ID: 5, Node: "n1", On: true}, {ID: 4, Node: "n1", On: true}},
			nodes:     []NodePower{{"n1", false}},
			want:      []Action{{Node: "n1", PowerOn: true, Switches: []int{4, 5}}}},
		{name: "nodes without switches and unknown nodes are left alone, order by node",
			positions: []Switch{{ID: 1, Node: "zz", On: false}, {ID: 2, Node: "b", On: false}, {ID: 3, Node: "a", On: false}},
			nodes:     []NodePower{{"b", true}, {"a", true}, {"c", false}},
			want:      []Action{{Node: "a", Switches: []int{3}}, {Node: "b", Switches: []int{2}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Reconcile(tc.positions, tc.nodes)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Reconcile = %+v, want %+v", got, tc.want)
			}
		})
	}
}
