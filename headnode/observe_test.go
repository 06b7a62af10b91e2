package headnode

import (
	"fmt"
	"testing"
	"time"

	"github.com/redswitch/redswitch/headnodeapi"
	"github.com/redswitch/redswitch/probe/analysis"
)

func TestBarPhases(t *testing.T) {
	ph := func(name string, s float64) headnodeapi.Phase { return headnodeapi.Phase{Name: name, OffsetS: s} }
	for _, tt := range []struct {
		name      string
		f         headnodeapi.Failover
		bar       string
		published string
	}{
		{"Patroni's late role publication leaves the bar",
			headnodeapi.Failover{DurationS: 6.79, Phases: []headnodeapi.Phase{ph("haproxy_down", 1.8), ph("leader_expired", 4.54),
				ph("new_leader", 6.63), ph("haproxy_up", 6.7), ph("writable", 6.77), ph("first_commit", 6.79), ph("promoted", 8.02)}},
			"[haproxy_down@1.8 leader_expired@4.54 new_leader@6.63 haproxy_up@6.7 writable@6.77 first_commit@6.79]", "8.02"},
		{"an early role publication is still apart",
			headnodeapi.Failover{DurationS: 5.37, Phases: []headnodeapi.Phase{ph("leader_expired", 4.79), ph("new_leader", 4.87),
				ph("promoted", 5.05), ph("first_commit", 5.37)}},
			"[leader_expired@4.79 new_leader@4.87 first_commit@5.37]", "5.05"},
		{"phases after the first commit are not stacked",
			headnodeapi.Failover{DurationS: 6.79, Phases: []headnodeapi.Phase{ph("leader_expired", 4.5), ph("first_commit", 6.79), ph("writable", 6.8)}},
			"[leader_expired@4.5 first_commit@6.79]", "none"},
		{"out of order input comes out in time order",
			headnodeapi.Failover{DurationS: 7, Phases: []headnodeapi.Phase{ph("new_leader", 6.6), ph("leader_expired", 4.5), ph("first_commit", 7)}},
			"[leader_expired@4.5 new_leader@6.6 first_commit@7]", "none"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			bar, pub := barPhases(tt.f)
			var got []string
			for _, p := range bar {
				got = append(got, fmt.Sprintf("%s@%g", p.Name, p.OffsetS))
			}
			if fmt.Sprint(got) != tt.bar {
				t.Errorf("bar %v, want %s", got, tt.bar)
			}
			gotPub := "none"
			if pub != nil {
				gotPub = fmt.Sprint(*pub)
			}
			if gotPub != tt.published {
				t.Errorf("role published %s, want %s", gotPub, tt.published)
			}
		})
	}
}

func TestFailoversRigShare(t *testing.T) {
	share := 20 * time.Millisecond
	rep := analysis.Report{Failovers: []analysis.Failover{
		{ID: "failover-1", Duration: 6790 * time.Millisecond, RigShare: &share},
		{ID: "failover-2", Duration: 5 * time.Second},
	}}
	got := Failovers(rep)
	if got[0].RigShareS == nil || *got[0].RigShareS != 0.02 {
		t.Errorf("failover-1 rig share %v, want 0.02", got[0].RigShareS)
	}
	if got[1].RigShareS != nil {
		t.Errorf("failover-2 rig share %v without a writable phase", *got[1].RigShareS)
	}
}
