package faults

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/redswitch/redswitch/jsonapi"
)

// Kind names a kind of fault. The names are the scenario language's.
type Kind string

// The fault kinds.
const (
	KindPower        Kind = "power"
	KindFreeze       Kind = "freeze"
	KindPartition    Kind = "partition"
	KindEtcdOutage   Kind = "etcd_outage"
	KindPGCrash      Kind = "pg_crash"
	KindPatroniCrash Kind = "patroni_crash"
	KindDiskFull     Kind = "disk_full"
	KindCorrupt      Kind = "corrupt"
	KindReplicaLag   Kind = "replica_lag"
	KindCPUStarve    Kind = "cpu_starve"
)

// Partition modes: what a partitioned node can no longer reach.
const (
	FromAll   = "all"
	FromEtcd  = "etcd"
	FromNodes = "nodes"
)

// Target selectors besides node names.
const (
	TargetPrimary = "primary"
	TargetReplica = "replica"
	TargetAny     = "any"
	TargetEtcd    = "etcd"
)

// Request asks for one fault: the body of POST /api/v1/faults and the
// argument of Manager.Inject.
type Request struct {
	Kind Kind `json:"kind"`
	// Target is a node name, primary, replica, any or etcd.
	Target string `json:"target,omitempty"`
	// From is partition's mode: all (default), etcd or nodes.
	From string `json:"from,omitempty"`
	// Lag is replica_lag's size in bytes.
	Lag int64 `json:"lag,omitempty"`
	// Pause makes replica_lag pause replay instead of holding back the
	// WAL stream.
	Pause bool `json:"pause,omitempty"`
	// MaxFill bounds disk_full, in bytes (default Env.MaxFill).
	MaxFill int64 `json:"max_fill,omitempty"`
	// CPUPercent is cpu_starve's cap, in percent of one CPU, MinCPUPercent
	// to 100 (0: DefaultCPUPercent).
	CPUPercent float64 `json:"cpu_percent,omitempty"`
}

// ErrBadRequest marks a request that can never be served as asked.
var ErrBadRequest = errors.New("bad fault request")

func bad(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadRequest, fmt.Sprintf(format, args...))
}

// maxBody bounds a request body.
const maxBody = 16 << 10

// DecodeRequest parses one JSON request strictly (unknown fields and
// trailing data are errors) and checks it against the kinds.
func DecodeRequest(r io.Reader, kinds []Injector) (Request, error) {
	var req Request
	if err := jsonapi.DecodeStrict(r, maxBody, &req); err != nil {
		if errors.Is(err, io.EOF) {
			return req, bad(`body: empty: want {"kind": "...", "target": "..."}`)
		}
		return req, bad("body: %v", err)
	}
	return req, req.Validate(kinds)
}

// Validate checks the kind, the shape of the target and the parameters:
// everything that does not depend on the cluster's state.
func (req Request) Validate(kinds []Injector) error {
	inj, ok := lookup(kinds, req.Kind)
	if !ok {
		return bad("kind %q: unknown (want one of %s)", req.Kind, kindNames(kinds))
	}
	info := inj.Info()
	if req.Target == "" && !(info.EtcdTarget && !info.NodeTarget) {
		return bad("target: required for %s (a node name, primary, replica or any)", req.Kind)
	}
	if req.Target == TargetEtcd && !info.EtcdTarget {
		return bad("target: %s cannot target etcd", req.Kind)
	}
	if req.Target != "" && req.Target != TargetEtcd && !info.NodeTarget {
		return bad("target %q: %s targets etcd only", req.Target, req.Kind)
	}
	if req.Target != "" && !validTarget(req.Target) {
		return bad("target %q: want a node name, primary, replica, any or etcd", req.Target)
	}
	if req.From != "" && req.Kind != KindPartition {
		return bad("from: only partition takes it, not %s", req.Kind)
	}
	switch req.From {
	case "", FromAll, FromEtcd, FromNodes:
	default:
		return bad("from %q: want all, etcd or nodes", req.From)
	}
	if (req.Lag != 0 || req.Pause) && req.Kind != KindReplicaLag {
		return bad("lag, pause: only replica_lag takes them, not %s", req.Kind)
	}
	if req.Kind == KindReplicaLag && (req.Lag <= 0 || req.Lag > 1<<30) {
		return bad("lag %d: replica_lag needs lag in bytes, 1 to 1 GiB", req.Lag)
	}
	if req.MaxFill != 0 && req.Kind != KindDiskFull {
		return bad("max_fill: only disk_full takes it, not %s", req.Kind)
	}
	if req.MaxFill < 0 {
		return bad("max_fill %d: must be positive", req.MaxFill)
	}
	if req.CPUPercent != 0 && req.Kind != KindCPUStarve {
		return bad("cpu_percent: only cpu_starve takes it, not %s", req.Kind)
	}
	if req.CPUPercent != 0 && !(req.CPUPercent >= MinCPUPercent && req.CPUPercent <= 100) {
		return bad("cpu_percent %g: want %g to 100 (percent of one CPU; omit it for %g)", req.CPUPercent, MinCPUPercent, DefaultCPUPercent)
	}
	return nil
}

func validTarget(t string) bool {
	if len(t) > 63 {
		return false
	}
	for _, r := range t {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func kindNames(kinds []Injector) string {
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = string(k.Info().Kind)
	}
	return strings.Join(names, ", ")
}

func lookup(kinds []Injector, k Kind) (Injector, bool) {
	for _, inj := range kinds {
		if inj.Info().Kind == k {
			return inj, true
		}
	}
	return nil, false
}
