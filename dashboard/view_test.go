package dashboard

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/redswitch/redswitch/cluster"
)

var update = flag.Bool("update", false, "rewrite golden files")

func i64(n int64) *int64 { return &n }

func f64(x float64) *float64 { return &x }

// sampleView is a three-node cluster after one failover: n1 lost its power,
// n2 took over.
func sampleView(at time.Time) View {
	return View{
		Cluster: Cluster{Scope: "booth", Leader: "n2", Timings: Timings{Name: "aggressive", TTL: 5, LoopWait: 1,
			RetryTimeout: 2, EffectiveTTL: 5, EffectiveRetryTimeout: 2, PatroniVersion: "3.0.2"}},
		Nodes: []Node{
			{Name: "n1", Power: "on", Agent: true, Role: cluster.RoleReplica, State: "streaming", Timeline: 2, Sync: true, LagBytes: i64(0), Switch: &Switch{ID: 1, On: true}},
			{Name: "n2", Power: "on", Agent: true, Role: cluster.RolePrimary, State: "running", Timeline: 2, LagBytes: i64(0), Switch: &Switch{ID: 2, On: true}},
			{Name: "n3", Power: "on", Agent: true, Role: cluster.RoleReplica, State: "streaming", Timeline: 2, LagBytes: i64(4096), Switch: &Switch{ID: 3, On: true}},
		},
		Probe: Probe{Rate: 98.5, LastAck: at.Add(-20 * time.Millisecond), Acks: 48213, Errors: 37},
		Failovers: []Failover{{
			ID: "f1", StartedAt: at.Add(-90 * time.Second), DurationS: 5.2, LostCommits: 0,
			OldPrimary: "n1", NewPrimary: "n2", Cause: "power cut on n1 (switch 1)",
			Phases:         []Phase{{"leader_expired", 4.6}, {"writable", 5.18}, {"first_commit", 5.2}},
			RolePublishedS: f64(6.4), RigShareS: f64(0.02),
		}},
		Summary: FailoverSummary{Count: 1, MinS: 5.2, MeanS: 5.2, P50S: 5.2, P90S: 5.2, P99S: 5.2, MaxS: 5.2,
			Buckets: []Bucket{{S: 5, N: 1}}},
		Outages: []Outage{
			{ID: "outage-1", StartedAt: at.Add(-90 * time.Second), DurationS: 5.2, From: "n1", To: "n2", Failover: true,
				Cause: "power off n1 (switch 1)", CauseKind: "power"},
			{ID: "outage-2", StartedAt: at.Add(-30 * time.Second), DurationS: 1.4, From: "n2", To: "n2",
				Cause: "unknown", CauseKind: "unknown", Evidence: []string{"+0.31 s haproxy n2: primary down",
					"+1.10 s n2 log: INFO: no action. I am (n2), the leader with the lock"}},
		},
		Reference: DefaultReference(),
	}
}

func TestViewJSONGolden(t *testing.T) {
	at := time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC)
	v := sampleView(at)
	// A node with nothing known shows the nullable fields as null.
	v.Nodes = append(v.Nodes, Node{Name: "n4", Power: "off", Role: cluster.RoleDown})
	got, err := json.MarshalIndent(ViewMessage(v), "", "  ")
	must(t, err)
	got = append(got, '\n')
	path := filepath.Join("testdata", "view.golden.json")
	if *update {
		must(t, os.WriteFile(path, got, 0o644))
	}
	want, err := os.ReadFile(path)
	must(t, err)
	if !bytes.Equal(got, want) {
		t.Fatalf("view JSON differs from %s (run with -update if intended):\n%s", path, got)
	}
	// The contract round-trips: what the page gets decodes to what was sent.
	var back Message
	must(t, json.Unmarshal(want, &back))
	if back.Type != TypeView || back.View == nil || len(back.View.Nodes) != 4 || back.View.Nodes[3].LagBytes != nil ||
		back.View.Nodes[3].Switch != nil || back.View.Failovers[0].Phases[2].OffsetS != 5.2 ||
		len(back.View.Outages) != 2 || back.View.Outages[0].Evidence != nil || len(back.View.Outages[1].Evidence) != 2 {
		t.Fatalf("round trip lost data: %+v", back.View)
	}
}
