package headnode

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/headnodeapi"
)

// member is the JSON Patroni keeps under /service/<scope>/members/<name>.
type member struct {
	ConnURL  string         `json:"conn_url"`
	APIURL   string         `json:"api_url"`
	State    string         `json:"state"`
	Role     string         `json:"role"`
	Version  string         `json:"version"`
	XLogLoc  int64          `json:"xlog_location"`
	Timeline int            `json:"timeline"`
	Tags     map[string]any `json:"tags"`
}

func parseMember(v []byte) (member, bool) {
	var m member
	if err := json.Unmarshal(v, &m); err != nil {
		return member{}, false
	}
	return m, true
}

// syncKey is the JSON Patroni keeps under /service/<scope>/sync in
// synchronous mode: the leader and its synchronous standbys, comma-separated.
type syncKey struct {
	Leader      *string `json:"leader"`
	SyncStandby *string `json:"sync_standby"`
}

// parseSync returns the synchronous standbys the /sync key names.
func parseSync(v []byte) (map[string]bool, error) {
	var k syncKey
	if err := json.Unmarshal(v, &k); err != nil {
		return nil, fmt.Errorf("sync key: %w", err)
	}
	out := map[string]bool{}
	if k.SyncStandby == nil {
		return out, nil
	}
	for _, n := range strings.Split(*k.SyncStandby, ",") {
		if n = strings.TrimSpace(n); n != "" {
			out[n] = true
		}
	}
	return out, nil
}

// dcsConfig is Patroni's /service/<scope>/config.
type dcsConfig struct {
	TTL          int `json:"ttl"`
	LoopWait     int `json:"loop_wait"`
	RetryTimeout int `json:"retry_timeout"`
}

// buildNodes derives every node's state from the raw inputs. Pure, so the
// mapping is tested without a cluster.
func buildNodes(names []string, addresses map[string]string, powered map[string]bool,
	agents map[string]bool, members map[string]member, leader string, syncs map[string]bool, routed map[string][]string) []headnodeapi.NodeState {
	all := map[string]bool{}
	for _, n := range names {
		all[n] = true
	}
	for n := range members {
		all[n] = true
	}
	sorted := make([]string, 0, len(all))
	for n := range all {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	leaderPos := int64(-1)
	if m, ok := members[leader]; ok {
		leaderPos = m.XLogLoc
	}
	out := make([]headnodeapi.NodeState, 0, len(sorted))
	for _, n := range sorted {
		ns := headnodeapi.NodeState{Name: n, Address: addresses[n], Power: "on", Agent: agents[n], Routed: routed[n]}
		if p, ok := powered[n]; ok && !p {
			ns.Power = "off"
		}
		m, ok := members[n]
		switch {
		case ns.Power == "off":
			ns.Role = cluster.RoleDown
		case !ok:
			ns.Role = cluster.RoleStarting
			if !ns.Agent {
				ns.Role = cluster.RoleDown
			}
		default:
			ns.PatroniRole, ns.State, ns.Timeline, ns.Tags, ns.PatroniVersion = m.Role, m.State, m.Timeline, m.Tags, m.Version
			ns.Role = cluster.RoleFromPatroni(m.Role, m.State)
			if n == leader && ns.Role == cluster.RoleReplica {
				ns.Role = cluster.RolePrimary
			}
			if strings.Contains(m.State, "rewind") {
				ns.Role = cluster.RoleRewinding
			}
			ns.Sync = syncs[n] && n != leader && ns.Role == cluster.RoleReplica
			if n != leader && leaderPos >= 0 && m.XLogLoc > 0 {
				lag := leaderPos - m.XLogLoc
				if lag < 0 {
					lag = 0
				}
				ns.LagBytes = &lag
			}
			if n == leader {
				zero := int64(0)
				ns.LagBytes = &zero
			}
		}
		if ns.Address == "" && ok {
			ns.Address = hostOf(m.ConnURL)
		}
		out = append(out, ns)
	}
	return out
}

// hostOf extracts the host of a postgres://user@host:port/db URL.
func hostOf(u string) string {
	if i := strings.Index(u, "@"); i >= 0 {
		u = u[i+1:]
	} else if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
	}
	if i := strings.IndexAny(u, ":/"); i >= 0 {
		u = u[:i]
	}
	return u
}

// effective compares the requested profile with what the cluster runs.
func effective(req cluster.Timings, cfg *dcsConfig, version string, leaseTTL int64) headnodeapi.EffectiveTimings {
	e := headnodeapi.EffectiveTimings{Requested: req, TTL: req.TTL, LoopWait: req.LoopWait, RetryTimeout: req.RetryTimeout,
		PatroniVersion: version, LeaseTTL: leaseTTL}
	if cfg != nil && cfg.TTL > 0 {
		e.TTL, e.LoopWait, e.RetryTimeout = cfg.TTL, cfg.LoopWait, cfg.RetryTimeout
	}
	if version != "" {
		clamped := cluster.Timings{TTL: e.TTL, LoopWait: e.LoopWait, RetryTimeout: e.RetryTimeout}.EffectiveFor(version)
		e.TTL, e.RetryTimeout = clamped.TTL, clamped.RetryTimeout
	}
	if leaseTTL > 0 && int(leaseTTL) != e.TTL {
		e.TTL = int(leaseTTL)
	}
	var diffs []string
	if e.TTL != req.TTL {
		diffs = append(diffs, "ttl "+itoa(e.TTL)+" s (requested "+itoa(req.TTL)+")")
	}
	if e.LoopWait != req.LoopWait {
		diffs = append(diffs, "loop_wait "+itoa(e.LoopWait)+" s (requested "+itoa(req.LoopWait)+")")
	}
	if e.RetryTimeout != req.RetryTimeout {
		diffs = append(diffs, "retry_timeout "+itoa(e.RetryTimeout)+" s (requested "+itoa(req.RetryTimeout)+")")
	}
	if len(diffs) > 0 {
		e.Mismatch = "Patroni " + version + " runs with " + strings.Join(diffs, ", ") + ": this is not the requested profile"
	}
	return e
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}
