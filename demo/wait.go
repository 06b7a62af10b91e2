package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/redswitch/redswitch/cluster"
	"github.com/redswitch/redswitch/headnodeapi"
)

// Health summarises whether the cluster is whole: one primary, every
// powered node running, every replica streaming from the primary.
type Health struct {
	Leader    string
	Running   int
	Streaming int
	Powered   int
}

// Healthy reports whether every powered node is running and every replica
// streams.
func (h Health) Healthy() bool {
	return h.Leader != "" && h.Running == h.Powered && h.Streaming == h.Powered-1
}

// patroniStatus is the part of Patroni's GET /patroni the rig reads.
type patroniStatus struct {
	Role        string `json:"role"`
	State       string `json:"state"`
	Timeline    int    `json:"timeline"`
	Replication []struct {
		ApplicationName string `json:"application_name"`
		State           string `json:"state"`
	} `json:"replication"`
}

// CheckHealth reads the head node's state and the primary's replication.
func CheckHealth(ctx context.Context, st headnodeapi.State) (Health, error) {
	var h Health
	h.Leader = st.Leader
	leaderAddr := ""
	for _, n := range st.Nodes {
		if n.Power != "on" {
			continue
		}
		h.Powered++
		if (n.Role == cluster.RolePrimary || n.Role == cluster.RoleReplica) && n.State == "running" {
			h.Running++
		}
		if n.Name == st.Leader {
			leaderAddr = n.Address
		}
	}
	if leaderAddr == "" {
		return h, nil
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s:%d/patroni", leaderAddr, cluster.PatroniPort), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return h, fmt.Errorf("patroni status of %s: %w", st.Leader, err)
	}
	defer resp.Body.Close()
	var ps patroniStatus
	if err := json.NewDecoder(resp.Body).Decode(&ps); err != nil {
		return h, fmt.Errorf("patroni status of %s: %w", st.Leader, err)
	}
	for _, r := range ps.Replication {
		if r.State == "streaming" {
			h.Streaming++
		}
	}
	return h, nil
}

// WaitHealthy waits until the cluster is healthy or ctx ends.
func (d *Demo) WaitHealthy(ctx context.Context) (Health, error) {
	var last Health
	var lastErr error
	var lastState headnodeapi.State
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		lastState = d.Head.State()
		h, err := CheckHealth(cctx, lastState)
		cancel()
		if err == nil && h.Healthy() {
			return h, nil
		}
		last, lastErr = h, err
		select {
		case <-ctx.Done():
			var nodes []string
			for _, n := range lastState.Nodes {
				nodes = append(nodes, fmt.Sprintf("%s: power %s, agent %t, role %s, state %q", n.Name, n.Power, n.Agent, n.Role, n.State))
			}
			return last, fmt.Errorf("cluster not healthy (leader %q, %d of %d running, %d streaming; nodes: %s; last error: %v): %w",
				last.Leader, last.Running, last.Powered, last.Streaming, strings.Join(nodes, "; "), lastErr, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
