package scenarios

import "strings"

// FaultKind names a kind of fault a scenario can inject.
type FaultKind string

// The fault kinds. FaultKinds describes each; keep the two in step.
const (
	FaultFreeze       FaultKind = "freeze"
	FaultPartition    FaultKind = "partition"
	FaultEtcdOutage   FaultKind = "etcd_outage"
	FaultPGCrash      FaultKind = "pg_crash"
	FaultPatroniCrash FaultKind = "patroni_crash"
	FaultDiskFull     FaultKind = "disk_full"
	FaultCorrupt      FaultKind = "corrupt"
	FaultReplicaLag   FaultKind = "replica_lag"
	FaultPower        FaultKind = "power"
	FaultCPUStarve    FaultKind = "cpu_starve"
)

// FaultKindInfo describes one fault kind: what it does and which
// parameters and targets make sense for it.
type FaultKindInfo struct {
	Kind FaultKind
	// Summary says what the runner does to inject it.
	Summary string
	// Params lists the kind-specific keys the fault step accepts besides
	// inject and target ("for" is listed where it applies).
	Params []string
	// Recoverable is false for faults that heal by themselves or are
	// healed by the cluster (a crash, a corruption): a recover step for
	// them is an error.
	Recoverable bool
	// Targets is what the fault may hit: nodes, etcd, or both.
	NodeTarget, EtcdTarget bool
	// ReplicaOnly refuses the primary as a target.
	ReplicaOnly bool
}

// FaultKinds is the one list of fault kinds, in documentation order. The
// parser, the documentation and the runner all read it, so a new kind is
// added here and nowhere else in this package.
func FaultKinds() []FaultKindInfo {
	return []FaultKindInfo{
		{Kind: FaultFreeze, Summary: "freeze every process of the target (cgroup freeze): alive but silent, like a long GC pause or a hung VM",
			Params: []string{"for"}, Recoverable: true, NodeTarget: true, EtcdTarget: true},
		{Kind: FaultPartition, Summary: "drop the target's traffic to etcd, to the other nodes, or to all (from: etcd|nodes|all, default all)",
			Params: []string{"from", "for"}, Recoverable: true, NodeTarget: true},
		{Kind: FaultEtcdOutage, Summary: "stop the consensus store: no member can renew or take the leader key",
			Params: []string{"for"}, Recoverable: true, EtcdTarget: true},
		{Kind: FaultPGCrash, Summary: "kill -9 the postmaster; Patroni notices and restarts PostgreSQL",
			NodeTarget: true},
		{Kind: FaultPatroniCrash, Summary: "kill -9 Patroni and keep it down: PostgreSQL runs on unsupervised until recovered",
			Params: []string{"for"}, Recoverable: true, NodeTarget: true},
		{Kind: FaultDiskFull, Summary: "fill the target's data volume until PostgreSQL cannot write WAL",
			Params: []string{"for"}, Recoverable: true, NodeTarget: true},
		{Kind: FaultCorrupt, Summary: "damage the target's data directory so PostgreSQL cannot start; healing is re-initialisation",
			NodeTarget: true},
		{Kind: FaultReplicaLag, Summary: "make a replica fall behind by lag bytes: hold back its WAL stream, or with pause: true pause its replay",
			Params: []string{"lag", "pause", "for"}, Recoverable: true, NodeTarget: true, ReplicaOnly: true},
		{Kind: FaultPower, Summary: "cut the target's power as a fault, so recover (or for) restores it",
			Params: []string{"for"}, Recoverable: true, NodeTarget: true, EtcdTarget: true},
		{Kind: FaultCPUStarve, Summary: "cap the target's CPU at cpu_percent of one CPU (0.1 to 100, default 1): every process runs, slowly; containers only",
			Params: []string{"cpu_percent", "for"}, Recoverable: true, NodeTarget: true},
	}
}

// faultKindInfo looks a kind up in FaultKinds.
func faultKindInfo(k FaultKind) (FaultKindInfo, bool) {
	for _, info := range FaultKinds() {
		if info.Kind == k {
			return info, true
		}
	}
	return FaultKindInfo{}, false
}

// faultKindNames lists the kinds for error messages.
func faultKindNames() string {
	var names []string
	for _, info := range FaultKinds() {
		names = append(names, string(info.Kind))
	}
	return strings.Join(names, ", ")
}

func (info FaultKindInfo) takes(param string) bool {
	for _, p := range info.Params {
		if p == param {
			return true
		}
	}
	return false
}
